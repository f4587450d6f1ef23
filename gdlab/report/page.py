"""The report of a sweep folder: tables (CSV + markdown), figures (PNG + SVG) and one HTML page.

``build(folder)`` reads the stored tables (every shard's parts), so
``gdlab-report <folder>`` rebuilds exactly what ``gdlab`` built at the end of
the sweep. Figures pick what suits each problem: the lesson's curve for 1-D,
level lines and paths for 2-D, bands, heatmaps, basins, ECDFs and the
stopping-rule comparison where the data has them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
import sys
import time
import warnings as pywarnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from ..core.expressions import changed_functions, fingerprinted, functions_record
from ..core.names import count
from ..core.points import listed_minima_doubts
from ..core.problems import Problem
from ..runner.progress import Progress
from ..runner.schema import validate
from ..storage.folder import READ_BATCH, SweepFolder, part_batches, prefetched
from ..storage.load import load
from ..tables.stats import (
    MAX_RUNS,
    RuleTally,
    below_listed_f_star,
    best_settings,
    column_codes,
    convergence_bands,
    drawn_rows,
    ecdf_targets,
    evaluations_per_step,
    evaluations_to_reach,
    first_rows,
    grad_cost_of,
    group_codes,
    problem_f_star,
    problems_with_minima,
    row_groups,
    rows_of,
    rule_outcomes,
    setting_columns,
    stalled_runs,
    target_steps,
    target_values,
)
from . import figures as F
from .render import FigureWriter
from .suites import below_listed_lines, labels_by_setting, suite_section

__all__ = ["build", "MAX_LINES", "markdown_table"]

MAX_LINES = 8      # settings drawn in one panel
MAX_PANELS = 4     # panels in one figure
MAX_POINTS = 250_000   # starts of a setting the basins figure draws (a panel is about 500 × 450 pixels)


#: columns a reader compares between rows: more digits than the others' four
PRECISE = {"best_f": "{:.7g}", "median_f_gap_at_stop": "{:.6g}", "median_dist_at_stop": "{:.6g}"}


def markdown_table(frame: pd.DataFrame, floatfmt: str = "{:.4g}", formats: dict | None = None) -> str:
    """``frame`` as a Markdown table: floats to ``floatfmt`` (``formats``: by column, default
    :data:`PRECISE`), and "–" for every value that is not defined (NaN, pandas' NA, None)."""
    formats = PRECISE if formats is None else formats
    fmts = [formats.get(c, floatfmt) for c in frame.columns]

    def cell(v, fmt):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if isinstance(v, (float, np.floating)):
            return fmt.format(v)
        return str(v)
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v, f) for v, f in zip(row, fmts)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _pick(items: list, n: int) -> list:
    if len(items) <= n:
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def _ecdf_order(hits: pd.DataFrame, keys: list[str], against: str = "step") -> list[str]:
    """The settings (labels) of ECDF hits, best first: by the mean over (run, target) pairs of
    1 / (1 + log10(runtime + 1)), an area under the ECDF on its log axis (0 for a pair never solved).
    The hits are grouped by their setting's ``keys``, one label each (a group-by of the labels
    themselves hashed 200,000 strings: 40 ms)."""
    score = 1.0 / (1.0 + np.log10(hits[against].to_numpy(float) + 1.0))         # inf → 0
    setting = row_groups(hits, keys)
    by = pd.Series(score).groupby(setting, sort=False).mean()
    by.index = hits["label"].iloc[first_rows(setting)[by.index.to_numpy()]].to_numpy()     # (every label as text: 24 ms)
    return list(by.sort_values(ascending=False, kind="stable").index)


def _label(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Each row's setting label (``keys``: method and its hyperparameters, schedule and its
    parameters), written once per distinct setting (:func:`~gdlab.report.suites.labels_by_setting`)."""
    return labels_by_setting(frame[list(keys)], lambda row, exact: F.setting_label(**row, exact=exact))


def _label_among(frame: pd.DataFrame, every: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Each row's setting label as :func:`_label` writes it among the settings of ``every`` (a frame with
    ``keys``; ``frame``'s settings among them): the label a setting has in the whole, where a subset
    labelled alone would drop the exact digits that tell two settings alike to six digits apart (and
    a figure's labels would miss the tables')."""
    both = pd.concat([every[keys], frame[keys]], ignore_index=True)
    return pd.Series(_label(both, keys).to_numpy()[len(every):], index=frame.index)


class _Figures:
    """Saves each figure as PNG and SVG (in worker processes: :class:`FigureWriter`) and keeps the PNG
    for the page."""

    def __init__(self, folder: Path, writer: FigureWriter):
        self.folder, self.writer = folder, writer
        self.saving: list[tuple[str, str, str, object, int]] = []  # (problem, stem, caption, png future, rank)

    def save(self, fig, problem: str, name: str, caption: str):
        stem, kind = _stem(problem, name), name.split("-")[0]
        rank = PAGE_ORDER.index(kind) if kind in PAGE_ORDER else len(PAGE_ORDER)
        self.saving.append((problem, stem, caption, self.writer.submit(fig, self.folder, stem), rank))

    @functools.cached_property
    def items(self) -> list[tuple[str, str, str, str]]:
        """(problem, name, caption, base64 png) of each figure, once all are saved (no more are drawn), a
        problem's in :data:`PAGE_ORDER` (they are drawn in another)."""
        problems = list(dict.fromkeys(p for p, *_ in self.saving))
        ranked = sorted(self.saving, key=lambda item: (problems.index(item[0]), item[4]))
        return [(p, s, c, base64.b64encode(f.result()).decode()) for p, s, c, f, _ in ranked]


#: a problem's figures on the page, by name (``heatmap-<method>`` as ``heatmap``)
PAGE_ORDER = ("curve", "paths", "bands", "heatmap", "basins", "methods", "ecdf", "rules")


def _stem(problem: str, name: str) -> str:
    """A figure's file name: ``{problem}-{name}``, or where the problem's name holds characters a file
    name should not (an expression's / or *), those replaced and a short hash of the name added, so that
    ``a*b`` and ``a/b`` do not share a file."""
    safe = re.sub(r"[^\w.-]+", "_", problem)
    if safe != problem:
        safe += "_" + hashlib.sha256(problem.encode()).hexdigest()[:6]
    return f"{safe}-{name}"


