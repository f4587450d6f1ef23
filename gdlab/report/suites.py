"""The report's section for suite problems (bbob, CUTEst): what a benchmarker reads.

Statistics (plain functions of the runs and curves tables, each method at its best setting per
problem, :func:`at_best_settings`):

- *runtime* of a run to a target: its evaluations (``n_f + grad_cost·n_grad``) by the first
  checkpoint step where f − f* ≤ target, whole, one where the start is there already, as the COCO
  export writes them (:func:`~gdlab.tables.stats.evaluations_to_reach`, :func:`run_runtimes`; ∞
  where never reached);
- *aRT* (COCO's average runtime) per problem, method and target: the evaluations every run spent
  (to the target where it reached it, else all of them) ÷ the runs that reached it (∞ if none), and
  its ratio to the best method's (:func:`art_table`);
- runtime ECDFs aggregated over a suite's problems and targets per dimension, runtime divided by
  the dimension (COCO's ``#evals / dim``; :func:`aggregated_ecdf`);
- Dolan–Moré performance profiles: per method, the share of (problem, start) pairs it solves within
  τ times the best method's evaluations (:func:`performance_profile`);
- Moré–Wild data profiles: per method, the share of (problem, start) pairs it solves within κ
  simplex gradients, κ·(d + 1) evaluations (:func:`data_profile`).

Solving a (problem, start) pair, for the profiles, is reaching f − f* ≤ ``f_target``. Runtimes are
at checkpoint resolution (k = 0, 1, 2, 3, 4, 6, 8, 11, 16, …). Problems whose runs ended below
their listed f* are named in a warning ("below the listed f*: …").
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from ..core.suites import is_suite, suite_problems
from ..runner.schema import merge
from ..storage.load import load
from ..tables.stats import (
    best_settings,
    ecdf_targets,
    evaluations_to_reach,
    f_star_of_runs,
    first_rows,
    grad_cost_of,
    problem_f_star,
    row_groups,
    setting_columns,
    target_values,
)
from .render import FigureWriter, log_axes

__all__ = ["ART_TARGETS", "suite_section", "below_listed_lines", "setting_label", "at_best_settings", "suite_f_min",
           "run_runtimes", "art_table", "aggregated_ecdf", "performance_profile", "data_profile",
           "profile_costs"]

#: the targets of the aRT tables (COCO's tables': 10^1 … 10^-7)
ART_TARGETS = (1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-5, 1e-7)
MAX_RUNTIME_RUNS = 10 ** 9     # every run: a benchmark's sweeps are small enough to read whole


def below_listed_lines(below: pd.DataFrame, apart: int = 3, named: int = 8) -> list[str]:
    """The warnings of :func:`~gdlab.tables.stats.below_listed_f_star`, problems that list f* alone
    (their runs count as successes) apart from those that list minima (success is the distance to
    one): a line per problem for up to ``apart`` problems, else one line naming the first ``named``
    (a penalised family or a suite's instances would fill the page's top with one box each)."""
    def runs(row):
        return f"{row.runs_below:,} run{'s' if row.runs_below != 1 else ''}"

    def lines(rows, one, many):
        if len(rows) <= apart:
            return [one(row) for row in rows]
        each = "; ".join(f"{row.problem} at {row.best_f:.6g} under {row.f_star:.6g} ({runs(row)})" for row in rows[:named])
        more = f"; and {len(rows) - named:,} more" if len(rows) > named else ""
        return [f"{many(len(rows))}: {each}{more}"]

    kind = {False: [], True: []}        # by_distance: the problem lists minima
    for row in below.itertuples(index=False):
        kind[bool(getattr(row, "by_distance", False))].append(row)
    lower = ("f has lower points than its listed minima (a minimum not listed, or outside the domain); success "
             "is judged by the distance to a listed minimum, and the ECDF counts every f-target as reached")
    return lines(kind[False],
                 lambda row: f"below the listed f*: {row.problem} ended at {row.best_f:.6g} ({runs(row)}), under its "
                             f"listed f* {row.f_star:.6g}; counted as successes (the listed value is not the optimum)",
                 lambda n: f"below the listed f*: runs of {n:,} problems ended under their listed f*, counted as "
                           "successes (the listed values are not the optima)") + \
        lines(kind[True],
              lambda row: f"below the listed minima: {row.problem} ended at {row.best_f:.6g} ({runs(row)}), under the "
                          f"f* {row.f_star:.6g} of the listed minimum nearest its end; {lower}",
              lambda n: f"below the listed minima: runs of {n:,} problems ended under the f* of the listed minimum "
                        f"nearest their end; {lower}")


def labels_by_setting(frame: pd.DataFrame, write) -> pd.Series:
    """Each row's label, ``write(values, exact)`` called once per distinct row of ``frame`` (its
    columns by name): with ``exact=False``, then with ``exact=True`` for the settings whose labels
    would be alike (numbers that differ past six digits: α 0.1234561 and 0.1234564), so that distinct
    settings keep distinct labels (tables and figures group runs by them)."""
    keys = list(frame.columns)
    # a group-by's numbers, in order of appearance (a MultiIndex factorize took 5–7 s on 10⁷ runs; a
    # group-by of every column 9 ms of an ECDF's 200,000 rows, where row_groups skips the columns
    # that hold one value: 2 ms)
    codes = row_groups(frame, keys)
    first = first_rows(codes)         # each setting's first row
    rows = [dict(zip(keys, row)) for row in frame.iloc[first].itertuples(index=False)]
    labels = np.array([write(row, False) for row in rows], dtype=object)
    shared = pd.Series(labels).duplicated(keep=False).to_numpy()
    labels[shared] = [write(row, True) for row, same in zip(rows, shared) if same]
    return pd.Series(labels[codes], index=frame.index)


def setting_label(runs: pd.DataFrame) -> pd.Series:
    """Each run's setting beyond its problem and method, in words: ``alpha=0.1, b1=0.9`` (NaN and the
    constant schedule left out; :func:`labels_by_setting`)."""
    keys = [k for k in setting_columns(runs.columns) if k not in ("problem", "method")]
    if not keys:
        return pd.Series("", index=runs.index)

    def write(row: dict, exact: bool) -> str:
        return ", ".join((f"{k}={float(v)!r}" if exact else f"{k}={v:g}") if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items() if not pd.isna(v) and not (k == "schedule" and v == "constant"))
    return labels_by_setting(runs[keys], write)


def at_best_settings(runs: pd.DataFrame, success_tol: float) -> pd.DataFrame:
    """The runs of each method's best setting on each problem (:func:`~gdlab.tables.stats.best_settings`:
    the most successes, then the fewest evaluations), with the setting in column ``setting`` and the
    start's number in ``start_id``."""
    runs = runs.assign(setting=setting_label(runs).to_numpy())
    if "start_id" not in runs:      # runs are numbered problem, setting, start: a setting's k-th run is start k
        runs = runs.sort_values("run_id")
        runs["start_id"] = runs.groupby(["problem", "method", "setting"], sort=False).cumcount()
    best = best_settings(runs, runs["setting"], success_tol, per="problem")
    chosen = pd.MultiIndex.from_frame(best[["problem", "method", "label"]].astype(object))
    mine = pd.MultiIndex.from_arrays([runs[k].astype(object) for k in ("problem", "method", "setting")])
    kept = mine.isin(chosen)
    # by problem in order of first appearance, each problem's runs in their order
    first_seen = pd.factorize(runs["problem"])[0][kept]
    return runs[kept].iloc[np.argsort(first_seen, kind="stable")]


