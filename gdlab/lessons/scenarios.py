"""The seed lessons as experiments: each scenario's numbers next to the lesson's, and its picture.

A scenario is an ordinary sweep, ``gdlab/configs/experiment/<name>.yaml``, plus what
the lesson says about it: :data:`SCENARIOS` maps the name to the question, a
``numbers`` function (Results → a table of quantity, the lesson's value,
gdlab's value, whether they agree) and a ``figure`` function (Results → a
matplotlib Figure). The sweep's report puts both at the top of its page
(:func:`lesson_section`); ``gdlab experiment=lessons`` runs every scenario and
builds one page for the class (:func:`run_lessons`, :func:`build_lessons_page`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..core.errors import GdlabError
from ..core.names import did_you_mean
from ..core.problems import Problem
from ..core.registry import Registry
from ..report import figures as F
from ..runner.api import inspect_point
from ..runner.schema import validate
from ..tables.columns import points
from ..tables.results import Results
from ..tables.stats import (
    START_EVALS,
    best_settings,
    convergence_bands,
    evaluations_per_step,
    rule_comparison,
    summary_table,
)

__all__ = ["Scenario", "SCENARIOS", "LESSONS", "unknown_scenarios", "lesson_numbers", "lesson_figure",
           "NUMBER_COLUMNS",
           "NotTheLessonsSweep"]

NUMBER_COLUMNS = ["quantity", "lesson", "gdlab", "value", "agrees"]


class NotTheLessonsSweep(GdlabError, LookupError):
    """A sweep of a scenario's name whose runs are not the lesson's (other starts or settings)."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    lessons: str                                   # the seed lessons it comes from
    title: str
    question: str
    shows: str                                     # what the numbers and the picture show
    numbers: Callable[[Results], pd.DataFrame]
    figure: Callable[[Results], plt.Figure]

    @property
    def doc(self) -> str:
        return f"lesson {self.lessons}: {self.title}"


# ---------------------------------------------------------------- helpers on Results

def _problems(res: Results) -> dict[str, Problem]:
    return {p.name: p for p in validate(res.config).problems}


def _run(res: Results, problem: str | None = None, x0=None, **equal) -> pd.Series:
    """The one run matching problem, start and column values (alpha=…, method=…)."""
    runs = res.runs
    if problem is not None:       # first: the problems of a sweep may differ in dimension
        runs = runs[runs["problem"] == problem]
    mask = np.ones(len(runs), bool)
    if x0 is not None:
        mask &= np.all(np.isclose(points(runs["x0"]), np.atleast_1d(x0)), axis=1)
    for key, value in equal.items():
        col = runs[key].to_numpy()
        mask &= np.isclose(col, value) if isinstance(value, float) else (col == value)
    found = runs[mask]
    if len(found) != 1:
        raise NotTheLessonsSweep(f"it has {len(found)} runs with problem={problem} x0={x0} {equal}, where the "
                                 "lesson has one")
    return found.iloc[0]


def _trace(res: Results, run_id: int, upto: int | None = None) -> pd.DataFrame:
    t = res.traces[res.traces["run_id"] == run_id].sort_values("step")
    if not len(t):
        raise NotTheLessonsSweep(f"run {run_id} has no trace; the lesson draws it")
    return t if upto is None else t[t["step"] <= upto]


def _stop(res: Results, run_id: int, **rule) -> pd.Series:
    s = res.stops[res.stops["run_id"] == run_id]
    for key, value in rule.items():
        s = s[np.isclose(s[key], value)] if isinstance(value, float) else s[s[key] == value]
    if not len(s):
        raise NotTheLessonsSweep(f"run {run_id} has no stop rule {rule}, which the lesson uses")
    return s.iloc[0]


def _row(quantity: str, lesson: str, value, agrees, fmt: str = "{:.6g}") -> dict:
    if isinstance(value, (list, tuple, np.ndarray)):
        shown = "(" + ", ".join(fmt.format(float(v)) for v in value) + ")"
        number = float(np.linalg.norm(np.asarray(value, float)))
    elif isinstance(value, str):
        shown, number = value, math.nan
    else:
        shown, number = fmt.format(value), float(value)
    return {"quantity": quantity, "lesson": lesson, "gdlab": shown, "value": number,
            "agrees": None if agrees is None or (np.ndim(agrees) == 0 and pd.isna(agrees)) else bool(agrees)}


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=NUMBER_COLUMNS)


def _xs(trace: pd.DataFrame) -> np.ndarray:
    return points(trace["x"])


def _curve(res: Results, problem: str, run: pd.Series, title: str, ax, upto: int | None = None, xlim=None):
    prob = _problems(res)[problem]
    F.plot_curve_1d(prob, _trace(res, int(run["run_id"]), upto), title, ax, xlim=xlim)


# ---------------------------------------------------------------- the scenarios

