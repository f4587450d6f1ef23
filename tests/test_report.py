"""Report: table values with known answers, figure artists, and the built page."""
import base64
import io
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gdlab.core.errors import ConfigError
from gdlab.core.problems import get_problem
from gdlab.report import figures as F
from gdlab.report.page import build
from gdlab.runner.execute import run_to_folder
from gdlab.runner.schema import validate
from gdlab.storage.load import load
from gdlab.tables.columns import list_column
from gdlab.tables.stats import convergence_bands, ecdf_targets, rule_comparison, summary_table


def tiny_tables():
    """Four runs of one setting, two rules, answers worked out by hand."""
    runs = pd.DataFrame({
        "run_id": [0, 1, 2, 3], "problem": "p", "dim": 1, "method": "gd", "alpha": 0.1, "momentum": np.nan,
        "x0": list_column(np.array([[0.0], [1.0], [2.0], [3.0]])),
        "x_final": list_column(np.array([[1.0], [1.0], [5.0], [np.nan]])),
        "f_final": [0.0, 0.0, 4.0, np.nan], "grad_norm_final": 0.0, "n_iter": [40, 50, 60, 7],
        "status": ["converged", "converged", "converged", "nonfinite"],
        "min_id": [0, 0, 1, -1], "dist_to_min": [0.0, 0.0, 0.0, np.nan], "f_gap": [0.0, 0.0, 0.0, np.nan],
    })
    # rule 0 (df < 1e-3): run 0 fires at 10 on the minimum, run 1 at 20 far away (premature),
    #                     run 2 at 30 on minimum 1, run 3 never (nonfinite at 7)
    # rule 1 (grad < 1e-6): runs 0 and 1 fire at 40 and 50 on minimum 0, run 2 never, run 3 never
    stops = pd.DataFrame({
        "run_id": [0, 0, 1, 1, 2, 2, 3, 3], "rule_id": [0, 1] * 4,
        "criterion": ["df", "grad"] * 4, "epsilon": [1e-3, 1e-6] * 4, "min_steps": 0,
        "fired": [True, True, True, True, True, False, False, False],
        "step": [10, 40, 20, 50, 30, -1, -1, -1],
        "f_at_stop": [0.5, 0.0, 2.0, 0.0, 4.0, np.nan, np.nan, np.nan],
        "min_id_at_stop": [0, 0, 0, 0, 1, -1, -1, -1],
        "dist_to_min_at_stop": [1e-4, 0.0, 0.5, 0.0, 1e-5, np.nan, np.nan, np.nan],
        "f_gap_at_stop": [0.5, 0.0, 2.0, 0.0, 0.0, np.nan, np.nan, np.nan],
    })
    curves = pd.DataFrame({"run_id": [0, 0, 0, 1, 1, 2, 2], "step": [0, 8, 40, 0, 50, 0, 60],
                           "f": [9.0, 1e-7, 0.0, 9.0, 0.0, 9.0, 4.0], "grad_norm": 1.0})
    return runs, stops, curves


def test_summary_values_by_hand():
    runs, stops, _ = tiny_tables()
    t = summary_table(runs, stops, success_tol=1e-3).set_index("criterion")
    df, grad = t.loc["df"], t.loc["grad"]
    assert df["runs"] == 4 and grad["runs"] == 4
    assert df["success_rate"] == pytest.approx(2 / 4)          # runs 0 and 2
    assert grad["success_rate"] == pytest.approx(2 / 4)        # runs 0 and 1
    assert df["median_stop_step"] == 20 and grad["median_stop_step"] == 45
    assert df["premature"] == 1 and grad["premature"] == 0
    assert df["never_fired"] == 1 and grad["never_fired"] == 2
    assert df["nonfinite"] == 1 and df["diverged"] == 0
    # aRT: steps spent (10 + 20 + 30 + 7) / 2 successes; grad: (40 + 50 + 60 + 7) / 2
    assert df["aRT"] == pytest.approx(67 / 2) and grad["aRT"] == pytest.approx(157 / 2)
    assert df["distinct_minima"] == 2 and grad["distinct_minima"] == 1
    assert df["best_f"] == 0.5


def test_rule_comparison_wasted_steps_by_hand():
    runs, stops, curves = tiny_tables()
    t = rule_comparison(runs, stops, curves, success_tol=1e-3, f_target=1e-6).set_index("criterion")
    # run 0 reaches f − f* ≤ 1e-6 at checkpoint 8: df fired at 10 (2 wasted), grad at 40 (32 wasted);
    # run 1 reaches it at 50: df fired at 20 (before: not wasted, 0), grad at 50 (0)
    assert t.loc["grad", "total_wasted_steps"] == 32 and t.loc["df", "total_wasted_steps"] == 2
    assert t.loc["df", "premature"] == 1
    assert t.loc["grad", "median_steps"] == pytest.approx(np.median([40, 50, 60, 7]))


def test_bands_keep_a_stopped_runs_last_value():
    runs, _, curves = tiny_tables()
    b = convergence_bands(runs, curves, ["method", "alpha", "momentum"], quantiles=(0.5,))
    at = b.set_index("step")["q50"]
    # the columns are the checkpoints up to the last step, and the last step
    assert list(at.index) == [0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 60]
    # at 45: run 0 (stopped at 40 on the minimum, 0 from the first checkpoint after), run 1 still 9 and
    # run 2 still 9 − 4 = 5 (both carried from step 0): median 5; at 60 all three have stopped at f*: 0
    assert at.loc[0] == 9.0 and at.loc[8] == 5.0    # run 0 at 1e-7 by step 8
    assert at.loc[45] == 5.0
    assert at.loc[60] == 0.0


def test_ecdf_targets():
    runs, _, curves = tiny_tables()
    hits = ecdf_targets(runs, curves, ["method"], targets=[1.0, 1e-9])
    got = hits.set_index(["run_id", "target"])["step"]
    assert got.loc[(0, 1.0)] == 8 and got.loc[(0, 1e-9)] == 40
    assert got.loc[(2, 1.0)] == 60 and got.loc[(2, 1e-9)] == 60   # run 2 ends on minimum 1, whose f* is 4
    # run 3 ended nonfinite (no minimum nearest, no f*): it solves no target, as the summary calls it a failure
    assert np.isinf(got.loc[(3, 1.0)]) and np.isinf(got.loc[(3, 1e-9)])
    hits = ecdf_targets(runs, curves[curves["step"] < 50], ["method"], targets=[1e-9])
    assert np.isinf(hits.set_index("run_id").loc[1, "step"])       # run 1's curve cut before it got there


def test_a_run_that_ended_nan_counts_in_the_ecdf_with_the_targets_it_reached_before(tmp_path):
    """x − log x from x ≥ 1.5 with α = 30: the first step jumps to x < 0, where f is nan, so every run
    ends nonfinite and no f_final − f_gap gives its f*; at step 0 f − f* < 1 (f* = 1 at x = 1). With
    the problem's own f* the ECDF counts targets 10 and 1 reached at step 0 and the smaller ones never,
    and Results.plot draws it (it said the problem had no known minimum)."""
    import gdlab
    from gdlab.tables.stats import problem_f_star
    problem = {"name": "xl", "expr": "x - log(x)", "domain": [[1.5, 3]], "minima": [[1]]}
    res = gdlab.sweep({"problems": [problem], "method": ["gd"], "alpha": [30.0], "criterion": ["grad"],
                       "epsilon": [1e-8], "max_iter": 50, "dtype": "float64", "starts": {"kind": "uniform", "n": 5},
                       "traces": 0})
    runs = res.runs
    assert runs["status"].eq("nonfinite").all() and runs["f_gap"].isna().all()
    f_min = {"xl": (1.0,)}
    hits = ecdf_targets(runs, res.curves, ["method"], targets=[10.0, 1.0, 1e-3], f_star=problem_f_star(runs, f_min))
    steps = hits.set_index(["run_id", "target"])["step"].unstack()
    assert (steps[10.0] == 0).all() and (steps[1.0] == 0).all() and np.isinf(steps[1e-3]).all()
    assert np.isinf(ecdf_targets(runs, res.curves, ["method"], targets=[10.0])["step"]).all()   # f_final − f_gap: none
    fig, ax = plt.subplots()
    res.plot("ecdf", problem="xl", ax=ax)
    assert max(line.get_ydata().max() for line in ax.get_lines()) > 0
    plt.close(fig)
    # the report draws the ECDF and the rules of a problem whose runs all ended nan, and its success rate is 0
    folder = res.save(tmp_path / "xl")
    build(folder, log=lambda line: None)
    assert {"xl-ecdf.png", "xl-rules.png"} <= {p.name for p in (folder / "report" / "figures").iterdir()}
    assert pd.read_csv(folder / "report" / "tables" / "summary.csv")["success_rate"].tolist() == [0.0]


def test_a_runs_f_star_is_its_nearest_minimums_and_the_lowest_listed_where_its_end_is_not_finite():
    """A run that blew up is nearest to no minimum: the f* of the one nearest to where it blew up
    credited it with every target (f − f* < 0); it is judged against the lowest f* listed."""
    from gdlab.tables.stats import problem_f_star
    runs = pd.DataFrame({"run_id": [0, 1, 2, 3, 4, 5, 6],
                         "problem": pd.array(["a", "a", "b", "c", "a", "b", "a"], dtype="string"),
                         "min_id": [1, 0, -1, -1, 1, -1, -1], "f_final": [0.3, -0.2, np.inf, 1.0, np.nan, 2.0, np.inf]})
    got = problem_f_star(runs, {"a": (-0.3, 0.29), "b": (5.0,)})
    assert got.index.tolist() == list(range(7))
    np.testing.assert_array_equal(got.to_numpy(), [0.29, -0.3, 5.0, np.nan, -0.3, 5.0, -0.3])