def _methods_figure(figs: _Figures, name: str, runs: pd.DataFrame, label: pd.Series, curves: pd.DataFrame,
                    keys: list[str], success_tol: float, cost: float = 1.0) -> None:
    """The methods side by side, each at its best setting (:func:`best_settings`): f − f* against
    evaluations of f and ∇f, median and 10–90% band across starts."""
    if not {"n_f", "n_grad"} <= set(runs.columns):
        return
    best = best_settings(runs, label, success_tol, cost)
    sub = runs[label.isin(best["label"])]
    bands = convergence_bands(sub, curves[curves["run_id"].isin(sub["run_id"])], keys, max_runs=MAX_RUNS)
    bands["label"] = _label_among(bands, runs, keys)
    # a checkpoint step's evaluations: the start's two and the setting's median evaluations a step after
    per_step = evaluations_per_step(sub, label[sub.index], cost)
    bands["evaluations"] = (1 + cost) + bands["step"] * bands["label"].map(per_step)
    share = dict(zip(best["label"], best["share"]))
    bands["label"] = bands["label"].map(lambda lab: f"{lab} ({share[lab]:.0%} ok)")
    fig, ax = plt.subplots(figsize=(9.4, 4.6))     # the legend beside the axes: a method's band covers them
    F.plot_bands(bands, f"{name}: each method at its best setting", ax, against="evaluations", legend="beside")
    figs.save(fig, name, "methods", f"{name}: each method at its best setting (the most runs converged within "
                                    f"{success_tol:g} of a known minimum, then the fewest evaluations): f − f* "
                                    f"against evaluations of f and ∇f (n_f + {cost:g}·n_grad, report.grad_cost: "
                                    "the start's, then the setting's median evaluations a step), median and "
                                    "10–90% band across starts.")