def _bands_by_method(res: Results, runs: pd.DataFrame, title: str, ax):
    """The convergence band of each method, or a note where the sweep kept no curves (curves: false)."""
    if not len(res.curves):
        ax.text(0.5, 0.5, "no checkpoint curves in this sweep\n(curves: false)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    bands = convergence_bands(runs, res.curves, ["method"])
    bands["label"] = bands["method"]
    F.plot_bands(bands, title, ax)


def _derivatives_numbers(res: Results) -> pd.DataFrame:
    rows = []
    for prob, at, lesson in (("saddle_3x2_2xy", (-20, -20), (-160, -40)), ("paraboloid", (1, 2), (2, 4)),
                             ("paraboloid", (3, 4), (6, 8))):
        g = inspect_point(prob, at).grad
        rows.append(_row(f"∇f at {at}, f = {'3x1² + 2x1x2' if prob.startswith('saddle') else 'x² + y²'}",
                         str(lesson), g, np.allclose(g, lesson)))
    x, y = 1.0, 2.0
    g = inspect_point("x2y_y2", (x, y)).grad
    rows.append(_row("(∂f/∂x, ∂f/∂y) of 3x²y + y² at (1, 2)", f"(6xy, 3x² + 2y) = ({6 * x * y:g}, {3 * x * x + 2 * y:g})",
                     g, np.allclose(g, (6 * x * y, 3 * x * x + 2 * y))))
    g = inspect_point("x2y3", (x, y)).grad
    rows.append(_row("(∂f/∂x, ∂f/∂y) of x²y³ at (1, 2)", f"(2xy³, 3x²y²) = ({2 * x * y ** 3:g}, {3 * x * x * y * y:g})",
                     g, np.allclose(g, (2 * x * y ** 3, 3 * x * x * y * y))))
    info = inspect_point("shifted_paraboloid", (5, 6))
    rows.append(_row("x² − 10x + y² − 12y + 71 at (5, 6): Hessian eigenvalues, type", "minimum at (5, 6)",
                     f"{tuple(float(v) for v in info.eigenvalues)}, {info.point_type}", info.point_type == "minimum"))
    rows.append(_row("3x1² + 2x1x2 at (0, 0)", "not a minimum (the function has none)",
                     inspect_point("saddle_3x2_2xy", (0, 0)).point_type,
                     inspect_point("saddle_3x2_2xy", (0, 0)).point_type == "saddle"))
    bowl = res.runs[res.runs["problem"] == "shifted_paraboloid"]
    if len(bowl):
        ends = points(bowl["x_final"])
        ok = (np.abs(ends - [5, 6]).max(axis=1) < 1e-6) & (bowl["point_type"] == "minimum").to_numpy()
        rows.append(_row(f"gd from {len(bowl)} grid starts on x² − 10x + y² − 12y + 71: ended at (5, 6), "
                         "Hessian says minimum", "minimum (5, 6)", f"{int(ok.sum())} of {len(bowl)}", ok.all()))
    return _frame(rows)


def _derivatives_figure(res: Results):
    probs = _problems(res)
    fig, axes = F.figure_panels(2, width=5.0, height=4.6)
    if "paraboloid" in probs:
        F.plot_paths_2d(probs["paraboloid"], res.traces.iloc[:0], "x² + y²: ∇f at (1, 2) and (3, 4) (arrows at 1/10 scale),\n"
                        "across the level lines, towards the steepest rise", axes[0],
                        field=False)
        for at in ((1, 2), (3, 4)):
            g = inspect_point("paraboloid", at).grad
            axes[0].annotate("", xy=(at[0] + 0.1 * g[0], at[1] + 0.1 * g[1]), xytext=at,
                             arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1.8})
            axes[0].plot(*at, "o", color="tab:blue")
            axes[0].text(at[0] - 0.2, at[1] - 0.3, f"∇f{at} = ({g[0]:g}, {g[1]:g})", fontsize=8,
                         color="tab:blue", ha="right", va="top")
    if "shifted_paraboloid" in probs:
        ids = res.runs.loc[res.runs["problem"] == "shifted_paraboloid", "run_id"]
        F.plot_paths_2d(probs["shifted_paraboloid"], res.traces[res.traces["run_id"].isin(ids)],
                        "x² − 10x + y² − 12y + 71: gd paths end at (5, 6),\nthe Hessian (2, 2 > 0) says minimum",
                        axes[1])
    return fig


def _halving_numbers(res: Results) -> pd.DataFrame:
    rows = []
    run = _run(res, "lesson_quartic", -5.0)
    xs = _xs(_trace(res, int(run["run_id"])))[:, 0]
    rows.append(_row("x⁴ + 5x³ − 10x from −5, Δx = 1: first points", "−4, −3, −3.5", xs[1:4],
                     np.allclose(xs[1:4], [-4, -3, -3.5]), "{:g}"))
    rows.append(_row("… where it stops", "≈ −3.5518", float(run["x_final"][0]),
                     abs(run["x_final"][0] + 3.5518) < 1e-4, "{:.4f}"))
    for x0 in (20.0, 200.0, 2000.0):
        r = _run(res, "x4", x0)
        step = int(_stop(res, int(r["run_id"]))["step"])
        rows.append(_row(f"x⁴ from {x0:g}, Δx = 1: steps", f"at least {x0:g}", step, step >= x0, "{:.0f}"))
    run = _run(res, "x4", 0.2)
    xs = _xs(_trace(res, int(run["run_id"])))[:, 0]
    rows.append(_row("x⁴ from 0.2, Δx = 1: first points", "−0.8, −0.3, 0.2", xs[1:4],
                     np.allclose(xs[1:4], [-0.8, -0.3, 0.2]), "{:g}"))
    return _frame(rows)


def _halving_figure(res: Results):
    fig, axes = F.figure_panels(3, width=4.4, height=3.8)
    _curve(res, "lesson_quartic", _run(res, "lesson_quartic", -5.0), "x⁴ + 5x³ − 10x from −5, Δx = 1", axes[0],
           xlim=(-5.5, -2.5))
    _curve(res, "x4", _run(res, "x4", 0.2), "x⁴ from 0.2, Δx = 1: −0.8, −0.3, 0.2, …", axes[1],
           xlim=(-1, 0.5))
    starts, steps = [], []
    for x0 in (20.0, 200.0, 2000.0):
        r = _run(res, "x4", x0)
        starts.append(x0)
        steps.append(int(_stop(res, int(r["run_id"]))["step"]))
    axes[2].loglog(starts, steps, "o-", color="tab:red", label="steps gdlab took")
    axes[2].loglog(starts, starts, "--", color="0.5", label="steps = start (Δx = 1 each)")
    axes[2].set_xlabel("start x0 on x⁴")
    axes[2].set_ylabel("steps until Δx-step < ε")
    axes[2].set_title("a fixed Δx needs at least x0 / Δx steps", fontsize=9)
    axes[2].legend(fontsize=7)
    return fig


def _proportional_numbers(res: Results) -> pd.DataFrame:
    rows = []
    for x0, step in ((5.0, 0.5), (20.0, 32.0)):
        r = _run(res, "x4", x0)
        xs = _xs(_trace(res, int(r["run_id"])))[:, 0]
        rows.append(_row(f"x⁴, α = 0.001, from {x0:g}: first step", f"{step:g}", abs(xs[1] - xs[0]),
                         math.isclose(abs(xs[1] - xs[0]), step, rel_tol=1e-9), "{:.6g}"))
        rows.append(_row("… lands at", "over the minimum at 0" if x0 == 20 else "closer to 0", xs[1],
                         (xs[1] < 0) if x0 == 20 else (0 < xs[1] < x0), "{:g}"))
    return _frame(rows)