def test_figure_artists():
    fig, ax = plt.subplots()
    bands = pd.DataFrame({"step": [0, 1, 2] * 2, "q10": 1e-3, "q50": 1e-2, "q90": 1e-1,
                          "label": ["a"] * 3 + ["b"] * 3, "measure": "f - f*"})
    F.plot_bands(bands, "bands", ax)
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "f − f*"
    plt.close(fig)

    # legend="beside" (the methods figures): after the layout the legend lies right of the axes, over no band
    fig, ax = plt.subplots(figsize=(9.4, 4.6))
    F.plot_bands(bands, "bands", ax, legend="beside")
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    box, frame = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.x0 > frame.x1 and box.x1 <= fig.bbox.x1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    plt.close(fig)

    fig, ax = plt.subplots()
    table = pd.DataFrame({"alpha": [0.1, 0.1, 0.01, 0.01], "epsilon": [1e-3, 1e-6] * 2, "v": [0.1, 0.2, 0.3, 0.4]})
    F.plot_heatmap(table, "v", "heat", ax)
    assert sorted(t.get_text() for t in ax.texts) == ["0.10", "0.20", "0.30", "0.40"]
    assert ax.get_xlabel() == "epsilon" and ax.get_ylabel() == "alpha"
    plt.close(fig)

    p = get_problem("himmelblau")
    fig, axes = F.figure_panels(3)
    assert len(fig.axes) == 3 + 0 and all(a.get_visible() for a in axes)
    runs = pd.DataFrame({"x0": list_column(np.array([[0, 0], [1, 1], [2, 2]], float)), "min_id": [0, 1, -1],
                         "dist_to_min": [0.0, 1e-4, np.nan],
                         "status": ["converged", "converged", "max_iter"]})
    F.plot_basins(p, runs, "basins", axes[0])
    assert len(axes[0].collections) == 3      # none + two minima
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["no minimum", "minimum 0 (33%)",
                                                                         "minimum 1 (33%)"]
    fig.tight_layout()                        # the legend under the axes, over no start
    renderer = fig.canvas.get_renderer()
    assert axes[0].get_legend().get_window_extent(renderer).y1 < axes[0].get_window_extent(renderer).y0
    fig2, ax2 = plt.subplots()
    F.plot_basins(p, runs.iloc[:2], "basins", ax2)     # every start reached a minimum: no "no minimum" entry
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["minimum 0 (50%)", "minimum 1 (50%)"]
    plt.close(fig2)
    traces = pd.DataFrame({"run_id": [0, 0, 1, 1], "step": [0, 1, 0, 1],
                           "x": list_column(np.array([[0, 0], [1, 1], [2, 2], [3, 3]], float)), "f": 0.0})
    F.plot_paths_2d(p, traces, "paths", axes[1])
    red = [l for l in axes[1].get_lines() if l.get_color() == "tab:red" and l.get_linestyle() == "-"]
    assert len(red) == 2                      # one path per run
    assert sum(l.get_marker() == "*" for l in axes[1].get_lines()) == 4   # Himmelblau's minima
    q = get_problem("x2_sin")
    tr = pd.DataFrame({"run_id": 0, "step": [0, 1], "x": list_column(np.array([[2.5], [2.6]])), "f": [3.7, 3.6]})
    F.plot_curve_1d(q, tr, "curve", axes[2])
    assert len(axes[2].collections) == 1 and axes[2].collections[0].get_offsets().shape == (2, 2)
    assert "x=2.6000" in axes[2].texts[0].get_text()
    plt.close(fig)


def test_a_diverging_1d_run_keeps_the_domain_in_view_and_points_where_it_went():
    """x⁴ − 3x² + x from 2 with α = 0.2 reaches |x| ~ 1e12: the panel keeps [−2, 2] widened to the visited
    points near it (not to 1e12), an arrow at the edge names the step, x and status, and the last
    label of a run that stays lies inside the axes."""
    import gdlab
    res = gdlab.descend("x**4 - 3*x**2 + x", "gd", [[2.0]], alpha=0.2, max_iter=20, dtype="float64", traces=1)
    prob = gdlab.get_problem("x**4 - 3*x**2 + x")
    trace = res.traces
    xs = np.stack(trace["x"].to_numpy())[:, 0]
    assert np.nanmax(np.abs(xs)) > 1e6                     # it did diverge
    fig, axes = F.figure_panels(2)
    F.plot_curve_1d(prob.with_domain([[-2, 2]]), trace, "diverging", axes[0], status="ended diverged")
    lo, hi = axes[0].get_xlim()
    assert -2 - 8 <= lo <= -2 and 2 <= hi <= 2 + 8       # the domain, widened by at most two widths a side
    y0, y1 = axes[0].get_ylim()
    assert y1 < 1e4
    first_out = int(np.flatnonzero(~((xs >= lo) & (xs <= hi)))[0])
    arrow = [t for t in axes[0].texts if t.arrow_patch is not None]
    assert len(arrow) == 1 and f"step {first_out}: x = {xs[first_out]:.3g}" in arrow[0].get_text()
    assert "ended diverged" in arrow[0].get_text()
    assert len(axes[0].collections[0].get_offsets()) == first_out       # the points in view only
    stay = gdlab.descend("x**4 - 3*x**2 + x", "gd", [[2.0]], alpha=0.05, max_iter=200, dtype="float64", traces=1)
    F.plot_curve_1d(prob.with_domain([[-2, 2]]), stay.traces, "staying", axes[1])
    label = axes[1].texts[0]
    assert label.arrow_patch is None and label.get_ha() == "right"      # the end (x ≈ 1.13) is right of centre
    fig.canvas.draw()
    inside = axes[1].get_window_extent()
    box = label.get_window_extent()
    assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
    plt.close(fig)


def test_summary_cells_say_not_defined_one_way_and_keep_digits_to_compare():
    """Where no minimum is known, success_rate and successes are both not defined (NA, drawn "–" like
    NaN), best_f keeps 7 digits, and the rules table's share of runs whose rule fired is ``fired_rate``."""
    import gdlab
    from gdlab.report.page import markdown_table
    res = gdlab.descend("x**4 - 3*x**2 + x", "gd", [[2.0], [-2.0]], alpha=0.01, dtype="float64")
    s = res.summary()
    assert s["success_rate"].isna().all() and s["successes"].isna().all()
    md = markdown_table(s)
    assert "<NA>" not in md and "nan" not in md
    row = md.splitlines()[2].split(" | ")
    cols = list(s.columns)
    assert row[cols.index("successes")] == "–" and row[cols.index("success_rate")] == "–"
    best = float(s["best_f"].iloc[0])
    assert row[cols.index("best_f")] == f"{best:.7g}" and abs(best - (-3.513905)) < 1e-5   # f at x ≈ −1.3008
    assert "fired_rate" in res.stopping_rules().columns and "fired" not in res.stopping_rules().columns


def test_a_float32_gradient_rule_that_stalls_just_above_its_epsilon_is_counted():
    """Runs 0–2 ran to max_iter with the grad rule unfired: 0 sits on a minimum (counted for every rule),
    1 has ‖∇f‖ = 1.05e-6 against ε = 1e-6 with no minimum known (counted: within 10× of ε), 2 has
    ‖∇f‖ = 1e-3 (not counted: the landscape, not rounding); run 3 converged (not counted)."""
    from gdlab.report.page import _stuck_rules
    runs = pd.DataFrame({"run_id": [0, 1, 2, 3], "dist_to_min": [1e-5, np.nan, np.nan, 1e-7],
                         "grad_norm_final": [1e-4, 1.05e-6, 1e-3, 1e-7]})
    stops = pd.DataFrame({"run_id": [0, 0, 1, 1, 2, 3], "criterion": ["grad", "df", "grad", "df", "grad", "grad"],
                          "epsilon": [1e-6, 1e-9, 1e-6, 1e-9, 1e-6, 1e-6],
                          "fired": [False, False, False, True, False, True]})
    got = _stuck_rules(runs, stops, np.array([True, True, True, False]), success_tol=1e-3)
    assert got.to_dict() == {("df", 1e-9): 1, ("grad", 1e-6): 2}
    # a tolerance float32 resolves (1e-3): a run at 5.7e-3 is still descending, not stalled
    slow = pd.DataFrame({"run_id": [0], "dist_to_min": [np.nan], "grad_norm_final": [5.7e-3]})
    loose = pd.DataFrame({"run_id": [0], "criterion": ["grad"], "epsilon": [1e-3], "fired": [False]})
    assert _stuck_rules(slow, loose, np.array([True]), success_tol=1e-3).empty


def test_tables_of_runs_past_1e154_warn_nothing():
    """A run that leaves to |x| ~ 1e177 (diverge_x set past it) squares past float64's range: its
    distance and ‖∇f‖ are inf or NaN without a NumPy RuntimeWarning in the log."""
    import warnings

    import gdlab
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = gdlab.descend("himmelblau", "gd", [[-4.0, 4.0], [4.0, 4.0]], alpha=0.5, diverge_x=1e300,
                            diverge_f=1e308, max_iter=400, traces=2)
        res.summary(), res.stopping_rules()
    assert (res.runs["status"] == "nonfinite").all()


def test_log_axes_label_the_ticks_matplotlib_would_in_plain_text():
    def labels(ax):
        ax.figure.canvas.draw()
        return [(t.get_position(), t.get_text()) for t in (*ax.xaxis.get_majorticklabels(), *ax.xaxis.get_minorticklabels(),
                                                            *ax.yaxis.get_majorticklabels()) if t.get_text()]

    fig, (plain, ours) = plt.subplots(1, 2)
    for ax in (plain, ours):
        ax.plot([1, 3], [2e-3, 1e-1])
    plain.set_xscale("log")
    plain.set_yscale("log")
    F.log_axes(ours)
    want, got = labels(plain), labels(ours)
    assert [pos for pos, _ in got] == [pos for pos, _ in want]       # the same ticks labelled
    assert all(text.startswith("$") for _, text in want) and not any("$" in text for _, text in got)
    texts = [text for _, text in got]
    assert {"10⁰", "2×10⁰", "3×10⁰", "10⁻²", "10⁻¹"} <= set(texts)
    plt.close(fig)