def _order(value):
    """Sorts numbers by value and text after them."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def _problem_figures(figs: _Figures, problem: Problem, sweep: _Sweep, traces: pd.DataFrame, summary: pd.DataFrame,
                     success_tol: float, max_iter: int, starts_kind: str, heatmap=("alpha", "epsilon"),
                     runtime: str = "steps", grad_cost=1, targets="decades"):
    """The problem's figures, from the runs the sweep's pass drew (:func:`_gather`) and its tables."""
    name = problem.name
    has_curves = sweep.has_curves
    keys = sweep.keys[1:]        # the setting's columns but problem
    settings = sweep.settings.loc[sweep.settings["problem"] == name, [*keys, "runs"]]
    settings = settings.reset_index(drop=True)
    settings["label"] = _label(settings, keys)
    runs = sweep.drawn[sweep.drawn["problem"] == name]
    label = _label(runs, keys)        # each drawn run's setting label, aligned with runs
    curves = sweep.curves
    chosen = _pick(list(settings.itertuples(index=False)), MAX_PANELS)
    traced = runs["run_id"].isin(traces["run_id"].unique())      # a few runs (no index over all of them)
    traces = traces.assign(label=traces["run_id"].map(dict(zip(runs.loc[traced, "run_id"], label[traced]))))

    if problem.dim == 1 and len(traces):
        fig, axes = F.figure_panels(len(chosen))
        for ax, s in zip(axes, chosen):
            t = traces[traces["label"] == s.label]
            first = t[t["run_id"] == t["run_id"].min()] if len(t) else t
            status = runs.loc[runs["run_id"] == t["run_id"].min(), "status"] if len(t) else ()
            F.plot_curve_1d(problem, first, f"{name}: the path of {s.label}", ax,
                            status=f"ended {status.iloc[0]}" if len(status) else None)
        figs.save(fig, name, "curve", f"{name}: the function with the points each step visited, one panel per "
                                     "step size (as in the lessons).")
    if problem.dim == 2 and len(traces):
        fig, axes = F.figure_panels(len(chosen), width=4.6, height=4.2)
        for ax, s in zip(axes, chosen):
            F.plot_paths_2d(problem, traces[traces["label"] == s.label], f"{name}: paths of {s.label}", ax)
        figs.save(fig, name, "paths", f"{name}: level lines, the direction −∇f (arrows), and the paths from "
                                     "several starts (o start, × end, ★ known minima), one panel per setting.")

    methods = list(settings["method"].unique())
    if has_curves:
        fig, axes = F.figure_panels(len(methods), width=5.2, height=4.0)
        for ax, method in zip(axes, methods):
            keep = _pick(list(settings.loc[settings["method"] == method, "label"]), MAX_LINES)
            sub = runs[label.isin(keep)]        # a setting's label names its method
            bands = convergence_bands(sub, curves[curves["run_id"].isin(sub["run_id"])], keys, max_runs=MAX_RUNS)
            bands["label"] = _label_among(bands, runs, keys)
            # a setting's starts; the band draws MAX_RUNS of more
            starts = settings.loc[settings["label"].isin(keep), "runs"].sum() // max(len(keep), 1)
            shown = f"{MAX_RUNS:,} of {starts:,}" if starts > MAX_RUNS else f"{starts:,}"
            F.plot_bands(bands, f"{name}, {method}: median and 10–90% band\nacross {shown} starts", ax)
        figs.save(fig, name, "bands", f"{name}: convergence against step (f − f* where the minima are known, "
                                     "else ‖∇f‖), median with a 10–90% band across starts; a stopped run keeps "
                                     "its last value.")

    known = name in sweep.known
    if known:
        # drawn early, though it is last on the page: its SVG (thousands of markers) is the slowest to
        # save, and the workers save it while the figures after it are drawn
        # the plot draws a few thousand points a criterion: from the runs the bands draw (all, in a sweep
        # of at most MAX_RUNS starts a setting)
        few = runs[runs["run_id"].isin(sweep.bands)]
        outcomes = rule_outcomes(few, sweep.stops_drawn[sweep.stops_drawn["run_id"].isin(few["run_id"])],
                                 success_tol, sweep.has_minima)
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        F.plot_rule_comparison(outcomes, f"{name}: stopping rules — steps spent against error at the stop", ax)
        figs.save(fig, name, "rules", f"{name}: each point a (start, setting, rule) where the rule fired; left "
                                     "is cheaper, lower is more accurate.")
    rows_axis, cols_axis = heatmap
    for method in methods:
        s = summary[(summary["problem"] == name) & (summary["method"] == method)]
        s = s[s[rows_axis].notna() & s[cols_axis].notna()]     # the settings that have both axes
        if not len(s):
            continue                      # the method (or its schedules) has no such hyperparameter
        if s[rows_axis].nunique() < 2 and s[cols_axis].nunique() < 2:
            continue
        # every other setting and rule column at one value: the tightest epsilon and the fewest
        # min_steps, the largest of any other (γ as before); the summary table has each
        fixed = []
        for col in [c for c in [*keys[1:], "epsilon", "min_steps"] if c not in (rows_axis, cols_axis)]:
            values = s[col].dropna().unique()
            if len(values) < 2:
                continue
            pick = min(values) if col in ("epsilon", "min_steps") else max(values, key=_order)
            s = s[s[col] == pick]
            fixed.append(f"{col}={pick:g}" if isinstance(pick, float) else f"{col}={pick}")
        crits = sorted(s["criterion"].unique())
        # a row of panels (one value, a panel per rule) shares its color scale, and a share spans 0 to 1:
        # the same color is the same number across the rules compared; steps on a log scale
        values = ([("success_rate", "success rate", "{:.2f}", "viridis", (0.0, 1.0), False)] if known else []) + \
                 [("median_stop_step", "median stop step", "{:.0f}", "magma_r", F.value_limits(s["median_stop_step"]),
                   True)]
        fig, axes = F.figure_panels(len(crits) * len(values), width=4.0, height=3.4, max_cols=len(crits))
        mom = s["momentum"].dropna() if "momentum" not in (rows_axis, cols_axis) else s["momentum"].iloc[:0]
        extra = f" γ={mom.iloc[0]:g}" if len(mom) else ""
        fig.suptitle(f"{name}, {method}{extra}: {rows_axis} × {cols_axis}", fontsize=11)
        for i, (col, what, fmt, cmap, limits, log) in enumerate(values):
            for j, crit in enumerate(crits):
                F.plot_heatmap(s[s["criterion"] == crit], col, f"{what}, rule {crit} < ε",
                               axes[i * len(crits) + j], fmt=fmt, cmap=cmap, limits=limits, log=log,
                               rows=rows_axis, columns=cols_axis)
        others = f" Drawn at {', '.join(fixed)}; the summary table has every setting." if fixed else ""
        figs.save(fig, name, f"heatmap-{method}", f"{name}, {method}: {rows_axis} × {cols_axis}, a panel per "
                                                  "criterion (success: the rule fired within success_tol of a "
                                                  "known minimum)." + others)

    if problem.dim == 2 and starts_kind in ("grid", "uniform") and known:
        fig, axes = F.figure_panels(len(chosen), width=4.4, height=4.0)
        starts = sweep.basins[sweep.basins["problem"] == name]        # at most MAX_POINTS a setting
        starts = starts.assign(label=_label_among(starts, settings, keys))
        ends = sweep.shares.reset_index(name="n")                       # every start, by where it ends
        ends = ends[ends["problem"] == name]
        ends = ends.assign(label=_label_among(ends, settings, keys))
        for ax, s in zip(axes, chosen):
            n = ends[ends["label"] == s.label].set_index("end")["n"]
            F.plot_basins(problem, starts[starts["label"] == s.label], f"{name}: where {s.label} ends, by start",
                          ax, tol=success_tol, shares=(n / n.sum()).to_dict())
        drawn = (f" A setting of more than {MAX_POINTS:,} starts shows {MAX_POINTS:,} of them, drawn at random; "
                 "the shares in its legend are of all its starts." if settings["runs"].max() > MAX_POINTS else "")
        figs.save(fig, name, "basins", f"{name}: basins of attraction — each start colored by the known minimum "
                                      f"its run ended within {success_tol:g} of (grey: none).{drawn}")

    if known and has_curves and len(methods) > 1:
        _methods_figure(figs, name, runs, label, curves, keys, success_tol, grad_cost_of(grad_cost, problem.dim))
    if known and has_curves:
        hits = ecdf_targets(runs, curves, keys, target_values(targets), max_runs=MAX_RUNS,   # the runs _gather kept
                            f_star=problem_f_star(runs, {name: problem.f_min}))          # the curves of
        hits["label"] = _label_among(hits, runs, keys)
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        against = "step"
        if runtime == "evaluations" and {"n_f", "n_grad"} <= set(runs.columns):
            # a step's evaluations: the run's evaluations a step (exact where every step costs the same), the
            # start's f known after one, as COCO counts them
            mine = runs.set_index("run_id").loc[hits["run_id"].to_numpy()]
            cost = grad_cost_of(grad_cost, problem.dim)
            reached = np.isfinite(hits["step"])
            hits["evaluations"] = np.where(reached, evaluations_to_reach(
                np.where(reached, hits["step"], 0), mine["n_f"] + cost * mine["n_grad"], mine["n_iter"], 1 + cost),
                np.inf)
            against = "evaluations"
        # a panel holds MAX_LINES lines: the settings that solve the most (start, target) pairs soonest
        # (the largest area under their ECDF, on a log axis), the others named in the caption
        order = _ecdf_order(hits, keys, against)
        left_out = order[MAX_LINES:]
        hits = hits[hits["label"].isin(order[:MAX_LINES])]
        if against == "evaluations":
            F.plot_ecdf(hits, f"{name}: ECDF of evaluations to reach f − f* ≤ 10^k (COCO style)", max_iter, ax,
                        against="evaluations")
            unit = (f"evaluations of f and ∇f, a gradient counting {cost:g} (a start already at the target: one, "
                    "as COCO counts it; later, the start's and the run's evaluations a step after, whole; "
                    "report.runtime: evaluations, report.grad_cost)")
        else:
            F.plot_ecdf(hits, f"{name}: ECDF of steps to reach f − f* ≤ 10^k (COCO style)", max_iter, ax)
            unit = "step k (steps at checkpoint resolution)"
        dropped = (f" {len(left_out)} of {len(order)} settings are left out (a panel draws the {MAX_LINES} "
                   f"with the largest area under the curve): {', '.join(left_out)}; every setting's numbers are "
                   "in the summary table." if left_out else "")
        shown = target_values(targets)
        figs.save(fig, name, "ecdf", f"{name}: share of (start, target) pairs solved by {unit}, {len(shown)} "
                                    f"targets {shown[0]:g} … {shown[-1]:g} on f − f*.{dropped}")


#: an extra section of the page: (sweep folder, report folder, warnings, figure writer) → (html, once its
#: figures are saved; markdown lines), or None where it has nothing to add (a lesson's numbers and picture)
Section = Callable[[Path, Path, list, FigureWriter], "tuple[Callable[[], str], list[str]] | None"]


@dataclass
class _Sweep:
    """What the report takes from a sweep's runs, stops and curves, read one part at a time
    (:func:`_gather`): the tables take gigabytes at 10⁷ runs, the curves tens of rows a run."""
    keys: list[str]              # the setting's columns: problem, method, alpha, momentum, … (setting_columns)
    tally: RuleTally             # the summary and stopping-rule tables' aggregates
    runs: int                    # rows of the runs and stops tables
    stops: int
    has_curves: bool
    counts: pd.DataFrame         # runs (size) and first run_id (min) per problem × method × alpha × status
    settings: pd.DataFrame       # the setting's columns and runs: in order of first run
    known: set                   # problems whose f* is known: listed, or some run's f − f* is
    has_minima: pd.Series        # problem → whether any run has a nearest known minimum
    stalled: pd.DataFrame        # max_iter runs that are cycling (stalled_runs), with their setting
    stuck: pd.Series             # float32: rules that never fired on runs parked on a minimum, by criterion × ε
    drawn: pd.DataFrame          # the runs the figures draw (bands, ECDF, traced), the columns they read
    bands: pd.Series             # the ids of the bands' draw (the stopping-rule figure draws from them too)
    curves: pd.DataFrame         # the drawn runs' curve rows
    stops_drawn: pd.DataFrame    # the bands' draw's stop rows
    basins: pd.DataFrame | None  # the basins figure's draw of starts (of the 2-D problems)
    shares: pd.Series | None     # their starts per setting × the known minimum they end near (−1: none)
    below: pd.DataFrame          # problems with runs below their listed f* (below_listed_f_star)


def _slim(keys: list[str]) -> list[str]:
    """The runs' columns the figures' draws keep."""
    return ["run_id", *keys, "status", "n_iter", "n_f", "n_grad", "f_final", "f_gap", "min_id", "dist_to_min"]


#: a gradient rule that never fired on a run whose last ‖∇f‖ is within this factor of its ε stalled just
#: above it: the float32 rounding of ∇f, not the landscape, kept it from firing — for an ε below
#: STALL_EPS (√ of float32's machine epsilon: larger tolerances float32 resolves, and a run above
#: one is still descending)
STALL_FACTOR = 10.0
STALL_EPS = float(np.sqrt(np.finfo(np.float32).eps))


def _stuck_rules(runs: pd.DataFrame, stops: pd.DataFrame, max_iter: np.ndarray, success_tol: float) -> pd.Series:
    """Runs × rules a float32 sweep could not resolve, counted by (criterion, epsilon): a rule that never
    fired on a run that ran to max_iter and ended within ``success_tol`` of a minimum, or (a gradient
    rule of ε below :data:`STALL_EPS`) with ‖∇f‖ within :data:`STALL_FACTOR` of its ε."""
    ran_out = runs.loc[max_iter, ["run_id", "dist_to_min", "grad_norm_final"]]
    unfired = stops[~stops["fired"].to_numpy()].merge(ran_out, on="run_id")
    parked = (unfired["dist_to_min"] <= success_tol).to_numpy()
    stalled = ((unfired["criterion"] == "grad") & (unfired["epsilon"] < STALL_EPS)
               & (unfired["grad_norm_final"] <= STALL_FACTOR * unfired["epsilon"]))
    return unfired[parked | stalled.to_numpy()].groupby(["criterion", "epsilon"]).size()


def _gather(folder: Path, sw, traced: np.ndarray, progress: Progress | None = None,
            records: dict[int, dict] | None = None) -> _Sweep:
    """One pass over the sweep's parts (a part holds whole runs, in every table), keeping per part
    only what the tables and figures aggregate, and the runs the figures draw: the bands and the
    ECDF draw at most :data:`MAX_RUNS` runs a setting, the basins :data:`MAX_POINTS` starts. Which
    runs depends on their ids alone (:func:`drawn_rows`), so the draw is made first, from the runs
    parts' footers or setting columns (:func:`_scan`), and the pass takes each part's drawn rows as
    it comes. ``traced``: the traced runs' ids; ``progress``: counts the runs read; ``records``: the
    folder's part records, where the caller has read them."""
    sf = SweepFolder(folder)
    records = sf.records() if records is None else records
    empty = sf.empty("runs", records)     # the columns, and their types (the part statistics' values take them)
    stored = list(empty.columns)
    keys = setting_columns(stored)
    slim = [c for c in _slim(keys) if c in stored]     # (a sweep folder from before n_f and n_grad has none)
    read = [*slim, "x0", "grad_norm_final"]     # the runs' columns the report reads (not x_final, a costly list)
    flat = [p.name for p in sw.problems if p.dim == 2]
    # the first part is read while the parts' footers are scanned
    tables = [sf.read_parts(table, records, columns=columns, batch_runs=READ_BATCH, writeable=False)
              for table, columns in (("runs", read), ("stops", None), ("curves", None))]
    parts = prefetched(zip(*tables))     # the next part is read while the pass works on one
    try:
        scan = _scan(sf, records, empty, keys, {p.name for p in sw.problems}, flat)
    except BaseException:
        parts.close()       # no reader left behind, holding a part
        raise
    codes, seen, in_bands, in_basins = scan.codes, scan.seen, scan.in_bands, scan.in_basins
    # a problem that lists minima has them, though every run of it ended nan (whose success is then judged: 0)
    listed = pd.Series(True, index=[p.name for p in sw.problems if p.minima], dtype=bool)
    has_minima = pd.concat([scan.has_minima, listed]).groupby(level=0).max() if len(listed) else scan.has_minima
    tally = RuleTally(rows=sum(record["files"]["stops"]["rows"] for record in records.values()))
    grad_cost = pd.Series({p.name: grad_cost_of(sw.report["grad_cost"], p.dim) for p in sw.problems}, dtype=float)
    traced = np.unique(np.asarray(traced, dtype=np.int64))
    counts, stalled, stuck, below, known = [], [], [], [], set()
    n_runs = n_stops = n_curves = 0
    bands, followed, curves, stops_drawn, basins, shares = [], [], [], [], [], []
    def add(runs, stops, part):
        tally.add(rule_outcomes(runs, stops, sw.success_tol, has_minima, grad_cost),
                  target_steps(runs, part, sw.f_target, ordered=True))

    # the rule tally, a third of the pass's own work, is done on a thread of its own, a part behind at most
    # (NumPy and pandas release the GIL for much of it; on two cores, whose other is busy reading the next
    # part, the pass took 7% less)
    with ThreadPoolExecutor(1, thread_name_prefix="gdlab-tally") as alongside, parts:
        tallied = None
        for (runs, stops, part), setting in zip(parts, codes):
            n_runs, n_stops, n_curves = n_runs + len(runs), n_stops + len(stops), n_curves + len(part)
            if progress is not None:
                progress.update(len(runs))
            if tallied is not None:
                tallied.result()     # the part before's: one part at most is held for the tally
            tallied = alongside.submit(add, runs, stops, part)
            run_id = runs["run_id"].to_numpy()
            counts.append(_by_setting(setting, seen, ["problem", "method", "alpha"], {"status": runs["status"]}, run_id))
            known.update(runs.loc[runs["f_gap"].notna(), "problem"].unique())
            below.append(below_listed_f_star(runs))
            max_iter = (runs["status"] == "max_iter").to_numpy()
            # what only runs at max_iter or traced runs give, taken from the first part (the frames'
            # columns) and from a part that has some: 4–8 ms of pandas a part of none, as most are
            first = not bands
            if first or max_iter.any():
                cycling = stalled_runs(runs.loc[max_iter, ["run_id", "status"]], part)
                stalled.append(cycling.merge(runs[["run_id", "problem", "method", "alpha"]], on="run_id"))
                if sw.dtype == "float32":
                    stuck.append(_stuck_rules(runs, stops, max_iter, sw.success_tol))
            drawn = in_bands(run_id)
            bands.append(runs.loc[drawn, slim])
            follow = _among(traced, run_id)
            if first or follow.any():
                followed.append(runs.loc[follow, slim])
            curves.append(rows_of(part, run_id[drawn | follow], ordered=True))
            stops_drawn.append(rows_of(stops, run_id[drawn], ordered=True))
            if flat:
                mine = seen["problem"].isin(flat).to_numpy()[setting]
                basins.append(runs.loc[in_basins(run_id), ["run_id", *keys, "x0", "min_id", "dist_to_min"]])
                near = ((runs["min_id"] >= 0) & (runs["dist_to_min"] <= sw.success_tol)).to_numpy()[mine]
                end = np.where(near, runs["min_id"].to_numpy()[mine], -1)
                shares.append(_by_setting(setting[mine], seen, keys, {"end": end}))
        if tallied is not None:
            tallied.result()
    bands = pd.concat(bands, ignore_index=True)
    drawn = pd.concat([bands, *followed]).drop_duplicates("run_id")
    return _Sweep(
        keys=keys, tally=tally, runs=n_runs, stops=n_stops, has_curves=n_curves > 0,
        counts=pd.concat(counts).groupby(level=[0, 1, 2, 3], dropna=False).agg({"size": "sum", "min": "min"}),
        settings=scan.settings, known=known | {p.name for p in sw.problems if p.f_min},
        has_minima=has_minima,
        stalled=pd.concat(stalled, ignore_index=True).sort_values("run_id", ignore_index=True),
        stuck=pd.concat(stuck).groupby(level=[0, 1]).sum() if stuck else pd.Series(dtype=np.int64),
        drawn=_sorted(drawn, ["run_id"]), bands=bands["run_id"],
        curves=_sorted(pd.concat(curves, ignore_index=True), ["run_id", "step"]),
        stops_drawn=_sorted(pd.concat(stops_drawn, ignore_index=True), ["run_id", "rule_id"]),
        basins=_sorted(pd.concat(basins, ignore_index=True), ["run_id"]) if flat else None,
        shares=pd.concat(shares).groupby(level=list(range(len(keys) + 1)), dropna=False).sum() if flat else None,
        below=pd.concat(below).groupby("problem", sort=True).agg(
            f_star=("f_star", "first"), best_f=("best_f", "min"), runs_below=("runs_below", "sum"),
            by_distance=("by_distance", "max")).reset_index())


