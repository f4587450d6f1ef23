"""Problem suites: bbob equal to COCO's own (cocoex), CUTEst through sif2jax, starts of kind suite,
and the config errors of suite entries."""

import importlib.util
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import gdlab
from gdlab.core.errors import ConfigError, ProblemError
from gdlab.core.suites import EXTRA, bbob, cutest, suite_problems
from gdlab.report.page import build
from gdlab.report.suites import (
    aggregated_ecdf,
    art_table,
    at_best_settings,
    below_listed_lines,
    data_profile,
    performance_profile,
    profile_costs,
    run_runtimes,
    setting_label,
)
from gdlab.runner.execute import run_to_folder
from gdlab.runner.plan import make_starts
from gdlab.runner.schema import validate
from gdlab.storage.load import load
from gdlab.tables.stats import (
    RuleTally,
    below_listed_f_star,
    best_settings,
    evaluations_at,
    grad_cost_of,
    rule_outcomes,
    summary_table,
    target_values,
)

# the find, not the import: sif2jax's package import takes a minute (gdlab loads one problem at a time)
needs_sif2jax = pytest.mark.skipif(importlib.util.find_spec("sif2jax") is None, reason="needs gdlab[suites]")
INSTANCES = (1, 2, 3, 4, 5)
DIMS = (2, 5, 10)


@pytest.fixture(scope="module")
def coco_suite():
    cocoex = pytest.importorskip("cocoex")
    return cocoex.Suite("bbob", "", "")


def _coco_best_parameter(problem, tmp_path) -> np.ndarray:
    """cocoex writes a problem's best parameter to a file in the working folder."""
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        problem._best_parameter("print")
        return np.loadtxt("._bbob_problem_best_parameter.txt").reshape(-1)
    finally:
        os.chdir(here)


@pytest.mark.parametrize("function", bbob.FUNCTIONS)
def test_bbob_equals_coco(function, coco_suite, tmp_path):
    """f at 25 random points (5 of them outside [−5, 5]^d), x_opt and f_opt, for instances 1–5 in
    2, 5 and 10-D: gdlab's float64 values are COCO's to 1e-9 (relative, or absolute below 1)."""
    rng = np.random.default_rng(function)
    worst = 0.0
    with jax.enable_x64(True):
        for d in DIMS:
            for i in INSTANCES:
                coco = coco_suite.get_problem_by_function_dimension_instance(function, d, i)
                ours = suite_problems({"suite": "bbob", "functions": [function], "instances": [i], "dims": [d]})[0]
                xs = np.vstack([rng.uniform(-5, 5, (20, d)), rng.uniform(-6, 6, (5, d))])
                want = np.array([coco(x) for x in xs])
                got = np.asarray(ours.fn(jnp.asarray(xs.T)))
                worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))))
                best = _coco_best_parameter(coco, tmp_path)
                inst = bbob.instance(function, i, d)
                if function != 16:       # Weierstrass: many global minimisers; COCO lists one of them
                    np.testing.assert_allclose(inst.x_opt, best, rtol=0, atol=1e-12)
                    assert ours.minima == (inst.x_opt,)
                assert ours.f_min[0] == pytest.approx(coco(best), rel=1e-9, abs=1e-9)
                assert float(ours.fn(jnp.asarray(inst.x_opt))) == pytest.approx(ours.f_min[0], rel=1e-9, abs=1e-9)
                coco.free()
    assert worst < 1e-9


def test_bbob_names_keys_and_domain():
    probs = suite_problems({"suite": "bbob", "functions": [1, 8], "instances": [1, 2], "dims": [2, 5]})
    assert [p.name for p in probs] == ["bbob-f1-i1-d2", "bbob-f1-i1-d5", "bbob-f1-i2-d2", "bbob-f1-i2-d5",
                                       "bbob-f8-i1-d2", "bbob-f8-i1-d5", "bbob-f8-i2-d2", "bbob-f8-i2-d5"]
    assert len({p.key for p in probs}) == len(probs)
    p = probs[-1]
    assert p.dim == 5 and p.domain == ((-5.0, 5.0),) * 5 and p.start == (0.0,) * 5 and p.vectorized