def _proportional_figure(res: Results):
    fig, axes = F.figure_panels(2, width=5.0, height=3.8)
    _curve(res, "x4", _run(res, "x4", 5.0), "x⁴, α = 0.001 from 5: first step 0.5", axes[0], upto=60,
           xlim=(-6, 6))
    _curve(res, "x4", _run(res, "x4", 20.0), "x⁴, α = 0.001 from 20: first step 32, to −12", axes[1], upto=60)
    return fig


def _two_x_sin_numbers(res: Results) -> pd.DataFrame:
    r = _run(res, "two_x_sin", 2.5)
    return _frame([_row("2x·sin x from 2.5, α = 0.005: where it ends", "≈ 4.9132", float(r["x_final"][0]),
                        abs(r["x_final"][0] - 4.9132) < 1e-4, "{:.4f}"),
                   _row("… after steps", "–", int(r["n_iter"]), None, "{:.0f}"),
                   _row("… the Hessian says", "minimum", str(r["point_type"]), r["point_type"] == "minimum")])


def _two_x_sin_figure(res: Results):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _curve(res, "two_x_sin", _run(res, "two_x_sin", 2.5), "2x·sin x from 2.5, α = 0.005", ax)
    return fig


# (alpha, min_steps, the lesson's step, its x, the digits it gives x to, what it says)
_X2_RUNS = ((0.005, 0, 73, 5.0755, 4, "73 steps, near x = 5.0755"), (1e-4, 0, 1, 2.5, 3, "stops after one step"),
            (1e-4, 100, 100, 2.521, 3, "step 100, near x = 2.521, far from the minimum"))


def _x2_sin_numbers(res: Results) -> pd.DataFrame:
    rows = []
    for alpha, min_steps, step, x, digits, lesson in _X2_RUNS:
        r = _run(res, "x2_sin", 2.5, alpha=alpha)
        s = _stop(res, int(r["run_id"]), criterion="df", min_steps=min_steps)
        xs = _xs(_trace(res, int(r["run_id"]), int(s["step"])))[:, 0]
        rows.append(_row(f"α = {alpha:g}, |Δf| < 0.001" + (f", at least {min_steps} steps" if min_steps else ""),
                         lesson, f"step {int(s['step'])}, x = {xs[-1]:.4f}, {s['dist_to_min_at_stop']:.3g} from "
                         "the minimum", int(s["step"]) == step and abs(xs[-1] - x) <= 0.5 * 10.0 ** -digits))
    return _frame(rows)


def _x2_sin_figure(res: Results):
    fig, axes = F.figure_panels(3, width=4.4, height=3.8)
    for ax, (alpha, min_steps, _, _, _, lesson) in zip(axes, _X2_RUNS):
        r = _run(res, "x2_sin", 2.5, alpha=alpha)
        s = _stop(res, int(r["run_id"]), criterion="df", min_steps=min_steps)
        _curve(res, "x2_sin", r, f"|Δf| < 0.001, α = {alpha:g}" + (f", at least {min_steps} steps" if min_steps
                                                                    else "") + f": stops at step {int(s['step'])}",
               ax, upto=int(s["step"]))
    return fig


def _rules_summary(res: Results) -> pd.DataFrame:
    sw = validate(res.config)
    return summary_table(res.runs, res.stops, sw.success_tol)


def _stopping_rules_numbers(res: Results) -> pd.DataFrame:
    s = _rules_summary(res)
    s["premature_rate"] = s["premature"] / s["runs"]
    rows = []
    by = s.groupby(["criterion", "min_steps"])[["premature_rate", "success_rate", "median_stop_step"]].mean()
    for (crit, ms), v in by.iterrows():
        rows.append(_row(f"{crit} < ε, min_steps {ms}: premature share / success / median stop step "
                         "(mean over α, ε)", "–",
                         f"{v['premature_rate']:.2f} / {v['success_rate']:.2f} / {v['median_stop_step']:.0f}", None))
    sw = validate(res.config)
    waste = rule_comparison(res.runs, res.stops, res.curves, sw.success_tol, sw.f_target)
    for (crit, ms), v in waste.groupby(["criterion", "min_steps"])["total_wasted_steps"].sum().items():
        rows.append(_row(f"{crit} < ε, min_steps {ms}: steps spent after f − f* ≤ {sw.f_target:g} was reached "
                         "(all α, ε, starts)", "–", v, None, "{:,.0f}"))
    worst = s.sort_values("premature_rate", ascending=False).iloc[0]
    rows.append(_row("stops too early most often", "α = 1e-4 with |Δf| < 0.001: after one step",
                     f"{worst['criterion']} < {worst['epsilon']:g}, α = {worst['alpha']:g}, min_steps "
                     f"{worst['min_steps']}: {worst['premature_rate']:.0%} of starts", None))
    good = s[s["success_rate"] >= 0.99]
    if len(good):
        best = good.sort_values("median_stop_step").iloc[0]
        rows.append(_row("cheapest rule that works (≥ 99% of starts stop at the minimum)", "–",
                         f"{best['criterion']} < {best['epsilon']:g}, α = {best['alpha']:g}, min_steps "
                         f"{best['min_steps']}: median {best['median_stop_step']:.0f} steps", None))
    return _frame(rows)


def _stopping_rules_figure(res: Results):
    s = _rules_summary(res)
    s["premature_rate"] = s["premature"] / s["runs"]
    mins = sorted(s["min_steps"].unique())
    fig, axes = F.figure_panels(len(mins), width=5.0, height=3.8)
    for ax, ms in zip(axes, mins):
        sub = s[s["min_steps"] == ms].groupby(["criterion", "epsilon"])["premature_rate"].mean().reset_index()
        for crit, block in sub.groupby("criterion"):
            ax.semilogx(block["epsilon"], block["premature_rate"], "o-", label=crit)
        ax.set_xlabel("epsilon")
        ax.set_ylabel("share of starts stopped far from a minimum")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"x²·sin x, min_steps = {ms}: premature stops (mean over α)", fontsize=9)
        ax.legend(fontsize=7, title="criterion", title_fontsize=7)
    return fig


