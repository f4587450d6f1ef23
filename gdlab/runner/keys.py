"""Every config key of a sweep, declared once: its default, its line in the docs, its check.

:class:`SweepConfig` and its nested :class:`Starts`, :class:`Engine`,
:class:`Shard` and :class:`Report` give :data:`DEFAULTS`, Hydra's structured
config (:func:`register_schema`), the key table of docs/config.md
(:func:`key_table`) and ``gdlab --help``; :mod:`gdlab.runner.schema` checks a
whole config against them. This module imports nothing of JAX, so the help
answers at once.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import numbers
from collections.abc import Callable
from typing import Any

from ..core.inputs import is_finite
from ..core.names import did_you_mean
from ..core.settings import MAX_CHUNK, MAX_NAME, MAX_STEP, REPORT_DEFAULTS, STATIONARY_TOL

__all__ = ["key", "is_number", "is_int", "int_at_least", "int_between", "positive", "one_of", "boolean",
           "name_check", "folder_check", "two_names", "grad_cost_check", "targets_check", "Starts", "Report", "Engine", "Shard", "SweepConfig", "DEFAULTS",
           "NESTED", "register_schema", "key_table", "MAX_STEP"]



def key(default, doc: str, check: Callable[[Any], str | None] | None = None):
    """A config key: its default, its line in the docs, and its check (value → what is wrong, or None)."""
    return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"doc": doc, "check": check})


def is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def int_at_least(low: int, none_ok: bool = False):
    def check(v):
        if v is None and none_ok:
            return None
        if is_int(v) and v >= low:
            return None
        return f"must be an integer ≥ {low}{' or null' if none_ok else ''}, got {v!r}"
    return check


def int_between(low: int, high: int, none_ok: bool = False):
    def check(v):
        if (v is None and none_ok) or (is_int(v) and low <= v <= high):
            return None
        return f"must be an integer ≥ {low} and ≤ {high:,}{' or null' if none_ok else ''}, got {v!r:.80}"
    return check


def positive(v):
    return None if is_finite(v) and v > 0 else f"must be a number > 0, got {v!r}"


def one_of(*choices):
    def check(v):
        return None if v in choices else f"must be {' or '.join(map(str, choices))}, got {v!r}{did_you_mean(v, choices)}"
    return check


def boolean(v):
    return None if isinstance(v, bool) else f"must be true or false, got {v!r}"


def name_check(v):
    ok = isinstance(v, str) and v and len(v) <= MAX_NAME and v.replace("_", "").replace("-", "").isalnum()
    return None if ok else f"must be a name of at most {MAX_NAME} letters, digits, - and _, got {v!r:.120}"


def folder_check(v):
    return None if isinstance(v, str) and v else f"must be a folder path, got {v!r}"


@dataclasses.dataclass
class Starts:
    """Where the runs start, on each problem's domain."""

    kind: Any = key("grid", "grid (n per axis), uniform (n random), points (the list given), suite (a suite "
                            "problem's own start, and n − 1 random ones in its domain)")
    n: Any = key(20, "starts per axis (grid) or in all (uniform, suite)")
    seed: Any = key(0, "the uniform draw's seed")
    points: Any = key(None, "the start points of kind points: a list of coordinate lists")


def two_names(value) -> str | None:
    if (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)
            and value[0] != value[1]):
        return None
    return f"must be two different column names, [rows, columns], got {value!r}"


def grad_cost_check(v):
    return None if v == "d" or (is_finite(v) and v >= 0) else \
        f"must be a number ≥ 0 or d (the dimension), got {v!r}"


def targets_check(v):
    if v in ("decades", "coco"):
        return None
    if isinstance(v, (list, tuple)) and v and all(is_finite(t) and t > 0 for t in v):
        return None
    return f"must be decades, coco or a non-empty list of numbers > 0, got {v!r}{did_you_mean(v, ('decades', 'coco'))}"


@dataclasses.dataclass
class Report:
    """What the report draws; changing it changes no result (not part of the sweep's id)."""

    heatmap: Any = key(["alpha", "epsilon"], "the heatmaps' rows × columns: any two of alpha, epsilon, min_steps "
                                              "and the sweep's hyperparameters (b1, momentum, decay_rate, …)",
                        two_names)
    runtime: Any = key("steps", "the ECDFs' runtime: steps, or evaluations of f and ∇f (COCO's)",
                       one_of("steps", "evaluations"))
    grad_cost: Any = key(1, "what one gradient counts in evaluations of f (aRT_evals, the ECDFs' evaluations): "
                            "a number ≥ 0, or d (the dimension: COCO's finite-difference view)", grad_cost_check)
    targets: Any = key("decades", "the ECDFs' targets on f − f*: decades (10^1 … 10^-8), coco (COCO's 51, "
                                  "log-uniform from 10^2 to 10^-8) or a list of numbers > 0", targets_check)
    build: Any = key(True, "false: the command writes the tables and stops (gdlab report FOLDER draws it later)",
                     boolean)
    problem_figures: Any = key(24, "draw each problem's own figures when the sweep has at most this many problems "
                                   "(0: never); the tables, and a suite's section, cover every problem",
                               int_at_least(0))