def run_runtimes(runs: pd.DataFrame, curves: pd.DataFrame, targets, grad_cost=1,
                 f_star: pd.Series | None = None) -> pd.DataFrame:
    """Per run and target: ``evals`` to reach f − f* ≤ target (∞ if never) and ``spent`` (those, or
    the run's evaluations where it never reached it), with the run's problem, dim, method, start_id.
    ``f_star``: each run's f* by run_id (:func:`~gdlab.tables.stats.problem_f_star`; by default
    f_final − f_gap, unknown for a run that ended nan)."""
    keys = ["problem", "dim", "method", "start_id"]
    hits = ecdf_targets(runs, curves, keys, targets, max_runs=MAX_RUNTIME_RUNS, f_star=f_star)
    mine = runs.set_index("run_id").loc[hits["run_id"].to_numpy()]
    cost = grad_cost_of(grad_cost, mine["dim"].to_numpy())
    total = mine["n_f"].to_numpy(np.float64) + cost * mine["n_grad"].to_numpy(np.float64)
    step = hits["step"].to_numpy(np.float64)
    reached = np.isfinite(step)
    # whole evaluations, a start's f after one, as the COCO export writes them and cocopp reads them
    evals = evaluations_to_reach(np.where(reached, step, 0), total, mine["n_iter"].to_numpy(), 1 + cost)
    return hits.assign(evals=np.where(reached, evals, np.inf), spent=np.where(reached, evals, np.rint(total)))


