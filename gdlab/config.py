"""Sweep configs: defaults, validation (every bad key at once) and expansion to a table of runs.

A sweep is a flat mapping (DESIGN.md, Config contract); every list is a grid
axis. :func:`validate` turns a mapping into a :class:`Sweep` or raises
:class:`ConfigError` naming every bad key; :func:`expand` turns a Sweep into
the runs frame, in a fixed order so a run_id means the same run every time.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from .methods import METHODS, get_method
from .names import did_you_mean
from .problems import PROBLEMS, Problem, domain_pairs, get_problem
from .results import string_column
from .stopping import CRITERIA, StopRule, stop_rules

__all__ = ["SweepConfig", "DEFAULTS", "register_schema", "ConfigError", "Sweep", "validate", "expand", "make_starts", "resolve_problem",
           "Block", "run_blocks", "runs_frame", "run_inputs", "starts_range", "n_starts"]

def _default(value):
    return dataclasses.field(default_factory=lambda: copy.deepcopy(value))


@dataclasses.dataclass
class SweepConfig:
    """The config schema: every key a sweep may set, with its default (DESIGN.md, Config contract).

    Registered with Hydra's ConfigStore as ``gdlab_schema``, so the command
    line knows every key. Fields are typed ``Any`` on purpose: :func:`validate`
    checks types and values and reports every bad key at once, where a typed
    schema would stop at the first.
    """

    experiment: Any = "default"
    problems: Any = _default(["himmelblau"])
    method: Any = _default(["gd"])
    alpha: Any = _default([0.01])
    momentum: Any = _default([0.9])
    starts: Any = _default({"kind": "grid", "n": 20, "seed": 0, "points": None})
    criterion: Any = _default(["dx", "df", "grad"])
    epsilon: Any = _default([1.0e-3, 1.0e-6])
    min_steps: Any = _default([0])
    max_iter: Any = 10_000
    dtype: Any = "float32"
    diverge_x: Any = 1.0e8          # |x|∞ past this: diverged
    diverge_f: Any = 1.0e30         # |f| past this: diverged
    traces: Any = 4                 # full trajectories kept per (problem, method, alpha, momentum)
    curves: Any = True              # false: no checkpoint curves (an empty curves table, a faster kernel)
    success_tol: Any = 1.0e-3       # a run succeeded if it ended this close to a known minimum
    f_target: Any = 1.0e-6          # the report's "target reached": f − f* ≤ f_target
    stationary_tol: Any = 0.05      # point_type is non_stationary where the Newton step ‖H⁺∇f‖ exceeds this
    part_size: Any = 131_072        # runs per stored part: the unit of resume and of sharding
    out_dir: Any = "results"        # sweep folders go to <out_dir>/<experiment>/<sweep_id>/
    engine: Any = _default({"lanes": None, "part": None, "chunk": None})
    shard: Any = _default({"index": 0, "count": 1})
    lessons: Any = None             # experiment=lessons: the scenarios to run one after the other (gdlab.lessons)


DEFAULTS: dict[str, Any] = dataclasses.asdict(SweepConfig())


def register_schema() -> None:
    """Make the schema the base of the primary config (``defaults: [gdlab_schema, ...]``)."""
    from hydra.core.config_store import ConfigStore
    ConfigStore.instance().store(name="gdlab_schema", node=SweepConfig)


class ConfigError(ValueError):
    """A config with one or more bad keys; ``problems`` lists one message per bad key."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("bad config:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A validated sweep: resolved problems, the grid axes, and the settings of the run."""

    experiment: str
    problems: tuple[Problem, ...]
    methods: tuple[str, ...]
    alpha: tuple[float, ...]
    momentum: tuple[float, ...]
    starts: dict
    rules: tuple[StopRule, ...]
    max_iter: int
    dtype: str
    diverge_x: float
    diverge_f: float
    traces: int
    curves: bool
    success_tol: float
    f_target: float
    stationary_tol: float
    part_size: int
    out_dir: str
    engine: dict
    shard: dict
    config: dict           # the resolved mapping it came from


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _as_list(v):
    if isinstance(v, (list, tuple)):
        return list(v)
    if hasattr(v, "__iter__") and not isinstance(v, (str, Mapping)):
        return list(v)
    return [v]


def resolve_problem(entry) -> Problem:
    """A registry name, ``{name, dim?, domain?}``, or an inline/``_target_`` definition → Problem."""
    if isinstance(entry, Problem):
        return entry
    if isinstance(entry, str):
        return get_problem(entry)
    if isinstance(entry, Mapping):
        entry = dict(entry)
        if "expr" in entry or "_target_" in entry:
            from .expr import inline_problem
            return inline_problem(entry)
        name = entry.get("name")
        if name not in PROBLEMS:
            raise KeyError(f"unknown problem {name!r}{did_you_mean(name, PROBLEMS)}; known: {', '.join(sorted(PROBLEMS))} "
                           "(or define one inline with expr)")
        unknown = set(entry) - {"name", "dim", "domain"}
        if unknown:
            raise KeyError(f"unknown keys {sorted(unknown)} for a registry problem (allowed: name, dim, domain)")
        prob = get_problem(name, entry.get("dim"))
        if entry.get("domain") is not None:
            prob = prob.with_domain(domain_pairs(entry["domain"], prob.dim))
        return prob
    if callable(entry):     # a sweep draws its starts from the domain, which a bare function does not have
        raise TypeError(f"a problem is a name, a mapping or a gdlab.problems.Problem, got the function "
                        f"{getattr(entry, '__name__', entry)!r}: give it a domain with "
                        "Problem(name=…, fn=f, dim=d, domain=[[lo, hi], …]) (gdlab.descend takes it bare)")
    raise TypeError(f"a problem is a name, a mapping or a gdlab.problems.Problem, got {type(entry).__name__}")


def make_starts(starts: Mapping, problem: Problem) -> np.ndarray:
    """The (n, d) start points of ``problem`` for a starts spec (grid, uniform or points)."""
    kind = starts.get("kind")
    lo, hi = problem.domain_array[:, 0], problem.domain_array[:, 1]
    if kind == "grid":
        axes = [np.linspace(a, b, int(starts["n"])) for a, b in zip(lo, hi)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=1)
    if kind == "uniform":
        rng = np.random.default_rng(int(starts.get("seed", 0)))
        return lo + (hi - lo) * rng.random((int(starts["n"]), problem.dim))
    if kind == "points":
        return np.asarray(starts["points"], dtype=np.float64).reshape(-1, problem.dim)
    raise ValueError(f"starts.kind must be grid, uniform or points, got {kind!r}")


def _check_keys(key: str, mapping: Mapping, errors: list[str]):
    """An error for each key of ``mapping`` (config key ``key``) that DEFAULTS[key] does not have."""
    allowed = list(DEFAULTS[key])
    for k in sorted(set(mapping) - set(allowed), key=str):
        errors.append(f"{key}.{k}: unknown key{did_you_mean(k, allowed)} (allowed: {', '.join(allowed)})")


def _check_starts(starts, problems: Sequence[Problem], errors: list[str]):
    if not isinstance(starts, Mapping):
        errors.append(f"starts: must be a mapping like {{kind: grid, n: 20}}, got {starts!r}")
        return
    kind = starts.get("kind")
    # all four keys may be present (Hydra merges overrides into them); each kind reads its own
    _check_keys("starts", starts, errors)
    if kind not in ("grid", "uniform", "points"):
        errors.append(f"starts.kind: must be grid, uniform or points, got {kind!r}")
        return
    if kind in ("grid", "uniform"):
        n = starts.get("n")
        if not (isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1):
            errors.append(f"starts.n: must be an integer ≥ 1, got {n!r}")
        elif kind == "grid":
            for p in problems:
                if n ** p.dim > 10 ** 8:
                    errors.append(f"starts.n: a grid of {n} per axis on {p.name} ({p.dim}-d) is {n}^{p.dim} "
                                  "starts; use kind: uniform for high dimensions")
        if kind == "uniform" and not isinstance(starts.get("seed", 0), numbers.Integral):
            errors.append(f"starts.seed: must be an integer, got {starts.get('seed')!r}")
        return
    pts = starts.get("points")
    if not isinstance(pts, (list, tuple)) or not pts:
        errors.append(f"starts.points: must be a non-empty list of points, got {pts!r}")
        return
    for i, pt in enumerate(pts):
        pt_list = _as_list(pt)
        if not all(_is_number(v) for v in pt_list):
            errors.append(f"starts.points[{i}]: {pt!r} is not a list of numbers")
            continue
        if not all(math.isfinite(v) for v in pt_list):
            errors.append(f"starts.points[{i}]: {pt!r} is not finite")
            continue
        for p in problems:
            if len(pt_list) != p.dim:
                errors.append(f"starts.points[{i}]: {pt_list} has dimension {len(pt_list)}, "
                              f"problem {p.name} has {p.dim}")
            elif any(not (lo <= v <= hi) for v, (lo, hi) in zip(pt_list, p.domain)):
                errors.append(f"starts.points[{i}]: {pt_list} is outside the domain "
                              f"{[list(ax) for ax in p.domain]} of problem {p.name} "
                              "(widen it with {name: ..., domain: ...})")


def merge(config: Mapping | None) -> dict:
    """DEFAULTS updated by ``config`` (nested mappings merged one level deep)."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in (config or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key != "starts":
            out[key] = {**out[key], **dict(value)}
        else:
            out[key] = value
    return out