def _figure(title="a"):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [1e-3, 1e-1, 1])
    F.log_axes(ax)
    ax.set_title(title)
    return fig


def test_figure_workers_start_when_asked_before_any_figure(tmp_path, monkeypatch):
    """start_workers starts the worker processes at once (their start-up overlaps the caller's imports
    and reading), before any figure is given to them."""
    import time

    from gdlab.report import workers
    monkeypatch.setattr(workers, "_POOLS", {})
    monkeypatch.setenv("GDLAB_TEST_MARK", str(tmp_path))
    monkeypatch.setattr(workers, "_BOOT", "import os, pathlib; "
                        "pathlib.Path(os.environ['GDLAB_TEST_MARK'], str(os.getpid())).touch()")
    workers.start_workers(2)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(tmp_path.iterdir())) == 2      # two processes, and no figure submitted
    workers.start_workers(2)                        # the same pool: no more processes
    time.sleep(0.5)
    assert len(list(tmp_path.iterdir())) == 2
    # more than MAX_WORKERS asked for: MAX_WORKERS start at once, the others with a figure
    workers.start_workers(workers.MAX_WORKERS + 2)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 2 + workers.MAX_WORKERS and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert len(list(tmp_path.iterdir())) == 2 + workers.MAX_WORKERS


def test_a_figure_writer_saves_in_workers_what_saving_here_would(tmp_path, monkeypatch):
    from gdlab.report import render, workers
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    png = render.save_figure(_figure(), here, "f")
    fig = _figure()
    saving = render.FigureWriter(2).submit(fig, there, "f")
    assert not plt.fignum_exists(fig.number)                # closed here once handed over
    assert saving.result() == png == (there / "f.png").read_bytes()
    assert "<text" not in (there / "f.svg").read_text()     # text drawn as paths, matplotlib's default
    # the workers render with the caller's rcParams, including those read only when saving
    with plt.rc_context({"svg.fonttype": "none"}):
        render.FigureWriter(2).submit(_figure(), there, "g").result()
    assert "<text" in (there / "g.svg").read_text()
    # a figure the worker cannot save is saved again here, so its error is raised here
    with pytest.raises(FileNotFoundError):
        render.FigureWriter(2).submit(_figure(), tmp_path / "no such folder", "f").result()
    # a figure that does not pickle (a lambda formatter) is saved here, with its own labels
    odd = _figure()
    odd.axes[0].xaxis.set_major_formatter(lambda x, pos: f"<{x:g}>")
    assert render.FigureWriter(2).submit(odd, there, "odd").result() == (there / "odd.png").read_bytes() != png
    # workers that die (here: never start) leave the figure to be saved here
    monkeypatch.setattr(workers, "_POOLS", {})
    monkeypatch.setattr(workers, "_BOOT", "import sys; sys.exit(3)")
    assert render.FigureWriter(2).submit(_figure(), tmp_path, "lost").result() == png
    assert (tmp_path / "lost.svg").exists()
    assert workers._POOLS[2].broken                          # and the next figures are saved here at once
    saving = render.FigureWriter(2).submit(_figure(), tmp_path, "next")
    assert isinstance(saving, render._Saved) and saving.result() == png
    monkeypatch.setenv("GDLAB_FIGURE_WORKERS", "0")
    assert render.figure_workers() == 0 and render.FigureWriter().submit(_figure(), tmp_path, "h").result() == png
    monkeypatch.setenv("GDLAB_FIGURE_WORKERS", "two")
    with pytest.raises(ValueError, match="GDLAB_FIGURE_WORKERS must be a whole number"):
        render.figure_workers()


@pytest.fixture(scope="module")
def built_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    sw = validate({"problems": ["himmelblau", "x2_sin"], "method": ["gd", "momentum"], "alpha": [0.002, 0.01],
                   "momentum": [0.5], "starts": {"kind": "grid", "n": 12}, "epsilon": [1e-3, 1e-6],
                   "max_iter": 2000, "dtype": "float64", "out_dir": str(out), "traces": 3})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    return folder, build(folder, log=lambda m: None)


def test_results_give_the_reports_tables(built_report):
    """Results.summary() and .stopping_rules() of the loaded sweep are the report's CSVs, byte for byte."""
    folder, _ = built_report
    r = load(folder)
    for name, table in (("summary.csv", r.summary()), ("stopping_rules.csv", r.stopping_rules())):
        assert table.to_csv(index=False) == (folder / "report" / "tables" / name).read_text(), name
    s = r.summary()
    assert len(s) == 2 * 2 * 2 * 6 and s["runs"].sum() == len(r.stops)    # problems × methods × α × rules


@pytest.mark.parametrize("grad_cost", ["d", 0.5])
def test_results_summary_counts_evaluations_with_the_sweeps_grad_cost(grad_cost, tmp_path):
    """Results.summary() counted a gradient as one evaluation whatever report.grad_cost said, where the
    report's summary.csv (and COCO's view, grad_cost: d) counts it as d: aRT_evals differed."""
    import gdlab
    res = gdlab.sweep({"problems": ["himmelblau"], "method": ["gd", "backtracking"], "alpha": [0.01],
                       "starts": {"kind": "grid", "n": 9}, "criterion": ["grad"], "epsilon": [1e-6],
                       "max_iter": 3000, "dtype": "float64", "report": {"grad_cost": grad_cost}})
    s = res.summary().set_index("method")
    cost = 2.0 if grad_cost == "d" else grad_cost
    gd = res.runs[res.runs["method"] == "gd"]      # every run ends where its one rule fires: all it spent counts
    ok = s.loc["gd", "success_rate"] * s.loc["gd", "runs"]
    assert ok > 0 and (gd["status"] == "converged").all()
    spent = np.rint(gd["n_f"] + cost * gd["n_grad"]).sum()      # a run's evaluations: whole numbers, summed exactly
    assert s.loc["gd", "aRT_evals"] == pytest.approx(spent / ok, rel=1e-12)
    folder = res.save(tmp_path / "sweep", log=None)
    assert load(folder).summary().to_csv(index=False) == (folder / "report" / "tables" / "summary.csv").read_text()


def test_report_files_and_page(built_report):
    folder, index = built_report
    rep = folder / "report"
    for name in ("summary.csv", "stopping_rules.csv", "statuses.csv"):
        assert (rep / "tables" / name).exists()
    pngs = sorted((rep / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"himmelblau-paths", "himmelblau-bands", "himmelblau-basins", "himmelblau-ecdf",
                                      "himmelblau-rules", "himmelblau-heatmap-gd", "x2_sin-curve", "x2_sin-bands"}
    assert all(p.with_suffix(".svg").exists() for p in pngs)
    page = index.read_text()
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) == len(pngs)                              # every figure embedded, self-contained
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page and "https://" not in page
    assert re.search(r"lane utilisation</td><td[^>]*>0\.\d{3} \(useful ÷ executed lane-steps", page)
    summary = pd.read_csv(rep / "tables" / "summary.csv")
    assert len(summary) == 2 * (2 + 2) * 6                       # problems × settings × rules
    assert "## Summary per setting and stop rule" in (rep / "summary.md").read_text()


def test_a_report_without_curves_leaves_out_what_needs_them(tmp_path):
    sw = validate({"problems": ["himmelblau"], "alpha": [0.002, 0.01], "starts": {"kind": "grid", "n": 6},
                   "epsilon": [1e-3, 1e-6], "max_iter": 2000, "dtype": "float64", "out_dir": str(tmp_path),
                   "traces": 2, "curves": False})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    logs = []
    index = build(folder, log=logs.append)
    stems = {p.stem for p in (folder / "report" / "figures").glob("*.png")}
    assert {"himmelblau-paths", "himmelblau-basins", "himmelblau-rules", "himmelblau-heatmap-gd"} <= stems
    assert not stems & {"himmelblau-bands", "himmelblau-ecdf"}
    assert any("curves: false" in m for m in logs) and "curves: false" in index.read_text()
    rules = pd.read_csv(folder / "report" / "tables" / "stopping_rules.csv")
    assert rules[["median_wasted_steps", "total_wasted_steps"]].isna().all().all() and (rules["fired_rate"] > 0).any()


def test_a_report_is_the_same_bits_with_its_figures_saved_in_workers_or_here(built_report, tmp_path, monkeypatch):
    """Every file of the report but its build time (SVGs included: no date, ids from a fixed salt)."""
    folder, _ = built_report
    pages = {}
    for workers in ("0", "2"):
        copy = tmp_path / workers / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("report"))
        monkeypatch.setenv("GDLAB_FIGURE_WORKERS", workers)
        pages[workers] = build(copy, log=lambda m: None)
    files = sorted(p.relative_to(pages["0"].parent) for p in pages["0"].parent.rglob("*")
                   if p.is_file() and p.name != "facts.json")
    assert len([f for f in files if f.suffix == ".png"]) >= 8
    for f in files:
        assert (pages["0"].parent / f).read_bytes() == (pages["2"].parent / f).read_bytes(), f


