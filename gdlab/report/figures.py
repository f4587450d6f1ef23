"""Figures: each function takes tidy data and an optional ``ax``, draws, and returns the ax.

Statistics come from :mod:`gdlab.stats`; nothing here computes more than
what it draws. ``figure_*`` builders lay several panels out and return the
Figure.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from ..core.methods import METHODS, get_method
from ..core.precision import x64
from ..core.problems import Problem, cast_params
from ..core.schedules import SCHEDULES, get_schedule
from ..tables.columns import points
from ..tables.stats import TARGETS
from .render import PowerFormatter, log_axes  # noqa: F401  (re-exported: the figures' axis helpers)

__all__ = ["setting_label", "plot_curve_1d", "view_1d", "plot_paths_2d", "plot_bands", "legend_beside", "plot_heatmap", "value_limits", "plot_basins",
           "plot_ecdf", "plot_rule_comparison", "figure_panels", "log_axes", "PowerFormatter"]


#: how a label writes a setting's hyperparameters (the others by name)
_SHORT = {"alpha": "α", "momentum": "γ"}


def setting_label(method: str, alpha: float, momentum: float | None = None, schedule: str | None = None,
                  exact: bool = False, **hyper) -> str:
    """``adam α=0.01 b1=0.8``: the method, alpha and γ, each other hyperparameter it has (NaN: one it
    has not) away from its default, then the schedule where it is not the constant step, with its
    parameters away from their defaults. Numbers to six digits, or with ``exact`` every digit they
    need (for settings that six digits do not tell apart)."""
    def given(v):
        return v is not None and not (isinstance(v, float) and math.isnan(v))

    def num(v) -> str:
        return repr(float(v)) if exact else f"{v:g}"

    label = f"{method} α={num(alpha)}"
    if given(momentum):
        label += f" γ={num(momentum)}"
    sched = get_schedule(schedule) if given(schedule) and schedule in SCHEDULES else None
    own = [(k, v) for k, v in hyper.items() if given(v) and not (sched and k in sched.rows)]
    defaults = get_method(method).defaults() if method in METHODS else {}
    label += "".join(f" {_SHORT.get(k, k)}={num(v)}" for k, v in own if defaults.get(k) != v)
    if sched is not None and sched.name != "constant":
        label += f", {sched.name}" + "".join(f" {k}={num(hyper[k])}" for k in sched.rows
                                             if given(hyper.get(k)) and hyper[k] != sched.defaults()[k])
    return label


def _evaluate(problem: Problem, xs: np.ndarray) -> np.ndarray:
    with x64(True):
        return np.asarray(_compiled(problem.own_objective, "f")(jnp.asarray(xs, jnp.float64),
                                                                 cast_params(problem.params, "float64")))


def _gradients(problem: Problem, xs: np.ndarray) -> np.ndarray:
    with x64(True):
        return np.asarray(_compiled(problem.own_objective, "grad")(jnp.asarray(xs, jnp.float64),
                                                                    cast_params(problem.params, "float64")))


@functools.lru_cache(maxsize=64)
def _compiled(objective, what: str):
    """(points (n, d), the problem's params) → f (``"f"``) or ∇f (``"grad"``) at each point, as one
    compiled program an objective (a family's problems share it, their params an input), kept for
    the process's later figures. Run operation by operation, JAX compiled each operation of f on
    its own the first time: 0.3 s for Himmelblau's f and 0.6 s for its gradient at a report's first
    figure, against 0.17 s for both programs."""
    def one(x, params):
        fn = objective.bind(params)
        return fn(x) if what == "f" else jax.grad(fn)(x)
    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def figure_panels(n: int, width: float = 4.2, height: float = 3.6, max_cols: int = 4):
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


#: how far past its domain a 1-D panel widens to show visited points, in widths of the domain on each side;
#: a point further out (a diverging run) is drawn as an arrow at the edge, not by stretching the axes
VIEW_WIDTHS = 2.0


def view_1d(domain: tuple[float, float], xs: np.ndarray, runaway: bool = True) -> tuple[float, float]:
    """A 1-D panel's x range: the problem's domain widened to the visited points, all of them for a run
    that came to rest, or (``runaway``: it diverged or overflowed) those within :data:`VIEW_WIDTHS`
    domain widths of it."""
    lo, hi = domain
    reach = VIEW_WIDTHS * (hi - lo) if runaway else np.inf
    near = xs[np.isfinite(xs) & (xs >= lo - reach) & (xs <= hi + reach)]
    return (min(lo, near.min()), max(hi, near.max())) if len(near) else (lo, hi)


#: the statuses of a run that ran away: its 1-D panel is not stretched to where it went
RUNAWAY = ("diverged", "nonfinite")


def plot_curve_1d(problem: Problem, trace: pd.DataFrame, title: str, ax=None, xlim=None, status: str | None = None):
    """The lesson's picture: f on its domain (or ``xlim``) with the points a descent visited, the last one
    labelled inside the axes. The view keeps the domain, widened to the visited points (near it only
    for a run that ran away: ``status`` names diverged or nonfinite, or its last point is not finite;
    :func:`view_1d`); where the run leaves the view, an arrow at the edge says where it went and how
    the run ended (``status``)."""
    ax = ax or plt.gca()
    xs = points(trace["x"])[:, 0] if len(trace) else np.zeros(0)
    fs = trace["f"].to_numpy(dtype=np.float64) if len(trace) else np.zeros(0)
    runaway = any(word in (status or "") for word in RUNAWAY) or bool(len(xs)) and not (
        np.isfinite(xs[-1]) and np.isfinite(fs[-1]))
    lo, hi = xlim if xlim is not None else view_1d(problem.domain[0], xs, runaway)
    grid = np.linspace(lo, hi, 1000)
    curve = _evaluate(problem, grid[:, None])
    ax.plot(grid, curve, color="0.3", lw=1.5, label="f(x)")
    inside = np.isfinite(xs) & np.isfinite(fs) & (xs >= lo) & (xs <= hi)
    left = np.flatnonzero(~inside)
    shown = len(xs) if not len(left) else left[0]          # the points up to the first one out of view
    ys = np.r_[curve[np.isfinite(curve)], fs[:shown]]
    if len(ys):
        y0, y1 = ys.min(), ys.max()
        pad = 0.06 * (y1 - y0 or 1.0)
        ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_xlim(lo, hi)
    if len(xs):
        n = len(xs) - 1
        ax.scatter(xs[:shown], fs[:shown], s=14, color="tab:red", zorder=3,
                   label=f"{n} step{'s' if n != 1 else ''}")
        if shown < len(xs):
            x_out = xs[shown]
            # the side it left by: its own x, or (nan, inf) the side of the last point shown
            side = x_out if not np.isnan(x_out) else (xs[shown - 1] if shown else hi)
            right = side > (lo + hi) / 2
            where = f"x = {x_out:.3g}" if np.isfinite(x_out) else f"x = {x_out}"
            text = f"step {shown}: {where}" + (f"\n{status}" if status else "")
            ax.annotate(text, xy=(0.99 if right else 0.01, 0.5), xycoords="axes fraction",
                        xytext=(0.72 if right else 0.28, 0.5), textcoords="axes fraction",
                        ha="center", va="center", fontsize=8, color="tab:red",
                        arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1.5})
        elif shown:
            x, f = xs[shown - 1], fs[shown - 1]
            east = x > (lo + hi) / 2
            north = f > np.mean(ax.get_ylim())
            ax.annotate(f"x={x:.4f}\nf={f:.4f}", (x, f), textcoords="offset points",
                        xytext=(-6 if east else 6, -6 if north else 6), ha="right" if east else "left",
                        va="top" if north else "bottom", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_paths_2d(problem: Problem, traces: pd.DataFrame, title: str, ax=None, field: bool = True):
    """Level lines of f over the domain, the gradient field (arrows against ∇f), and each traced path."""
    ax = ax or plt.gca()
    (x0, x1), (y0, y1) = problem.domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, 160), np.linspace(y0, y1, 160))
    f = _evaluate(problem, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    finite = f[np.isfinite(f)]
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 0.98, 18))) if finite.size else 10
    ax.contour(gx, gy, f, levels=levels, cmap="viridis", linewidths=0.7)
    if field:
        qx, qy = np.meshgrid(np.linspace(x0, x1, 17), np.linspace(y0, y1, 17))
        g = _gradients(problem, np.column_stack([qx.ravel(), qy.ravel()]))
        norm = np.linalg.norm(g, axis=1, keepdims=True)
        g = -g / np.where(norm > 0, norm, 1)
        ax.quiver(qx.ravel(), qy.ravel(), g[:, 0], g[:, 1], color="0.6", width=0.003, scale=30, alpha=0.8)
    for run_id, path in traces.groupby("run_id", sort=True):
        xy = points(path["x"])
        ax.plot(xy[:, 0], xy[:, 1], "-", lw=1.1, color="tab:red", alpha=0.85)
        ax.plot(xy[0, 0], xy[0, 1], "o", ms=3.5, color="tab:red")
        ax.plot(xy[-1, 0], xy[-1, 1], "x", ms=5, color="black")
    for m in problem.minima:
        ax.plot(m[0], m[1], "*", ms=11, color="gold", markeredgecolor="black", zorder=4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title, fontsize=9)
    return ax


def plot_bands(bands: pd.DataFrame, title: str, ax=None, against: str = "step", legend: str = "best"):
    """Median and 10–90% band across starts against step (``against="evaluations"``: the bands'
    ``evaluations`` column), one line per setting (log axes). ``legend="beside"`` puts the legend right
    of the axes, where it covers no band (a figure of many settings: widen it by about 2 inches)."""
    ax = ax or plt.gca()
    drawn = False
    for label, b in bands.groupby("label", sort=False):
        # step 0 on a log axis: plot at k + 1
        step = b["step"].to_numpy().astype(float) + 1 if against == "step" else b[against].to_numpy(float)
        lo, mid, hi = (np.clip(b[c].to_numpy(), 1e-17, None) for c in ("q10", "q50", "q90"))
        line, = ax.plot(step, mid, lw=1.6, label=label)
        ax.fill_between(step, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
        drawn = drawn or bool((np.isfinite(step) & np.isfinite(mid)).any())
    if not drawn:     # every run's values NaN (all nonfinite): a log axis of nothing cannot be laid out
        ax.text(0.5, 0.5, "no finite values to draw:\nevery run here ended nonfinite", transform=ax.transAxes,
                ha="center", va="center", fontsize=9, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        log_axes(ax)
    start = bands.loc[bands["step"] == 0, "q90"].to_numpy()
    if start.size and np.isfinite(start).any() and np.nanmax(start) > 0:
        top = 10 * np.nanmax(start)   # diverging runs leave through the top rather than squash the rest
        ax.set_ylim(top=top if not ax.get_ylim()[1] < top else None)
    measure = bands["measure"].iloc[0] if len(bands) else "f - f*"
    ax.set_xlabel("step k + 1" if against == "step" else "evaluations of f and ∇f")
    ax.set_ylabel("f − f*" if measure == "f - f*" else "‖∇f‖")
    ax.set_title(title, fontsize=9)
    if legend == "beside":
        legend_beside(ax)
    else:
        ax.legend(fontsize=7, loc="best")
    return ax


def legend_beside(ax, **kwargs):
    """The axes' legend right of them, outside the data (the layout makes room for it)."""
    return ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     frameon=False, **kwargs)


def value_limits(values) -> tuple[float, float]:
    """The color limits that span ``values``' finite entries: one scale for panels that are read side by
    side. (0, 1) where there are none, and (v, v + 1) where every one is v (matplotlib would widen a
    scale of one value to v ± 0.1: negative steps on the colorbar of a grid of zeros)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low, low + 1.0)


def plot_heatmap(table: pd.DataFrame, value: str, title: str, ax=None, fmt: str = "{:.2f}", cmap="viridis",
                 limits: tuple[float, float] | None = None, log: bool = False, rows: str = "alpha",
                 columns: str = "epsilon"):
    """A grid of ``value`` over ``rows`` (alpha) × ``columns`` (epsilon), each cell annotated. ``limits``: the
    color scale's (vmin, vmax), for a value with a fixed range (a share: (0, 1)) or panels that share a
    scale; by default the grid's own range. ``log``: a logarithmic scale where the limits are at least 1
    and span more than a factor of 10 (step counts, which range over orders of magnitude)."""
    ax = ax or plt.gca()
    grid = table.pivot_table(index=rows, columns=columns, values=value, aggfunc="first", dropna=False)
    grid = grid.sort_index(ascending=False).sort_index(axis=1, ascending=False)
    data = grid.to_numpy(dtype=float)
    vmin, vmax = limits if limits is not None else value_limits(data)
    if log and vmin >= 1 and vmax > 10 * vmin:
        norm = {"norm": mcolors.LogNorm(vmin=vmin, vmax=vmax)}
    else:
        norm = {"vmin": vmin, "vmax": vmax}
    im = ax.imshow(data, cmap=cmap, aspect="auto", **norm)
    known = np.isfinite(data)
    rgba = im.cmap(im.norm(np.where(known, data, vmin)))
    # dark text on light cells, and on the blank cells of missing values ("–")
    light = ((0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]) > 0.5) | ~known
    ax.set_xticks(range(grid.shape[1]), [f"{e:g}" for e in grid.columns], fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [f"{a:g}" for a in grid.index], fontsize=8)
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, fmt.format(v) if known[i, j] else "–", ha="center", va="center", fontsize=7,
                color="black" if light[i, j] else "white")
    ax.set_xlabel(columns)
    ax.set_ylabel(rows)
    ax.set_title(title, fontsize=9)
    bar = plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if "norm" in norm:   # plain numbers at 1, 2, 5 × 10^k
        bar.ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        bar.ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:g}"))
        bar.ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    return ax


def plot_basins(problem: Problem, runs: pd.DataFrame, title: str, ax=None, tol: float = 1e-3,
                shares: Mapping[int, float] | None = None):
    """Each 2-D start colored by the known minimum its run ended within ``tol`` of (grey: none), whatever
    its status: a run that sits on a minimum but never met a rule still shows where that start leads.
    ``shares``: each minimum's share of all the setting's starts, where ``runs`` is a draw of them."""
    ax = ax or plt.gca()
    x0 = points(runs["x0"])
    near = (runs["min_id"].to_numpy() >= 0) & (runs["dist_to_min"].to_numpy() <= tol)
    colors = plt.get_cmap("tab10")
    ids = np.where(near, runs["min_id"].to_numpy(), -1)
    size = max(2.0, 4000.0 / max(len(runs), 1))
    # thousands of markers: drawn as one bitmap inside the SVG (the PNG is the same either way)
    if (ids < 0).any():
        ax.scatter(x0[ids < 0, 0], x0[ids < 0, 1], s=size, color="0.8", marker="s", lw=0, label="no minimum",
                   rasterized=True)
    for m in np.unique(ids[ids >= 0]):
        sel = ids == m
        ax.scatter(x0[sel, 0], x0[sel, 1], s=size, color=colors(int(m) % 10), marker="s", lw=0,
                   label=f"minimum {m} ({(sel.mean() if shares is None else shares.get(m, 0.0)):.0%})",
                   rasterized=True)
    for m in problem.minima:
        ax.plot(m[0], m[1], "*", ms=11, color="gold", markeredgecolor="black")
    ax.set_xlabel("x1 at the start")
    ax.set_ylabel("x2 at the start")
    ax.set_title(title, fontsize=9)
    # under the axes: inside, it covered the starts of a corner
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, markerscale=2, frameon=False)
    return ax


def plot_ecdf(hits: pd.DataFrame, title: str, max_step: int, ax=None, against: str = "step"):
    """COCO-style ECDF: share of (run, target) pairs with f − f* ≤ target reached by step k, per setting
    (``against="evaluations"``: by the hits' ``evaluations`` column, evaluations of f and ∇f)."""
    ax = ax or plt.gca()
    if against == "step":
        top = max(max_step, 2)
    else:
        finite = hits[against].to_numpy(float)
        finite = finite[np.isfinite(finite)]
        top = max(float(finite.max()) if finite.size else 2.0, 2.0)
    grid = np.unique(np.round(np.logspace(0, math.log10(top) + 0.05, 120)))
    for label, h in hits.groupby("label", sort=False):
        if against == "step":
            share = np.searchsorted(np.sort(h["step"].to_numpy()), grid - 1, side="right") / len(h)
        else:
            share = np.searchsorted(np.sort(h[against].to_numpy(float)), grid, side="right") / len(h)
        ax.step(grid, share, where="post", lw=1.5, label=label)
    log_axes(ax, y=False)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step k + 1" if against == "step" else "evaluations of f and ∇f")
    shown = np.sort(hits["target"].unique())[::-1] if "target" in hits and len(hits) else TARGETS
    ax.set_ylabel(f"share of (start, target) pairs reached\n{len(shown)} targets {shown[0]:g} … {shown[-1]:g}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_rule_comparison(outcomes: pd.DataFrame, title: str, ax=None, max_points: int = 4000, seed: int = 0):
    """Steps spent against the error at the stop (f − f*), one color per criterion."""
    ax = ax or plt.gca()
    fired = outcomes[outcomes["fired"] & outcomes["f_gap_at_stop"].notna()]
    for crit, block in fired.groupby("criterion", sort=True):
        if len(block) > max_points:
            block = block.sample(max_points, random_state=seed)
        ax.scatter(block["spent"] + 1, np.clip(block["f_gap_at_stop"].abs(), 1e-17, None), s=6, alpha=0.5,
                   label=crit, rasterized=True)
    log_axes(ax)
    ax.set_xlabel("steps spent + 1")
    ax.set_ylabel("f − f* where the rule fired")
    ax.set_title(title, fontsize=9)
    if len(fired):
        ax.legend(fontsize=7, title="criterion", title_fontsize=7)
    else:
        ax.text(0.5, 0.5, "no stop rule fired on any run", ha="center", va="center", transform=ax.transAxes)
    return ax
