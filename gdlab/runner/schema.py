"""The sweep config: its keys declared once, validated all at once, resolved into a Sweep.

A sweep is a flat mapping (docs/config.md); every list is a grid axis. The
keys, their defaults, their one-line docs and their checks are declared once,
in :class:`SweepConfig` and its nested :class:`Starts`, :class:`Engine` and
:class:`Shard`. From that declaration come :data:`DEFAULTS`, Hydra's
structured config (:func:`register_schema`), the key table of the docs
(:func:`key_table`) and :func:`validate`, which turns a mapping into a
:class:`Sweep` or raises :class:`~gdlab.core.errors.ConfigError` naming every
bad key at once.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..core.criteria import CRITERIA, StopRule, stop_rules
from ..core.errors import ConfigError, GdlabError, ProblemError, UnknownNameError
from ..core.expressions import inline_problem
from ..core.inputs import is_finite as _is_finite
from ..core.methods import ALPHA, METHODS, Method, Stepper, problem_error
from ..core.names import did_you_mean
from ..core.problems import PROBLEMS, Problem, domain_pairs, get_problem
from ..core.schedules import CONSTANT, SCHEDULES, Schedule
from ..core.suites import is_suite, suite_problems
from .budget import budget_problems
from .configs import experiment_names
from .keys import (
    DEFAULTS,
    MAX_STEP,
    NESTED,
    Engine,
    Shard,
    Starts,
    SweepConfig,
    int_at_least,
    key_table,
    register_schema,
    two_names,
)
from .keys import is_int as _is_int
from .keys import is_number as _is_number

__all__ = ["Starts", "Engine", "Shard", "SweepConfig", "DEFAULTS", "register_schema", "key_table", "Setting", "Sweep",
           "validate", "merge", "resolve_problem"]


class Setting(NamedTuple):
    """One method with one value of each of its hyperparameters, and one step-size schedule with one
    value of each of its parameters (``hyper``: name → value in the kernel's row order: alpha, the
    method's, the schedule's)."""

    method: Method
    hyper: tuple[tuple[str, float], ...]
    schedule: Schedule = SCHEDULES[CONSTANT]

    @property
    def stepper(self) -> Stepper:
        """What the kernel runs: the method, with its schedule unless that is the constant step."""
        return Stepper(self.method, None if self.schedule.name == CONSTANT else self.schedule)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A validated sweep: resolved problems, the settings (methods × hyperparameters) and the rules,
    and the settings of the run."""

    experiment: str
    problems: tuple[Problem, ...]
    settings: tuple[Setting, ...]
    hyper_columns: tuple[str, ...]     # the runs table's setting columns: alpha, momentum, the methods' others,
                                       # schedule (its name) and the schedules' parameters
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
    report: dict
    config: dict           # the resolved mapping it came from


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
        if is_suite(entry):
            found = suite_problems(entry)
            if len(found) != 1:
                raise ProblemError(f"the suite entry {entry} gives {len(found)} problems, not one (a sweep's "
                                   "problems list takes a suite whole)")
            return found[0]
        if "expr" in entry or "_target_" in entry:
            return inline_problem(entry)
        name = entry.get("name")
        if name not in PROBLEMS:
            raise UnknownNameError("problem", name, PROBLEMS, "or define one inline with expr")
        unknown = set(entry) - {"name", "dim", "domain"}
        if unknown:
            raise ProblemError(f"unknown keys {sorted(unknown)} for a registry problem (allowed: name, dim, domain)")
        prob = get_problem(name, entry.get("dim"))
        if entry.get("domain") is not None:
            prob = prob.with_domain(domain_pairs(entry["domain"], prob.dim))
        return prob
    if callable(entry):     # a sweep draws its starts from the domain, which a bare function does not have
        raise ProblemError(f"a problem is a name, a mapping or a gdlab.Problem, got the function "
                           f"{getattr(entry, '__name__', entry)!r}: give it a domain with "
                           "Problem(name=…, fn=f, dim=d, domain=[[lo, hi], …]) (gdlab.descend takes it bare)")
    raise ProblemError(f"a problem is a name, a mapping or a gdlab.Problem, got {type(entry).__name__}")