def test_a_bbob_entry_compiles_one_kernel_a_method_and_runs_each_problem_on_its_own_numbers():
    """The functions and instances of one entry and dimension are one family: their runs share a
    kernel, each on its own params (f at each run's end is that problem's own f there)."""
    from gdlab.engine import kernel_cache_size
    entry = {"suite": "bbob", "functions": [1, 8, 21], "instances": [1, 2], "dims": [2]}
    probs = {p.name: p for p in suite_problems(entry)}
    assert {p.objective for p in probs.values()} == {probs["bbob-f1-i1-d2"].objective}
    before = kernel_cache_size()
    r = gdlab.sweep({"problems": [entry], "method": ["gd"], "alpha": [0.01], "max_iter": 300, "traces": 0,
                     "starts": {"kind": "uniform", "n": 4, "seed": 0}, "dtype": "float64"})
    assert kernel_cache_size() == before + 1
    assert len(r.runs) == 24
    with jax.enable_x64(True):
        for name, runs in r.runs.groupby("problem"):
            x = np.stack(runs["x_final"].to_numpy())
            own = np.asarray(probs[name].fn(jnp.asarray(x.T)))
            np.testing.assert_allclose(runs["f_final"].to_numpy(), own, rtol=1e-12)
            assert (runs["f_final"] >= probs[name].f_min[0] - 1e-9).all()


@pytest.mark.parametrize("entry, message", [
    ({"suite": "bbob", "functions": [25]}, "functions must be whole numbers in [1, 24], got 25"),
    ({"suite": "bbob", "dims": [1]}, "dims must be whole numbers in [2, 40], got 1"),
    ({"suite": "bbob", "functions": [1, 1]}, "lists a value twice"),
    ({"suite": "bbob", "function": [1]}, "unknown key 'function' (did you mean 'functions'?)"),
    ({"suite": "coco"}, "suite: must be one of bbob, cutest, got 'coco'"),
    ({"suite": "cutest"}, "names must be a non-empty list of CUTEst problem names"),
    ({"suite": "cutest", "names": ["ROSENBRK"]}, "'ROSENBRK' is not one of sif2jax's unconstrained problems "
                                                  "(did you mean 'ROSENBR'?)"),
])
def test_suite_entry_errors(entry, message):
    if entry.get("names") and importlib.util.find_spec("sif2jax") is None:
        pytest.skip("needs gdlab[suites]")
    with pytest.raises(ConfigError) as err:
        validate({"problems": [entry]})
    assert f"problems[0]: suite {entry['suite']}: " in str(err.value) or "problems[0]: suite:" in str(err.value)
    assert message in str(err.value)


