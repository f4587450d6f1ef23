"""Report statistics: plain pandas group-bys over the runs, stops and curves tables.

Definitions (also in the report):

- a run *succeeds under a rule* when the rule fired and the point where it
  fired lies within ``success_tol`` (Euclidean) of a known minimum (where only
  f* is known: f − f* ≤ ``success_tol`` there, so ending below a listed f* succeeds);
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
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..core.criteria import checkpoints
from ..core.settings import REPORT_DEFAULTS
from .columns import in_order

__all__ = ["SETTING", "RULE", "setting_columns", "best_settings", "below_listed_f_star", "grad_cost_of", "problem_grad_costs", "target_values", "COCO_TARGETS", "evaluations_at", "evaluations_to_reach", "evaluations_per_step", "stalled_runs", "rule_outcomes", "problems_with_minima", "RuleTally", "group_codes",
           "row_groups", "column_codes", "first_rows", "rows_of",
           "summary_table",
           "rule_comparison", "target_steps",
           "f_star_of_runs", "problem_f_star", "ecdf_targets", "convergence_bands", "sample_groups", "drawn_rows", "run_keys", "MAX_RUNS",
           "REPORT_DEFAULTS"]

SETTING = ["problem", "method", "alpha", "momentum"]     # the setting columns every sweep's runs table has
RULE = ["criterion", "epsilon", "min_steps"]
MAX_RUNS = 20_000    # runs of a setting the curve statistics (bands, ECDF) sample


def setting_columns(columns) -> list[str]:
    """The columns of a runs table (or a read of some of its columns) that name a run's setting:
    problem, method, and the columns after method that are not outcomes (alpha, momentum, the
    methods' other hyperparameters, schedule and the schedules' parameters), in order."""
    columns = list(columns)
    after = columns[columns.index("method") + 1:] if "method" in columns else []
    return ["problem", "method", *(c for c in after if c not in NOT_SETTING)]


#: runs table columns that are not part of a setting
NOT_SETTING = frozenset(["run_id", "problem", "dim", "start_id", "x0", "x_final", "f_final", "grad_norm_final",
                         "n_iter", "n_f", "n_grad", "status", "min_id", "dist_to_min", "f_gap", "point_type",
                         "_setting"])


START_EVALS = 2      # a run's start: one value and one gradient of f


def grad_cost_of(grad_cost, dim) -> float | np.ndarray:
    """What one gradient counts in evaluations of f (``report.grad_cost``): the number given, or the
    dimension for ``"d"`` (COCO's view: a gradient by finite differences costs d values of f)."""
    return np.asarray(dim, np.float64) if grad_cost == "d" else float(grad_cost)


def evaluations_at(step, evals, n_iter, start=START_EVALS):
    """A run's evaluations of f and ∇f by step ``step`` of its ``n_iter``, from its total ``evals``:
    the start's (``start``: two, or 1 + grad_cost where a gradient counts grad_cost), then the steps'
    share of the rest (exact where every step costs the same, as for gd or newton, whose start costs
    less than a step; a line search's average). At its last step, all of them."""
    step, evals, n_iter, start = (np.asarray(a, np.float64) for a in (step, evals, n_iter, start))
    per_step = np.where(n_iter > 0, (evals - start) / np.maximum(n_iter, 1), 0.0)
    return np.where(step >= n_iter, evals, start + step * per_step)


def evaluations_to_reach(step, evals, n_iter, start=START_EVALS):
    """The evaluations by which a run is known to have reached its f at checkpoint ``step``, as COCO
    counts a runtime and ``gdlab export coco`` writes it: f at the start after one evaluation (its
    gradient comes after), f at a later step after :func:`evaluations_at` of it; whole evaluations."""
    step = np.asarray(step, np.float64)
    return np.where(step == 0, 1.0, np.maximum(1.0, np.rint(evaluations_at(step, evals, n_iter, start))))


def evaluations_per_step(runs: pd.DataFrame, by: pd.Series, cost: float = 1.0) -> pd.Series:
    """Per group of ``by`` (aligned with ``runs``), the median evaluations of f and ∇f a step after the
    start's two: a checkpoint step k of the group is at START_EVALS + k × this (:func:`evaluations_at`).
    ``cost``: what a gradient counts (report.grad_cost; the start's are then 1 + cost)."""
    per_run = (runs["n_f"] + cost * runs["n_grad"] - (1 + cost)) / runs["n_iter"].clip(lower=1)
    return per_run.groupby(by).median()


def f_star_of_runs(runs: pd.DataFrame) -> pd.Series:
    """f* of the known minimum each run ended nearest (NaN where none is known), indexed by run_id."""
    return pd.Series((runs["f_final"] - runs["f_gap"]).to_numpy(), index=runs["run_id"].to_numpy())


def problem_f_star(runs: pd.DataFrame, f_min: Mapping[str, Sequence[float]]) -> pd.Series:
    """f* of each run from its problem's listed values ``f_min`` (problem → values, one a minimum, or
    f* alone), indexed by run_id: that of the minimum a run ended nearest (``min_id``), as its f_gap
    has it; for a run whose end is not finite, which no minimum is nearest, the lowest value listed,
    so that its curve counts only the targets it reached on the way (unlike :func:`f_star_of_runs`,
    f_final − f_gap, unknown for it); NaN for a problem that lists none."""
    codes, names = pd.factorize(runs["problem"])
    # each problem's values one after another, the last (none) for a problem name that is NA
    values = [np.asarray(f_min.get(name, ()), np.float64).reshape(-1) for name in names] + [np.zeros(0)]
    codes = np.where(codes >= 0, codes, len(values) - 1)
    length = np.array([len(v) for v in values])
    start = np.cumsum(length) - length
    flat = np.concatenate([*values, np.zeros(1)])
    lowest = np.array([v.min() if len(v) else np.nan for v in values])
    min_id = runs["min_id"].to_numpy(np.int64)
    own = np.isfinite(runs["f_final"].to_numpy(np.float64)) & (min_id >= 0) & (min_id < length[codes])
    star = np.where(own, flat[np.where(own, start[codes] + min_id, 0)], lowest[codes])
    return pd.Series(star, index=runs["run_id"].to_numpy())


def rule_outcomes(runs: pd.DataFrame, stops: pd.DataFrame, success_tol: float,
                  has_minima: pd.Series | None = None, grad_cost: pd.Series | None = None) -> pd.DataFrame:
    """One row per run × rule, with the run's setting and status, and success/premature/spent.
    ``has_minima``: per problem, whether it has known minima (some run's ``min_id`` ≥ 0), where the
    caller knows it of more runs than ``runs`` holds (the report goes through the runs part by part).
    ``grad_cost``: per problem, what a gradient counts in ``spent_evals`` (:func:`grad_cost_of`; 1
    where not given: evaluations of f and ∇f alike)."""
    keys = setting_columns(runs.columns)
    cols = keys + ["run_id", "status", "n_iter"] + [c for c in ("n_f", "n_grad") if c in runs.columns]
    frame = stops.merge(runs[cols], on="run_id", how="left")
    if len(frame) != len(stops):   # what validate="many_to_one" checks, without its 3 s of hashing at 10⁷ runs
        raise ValueError("the runs table has a run_id more than once")
    known = frame["dist_to_min_at_stop"].notna() | ~frame["fired"]
    has_minima = problems_with_minima(runs) if has_minima is None else has_minima
    if _one_value(frame["problem"]):        # a sweep's part, as most are: no hash of every row
        codes, names = np.zeros(len(frame), np.intp), frame["problem"].iloc[:1].to_numpy()
    else:
        codes, names = pd.factorize(frame["problem"], use_na_sentinel=False)
    has_minima = pd.Series(has_minima.reindex(names).to_numpy()[codes], index=frame.index)   # frame["problem"].map
    frame["step_fired"] = frame["step"].where(frame["fired"])
    frame["spent"] = np.where(frame["fired"], frame["step"], frame["n_iter"])
    if "n_f" in frame.columns:
        # evaluations of f and ∇f to the stop (evaluations_at), whole numbers so that their sums are
        # exact in any order
        cost = 1.0 if grad_cost is None else grad_cost.reindex(names).to_numpy(np.float64)[codes]
        evals = evaluations_at(frame["spent"].to_numpy(), frame["n_f"].to_numpy() + cost * frame["n_grad"].to_numpy(),
                               frame["n_iter"].to_numpy(), 1.0 + cost)
        frame["spent_evals"] = np.rint(evals).astype(np.int64)
    # where only f* is known (a suite's listed optimum), success is f − f* ≤ success_tol at the stop:
    # a run that ends below a listed f* succeeds
    f_alone = ~has_minima & frame["f_gap_at_stop"].notna()
    near = (frame["dist_to_min_at_stop"] <= success_tol) | (f_alone & (frame["f_gap_at_stop"] <= success_tol))
    judged = has_minima | f_alone
    frame["success"] = (frame["fired"] & near).where(judged)
    frame["premature"] = (frame["fired"] & ~near & (known | f_alone)).where(judged)
    frame.attrs["setting"] = keys
    return frame


def below_listed_f_star(runs: pd.DataFrame, rtol: float = 1e-8) -> pd.DataFrame:
    """Problems where some run ended below the f* the problem lists (by more than ``rtol``·max(1, |f*|)):
    the listed value is not the optimum (sif2jax lists KOWOSB's as 1.027e-3; its optimum is 3.075e-4).
    Where a problem lists f* alone, such runs count as successes (their f − f* is below any tolerance);
    where it lists minima (``by_distance``), success is ending near one, and a run below the f* of the
    one nearest its end found lower ground than they are (outside the domain, or a minimum not listed).
    The report names both. Columns: problem, f_star, best_f, runs_below, by_distance."""
    f_final, gap = runs["f_final"].to_numpy(np.float64), runs["f_gap"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):     # inf − inf: no f*, not below
        f_star = f_final - gap
        below = gap < -rtol * np.maximum(1.0, np.abs(f_star))
    # the problem names of the rows below only, in the column's own type, with or without rows: the
    # problem column of every run as Python strings took 0.2 s of 10⁶ runs
    at = np.flatnonzero(below)
    problem = runs["problem"].array[at]
    if not len(problem):      # as a sweep's parts mostly are: no group-by (8 ms a part, of nothing)
        return pd.DataFrame({"problem": problem, "f_star": np.zeros(0), "best_f": np.zeros(0),
                             "runs_below": np.zeros(0, np.int64), "by_distance": np.zeros(0, bool)})
    frame = pd.DataFrame({"problem": problem, "f_star": f_star[below], "f_final": f_final[below],
                          "by_distance": runs["min_id"].to_numpy()[at] >= 0})
    out = frame.groupby("problem", sort=True).agg(f_star=("f_star", "first"), best_f=("f_final", "min"),
                                                  runs_below=("f_final", "size"), by_distance=("by_distance", "max"))
    return out.reset_index()


def problems_with_minima(runs: pd.DataFrame) -> pd.Series:
    """Per problem, whether it has known minima: some run has a nearest one (``min_id`` ≥ 0; −1 where
    none is known, or the run's end is not finite)."""
    return runs.groupby("problem")["min_id"].max() >= 0


def column_codes(column: pd.Series) -> tuple[np.ndarray | None, int]:
    """A column's values as codes 0, 1, … in order of first appearance (NaN and NA a value of their
    own), and how many there are; None for the codes where the column holds one value only. A part
    of a sweep usually holds one setting, so most key columns are constant, and telling that is
    cheap where factorizing is not (a hash of every row)."""
    if len(column) == 0:
        return None, 0
    if _one_value(column):
        return None, 1
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return codes, len(uniques)


def _one_value(column: pd.Series) -> bool:
    """Whether a column of numbers (NaN all alike) or of Arrow-backed text holds one value only,
    told without a hash of every row; False for an empty column, and for other types."""
    if len(column) == 0:
        return False
    values = column.to_numpy() if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf" else None
    if values is not None:
        first = values[0]
        return bool((values == first).all() or (first != first and np.isnan(values).all()))
    if hasattr(column.array, "__arrow_array__"):
        arrow = column.array.__arrow_array__()
        return arrow.null_count == 0 and pc.all(pc.equal(arrow, arrow[0])).as_py()
    return False


def row_groups(frame: pd.DataFrame, by: list[str]) -> np.ndarray:
    """Each row's group over ``by``, numbered in order of first appearance, NaN keys a group of
    their own: ``frame.groupby(by, dropna=False, sort=False).ngroup()``, without hashing the
    columns that hold one value (a part's setting columns, mostly)."""
    group, size = None, 1
    for name in by:
        codes, n = column_codes(frame[name])
        if codes is None:
            continue
        group = codes if group is None else group * n + codes
        size *= n
        if size > len(frame):                    # keep the combined codes small: renumber them
            group, uniques = pd.factorize(group)
            size = len(uniques)
    if group is None:
        return np.zeros(len(frame), np.int64)
    return pd.factorize(group)[0]


def first_rows(codes: np.ndarray, n: int | None = None) -> np.ndarray:
    """The first row of each code 0 … n − 1 in ``codes`` (``len(codes)`` for a code none has; n: one
    past the largest code by default): where each group of :func:`row_groups` first appears
    (``np.unique``'s return_index sorts, 25× slower)."""
    first = np.full(int(codes.max()) + 1 if n is None and len(codes) else n or 0, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first


def _first_of_each_run(run: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Of rows ``at`` (ascending) of rows ordered by run, the first of each run."""
    return at[np.r_[True, run[at][1:] != run[at][:-1]]] if len(at) else at


def _key(values: tuple) -> tuple:
    """A row of key values as a dict key: every NaN and NA alike, as a group-by or a merge has them."""
    return tuple(None if pd.isna(v) else v for v in values)


def group_codes(frame: pd.DataFrame, by: list[str], seen: pd.DataFrame | None = None
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's code (int32) for its values of ``by``, the same from call to call: ``seen`` holds
    the values met in earlier calls, a row each in the order of their codes (None at first). Returns
    the codes and ``seen`` with the frame's new values added. A sweep read part by part numbers its
    settings (or setting × rule cells) this way once, then works on small integers."""
    local = row_groups(frame, by)
    first = first_rows(local)          # each value's first row
    mine = frame[by].iloc[first].reset_index(drop=True)
    known = {} if seen is None else {_key(row): code for code, row in enumerate(seen.itertuples(index=False))}
    codes, new = np.empty(len(mine), np.int64), []
    for i, row in enumerate(mine.itertuples(index=False)):
        key = _key(row)
        if key not in known:
            known[key] = len(known)
            new.append(i)
        codes[i] = known[key]
    if seen is None:
        seen = mine
    elif new:
        seen = pd.concat([seen, mine.iloc[new]], ignore_index=True)
    return codes[local].astype(np.int32), seen


def _median(values: np.ndarray) -> float:
    """The median of values without NaN (NaN of none): pandas' ``Series.median``, in NumPy (a Series a
    cell took 0.27 ms, 1.2 s of a bbob report's 4,560 cells)."""
    return float(np.median(values)) if len(values) else np.nan


def _quantile(q: float) -> Callable[[np.ndarray], float]:
    """The ``q`` quantile of values without NaN (NaN of none), linear as pandas' ``Series.quantile``."""
    return lambda values: float(np.quantile(values, q)) if len(values) else np.nan


class CellValues:
    """The values of one statistic (a stop step, an error at the stop) of a sweep's setting × rule
    cells, gathered part by part for their medians and quantiles, which need the values themselves.

    Only what those statistics read is kept: NaN (or, for steps, −1: none) is left out, as pandas
    skips it, and whole numbers are kept as counts of each value (a few hundred distinct steps a
    cell, however many runs). So the median of a cell is pandas' over the same values, in any
    order of the parts, and a sweep keeps 8 bytes of each run × rule's fired error, and next to
    nothing of its steps."""

    def __init__(self, counted: bool):
        self.counted = counted              # whole numbers (≥ 0), kept as counts of each value
        self._cells: dict[int, list] = {}   # cell → its arrays (floats) or (values, counts) pairs, a part each

    def add(self, cell: np.ndarray, values: np.ndarray) -> None:
        """``cell``: each row's cell code (small integers ≥ 0); ``values``: the row's value."""
        kept = values >= 0 if self.counted else ~np.isnan(values)
        cell, values = cell[kept], values[kept]
        if not len(cell):
            return
        present = np.flatnonzero(np.bincount(cell))
        if self.counted:
            # counts of each (cell, value): one bincount over a key, the cells numbered within the part
            local = np.empty(present[-1] + 1, np.int64)
            local[present] = np.arange(len(present))
            span = int(values.max()) + 1
            if len(present) * span <= max(4 * len(values), 1 << 20):
                counts = np.bincount(local[cell] * span + values, minlength=len(present) * span)
                key = np.flatnonzero(counts)
                counts = counts[key]
            else:       # few rows over a wide range of values
                key, counts = np.unique(local[cell] * span + values.astype(np.int64), return_counts=True)
            cells, values = present[key // span], (key % span).astype(values.dtype)
            payload = (values, counts)
        else:
            if len(present) > 1:
                order = np.argsort(cell.astype(np.uint16) if present[-1] < 1 << 16 else cell, kind="stable")
                cell, values = cell[order], values[order]
            cells, payload = cell, (values,)
        edges = np.flatnonzero(np.diff(cells)) + 1
        for c, a, b in zip(cells[np.r_[0, edges]].tolist(), np.r_[0, edges].tolist(), np.r_[edges, len(cells)].tolist()):
            self._cells.setdefault(c, []).append(tuple(p[a:b] for p in payload))

    def of(self, cells) -> np.ndarray:
        """The values of these cells together, as float64 (the floats the tables take)."""
        pieces = [piece for c in cells for piece in self._cells.get(int(c), ())]
        if not pieces:
            return np.zeros(0)
        if self.counted:
            return np.repeat(np.concatenate([v for v, _ in pieces]), np.concatenate([n for _, n in pieces])
                             ).astype(np.float64)
        return np.concatenate([v for v, in pieces]).astype(np.float64, copy=False)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for pieces in self._cells.values() for piece in pieces for a in piece)


def _distinct_pairs(cell: np.ndarray, min_id: np.ndarray) -> pd.DataFrame:
    """The distinct (cell, min_id) pairs, as ``DataFrame({"cell", "min_id"}).drop_duplicates()`` has
    them but in order of the pair: as one integer each where they fit (the frame's hash of every
    pair took 4 ms a part of 2¹⁷ runs)."""
    if len(cell):
        lo, span = int(min_id.min()), int(min_id.max()) - int(min_id.min()) + 1
        if (int(cell.max()) + 1) * span < 2 ** 62:
            key = np.unique(cell.astype(np.int64) * span + (min_id.astype(np.int64) - lo))
            return pd.DataFrame({"cell": (key // span).astype(cell.dtype),
                                 "min_id": (key % span + lo).astype(min_id.dtype)})
    return pd.DataFrame({"cell": cell, "min_id": min_id}).drop_duplicates()


class RuleTally:
    """What the summary and stopping-rule tables aggregate, gathered from the run × rule outcomes
    one part of a sweep at a time, so that neither table needs every run's rows at once.

    Counts, sums and minima are kept per part and setting × rule (a few rows a part); the medians
    and quantiles need their values (:class:`CellValues`): the steps as counts of each value per
    cell, the error at the stop (f − f* and the distance to the minimum) of each run × rule whose
    rule fired (16 bytes, against several hundred for its rows in the tables). The tables are the
    same whether the outcomes come in one piece (:func:`summary_table`, :func:`rule_comparison`) or
    in parts, in any order: the steps are counted exactly, the sums are of integers, and the medians
    are pandas' over the same values.
    """

    COUNTED = ("step", "spent", "wasted")     # whole numbers, kept as counts; the others as they are

    def __init__(self, rows: int | None = None):
        """``rows``: how many run × rule rows will be added, where the caller knows (a sweep's
        manifest does): adding more is an error, as the caller's count of them was wrong."""
        self._cells: pd.DataFrame | None = None   # the setting × rule cells met so far, by code
        self._sums: list[pd.DataFrame] = []
        self._minima: list[pd.DataFrame] = []
        self._values = {name: CellValues(name in self.COUNTED) for name in (*self.COUNTED, "gap", "dist")}
        self._rows, self._filled = rows, 0
        self.keys: list[str] | None = None       # the setting's columns and the rule's: the first outcomes' own

    def add(self, outcomes: pd.DataFrame, reached: pd.Series | None = None) -> None:
        """Add :func:`rule_outcomes` of some runs (every rule of each); ``reached``: their
        :func:`target_steps`, for the wasted steps (None: not known)."""
        o = outcomes
        if self._rows is not None and self._filled + len(o) > self._rows:
            raise ValueError(f"more run × rule rows than the {self._rows:,} the tally was made for")
        if self.keys is None:
            self.keys = list(o.attrs.get("setting", SETTING)) + RULE
        cell, self._cells = group_codes(o, self.keys, self._cells)
        fired = o["fired"].to_numpy(bool)
        success = o["success"].astype(np.float64).to_numpy()
        if reached is None:
            wasted = np.full(len(o), np.nan)
        else:
            target = o["run_id"].map(reached).to_numpy(np.float64)
            wasted = np.where(fired, np.clip(o["step"].to_numpy() - target, 0, None), np.nan)
        status = o["status"]
        f_fired = np.where(fired, o["f_at_stop"].to_numpy(np.float64), np.nan)
        self._sums.append(self._cell_sums(cell, {
            "success": success, "judged": ~np.isnan(success),
            "premature": o["premature"].astype(np.float64).to_numpy(), "never": ~fired,
            "diverged": (status == "diverged").to_numpy(),
            "nonfinite": status.isin(["nonfinite", "invalid_start"]).to_numpy(),
            "spent": o["spent"].to_numpy(np.int64), "fired": fired, "wasted": wasted,
            "spent_evals": (o["spent_evals"] if "spent_evals" in o else o["spent"] * 0 - 1).to_numpy(np.int64)},
            f_fired))
        won = success == 1
        self._minima.append(_distinct_pairs(cell[won], o["min_id_at_stop"].to_numpy()[won]))
        step = o["step"].to_numpy(np.int64)
        for name, column in (("step", np.where(fired, step, -1)), ("spent", o["spent"].to_numpy(np.int64)),
                             ("wasted", np.where(np.isnan(wasted), -1, wasted).astype(np.int64)),
                             ("gap", np.where(fired, o["f_gap_at_stop"].to_numpy(np.float64), np.nan)),
                             ("dist", np.where(fired, o["dist_to_min_at_stop"].to_numpy(np.float64), np.nan))):
            self._values[name].add(cell, column)
        self._filled += len(o)

    @staticmethod
    def _cell_sums(cell: np.ndarray, columns: dict[str, np.ndarray], best_f: np.ndarray) -> pd.DataFrame:
        """Per cell met: its rows (``runs``), each column's sum (NaN skipped; counts and steps as
        integers) and the least ``best_f`` — a ``groupby("cell").agg(sum…, min)``, by ``bincount``:
        every value summed is a whole number, so the sums are exact in any order, and a part's frame
        of a dozen columns of every run × rule (and its group-by) is not built."""
        if len(cell) and cell.min() == cell.max():
            return RuleTally._one_cell_sums(cell, columns, best_f)
        n = int(cell.max()) + 1 if len(cell) else 0
        rows = np.bincount(cell, minlength=n)
        present = np.flatnonzero(rows)
        out = {"runs": rows[present].astype(np.int64)}
        for name, v in columns.items():
            if v.dtype.kind == "f":
                out[name] = np.bincount(cell, np.where(np.isnan(v), 0.0, v), n)[present]
            else:
                out[name] = np.bincount(cell, v.astype(np.float64), n)[present].astype(np.int64)
        out["best_f"] = pd.Series(best_f).groupby(cell).min().to_numpy()     # the cells met, in order
        return pd.DataFrame(out, index=pd.Index(present.astype(cell.dtype), name="cell"))

    @staticmethod
    def _one_cell_sums(cell: np.ndarray, columns: dict[str, np.ndarray], best_f: np.ndarray) -> pd.DataFrame:
        """:meth:`_cell_sums` where every row is of one cell, as a sweep's part of one setting and one
        rule has them: a sum a column (the bincounts took 8 ms a part of 2¹⁷ runs)."""
        out = {"runs": np.array([len(cell)], np.int64)}
        for name, v in columns.items():
            if v.dtype.kind == "f":
                out[name] = np.array([np.where(np.isnan(v), 0.0, v).sum()])
            else:
                out[name] = np.array([v.sum(dtype=np.int64)])
        # the group-by's min, whose choice between 0.0 and −0.0 NumPy's does not repeat
        out["best_f"] = pd.Series(best_f).groupby(cell).min().to_numpy()
        return pd.DataFrame(out, index=pd.Index(cell[:1], name="cell"))

    def _gathered(self):
        # the parts' sums become one frame, once
        self._sums = [pd.concat(self._sums).groupby(level=0).agg(
            {**{c: "sum" for c in self._sums[0].columns if c != "best_f"}, "best_f": "min"})]
        return self._cells, self._sums[0]

    def _quantiles(self, groups: np.ndarray, columns: dict[str, tuple[str, Callable]]) -> pd.DataFrame:
        """Per group 0, 1, …: each column's statistic (:func:`_median`, :func:`_quantile`) over the
        values of the group's cells; ``groups``: each cell's group."""
        n = int(groups.max()) + 1 if len(groups) else 0
        members = np.split(np.argsort(groups, kind="stable"), np.cumsum(np.bincount(groups, minlength=n))[:-1]) \
            if n else []
        out = {name: np.empty(n) for name in columns}
        for g, cells in enumerate(members):
            for name, (values, stat) in columns.items():
                out[name][g] = stat(self._values[values].of(cells))
        return pd.DataFrame(out)

    def summary(self) -> pd.DataFrame:
        """:func:`summary_table` of everything added."""
        cells, sums = self._gathered()
        q = self._quantiles(np.arange(len(cells)), {"median": ("step", _median), "p90": ("step", _quantile(0.9))})
        minima = pd.concat(self._minima).drop_duplicates().groupby("cell").size()
        table = pd.DataFrame({
            "runs": sums["runs"], "success_rate": sums["success"] / sums["judged"].where(sums["judged"] > 0),
            "median_stop_step": q["median"], "p90_stop_step": q["p90"],
            "premature": sums["premature"], "never_fired": sums["never"], "diverged": sums["diverged"],
            "nonfinite": sums["nonfinite"], "steps_spent": sums["spent"], "evals_spent": sums["spent_evals"],
            "successes": sums["success"],
            "distinct_minima": minima.reindex(sums.index, fill_value=0), "best_f": sums["best_f"]})
        table["_judged"] = sums["judged"]
        table = self._in_order(table, cells, self.keys)
        known = table.pop("_judged") > 0
        table["aRT"] = np.where(table["successes"] > 0, table["steps_spent"] / table["successes"].clip(lower=1),
                                np.inf)
        # aRT in evaluations of f and ∇f (COCO counts evaluations): where the runs count them
        counted = table["evals_spent"] >= 0
        table["aRT_evals"] = np.where(table["successes"] > 0, table["evals_spent"] / table["successes"].clip(lower=1),
                                      np.inf)
        table.loc[~known | ~counted, "aRT_evals"] = np.nan
        table.loc[~known, ["aRT", "premature", "distinct_minima", "successes"]] = np.nan
        for col in ("premature", "never_fired", "diverged", "nonfinite", "successes"):
            table[col] = table[col].astype("Int64" if table[col].isna().any() else np.int64)
        return table.drop(columns=["steps_spent", "evals_spent"]).reset_index()

    def comparison(self, curves: bool = True) -> pd.DataFrame:
        """:func:`rule_comparison` of everything added; ``curves``: whether the sweep kept curves
        (without them the wasted steps are unknown, not 0)."""
        cells, sums = self._gathered()
        keys = ["problem"] + RULE
        group = cells.groupby(keys, sort=True).ngroup()          # each cell's problem × rule, in order
        sums = sums.drop(columns="best_f").groupby(group.reindex(sums.index).to_numpy()).sum()
        median = _median
        q = self._quantiles(group.to_numpy(), {
            "spent": ("spent", median), "gap": ("gap", median), "dist": ("dist", median),
            "wasted": ("wasted", median)})
        table = pd.DataFrame({
            "runs": sums["runs"], "fired_rate": sums["fired"] / sums["runs"],
            "median_steps": q["spent"], "median_f_gap_at_stop": q["gap"], "median_dist_at_stop": q["dist"],
            "median_wasted_steps": q["wasted"],
            "total_wasted_steps": sums["wasted"], "premature": sums["premature"].astype(np.int64),
            "success_rate": sums["success"] / sums["judged"].where(sums["judged"] > 0)})
        firsts = cells.groupby(keys, sort=True).head(1)
        table.index = pd.MultiIndex.from_frame(firsts.iloc[np.argsort(group[firsts.index].to_numpy())][keys])
        if not curves:
            table["total_wasted_steps"] = np.nan
        return table.reset_index()

    @staticmethod
    def _in_order(table: pd.DataFrame, cells: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        """The cells' rows in the order of a sorted group-by over ``keys``, indexed by the keys."""
        rank = cells.groupby(keys, dropna=False, sort=True).ngroup().to_numpy()
        order = np.argsort(rank[table.index.to_numpy()])
        out = table.iloc[order]
        out.index = pd.MultiIndex.from_frame(cells.iloc[out.index.to_numpy()][keys])
        return out


def summary_table(runs: pd.DataFrame, stops: pd.DataFrame, success_tol: float,
                  grad_cost: pd.Series | None = None) -> pd.DataFrame:
    """Per problem × method × alpha × momentum × stop rule: how the rule did over the starts.
    ``grad_cost``: per problem, what a gradient counts in ``aRT_evals`` (:func:`problem_grad_costs`)."""
    tally = RuleTally()
    tally.add(rule_outcomes(runs, stops, success_tol, grad_cost=grad_cost))
    return tally.summary()


def problem_grad_costs(runs: pd.DataFrame, grad_cost) -> pd.Series:
    """Per problem of ``runs``, what a gradient counts in evaluations (:func:`grad_cost_of` of
    ``report.grad_cost`` and the problem's dimension, from its runs' ``dim``)."""
    dims = runs.groupby("problem", sort=False)["dim"].first() if len(runs) else pd.Series(dtype=float)
    return pd.Series(grad_cost_of(grad_cost, dims.to_numpy()), index=dims.index, dtype=float)


def target_steps(runs: pd.DataFrame, curves: pd.DataFrame, f_target: float, f_star: pd.Series | None = None,
                 ordered: bool = False) -> pd.Series:
    """First checkpoint step where f − f* ≤ f_target, per run_id (absent if never reached).
    ``f_star``: :func:`f_star_of_runs` of ``runs``, for a caller that goes through the curves part by part;
    ``ordered``: the caller knows the curves come by (run_id, step), as
    :meth:`~gdlab.storage.SweepFolder.read_parts` gives a part's (it checks, and sorts where not)."""
    f_star = f_star_of_runs(runs) if f_star is None else f_star
    run, step = curves["run_id"].to_numpy(), curves["step"].to_numpy()
    ids = f_star.index.to_numpy()
    if not (len(ids) and np.all(ids[1:] > ids[:-1]) and (ordered or in_order(curves, ["run_id", "step"]))):
        # any order
        gap = curves["f"].to_numpy() - f_star.reindex(run).to_numpy()
        hit = curves.loc[gap <= f_target, ["run_id", "step"]]
        return hit.groupby("run_id")["step"].min()
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]]) if len(run) else np.zeros(0, np.int64)
    first = run[starts]
    # a sweep's part: runs by run_id, each run's curve rows together and by step — f* of each row
    # repeated from its run's, and each run's first row at the target is its least step there
    if np.array_equal(first, ids):       # every run has curve rows, as in a sweep's part
        star = f_star.to_numpy()
    else:
        pos = np.minimum(np.searchsorted(ids, first), len(ids) - 1)
        star = np.where(ids[pos] == first, f_star.to_numpy()[pos], np.nan)
    f = curves["f"].to_numpy()
    if len(star) and (star == star[0]).all():   # one f* for every run (subtracted as a number, not repeated)
        gap = f - star[0]
    else:
        gap = f - np.repeat(star, np.diff(np.r_[starts, len(run)]))
    at = np.flatnonzero(gap <= f_target)
    at = _first_of_each_run(run, at)
    return pd.Series(step[at], index=pd.Index(run[at], name="run_id"), name="step")


def rule_comparison(runs: pd.DataFrame, stops: pd.DataFrame, curves: pd.DataFrame,
                    success_tol: float, f_target: float) -> pd.DataFrame:
    """Per problem × stop rule: steps used against the error at the stop, wasted steps, premature stops."""
    tally = RuleTally()
    tally.add(rule_outcomes(runs, stops, success_tol), target_steps(runs, curves, f_target))
    return tally.comparison(curves=len(curves) > 0)


def run_keys(run_ids, seed: int = 0) -> np.ndarray:
    """A pseudo-random uint64 per run id (splitmix64 of the id and the seed)."""
    z = np.asarray(run_ids).astype(np.uint64)      # a copy, then worked in place (10⁷ ids: 80 MB a temporary)
    z += np.uint64((seed + 1) * 0x9E3779B97F4A7C15 % 2 ** 64)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        z ^= z >> np.uint64(shift)
        z *= np.uint64(factor)
    z ^= z >> np.uint64(31)
    return z


def sample_groups(frame: pd.DataFrame, by: list[str], max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``max_rows`` runs of each group, drawn at random (all of a smaller group), in the frame's order.

    A run's draw depends on its ``run_id`` alone (:func:`run_keys`: a group keeps its runs with the
    smallest keys), so a group's sample is the same runs whichever frame holds the group: the
    report finds the runs its figures will sample before it reads their curves."""
    group = frame.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    if not len(group) or np.bincount(group).max() <= max_rows:
        return frame
    # only the drawn rows are taken (a take of every row and column of 10⁷ runs took seconds)
    return frame.iloc[drawn_rows(frame["run_id"].to_numpy(), group, max_rows, seed)]


def drawn_rows(run_ids: np.ndarray, group: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """The rows :func:`sample_groups` draws, in order: of each group (``group``: each row's code,
    0, 1, …) every row where it has at most ``max_rows``, else the ``max_rows`` whose
    :func:`run_keys` of ``run_ids`` are smallest (the keys are distinct: one to one)."""
    size = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    big = size > max_rows
    if not big.any():
        return np.arange(len(group))
    keys = run_keys(run_ids, seed)
    # a big group's max_rows-th smallest key lies near max_rows / size of the keys' range (they scatter
    # evenly): only the rows below 4× that are sorted (a partition of each big group took longer)
    share = np.minimum(1.0, 4.0 * max_rows / np.maximum(size, 1))
    cut = np.full(len(size), np.iinfo(np.uint64).max, np.uint64)
    cut[share < 1] = (share[share < 1] * 2.0 ** 64).astype(np.uint64)
    if len(size) == 1:      # one group (a sweep of one setting): no row's group looked up (10⁷ rows: 0.1 s, not 0.2–0.3)
        below = keys[keys <= cut[0]]
        below = below if len(below) >= max_rows else keys
        return np.flatnonzero(keys <= np.partition(below, max_rows - 1)[max_rows - 1])
    rows = np.flatnonzero(big[group] & (keys <= cut[group]))
    order = np.lexsort((keys[rows], group[rows]))      # the candidates by group, then key
    by, key = group[rows][order], keys[rows][order]
    limit = np.full(len(size), np.iinfo(np.uint64).max, np.uint64)      # per group: the largest key drawn
    groups = np.flatnonzero(big)
    found = np.bincount(by, minlength=len(size))[groups] >= max_rows
    limit[groups[found]] = key[np.searchsorted(by, groups[found]) + max_rows - 1]
    for g in groups[~found]:      # fewer candidates than it draws (a small group, by chance): all its keys
        limit[g] = np.partition(keys[group == g], max_rows - 1)[max_rows - 1]
    return np.flatnonzero(keys <= limit[group])


def rows_of(frame: pd.DataFrame, run_ids, ordered: bool = False) -> pd.DataFrame:
    """``frame[frame["run_id"].isin(run_ids)]``; by binary search where the frame's run ids are in
    order, as a part's are: a hash of every row of a part's curves (10⁶ and more) took longer than
    finding the few runs asked for. ``ordered``: the caller knows they are (a part as
    :meth:`~gdlab.storage.SweepFolder.read_parts` gives it), and the check of 2·10⁶ rows is left out."""
    run = frame["run_id"].to_numpy()
    ids = np.unique(np.asarray(run_ids, dtype=run.dtype))
    if not len(ids):          # (a part's max_iter runs, mostly none: the check of its curves' order cost 2 ms)
        return frame.iloc[np.zeros(0, np.intp)]
    if not ordered and not np.all(run[1:] >= run[:-1]):
        return frame[frame["run_id"].isin(run_ids)]
    lo, hi = np.searchsorted(run, ids, "left"), np.searchsorted(run, ids, "right")
    n = hi - lo
    rows = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())      # lo … hi − 1 of each id, in order
    return frame.iloc[rows]


def stalled_runs(runs: pd.DataFrame, curves: pd.DataFrame, grad_floor: float = 1e-3) -> pd.DataFrame:
    """Runs that hit max_iter with f no longer changing while ‖∇f‖ stays large: they are cycling —
    bouncing across a kink (|x| at 0) or caught in a 2-cycle of a too-large step — not converging.

    Judged on the last two checkpoint rows of each max_iter run.
    """
    ids = runs.loc[runs["status"] == "max_iter", "run_id"]
    rows = rows_of(curves, ids)
    if in_order(rows, ["run_id", "step"]):
        # a sweep's part: each run's rows together and by step, so its last two rows are where the run
        # changes and the row before (a group-by tail of every max_iter run's rows took seconds)
        run = rows["run_id"].to_numpy()
        end = np.flatnonzero(np.r_[run[1:] != run[:-1], True]) if len(run) else np.zeros(0, np.int64)
        two = (end > 0) & (run[np.maximum(end - 1, 0)] == run[end])
        before = np.where(two, end - 1, end)
        f, g = rows["f"].to_numpy(), rows["grad_norm"].to_numpy()
        last = pd.DataFrame({"f_prev": f[before], "f_last": f[end], "grad_last": g[end],
                             "rows": np.where(two, 2, 1)}, index=pd.Index(run[end], name="run_id"))
    else:
        tail = rows.groupby("run_id").tail(2)
        last = tail.groupby("run_id").agg(f_prev=("f", "first"), f_last=("f", "last"),
                                          grad_last=("grad_norm", "last"), rows=("f", "size"))
    flat = (last["rows"] == 2) & ((last["f_last"] - last["f_prev"]).abs()
                                  <= 1e-9 * np.maximum(1.0, last["f_last"].abs()))
    return last[flat & (last["grad_last"] > grad_floor)].reset_index()


TARGETS = 10.0 ** np.arange(1, -9, -1)   # COCO-style: 10^1 … 10^-8
COCO_TARGETS = 10.0 ** np.linspace(2, -8, 51)   # COCO's own: 51 log-uniform from 10^2 down to 10^-8


def target_values(targets="decades") -> np.ndarray:
    """The targets on f − f* of ``report.targets``: ``decades`` (10^1 … 10^-8, :data:`TARGETS`),
    ``coco`` (COCO's 51 from 10^2 to 10^-8, :data:`COCO_TARGETS`) or a list of numbers > 0 (largest first)."""
    if isinstance(targets, str):
        return {"decades": TARGETS, "coco": COCO_TARGETS}[targets]
    return np.sort(np.asarray(targets, np.float64))[::-1]


def ecdf_targets(runs: pd.DataFrame, curves: pd.DataFrame, by: list[str], targets=TARGETS,
                 max_runs: int = MAX_RUNS, seed: int = 0, f_star: pd.Series | None = None) -> pd.DataFrame:
    """For each group and (run, target) pair, the first checkpoint step with f − f* ≤ target (inf if never).

    Long form: group columns, run_id, target, step. Groups are sampled to ``max_runs`` runs, every run
    counted: one that ended nan or inf reaches the targets its curve reached before (leaving it out
    overstated the share solved of a setting whose runs blow up). ``f_star``: each run's f*, by
    run_id (:func:`problem_f_star`, known for such a run); by default :func:`f_star_of_runs`, unknown
    for it, so that it reaches no target.
    """
    f_star = f_star_of_runs(runs) if f_star is None else f_star
    keep = sample_groups(runs, by, max_runs, seed)
    ids = keep["run_id"].to_numpy()
    c = rows_of(curves, ids)
    if not in_order(c, ["run_id", "step"]):
        c = c.sort_values(["run_id", "step"], kind="stable")
    run, step = c["run_id"].to_numpy(), c["step"].to_numpy()
    gap = c["f"].to_numpy() - f_star.reindex(run).to_numpy()
    rows = []
    for t in targets:
        # each run's rows by step: its first row at the target is its least step there (a group-by's
        # min of each target took 5 ms of an ECDF's 20,000 runs)
        at = np.flatnonzero(gap <= t)
        at = _first_of_each_run(run, at)
        hit = pd.Series(step[at], index=run[at])
        rows.append(hit.reindex(ids).fillna(np.inf).to_numpy())
    # a target's rows are the kept runs in order, each with its group's columns (a merge on run_id: 10 ms)
    every = np.tile(np.arange(len(ids)), len(rows))
    return pd.DataFrame({"run_id": ids[every], "target": np.repeat(np.asarray(targets, np.float64), len(ids)),
                         "step": np.concatenate(rows) if rows else np.zeros(0),
                         **{b: keep[b].array.take(every) for b in by}})


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
    # groups by their numbers (a group-by's ``groups`` loses keys that hold NaN: a method without
    # some hyperparameter of another)
    group = meta.groupby(by, dropna=False, sort=True).ngroup().to_numpy()
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        members = meta.index[rows]
        key = tuple(meta.iloc[rows[0]])
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


def best_settings(runs: pd.DataFrame, label: pd.Series, success_tol: float, cost: float = 1.0,
                  per: str | None = None) -> pd.DataFrame:
    """Each method's best setting among ``runs`` (one problem's, or with ``per``, e.g. ``"problem"``,
    each value of that column's; ``label`` names each run's setting): the most runs that converged
    within ``success_tol`` of a known minimum (where only f* is known, with f − f* ≤ ``success_tol``),
    then the fewest evaluations (median n_f + cost·n_grad over those runs); where none of a method's
    settings succeeded, the least median f − f* at the end (not the one that failed soonest).
    Columns: (``per``,) method, label, share, evaluations, gap."""
    ok = ((runs["status"] == "converged")
          & ((runs["dist_to_min"] <= success_tol)
             | (runs["dist_to_min"].isna() & (runs["f_gap"] <= success_tol)))).to_numpy()
    evals = (runs["n_f"] + cost * runs["n_grad"]).to_numpy(np.float64)
    gap = runs["f_gap"].to_numpy(np.float64)
    keys = ([per] if per else []) + ["method", "label"]
    frame = pd.DataFrame({**({per: runs[per].to_numpy()} if per else {}), "method": runs["method"].to_numpy(),
                          "label": label.to_numpy(), "ok": ok,
                          "won": np.where(ok, evals, np.nan),                   # the evaluations of the successes
                          "gap": np.where(np.isfinite(gap), gap, np.inf)})      # nan and inf ends: no nearer than ∞
    # one group-by for every setting (a loop over them took 1.2 ms a setting: 5.8 s of bbob's 4,560)
    g = frame.groupby(keys, sort=False, dropna=False)
    table = pd.DataFrame({"share": g["ok"].mean(), "evaluations": g["won"].median(), "gap": g["gap"].median()})
    table = table.fillna({"evaluations": np.inf, "gap": np.inf}).reset_index()
    table = table.sort_values(keys[:-1] + ["share", "evaluations", "gap"],
                              ascending=[True] * (len(keys) - 1) + [False, True, True], kind="stable")
    return table.groupby(keys[:-1], sort=False).head(1).reset_index(drop=True)