def validate(config: Mapping | None) -> Sweep:
    """Check every key of a sweep config; raise ConfigError listing all that are bad."""
    cfg = merge(config)
    errors: list[str] = []

    unknown = sorted(set(cfg) - set(DEFAULTS))
    for key in unknown:
        errors.append(f"{key}: unknown key{did_you_mean(key, DEFAULTS)} (known: {', '.join(sorted(DEFAULTS))})")

    def grid(key, check, what, known=()):
        values = _as_list(cfg[key])
        if not values:
            errors.append(f"{key}: empty list; give at least one value")
            return []
        bad = [v for v in values if not check(v)]
        if bad:
            errors.append(f"{key}: {what}, got {bad[0]!r}{did_you_mean(bad[0], known)}")
            return []
        return values

    problems = []
    entries = _as_list(cfg["problems"])
    if not entries:
        errors.append("problems: empty list; give at least one problem")
    for i, entry in enumerate(entries):
        try:
            problems.append(resolve_problem(entry))
        except (KeyError, ValueError, TypeError, SyntaxError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            errors.append(f"problems[{i}]: {msg}")

    methods = grid("method", lambda v: isinstance(v, str) and v in METHODS,
                   f"must be one of {', '.join(sorted(METHODS))}", METHODS)
    alpha = grid("alpha", lambda v: _is_number(v) and math.isfinite(v) and v > 0, "must be > 0")
    momentum = grid("momentum", lambda v: _is_number(v) and 0 <= v < 1, "must be in [0, 1)")
    criterion = grid("criterion", lambda v: v in CRITERIA, f"must be one of {', '.join(CRITERIA)}", CRITERIA)
    epsilon = grid("epsilon", lambda v: _is_number(v) and math.isfinite(v) and v > 0, "must be > 0")
    min_steps = grid("min_steps", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)
                     and v >= 0, "must be an integer ≥ 0")

    max_iter = cfg["max_iter"]
    if not (isinstance(max_iter, numbers.Integral) and not isinstance(max_iter, bool) and max_iter >= 1):
        errors.append(f"max_iter: must be an integer ≥ 1, got {max_iter!r}")
    if cfg["dtype"] not in ("float32", "float64"):
        errors.append(f"dtype: must be float32 or float64, got {cfg['dtype']!r}")
    for key in ("diverge_x", "diverge_f"):
        if not (_is_number(cfg[key]) and cfg[key] > 0):
            errors.append(f"{key}: must be a number > 0, got {cfg[key]!r}")
    if not (isinstance(cfg["traces"], numbers.Integral) and cfg["traces"] >= 0):
        errors.append(f"traces: must be an integer ≥ 0, got {cfg['traces']!r}")
    if not isinstance(cfg["curves"], bool):
        errors.append(f"curves: must be true or false, got {cfg['curves']!r}")
    for key in ("success_tol", "stationary_tol", "f_target"):
        if not (_is_number(cfg[key]) and cfg[key] > 0):
            errors.append(f"{key}: must be a number > 0, got {cfg[key]!r}")
    if not isinstance(cfg["experiment"], str) or not cfg["experiment"].replace("_", "").replace("-", "").isalnum():
        errors.append(f"experiment: must be a name of letters, digits, - and _, got {cfg['experiment']!r}")

    ps = cfg["part_size"]
    if not (isinstance(ps, numbers.Integral) and not isinstance(ps, bool) and ps >= 1):
        errors.append(f"part_size: must be an integer ≥ 1, got {ps!r}")
    if not isinstance(cfg["out_dir"], str) or not cfg["out_dir"]:
        errors.append(f"out_dir: must be a folder path, got {cfg['out_dir']!r}")

    for key in ("engine", "shard"):
        if not isinstance(cfg[key], Mapping):
            errors.append(f"{key}: must be a mapping with keys {', '.join(DEFAULTS[key])}, got {cfg[key]!r}")
        else:
            _check_keys(key, cfg[key], errors)
    engine = cfg["engine"] if isinstance(cfg["engine"], Mapping) else {}
    for key in ("lanes", "part", "chunk"):
        v = engine.get(key)
        if v is not None and not (isinstance(v, numbers.Integral) and v >= 1):
            errors.append(f"engine.{key}: must be an integer ≥ 1 or null, got {v!r}")

    if isinstance(cfg["shard"], Mapping):       # else named above
        count, index = cfg["shard"].get("count"), cfg["shard"].get("index")
        if not (isinstance(count, numbers.Integral) and count >= 1):
            errors.append(f"shard.count: must be an integer ≥ 1, got {count!r}")
        elif not (isinstance(index, numbers.Integral) and 0 <= index < count):
            errors.append(f"shard.index: must be an integer in [0, {count}), got {index!r}")

    if problems:
        _check_starts(cfg["starts"], problems, errors)
    if cfg["lessons"] is not None:
        from .lessons import unknown_scenarios
        names = cfg["lessons"] if isinstance(cfg["lessons"], (list, tuple)) else None
        if not names or not all(isinstance(n, str) for n in names):
            errors.append(f"lessons: must be a non-empty list of scenario names, got {cfg['lessons']!r}")
        else:
            errors += unknown_scenarios(names)

    if errors:
        raise ConfigError(errors)
    return Sweep(
        experiment=cfg["experiment"], problems=tuple(problems), methods=tuple(methods),
        alpha=tuple(float(a) for a in alpha), momentum=tuple(float(m) for m in momentum),
        starts=dict(cfg["starts"]),
        rules=tuple(stop_rules(criterion, [float(e) for e in epsilon], [int(m) for m in min_steps])),
        max_iter=int(max_iter), dtype=cfg["dtype"], diverge_x=float(cfg["diverge_x"]),
        diverge_f=float(cfg["diverge_f"]), traces=int(cfg["traces"]), curves=cfg["curves"],
        success_tol=float(cfg["success_tol"]), stationary_tol=float(cfg["stationary_tol"]), f_target=float(cfg["f_target"]),
        part_size=int(ps), out_dir=cfg["out_dir"], engine=dict(engine), shard=dict(cfg["shard"]), config=cfg)