def art_table(runtimes: pd.DataFrame) -> pd.DataFrame:
    """aRT per problem, target and method (COCO's: evaluations spent ÷ runs that reached the target),
    with ``runs``, ``successes`` and ``ratio``: the aRT ÷ the least aRT of the methods on that problem
    and target (∞ where this method never reached it, NaN where none did)."""
    g = runtimes.assign(reached=np.isfinite(runtimes["evals"].to_numpy(np.float64))).groupby(
        ["problem", "target", "method"], sort=True)
    out = pd.DataFrame({"runs": g.size(), "successes": g["reached"].sum().astype(np.int64), "spent": g["spent"].sum()})
    out["aRT"] = np.where(out["successes"] > 0, out["spent"] / out["successes"].clip(lower=1), np.inf)
    best = out.groupby(level=["problem", "target"])["aRT"].transform("min")
    out["ratio"] = np.where(np.isfinite(best), out["aRT"] / best, np.nan)
    return out.drop(columns="spent").reset_index().sort_values(["problem", "target", "method"],
                                                               ascending=[True, False, True], ignore_index=True)


def aggregated_ecdf(runtimes: pd.DataFrame, budgets) -> pd.DataFrame:
    """Per dimension and method: the share of (run, target) pairs over every problem of that dimension
    reached within each budget of evaluations ÷ dimension (COCO's runtime ECDF). Columns: dim, method,
    budget, share."""
    rows = []
    budgets = np.asarray(budgets, np.float64)
    for (dim, method), g in runtimes.groupby(["dim", "method"], sort=True):
        per_dim = np.sort(g["evals"].to_numpy(np.float64) / dim)
        share = np.searchsorted(per_dim, budgets, side="right") / len(per_dim)
        rows.append(pd.DataFrame({"dim": dim, "method": method, "budget": budgets, "share": share}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["dim", "method", "budget", "share"])


def profile_costs(runtimes: pd.DataFrame, target: float) -> pd.DataFrame:
    """The evaluations each method took to reach f − f* ≤ ``target`` on each (problem, start) pair (∞
    where it did not): rows (problem, start_id), a column per method, and the pair's ``dim``."""
    at = runtimes[np.isclose(runtimes["target"], target, rtol=1e-12, atol=0)]
    table = at.pivot_table(index=["problem", "start_id"], columns="method", values="evals", aggfunc="min")
    table.columns.name = None
    table["dim"] = at.groupby(["problem", "start_id"])["dim"].first()
    return table


def performance_profile(costs: pd.DataFrame, taus) -> pd.DataFrame:
    """Dolan–Moré: per method and τ, the share of (problem, start) pairs where the method's evaluations
    are at most τ times the least of any method's (a pair no method solved counts against every
    method). ``costs``: :func:`profile_costs`. Columns: method, tau, share."""
    methods = [c for c in costs.columns if c != "dim"]
    t = costs[methods].to_numpy(np.float64)
    best = t.min(axis=1, initial=np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(t), t / best[:, None], np.inf)
    taus = np.asarray(taus, np.float64)
    return pd.DataFrame([{"method": m, "tau": tau, "share": float(np.mean(ratio[:, j] <= tau))}
                         for j, m in enumerate(methods) for tau in taus])


def data_profile(costs: pd.DataFrame, kappas) -> pd.DataFrame:
    """Moré–Wild: per method and κ, the share of (problem, start) pairs the method solved within κ
    simplex gradients, κ·(d + 1) evaluations. ``costs``: :func:`profile_costs`. Columns: method,
    kappa, share."""
    methods = [c for c in costs.columns if c != "dim"]
    per = costs[methods].to_numpy(np.float64) / (costs["dim"].to_numpy(np.float64)[:, None] + 1)
    kappas = np.asarray(kappas, np.float64)
    return pd.DataFrame([{"method": m, "kappa": k, "share": float(np.mean(per[:, j] <= k))}
                         for j, m in enumerate(methods) for k in kappas])


def _suite_problems(config) -> bool:
    return any(isinstance(p, dict) and "suite" in p for p in (config.get("problems") or []))


def suite_f_min(config) -> dict[str, tuple[float, ...]]:
    """The listed values (f* of each minimum, or f* alone) of the config's suite problems, by name: the
    suite entries alone are resolved (another problem's ``_target_`` need not be importable here)."""
    entries = config.get("problems") or []
    return {p.name: p.f_min for entry in (entries if isinstance(entries, list) else [entries])
            if is_suite(entry) for p in suite_problems(entry)}


def known_f_star(runs: pd.DataFrame, f_min: dict) -> pd.Series:
    """Each run's f* (by run_id): its problem's listed value (:func:`~gdlab.tables.stats.problem_f_star`,
    known for a run that ended nan), else f_final − f_gap."""
    return problem_f_star(runs, f_min).fillna(f_star_of_runs(runs))


def _step_plot(ax, frame: pd.DataFrame, x: str, by: str = "method"):
    for name, g in frame.groupby(by, sort=True):
        ax.step(g[x], g["share"], where="post", lw=1.5, label=str(name))
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="lower right")