def _check_starts(starts, problems: Sequence[Problem], errors: list[str]):
    if not isinstance(starts, Mapping):
        errors.append(f"starts: must be a mapping like {{kind: grid, n: 20}}, got {starts!r}")
        return
    kind = starts.get("kind")
    # all four keys may be present (Hydra merges overrides into them); each kind reads its own
    _check_keys("starts", starts, errors)
    if kind not in ("grid", "uniform", "points", "suite"):
        errors.append(f"starts.kind: must be grid, uniform, points or suite, got {kind!r}")
        return
    if kind == "suite":     # each problem's own start, and n − 1 more drawn from its domain
        n = starts.get("n")
        if n is not None and not (isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1):
            errors.append(f"starts.n: must be an integer ≥ 1 (the suite's start and n − 1 around it), got {n!r}")
        _check_seed(starts.get("seed") or 0, errors)     # (None: the default, 0)
        errors += [f"starts.kind: suite takes each problem's own start, and {p.name} has none (only a suite's "
                   "problems do: bbob, cutest); use kind grid, uniform or points" for p in problems if not p.start]
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
        if kind == "uniform":
            _check_seed(starts.get("seed", 0), errors)
        return
    pts = starts.get("points")
    if isinstance(pts, Mapping):      # each problem its own points (names of other problems are left unread)
        for p in problems:
            if p.name not in pts:
                errors.append(f"starts.points: no points for problem {p.name} (a mapping gives each problem its "
                              "own: {" + ", ".join(f"{q.name}: [[…]]" for q in problems) + "})")
            else:
                _check_points(pts[p.name], [p], f"starts.points.{p.name}", errors)
        return
    _check_points(pts, problems, "starts.points", errors)


#: the largest |bound| of a float32 sweep's domain: a start and its step must stay finite in float32
FLOAT32_DOMAIN = 8.5e37       # a quarter of float32's largest number, 3.4e38


def _check_seed(seed, errors: list[str]):
    """A seed of NumPy's PCG64 stream: an integer ≥ 0 (a negative one failed at the draw, after the
    sweep's folder was made)."""
    problem = int_at_least(0)(seed)
    if problem:
        errors.append(f"starts.seed: {problem}")


def _check_points(pts, problems: Sequence[Problem], where: str, errors: list[str]):
    if not isinstance(pts, (list, tuple)) or not pts:
        errors.append(f"{where}: must be a non-empty list of points (or a mapping of problem names to "
                      f"such lists), got {pts!r}")
        return
    bad: dict[tuple[str, str], list[str]] = {}        # (what is wrong, the fix) → the points it is wrong of
    for i, pt in enumerate(pts):
        pt_list = _as_list(pt)
        if not all(_is_number(v) for v in pt_list):
            bad.setdefault(("not a list of numbers", ""), []).append(f"[{i}] {pt!r}")
            continue
        if not all(_is_finite(v) for v in pt_list):
            bad.setdefault(("not finite", ""), []).append(f"[{i}] {pt!r}")
            continue
        for p in problems:
            if len(pt_list) != p.dim:
                bad.setdefault((f"not of dimension {p.dim}, as problem {p.name} is", ""), []).append(
                    f"[{i}] {pt_list}")
            elif any(not (lo <= v <= hi) for v, (lo, hi) in zip(pt_list, p.domain)):
                bad.setdefault((f"outside the domain {[list(ax) for ax in p.domain]} of problem {p.name}",
                                " (widen it with {name: ..., domain: ...})"), []).append(f"[{i}] {pt_list}")
    for (what, fix), which in bad.items():
        if len(which) == 1:
            errors.append(f"{where}{which[0].replace('] ', ']: ', 1)} is {what}{fix}")
        else:
            shown = ", ".join(which[:3]) + (f", … ({len(which) - 3:,} more)" if len(which) > 3 else "")
            errors.append(f"{where}: {len(which):,} of {len(pts):,} points are {what}: {shown}{fix}")