@dataclass
class _Scan:
    """What the pass over the parts needs before it starts (:func:`_scan`)."""
    has_minima: pd.Series        # problem → whether any run has a nearest known minimum
    codes: list[np.ndarray]      # each batch's runs' setting codes (the batches read_parts gives), in its rows' order
    seen: pd.DataFrame           # the settings met, a row each, in the order of their codes (group_codes)
    settings: pd.DataFrame       # the setting's columns and runs, in order of first run
    in_bands: Callable           # a part's run ids → which of them the bands and the ECDF draw
    in_basins: Callable          # a part's run ids → which of them the basins figure draws


def _scan(sf: SweepFolder, records: dict[int, dict], template: pd.DataFrame, keys: list[str], names: set[str],
          flat: list[str]) -> _Scan:
    """Each run's setting and whether its problem has known minima (:func:`problems_with_minima`), before
    the pass over the parts: from the runs files' Parquet statistics where a part holds one setting and a
    range of run ids, as a sweep of many starts a setting has them (no rows decoded), else from a read of
    the batch's setting columns. Then the draws: which run ids the bands and ECDF draw (at most :data:`MAX_RUNS` a
    setting) and the basins (:data:`MAX_POINTS` a setting of a 2-D problem in ``flat``), a run's draw
    depending on its id alone (:func:`drawn_rows`). Each file is checked against its sha256 before its
    footer is parsed, as every read is. ``template``: the runs table without rows (its columns' types)."""
    columns = list(dict.fromkeys(["run_id", "min_id", *keys]))
    codes, ids, seen, found, read = [], [], None, {}, []
    for batch in part_batches(records, READ_BATCH):
        whole = [_one_setting(sf.statistics(records[p]["files"]["runs"], columns), keys, names, template)
                 for p in batch]
        if all(w is not None for w in whole):
            whole.sort(key=lambda w: w["lo"])     # the batch's rows by run id: each part a range of its own
            frame = pd.DataFrame({k: pd.array([w[k] for w in whole], dtype=template[k].dtype) for k in keys})
            part_codes, seen = group_codes(frame, keys, seen)
            n, lo = np.array([w["rows"] for w in whole]), np.array([w["lo"] for w in whole])
            codes.append(np.repeat(part_codes, n))
            ids.append(np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum()))
            for w in whole:
                found[w["problem"]] = found.get(w["problem"], False) or w["minima"]
            continue
        runs = next(sf.read_parts("runs", {p: records[p] for p in batch}, columns=[*keys, "min_id"],
                                  batch_runs=sys.maxsize))
        setting, seen = group_codes(runs, keys, seen)
        codes.append(setting)
        ids.append(runs["run_id"].to_numpy())
        read.append(problems_with_minima(runs))
    has_minima = pd.concat([*read, pd.Series(found, dtype=bool)]).groupby(level=0).max().astype(bool)
    setting, run_id = np.concatenate(codes), np.concatenate(ids)
    size = np.bincount(setting, minlength=len(seen))
    first = np.full(len(seen), np.iinfo(np.int64).max)
    np.minimum.at(first, setting, run_id)
    settings = seen[keys].assign(runs=size).iloc[np.argsort(first, kind="stable")].reset_index(drop=True)
    bands = np.sort(run_id[drawn_rows(run_id, setting, MAX_RUNS)])
    mine = seen["problem"].isin(flat).to_numpy()[setting]
    basins = np.sort(run_id[mine][drawn_rows(run_id[mine], setting[mine], MAX_POINTS)])
    return _Scan(has_minima, codes, seen, settings, functools.partial(_among, bands),
                 functools.partial(_among, basins))