def test_cutest_without_the_extra_names_it(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'sif2jax'", name="sif2jax")
    monkeypatch.setattr(cutest, "_root", missing)
    cutest.names.cache_clear()
    try:
        with pytest.raises(ConfigError, match="suite cutest needs sif2jax, which is not installed") as err:
            validate({"problems": [{"suite": "cutest", "names": ["ROSENBR"]}]})
        assert EXTRA in str(err.value) and EXTRA == "pip install 'gdlab[suites]'"
    finally:
        cutest.names.cache_clear()


@needs_sif2jax
def test_cutest_problems_carry_start_and_listed_f_star():
    rosenbr, kowosb = suite_problems({"suite": "cutest", "names": ["ROSENBR", "KOWOSB"]})
    assert rosenbr.name == "ROSENBR" and rosenbr.dim == 2 and rosenbr.start == (-1.2, 1.0)
    assert rosenbr.f_min == (0.0,) and rosenbr.minima == ()
    assert rosenbr.domain == ((-2.4, 0.0), (0.0, 2.0))        # y0 ± max(1, |y0|)
    assert kowosb.f_min == (pytest.approx(1.02734e-3),) and kowosb.start == (0.25, 0.39, 0.415, 0.39)
    with jax.enable_x64(True):
        assert float(rosenbr.fn(jnp.asarray([-1.2, 1.0]))) == pytest.approx(24.2)


def test_starts_of_kind_suite():
    prob = suite_problems({"suite": "bbob", "functions": [3], "instances": [1], "dims": [2]})[0]
    one = make_starts({"kind": "suite"}, prob)
    np.testing.assert_array_equal(one, [[0.0, 0.0]])
    three = make_starts({"kind": "suite", "n": 3, "seed": 4}, prob)
    assert three.shape == (3, 2) and (three[0] == 0).all() and (np.abs(three[1:]) <= 5).all()
    np.testing.assert_array_equal(three, make_starts({"kind": "suite", "n": 3, "seed": 4}, prob))
    with pytest.raises(ConfigError, match="starts.kind: suite takes each problem's own start, and himmelblau "
                                          "has none"):
        validate({"problems": ["himmelblau"], "starts": {"kind": "suite"}})
    with pytest.raises(ConfigError, match=r"starts.n: must be an integer ≥ 1 \(the suite's start"):
        validate({"problems": [{"suite": "bbob", "functions": [1], "instances": [1], "dims": [2]}],
                  "starts": {"kind": "suite", "n": 0}})


def test_one_problem_of_a_suite_where_one_problem_is_asked():
    with pytest.raises(ProblemError, match="gives 2 problems, not one"):
        gdlab.runner.schema.resolve_problem({"suite": "bbob", "functions": [1], "instances": [1, 2], "dims": [2]})


@pytest.mark.slow
@needs_sif2jax
def test_cutest_optima_reached_and_below_the_listed_one_is_a_success(tmp_path):
    """From the suite's start, lbfgs reaches ROSENBR's, BEALE's and HELIX's listed optimum (0) to 1e-10 and
    ends KOWOSB below sif2jax's listed 1.02734e-3, at the literature's 3.075e-4: a success, flagged."""
    sw = validate({"problems": [{"suite": "cutest", "names": ["ROSENBR", "BEALE", "HELIX", "KOWOSB"]},
                                {"suite": "bbob", "functions": [1], "instances": [1], "dims": [3]}],
                   "method": ["lbfgs"], "alpha": [1.0], "starts": {"kind": "suite"}, "dtype": "float64",
                   "criterion": ["grad"], "epsilon": [1e-9], "max_iter": 500})
    res = load(run_to_folder(sw, tmp_path, log=lambda line: None))
    runs = res.runs.set_index("problem")
    for name in ("ROSENBR", "BEALE", "HELIX"):
        assert runs.loc[name, "status"] == "converged" and 0 <= runs.loc[name, "f_final"] < 1e-10
    assert runs.loc["KOWOSB", "f_final"] == pytest.approx(3.0751e-4, rel=1e-3)
    assert runs.loc["KOWOSB", "f_gap"] < -7e-4
    assert abs(runs.loc["bbob-f1-i1-d3", "f_gap"]) < 1e-9
    np.testing.assert_array_equal(runs.loc["ROSENBR", "x0"], [-1.2, 1.0])
    kowosb = res.runs[res.runs["problem"] == "KOWOSB"]
    assert best_settings(kowosb, kowosb["method"], 1e-3)["share"].tolist() == [1.0]
    summary = summary_table(res.runs, res.stops, 1e-3).set_index("problem")
    assert summary.loc["KOWOSB", "success_rate"] == 1.0 and summary.loc["KOWOSB", "aRT"] == runs.loc["KOWOSB", "n_iter"]
    below = below_listed_f_star(res.runs)
    assert below["problem"].tolist() == ["KOWOSB"]
    assert below["runs_below"].tolist() == [1] and below["f_star"].iloc[0] == pytest.approx(1.02734e-3)
    none = below_listed_f_star(res.runs[res.runs["problem"] != "KOWOSB"])       # the same columns, no rows
    assert none.empty and none.dtypes.to_dict() == below.dtypes.to_dict()
    build(res.path, log=lambda line: None, show_progress=False)
    summary_md = (res.path / "report" / "summary.md").read_text()
    assert "below the listed f*: KOWOSB ended at 0.000307801 (1 run)" in summary_md
    assert "under its listed f* 0.00102734; counted as successes" in summary_md
    art = pd.read_csv(res.path / "report" / "tables" / "suite_art.csv")
    assert len(art) == 5 * 7 and set(art["method"]) == {"lbfgs"}
    rosenbr = art[(art["problem"] == "ROSENBR") & (art["target"] == 1e-7)].iloc[0]
    assert rosenbr["successes"] == 1 and rosenbr["ratio"] == 1.0 and 2 < rosenbr["aRT"] <= runs.loc["ROSENBR", "n_f"] * 2
    assert (res.path / "report" / "figures" / "suite_ecdf.png").exists()
    assert (res.path / "report" / "figures" / "suite_profiles.svg").exists()
    assert "Suite benchmarks" in (res.path / "report" / "index.html").read_text()


def test_problems_below_their_listed_f_star_are_a_line_each_up_to_three_then_one_line():
    """A penalised family (the constraints lesson's eight fences) put eight warning boxes at the top of the
    page; past three problems they are one line, naming the first eight and counting the rest."""
    def below(n):
        return pd.DataFrame({"problem": [f"p{i}" for i in range(n)], "best_f": [-25.1572] * n,
                             "f_star": [-25.0] * n, "runs_below": ([2] * (n - 1) + [1])[:n]})
    lines = below_listed_lines(below(3))
    assert lines == [f"below the listed f*: p{i} ended at -25.1572 ({r}), under its listed f* -25; counted as "
                     "successes (the listed value is not the optimum)" for i, r in enumerate(["2 runs", "2 runs", "1 run"])]
    one, = below_listed_lines(below(8))
    assert one.startswith("below the listed f*: runs of 8 problems ended under their listed f*, counted as successes "
                          "(the listed values are not the optima): p0 at -25.1572 under -25 (2 runs); p1 at")
    assert one.endswith("; p7 at -25.1572 under -25 (1 run)")
    one, = below_listed_lines(below(1010))
    assert one.count(" under -25 (") == 8 and one.endswith("; p7 at -25.1572 under -25 (2 runs); and 1,002 more")
    assert below_listed_lines(below(0)) == []
    # problems that list minima are judged by the distance to them: their runs below are not called successes
    both = pd.concat([below(1).assign(by_distance=False), below(2).assign(problem=["q0", "q1"], by_distance=True)])
    lines = below_listed_lines(both)
    assert lines[0].startswith("below the listed f*: p0 ended at -25.1572 (1 run)") and len(lines) == 3
    assert lines[1] == ("below the listed minima: q0 ended at -25.1572 (2 runs), under the f* -25 of the listed minimum "
                        "nearest its end; f has lower points than its listed minima (a minimum not listed, or outside "
                        "the domain); success is judged by the distance to a listed minimum, and the ECDF counts every "
                        "f-target as reached")
    assert "counted as successes" not in lines[2]


def test_a_run_below_every_listed_minimum_is_named_and_not_a_success():
    """bb1 from 2.5 on x²·sin x leaves the domain [1, 8] for x ≈ 11.17, where f = −122.9 lies below the
    listed minimum's −24.08: the report said "counted as successes" where the summary counted none."""
    res = gdlab.descend("x2_sin", "bb1", [2.5], alpha=0.01, criterion="grad", epsilon=1e-3)
    assert res.runs["x_final"].iloc[0][0] == pytest.approx(11.1727, abs=1e-3)
    below = below_listed_f_star(res.runs)
    assert below[["problem", "runs_below", "by_distance"]].to_dict("records") == [
        {"problem": "x2_sin", "runs_below": 1, "by_distance": True}]
    assert below["best_f"].iloc[0] == pytest.approx(-122.876, abs=1e-3)
    assert res.summary()["success_rate"].tolist() == [0.0]
    assert below_listed_lines(below)[0].startswith("below the listed minima: x2_sin ended at -122.876 (1 run)")


def test_coco_targets_and_grad_cost_settings():
    coco = target_values("coco")
    assert len(coco) == 51 and coco[0] == pytest.approx(100.0) and coco[-1] == pytest.approx(1e-8)
    np.testing.assert_allclose(coco[1:] / coco[:-1], 10 ** -0.2)
    assert target_values("decades").tolist() == pytest.approx([10.0 ** k for k in range(1, -9, -1)])
    assert target_values([1e-3, 1.0]).tolist() == [1.0, 1e-3]
    assert grad_cost_of("d", 5) == 5 and grad_cost_of(0.5, 5) == 0.5
    np.testing.assert_allclose(evaluations_at([0, 4, 10], [1 + 3 * 11] * 3, [10] * 3, start=1 + 3), [4, 16, 34])
    with pytest.raises(ConfigError) as err:
        validate({"report": {"grad_cost": -1, "targets": "cocoo"}})
    assert "report.grad_cost: must be a number ≥ 0 or d (the dimension), got -1" in str(err.value)
    assert "report.targets: must be decades, coco or a non-empty list of numbers > 0, got 'cocoo' (did you mean " \
           "'coco'?)" in str(err.value)


def test_grad_cost_counts_in_the_evaluations_of_art():
    """Two runs of gd (one f and one ∇f a step): the rule fires at steps 4 and 10, so with a gradient
    counting d = 3, the evaluations spent are (1 + 3)·5 and (1 + 3)·11, and aRT_evals their sum ÷ 2."""
    runs = pd.DataFrame({"run_id": [0, 1], "problem": "p", "dim": 3, "method": "gd", "alpha": 0.1, "momentum": np.nan,
                         "n_iter": [10, 10], "n_f": [11, 11], "n_grad": [11, 11], "status": "converged",
                         "min_id": [0, 0]})
    stops = pd.DataFrame({"run_id": [0, 1], "rule_id": 0, "criterion": "grad", "epsilon": 1e-6, "min_steps": 0,
                          "fired": True, "step": [4, 10], "f_at_stop": 0.0, "min_id_at_stop": 0,
                          "dist_to_min_at_stop": 0.0, "f_gap_at_stop": 0.0})
    out = rule_outcomes(runs, stops, 1e-3, grad_cost=pd.Series({"p": grad_cost_of("d", 3)}))
    assert out["spent_evals"].tolist() == [20, 44]
    tally = RuleTally()
    tally.add(out)
    assert tally.summary()["aRT_evals"].tolist() == [32.0]
    assert rule_outcomes(runs, stops, 1e-3)["spent_evals"].tolist() == [10, 22]


def test_report_settings_keep_the_default_sweeps_id():
    from gdlab.runner.experiments import experiment_config
    from gdlab.storage.folder import sweep_id
    cfg = experiment_config("default")
    assert sweep_id(validate(cfg).config) == "26830237c50d"
    cfg["report"] = {**cfg.get("report", {}), "grad_cost": "d", "targets": "coco"}
    assert sweep_id(validate(cfg).config) == "26830237c50d"


# --- the suite report's statistics, on a set computed by hand ---------------------------------------

def _runtimes():
    """Problem A (2-D): m1's two starts reach target 1 after 6 evaluations and never (8 spent), target
    1e-2 after 14 and never; m2's after 4 and 10, and never (20 spent each). Problem B (4-D): m1
    reaches target 1 after 30, m2 never (40 spent)."""
    rows = [("A", 2, "m1", 0, 1.0, 6, 6), ("A", 2, "m1", 1, 1.0, np.inf, 8),
            ("A", 2, "m1", 0, 1e-2, 14, 14), ("A", 2, "m1", 1, 1e-2, np.inf, 8),
            ("A", 2, "m2", 0, 1.0, 4, 4), ("A", 2, "m2", 1, 1.0, 10, 10),
            ("A", 2, "m2", 0, 1e-2, np.inf, 20), ("A", 2, "m2", 1, 1e-2, np.inf, 20),
            ("B", 4, "m1", 0, 1.0, 30, 30), ("B", 4, "m2", 0, 1.0, np.inf, 40)]
    return pd.DataFrame(rows, columns=["problem", "dim", "method", "start_id", "target", "evals", "spent"])


def test_art_table_and_ratios_by_hand():
    art = art_table(_runtimes()).set_index(["problem", "target", "method"])
    assert art.loc[("A", 1.0, "m1"), "aRT"] == 14.0 and art.loc[("A", 1.0, "m2"), "aRT"] == 7.0
    assert art.loc[("A", 1.0, "m1"), "ratio"] == 2.0 and art.loc[("A", 1.0, "m2"), "ratio"] == 1.0
    assert art.loc[("A", 1e-2, "m1"), "aRT"] == 22.0 and art.loc[("A", 1e-2, "m2"), "aRT"] == np.inf
    assert art.loc[("A", 1e-2, "m1"), "ratio"] == 1.0 and art.loc[("A", 1e-2, "m2"), "ratio"] == np.inf
    assert art.loc[("B", 1.0, "m1"), "successes"] == 1 and art.loc[("B", 1.0, "m2"), "aRT"] == np.inf


def test_performance_and_data_profiles_by_hand():
    costs = profile_costs(_runtimes(), 1.0)
    assert costs.index.tolist() == [("A", 0), ("A", 1), ("B", 0)] and costs["dim"].tolist() == [2, 2, 4]
    assert costs["m1"].tolist() == [6, np.inf, 30] and costs["m2"].tolist() == [4, 10, np.inf]
    # ratios to the best: m1 1.5, ∞, 1; m2 1, 1, ∞
    perf = performance_profile(costs, [1.0, 1.5, 100.0]).set_index(["method", "tau"])["share"]
    assert perf[("m1", 1.0)] == pytest.approx(1 / 3) and perf[("m2", 1.0)] == pytest.approx(2 / 3)
    assert perf[("m1", 1.5)] == pytest.approx(2 / 3) and perf[("m1", 100.0)] == pytest.approx(2 / 3)
    # simplex gradients t / (d + 1): m1 2, ∞, 6; m2 4/3, 10/3, ∞
    data = data_profile(costs, [1.0, 2.0, 4.0, 6.0]).set_index(["method", "kappa"])["share"]
    assert [data[("m1", k)] for k in (1.0, 2.0, 4.0, 6.0)] == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3])
    assert [data[("m2", k)] for k in (1.0, 2.0, 4.0, 6.0)] == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3])


