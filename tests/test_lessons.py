"""The seed lessons as experiments: each scenario's config reproduces the lesson's numbers.

Each test runs configs/experiment/<name>.yaml (some with fewer starts) through
the real engine in float64 and checks the numbers against the lessons; the
table's `agrees` column must say so too.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import gdlab_cmd

from gdlab.app.commands import point_main
from gdlab.core.errors import ConfigError
from gdlab.lessons import LESSONS, SCENARIOS, lesson_figure, lesson_numbers
from gdlab.runner.api import inspect_point
from gdlab.runner.execute import run_sweep
from gdlab.runner.experiments import experiment_config
from gdlab.runner.schema import validate
from gdlab.tables.columns import points


def scenario(name, *overrides, problems=None):
    config = experiment_config(name, overrides)
    if problems is not None:
        config["problems"] = [p for p in config["problems"] if (p if isinstance(p, str) else p["name"]) in problems]
    res = run_sweep(validate(config))
    numbers = lesson_numbers(name, res)
    assert not (numbers["agrees"] == False).any(), numbers[numbers["agrees"] == False]   # noqa: E712
    fig = lesson_figure(name, res)
    assert fig.axes and any(ax.lines or ax.collections for ax in fig.axes)
    return res, numbers


def row(numbers, text):
    hit = numbers[numbers["quantity"].str.contains(text, regex=False)]
    assert len(hit) == 1, (text, list(numbers["quantity"]))
    return hit.iloc[0]


def test_every_scenario_has_a_config_and_a_readme():
    from gdlab.runner.experiments import CONFIG_DIR
    for name in LESSONS:
        assert (CONFIG_DIR / "experiment" / f"{name}.yaml").exists(), name
        readme = CONFIG_DIR.parent.parent / "experiments" / name / "README.md"
        assert readme.exists(), name
        assert f"gdlab experiment={name}" in readme.read_text()
    assert experiment_config("lessons")["experiment"] == "lessons"
    import yaml
    listed = yaml.safe_load((CONFIG_DIR / "experiment" / "lessons.yaml").read_text())["lessons"]
    assert listed == LESSONS == list(SCENARIOS)


def test_gradients_hessians_and_classification_at_a_point(capsys):
    assert np.allclose(inspect_point("saddle_3x2_2xy", (-20, -20)).grad, (-160, -40))
    assert np.allclose(inspect_point("3*x1**2 + 2*x1*x2", (-20, -20)).grad, (-160, -40))
    assert np.allclose(inspect_point("paraboloid", (1, 2)).grad, (2, 4))
    assert np.allclose(inspect_point("x**2 + y**2", (3, 4)).grad, (6, 8))
    for x, y in ((1.0, 2.0), (-1.5, 0.5)):
        assert np.allclose(inspect_point("x2y_y2", (x, y)).grad, (6 * x * y, 3 * x * x + 2 * y))
        assert np.allclose(inspect_point("x2y3", (x, y)).grad, (2 * x * y ** 3, 3 * x * x * y * y))
    bowl = inspect_point("x**2 - 10*x + y**2 - 12*y + 71", (5, 6))
    assert bowl.point_type == "minimum" and np.allclose(bowl.hessian, 2 * np.eye(2)) and bowl.f == 10
    assert inspect_point("saddle_3x2_2xy", (0, 0)).point_type == "saddle"
    assert inspect_point("-(x**2) - y**2", (0, 0)).point_type == "maximum"
    assert inspect_point("x2y_y2", (0, 0)).point_type == "degenerate"
    assert inspect_point("paraboloid", (1, 2)).point_type == "non_stationary"
    with pytest.raises(ValueError, match="2 variable"):
        inspect_point("paraboloid", (1, 2, 3))
    assert point_main(["shifted_paraboloid", "5", "6"]) == 0
    out = capsys.readouterr().out
    assert "gradient     (0, 0)" in out and "point type   minimum" in out
    assert point_main(["no_such_problem", "1"]) == 2
    assert "unknown problem 'no_such_problem'" in capsys.readouterr().err
    assert point_main(["paraboloid", "one", "2"]) == 2


def test_point_from_the_command_line(capsys):
    from gdlab.app.cli import main
    with pytest.raises(SystemExit) as done:
        main(["point", "3*x1**2 + 2*x1*x2", "-20", "-20"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "gradient     (-160, -40)" in out and "non_stationary" in out


def test_derivatives_scenario():
    res, numbers = scenario("derivatives", "starts.n=3")
    assert (numbers["agrees"] == True).sum() == 8   # noqa: E712
    bowl = res.runs[res.runs["problem"] == "shifted_paraboloid"]
    assert np.allclose(points(bowl["x_final"]), [5, 6], atol=1e-7) and (bowl["point_type"] == "minimum").all()


def test_step_halving_scenario():
    res, numbers = scenario("step_halving")
    assert row(numbers, "from −5, Δx = 1: first points")["gdlab"] == "(-4, -3, -3.5)"
    assert row(numbers, "from 0.2")["gdlab"] == "(-0.8, -0.3, 0.2)"
    for x0 in (20, 200, 2000):
        assert row(numbers, f"x⁴ from {x0}, Δx = 1: steps")["value"] >= x0
    assert abs(row(numbers, "where it stops")["value"] + 3.5518) < 5e-5


def test_step_proportional_scenario():
    _, numbers = scenario("step_proportional")
    steps = numbers[numbers["quantity"].str.contains("first step")]["value"].to_numpy()
    assert np.allclose(steps, [0.5, 32.0])
    assert numbers[numbers["quantity"] == "… lands at"]["value"].tolist() == pytest.approx([4.5, -12.0])


def test_two_x_sin_scenario():
    res, numbers = scenario("two_x_sin")
    assert round(row(numbers, "where it ends")["value"], 4) == 4.9132


def test_x2_sin_scenario_the_lessons_three_runs():
    res, numbers = scenario("x2_sin")
    assert list(numbers["agrees"]) == [True, True, True]
    assert numbers["gdlab"].iloc[0].startswith("step 73, x = 5.0755")
    assert numbers["gdlab"].iloc[1].startswith("step 1,")
    assert numbers["gdlab"].iloc[2].startswith("step 100, x = 2.5212")


def test_stopping_rules_scenario_at_scale():
    res, numbers = scenario("stopping_rules", "starts.n=20")
    share = {c: float(row(numbers, f"{c} < ε, min_steps 0: premature")["gdlab"].split(" / ")[0])
             for c in ("dx", "df", "grad")}
    assert share["grad"] < share["df"] and share["grad"] < share["dx"]   # ‖∇f‖ stops early least often
    wasted = {c: row(numbers, f"{c} < ε, min_steps 0: steps spent after")["value"] for c in ("dx", "df", "grad")}
    assert wasted["grad"] > wasted["df"]   # … and pays for it in steps past the target
    assert "100% of starts" in row(numbers, "stops too early most often")["gdlab"]


def test_no_minimum_scenario_diverges():
    res, numbers = scenario("no_minimum", "starts.n=3")
    assert (res.runs["status"] == "diverged").sum() == len(res.runs) - 2   # all but the start at the saddle
    assert abs(row(numbers, "runs away")["value"] - (-3.303)) < 0.01


def test_momentum_scenario():
    res, numbers = scenario("momentum", "starts.n=20")
    med = res.runs.groupby("method")["n_iter"].median()
    assert med["momentum"] < 0.6 * med["gd"]
    assert (res.runs["status"] == "converged").all()


def test_a_lesson_without_curves_keeps_its_numbers_and_says_where_the_bands_were():
    res, numbers = scenario("momentum", "starts.n=20", "curves=false")
    assert len(res.curves) == 0 and len(numbers) > 0
    fig = lesson_figure("momentum", res)
    assert "curves: false" in fig.axes[-1].texts[0].get_text() and not fig.axes[-1].lines


def test_multistart_scenario_takes_the_best():
    res, numbers = scenario("multistart", "problems=[six_hump_camel]", "starts.n=300")
    assert row(numbers, "best f")["agrees"]
    assert "α=0.001" in row(numbers, "share of starts")["gdlab"]


def test_step_size_scenario():
    res, numbers = scenario("step_size")
    status = res.runs.set_index("alpha")["status"]
    assert status[0.01] == status[0.3] == status[0.9] == "converged" and status[1.05] == "diverged"
    steps = res.runs.set_index("alpha")["n_iter"]
    assert steps[0.01] > 10 * steps[0.3] and steps[0.9] > steps[0.3]


def test_regression_scenario_matches_lstsq():
    from gdlab.core.problems import regression_data as _regression_data
    res, numbers = scenario("regression", "starts.n=4")
    design, target = _regression_data()
    k_star = np.linalg.lstsq(design, target, rcond=None)[0]
    assert np.abs(points(res.runs["x_final"]) - k_star).max() < 1e-6


def test_constraints_scenario_reaches_the_lagrange_answer():
    keep = {"fence-mu1000", "fence-mu10000", "fence6-mu1000", "fence6-mu10000"}
    res, numbers = scenario("constraints", problems=keep)
    best = res.runs.sort_values("f_final").groupby("problem").first()
    assert np.allclose(best.loc["fence-mu10000", "x_final"], [5, 5], atol=1e-4)
    assert np.allclose(best.loc["fence6-mu10000", "x_final"], [6, 4], atol=5e-4)
    assert abs(row(numbers, "Lagrange multiplier")["value"] - 2.5) < 1e-3
    slopes = numbers[numbers["quantity"].str.contains("slope")]["value"]
    assert np.allclose(slopes, -1, atol=0.1)


def test_constraints_are_checked():
    base = {"name": "f", "expr": "-x1*x2", "domain": [[0, 10], [0, 10]]}
    for bad, msg in (({"eq": ["2*x1 + 2*x2 - 20"]}, "penalty must be a number"),
                     ({"eq": "x1", "penalty": 1}, "must be a list"),
                     ({"eq": ["x1 +"], "penalty": 1}, "constraints.eq"),
                     ({"penalty": 1}, "no eq or ineq"),
                     ({"eq": ["x1"], "penalty": 1, "weight": 2}, "unknown constraint keys")):
        with pytest.raises(ConfigError, match=msg):
            validate({"problems": [{**base, "constraints": bad}]})


def test_unknown_lesson_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown scenario 'nope'"):
        validate({"lessons": ["x2_sin", "nope"]})


def test_lessons_page_from_the_command_line(tmp_path):
    proc = gdlab_cmd("experiment=lessons", "lessons=[two_x_sin,step_size]", f"out_dir={tmp_path}", timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "lessons" / proc.stdout.strip().splitlines()[-1].split("/lessons/")[1]
    listing = json.loads((folder / "lessons.json").read_text())
    assert [e["name"] for e in listing["scenarios"]] == ["two_x_sin", "step_size"]
    page = (folder / "report" / "index.html").read_text()
    assert "id='two_x_sin'" in page and "id='step_size'" in page and "data:image/png;base64" in page
    assert (folder / "report" / "figures" / "step_size.png").stat().st_size > 10_000
    import pandas as pd
    table = pd.read_csv(folder / "report" / "tables" / "lessons.csv")
    assert set(table["scenario"]) == {"two_x_sin", "step_size"} and not (table["agrees"] == False).any()  # noqa: E712
    # each scenario's own report carries the lesson section
    own = (tmp_path / "two_x_sin").glob("*/report/index.html")
    assert "≈ 4.9132" in next(own).read_text()
    verify = gdlab_cmd("verify", str(folder), timeout=120)
    assert verify.returncode == 0 and "2 of 2 lesson sweeps verified" in verify.stdout
    from gdlab.app.cli import report_main
    (folder / "report" / "index.html").unlink()
    report_main([str(folder)])
    assert "id='step_size'" in (folder / "report" / "index.html").read_text()
    # the same command again resumes every scenario: nothing is computed twice
    again = gdlab_cmd("experiment=lessons", "lessons=[two_x_sin,step_size]", f"out_dir={tmp_path}", timeout=300)
    assert again.returncode == 0 and again.stderr.count("already complete") == 2


@pytest.mark.slow
def test_learning_rate_scenario_on_x4():
    res, numbers = scenario("learning_rate", problems=["x4"])
    assert row(numbers, "first step lands at")["value"] == pytest.approx(-12.0, abs=1e-9)
    fixed = row(numbers, "x4, gd with a fixed α")["gdlab"]
    assert "α=0.001: 31489" in fixed and "α=0.01: diverged" in fixed
    assert "converged in 4 of 4" in row(numbers, "bb1 at its best α")["quantity"]
    assert row(numbers, "summed over the three problems")["agrees"]
    assert set(res.runs["n_f"] >= res.runs["n_iter"] + 1) == {True}


@pytest.mark.slow
def test_methods_review_scenario_on_rosenbrock():
    res, numbers = scenario("methods_review", "starts.n=20", problems=["rosenbrock"])
    assert set(res.runs["method"]) == {"gd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
                                       "lbfgs", "newton"}
    assert row(numbers, "methods that use curvature")["agrees"]
    assert "100%" in row(numbers, "newton at its best α")["gdlab"]


def test_lessons_with_report_build_false_draw_nothing_until_gdlab_report(tmp_path):
    """report.build=false was ignored by experiment=lessons; gdlab report of the lessons folder then
    draws each scenario's report, and the page from them."""
    done = gdlab_cmd("experiment=lessons", "lessons=[x2_sin]", f"out_dir={tmp_path}", "report.build=false")
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip().splitlines()[-1].removeprefix("results: "))
    sweep = next((tmp_path / "x2_sin").iterdir())
    assert not (sweep / "report").exists() and not (page / "report").exists()
    assert "report: not built (report.build=false)" in done.stdout + done.stderr
    drawn = gdlab_cmd("report", str(page))
    assert drawn.returncode == 0, drawn.stderr
    assert (sweep / "report" / "tables" / "lesson.csv").exists() and (page / "report" / "index.html").exists()
    assert "3/3 lesson numbers agree" in drawn.stdout + drawn.stderr


def test_a_lesson_number_that_cannot_be_judged_has_no_verdict():
    """A check of a sweep run with other settings than the lesson's can come out NA (a count of no
    runs): the number is shown without a verdict, where it raised "boolean value of NA is ambiguous"."""
    from gdlab.lessons.scenarios import _row
    assert _row("best α", "0.01", 0.1, pd.NA)["agrees"] is None
    assert _row("best α", "0.01", 0.01, np.True_)["agrees"] is True
