"""Run a validated sweep through the engine and gather its tables.

:func:`sweep` takes a config mapping (DESIGN.md's keys) and returns
:class:`~gdlab.results.Results` in memory; :func:`descend` is the same for
arrays of starts in a notebook.
"""

from __future__ import annotations

import math
import platform
import time
from typing import Callable, Mapping, Sequence

import jax
import numpy as np
import pandas as pd

from . import __version__
from .config import Sweep, expand, validate
from .engine import EngineOptions, run_batch, trace_runs
from .methods import get_method
from .problems import Problem
from .results import Results, curves_table, runs_table, stops_table, traces_table
from .stopping import StopRule, stop_rules

__all__ = ["sweep", "descend", "run_sweep", "engine_options", "groups"]


def engine_options(sw: Sweep) -> EngineOptions:
    return EngineOptions(max_iter=sw.max_iter, dtype=sw.dtype, x_bound=sw.diverge_x, f_bound=sw.diverge_f,
                         lanes=sw.engine.get("lanes"), part=sw.engine.get("part"),
                         chunk=sw.engine.get("chunk") or 16)


def groups(runs: pd.DataFrame):
    """(problem name, method, rows) for each kernel's share of the runs, in run order."""
    keys = runs[["problem", "method"]].drop_duplicates()
    for prob, meth in keys.itertuples(index=False):
        rows = runs[(runs["problem"] == prob) & (runs["method"] == meth)]
        yield prob, meth, rows


def _trace_rows(rows: pd.DataFrame, per_setting: int) -> pd.DataFrame:
    """Up to ``per_setting`` runs of each (alpha, momentum), spread evenly over the starts."""
    if per_setting <= 0:
        return rows.iloc[:0]
    picked = []
    for _, block in rows.groupby(["alpha", "momentum"], dropna=False, sort=False):
        idx = np.unique(np.linspace(0, len(block) - 1, min(per_setting, len(block))).round().astype(int))
        picked.append(block.iloc[idx])
    return pd.concat(picked)


def run_group(problem: Problem, method: str, rows: pd.DataFrame, x0: np.ndarray, rules: Sequence[StopRule],
              opts: EngineOptions, traces: int, stats: dict,
              stationary_tol: float = 0.05) -> tuple[pd.DataFrame, ...]:
    """One (problem, method) share of a sweep → its runs, stops, curves and traces tables."""
    momentum = np.nan_to_num(rows["momentum"].to_numpy(), nan=0.0)
    rec = run_batch(problem, method, x0, rows["alpha"].to_numpy(), momentum, rules, opts, stats)
    run_ids = rows["run_id"].to_numpy()
    runs = runs_table(rows.drop(columns=["start_id"]), problem, x0, rec, opts.dtype, stationary_tol)
    stops = stops_table(run_ids, problem, rec, rules)
    curves = curves_table(run_ids, rec, opts.max_iter)
    chosen = _trace_rows(rows, traces)
    pos = np.searchsorted(run_ids, chosen["run_id"].to_numpy())
    paths = trace_runs(problem, method, x0[pos], rows["alpha"].to_numpy()[pos], momentum[pos],
                       rec["k"][pos], rules, opts)
    return runs, stops, curves, traces_table(chosen["run_id"].to_numpy(), paths, problem.dim)


def run_sweep(sw: Sweep, runs: pd.DataFrame | None = None, starts: dict | None = None,
              progress: Callable[[int], None] | None = None) -> Results:
    """Run ``sw`` (or the given subset of its runs) and gather the tables in memory."""
    if runs is None:
        runs, starts = expand(sw)
    opts = engine_options(sw)
    by_name = {p.name: p for p in sw.problems}
    stats: dict = {}
    parts: list[tuple[pd.DataFrame, ...]] = []
    t0 = time.perf_counter()
    for prob, meth, rows in groups(runs):
        problem = by_name[prob]
        x0 = starts[prob][rows["start_id"].to_numpy()]
        parts.append(run_group(problem, meth, rows, x0, sw.rules, opts, sw.traces, stats, sw.stationary_tol))
        if progress:
            progress(len(rows))
    seconds = time.perf_counter() - t0
    tables = [pd.concat([p[i] for p in parts], ignore_index=True) if parts else pd.DataFrame()
              for i in range(4)]
    facts = {
        "runs": int(len(runs)), "seconds": seconds, "dtype": sw.dtype,
        "device": str(jax.devices()[0]), "backend": jax.default_backend(),
        "jax": jax.__version__, "gdlab": __version__, "python": platform.python_version(),
        "useful_lane_steps": int(stats.get("useful", 0)), "executed_lane_steps": int(stats.get("executed", 0)),
        "lane_utilisation": (stats["useful"] / stats["executed"]) if stats.get("executed") else math.nan,
    }
    return Results(*tables, config=sw.config, facts=facts)


def sweep(config: Mapping | None = None) -> Results:
    """Validate a config mapping (DESIGN.md's keys), run every run, and return the tables in memory."""
    return run_sweep(validate(config))


def descend(problem: str | Problem | Mapping, method: str, x0s, alpha=0.01, momentum=0.9, *,
            criterion=("df",), epsilon=(1e-6,), min_steps=(0,), max_iter: int = 10_000,
            dtype: str = "float64", traces: int = 0, **settings) -> Results:
    """Descend from each row of ``x0s`` (shape (n, d), or (n,) for 1-d problems).

    ``alpha``, ``momentum``, ``criterion``, ``epsilon`` and ``min_steps`` may be
    scalars or lists (grid axes, as in a sweep). Defaults to float64, the
    notebook's choice; sweeps default to float32.
    """
    from .config import resolve_problem
    prob = resolve_problem(problem)
    x0s = np.asarray(x0s, dtype=np.float64)
    if prob.dim == 1 and x0s.ndim <= 1:
        x0s = x0s.reshape(-1, 1)
    x0s = x0s.reshape(-1, prob.dim) if x0s.ndim == 1 and x0s.size == prob.dim else x0s
    config = {
        "experiment": "descend", "problems": [prob], "method": [method],
        "alpha": list(np.atleast_1d(alpha).tolist()), "momentum": list(np.atleast_1d(momentum).tolist()),
        "starts": {"kind": "points", "points": x0s.tolist()},
        "criterion": list(np.atleast_1d(criterion).tolist()), "epsilon": list(np.atleast_1d(epsilon).tolist()),
        "min_steps": list(np.atleast_1d(min_steps).tolist()), "max_iter": max_iter, "dtype": dtype,
        "traces": traces, **settings,
    }
    sw = validate(config)
    return run_sweep(sw)