def test_aggregated_ecdf_by_hand():
    """2-D, m1: (run, target) pairs reached after 6/2 = 3 and 14/2 = 7 evaluations per dimension, two never."""
    ecdf = aggregated_ecdf(_runtimes(), [1.0, 3.0, 7.0, 100.0]).set_index(["dim", "method", "budget"])["share"]
    assert [ecdf[(2, "m1", b)] for b in (1.0, 3.0, 7.0, 100.0)] == [0, 0.25, 0.5, 0.5]
    assert [ecdf[(2, "m2", b)] for b in (1.0, 3.0, 7.0)] == [0, 0.25, 0.5]
    assert ecdf[(4, "m1", 7.0)] == 0 and ecdf[(4, "m1", 100.0)] == 1.0       # 30 / 4 = 7.5


def test_run_runtimes_count_evaluations_to_each_target():
    """gd (one f and one ∇f a step): run 0 reaches f − f* ≤ 1 at step 2 and ≤ 1e-2 at step 6: 2 + 2·2 = 6
    and 2 + 2·6 = 14 evaluations, or with a gradient counting d = 2, 3 + 3·2 = 9 and 3 + 3·6 = 21; run 1
    never gets to 1 and spends its 4 + 4."""
    runs = pd.DataFrame({"run_id": [0, 1], "problem": "A", "dim": 2, "method": "gd", "start_id": [0, 1],
                         "n_iter": [8, 3], "n_f": [9, 4], "n_grad": [9, 4], "f_final": [1e-4, 1.5],
                         "f_gap": [1e-4, 1.5]})
    curves = pd.DataFrame({"run_id": [0] * 7 + [1] * 4, "step": [0, 1, 2, 3, 4, 6, 8, 0, 1, 2, 3],
                           "f": [10, 5, 1, 0.5, 0.05, 0.001, 1e-4, 10, 5, 2, 1.5]})
    rt = run_runtimes(runs, curves, [1.0, 1e-2]).set_index(["run_id", "target"])
    assert rt.loc[(0, 1.0), "evals"] == 6 and rt.loc[(0, 1e-2), "evals"] == 14
    assert rt.loc[(1, 1.0), "evals"] == np.inf and rt.loc[(1, 1.0), "spent"] == 8
    rt = run_runtimes(runs, curves, [1.0, 1e-2], grad_cost="d").set_index(["run_id", "target"])
    assert rt.loc[(0, 1.0), "evals"] == 9 and rt.loc[(0, 1e-2), "evals"] == 21 and rt.loc[(1, 1e-2), "spent"] == 12