def test_gdlab_report_rebuilds(built_report, tmp_path):
    folder, _ = built_report
    import sys
    res = subprocess.run([sys.executable, "-c", "from gdlab.app.cli import report_main; report_main()", str(folder)],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("index.html")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_page_renders_in_headless_chromium(built_report, tmp_path):
    _, index = built_report
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1300,2000",
                    f"--screenshot={shot}", index.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 50_000


def test_a_groups_sample_is_the_same_runs_whichever_frame_holds_the_group():
    from gdlab.tables.stats import sample_groups
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"run_id": rng.permutation(5000), "method": rng.choice(["gd", "adam", "nesterov"], 5000),
                          "alpha": rng.choice([0.1, 0.01], 5000), "momentum": np.nan})
    frame.loc[frame["method"] == "nesterov", "alpha"] = 0.5          # one small group: 1 of 5 settings
    by = ["method", "alpha", "momentum"]
    drawn = sample_groups(frame, by, 300)
    sizes = drawn.groupby(by, dropna=False).size()
    whole = frame.groupby(by, dropna=False).size()
    assert (sizes == np.minimum(whole, 300)).all()                    # at most 300; all of a smaller group
    assert drawn.index.is_monotonic_increasing                        # in the frame's order
    assert len(sample_groups(frame, by, 5000)) == 5000
    part = frame[frame["method"] == "adam"].iloc[::-1]                # the adam groups alone, reordered
    again = sample_groups(part, by, 300)
    assert set(again["run_id"]) == set(drawn.loc[drawn["method"] == "adam", "run_id"])
    assert set(sample_groups(frame, by, 300, seed=1)["run_id"]) != set(drawn["run_id"])


@pytest.mark.parametrize("groups", [1, 2, 7])
def test_the_draw_is_each_groups_runs_of_smallest_key(groups):
    """drawn_rows against a sort of each group's keys, over random groups, sizes and caps: all of a group
    at most the cap, else its cap smallest run_keys (found among the keys below 4× their expected
    cut, or, where too few are, among all of the group's)."""
    from gdlab.tables.stats import drawn_rows, run_keys
    rng = np.random.default_rng(groups)
    for _ in range(400):
        n, cap = int(rng.integers(0, 400)), int(rng.integers(1, 40))
        group, ids = rng.integers(0, groups, n), rng.permutation(10 ** 6)[:n]
        keys = run_keys(ids)
        want = np.sort(np.concatenate([rows if len(rows) <= cap else rows[np.argsort(keys[rows])[:cap]]
                                       for rows in (np.flatnonzero(group == g) for g in range(groups))]))
        assert np.array_equal(drawn_rows(ids, group, cap), want)