@dataclasses.dataclass
class Engine:
    """The kernel's shape; each null picks itself from the sweep and the device."""

    lanes: Any = key(None, "runs advanced at once per device", int_between(1, MAX_STEP, none_ok=True))
    part: Any = key(None, "runs queued per kernel call", int_between(1, MAX_STEP, none_ok=True))
    chunk: Any = key(None, "steps between refills (null: adapts to the runs' lengths)",
                     int_between(1, MAX_CHUNK, none_ok=True))


@dataclasses.dataclass
class Shard:
    """This job's slice of the sweep's parts: every count-th part from index."""

    index: Any = key(0, "which slice, 0 … count − 1")
    count: Any = key(1, "how many slices", int_at_least(1))


@dataclasses.dataclass
class SweepConfig:
    """Every key a sweep may set, with its default (docs/config.md).

    Registered with Hydra's ConfigStore as ``gdlab_schema``, so the command line
    knows every key. Hydra sees each field as ``Any``: :func:`validate` checks
    types and values and reports every bad key at once, where a typed schema
    would stop at the first.
    """

    experiment: Any = key("default", "the experiment's name: results go to out_dir/experiment/sweep_id/", name_check)
    problems: Any = key(["himmelblau"], "registry names, {name, dim, domain}, inline {name, expr, domain, …}, "
                                         "{name, _target_, dim, domain}, or suites: {suite: bbob, functions, "
                                         "instances, dims}, {suite: cutest, names}")
    method: Any = key(["gd"], "method names, or {name: m, hyperparameter: value or list} (gdlab list methods)")
    alpha: Any = key([0.01], "step sizes (sign_halving: the initial Δx)")
    momentum: Any = key([0.9], "γ of the methods that have it (momentum, nesterov), unless their mapping sets it")
    schedule: Any = key(["constant"], "step-size schedules, or {name: s, parameter: value or list}: each multiplies "
                                     "alpha (gdlab list schedules)")
    starts: Any = key(dataclasses.asdict(Starts()), "where runs start: {kind: grid|uniform|points|suite, n, seed, "
                                                    "points}")
    criterion: Any = key(["dx", "df", "grad"], "stop criteria (gdlab list criteria)")
    epsilon: Any = key([1.0e-3, 1.0e-6], "the criteria's tolerances")
    min_steps: Any = key([0], "steps before a rule may fire")
    max_iter: Any = key(10_000, "the hard cap on a run's steps", int_between(1, MAX_STEP))
    dtype: Any = key("float32", "float32 or float64", one_of("float32", "float64"))
    diverge_x: Any = key(1.0e8, "|x|∞ past this: diverged", positive)
    diverge_f: Any = key(1.0e30, "|f| past this: diverged", positive)
    traces: Any = key(4, "full trajectories kept per setting (problem, method, hyperparameters)", int_at_least(0))
    curves: Any = key(True, "false: no checkpoint curves (an empty curves table, a faster kernel)", boolean)
    success_tol: Any = key(REPORT_DEFAULTS["success_tol"], "a run succeeded if it ended this close to a known minimum",
                            positive)
    f_target: Any = key(REPORT_DEFAULTS["f_target"], "the report's target: f − f* ≤ f_target", positive)
    stationary_tol: Any = key(STATIONARY_TOL, "point_type is non_stationary where the Newton step ‖H⁺∇f‖ exceeds this",
                               positive)
    part_size: Any = key(131_072, "runs per stored part: the unit of resume and of sharding", int_at_least(1))
    out_dir: Any = key("results", "sweep folders go to out_dir/experiment/sweep_id/", folder_check)
    warn_runs: Any = key(100_000_000, "a sweep of more runs says so, with its size, before it starts",
                          int_at_least(1))
    engine: Any = key(dataclasses.asdict(Engine()), "the kernel's shape: {lanes, part, chunk}")
    report: Any = key(dataclasses.asdict(Report()), "what the report draws: {heatmap: [rows, columns], runtime, "
                                                    "grad_cost, targets}")
    shard: Any = key(dataclasses.asdict(Shard()), "this job's slice: {index, count}")
    lessons: Any = key(None, "experiment=lessons: the scenarios to run one after the other")


DEFAULTS: dict[str, Any] = dataclasses.asdict(SweepConfig())
NESTED: dict[str, type] = {"starts": Starts, "engine": Engine, "shard": Shard, "report": Report}


def register_schema() -> None:
    """Make the schema the base of the primary config (``defaults: [gdlab_schema, ...]``)."""
    from hydra.core.config_store import ConfigStore
    ConfigStore.instance().store(name="gdlab_schema", node=SweepConfig)


def key_table() -> str:
    """The docs' table of every key: name, default and what it does (docs/config.md)."""
    rows = ["| key | default | what it sets |", "|---|---|---|"]

    def add(prefix, cls):
        for f in dataclasses.fields(cls):
            default = f.default_factory()
            if f.name in NESTED:
                add(f"{f.name}.", NESTED[f.name])
                continue
            shown = json.dumps(default) if default is not None else "null"
            doc = f.metadata["doc"].replace("|", "\\|")
            rows.append(f"| `{prefix}{f.name}` | `{shown}` | {doc} |")
    add("", SweepConfig)
    return "\n".join(rows) + "\n"