@pytest.mark.slow
def test_export_coco_is_read_by_cocopp_with_gdlabs_art(tmp_path):
    """A small bbob sweep of gd, exported in COCO's format: cocopp reads it, its aRT (ERT) of f1 in 2-D to
    f − f_opt ≤ 0.1 over the four runs (two instances × two starts) is gdlab's own, and ``python -m cocopp``
    processes the folder without error."""
    pytest.importorskip("cocopp")
    from gdlab.app.commands import export_main
    sw = validate({"problems": [{"suite": "bbob", "functions": [1, 2], "instances": [1, 2], "dims": [2]}],
                   "method": ["gd"], "alpha": [0.05], "starts": {"kind": "uniform", "n": 2}, "dtype": "float64",
                   "criterion": ["grad"], "epsilon": [1e-10], "max_iter": 300})
    folder = run_to_folder(sw, tmp_path / "results", log=lambda line: None, show_progress=False)
    out = tmp_path / "coco"
    assert export_main(["coco", str(folder), str(out)]) == 0
    algo = out / "gd_alpha0.05"
    assert sorted(p.name for p in algo.iterdir()) == ["bbobexp_f1.info", "bbobexp_f2.info", "data_f1", "data_f2"]

    res = load(folder)
    # 100: every run starts there (f1 is a sphere; f at the start is known after one evaluation, before its
    # gradient); 0.1: reached along the way
    rt = run_runtimes(res.runs.assign(start_id=0), res.curves, [100.0, 0.1])
    f1 = rt[rt["problem"].str.startswith("bbob-f1-")].assign(problem="f1")     # COCO pools a function's instances
    ours = art_table(f1).set_index("target")["aRT"]
    at_start, on_the_way = ours[100.0], ours[0.1]
    assert at_start == 1.0 and (f1.loc[f1["target"] == 100.0, "step"] == 0).all()
    reached = f1[f1["target"] == 0.1]
    assert on_the_way == reached["spent"].sum() / np.isfinite(reached["evals"]).sum() > 1
    import cocopp
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        datasets = {ds.funcId: ds for ds in cocopp.pproc.DataSetList(str(algo))}
        assert datasets[1].instancenumbers == [1, 1, 2, 2]
        assert list(datasets[1].detERT([100.0, 0.1])) == pytest.approx([at_start, on_the_way], rel=1e-12)
        assert datasets[2].detERT([0.1])[0] == np.inf          # gd diverges on the ill-conditioned f2
        done = subprocess.run([sys.executable, "-m", "cocopp", "-o", str(tmp_path / "ppdata"), str(out)],
                              capture_output=True, text=True, timeout=600)
    finally:
        os.chdir(here)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ALL done" in done.stdout