def _beyond_float(value, path: str = ""):
    """(path, decimal digits) of each integer in ``value`` too large for a float64."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if abs(int(value)) > sys.float_info.max:        # an exact comparison: no conversion to float
            yield path or "config", int(int(value).bit_length() * math.log10(2)) + 1
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _beyond_float(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for i, item in enumerate(value):
            yield from _beyond_float(item, f"{path}[{i}]")


def merge(config: Mapping | None) -> dict:
    """DEFAULTS updated by ``config`` (:func:`merged`)."""
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"a sweep config is a mapping of keys (see docs/config.md), got {type(config).__name__}")
    return merged(DEFAULTS, config or {})


def merged(base: Mapping, over: Mapping) -> dict:
    """``base`` with ``over``'s keys over it, as the command line's ``key=value`` and ``a.b=value`` are:
    a mapping over a mapping is merged one level deep, except ``starts`` of another kind (its keys
    depend on its kind: ``{kind: points, points: …}`` over a grid is the points alone)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and not (
                key == "starts" and value.get("kind", old.get("kind")) != old.get("kind")):
            out[key] = {**old, **dict(value)}
        else:
            out[key] = value
    return out


def _problems(entries: list, errors: list[str]) -> list[Problem]:
    """Each entry resolved; the same definition twice, or two definitions under one name, is an error."""
    problems, by_name = [], {}
    if not entries:
        errors.append("problems: empty list; give at least one problem")
    for i, entry in enumerate(entries):
        try:
            found = suite_problems(entry) if is_suite(entry) else [resolve_problem(entry)]
        except GdlabError as exc:
            errors.append(f"problems[{i}]: {exc}")
            continue
        for p in found:
            _add_problem(i, p, problems, by_name, errors)
    return problems


def _add_problem(i: int, p: Problem, problems: list[Problem], by_name: dict, errors: list[str]):
    """``p`` (of problems[i]) added, unless its name is taken: by the same definition, or another."""
    if p.name in by_name:
        j, q = by_name[p.name]
        if q.key == p.key and q.domain == p.domain:
            errors.append(f"problems[{i}]: {p.name} is listed twice (problems[{j}]); list it once")
        else:
            errors.append(f"problems[{i}]: the name {p.name!r} is also problems[{j}], with another definition "
                          f"(problems[{j}]: {_what(q)}; problems[{i}]: {_what(p)}); give each definition its own "
                          "name")
        return
    by_name[p.name] = (i, p)
    problems.append(p)


def _what(p: Problem) -> str:
    return (p.doc or p.name).rstrip(".")


SCHEDULE_COLUMN = "schedule"