def _one_setting(groups: list[dict] | None, keys: list[str], names: set[str], template: pd.DataFrame) -> dict | None:
    """A part's setting (its ``keys``' values), run ids (``lo`` … ``lo + rows − 1``) and whether its
    runs have a nearest known minimum (``minima``), from its row groups' statistics
    (:meth:`~gdlab.storage.SweepFolder.statistics`); None unless each key holds one value (or is all
    NaN, a float's; not a float's zero, whose sign the statistics do not keep), the problem is one of
    ``names`` (a long value's statistics may be cut short) and the run ids are a range."""
    if not groups:
        return None
    got = {}
    for k in keys:
        lo, hi = groups[0][k]
        if lo != hi or any(g[k] != (lo, hi) for g in groups[1:]):
            return None
        if lo is None and not pd.api.types.is_float_dtype(template[k].dtype):
            return None
        if isinstance(lo, float) and lo == 0:      # min −0.0, max 0.0 for a column of either zero (Parquet's
            return None                            # rule): its sign, which names the setting, is the column's
        got[k] = np.nan if lo is None else lo
    rows = sum(g["#rows"] for g in groups)
    lo, hi = min(g["run_id"][0] for g in groups), max(g["run_id"][1] for g in groups)
    if got["problem"] not in names or hi - lo + 1 != rows:
        return None
    return {**got, "lo": lo, "rows": rows, "minima": max(g["min_id"][1] for g in groups) >= 0}