def test_export_usage(capsys):
    from gdlab.app.commands import export_main
    assert export_main(["coco", "only-one-folder"]) == 2 and export_main(["csv", "a", "b"]) == 2
    assert "usage: gdlab export coco <sweep folder> <out folder>" in capsys.readouterr().err


def test_grad_cost_counts_in_the_best_setting_and_the_methods_figures_evaluations():
    """Two settings of one method that both converge: A spends 10 f and 10 ∇f, B 30 f and 2 ∇f over 9 steps.
    A gradient counting 1, A is cheaper (20 against 32); counting 10 (a 10-D finite difference), B is
    (110 against 50). A step of A costs (10 + 3·10 − 4) / 9 = 4 evaluations with a gradient at 3."""
    from gdlab.tables.stats import evaluations_per_step
    runs = pd.DataFrame({"method": "gd", "status": "converged", "dist_to_min": 1e-6, "f_gap": 0.0,
                         "n_f": [10, 30], "n_grad": [10, 2], "n_iter": [9, 9]})
    label = pd.Series(["A", "B"])
    assert best_settings(runs, label, 1e-3)["label"].tolist() == ["A"]
    assert best_settings(runs, label, 1e-3, cost=10.0)["label"].tolist() == ["B"]
    assert evaluations_per_step(runs, label, cost=3.0).to_dict() == {"A": 4.0, "B": (30 + 6 - 4) / 9}