def _grid_entries(key: str, entries: list, registry, rows_of, fallback: Mapping[str, list],
                  errors: list[str], extra: str | None = None) -> list[tuple[Any, tuple[tuple[str, float], ...], Any]]:
    """The entries of a ``method`` or ``schedule`` list × their hyperparameter grids, in order: each
    entry a name or ``{name, hyperparameter: value or list}``; a row not given takes the top-level
    list in ``fallback`` (alpha, momentum) or the entry's default. ``extra``: a key an entry's mapping
    may hold beside its hyperparameters (a method's own ``schedule`` list). Returns (entry, ((row,
    value), …), the entry's ``extra`` value or None)."""
    if not entries:
        errors.append(f"{key}: empty list; give at least one {registry.kind}")
    out, seen, unknown = [], {}, []
    for i, item in enumerate(entries):
        where = f"{key}[{i}]" if len(entries) > 1 else key
        spec = dict(item) if isinstance(item, Mapping) else {"name": item}
        name = spec.pop("name", None)
        own = spec.pop(extra, None) if extra else None
        if not isinstance(name, str) or name not in registry:
            unknown.append(name)
            continue
        entry = registry[name]
        rows = rows_of(entry)
        for k in sorted(set(spec) - set(rows), key=str):
            errors.append(f"{where}.{k}: {registry.kind} {name} has no hyperparameter {k!r}"
                          f"{did_you_mean(k, rows)} (its: {', '.join(rows) or 'none'})")
        axes = {}
        for row in rows:
            hp = entry.hyperparameter(row)
            if row in spec:
                values = _as_list(spec[row])
            elif row in fallback:
                values = fallback[row]
            else:
                values = [hp.default]
            if not values and row in spec:
                errors.append(f"{where}.{row}: empty list; give at least one value")
            unset = hp.from_problem is not None and row not in spec     # filled in from each problem
            bad = [v for v in values if not (_is_finite(v) and hp.allows(float(v)))]
            if bad and not unset and (row in spec or row not in fallback):
                errors.append(f"{where}.{row}: {bad[0]!r} is outside {hp.range}, the range of {name}'s {row}")
            dup = _duplicate(values)
            if dup is not None and row in spec:
                errors.append(f"{where}.{row}: {dup} is listed twice; list each value once")
            axes[row] = [float(v) if _is_finite(v) else float("nan") for v in values]     # (said above)
        own_key = json.dumps(own, sort_keys=True, default=str)      # a method's own schedule list is its own
        for combo in itertools.product(*(axes[r] for r in rows)):
            one = (name, tuple(zip(rows, combo)))
            if (one, own_key) in seen:
                if seen[(one, own_key)] != i:      # (a value listed twice in this entry is said above)
                    errors.append(f"{where}: {name} with {dict(one[1])} is also given by "
                                  f"{key}[{seen[(one, own_key)]}]; list each setting once")
                break
            seen[(one, own_key)] = i
            if getattr(entry, "check", None) is not None:
                problem = entry.check(dict(one[1]))
                if problem:
                    errors.append(f"{where}: {problem}")
                    break
            out.append((entry, one[1], own))
    if unknown:
        names = ", ".join(repr(n) + did_you_mean(n, registry) for n in unknown)
        errors.append(f"{key}: must be one of {', '.join(registry.names())}, got {names} "
                      f"(gdlab list {registry.kind}s)")
    return out


def _settings(cfg: dict, alpha: list, momentum: list, errors: list[str]) -> list[Setting]:
    """The method entries × their hyperparameter grids × the schedules × theirs, in run order: per
    method entry, alpha, then each hyperparameter in the method's order (a mapping's list, else the
    top-level list for momentum, else the default); within each, the schedules in order."""
    methods = _grid_entries("method", _as_list(cfg["method"]), METHODS, lambda m: m.rows,
                            {ALPHA: alpha, "momentum": momentum}, errors, extra="schedule")
    schedules = _grid_entries("schedule", _as_list(cfg["schedule"]), SCHEDULES, lambda s: s.rows, {}, errors)
    own: dict[int, list] = {}       # a method entry's own schedule list, where its mapping gives one
    out = []
    said = set()                    # methods whose values contradict each other: said once, at the first setting
    for m, mh, mine in methods:
        why = m.conflict(dict(mh)) if m.conflict else None
        if why and m.name not in said:
            said.add(m.name)
            errors.append(f"method: {m.name}: {why}")
        if mine is not None:
            if id(mine) not in own:
                own[id(mine)] = _grid_entries(f"method.{m.name}.schedule", _as_list(mine), SCHEDULES,
                                              lambda s: s.rows, {}, errors)
            these = own[id(mine)]
        else:
            these = schedules
        out += [Setting(m, mh + sh, sched) for sched, sh, _ in these]
    return out


