"""Report statistics: plain pandas group-bys over the runs, stops and curves tables.

Definitions (also in the report):

- a run *succeeds under a rule* when the rule fired and the point where it
  fired lies within ``success_tol`` (Euclidean) of a known minimum;
- a *premature stop*: the rule fired farther than ``success_tol`` from every
  known minimum;
- *steps spent* under a rule: the step it fired at, or the whole run if it
  never fired (the run ended first: max_iter, divergence, a fault);
- *aRT* (COCO's average runtime): all steps spent ÷ number of successes
  (inf when nothing succeeded);
- a run *reaches the f-target* at the first checkpoint step where
  f − f* ≤ ``f_target``, f* being the value of the minimum it ended nearest;
  *wasted steps*: how far past that step the rule fired.

Success and f − f* need known minima; for problems without them they are NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .stopping import checkpoints

__all__ = ["SETTING", "RULE", "stalled_runs", "rule_outcomes", "summary_table", "rule_comparison", "target_steps",
           "f_star_of_runs", "ecdf_targets", "convergence_bands", "sample_groups", "run_keys", "MAX_RUNS"]

SETTING = ["problem", "method", "alpha", "momentum"]
RULE = ["criterion", "epsilon", "min_steps"]
MAX_RUNS = 20_000    # runs of a setting the curve statistics (bands, ECDF) sample


def f_star_of_runs(runs: pd.DataFrame) -> pd.Series:
    """f* of the known minimum each run ended nearest (NaN where none is known), indexed by run_id."""
    return pd.Series((runs["f_final"] - runs["f_gap"]).to_numpy(), index=runs["run_id"].to_numpy())


def rule_outcomes(runs: pd.DataFrame, stops: pd.DataFrame, success_tol: float) -> pd.DataFrame:
    """One row per run × rule, with the run's setting and status, and success/premature/spent."""
    cols = SETTING + ["run_id", "status", "n_iter"]
    frame = stops.merge(runs[cols], on="run_id", how="left")
    if len(frame) != len(stops):   # what validate="many_to_one" checks, without its 3 s of hashing at 10⁷ runs
        raise ValueError("the runs table has a run_id more than once")
    known = frame["dist_to_min_at_stop"].notna() | ~frame["fired"]
    has_minima = frame["problem"].map(runs.groupby("problem")["min_id"].max() >= 0)
    frame["step_fired"] = frame["step"].where(frame["fired"])
    frame["spent"] = np.where(frame["fired"], frame["step"], frame["n_iter"])
    near = frame["dist_to_min_at_stop"] <= success_tol
    frame["success"] = (frame["fired"] & near).where(has_minima)
    frame["premature"] = (frame["fired"] & ~near & known).where(has_minima)
    return frame