def suite_section(folder: Path, out: Path, warnings: list, writer: FigureWriter):
    """For a sweep of suite problems, the aggregated ECDFs, the aRT table and the performance and
    data profiles (figures, tables/suite_*.csv). (The report's one pass over the runs names the
    problems with runs below their listed f*: :func:`~gdlab.tables.stats.below_listed_f_star`.)"""
    folder = Path(folder)
    # the config as the folder keeps it (the report has loaded and checked the folder; a load for its
    # config alone hashed each table's first part file: 70–90 ms of a 10⁶-run report without suites)
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        config = None
    if not isinstance(config, dict) or not _suite_problems(config):  # the tables are read only for suites
        return None
    res = load(folder, tables=("runs", "curves"))
    if res.curves.empty:
        return None
    cfg = merge(config)         # the report settings as the sweep resolves them
    report, success_tol, f_target = cfg["report"], float(cfg["success_tol"]), float(cfg["f_target"])
    # the problems whose f* is known or listed, every run of them: one that ended nan or inf reaches the
    # targets it reached before and spends its evaluations, as COCO counts a run that crashed
    f_min = suite_f_min(config)
    known = set(res.runs.loc[res.runs["f_gap"].notna(), "problem"]) | {name for name, v in f_min.items() if v}
    runs = res.runs[res.runs["problem"].isin(known)]
    best = at_best_settings(runs, success_tol)
    curves = res.curves[res.curves["run_id"].isin(best["run_id"])]
    targets = target_values(report["targets"])
    # each run's f* from its problem's listed values: a run that ended nan reaches the targets it reached before
    f_star = known_f_star(best, f_min)
    rt = run_runtimes(best, curves, targets, report["grad_cost"], f_star)
    art = art_table(run_runtimes(best, curves, ART_TARGETS, report["grad_cost"], f_star))
    costs = profile_costs(run_runtimes(best, curves, [f_target], report["grad_cost"], f_star), f_target)
    top = max(float(np.nanmax(np.where(np.isfinite(rt["evals"]), rt["evals"] / rt["dim"], 0))), 10.0)
    budgets = np.unique(np.logspace(-1, np.log10(top) + 0.05, 120))
    ecdf = aggregated_ecdf(rt, budgets)
    taus = np.unique(np.r_[1.0, np.logspace(0, 3, 91)])
    kappas = np.logspace(-1, 4, 101)
    perf, data = performance_profile(costs, taus), data_profile(costs, kappas)
    tables = out / "tables"
    art.to_csv(tables / "suite_art.csv", index=False)
    ecdf.to_csv(tables / "suite_ecdf.csv", index=False)
    pd.concat([perf.assign(profile="performance"), data.assign(profile="data")]).to_csv(
        tables / "suite_profiles.csv", index=False)

    saved = []
    dims = sorted(ecdf["dim"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(4.6 * len(dims), 3.8), squeeze=False)
    for ax, dim in zip(axes[0], dims):
        _step_plot(ax, ecdf[ecdf["dim"] == dim], "budget")
        log_axes(ax, y=False)
        ax.set_xlabel("evaluations / dimension")
        ax.set_ylabel(f"share of (run, target) pairs\n{len(targets)} targets {targets[0]:g} … {targets[-1]:g}")
        ax.set_title(f"{dim}-D: {ecdf.loc[ecdf['dim'] == dim, 'method'].nunique()} methods", fontsize=9)
    saved.append(("suite_ecdf", writer.submit(fig, out / "figures", "suite_ecdf"),
                  "Runtime ECDFs per dimension, over every suite problem of that dimension and every target on "
                  f"f − f*; runtime in evaluations (a gradient counting {report['grad_cost']}) ÷ dimension; each "
                  "method at its best setting per problem."))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    _step_plot(left, perf, "tau")
    left.set_xscale("log", base=2)
    left.set_xlabel("τ: evaluations ÷ the best method's")
    left.set_ylabel("share of (problem, start) pairs")
    left.set_title(f"performance profile (Dolan–Moré), f − f* ≤ {f_target:g}", fontsize=9)
    _step_plot(right, data, "kappa")
    right.set_xscale("log")
    right.set_xlabel("κ: evaluations ÷ (d + 1)")
    right.set_title(f"data profile (Moré–Wild), f − f* ≤ {f_target:g}", fontsize=9)
    saved.append(("suite_profiles", writer.submit(fig, out / "figures", "suite_profiles"),
                  f"{len(costs)} (problem, start) pairs, each method at its best setting per problem; solved: "
                  f"f − f* ≤ f_target = {f_target:g}."))
    shown = art.assign(aRT=art["aRT"].map(lambda v: f"{v:.4g}"), ratio=art["ratio"].map(lambda v: f"{v:.3g}"))

    def html_of() -> str:
        parts = ["<h2>Suite benchmarks</h2><p>Each method at its best setting on each problem (the most "
                 "successes, then the fewest evaluations). Evaluations: n_f + grad_cost·n_grad, grad_cost = "
                 f"{html.escape(str(report['grad_cost']))}.</p>"]
        for stem, saving, caption in saved:
            png = base64.b64encode(saving.result()).decode()
            parts.append(f"<figure><img alt='{stem}' src='data:image/png;base64,{png}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("<h3>aRT per problem and target (COCO), and its ratio to the best method's</h3>"
                     f"<div class='scroll'>{shown.to_html(index=False, border=0, na_rep='–', float_format=lambda v: f'{v:.4g}')}"
                     "</div>")
        return "".join(parts)

    md = ["## Suite benchmarks", ""] + [f"![{stem}](figures/{stem}.png)" for stem, _, _ in saved] + [
        "", "aRT per problem and target: tables/suite_art.csv; profiles: tables/suite_profiles.csv", ""]
    return html_of, md