@pytest.mark.parametrize("batch", [0, 60, 1 << 15])
def test_the_report_reads_the_sweep_part_by_part_with_the_numbers_of_the_whole_tables(tmp_path, monkeypatch, batch):
    """The report never holds a whole table of runs, stops or curves: it goes through the sweep one
    part at a time (or ``batch`` runs of consecutive parts at a time), keeping what the tables
    aggregate and the rows of the runs its figures draw.
    Over a sweep of six parts, with the draws cut to 7 runs (bands, ECDF) and 9 starts (basins) a
    setting: the summary, the stopping-rule table, the statuses, the cycling warning, the bands,
    the ECDF and the basins' starts are those of the whole tables."""
    import gdlab.report.page as R
    from gdlab.storage import SweepFolder
    from gdlab.storage.load import load
    from gdlab.tables.stats import SETTING, sample_groups, stalled_runs
    absx = {"name": "absx", "expr": "abs(x) + 0*y", "domain": [[-1, 1], [-1, 1]], "minima": [[0, 0]]}
    sw = validate({"problems": ["himmelblau", absx], "alpha": [0.1, 0.01], "starts": {"kind": "uniform", "n": 30},
                   "criterion": ["df", "grad"], "epsilon": [1e-6], "max_iter": 300, "dtype": "float64",
                   "part_size": 25, "traces": 2, "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    whole = load(folder)
    assert len(SweepFolder(folder).records()) == 6 and whole.runs["status"].eq("max_iter").any()
    parts = list(SweepFolder(folder).read_parts("curves", batch_runs=batch))
    assert pd.concat(parts, ignore_index=True).equals(whole.curves)   # the parts, in order, are the table
    assert len(parts) == {0: 6, 60: 2, 1 << 15: 1}[batch]      # parts of 25, 25, 10 runs a (problem, method)
    for table in ("runs", "stops", "curves"):    # the report's frames: Arrow's buffers, the same values, read-only
        viewed = list(SweepFolder(folder).read_parts(table, batch_runs=batch, writeable=False))
        assert pd.concat(viewed, ignore_index=True).equals(getattr(whole, table))
        if batch == 0:        # one part's file a frame: Arrow's own buffers (several parts joined are a copy)
            with pytest.raises(ValueError, match="read-only"):
                viewed[0].loc[0, "run_id"] = -1
        default = next(SweepFolder(folder).read_parts(table, batch_runs=batch))
        default.loc[0, "run_id"] = -1           # the frames a user reads: their own
    monkeypatch.setattr(R, "READ_BATCH", batch)
    monkeypatch.setattr(R, "MAX_RUNS", 7)
    monkeypatch.setattr(R, "MAX_POINTS", 9)
    traced = whole.traces["run_id"].unique()
    sweep = R._gather(folder, sw, traced)
    if batch == 0:      # a part's rule tally is worked out on a thread of its own: its error is raised here
        real, calls = R.rule_outcomes, []

        def failing(*args, **kwargs):
            calls.append(1)
            if len(calls) == fail_at:
                raise RuntimeError(f"the tally of part {fail_at}")
            return real(*args, **kwargs)

        monkeypatch.setattr(R, "rule_outcomes", failing)
        for fail_at in (4, 6):       # the last part's is waited for after the loop
            calls.clear()
            with pytest.raises(RuntimeError, match=f"the tally of part {fail_at}"):
                R._gather(folder, sw, traced)
            assert len(calls) == fail_at
        monkeypatch.setattr(R, "rule_outcomes", real)
    stalled = stalled_runs(whole.runs, whole.curves)
    pd.testing.assert_frame_equal(sweep.stalled[stalled.columns], stalled)
    assert len(stalled) > 0
    pd.testing.assert_frame_equal(sweep.tally.summary(), summary_table(whole.runs, whole.stops, sw.success_tol))
    pd.testing.assert_frame_equal(sweep.tally.comparison(),
                                  rule_comparison(whole.runs, whole.stops, whole.curves, sw.success_tol, sw.f_target))
    assert sweep.runs == len(whole.runs) and sweep.stops == len(whole.stops)
    assert sweep.counts["size"].sum() == len(whole.runs)
    bands = set(sample_groups(whole.runs, SETTING, 7)["run_id"])
    drawn = bands | set(traced)      # the ECDF's draw is the bands': a run of unknown f − f* counts, unsolved
    assert set(sweep.bands) == bands and set(sweep.drawn["run_id"]) == drawn and len(drawn) < len(whole.runs)
    curves = sweep.curves
    assert curves.equals(whole.curves[whole.curves["run_id"].isin(drawn)].reset_index(drop=True))
    assert sweep.stops_drawn.equals(whole.stops[whole.stops["run_id"].isin(bands)].reset_index(drop=True))
    basins = sample_groups(whole.runs, SETTING, 9)
    assert sweep.basins["run_id"].tolist() == basins["run_id"].tolist()
    # the figures' draws find every row they need in the rows kept
    by = ["method", "alpha", "momentum"]
    for name in ("himmelblau", "absx"):
        mine = whole.runs[whole.runs["problem"] == name]
        kept = sweep.drawn[sweep.drawn["problem"] == name]
        pd.testing.assert_frame_equal(convergence_bands(kept, curves, by, max_runs=7),
                                      convergence_bands(mine, whole.curves, by, max_runs=7))
        pd.testing.assert_frame_equal(ecdf_targets(kept, curves, by, max_runs=7).reset_index(drop=True),
                                      ecdf_targets(mine, whole.curves, by, max_runs=7).reset_index(drop=True))
    logs = []
    build(folder, log=logs.append)
    table = pd.read_csv(folder / "report" / "tables" / "stopping_rules.csv")
    expected = rule_comparison(whole.runs, whole.stops, whole.curves, sw.success_tol, sw.f_target)
    assert table.to_csv(index=False) == pd.read_csv(io.StringIO(expected.to_csv(index=False))).to_csv(index=False)
    assert table["total_wasted_steps"].notna().any()
    statuses = pd.read_csv(folder / "report" / "tables" / "statuses.csv").set_index(["problem", "method"])
    assert statuses.stack().sum() == len(whole.runs)
    assert (statuses.stack()[lambda s: s > 0].sort_index() ==
            whole.runs.groupby(["problem", "method", "status"]).size().sort_index()).all()
    assert any(m.startswith(f"warning: {len(stalled)} max_iter runs are cycling") for m in logs)


def test_the_scan_before_the_pass_takes_settings_and_known_minima_from_the_footers_with_the_columns_answer(
        tmp_path, monkeypatch):
    """The report needs, before its pass over the runs, each run's setting (for the figures' draws) and
    which problems have known minima (some run's min_id ≥ 0): it reads them from the runs files' Parquet
    statistics where a part holds one setting and a range of run ids, and from the columns where the
    statistics cannot say (a name not among the sweep's, none at all). Both give the codes, settings
    and draws of the whole runs table."""
    import gdlab.report.page as R
    from gdlab.storage import SweepFolder
    from gdlab.tables.stats import drawn_rows, group_codes, problems_with_minima, setting_columns
    bowl = {"name": "bowl", "expr": "x**2 + y**2", "domain": [[-1, 1], [-1, 1]]}     # no minima listed
    sw = validate({"problems": ["himmelblau", bowl], "alpha": [0.01, 0.02], "momentum": [0.3, 0.5],
                   "method": ["gd", "momentum"], "starts": {"kind": "uniform", "n": 32},
                   "max_iter": 50, "dtype": "float64", "part_size": 16, "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    whole = load(folder).runs
    expected = problems_with_minima(whole)
    assert expected.to_dict() == {"bowl": False, "himmelblau": True}
    sf = SweepFolder(folder)
    records = sf.records()
    keys = setting_columns(whole.columns)
    codes, seen = group_codes(whole, keys)
    ids = whole["run_id"].to_numpy()
    bands = set(ids[drawn_rows(ids, codes, 3)])
    basins = set(ids[drawn_rows(ids, codes, 5)])
    read = []
    real = SweepFolder.read_parts
    monkeypatch.setattr(SweepFolder, "read_parts", lambda self, table, parts=None, **kw: (
        read.append(sorted(parts)), real(self, table, parts, **kw))[1])
    monkeypatch.setattr(R, "MAX_RUNS", 3)
    monkeypatch.setattr(R, "MAX_POINTS", 5)

    def check(names):
        scan = R._scan(sf, records, sf.empty("runs", records), keys, names, ["himmelblau", "bowl"])
        assert scan.has_minima.to_dict() == expected.to_dict()
        assert np.array_equal(np.concatenate(scan.codes), codes) and scan.seen.equals(seen)
        assert scan.settings["runs"].tolist() == whole.groupby(codes, sort=False).size().tolist()
        assert set(ids[scan.in_bands(ids)]) == bands and set(ids[scan.in_basins(ids)]) == basins

    check({"himmelblau", "bowl"})
    assert read == [] and len(seen) == 12     # footers alone: every part holds one setting
    check({"himmelblau"})                     # a name the statistics give that is not the sweep's: read
    assert read == [sorted(records)]          # (the parts of a batch are read together)
    read.clear()
    monkeypatch.setattr(SweepFolder, "statistics", lambda self, entry, columns: None)
    check({"himmelblau", "bowl"})
    assert read == [sorted(records)]


def test_a_parts_setting_from_its_statistics_needs_one_value_a_key_a_sweeps_problem_and_a_range_of_run_ids():
    """Each runs part's row groups as its footer gives them: one setting where every key holds one
    value in every row group (an all-NaN float key, None, is NaN), the problem is the sweep's and the run
    ids are a range; known minima where some row group's largest min_id is ≥ 0 (its least may be −1: a
    run that diverged). Anything else sends the part to its columns (None)."""
    import gdlab.report.page as R
    template = pd.DataFrame({"problem": pd.Series([], dtype=pd.StringDtype()), "alpha": pd.Series([], dtype=float),
                             "momentum": pd.Series([], dtype=float), "schedule": pd.Series([], dtype=pd.StringDtype()),
                             "steps": pd.Series([], dtype=np.int64)})
    keys = ["problem", "alpha", "momentum", "schedule"]

    def group(rows=4, run_id=(0, 3), problem="a", alpha=(0.1, 0.1), momentum=(None, None), min_id=(-1, 0), **more):
        return {"#rows": rows, "run_id": run_id, "problem": (problem, problem), "alpha": alpha,
                "momentum": momentum, "schedule": ("constant", "constant"), "min_id": min_id, **more}

    one = R._one_setting([group(), group(run_id=(4, 7), min_id=(-1, -1))], keys, {"a"}, template)
    assert {k: v for k, v in one.items() if k != "momentum"} == {
        "problem": "a", "alpha": 0.1, "schedule": "constant", "lo": 0, "rows": 8, "minima": True}
    assert np.isnan(one["momentum"])
    assert not R._one_setting([group(min_id=(-1, -1))], keys, {"a"}, template)["minima"]
    for groups, names in (([group(alpha=(0.1, 0.2))], {"a"}),                   # two values of a key
                          ([group(), group(run_id=(4, 7), alpha=(0.2, 0.2))], {"a"}),   # one a group, two in all
                          ([group(problem="b")], {"a"}),                         # not the sweep's (cut short?)
                          ([group(run_id=(0, 4))], {"a"}),                       # not a range
                          (None, {"a"}), ([], {"a"})):                           # no statistics
        assert R._one_setting(groups, keys, names, template) is None
    steps = [group(steps=(None, None))]                 # an integer key all null: its type is not the table's
    assert R._one_setting(steps, [*keys, "steps"], {"a"}, template) is None
    # a float key of 0.0 or −0.0: min −0.0 and max 0.0 either way (Parquet's rule), so the sign is read
    assert R._one_setting([group(alpha=(-0.0, 0.0))], keys, {"a"}, template) is None


def test_a_setting_of_minus_zero_keeps_its_sign_in_the_report(tmp_path):
    """momentum −0.0 beside 0.5, each part one setting: the report's settings (read from the columns,
    since a footer cannot tell −0.0 from 0.0) keep −0.0, as its runs' labels do, and its figures draw it."""
    import gdlab.report.page as R
    from gdlab.storage import SweepFolder
    from gdlab.tables.stats import setting_columns
    sw = validate({"problems": ["himmelblau"], "method": ["momentum"], "alpha": [1e-3], "momentum": [-0.0, 0.5],
                   "starts": {"kind": "uniform", "n": 48}, "max_iter": 50, "part_size": 16, "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    sf = SweepFolder(folder)
    records = sf.records()
    empty = sf.empty("runs", records)
    scan = R._scan(sf, records, empty, setting_columns(empty.columns), {"himmelblau"}, ["himmelblau"])
    assert np.signbit(scan.settings["momentum"]).tolist() == [True, False]
    build(folder, log=lambda m: None, show_progress=False)
    assert (folder / "report" / "figures" / "himmelblau-basins.png").exists()


def test_a_folder_whose_first_parts_were_written_without_a_column_still_reports(tmp_path, monkeypatch):
    """A folder made by an older gdlab (runs without n_f and n_grad) and finished by this one: the
    report reads the columns its first part has, so each part it reads has them all."""
    import gdlab.report.page as R
    from gdlab.storage import SweepFolder
    from gdlab.storage.folder import column_encodings, file_sha256
    sw = validate({"problems": ["himmelblau"], "alpha": [0.01], "starts": {"kind": "uniform", "n": 40},
                   "max_iter": 60, "dtype": "float64", "part_size": 16, "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    for part in (0, 1):      # as an older gdlab wrote them
        path = folder / "runs" / f"part-{part:05d}.parquet"
        table = pq.read_table(path).drop_columns(["n_f", "n_grad"])
        pq.write_table(table, path, **column_encodings(table))
        record_path = folder / "parts" / f"part-{part:05d}.json"
        record = json.loads(record_path.read_text())
        record["files"]["runs"]["sha256"] = file_sha256(path)
        record_path.write_text(json.dumps(record))
        for entry in manifest["parts"]["runs"]:
            if entry["file"] == f"runs/part-{part:05d}.parquet":
                entry["sha256"] = record["files"]["runs"]["sha256"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert len(SweepFolder(folder).records()) == 3 and "n_f" not in SweepFolder(folder).empty("runs").columns
    monkeypatch.setattr(R, "READ_BATCH", 0)         # a part at a time, as parts of 2¹⁵ runs or more are read
    build(folder, log=lambda m: None)
    summary = pd.read_csv(folder / "report" / "tables" / "summary.csv")
    assert summary["runs"].sum() == 40 * len(sw.rules) and summary["success_rate"].notna().all()


def test_rule_tables_are_the_same_from_parts_in_any_order():
    """A sweep's shards interleave their runs: the tables gathered from parts of runs, in any order,
    are the tables of the whole (sums of integers, medians of the same values)."""
    from gdlab.runner.sweeps import descend
    from gdlab.tables.stats import RuleTally, rule_outcomes, target_steps
    res = descend("himmelblau", "gd", np.random.default_rng(0).uniform(-5, 5, (60, 2)), alpha=[0.01, 0.02],
                  criterion=["df", "grad", "dx"], epsilon=[1e-3, 1e-8], min_steps=[0, 20], max_iter=400)
    runs, stops, curves = res.runs, res.stops, res.curves
    whole = summary_table(runs, stops, 1e-3)
    parts = np.array_split(np.random.default_rng(1).permutation(runs["run_id"].to_numpy()), 4)
    for rows in (None, len(stops)):        # values kept part by part, or written into arrays made for them
        tally = RuleTally(rows=rows)
        for ids in parts:
            mine = runs[runs["run_id"].isin(ids)]
            tally.add(rule_outcomes(mine, stops[stops["run_id"].isin(ids)], 1e-3),
                      target_steps(mine, curves[curves["run_id"].isin(ids)], 1e-6))
        pd.testing.assert_frame_equal(tally.summary(), whole)
        pd.testing.assert_frame_equal(tally.comparison(), rule_comparison(runs, stops, curves, 1e-3, 1e-6))
    with pytest.raises(ValueError, match="more run × rule rows than the 10"):
        RuleTally(rows=10).add(rule_outcomes(runs, stops, 1e-3))
    assert whole["premature"].sum() > 0 and (whole["never_fired"] > 0).any() and len(whole) == 24
    assert whole["median_stop_step"].nunique() > 5


def test_cell_values_give_pandas_medians_and_keep_only_what_they_read():
    """The tally's values by cell, added in parts in any order, give pandas' median and 90th
    percentile of each group of cells: steps (−1: none) as counts of each value, through the dense
    count and through the sparse one (few rows over a wide range), and floats with NaN left out,
    cell codes below and above 2¹⁶. Steps are kept as counts, so a million of them take a few KB."""
    from gdlab.tables.stats import CellValues
    rng = np.random.default_rng(0)
    for counted, n_cells, values in (
            (True, 7, lambda n: rng.integers(-1, 60, n)),                         # dense counts
            (True, 5, lambda n: np.where(rng.random(n) < 0.5, rng.integers(0, 10**9, n), -1)),   # sparse
            (False, 9, lambda n: np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))),
            (False, 70_000, lambda n: rng.normal(size=n))):
        n = 40_000
        cell = rng.integers(0, n_cells, n).astype(np.int32)
        if n_cells > 1 << 16:
            cell[:3] = [0, 65_536, 69_999]
        v = values(n)
        kept = CellValues(counted)
        for rows in np.array_split(rng.permutation(n), 5):
            kept.add(cell[rows], v[rows])
        whole = pd.Series(np.where(v >= 0, v, np.nan) if counted else v)
        for cells in ([0], [1, 3], list(range(n_cells)), [n_cells + 5]):
            picked = whole[np.isin(cell, cells)]
            got = pd.Series(kept.of(cells))
            assert got.dtype == np.float64 and len(got) == picked.notna().sum()
            for stat in (pd.Series.median, lambda s: s.quantile(0.9)):
                assert stat(got) == stat(picked) or (np.isnan(stat(got)) and np.isnan(stat(picked)))
        if counted and n_cells == 7:
            assert kept.nbytes <= 5 * n_cells * 61 * 16        # at most a count per cell, value and part
    steps = CellValues(True)
    steps.add(np.zeros(10**6, np.int32), np.random.default_rng(1).integers(10, 110, 10**6))
    assert steps.nbytes <= 100 * 16 and len(steps.of([0])) == 10**6


def test_the_reports_shortcuts_give_what_pandas_does():
    """The report groups a part's rows by codes, skipping the columns that hold one value, finds runs'
    rows by binary search and a run's first step at the target in one pass: each is checked here
    against the pandas it stands for (group-by, isin, drop_duplicates and merge), on frames with
    text and NA, NaN, constant columns, in order and shuffled."""
    from gdlab.tables.columns import in_order
    from gdlab.tables.stats import group_codes, row_groups, rows_of, stalled_runs, target_steps
    rng = np.random.default_rng(0)
    by = ["problem", "alpha", "momentum", "k"]

    def frame(n, t):
        return pd.DataFrame({
            "problem": pd.Series(rng.choice(["a", "b", None], n, p=[.5, .4, .1]) if t % 3 else ["a"] * n,
                                 dtype="string"),
            "alpha": rng.choice([0.1, 0.2, np.nan], n) if t % 2 else np.full(n, 0.5),
            "momentum": np.full(n, np.nan), "k": rng.integers(0, 3, n) if t % 5 else np.zeros(n, int)})

    for t in range(60):
        seen, seen_pandas = None, None
        for _ in range(4):
            f = frame(int(rng.integers(1, 40)), t)
            assert (row_groups(f, by) == f.groupby(by, dropna=False, sort=False).ngroup().to_numpy()).all()
            codes, seen = group_codes(f, by, seen)
            seen_pandas = pd.concat([seen_pandas, f[by]]).drop_duplicates(ignore_index=True)
            pd.testing.assert_frame_equal(seen.reset_index(drop=True), seen_pandas)
            want = f[by].merge(seen_pandas.reset_index(names="code"), on=by, how="left")["code"].to_numpy()
            assert (codes == want).all()

    for t in range(100):
        n = int(rng.integers(0, 30))
        run = np.sort(rng.integers(0, 15, n)) if t % 4 else rng.integers(0, 15, n)
        f = pd.DataFrame({"run_id": run, "v": rng.random(n)}, index=rng.permutation(n) + 7)
        ids = rng.integers(-2, 17, int(rng.integers(0, 8)))
        pd.testing.assert_frame_equal(rows_of(f, ids), f[f["run_id"].isin(ids)])

    from gdlab.report.page import _among, _by_setting
    for t in range(40):      # counts by setting code and the values of more columns, against the group-by
        seen = pd.DataFrame({"problem": pd.Series(["a", "b", "c"], dtype="str"), "alpha": [0.1, np.nan, 0.1]})
        n = int(rng.integers(0, 50))
        setting = rng.integers(0, 3, n) if t % 4 else np.full(n, 2)
        status = pd.Series(rng.choice(["converged", "diverged", None], n) if t % 3 else ["converged"] * n,
                           dtype="str")
        end = rng.integers(-1, 3, n)
        run_id = rng.permutation(n) + 10
        rows = seen.iloc[setting].reset_index(drop=True).assign(status=status, end=end, run_id=run_id)
        for more, ids in (({"status": status}, run_id), ({"end": end}, None), ({"status": status, "end": end}, None)):
            got = _by_setting(setting, seen, ["problem", "alpha"], more, ids)
            grouped = rows.assign(_s=setting).groupby(["_s", *more], dropna=False)
            want = grouped.size() if ids is None else grouped["run_id"].agg(["size", "min"])
            want.index = pd.MultiIndex.from_arrays(
                [*(seen[k].iloc[want.index.get_level_values(0)] for k in ("problem", "alpha")),
                 *(want.index.get_level_values(i + 1) for i in range(len(more)))], names=["problem", "alpha", *more])
            flat = (lambda x: x.reset_index().sort_values([*x.index.names], ignore_index=True, na_position="first"))
            pd.testing.assert_frame_equal(flat(got if ids is not None else got.rename("n").to_frame()),
                                          flat(want if ids is not None else want.rename("n").to_frame()))
    for t in range(100):       # a part's runs (in order, or not) among the drawn ids (sorted)
        run = rng.choice(40, int(rng.integers(0, 20)), replace=False)
        run = np.sort(run) if t % 3 else run
        drawn = np.sort(rng.choice(50, int(rng.integers(0, 30)), replace=False)) - 5
        assert (_among(drawn, run) == np.isin(run, drawn)).all()

    ids = np.array([2, 3, 5, 8, 9])
    runs = pd.DataFrame({"run_id": ids, "f_final": [1.0, 2.0, 3.0, 4.0, 5.0], "f_gap": [0.5, 1.0, np.nan, 3.0, 0.0]})
    curves = pd.DataFrame({"run_id": [2, 2, 2, 3, 3, 5, 8, 8, 9, 11], "step": [0, 1, 4, 0, 2, 0, 0, 9, 3, 0],
                           "f": [9.0, 0.6, 0.5, 1.5, 1.01, 3.0, 2.0, 1.0, 9.0, 0.0]})
    got = target_steps(runs, curves, 0.2)
    assert got.to_dict() == {2: 1, 3: 2, 8: 9}          # f* = f_final − f_gap; 5: none known; 9: never; 11: no run
    pd.testing.assert_series_equal(got, target_steps(runs, curves.sample(frac=1, random_state=0), 0.2))
    # as many runs with curve rows as there are runs, but not the same runs: 9 has no f*, 5 no rows
    assert target_steps(runs.iloc[:3], curves[curves["run_id"].isin([2, 3, 9])], 0.2).to_dict() == {2: 1, 3: 2}

    # the tally's sums per cell against the group-by they stand for (NaN skipped, an all-NaN cell)
    from gdlab.tables.stats import RuleTally, _distinct_pairs
    for t in range(20):
        n = int(rng.integers(1, 60))
        cell = rng.integers(0, 9, n).astype(np.int32)
        if t % 4 == 0:
            cell[:] = t // 4          # one cell: summed a column at a time
        cols = {"success": rng.choice([0.0, 1.0, np.nan], n),
                "fired": rng.random(n) < 0.5, "spent": rng.integers(0, 10**6, n),
                "wasted": np.where(cell == 2, np.nan, rng.choice([0.0, 3.0, np.nan], n))}
        best = np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
        want = pd.DataFrame({"cell": cell, "runs": 1, **cols, "best_f": best}).groupby("cell").agg(
            {**{c: "sum" for c in ("runs", *cols)}, "best_f": "min"})
        pd.testing.assert_frame_equal(RuleTally._cell_sums(cell, cols, best), want)
        tie = np.array([0.0, -0.0, np.nan, -0.0])[:1 + t % 4]        # the group-by keeps the first of the least
        got = RuleTally._cell_sums(np.zeros(len(tie), np.int32), {}, tie)["best_f"].iloc[0]
        first = pd.Series(tie).groupby(np.zeros(len(tie), int)).min().iloc[0]
        assert np.signbit(got) == np.signbit(first)
        min_id = rng.integers(-1, 4, n) * (10**18 if t == 3 else 1)         # (pairs too wide for one integer)
        pairs = _distinct_pairs(cell, min_id)
        pd.testing.assert_frame_equal(pairs.sort_values(["cell", "min_id"], ignore_index=True),
                                      pd.DataFrame({"cell": cell, "min_id": min_id}).drop_duplicates()
                                      .sort_values(["cell", "min_id"], ignore_index=True))

    # the cycling runs, from ordered rows in one pass and from shuffled ones by group-by tail
    found = 0
    for t in range(40):
        n = int(rng.integers(1, 12))
        runs = pd.DataFrame({"run_id": np.arange(n), "status": rng.choice(["max_iter", "converged"], n)})
        steps = [np.sort(rng.choice(20, int(rng.integers(0 if t % 3 else 1, 4)), replace=False)) for _ in range(n)]
        curves = pd.DataFrame({"run_id": np.repeat(np.arange(n), [len(s) for s in steps]),
                               "step": np.concatenate(steps).astype(np.int64)})
        curves["f"] = rng.choice([1.0, 1.0 + 1e-12, 2.0], len(curves))
        curves["grad_norm"] = rng.choice([1e-4, 0.5], len(curves))
        fast = stalled_runs(runs, curves)
        backwards = curves.sort_values(["run_id", "step"], ascending=[False, True])     # runs out of order
        assert in_order(curves, ["run_id", "step"])
        assert not in_order(backwards, ["run_id", "step"]) or curves["run_id"].nunique() < 2
        pd.testing.assert_frame_equal(fast, stalled_runs(runs, backwards))
        assert set(fast.columns) == {"run_id", "f_prev", "f_last", "grad_last", "rows"}
        found += len(fast)
    assert found >= 5           # cycling runs were among them

    # the ECDF's first steps at each target in one pass over ordered rows, against a group-by min a
    # target; steps to the f-target with one f* for every run (subtracted as a number) and with several;
    # the ECDF's order of settings by their codes, against a group-by of the labels
    from gdlab.report.page import _ecdf_order
    from gdlab.tables.stats import f_star_of_runs, sample_groups
    targets = [10.0, 1.0, 0.1, 1e-3]
    for t in range(40):
        n = int(rng.integers(1, 30))
        runs = pd.DataFrame({"run_id": (np.arange(n) if t % 2 else rng.permutation(n)) * 3 + 1,
                             "method": pd.Series(rng.choice(["gd", "adam"], n), dtype="string"),
                             "alpha": rng.choice([0.1, np.nan], n) if t % 2 else np.full(n, 0.1),
                             "f_final": rng.random(n), "f_gap": rng.choice([0.0, 0.5, np.nan], n)})
        if t % 3 == 0:
            runs["f_gap"] = runs["f_final"]          # f* = 0 for every run: the one-f* path
        steps = [np.sort(rng.choice(30, int(rng.integers(t % 3 == 0, 6)), replace=False)) for _ in range(n + 2)]
        ids = np.r_[np.sort(runs["run_id"].to_numpy()), 200, 203]          # two runs with curves and no run row
        curves = pd.DataFrame({"run_id": np.repeat(ids, [len(x) for x in steps]),
                               "step": np.concatenate(steps).astype(np.int64)})
        curves["f"] = 10.0 ** rng.uniform(-4, 1.5, len(curves))
        shuffled = curves.sample(frac=1, random_state=t)
        by, cap = ["method", "alpha"], int(rng.integers(1, 8))
        keep = sample_groups(runs, by, cap)
        star = f_star_of_runs(runs)
        c = curves[curves["run_id"].isin(keep["run_id"])]
        gap = c["f"].to_numpy() - star.reindex(c["run_id"].to_numpy()).to_numpy()
        want = pd.concat([pd.DataFrame({"run_id": keep["run_id"].to_numpy(), "target": x, "step": c.loc[gap <= x]
                                        .groupby("run_id")["step"].min().reindex(keep["run_id"].to_numpy())
                                        .fillna(np.inf).to_numpy()}) for x in targets], ignore_index=True
                         ).merge(keep[["run_id", *by]], on="run_id")
        for rows in (curves, shuffled):
            pd.testing.assert_frame_equal(ecdf_targets(runs, rows, by, targets, max_runs=cap), want)
        gap = curves["f"].to_numpy() - star.reindex(curves["run_id"].to_numpy()).to_numpy()
        first = curves[gap <= 0.2].groupby("run_id")["step"].min()
        for rows in (curves, curves[curves["run_id"] < 200]):     # (every run has rows where t % 3 == 0)
            got = target_steps(runs, rows, 0.2, ordered=True)
            assert got.to_dict() == first[first.index.isin(runs["run_id"])].to_dict()
        hits = want.assign(label=[f"{m} {a}" for m, a in zip(want["method"], want["alpha"])])
        score = 1.0 / (1.0 + np.log10(hits["step"].to_numpy(float) + 1.0))
        by_label = pd.Series(score).groupby(hits["label"].to_numpy(), sort=False).mean()
        assert _ecdf_order(hits, by) == list(by_label.sort_values(ascending=False, kind="stable").index)


def test_a_part_read_back_is_put_in_order_only_when_it_is_not():
    from gdlab.tables.columns import in_order
    frame = pd.DataFrame({"run_id": [0, 0, 1, 1, 2], "step": [0, 5, 0, 1, 9]})
    assert in_order(frame, ["run_id", "step"]) and in_order(frame, ["run_id"])
    assert not in_order(frame.iloc[[0, 2, 1, 3, 4]], ["run_id"])
    assert not in_order(frame.iloc[[1, 0, 2, 3, 4]], ["run_id", "step"])
    assert in_order(frame.iloc[:0], ["run_id", "step"])


def test_a_heatmap_keeps_an_epsilon_where_the_rule_never_fired():
    """A rule that never fired has no median stop step: its cells show "–", and the column stays
    (the pivot used to drop an all-nan column, and a panel of one such column was empty)."""
    table = pd.DataFrame({"alpha": [0.1, 0.01, 0.1, 0.01], "epsilon": [1e-3, 1e-3, 1e-6, 1e-6],
                          "median_stop_step": [30.0, np.nan, np.nan, np.nan]})
    fig, axes = plt.subplots(1, 2)
    F.plot_heatmap(table, "median_stop_step", "both", axes[0], fmt="{:.0f}")
    assert [t.get_text() for t in axes[0].texts] == ["30", "–", "–", "–"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["0.001", "1e-06"]
    F.plot_heatmap(table[table["epsilon"] == 1e-6], "median_stop_step", "never", axes[1], fmt="{:.0f}")
    assert [t.get_text() for t in axes[1].texts] == ["–", "–"] and axes[1].get_images()[0].get_array().shape == (2, 1)
    plt.close(fig)


def test_the_heatmaps_of_one_value_share_a_color_scale_and_a_share_spans_0_to_1(built_report, tmp_path, monkeypatch):
    """A rule whose success rate is 0 everywhere used to get the scale (−0.1, 0.1), its cells the
    middle color that reads as 0.5 in the next panel; and each rule's median stop steps had a scale of
    their own, so one color was different numbers across the rules compared."""
    from gdlab.report import page as report
    folder = tmp_path / "copy"
    shutil.copytree(built_report[0], folder)
    drawn, save = {}, report._Figures.save

    def keep(self, fig, problem, name, caption):
        drawn[f"{problem}-{name}"] = [(ax.get_title(), ax.get_images()[0].get_clim(),
                                       type(ax.get_images()[0].norm).__name__) for ax in fig.axes if ax.get_images()]
        return save(self, fig, problem, name, caption)

    monkeypatch.setattr(report._Figures, "save", keep)
    build(folder, log=lambda m: None)
    summary = pd.read_csv(folder / "report" / "tables" / "summary.csv")
    for method in ("gd", "momentum"):
        panels = drawn[f"himmelblau-heatmap-{method}"]
        assert len(panels) == 2 * 3                                  # success rate and stop step × three rules
        shares = [(clim, norm) for title, clim, norm in panels if "success rate" in title]
        steps = {(clim, norm) for title, clim, norm in panels if "median stop step" in title}
        assert shares == [((0.0, 1.0), "Normalize")] * 3
        s = summary[(summary["problem"] == "himmelblau") & (summary["method"] == method)]
        s = s[s["momentum"] == s["momentum"].max()] if s["momentum"].notna().any() else s
        low, high = s["median_stop_step"].min(), s["median_stop_step"].max()
        # log only where the steps span more than a factor of 10 (here they do not; below, they do)
        assert steps == {((low, high), "LogNorm" if high > 10 * low >= 10 else "Normalize")}
    fig, ax = plt.subplots()
    table = pd.DataFrame({"alpha": [0.1, 0.01], "epsilon": [1e-3, 1e-3], "v": [0.0, 0.0]})
    F.plot_heatmap(table, "v", "none succeeded", ax, limits=(0.0, 1.0))
    assert ax.get_images()[0].get_clim() == (0.0, 1.0)
    for values, norm in (([0.0, 50.0], "Normalize"), ([5.0, 40.0], "Normalize"), ([5.0, 60.0], "LogNorm")):
        ax.clear()
        F.plot_heatmap(table.assign(v=values), "v", "steps", ax, fmt="{:.0f}", log=True)
        assert type(ax.get_images()[0].norm).__name__ == norm and [t.get_text() for t in ax.texts] == \
            [f"{values[0]:.0f}", f"{values[1]:.0f}"]
    ax.clear()                                  # a missing value's "–" is dark on its blank cell, log scale or not
    F.plot_heatmap(table.assign(v=[np.nan, 60.0]), "v", "steps", ax, fmt="{:.0f}", cmap="magma_r",
                   limits=(5.0, 60.0), log=True)
    assert [(t.get_text(), t.get_color()) for t in ax.texts] == [("–", "black"), ("60", "white")]
    assert F.value_limits([np.nan, 3.0, 7.0, np.inf]) == (3.0, 7.0) and F.value_limits([np.nan]) == (0.0, 1.0)
    assert F.value_limits([0.0, 0.0]) == (0.0, 1.0)           # a grid of zero steps: no negative steps on the bar
    plt.close(fig)


def test_a_heatmap_of_one_of_several_momenta_says_so(tmp_path):
    sw = validate({"problems": ["himmelblau"], "method": ["momentum"], "alpha": [0.001, 0.005], "momentum": [0.5, 0.9],
                   "starts": {"kind": "grid", "n": 4}, "epsilon": [1e-3, 1e-6], "criterion": ["df"], "max_iter": 300,
                   "dtype": "float64", "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    page = build(folder, log=lambda m: None).read_text()
    assert "himmelblau, momentum: alpha × epsilon, a panel per criterion (success: the rule fired within " \
           "success_tol of a known minimum). Drawn at momentum=0.9; the summary table has every setting." in page
    # any two of the sweep's numeric columns, by config; the same folder (report is not part of the id), redrawn
    again = run_to_folder(validate({**sw.config, "report": {"heatmap": ["momentum", "alpha"]}}),
                          log=lambda m: None, show_progress=False)
    assert again == folder
    page = build(folder, log=lambda m: None).read_text()
    assert "himmelblau, momentum: momentum × alpha, a panel per criterion" in page
    assert "Drawn at epsilon=1e-06; the summary table has every setting." in page
    with pytest.raises(ConfigError, match=r"report.heatmap: 'b1' is not a numeric column of this sweep"):
        validate({**sw.config, "report": {"heatmap": ["alpha", "b1"]}})


def test_parts_are_read_one_ahead_in_a_background_thread_in_order():
    import threading

    from gdlab.storage import prefetched
    made, makers = [], set()

    def parts(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise OSError(f"part {i} is unreadable")
            made.append(i)
            makers.add(threading.current_thread().name)
            yield i

    got = []
    for i in prefetched(parts(5)):
        got.append(i)
        deadline = time.monotonic() + 10
        while len(made) < min(i + 2, 5) and time.monotonic() < deadline:    # the next is made meanwhile
            time.sleep(0.001)
        assert made == list(range(min(i + 2, 5)))
    assert got == [0, 1, 2, 3, 4] and makers and threading.current_thread().name not in makers
    made.clear()
    for i in prefetched(parts(100)):
        if i == 2:
            break
    assert made == [0, 1, 2, 3]              # stopping early: only the one being made when it stopped
    with pytest.raises(OSError, match="part 3 is unreadable"):
        for i in prefetched(parts(6, fail_at=3)):
            got.append(i)
    assert got[-3:] == [0, 1, 2]             # an error comes where its part would have
    made.clear()
    ahead = prefetched(parts(3))
    deadline = time.monotonic() + 10
    while not made and time.monotonic() < deadline:     # the first is begun before it is asked for
        time.sleep(0.001)
    assert made == [0] and list(ahead) == [0, 1, 2]
    # closed before any item is asked for (a caller that failed first): the item being made is waited
    # for, no more are made, and no reader is left
    made.clear()
    ahead = prefetched(parts(5))
    ahead.close()
    assert made == [0] and list(ahead) == []
    assert not [t.name for t in threading.enumerate() if t.name.startswith("gdlab-reader")]


def test_importing_gdlab_leaves_the_matplotlib_backend_alone():
    """A notebook's backend stays its own: importing gdlab, its figures and lessons switches nothing."""
    import sys
    code = ("import matplotlib; matplotlib.use('pdf'); import gdlab, gdlab.report.figures, gdlab.lessons; "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pdf"


def test_results_show_themselves_in_a_notebook_with_a_link_to_their_report(tmp_path):
    sw = validate({"problems": ["himmelblau"], "method": ["gd", {"name": "adam", "b1": [0.8, 0.9]}],
                   "starts": {"kind": "grid", "n": 3}, "max_iter": 300, "out_dir": str(tmp_path), "traces": 0})
    folder = run_to_folder(sw, log=lambda m: None, show_progress=False)
    r = load(folder)
    page = r._repr_html_()
    counts = ", ".join(f"{k} {v}" for k, v in r.runs["status"].value_counts().items())
    assert f"27 ({counts})" in page and "himmelblau" in page and "gd, adam" in page
    assert "the report" not in page                  # none built yet
    build(folder, log=lambda m: None)
    page = r._repr_html_()
    assert f"href='{(folder / 'report' / 'index.html').as_uri()}'" in page
    summary = page.split("summary (", 1)[1]
    assert "<th>b1</th>" in summary and "<td>adam</td>" in summary and "<th>momentum</th>" not in summary


def test_ecdfs_in_evaluations_by_config():
    """report.runtime: evaluations puts the ECDF on evaluations of f and ∇f; its steps are each pair's share."""
    hits = pd.DataFrame({"label": ["a"] * 4, "step": [0, 3, 9, np.inf], "evaluations": [2.0, 8.0, 20.0, np.inf]})
    fig, ax = plt.subplots()
    F.plot_ecdf(hits, "t", 100, ax, against="evaluations")
    x, y = ax.lines[0].get_data()
    assert ax.get_xlabel() == "evaluations of f and ∇f"
    for at, share in ((2, 0.25), (7, 0.25), (8, 0.5), (20, 0.75), (1e4, 0.75)):
        below = x[x <= at]
        if len(below):
            assert y[len(below) - 1] == share, (at, share)
    plt.close(fig)


def test_a_report_with_runtime_in_evaluations_says_so(tmp_path):
    sw = validate({"problems": ["himmelblau"], "method": ["gd", "backtracking"], "alpha": [0.01],
                   "starts": {"kind": "grid", "n": 3}, "max_iter": 300, "out_dir": str(tmp_path), "traces": 0,
                   "report": {"runtime": "evaluations"}})
    page = build(run_to_folder(sw, log=lambda m: None, show_progress=False), log=lambda m: None).read_text()
    assert "share of (start, target) pairs solved by evaluations of f and ∇f" in page
    assert "himmelblau: each method at its best setting" in page
    with pytest.raises(ConfigError, match="report.runtime: must be steps or evaluations"):
        validate({**sw.config, "report": {"runtime": "seconds"}})


def test_a_sweep_of_more_problems_than_report_problem_figures_draws_none_of_their_own(tmp_path):
    """Past report.problem_figures problems the page draws no figures per problem and says why; at
    the limit it draws them."""
    base = {"problems": ["booth", "himmelblau", "beale"], "alpha": [0.01], "max_iter": 50, "traces": 1,
            "starts": {"kind": "uniform", "n": 4, "seed": 0}, "out_dir": str(tmp_path)}
    for limit, drawn in ((2, False), (3, True)):
        folder = run_to_folder(validate({**base, "report": {"problem_figures": limit}, "out_dir": str(tmp_path / str(limit))}),
                               log=lambda m: None, show_progress=False)
        build(folder, log=lambda m: None)
        figures = {f.name.split("-")[0] for f in (folder / "report" / "figures").glob("*.png")}
        assert ({"booth", "himmelblau", "beale"} <= figures) is drawn
        assert drawn or not figures & {"booth", "himmelblau", "beale"}
        page = (folder / "report" / "index.html").read_text()
        assert ("none: 3 problems, more than report.problem_figures = 2" in page) is not drawn
    # a rebuild removes the figures its last build drew and this one does not, and nothing else
    facts = json.loads((folder / "report" / "facts.json").read_text())
    assert {f.stem for f in (folder / "report" / "figures").glob("*.png")} == set(facts["figures"])
    (folder / "report" / "facts.json").write_text(json.dumps({**facts, "figures": [*facts["figures"], "old-fig"]}))
    for name in ("old-fig.png", "old-fig.svg", "mine.png"):
        (folder / "report" / "figures" / name).write_bytes(b"x")
    build(folder, log=lambda m: None)
    left = {f.name for f in (folder / "report" / "figures").iterdir()}
    assert "mine.png" in left and not {"old-fig.png", "old-fig.svg"} & left
    assert {f"{s}.png" for s in facts["figures"]} <= left


def test_bands_of_runs_that_all_ended_nonfinite_say_so_instead_of_failing_the_report(tmp_path):
    """A problem whose every run ended nonfinite (gd at α = 0.01 on Rosenbrock) gave bands of NaN on log
    axes, and matplotlib refused to lay the figure out: the whole report failed."""
    from gdlab.report.render import save_figure
    nan = np.full(3, np.nan)
    bands = pd.DataFrame({"label": "gd α=0.01", "step": [0, 1, 2], "q10": nan, "q50": nan, "q90": nan,
                          "measure": "f - f*"})
    fig, ax = plt.subplots()
    F.plot_bands(bands, "rosenbrock", ax=ax)
    assert [t.get_text() for t in ax.texts] == ["no finite values to draw:\nevery run here ended nonfinite"]
    assert ax.get_yscale() == "linear"
    assert save_figure(fig, tmp_path, "bands").startswith(b"\x89PNG")
    fig, ax = plt.subplots()
    F.plot_bands(bands.assign(q50=[1.0, 0.1, 0.01]), "rosenbrock", ax=ax)
    assert ax.get_yscale() == "log" and not ax.texts
    plt.close("all")


def test_settings_that_six_digits_do_not_tell_apart_get_labels_that_do():
    """The report's figures and its methods' best settings group runs by their setting's label: two
    step sizes that print alike to six digits get every digit, the others keep six."""
    from gdlab.report.page import _label
    frame = pd.DataFrame({"method": ["gd", "gd", "gd", "momentum"], "alpha": [0.1234561, 0.1234564, 0.01, 0.01],
                          "momentum": [np.nan, np.nan, np.nan, 0.9], "schedule": "constant"})
    assert _label(frame, ["method", "alpha", "momentum", "schedule"]).tolist() == [
        "gd α=0.1234561", "gd α=0.1234564", "gd α=0.01", "momentum α=0.01 γ=0.9"]


def test_a_figure_of_some_settings_labels_them_as_the_whole_sweep_does(tmp_path):
    """A figure that draws a subset of the settings (each method at its best step size) names each as
    the sweep's tables do: adam's best α = 0.1234561 keeps its seventh digit, which tells it from
    0.1234564 (labelled alone, the subset dropped it, and the report failed on the label)."""
    from gdlab.report.page import _label, _label_among
    keys = ["method", "alpha"]
    runs = pd.DataFrame({"method": ["adam", "adam", "gd"], "alpha": [0.1234561, 0.1234564, 0.01]})
    assert _label(runs.iloc[[0, 2]], keys).tolist() == ["adam α=0.123456", "gd α=0.01"]
    assert _label_among(runs.iloc[[0, 2]], runs, keys).tolist() == ["adam α=0.1234561", "gd α=0.01"]
    sw = validate({"problems": ["himmelblau"], "method": ["gd", "adam"], "alpha": [0.1234561, 0.1234564, 0.01],
                   "starts": {"kind": "uniform", "n": 6}, "criterion": ["grad"], "epsilon": [1e-4], "max_iter": 300,
                   "out_dir": str(tmp_path), "traces": 0})
    folder = run_to_folder(sw, log=lambda m: None)
    build(folder, log=lambda m: None)
    assert (folder / "report" / "figures" / "himmelblau-methods.svg").exists()