def _same_numbers(v):
    """``v`` with every number as a float where float64 holds it: 1 and 1.0 are one value."""
    if isinstance(v, Mapping):
        return {k: _same_numbers(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_same_numbers(x) for x in v]
    return float(v) if _is_finite(v) else v


def _duplicate(values: list):
    """The first value listed again, in words: ``1.0`` or ``1 and 1.0`` (one value); else None."""
    seen = {}
    for v in values:
        key = json.dumps(_same_numbers(v), sort_keys=True, default=str)
        if key in seen:
            return repr(v) if repr(seen[key]) == repr(v) else f"{seen[key]!r} and {v!r} (one value)"
        seen[key] = v
    return None


def validate(config: Mapping | None) -> Sweep:
    """Check every key of a sweep config; raise ConfigError listing all that are bad."""
    try:
        return _validated(config)
    except OverflowError:       # Python's "int too large to convert to float" names no key
        huge = [f"{path}: an integer of about {digits:,} digits, beyond a float64's range (±1.8e308); "
                "give a number within it" for path, digits in _beyond_float(merge(config))]
        if not huge:
            raise
        raise ConfigError(huge) from None


def _validated(config: Mapping | None) -> Sweep:
    cfg = merge(config)
    errors: list[str] = []

    for key in sorted(set(cfg) - set(DEFAULTS), key=str):
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
        dup = _duplicate(values)
        if dup is not None:
            errors.append(f"{key}: {dup} is listed twice; list each value once")
            return []
        return values

    problems = _problems(_as_list(cfg["problems"]), errors)
    if cfg["dtype"] == "float32":     # starts are drawn in float64, then taken in float32: inf beyond its range
        wide = [p for p in problems if max(max(abs(lo), abs(hi)) for lo, hi in p.domain) > FLOAT32_DOMAIN]
        errors += [f"problems: {p.name}'s domain {[list(ax) for ax in p.domain]} reaches beyond float32's range "
                   f"(±{FLOAT32_DOMAIN:.3g}): give a narrower domain, or dtype: float64" for p in wide[:1]]
    alpha = grid("alpha", lambda v: _is_finite(v) and v > 0, "must be a number > 0")
    momentum = grid("momentum", lambda v: _is_number(v) and 0 <= v < 1, "must be a number in [0, 1)")
    settings = _settings(cfg, alpha, momentum, errors)
    criterion = grid("criterion", lambda v: isinstance(v, str) and v in CRITERIA,
                     f"must be one of {', '.join(CRITERIA)}", CRITERIA)
    epsilon = grid("epsilon", lambda v: _is_finite(v) and v > 0, "must be a number > 0")
    min_steps = grid("min_steps", lambda v: _is_int(v) and 0 <= v <= MAX_STEP,
                     f"must be an integer ≥ 0 and ≤ {MAX_STEP:,}")
    late = [m for m in min_steps if _is_int(cfg["max_iter"]) and m > cfg["max_iter"]]
    if late:    # no rule could fire: every run would end max_iter, and say nothing of why
        errors.append(f"min_steps: {late[0]:,} is more than max_iter = {cfg['max_iter']:,}, so no rule could ever "
                      "fire; give min_steps ≤ max_iter (or raise max_iter)")

    for f in dataclasses.fields(SweepConfig):
        check = f.metadata["check"]
        if check is not None and f.name in cfg:
            problem = check(cfg[f.name])
            if problem:
                errors.append(f"{f.name}: {problem}")
    for key, cls in NESTED.items():
        if key == "starts":
            continue
        if not isinstance(cfg[key], Mapping):
            errors.append(f"{key}: must be a mapping with keys {', '.join(DEFAULTS[key])}, got {cfg[key]!r}")
            continue
        _check_keys(key, cfg[key], errors)
        for f in dataclasses.fields(cls):
            if f.metadata["check"] is not None:
                problem = f.metadata["check"](cfg[key].get(f.name, f.default_factory()))
                if problem:
                    errors.append(f"{key}.{f.name}: {problem}")
    shard = cfg["shard"] if isinstance(cfg["shard"], Mapping) else {}
    count, index = shard.get("count"), shard.get("index")
    if _is_int(count) and count >= 1 and not (_is_int(index) and 0 <= index < count):
        errors.append(f"shard.index: must be an integer in [0, {count}), got {index!r}")

    if problems:
        _check_starts(cfg["starts"], problems, errors)
    if cfg["lessons"] is not None:
        names = cfg["lessons"] if isinstance(cfg["lessons"], (list, tuple)) else None
        if not names or not all(isinstance(n, str) for n in names):
            errors.append(f"lessons: must be a non-empty list of scenario names, got {cfg['lessons']!r}")
        else:   # every scenario is a shipped experiment (gdlab.lessons checks the rest)
            known = [n for n in experiment_names() if n not in ("default", "lessons")]
            errors += [f"lessons: unknown scenario {n!r}{did_you_mean(n, known)} (known: {', '.join(known)})"
                       for n in names if n not in known]

    if errors:
        raise ConfigError(errors)
    # the runs table's: alpha, momentum, every method's own, "schedule", every schedule's parameters
    hyper_columns = [ALPHA, "momentum"]
    for s in settings:
        hyper_columns += [h.name for h in s.method.hyper if h.name not in hyper_columns]
    hyper_columns.append(SCHEDULE_COLUMN)
    for s in settings:
        hyper_columns += [name for name in s.schedule.rows if name not in hyper_columns]
    for s in settings:           # a value left to the problem (polyak's f_min), where the problem has none
        for h in s.method.hyper:
            if h.from_problem and math.isnan(dict(s.hyper)[h.name]):
                errors += [e for e in (problem_error(s.method, h, p) for p in problems) if e]
    axes = [c for c in hyper_columns if c != SCHEDULE_COLUMN] + ["epsilon", "min_steps"]
    heatmap = cfg["report"].get("heatmap") if isinstance(cfg["report"], Mapping) else None
    if not two_names(heatmap):
        errors += [f"report.heatmap: {a!r} is not a numeric column of this sweep{did_you_mean(a, axes)} "
                   f"(its: {', '.join(axes)})" for a in heatmap if a not in axes]
    if errors:
        raise ConfigError(list(dict.fromkeys(errors)))
    sw = Sweep(
        experiment=cfg["experiment"], problems=tuple(problems), settings=tuple(settings),
        hyper_columns=tuple(hyper_columns), starts=dict(cfg["starts"]),
        rules=tuple(stop_rules(criterion, [float(e) for e in epsilon], [int(m) for m in min_steps])),
        max_iter=int(cfg["max_iter"]), dtype=cfg["dtype"], diverge_x=float(cfg["diverge_x"]),
        diverge_f=float(cfg["diverge_f"]), traces=int(cfg["traces"]), curves=cfg["curves"],
        success_tol=float(cfg["success_tol"]), stationary_tol=float(cfg["stationary_tol"]),
        f_target=float(cfg["f_target"]), part_size=int(cfg["part_size"]), out_dir=cfg["out_dir"],
        engine=dict(cfg["engine"]), shard=dict(cfg["shard"]), report={**DEFAULTS["report"], **cfg["report"]},
        config=cfg)
    too_big = budget_problems(sw)      # from the counts alone: nothing the size of the sweep is built first
    if too_big:
        raise ConfigError(too_big)
    return sw


def _check_keys(key: str, mapping: Mapping, errors: list[str]):
    """An error for each key of ``mapping`` (config key ``key``) that DEFAULTS[key] does not have."""
    allowed = list(DEFAULTS[key])
    for k in sorted(set(mapping) - set(allowed), key=str):
        errors.append(f"{key}.{k}: unknown key{did_you_mean(k, allowed)} (allowed: {', '.join(allowed)})")