class Block(NamedTuple):
    """Consecutive runs of one setting: ``n`` starts of ``problem`` with (method, alpha, momentum),
    run_ids ``first`` … ``first + n − 1``, start_ids 0 … n − 1."""

    problem: str
    dim: int
    method: str
    alpha: float
    momentum: float
    n: int
    first: int


def n_starts(starts: Mapping, problem: Problem) -> int:
    kind = starts.get("kind")
    if kind == "grid":
        return int(starts["n"]) ** problem.dim
    if kind == "uniform":
        return int(starts["n"])
    return len(starts["points"])


def starts_range(starts: Mapping, problem: Problem, lo: int, hi: int) -> np.ndarray:
    """Starts ``lo`` … ``hi − 1`` of :func:`make_starts`, bit for bit, without building the others.

    A grid start is found from its index; a uniform start from the seeded
    PCG64 stream advanced past the draws of the starts before it.
    """
    kind = starts.get("kind")
    dom = problem.domain_array
    if kind == "grid":
        n = int(starts["n"])
        idx = np.unravel_index(np.arange(lo, hi, dtype=np.int64), (n,) * problem.dim)
        axes = [np.linspace(a, b, n) for a, b in dom]
        return np.stack([ax[i] for ax, i in zip(axes, idx)], axis=1) if hi > lo else np.zeros((0, problem.dim))
    if kind == "uniform":
        gen = np.random.default_rng(int(starts.get("seed", 0)))
        gen.bit_generator.advance(lo * problem.dim)   # one 64-bit draw per coordinate
        return dom[:, 0] + (dom[:, 1] - dom[:, 0]) * gen.random((hi - lo, problem.dim))
    return make_starts(starts, problem)[lo:hi]