def _among(ids: np.ndarray, run_id: np.ndarray) -> np.ndarray:
    """Which of ``run_id`` are in ``ids`` (sorted): a binary search each, where ``np.isin`` sorts both;
    where ``run_id`` is in order too, as a part's are, a binary search of each id in its range instead
    (the draws keep a few of a part's runs: 2 ms a part of 2¹⁷ runs, against 0.3)."""
    if not len(ids) or not len(run_id):
        return np.zeros(len(run_id), bool)
    if np.all(run_id[1:] > run_id[:-1]):
        few = ids[np.searchsorted(ids, run_id[0]):np.searchsorted(ids, run_id[-1], "right")]
        pos = np.searchsorted(run_id, few)
        out = np.zeros(len(run_id), bool)
        out[pos[run_id[pos] == few]] = True
        return out
    pos = np.minimum(np.searchsorted(ids, run_id), len(ids) - 1)
    return ids[pos] == run_id


def _by_setting(setting: np.ndarray, seen: pd.DataFrame, keys: list[str], more: dict | None = None,
                run_id: np.ndarray | None = None):
    """Rows counted by their setting's ``keys`` (and the values in ``more``, a name each): a
    ``groupby(["_setting", *more], dropna=False)`` of the rows, ``.size()``, or with ``run_id`` the
    size and the least run id of each group, indexed by the setting's ``keys`` and the values (in the
    order of the codes, not of first appearance: the callers add the parts' counts up by a sorted
    group-by). ``setting``: the rows' setting codes, ``seen`` the settings (:func:`group_codes`). The
    rows are grouped by the codes, and the groups named after: grouping a part's runs by their text
    columns took most of the time."""
    more = {name: v.array if isinstance(v, pd.Series) else np.asarray(v) for name, v in (more or {}).items()}
    # each row's group as one integer, setting code by setting code then by each value of ``more``, and
    # the groups counted by bincount (a group-by of the codes and a part's statuses took 5 ms a part of
    # 2¹⁷ runs, most of it hashing the statuses, which a part mostly has one of)
    group = setting.astype(np.int64)
    for v in more.values():
        codes, n = column_codes(pd.Series(v, copy=False))
        group = group * n + (0 if codes is None else codes)
    if len(group) and group.max() >= max(4 * len(group), 1 << 20):
        group = pd.factorize(group)[0]             # many settings × values: renumbered, fewer bins
    size = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    present = np.flatnonzero(size)
    at = first_rows(group, len(size))[present]         # a row of each group, for its values
    index = [seen[k].iloc[setting[at]] for k in keys] + [pd.Index(v[at]) for v in more.values()]
    index = pd.MultiIndex.from_arrays(index, names=[*keys, *more])
    if run_id is None:
        return pd.Series(size[present], index=index)
    least = np.full(len(size), np.iinfo(np.int64).max)
    np.minimum.at(least, group, run_id)
    return pd.DataFrame({"size": size[present], "min": least[present]}, index=index)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """In the order of the whole table read at once (parts of several shards interleave their runs)."""
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _warnings(sweep: _Sweep, dtype: str, success_tol: float) -> list[str]:
    out = []
    stalled = sweep.stalled
    if len(stalled):
        by = stalled.groupby(["problem", "method", "alpha"], dropna=False).size()
        where = ", ".join(f"{p}/{m} α={a:g}: {n}" for (p, m, a), n in by.head(6).items())
        out.append(f"{count(len(stalled), 'max_iter run')} {'is' if len(stalled) == 1 else 'are'} cycling, not converging: f stopped changing while ‖∇f‖ "
                   f"stayed above 1e-3 — bouncing across a point where f is not differentiable (like |x| at 0) "
                   f"or caught in a cycle of a too-large step. ({where})")
    counts = sweep.counts["size"]
    bad = counts.groupby(level="status").sum()
    for status, why in (("nonfinite", "a nan or inf appeared (for example at a point where f is not "
                                      "differentiable, like a cone's tip)"),
                        ("invalid_start", "f or ∇f is not finite at the start"),
                        ("diverged", "|x| or |f| grew past the divergence bound: the step size is too large "
                                     "for this landscape, or f is unbounded below")):
        if bad.get(status, 0):
            by = counts.xs(status, level="status")
            where = ", ".join(f"{p}/{m} α={a:g}: {n}" for (p, m, a), n in by.head(6).items())
            out.append(f"{count(int(bad[status]), 'run')} ended {status}: {why}. ({where}{' …' if len(by) > 6 else ''})")
    if dtype == "float32" and len(sweep.stuck):
        # a rule that did not fire on runs that spent every step sitting on a minimum: its epsilon is
        # below what float32 resolves at this problem's scale
        rules = ", ".join(f"{c} < {e:g} ({n:,} runs)" for (c, e), n in sweep.stuck.items())
        out.append(f"float32 cannot resolve some tolerances: {rules} never fired although the run ended "
                   f"within {success_tol:g} of a minimum, or (a gradient rule) with ‖∇f‖ within "
                   f"{STALL_FACTOR:g}× of ε, and ran to max_iter. float32 keeps about 7 significant digits; "
                   "use dtype: float64 (or a larger epsilon).")
    return out


PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;
line-height:1.45;padding:0 1em} h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:.6em 0} td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4} tr:nth-child(even) td{background:#fafafa} .facts td:first-child{text-align:left;font-weight:600}
.warn{background:#fff4e0;border-left:4px solid #e69a00;padding:.5em 1em;margin:.5em 0} figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:13px;color:#555}
pre{background:#f6f8fa;padding:1em;overflow-x:auto;font-size:12px} .scroll{overflow-x:auto;max-height:520px;overflow-y:auto}
"""


def _html_table(frame: pd.DataFrame, cls: str = "") -> str:
    def precise(fmt):
        return lambda v: "–" if pd.isna(v) else fmt.format(v)
    return frame.to_html(index=False, classes=cls, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}",
                         formatters={c: precise(f) for c, f in PRECISE.items() if c in frame.columns})


def build(folder: Path | str, log: Callable[[str], None] = print, show_progress: bool = True,
          sections: Sequence[Section] = ()) -> Path:
    """Write ``report/`` inside the sweep folder; return the path of index.html. ``show_progress``:
    a bar on a terminal (lines in ``log`` elsewhere) while the runs are read, once that has taken
    5 s (10⁷ runs take about 20). ``sections``: extra sections put at the top of the page (a lesson's
    numbers and picture: :func:`gdlab.lessons.page.lesson_section`)."""
    t0 = time.perf_counter()
    folder = Path(folder)
    sf = SweepFolder(folder)
    manifest = sf.manifest()    # one snapshot: the parts it lists, whatever other shards write meanwhile
    writer = FigureWriter().start()     # a sweep folder: the workers start up while the runs are read
    records = sf.snapshot(manifest)
    with pywarnings.catch_warnings(record=True) as partial:
        pywarnings.simplefilter("always")
        res = load(folder, tables=("traces",), manifest=manifest)   # the others are read part by part (_gather)
    sw = validate(res.config)
    out = folder / "report"
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    traces = res.traces
    total = sum(record["files"]["runs"]["rows"] for record in records.values())
    progress = Progress(total, show_progress, lambda line: log(f"report: {line}"), quiet=5.0, what="runs read",
                        desc="report")
    try:
        sweep = _gather(folder, sw, traces["run_id"].unique(), progress, records)
    finally:
        progress.close()

    summary = sweep.tally.summary()
    rules = sweep.tally.comparison(curves=sweep.has_curves)
    statuses = sweep.counts["size"].groupby(level=["problem", "method", "status"]).sum().unstack(fill_value=0)
    statuses.columns.name = None
    statuses = statuses.reset_index()
    summary.to_csv(out / "tables" / "summary.csv", index=False)
    rules.to_csv(out / "tables" / "stopping_rules.csv", index=False)
    statuses.to_csv(out / "tables" / "statuses.csv", index=False)

    figs = _Figures(out / "figures", writer)
    problems = {p.name: p for p in sw.problems}
    own_figures = len(problems) <= sw.report["problem_figures"]
    for name, prob in problems.items():
        if own_figures and (sweep.settings["problem"] == name).any():
            _problem_figures(figs, prob, sweep, traces, summary, sw.success_tol, sw.max_iter, sw.starts.get("kind"),
                             tuple(sw.report["heatmap"]), sw.report["runtime"], sw.report["grad_cost"],
                             sw.report["targets"])

    warnings = [str(w.message) for w in partial] + _warnings(sweep, sw.dtype, sw.success_tol)
    if not sw.curves:
        warnings.insert(0, "this sweep kept no checkpoint curves (curves: false): the convergence bands, the ECDF "
                           "of steps to target, the wasted-steps columns of the stopping-rule table and the check "
                           "for cycling runs need them and are left out")
    warnings.extend(below_listed_lines(sweep.below))
    warnings.extend(listed_minima_doubts(sw.problems, sw.success_tol, sw.dtype, sw.f_target))
    now = functions_record(sw.problems)     # (the part records hold them, the manifest does not)
    changed, _ = changed_functions({p: r for p, r in sf.records().items() if p in records} if now else {}, now)
    targets = {p.name: fingerprinted(p) for p in sw.problems}
    warnings.extend(f"problem {name}: its function {targets.get(name, '')} has changed since its runs were computed "
                    f"({count(n, 'part')}): the tables are the runs' as computed, the figures draw the function as "
                    "it is now" for name, n in sorted(changed.items()))
    extra = [got for got in (section(folder, out, warnings, writer) for section in (suite_section, *sections)) if got]
    for w in warnings:
        log(f"warning: {w}")
    facts = res.facts
    fact_rows = [("sweep", f"{sw.experiment} / {folder.name}"), ("runs", f"{sweep.runs:,}"),
                 ("stop rules", f"{len(sw.rules)} ({sweep.stops:,} run × rule rows)"),
                 ("status", facts.get("status")), ("dtype", facts.get("dtype")),
                 ("device", f"{facts.get('device')} × {facts.get('device_count')} ({facts.get('backend')})"),
                 ("compute time", f"{facts.get('seconds') or 0:.1f} s"),
                 ("lane utilisation", f"{facts['lane_utilisation']:.3f} (useful ÷ executed lane-steps; a kernel's "
                                      "lanes wait for its slowest runs at its end, so a small sweep with a long "
                                      "tail reads low)" if facts.get("lane_utilisation") else "–"),
                 ("gdlab / JAX", f"{facts.get('gdlab')} / {facts.get('jax')}"),
                 ("figures per problem", "drawn" if own_figures else
                  f"none: {len(problems):,} problems, more than report.problem_figures = "
                  f"{sw.report['problem_figures']} (the tables cover every problem)"),
                 ("evaluations", f"n_f + grad_cost·n_grad, grad_cost = {sw.report['grad_cost']} (report.grad_cost; "
                                 "d: the dimension); ECDF targets: " + (sw.report["targets"] if isinstance(
                                     sw.report["targets"], str) else ", ".join(map(str, sw.report["targets"])))),
                 ("success", f"the rule fired within {sw.success_tol:g} of a known minimum; "
                             f"f-target for wasted steps: f − f* ≤ {sw.f_target:g}")]
    # as value_counts orders them: by count, then by first appearance
    by_status = sweep.counts.groupby(level="status").agg({"size": "sum", "min": "min"}).sort_values("min")
    status_counts = by_status["size"].sort_values(ascending=False, kind="stable").to_dict()

    md = [f"# gdlab report: {sw.experiment} / {folder.name}", "",
          f"{sweep.runs:,} runs, {len(sw.rules)} stop rules, dtype {sw.dtype}; statuses: "
          + ", ".join(f"{k} {v:,}" for k, v in status_counts.items()), ""]
    md += [f"> warning: {w}" for w in warnings] + [""]
    md += [line for _, lines in extra for line in lines]
    md += ["## Summary per setting and stop rule", "", markdown_table(summary), "",
           "## Stopping rules compared", "", markdown_table(rules), ""]
    md += [f"![{stem}](figures/{stem}.png)" for _, stem, _, _ in figs.items]
    (out / "summary.md").write_text("\n".join(md) + "\n")

    body = [f"<h1>gdlab report: {html.escape(sw.experiment)}</h1>",
            f"<p>{sweep.runs:,} descents; statuses: "
            + ", ".join(f"<b>{html.escape(k)}</b> {v:,}" for k, v in status_counts.items()) + "</p>"]
    body += [f'<div class="warn">⚠ {html.escape(w)}</div>' for w in warnings]
    body += [html_of() for html_of, _ in extra]
    body.append("<table class='facts'>" + "".join(f"<tr><td>{html.escape(str(k))}</td><td style='text-align:left'>"
                                                  f"{html.escape(str(v))}</td></tr>" for k, v in fact_rows)
                + "</table>")
    body.append("<h2>Summary per setting and stop rule</h2><p>success_rate: share of starts where the rule fired "
                "near a known minimum; premature: fired far from every known minimum; aRT: all steps spent ÷ "
                "successes (COCO); distinct_minima: different minima reached across starts.</p>"
                f"<div class='scroll'>{_html_table(summary)}</div>")
    body.append(f"<h2>Stopping rules compared</h2><div class='scroll'>{_html_table(rules)}</div>")
    body.append(f"<h2>Statuses</h2>{_html_table(statuses)}")
    for name in problems:
        items = [it for it in figs.items if it[0] == name]
        if items:
            body.append(f"<h2>{html.escape(name)}</h2><p>{html.escape(problems[name].doc)}</p>")
        for _, stem, caption, png in items:
            body.append(f"<figure><img alt='{stem}' src='data:image/png;base64,{png}'>"
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    body.append(f"<h2>Resolved config</h2><pre>{html.escape(yaml.safe_dump(res.config, sort_keys=False))}</pre>")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gdlab: {html.escape(sw.experiment)}"
            f"</title><style>{PAGE_CSS}</style></head><body>{''.join(body)}</body></html>")
    index = out / "index.html"
    index.write_text(page)
    page_order = [stem for _, stem, _, _ in figs.items]       # the problems' figures, then the sections'
    on_page = set(page_order)
    figures = page_order + [stem for stem in writer.stems if stem not in on_page]
    _drop_stale_figures(out, figures)
    (out / "facts.json").write_text(json.dumps({"built_seconds": time.perf_counter() - t0,
                                                "figures": figures}, indent=1))
    log(f"report: {index} ({count(len(writer.stems), 'figure')}, {time.perf_counter() - t0:.1f} s)")
    return index


def _drop_stale_figures(out: Path, stems: list[str]) -> None:
    """Remove the figures the report's last build drew (its facts.json lists them) and this one did
    not: a rebuild with fewer figures leaves none of the old ones beside the new. Other files in the
    folder are left alone."""
    try:
        before = json.loads((out / "facts.json").read_text()).get("figures", [])
    except (OSError, ValueError, AttributeError):
        return
    for stem in set(before) - set(stems) if isinstance(before, list) else ():
        if isinstance(stem, str) and "/" not in stem and "\\" not in stem:
            for ext in (".png", ".svg"):
                (out / "figures" / f"{stem}{ext}").unlink(missing_ok=True)