def _no_minimum_numbers(res: Results) -> pd.DataFrame:
    runs = res.runs
    moved = runs[points(runs["x0"]).any(axis=1)]
    div = moved["status"] == "diverged"
    ends = points(moved.loc[div, "x_final"])
    ratio = np.median(ends[:, 1] / ends[:, 0]) if len(ends) else math.nan
    eig = inspect_point("saddle_3x2_2xy", (0, 0))
    direction = np.linalg.eigh(eig.hessian)[1][:, 0]
    rows = [_row("gd from starts other than the saddle: status", "diverges (no minimum)",
                 f"{int(div.sum())} of {len(moved)} diverged", div.all()),
            _row("the direction it runs away in, x2 / x1", "along x2 < 0 where 3x1² + 2x1x2 → −∞",
                 ratio, abs(ratio - direction[1] / direction[0]) < 0.05, "{:.3f}"),
            _row("the start at (0, 0)", "a stationary point, not a minimum",
                 ", ".join(sorted(set(runs.loc[~points(runs["x0"]).any(axis=1), "point_type"].astype(str)))),
                 None)]
    return _frame(rows)


def _no_minimum_figure(res: Results):
    probs = _problems(res)
    prob = probs["saddle_3x2_2xy"]
    fig, axes = F.figure_panels(2, width=5.0, height=4.4)
    F.plot_paths_2d(prob, res.traces, "3x1² + 2x1x2: level lines, −∇f, and gd paths leaving", axes[0])
    for run_id, t in res.traces.groupby("run_id"):
        xs = _xs(t)
        axes[1].semilogy(t["step"], np.linalg.norm(xs, axis=1), lw=1, color="tab:red", alpha=0.7)
    axes[1].axhline(validate(res.config).diverge_x, color="0.4", ls="--", lw=1)
    axes[1].text(0, validate(res.config).diverge_x * 1.5, "divergence bound", fontsize=7)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("‖x‖")
    axes[1].set_title("‖x‖ grows geometrically: gdlab stops it as diverged", fontsize=9)
    return fig


def _momentum_numbers(res: Results) -> pd.DataFrame:
    runs = res.runs
    med = runs.groupby("method")["n_iter"].median()
    ok = runs.groupby("method")["status"].apply(lambda s: (s == "converged").mean())
    rows = [_row(f"{m}: median steps to ‖∇f‖ < ε over {int((runs['method'] == m).sum())} starts", "–", med[m],
                 None, "{:.0f}") for m in med.index]
    rows += [_row(f"{m}: share converged", "–", ok[m], None, "{:.2f}") for m in ok.index]
    if {"gd", "momentum"} <= set(med.index):
        rows.append(_row("steps saved by momentum (gd ÷ momentum)", "momentum gets there in fewer steps",
                         med["gd"] / med["momentum"], med["momentum"] < med["gd"], "{:.2f}×"))
    return _frame(rows)


def _momentum_figure(res: Results):
    probs = _problems(res)
    prob = probs.get("ravine") or next(iter(probs.values()))
    runs = res.runs
    methods = list(runs["method"].unique())
    fig, axes = F.figure_panels(len(methods) + 1, width=4.6, height=4.2)
    traced = set(res.traces["run_id"])
    x0 = None
    for ax, m in zip(axes, methods):
        mine = runs[(runs["method"] == m) & runs["run_id"].isin(traced)]
        if x0 is None and len(mine):
            x0 = points(mine["x0"])[0]
        same = np.all(np.isclose(points(mine["x0"]), x0), axis=1) if len(mine) else np.zeros(0, bool)
        pick = mine[same] if same.any() else mine.head(1)
        n = int(pick["n_iter"].iloc[0]) if len(pick) else 0
        F.plot_paths_2d(prob, res.traces[res.traces["run_id"].isin(pick["run_id"])],
                        f"{prob.name}: {m}, one start, {n} steps to ‖∇f‖ < ε", ax, field=False)
    _bands_by_method(res, runs, "f − f*: median and 10–90% band across starts", axes[-1])
    return fig


def _global_share(res: Results) -> pd.DataFrame:
    probs = _problems(res)
    tol = validate(res.config).success_tol
    rows = []
    for (p, a), g in res.runs.groupby(["problem", "alpha"]):
        f_min = np.asarray(probs[p].f_min)
        glob = np.flatnonzero(np.isclose(f_min, f_min.min()))
        hit = g["min_id"].isin(glob) & (g["dist_to_min"] <= tol)
        rows.append({"problem": p, "alpha": a, "share": hit.mean(), "best_f": g["f_final"].min(),
                     "f_star": f_min.min()})
    return pd.DataFrame(rows)


def _multistart_numbers(res: Results) -> pd.DataFrame:
    share = _global_share(res)
    rows = []
    for p, g in share.groupby("problem"):
        rows.append(_row(f"{p}: share of starts that reach the global minimum, by α",
                         "one start may miss it", ", ".join(f"α={a:g}: {s:.1%}" for a, s in zip(g["alpha"], g["share"])),
                         None))
        rows.append(_row(f"{p}: best f over all starts and α against the global minimum f*",
                         "take the best of many starts", f"{g['best_f'].min():.6g} vs {g['f_star'].iloc[0]:.6g}",
                         abs(g["best_f"].min() - g["f_star"].iloc[0]) < 1e-6))
    return _frame(rows)


def _multistart_figure(res: Results):
    share = _global_share(res)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for p, g in share.groupby("problem"):
        ax.semilogx(g["alpha"], g["share"], "o-", label=p)
    ax.set_xlabel("alpha")
    ax.set_ylabel("share of starts reaching the global minimum")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{int(res.runs.groupby(['problem', 'alpha']).size().iloc[0]):,} uniform starts per point", fontsize=9)
    ax.legend(fontsize=8)
    return fig


_STEP_SIZES = ((0.01, "too small: many steps"), (0.3, "about right"), (0.9, "too large: overshoots, converges"),
               (1.05, "far too large: diverges"))