def run_blocks(sweep: Sweep) -> list[Block]:
    """The sweep's runs as blocks, in run_id order: problem, method, alpha, momentum (methods that
    use it), start — so the same config always numbers its runs the same way."""
    blocks, first = [], 0
    for p in sweep.problems:
        n = n_starts(sweep.starts, p)
        for m in sweep.methods:
            moms = sweep.momentum if get_method(m).uses_momentum else (math.nan,)
            for a in sweep.alpha:
                for g in moms:
                    blocks.append(Block(p.name, p.dim, m, a, g, n, first))
                    first += n
    return blocks


def _overlaps(blocks: Sequence[Block], start: int, stop: int):
    """(block, lo, hi): the start_ids lo … hi − 1 of each block within run_ids start … stop − 1."""
    for b in blocks:
        lo, hi = max(start, b.first), min(stop, b.first + b.n)
        if lo < hi:
            yield b, lo - b.first, hi - b.first


def runs_frame(blocks: Sequence[Block], start: int, stop: int) -> pd.DataFrame:
    """Rows ``start`` … ``stop − 1`` of the runs frame (run_id, problem, dim, method, alpha, momentum, start_id)."""
    pieces = list(_overlaps(blocks, start, stop))
    sizes = np.array([hi - lo for _, lo, hi in pieces], dtype=np.int64)
    piece = np.repeat(np.arange(len(pieces)), sizes)     # each row's piece

    def rep(values, dtype):
        return np.asarray(values, dtype=dtype)[piece]

    return pd.DataFrame({
        "run_id": np.arange(start, stop, dtype=np.int64),
        "problem": string_column(piece, [b.problem for b, _, _ in pieces]),
        "dim": rep([b.dim for b, _, _ in pieces], np.int64),
        "method": string_column(piece, [b.method for b, _, _ in pieces]),
        "alpha": rep([b.alpha for b, _, _ in pieces], np.float64),
        "momentum": rep([b.momentum for b, _, _ in pieces], np.float64),
        "start_id": (np.concatenate([np.arange(lo, hi, dtype=np.int64) for _, lo, hi in pieces])
                     if pieces else np.zeros(0, np.int64)),
    })


def run_inputs(sweep: Sweep, blocks: Sequence[Block], start: int, stop: int):
    """(x0, alpha, momentum) of run_ids ``start`` … ``stop − 1``, which must share one problem."""
    by_name = {p.name: p for p in sweep.problems}
    xs, al, mo = [], [], []
    for b, lo, hi in _overlaps(blocks, start, stop):
        xs.append(starts_range(sweep.starts, by_name[b.problem], lo, hi))
        al.append(np.full(hi - lo, b.alpha))
        mo.append(np.full(hi - lo, b.momentum))
    return np.concatenate(xs), np.concatenate(al), np.concatenate(mo)


def expand(sweep: Sweep) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The whole runs frame (run_id, problem, dim, method, alpha, momentum, start_id) and each problem's
    starts, in memory. Sweeps themselves use :func:`run_blocks` and build slices as they go."""
    blocks = run_blocks(sweep)
    total = blocks[-1].first + blocks[-1].n if blocks else 0
    return runs_frame(blocks, 0, total), {p.name: make_starts(sweep.starts, p) for p in sweep.problems}