def summary_table(runs: pd.DataFrame, stops: pd.DataFrame, success_tol: float,
                  outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per problem × method × alpha × momentum × stop rule: how the rule did over the starts.
    ``outcomes``: :func:`rule_outcomes` of the same tables, where the caller has them (left unchanged)."""
    o = rule_outcomes(runs, stops, success_tol) if outcomes is None else outcomes
    o = o.assign(diverged=o["status"] == "diverged", nonfinite=o["status"].isin(["nonfinite", "invalid_start"]),
                 never=~o["fired"], success_min=o["min_id_at_stop"].where(o["success"] == True),  # noqa: E712
                 f_fired=o["f_at_stop"].where(o["fired"]))
    g = o.groupby(SETTING + RULE, dropna=False, sort=True)
    table = g.agg(runs=("run_id", "size"), success_rate=("success", "mean"),
                  median_stop_step=("step_fired", "median"),
                  p90_stop_step=("step_fired", lambda s: s.quantile(0.9)),
                  premature=("premature", "sum"), never_fired=("never", "sum"),
                  diverged=("diverged", "sum"), nonfinite=("nonfinite", "sum"),
                  steps_spent=("spent", "sum"), successes=("success", "sum"),
                  distinct_minima=("success_min", "nunique"), best_f=("f_fired", "min"))
    known = g["success"].count() > 0
    table["aRT"] = np.where(table["successes"] > 0, table["steps_spent"] / table["successes"].clip(lower=1),
                            np.inf)
    table.loc[~known, ["aRT", "premature", "distinct_minima"]] = np.nan
    for col in ("premature", "never_fired", "diverged", "nonfinite", "successes"):
        table[col] = table[col].astype("Int64" if table[col].isna().any() else np.int64)
    return table.drop(columns=["steps_spent"]).reset_index()


def target_steps(runs: pd.DataFrame, curves: pd.DataFrame, f_target: float, f_star: pd.Series | None = None
                 ) -> pd.Series:
    """First checkpoint step where f − f* ≤ f_target, per run_id (absent if never reached).
    ``f_star``: :func:`f_star_of_runs` of ``runs``, for a caller that goes through the curves part by part."""
    f_star = f_star_of_runs(runs) if f_star is None else f_star
    gap = curves["f"].to_numpy() - f_star.reindex(curves["run_id"].to_numpy()).to_numpy()
    hit = curves.loc[gap <= f_target, ["run_id", "step"]]
    return hit.groupby("run_id")["step"].min()


def rule_comparison(runs: pd.DataFrame, stops: pd.DataFrame, curves: pd.DataFrame,
                    success_tol: float, f_target: float, reached: pd.Series | None = None,
                    outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per problem × stop rule: steps used against the error at the stop, wasted steps, premature stops.
    ``reached``: the runs' :func:`target_steps`, and ``outcomes``: their :func:`rule_outcomes`, where
    the caller has them (the report computes the target steps part by part, and passes only some
    runs' curves; it shares the outcomes with :func:`summary_table`)."""
    o = rule_outcomes(runs, stops, success_tol) if outcomes is None else outcomes
    reached = target_steps(runs, curves, f_target) if reached is None else reached
    target = o["run_id"].map(reached)
    late = o["fired"] & target.notna()
    o = o.assign(wasted=(o["step"] - target).clip(lower=0).where(late), gap_fired=o["f_gap_at_stop"].where(o["fired"]),
                 dist_fired=o["dist_to_min_at_stop"].where(o["fired"]))
    g = o.groupby(["problem"] + RULE, sort=True)
    table = g.agg(runs=("run_id", "size"), fired=("fired", "mean"), median_steps=("spent", "median"),
                  median_f_gap_at_stop=("gap_fired", "median"), median_dist_at_stop=("dist_fired", "median"),
                  median_wasted_steps=("wasted", "median"), total_wasted_steps=("wasted", "sum"),
                  premature=("premature", "sum"), success_rate=("success", "mean"))
    if not len(curves):     # a sweep without curves (curves: false): wasted steps are unknown, not 0
        table["total_wasted_steps"] = np.nan
    return table.reset_index()


def run_keys(run_ids, seed: int = 0) -> np.ndarray:
    """A pseudo-random uint64 per run id (splitmix64 of the id and the seed)."""
    z = np.asarray(run_ids).astype(np.uint64) + np.uint64((seed + 1) * 0x9E3779B97F4A7C15 % 2 ** 64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_groups(frame: pd.DataFrame, by: list[str], max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``max_rows`` runs of each group, drawn at random (all of a smaller group), in the frame's order.

    A run's draw depends on its ``run_id`` alone (:func:`run_keys`: a group keeps its runs with the
    smallest keys), so a group's sample is the same runs whichever frame holds the group: the
    report finds the runs its figures will sample before it reads their curves."""
    group = frame.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    if not len(group) or np.bincount(group).max() <= max_rows:
        return frame
    keys = run_keys(frame["run_id"].to_numpy(), seed)
    order = np.argsort(group, kind="stable")      # each group's rows side by side (a sweep's come so: one pass)
    edges = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0, True])
    drawn = []
    for a, b in zip(edges[:-1], edges[1:]):
        rows = order[a:b]
        drawn.append(rows if b - a <= max_rows else rows[np.argpartition(keys[rows], max_rows - 1)[:max_rows]])
    # only the drawn rows are taken (a take of every row and column of 10⁷ runs took seconds)
    return frame.iloc[np.sort(np.concatenate(drawn))]


def stalled_runs(runs: pd.DataFrame, curves: pd.DataFrame, grad_floor: float = 1e-3) -> pd.DataFrame:
    """Runs that hit max_iter with f no longer changing while ‖∇f‖ stays large: they are cycling —
    bouncing across a kink (|x| at 0) or caught in a 2-cycle of a too-large step — not converging.

    Judged on the last two checkpoint rows of each max_iter run.
    """
    ids = runs.loc[runs["status"] == "max_iter", "run_id"]
    tail = curves[curves["run_id"].isin(ids)].groupby("run_id").tail(2)
    last = tail.groupby("run_id").agg(f_prev=("f", "first"), f_last=("f", "last"), grad_last=("grad_norm", "last"),
                                      rows=("f", "size"))
    flat = (last["rows"] == 2) & ((last["f_last"] - last["f_prev"]).abs()
                                  <= 1e-9 * np.maximum(1.0, last["f_last"].abs()))
    return last[flat & (last["grad_last"] > grad_floor)].reset_index()


TARGETS = 10.0 ** np.arange(1, -9, -1)   # COCO-style: 10^1 … 10^-8


def ecdf_targets(runs: pd.DataFrame, curves: pd.DataFrame, by: list[str], targets=TARGETS,
                 max_runs: int = MAX_RUNS, seed: int = 0) -> pd.DataFrame:
    """For each group and (run, target) pair, the first checkpoint step with f − f* ≤ target (inf if never).

    Long form: group columns, run_id, target, step. Groups are sampled to ``max_runs`` runs.
    """
    f_star = f_star_of_runs(runs)
    keep = sample_groups(runs[runs["f_gap"].notna()], by, max_runs, seed)
    c = curves[curves["run_id"].isin(keep["run_id"])]
    gap = c["f"].to_numpy() - f_star.reindex(c["run_id"].to_numpy()).to_numpy()
    rows = []
    for t in targets:
        hit = c.loc[gap <= t].groupby("run_id")["step"].min()
        rows.append(pd.DataFrame({"run_id": keep["run_id"].to_numpy(), "target": t,
                                  "step": hit.reindex(keep["run_id"].to_numpy()).fillna(np.inf).to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    return out.merge(keep[["run_id"] + by], on="run_id")


def convergence_bands(runs: pd.DataFrame, curves: pd.DataFrame, by: list[str], quantiles=(0.1, 0.5, 0.9),
                      max_runs: int = MAX_RUNS, seed: int = 0) -> pd.DataFrame:
    """Quantiles over runs of f − f* (or ‖∇f‖ where f* is unknown) at each checkpoint step, per group.

    A run that has stopped keeps its last value at later checkpoints, so the
    band describes every start, not only the ones still running.
    """
    runs = sample_groups(runs, by, max_runs, seed)
    c = curves[curves["run_id"].isin(runs["run_id"])]
    f_star = f_star_of_runs(runs)
    known = runs.set_index("run_id")["f_gap"].notna()
    value = np.where(known.reindex(c["run_id"].to_numpy()).to_numpy(),
                     c["f"].to_numpy() - f_star.reindex(c["run_id"].to_numpy()).to_numpy(), c["grad_norm"].to_numpy())
    # runs × checkpoint steps in numpy (pandas' pivot, ffill and quantile took seconds at 20,000 runs)
    # Columns are the checkpoint steps; a run's last row (its stop, rarely a checkpoint) goes to the first
    # checkpoint after it, from where it is carried on: one column per run's stop would make the grid
    # as wide as max_iter.
    ids, row = np.unique(c["run_id"].to_numpy(), return_inverse=True)
    step = c["step"].to_numpy()
    steps = checkpoints(int(step.max()) if len(step) else 0)
    steps = np.append(steps, step.max()) if len(step) and steps[-1] < step.max() else steps
    col = np.searchsorted(steps, step)
    wide = np.full((len(ids), len(steps)), np.nan)
    wide[row, col] = value
    last = np.maximum.accumulate(np.where(np.isnan(wide), 0, np.arange(len(steps))[None, :]), axis=1)
    wide = np.take_along_axis(wide, last, axis=1)     # a stopped run keeps its last value
    out = []
    meta = runs.set_index("run_id")[by]
    # one key column is grouped by name (a scalar key); pandas 3 warns on a one-element list
    for key, members in meta.groupby(by[0] if len(by) == 1 else by, dropna=False).groups.items():
        block = wide[np.isin(ids, np.asarray(members))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a step no run of the group reached: nan
            qs = np.nanquantile(block, list(quantiles), axis=0) if len(block) else \
                np.full((len(quantiles), len(steps)), np.nan)
        q = pd.DataFrame({"step": steps, **{f"q{int(round(p * 100))}": v for p, v in zip(quantiles, qs)}})
        for col_name, val in zip(by, key if isinstance(key, tuple) else (key,)):
            q[col_name] = val
        q["measure"] = "f - f*" if known.reindex(members).all() else "grad_norm"
        out.append(q)
    return pd.concat(out, ignore_index=True)