def _step_size_numbers(res: Results) -> pd.DataFrame:
    rows = []
    steps = {}
    for alpha, what in _STEP_SIZES:
        r = _run(res, alpha=alpha)
        xs = _xs(_trace(res, int(r["run_id"])))[:, 0]
        flips = int(np.sum(np.sign(xs[1:]) != np.sign(xs[:-1])))
        steps[alpha] = int(r["n_iter"])
        rows.append(_row(f"α = {alpha:g}", what, f"{r['status']} after {int(r['n_iter'])} steps, crossed the "
                         f"minimum {flips} times", None))
    rows[0]["agrees"] = steps[0.01] > 10 * steps[0.3]
    rows[2]["agrees"] = _run(res, alpha=0.9)["status"] == "converged" and steps[0.9] > steps[0.3]
    rows[3]["agrees"] = _run(res, alpha=1.05)["status"] == "diverged"
    return _frame(rows)


def _step_size_figure(res: Results):
    fig, axes = F.figure_panels(4, width=4.0, height=3.6)
    prob = next(iter(_problems(res)))
    for ax, (alpha, what) in zip(axes, _STEP_SIZES):
        r = _run(res, alpha=alpha)
        upto = 20 if alpha > 1 else 40
        _curve(res, prob, r, f"α = {alpha:g}: {what}\n(the first {upto} steps)", ax, upto=upto,
               xlim=(-30, 30) if alpha > 1 else None)
    return fig


def _regression_numbers(res: Results) -> pd.DataFrame:
    prob = _problems(res)["linreg_mse"]
    k_star = np.asarray(prob.minima[0])   # the registry's known minimum is numpy.linalg.lstsq's answer
    rows = []
    for m, g in res.runs.groupby("method"):
        ks = points(g["x_final"])
        err = float(np.abs(ks - k_star).max())
        rows.append(_row(f"{m}: max |k − k_lstsq| over {len(g)} starts", "≤ 1e-6 (least squares)", err, err <= 1e-6,
                         "{:.2e}"))
    best = res.runs.loc[res.runs["f_final"].idxmin()]
    rows.append(_row("MSE at gdlab's coefficients vs at numpy.linalg.lstsq's", f"{prob.f_min[0]:.10f}",
                     float(best["f_final"]), abs(best["f_final"] - prob.f_min[0]) < 1e-9, "{:.10f}"))
    rows.append(_row("coefficients k0 … k5", "(" + ", ".join(f"{v:.6f}" for v in k_star) + ")",
                     np.asarray(best["x_final"]), None, "{:.6f}"))
    return _frame(rows)


def _regression_figure(res: Results):
    k_star = np.asarray(_problems(res)["linreg_mse"].minima[0])
    fig, axes = F.figure_panels(2, width=5.2, height=4.0)
    best = res.runs.loc[res.runs["f_final"].idxmin()]
    idx = np.arange(6)
    axes[0].bar(idx - 0.2, k_star, 0.4, label="numpy.linalg.lstsq")
    axes[0].bar(idx + 0.2, np.asarray(best["x_final"]), 0.4, label=f"gdlab ({best['method']})")
    axes[0].set_xticks(idx, [f"k{i}" for i in idx])
    axes[0].set_title("the 6 coefficients: gradient descent against least squares", fontsize=9)
    axes[0].legend(fontsize=7)
    _bands_by_method(res, res.runs, "MSE − MSE*: median and 10–90% band across starts", axes[1])
    return fig


def _constraints_table(res: Results) -> pd.DataFrame:
    probs = _problems(res)
    rows = []
    for name, g in res.runs.groupby("problem"):
        prob = probs[name]
        best = g.loc[g["f_final"].idxmin()]
        x = np.asarray(best["x_final"])
        mu = float(name.rsplit("mu", 1)[1]) if "mu" in name else math.nan
        target = np.asarray(prob.minima[0]) if prob.minima else np.full(2, np.nan)
        rows.append({"problem": name, "inequality": name.startswith("fence6"), "mu": mu, "x1": x[0], "x2": x[1],
                     "area": x[0] * x[1], "lagrange_x1": target[0], "lagrange_x2": target[1],
                     "distance": float(np.linalg.norm(x - target)), "lambda": 2 * mu * (2 * x[0] + 2 * x[1] - 20)})
    return pd.DataFrame(rows).sort_values(["inequality", "mu"])


def _constraints_numbers(res: Results) -> pd.DataFrame:
    t = _constraints_table(res)
    rows = []
    for ineq, g in t.groupby("inequality"):
        last = g.iloc[-1]
        answer, area = ("(6, 4)", 24) if ineq else ("(5, 5)", 25)
        what = "2x1 + 2x2 = 20, x1 ≥ 6" if ineq else "2x1 + 2x2 = 20"
        for r in g.itertuples():
            rows.append(_row(f"max x1·x2, {what}; penalty μ = {r.mu:g}: x, area, distance to {answer}", "–",
                             f"({r.x1:.6f}, {r.x2:.6f}), {r.area:.5f}, {r.distance:.2e}", None))
        rows.append(_row(f"max x1·x2, {what}: area at the largest μ", f"{area} at {answer}", last["area"],
                         abs(last["area"] - area) < 1e-3 and last["distance"] < 1e-3, "{:.5f}"))
        if len(g) > 1:
            slope = np.polyfit(np.log10(g["mu"]), np.log10(g["distance"]), 1)[0]
            rows.append(_row(f"{what}: distance to the Lagrange point against μ, slope on log-log axes",
                             "→ 0 as μ grows (order 1/μ)", slope, abs(slope + 1) < 0.1, "{:.3f}"))
        if not ineq:
            rows.append(_row("Lagrange multiplier λ (∇(x1·x2) = λ∇(2x1 + 2x2)), estimated as 2μ·h(x)",
                             "λ = 2.5", last["lambda"], abs(last["lambda"] - 2.5) < 1e-3, "{:.5f}"))
    return _frame(rows)