def test_export_coco_writes_each_problems_own_f_opt_for_runs_that_ended_nan_or_inf(tmp_path):
    """A run that ended inf (float32 gd at α = 10 on f8) has no f_final − f_gap: its COCO header said
    Fopt (nan) and every line's f − f_opt was nan. Each problem's own f* is written instead."""
    from gdlab.app.commands import export_main
    sw = validate({"problems": [{"suite": "bbob", "functions": [1, 8], "instances": [1], "dims": [2]}],
                   "method": ["gd"], "alpha": [0.01, 10.0], "starts": {"kind": "uniform", "n": 3},
                   "dtype": "float32", "max_iter": 60, "traces": 0, "report": {"build": False}})
    folder = run_to_folder(sw, tmp_path / "results", log=lambda line: None, show_progress=False)
    runs = load(folder).runs
    # thrown past diverge_x, f overflowed there: diverged, with f_final inf
    assert (runs["status"] == "diverged").any() and np.isinf(runs["f_final"]).any()
    assert export_main(["coco", str(folder), str(tmp_path / "coco")]) == 0
    f_opt = {p.name: p.f_min[0] for p in sw.problems}
    headers = [line for path in (tmp_path / "coco").rglob("*.dat") for line in path.read_text().splitlines()
               if line.startswith("%")]
    assert len(headers) == len(runs) and not any("nan" in line for line in headers)
    written = sorted({float(re.search(r"Fopt \(([^)]*)\)", line).group(1)) for line in headers})
    assert written == pytest.approx(sorted(set(f_opt.values())), rel=1e-12)


def test_a_suite_problem_whose_runs_all_ended_nan_is_in_the_suite_section_and_a_mixed_sweep_exports(tmp_path,
                                                                                                 monkeypatch):
    """float32 gd at α = 10 ends every f17 run nan (no f_gap at all): the suite's aRT table left f17
    out while the page drew its ECDF; it now lists it, with the targets its runs reached before. The COCO export of a sweep with
    a problem of one's own (a _target_ not importable where the export runs) exports the bbob runs."""
    from gdlab.app.commands import export_main
    from gdlab.report.page import build
    (tmp_path / "mybowl.py").write_text("import jax.numpy as jnp\n\ndef bowl(x):\n    return jnp.sum(x ** 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sw = validate({"problems": [{"suite": "bbob", "functions": [1, 17], "instances": [1], "dims": [2]},
                                {"name": "mybowl", "_target_": "mybowl.bowl", "dim": 2, "domain": [[-1, 1], [-1, 1]]}],
                   "method": ["gd"], "alpha": [10.0], "starts": {"kind": "uniform", "n": 3}, "dtype": "float32",
                   "max_iter": 40, "traces": 0, "report": {"build": False}})
    folder = run_to_folder(sw, tmp_path / "results", log=lambda line: None, show_progress=False)
    runs = load(folder).runs
    assert runs.loc[runs["problem"] == "bbob-f17-i1-d2", "f_gap"].isna().all()
    build(folder, log=lambda line: None)
    art = pd.read_csv(folder / "report" / "tables" / "suite_art.csv")
    f17 = art[art["problem"] == "bbob-f17-i1-d2"].set_index("target")["aRT"]
    assert len(f17) == 7 and np.isinf(f17.loc[1e-7])       # listed; the targets its runs reached before nan count
    sys.modules.pop("mybowl", None)
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    sys.path.remove(str(tmp_path))
    lines = []
    from gdlab.report.coco import export_coco
    export_coco(folder, tmp_path / "coco", log=lines.append)
    assert any("left out 1 problems that are not bbob's: mybowl" in line for line in lines)
    assert export_main(["coco", str(folder), str(tmp_path / "coco2")]) == 0


