"""Engine records → tidy tables: runs, stops, curves and traces, one part at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..core.criteria import STATUS_NAMES, Status, StopRule, checkpoints
from ..core.points import POINT_TYPES, point_kinds
from ..core.problems import Problem
from ..core.settings import STATIONARY_TOL
from .columns import list_column, string_column

__all__ = ["nearest_minimum", "evaluations", "runs_table", "stops_table", "curves_table", "traces_table",
           "CURVE_COLUMNS", "curve_rows_bound"]


def nearest_minimum(problem: Problem, xs: np.ndarray, fs: np.ndarray):
    """(min_id, dist_to_min, f_gap) of each point against the problem's known minima.

    min_id is -1 (dist and gap NaN) where no minimum is known or the point is not finite; where only
    f* is known (``f_min`` without ``minima``), min_id is -1, dist NaN and the gap f − f*.
    """
    xs = np.asarray(xs, dtype=np.float64).reshape(-1, problem.dim)
    n = len(xs)
    mins = problem.minima_array
    if len(mins) == 0:
        # f* alone (no minimiser known): the gap to it, and no nearest minimum nor distance
        gap = np.asarray(fs, dtype=np.float64) - problem.f_min[0] if problem.f_min else np.full(n, np.nan)
        ok = np.isfinite(xs).all(axis=1)
        return np.full(n, -1, np.int64), np.full(n, np.nan), np.where(ok, gap, np.nan)
    # NumPy sums 8 and more numbers pairwise: from there its row sums (their order of additions, their bits)
    return _nearest(problem, xs, fs, mins, by_rows=problem.dim >= 8)


def _nearest_by_rows(problem: Problem, xs: np.ndarray, fs, mins: np.ndarray):
    """:func:`nearest_minimum` with np.sum along each row (the sums of dimensions 8 and more)."""
    return _nearest(problem, xs, fs, mins, by_rows=True)


def _nearest(problem: Problem, xs: np.ndarray, fs, mins: np.ndarray, by_rows: bool):
    """(min_id, dist, gap) against ``mins``, the squared distances summed along each row (``by_rows``)
    or coordinate by coordinate over contiguous columns (a reduction along rows of d = 2 numbers took
    0.2 s of 10⁶ runs' tables); the few minima in a loop, the first of equally near ones kept."""
    n = len(xs)
    cols = None if by_rows else np.ascontiguousarray(xs.T)
    best = np.full(n, np.inf)
    idx = np.full(n, -1, np.int64)
    ok = np.ones(n, bool)
    with np.errstate(over="ignore", invalid="ignore"):     # a point past 1e154 is as far as inf: not ok
        for j, m in enumerate(mins):
            if by_rows:
                d2 = np.sum((xs - m) ** 2, axis=1)
            else:
                d2 = np.zeros(n)
                for c, mc in zip(cols, m):
                    d2 += (c - mc) ** 2
            ok &= np.isfinite(d2)
            np.copyto(idx, j, where=d2 < best)
            np.minimum(best, d2, out=best)
    idx[~ok] = -1
    dist = np.where(ok, np.sqrt(best), np.nan)
    f_min = np.asarray(problem.f_min, dtype=np.float64)
    gap = np.where(ok, np.asarray(fs, dtype=np.float64) - f_min[np.maximum(idx, 0)], np.nan)
    return idx, dist, gap


def runs_table(meta: pd.DataFrame, problem: Problem, x0: np.ndarray, rec: dict, dtype: str,
               stationary_tol: float = STATIONARY_TOL, nearest: tuple | None = None,
               kinds: np.ndarray | None = None) -> pd.DataFrame:
    """One row per run: ``meta`` (run_id, problem, dim, method, alpha, momentum, …) plus the outcome.
    ``nearest``: :func:`nearest_minimum` of the runs' last points, and ``kinds``: the
    :func:`~gdlab.core.points.point_kinds` of the converged runs' last points, where the caller has them."""
    min_id, dist, gap = nearest if nearest is not None else nearest_minimum(problem, rec["x"], rec["f"])
    point_type = np.full(len(rec["status"]), -1)
    conv = rec["status"] == Status.converged
    point_type[conv] = kinds if kinds is not None else point_kinds(problem, rec["x"][conv], dtype, stationary_tol)
    out = meta.reset_index(drop=True).copy()
    out["x0"] = list_column(x0)
    out["x_final"] = list_column(rec["x"])
    out["f_final"] = rec["f"].astype(np.float64)
    out["grad_norm_final"] = _grad_norm_final(rec)
    out["n_iter"] = rec["k"].astype(np.int64)
    out["n_f"], out["n_grad"] = evaluations(rec)
    out["status"] = string_column(rec["status"], STATUS_NAMES)
    out["min_id"] = min_id
    out["dist_to_min"] = dist
    out["f_gap"] = gap
    out["point_type"] = string_column(point_type, POINT_TYPES)
    return out


def stops_table(run_ids: np.ndarray, problem: Problem, rec: dict, rules: Sequence[StopRule],
                nearest: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per run × stop rule. ``nearest``: :func:`nearest_minimum` of the runs' last points,
    where the caller has it: with one rule a run's point at its stop is its last point (where the
    rule fired), so the stop rows take it from there."""
    n, R = len(run_ids), len(rules)
    step = rec["fired"].astype(np.int64).reshape(-1)
    f_at = rec["f_at"].astype(np.float64).reshape(-1)
    if R == 1 and nearest is not None:
        fired = step >= 0
        min_id, dist, gap = (np.where(fired, a, -1 if a.dtype.kind == "i" else np.nan) for a in nearest)
    else:
        min_id, dist, gap = nearest_minimum(problem, rec["x_at"].reshape(n * R, problem.dim), f_at)
    rule_id = np.tile(np.arange(R, dtype=np.int64), n)
    return pd.DataFrame({
        "run_id": np.repeat(run_ids, R).astype(np.int64),
        "rule_id": rule_id,
        "criterion": string_column(rule_id, [r.criterion for r in rules]),
        "epsilon": np.asarray([r.epsilon for r in rules], np.float64)[rule_id],
        "min_steps": np.asarray([r.min_steps for r in rules], np.int64)[rule_id],
        "fired": step >= 0,
        "step": step,
        "f_at_stop": f_at,
        "min_id_at_stop": min_id,
        "dist_to_min_at_stop": dist,
        "f_gap_at_stop": gap,
    }, copy=False)


def evaluations(rec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each run's evaluations of f and of ∇f: counted by the kernel for a method that spends more
    than one of each a step (``spent``: line searches, newton), else one at the start and one a step."""
    spent = rec.get("spent")
    if spent is not None and spent.shape[1] == 2:
        return spent[:, 0].astype(np.int64), spent[:, 1].astype(np.int64)
    n = rec["k"].astype(np.int64) + 1
    return n, n.copy()


def _grad_norm_final(rec: dict) -> np.ndarray:
    """‖∇f‖ at each run's last point, in float64 (the runs table's column, the curves' last row)."""
    g = rec["g"]
    with np.errstate(over="ignore", invalid="ignore"):     # a gradient past 1e154: ‖∇f‖ is inf, as it is
        if g.shape[1] >= 8:                                 # np.sum's pairwise additions, as in nearest_minimum
            return np.sqrt(np.sum(g.astype(np.float64) ** 2, axis=1))
        total = np.zeros(len(g))
        for c in np.ascontiguousarray(g.T):                 # by coordinate over contiguous columns
            total += c.astype(np.float64) ** 2
    return np.sqrt(total)


#: the curves table's columns and their types
CURVE_COLUMNS = {"run_id": np.int64, "step": np.int64, "f": np.float64, "grad_norm": np.float64}


def curve_rows_bound(max_iter: int) -> int:
    """The most curve rows a run has: one a checkpoint up to ``max_iter``, and its last step."""
    return len(checkpoints(max_iter)) + 1


def curves_table(run_ids: np.ndarray, rec: dict, max_iter: int, curves: bool = True,
                 out: Callable[[int], dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """f and ‖∇f‖ at the geometric checkpoints each run reached, and at its last step
    (no rows when the sweep keeps no curves: ``curves=False``).

    Rows come ordered by (run_id, step) as they are built: a run's checkpoints in order, then its
    last step where that is no checkpoint (it lies past every checkpoint the run reached), so the
    checkpoint cells each run reached, read in row-major order, fill every row but those last ones
    (no sort of the many rows, no (runs × checkpoints) grid built).

    ``out(n)``, where given, returns the n rows' columns to write (arrays of
    :data:`CURVE_COLUMNS`' types, say slices of a whole sweep's columns): the table is then a view
    of them, and its rows are written once."""
    if not curves:
        return pd.DataFrame({k: np.zeros(0, t) for k, t in CURVE_COLUMNS.items()})
    cps = checkpoints(max_iter)
    run_ids = np.asarray(run_ids, dtype=np.int64)
    order = slice(None) if np.all(run_ids[1:] > run_ids[:-1]) else np.argsort(run_ids, kind="stable")
    n_iter = rec["k"].astype(np.int64)[order]
    reached = np.searchsorted(cps, n_iter, side="right")                  # checkpoints up to the last step
    own = (reached == 0) | (cps[np.maximum(reached - 1, 0)] != n_iter)    # the last step is no checkpoint
    rows = reached + own
    ends = np.cumsum(rows)
    total = int(ends[-1]) if len(ends) else 0
    cols = out(total) if out is not None else {k: np.empty(total, t) for k, t in CURVE_COLUMNS.items()}
    at_cp = np.arange(len(cps)) < reached[:, None]      # (runs, checkpoints): the checkpoints each run reached
    last = ends[own] - 1                                # the rows of the last steps that are no checkpoint
    cp_row = np.ones(total, bool)
    cp_row[last] = False
    cols["run_id"][:] = np.repeat(run_ids[order], rows)
    for name, at_checkpoints, at_last in (("step", np.broadcast_to(cps, at_cp.shape), n_iter),
                                          ("f", rec["curve_f"][order], rec["f"][order]),
                                          ("grad_norm", rec["curve_g"][order], _grad_norm_final(rec)[order])):
        cols[name][cp_row] = at_checkpoints[at_cp]
        cols[name][last] = at_last[own]
    return pd.DataFrame(cols, copy=False)


def traces_table(run_ids: Sequence[int], paths: Sequence[tuple[np.ndarray, np.ndarray]], dim: int) -> pd.DataFrame:
    """Full trajectories of one problem's sampled runs: one row per (run, step), the point and f there."""
    xs = np.concatenate([x for x, _ in paths]) if paths else np.zeros((0, dim))
    return pd.DataFrame({
        "run_id": np.concatenate([np.full(len(f), r, np.int64) for r, (_, f) in zip(run_ids, paths)]
                                 or [np.zeros(0, np.int64)]),
        "step": np.concatenate([np.arange(len(f), dtype=np.int64) for _, f in paths] or [np.zeros(0, np.int64)]),
        "x": list_column(xs),
        "f": np.concatenate([f for _, f in paths] or [np.zeros(0)]).astype(np.float64),
    })
