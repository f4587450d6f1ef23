"""Integrity: never a wrong number reported as right, every input bounded before it is computed,
damaged data never reused (each case here was once a wrong answer with exit 0, or a traceback)."""

import subprocess
import sys

import numpy as np
import pytest

import gdlab
from gdlab.app.commands import point_main
from gdlab.core.expressions import parse_expression
from gdlab.runner.schema import validate


@pytest.mark.parametrize("problem, x, kind", [
    ("3*x", [0.5], "non_stationary"),          # ∇f = 3 and a zero Hessian: the Hessian says nothing, the slope does
    ("abs(x)", [1.0], "non_stationary"),
    ("x + y**2", [0.0, 0.0], "non_stationary"),
    ("cone", [1.0, 8.0], "undefined"),         # the tip: ∇f is nan there
    ("sqrt(x)", [0.0], "undefined"),
    ("x**4", [0.0], "degenerate"),
    ("himmelblau", [3.0, 2.0], "minimum"),
    ("saddle_3x2_2xy", [0.0, 0.0], "saddle"),
])
def test_a_point_type_is_never_claimed_where_the_slope_or_the_numbers_say_otherwise(problem, x, kind):
    assert gdlab.inspect_point(problem, x).point_type == kind


def test_a_converged_run_with_a_slope_is_non_stationary_in_the_runs_table():
    r = gdlab.descend({"name": "p", "expr": "3*x", "domain": [[-1, 1]]}, "gd", [0.5], alpha=0.01,
                      criterion=["dx", "df", "grad"], epsilon=10.0)
    [row] = r.runs.itertuples()
    assert row.status == "converged" and row.grad_norm_final == 3.0 and row.point_type == "non_stationary"


def test_gdlab_point_refuses_a_point_that_is_not_finite(capsys):
    assert point_main(["himmelblau", "nan", "nan"]) == 2
    assert "must be finite" in capsys.readouterr().err
    assert point_main(["abs(x)", "1"]) == 0
    assert "non_stationary" in capsys.readouterr().out


@pytest.mark.parametrize("text, says", [
    ("1" * 400 + "*x", "out of range"),
    ("-" * 2987 + "x", "nests deeper"),
    ("x99999999 + x1", "at most 10,000 variables"),
])
def test_an_expression_too_big_to_compute_is_refused_before_it_is(text, says):
    with pytest.raises(gdlab.ExpressionError, match=says):
        parse_expression(text)


@pytest.mark.parametrize("config, says", [
    ({"starts": {"kind": "uniform", "n": 10 ** 12}}, "starts: the sweep is 1,000,000,000,000 runs"),
    ({"problems": [{"name": "rastrigin", "dim": 100_000}]}, "dimension must be in [1, 10,000]"),
    ({"problems": [{"name": "rastrigin", "dim": 2.5}]}, "dim must be a whole number, got 2.5"),
    ({"problems": [{"name": "rastrigin", "dim": "abc"}]}, "dim must be a whole number, got 'abc'"),
    ({"engine": {"lanes": 10 ** 9}}, "engine.lanes: 1,000,000,000 lanes of"),
    ({"traces": 50_000, "max_iter": 20_000, "starts": {"kind": "grid", "n": 300}}, "traces: 50,000 full trajectories"),
    ({"max_iter": 2 ** 31}, "max_iter: must be an integer in [1, 2,147,483,646]"),
    ({"min_steps": [3_000_000_000]}, "min_steps: must be an integer in [0, 2,147,483,646]"),
    ({"part_size": 10 ** 9}, "part_size: a part of 1,000,000,000 runs takes about"),
])
def test_a_sweep_too_big_for_the_machine_is_a_config_error_naming_the_key_and_the_estimate(config, says):
    with pytest.raises(gdlab.ConfigError) as err:
        validate(config)
    assert says in str(err.value)


def test_the_command_line_refuses_an_impossible_sweep_at_once_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "gdlab", f"out_dir={out}", "starts.kind=uniform",
                           "starts.n=1000000000000"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "starts: the sweep is 12,000,000,000,000 runs" in proc.stderr     # the default experiment: 12 settings
    assert "Traceback" not in proc.stderr and not out.exists()


def test_ragged_starts_and_a_list_for_a_config_are_named_not_numpys_words():
    with pytest.raises(gdlab.InputError, match="starts must be an"):
        gdlab.descend("himmelblau", "gd", [[1, 2], [3]])
    with pytest.raises(gdlab.ConfigError, match="a sweep config is a mapping"):
        gdlab.sweep([1, 2])
    assert np.isfinite(gdlab.descend("himmelblau", "gd", [[1, 2]], max_iter=5).runs["f_final"]).all()