def _constraints_figure(res: Results):
    t = _constraints_table(res)
    fig, axes = F.figure_panels(2, width=5.0, height=4.4)
    ax = axes[0]
    gx, gy = np.meshgrid(np.linspace(0, 10, 200), np.linspace(0, 10, 200))
    cs = ax.contour(gx, gy, gx * gy, levels=[4, 9, 16, 24, 25, 36, 49, 64], cmap="viridis", linewidths=0.8)
    ax.clabel(cs, fontsize=7)
    ax.plot([0, 10], [10, 0], color="black", lw=1.5, label="2x1 + 2x2 = 20")
    ax.axvspan(0, 6, color="0.85", alpha=0.5, label="x1 < 6 (excluded by x1 ≥ 6)")
    for ineq, color in ((False, "tab:red"), (True, "tab:blue")):
        last = t[t["inequality"] == ineq]
        if not len(last):
            continue
        name = last.iloc[-1]["problem"]
        ids = res.runs.loc[res.runs["problem"] == name, "run_id"]
        for _, path in res.traces[res.traces["run_id"].isin(ids)].groupby("run_id"):
            xy = _xs(path)
            ax.plot(xy[:, 0], xy[:, 1], "-", color=color, lw=1, alpha=0.8)
        ax.plot(last.iloc[-1]["lagrange_x1"], last.iloc[-1]["lagrange_x2"], "*", ms=13, color="gold",
                markeredgecolor="black", zorder=5)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title("level lines of the area x1·x2, the fence, gd paths\n(red: = only, blue: with x1 ≥ 6; ★ Lagrange)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    for ineq, g in t.groupby("inequality"):
        axes[1].loglog(g["mu"], g["distance"], "o-", label="with x1 ≥ 6" if ineq else "2x1 + 2x2 = 20 only")
    axes[1].set_xlabel("penalty weight μ")
    axes[1].set_ylabel("distance to the Lagrange point")
    axes[1].set_title("the penalty's answer approaches the Lagrange answer as 1/μ", fontsize=9)
    axes[1].legend(fontsize=7)
    return fig


def _setting_name(run: pd.Series) -> str:
    """gd, gd + exponential_decay, adam, …: a run's method, with its schedule where it has one."""
    sched = run.get("schedule", "constant")
    return run["method"] if sched in ("constant", None) else f"{run['method']} + {sched}"


def _with_names(res: Results) -> pd.DataFrame:
    runs = res.runs.copy()
    runs["setting"] = [_setting_name(r) for _, r in runs.iterrows()]
    runs["evaluations"] = runs["n_f"] + runs["n_grad"]
    return runs


def _best_alpha(group: pd.DataFrame) -> pd.Series | None:
    """The run of the fewest evaluations among those that converged (None where none did)."""
    ok = group[group["status"] == "converged"]
    return None if not len(ok) else ok.sort_values(["evaluations", "alpha"], kind="stable").iloc[0]


def _learning_rate_numbers(res: Results) -> pd.DataFrame:
    runs = _with_names(res)
    rows = []
    first = _run(res, "x4", 20.0, method="gd", alpha=0.001, schedule="constant")
    x1 = float(_xs(_trace(res, int(first["run_id"]), 1))[1, 0])
    rows.append(_row("x⁴ from 20, α = 0.001: the first step lands at", "−12: the step α·f′(20) = 32 jumps over "
                     "the minimum", x1, abs(x1 + 12) < 1e-9))
    fixed = runs[runs["setting"] == "gd"]
    best = {}
    for prob, g in fixed.groupby("problem", sort=False):
        shown = ", ".join(f"α={r['alpha']:g}: {int(r['n_iter']) if r['status'] == 'converged' else r['status']}"
                          for _, r in g.sort_values("alpha").iterrows())
        b = _best_alpha(g)
        best[prob] = None if b is None else float(b["alpha"])
        rows.append(_row(f"{prob}, gd with a fixed α: steps to ‖∇f‖ < 1e-3", "too small crawls, too large "
                         "overshoots or diverges", shown, None))
    chosen = [a for a in best.values() if a is not None]
    rows.append(_row("the fixed α with the fewest steps, per problem", "no one α suits every function",
                     ", ".join(f"{p}: {a:g}" for p, a in best.items() if a is not None),
                     len(set(chosen)) > 1 if len(chosen) > 1 else None))
    totals = {}
    for setting, g in runs.groupby("setting", sort=False):
        parts, total = [], 0.0
        for prob, h in g.groupby("problem", sort=False):
            b = _best_alpha(h)
            if b is None:
                parts.append(f"{prob}: none converged")
                total = math.nan
                continue
            parts.append(f"{prob}: {int(b['n_iter'])} steps, {int(b['evaluations'])} evaluations (α={b['alpha']:g})")
            total += float(b["evaluations"])
        ok = int((g["status"] == "converged").sum())
        rows.append(_row(f"{setting} at its best α; converged in {ok} of {len(g)} (problem, α)", "–",
                         "; ".join(parts), None))
        rows[-1]["value"] = totals[setting] = total
    measured = [m for m in ("backtracking", "bb1") if m in totals]
    if "gd" in totals and measured:
        rows.append(_row("evaluations at the best α, summed over the three problems: the steps chosen by "
                         "measuring f (backtracking, Barzilai–Borwein) against the best fixed α",
                         "a step that adapts to the function beats a fixed one",
                         ", ".join(f"{m}: {totals[m]:.0f}" for m in [*measured, "gd"]),
                         all(totals[m] < totals["gd"] for m in measured)))
    return _frame(rows)


def _learning_rate_figure(res: Results):
    runs = _with_names(res)
    problems = list(runs["problem"].unique())
    fig, axes = F.figure_panels(len(problems), width=5.2, height=4.0)
    for ax, prob in zip(axes, problems):
        mine = runs[runs["problem"] == prob]
        for setting, g in mine.groupby("setting", sort=False):
            g = g.sort_values("alpha")
            ok = g["status"] == "converged"
            y = np.where(ok, g["evaluations"], np.nan)
            line, = ax.loglog(g["alpha"], y, "o-", ms=4, lw=1.2, label=setting)
            bad = g[~ok]
            ax.plot(bad["alpha"], np.full(len(bad), 3e5), "x", ms=6, color=line.get_color())
        ax.axhline(2e5, color="0.7", lw=0.8, ls=":")
        ax.set_xlabel("α (a first step, for backtracking, BB and sign_halving)", fontsize=8)
        ax.set_ylabel("evaluations of f and ∇f to ‖∇f‖ < 1e-3")
        ax.set_title(f"{prob}: × above the dotted line: did not converge", fontsize=9)
    F.legend_beside(axes[-1])       # the settings are the same in every panel
    return fig


def _methods_review_numbers(res: Results) -> pd.DataFrame:
    runs = _with_names(res)
    tol = validate(res.config).success_tol
    # a success: the rule fired (‖∇f‖ < ε) within success_tol of the minimum; steps and evaluations of those
    runs["ok"] = (runs["status"] == "converged") & (runs["dist_to_min"] <= tol)
    rows, med = [], {}
    for method, g in runs.groupby("method", sort=False):
        parts = []
        for prob, h in g.groupby("problem", sort=False):
            won = h[h["ok"]]
            by = pd.DataFrame({"share": h.groupby("alpha")["ok"].mean(),
                               "steps": won.groupby("alpha")["n_iter"].median(),
                               "evals": won.groupby("alpha")["evaluations"].median()})
            by["evals"] = by["evals"].fillna(math.inf)
            b = by.sort_values(["share", "evals"], ascending=[False, True], kind="stable").iloc[0]
            med[(method, prob)] = (b["share"], b["evals"], b["steps"])
            alpha = by.sort_values(["share", "evals"], ascending=[False, True], kind="stable").index[0]
            parts.append(f"{prob}: {b['share']:.0%}, median {b['steps']:.0f} steps, {b['evals']:.0f} evaluations "
                         f"(α={alpha:g})" if b["share"] > 0 else f"{prob}: no start succeeded at any α")
        rows.append(_row(f"{method} at its best α: success (‖∇f‖ < ε within {tol:g} of the minimum), and the "
                         "successes' median steps and evaluations", "–", "; ".join(parts), None))
    probs = list(runs["problem"].unique())

    def evals(m, p):
        share, e, _ = med.get((m, p), (0, math.inf, math.inf))
        return e if share > 0.5 else math.inf

    if "ravine" in probs and {"gd", "momentum", "nesterov"} <= {m for m, _ in med}:
        rows.append(_row("ravine: median steps of momentum and nesterov against gd", "momentum keeps its speed "
                         "along a ravine where gd zig-zags",
                         ", ".join(f"{m}: {med[(m, 'ravine')][2]:.0f}" for m in ("gd", "momentum", "nesterov")),
                         max(med[("momentum", "ravine")][2], med[("nesterov", "ravine")][2]) < med[("gd", "ravine")][2]))
    second = [m for m in ("lbfgs", "newton") if (m, probs[0]) in med]
    if second:
        first = [m for m, _ in med if m not in second]
        rows.append(_row("evaluations: the methods that use curvature (lbfgs, newton) against the fastest "
                         "first-order one, per problem", "curvature buys far fewer steps",
                         "; ".join(f"{p}: " + ", ".join(f"{m} {evals(m, p):.0f}" for m in second) +
                                   f", best first-order {min(evals(m, p) for m in first):.0f}" for p in probs),
                         all(max(evals(m, p) for m in second) < min(evals(m, p) for m in first) for p in probs)))
    return _frame(rows)


def _methods_review_figure(res: Results):
    runs = _with_names(res)
    tol = validate(res.config).success_tol
    probs = list(runs["problem"].unique())
    fig, axes = F.figure_panels(len(probs), width=7.6, height=4.4, max_cols=2)
    for ax, prob in zip(axes, probs):
        mine = runs[runs["problem"] == prob]
        label = mine["method"] + " α=" + mine["alpha"].map("{:g}".format)
        best = best_settings(mine, label, tol)
        sub = mine[label.isin(best["label"])]
        bands = convergence_bands(sub, res.curves[res.curves["run_id"].isin(sub["run_id"])], ["method", "alpha"])
        bands["evaluations"] = START_EVALS + bands["step"] * bands["method"].map(
            evaluations_per_step(sub, sub["method"]))
        bands["label"] = bands["method"] + " α=" + bands["alpha"].map("{:g}".format)
        F.plot_bands(bands, f"{prob}: each method at its best α", ax, against="evaluations", legend="beside")
    return fig


SCENARIOS: Registry[Scenario] = Registry("lesson scenario")
for _scenario in [
    Scenario("derivatives", "000, 002, 004", "Derivatives, gradients and the Hessian",
             "What are the gradient and the partial derivatives at a point, and is a stationary point a minimum?",
             "gdlab's gradients are JAX's exact derivatives, so they match the hand-computed values to the last "
             "digit; the Hessian's eigenvalues (2, 2) classify (5, 6) as a minimum, and (0, 0) of 3x1² + 2x1x2 "
             "as a saddle. From the command line: gdlab point '3*x1**2 + 2*x1*x2' -20 -20.",
             _derivatives_numbers, _derivatives_figure),
    Scenario("step_halving", "000", "The first algorithm: step Δx against the sign of f′, halve it on a flip",
             "How does the sign-and-halve algorithm move, and what does a fixed Δx cost far from the minimum?",
             "The points are the lesson's, to the digit. From 20, 200 and 2000 the fixed Δx = 1 needs as many "
             "steps as the distance: the reason to make the step depend on the derivative.",
             _halving_numbers, _halving_figure),
    Scenario("step_proportional", "000", "A step proportional to the derivative",
             "With x ← x − α·f′(x), how long is the step on x⁴ at x = 5 and at x = 20?",
             "Where f′ is large the step is large: 0.5 at x = 5 but 32 at x = 20, which jumps over the minimum to "
             "−12. Near 0, where x⁴ is flat, the steps become tiny and the run crawls.",
             _proportional_numbers, _proportional_figure),
    Scenario("two_x_sin", "000", "2x·sin x from 2.5", "Where does gradient descent from x = 2.5 with α = 0.005 end?",
             "It ends at the local minimum where tan x = −x, x ≈ 4.9132.", _two_x_sin_numbers, _two_x_sin_figure),
    Scenario("x2_sin", "001", "x²·sin x: three runs and their stopping rule",
             "With |Δf| < 0.001, what happens at α = 0.005, at α = 1e-4, and at α = 1e-4 with at least 100 steps?",
             "The lesson's three numbers. At α = 1e-4 the rule fires after one step because f barely changes; "
             "forcing 100 steps only moves the stop to x ≈ 2.521, still 2.57 from the minimum: the rule, not the "
             "step count, is the problem.", _x2_sin_numbers, _x2_sin_figure),
    Scenario("stopping_rules", "001", "x²·sin x at scale: which stopping rules work",
             "Over 200 starts × α × ε × criterion × min_steps, which combinations stop too early, which waste "
             "steps, and which work?",
             "|Δf| and ‖Δx‖ with a small α stop far from the minimum on many starts (the step is small because "
             "α is, not because the minimum is near); ‖∇f‖ < ε rarely does, because it measures the slope itself, "
             "but it pays in steps spent after the run was already within f_target of the minimum. min_steps "
             "only adds steps; it does not repair a rule that fires for the wrong reason.",
             _stopping_rules_numbers, _stopping_rules_figure),
    Scenario("no_minimum", "000", "A function with no minimum", "What does gradient descent do on 3x1² + 2x1x2?",
             "Every start off the saddle runs away along the Hessian's negative-curvature direction and gdlab "
             "marks the run diverged; the start at the saddle itself never moves (∇f = 0 there).",
             _no_minimum_numbers, _no_minimum_figure),
    Scenario("momentum", "004", "Momentum on a ravine",
             "On a narrow valley (condition number 100), how many steps do gd and heavy-ball momentum (γ = 0.9) need?",
             "gd zig-zags across the valley; momentum keeps its speed along it and needs about half the steps.",
             _momentum_numbers, _momentum_figure),
    Scenario("multistart", "001, 004", "Many starts, take the best",
             "On functions with many minima, how many starts reach the global minimum, and does the best of many "
             "find it?",
             "A single start often lands in a local minimum; the share depends on α. The best of thousands of "
             "starts finds the global minimum on each function.", _multistart_numbers, _multistart_figure),
    Scenario("step_size", "003, 004", "The step size: too small, right, too large",
             "What do α = 0.01, 0.3, 0.9 and 1.05 do on x² from x = 4?",
             "Too small crawls (hundreds of steps); right is quick; too large jumps across the minimum every step "
             "and still converges (slowly); past 2/f″ = 1 every jump is longer than the last and the run diverges.",
             _step_size_numbers, _step_size_figure),
    Scenario("regression", "000", "Linear regression by gradient descent",
             "Does gradient descent on the MSE of y = k0 + k1·x1 + … + k5·x5 find the least-squares coefficients?",
             "From every start, gd and momentum end within 1e-6 of numpy.linalg.lstsq's coefficients.",
             _regression_numbers, _regression_figure),
    Scenario("constraints", "004", "Constraints: the fence (Lagrange)",
             "Maximise x1·x2 with 2x1 + 2x2 = 20 (and then x1 ≥ 6 too): does gradient descent on a penalised "
             "function reach the Lagrange answer?",
             "With a quadratic penalty μ·h(x)², the minimiser lies about 1/μ from the Lagrange point (5, 5) "
             "(and (6, 4) with x1 ≥ 6); at μ = 10⁴ it is within 5e-5 (2e-4), with area 25.0003 (24.0006), and "
             "2μ·h(x) estimates "
             "the Lagrange multiplier λ = 2.5.", _constraints_numbers, _constraints_figure),
    Scenario("learning_rate", "000", "How should the learning rate change from step to step?",
             "On x⁴ from 20, x²·sin x from 2.5 and the ravine, how do a fixed α, a decaying α, a line search, "
             "Barzilai–Borwein, Adam and the sign-and-halve rule compare, in steps and evaluations to ‖∇f‖ < 1e-3?",
             "No fixed α suits all three: the one that is right on the ravine or x²·sin x diverges on x⁴ from 20, "
             "and the one that survives x⁴ crawls elsewhere. A decay set in advance shrinks the step whether or "
             "not it is too large, and stalls where the steps left sum to less than the distance. The steps "
             "chosen from what the run measures (Armijo backtracking shrinks a step until f falls enough; "
             "Barzilai–Borwein takes the curvature of the last step; Adam and sign_halving scale each "
             "coordinate) reach the tolerance over most of the α range, and backtracking and Barzilai–Borwein "
             "need fewer evaluations in all than the best fixed α.",
             _learning_rate_numbers, _learning_rate_figure),
    Scenario("methods_review", "000, 004", "The review of gradient methods, measured",
             "On the ravine and on Rosenbrock's valley, how do gd, momentum, Nesterov, Adagrad, RMSProp, Adadelta, "
             "Adam, L-BFGS and Newton do, each at its best α: how often they succeed, in how many steps and "
             "evaluations?",
             "Momentum and Nesterov cross the ravine in fewer steps than gd. The adaptive first-order methods "
             "(Adagrad, RMSProp, Adadelta, Adam) are no faster on these smooth valleys: Adam is the most reliable "
             "of all first-order methods on Rosenbrock, but RMSProp and Adadelta rarely get ‖∇f‖ below 1e-6 "
             "there. The methods that use curvature, L-BFGS and Newton, need one to three orders of magnitude "
             "fewer evaluations.",
             _methods_review_numbers, _methods_review_figure),
]:
    SCENARIOS.add(_scenario)


LESSONS: list[str] = list(SCENARIOS)


def unknown_scenarios(names: Sequence[str]) -> list[str]:
    """A config error for each name that is no lesson scenario, with the closest one."""
    return [f"lessons: unknown scenario {n!r}{did_you_mean(n, SCENARIOS)} (known: {', '.join(LESSONS)})"
            for n in names if n not in SCENARIOS]


def lesson_numbers(name: str, res: Results) -> pd.DataFrame:
    """The scenario's table: quantity, the lesson's value, gdlab's, the number behind it, and whether they agree."""
    return SCENARIOS[name].numbers(res)


def lesson_figure(name: str, res: Results) -> plt.Figure:
    fig = SCENARIOS[name].figure(res)
    fig.suptitle(f"lesson {SCENARIOS[name].lessons} — {SCENARIOS[name].title}", fontsize=11)
    return fig