def _plain_best_settings(runs, label, success_tol, cost=1.0):
    """best_settings as a loop over settings, one problem's runs: the reference."""
    ok = ((runs["status"] == "converged") & ((runs["dist_to_min"] <= success_tol)
                                             | (runs["dist_to_min"].isna() & (runs["f_gap"] <= success_tol))))
    rows = []
    for (method, lab), g in pd.DataFrame({"method": runs["method"].to_numpy(), "label": label.to_numpy(),
                                          "ok": ok.to_numpy(), "evals": (runs["n_f"] + cost * runs["n_grad"]).to_numpy(),
                                          "gap": runs["f_gap"].to_numpy()}).groupby(["method", "label"], sort=False):
        won = g.loc[g["ok"], "evals"]
        gap = g["gap"].where(np.isfinite(g["gap"]), np.inf).median()
        rows.append({"method": method, "label": lab, "share": g["ok"].mean(),
                     "evaluations": float(won.median()) if len(won) else np.inf,
                     "gap": float(gap) if not np.isnan(gap) else np.inf})
    table = pd.DataFrame(rows).sort_values(["method", "share", "evaluations", "gap"],
                                           ascending=[True, False, True, True], kind="stable")
    return table.groupby("method", sort=False).head(1).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(6))
def test_best_settings_of_every_problem_at_once_are_each_problem_s_own(seed):
    """Random runs of 7 problems × 2 methods × 4 settings (ties, no successes, nan and inf ends): the
    best setting of each problem and method, from one call with ``per``, is the one a loop over its
    settings picks for that problem alone; and at_best_settings keeps exactly those settings' runs."""
    rng = np.random.default_rng(seed)
    n = 700
    runs = pd.DataFrame({
        "run_id": np.arange(n), "problem": rng.choice([f"p{i}" for i in range(7)], n),
        "method": rng.choice(["gd", "adam"], n), "alpha": rng.choice([0.1, 0.01, 0.001, 1.0], n),
        "status": rng.choice(["converged", "max_iter", "diverged"], n, p=[0.5, 0.3, 0.2]),
        "dist_to_min": np.where(rng.random(n) < 0.2, np.nan, rng.choice([1e-9, 1e-3, 0.5], n)),
        "f_gap": rng.choice([0.0, 1e-7, 0.3, np.nan, np.inf], n), "n_f": rng.integers(1, 5, n),
        "n_grad": rng.integers(1, 5, n), "n_iter": rng.integers(1, 5, n)})
    runs.loc[runs["problem"].isin(["p0", "p1"]), "status"] = "max_iter"    # none succeeds: the gap decides
    label = setting_label(runs)
    assert set(label) == {"alpha=0.1", "alpha=0.01", "alpha=0.001", "alpha=1"}
    together = best_settings(runs, label, 1e-5, cost=2.0, per="problem")
    for problem, sub in runs.groupby("problem"):
        want = _plain_best_settings(sub, label[sub.index], 1e-5, cost=2.0)
        got = together[together["problem"] == problem].drop(columns="problem").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    kept = at_best_settings(runs, 1e-5)
    chosen = set(zip(*(best_settings(runs, label, 1e-5, per="problem")[k] for k in ("problem", "method", "label"))))
    assert set(zip(kept["problem"], kept["method"], kept["setting"])) == chosen
    assert len(kept) == sum((p, m, s) in chosen for p, m, s in zip(runs["problem"], runs["method"], label))
    # in the order of a loop over the problems (first seen first), each problem's runs in their order
    assert kept["run_id"].tolist() == [r for _, sub in runs.assign(setting=label).groupby("problem", sort=False)
                                       for r, m, s in zip(sub["run_id"], sub["method"], sub["setting"])
                                       if (sub["problem"].iloc[0], m, s) in chosen]


def test_cell_medians_and_quantiles_are_pandas():
    """The summary's median and 90th percentile, in NumPy, are pandas' numbers, and NaN of no values."""
    from gdlab.tables.stats import _median, _quantile
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 3, 10, 101):
        for values in (rng.normal(size=n), rng.integers(0, 50, n).astype(np.float64)):
            for mine, theirs in ((_median, pd.Series.median), (_quantile(0.9), lambda s: s.quantile(0.9))):
                want = theirs(pd.Series(values))
                assert (np.isnan(mine(values)) and np.isnan(want)) if n == 0 else mine(values) == want


def test_settings_that_differ_past_six_digits_keep_apart():
    """Two step sizes that :g prints alike get every digit in their labels, so the suite's tables do
    not merge them; the others keep their short labels."""
    runs = pd.DataFrame({"problem": "p", "method": "gd", "alpha": [0.1234561, 0.1234564, 0.1234561, 0.01]})
    assert setting_label(runs).tolist() == ["alpha=0.1234561", "alpha=0.1234564", "alpha=0.1234561", "alpha=0.01"]

