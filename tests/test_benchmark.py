"""The benchmark's baselines do gdlab's work, and its summary takes ratios within a round.

The benchmark is run on demand, never timed here; what is tested is that its
numbers mean what the README says: every method descends the same functions
with the same stop rule, so the useful steps they count agree, and a ratio is
the median over rounds of gdlab's rate over the baseline's in the same round.
"""

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

from gdlab.core.problems import get_problem

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("throughput", HERE.parent / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("problem", ["himmelblau", "rosenbrock", "rastrigin", "rastrigin10"])
def test_baselines_use_the_registry_functions_and_gradients(bench, problem):
    reg, dim, _ = bench.PROBLEMS[problem]
    p = get_problem(reg, dim)
    xs = np.random.default_rng(1).uniform(-2, 2, (5, dim))
    with jax.enable_x64(True):
        f = np.array([float(p.fn(x)) for x in xs])
        g = np.array([np.asarray(jax.grad(p.fn)(x)) for x in xs])
    np.testing.assert_allclose(bench.np_f(reg, xs), f, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bench.np_grad(reg, xs), g, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose([bench.py_f(reg, list(x)) for x in xs], f, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([bench.py_grad(reg, list(x)) for x in xs], g, rtol=1e-12, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["himmelblau", "rastrigin10"])
def test_every_method_counts_the_same_descent_steps(bench, problem):
    """Same starts, same rule: the useful steps agree (float32 may move a stop by a step or two;
    NumPy's cos is computed in float64 before it is rounded, hence the 3%)."""
    x0 = bench.starts(problem, 64)
    steps = {m: bench.METHODS[m](problem, x0)[1] for m in ("gdlab", "gdlab-final", "numpy", "vmap", "python")}
    assert steps["gdlab-final"] == steps["gdlab"]       # the same descents, without their curves
    assert steps["gdlab"] > 64 * bench.MIN_STEPS
    for method, s in steps.items():
        assert abs(s - steps["gdlab"]) <= 0.03 * steps["gdlab"], (method, steps)


def test_summary_takes_each_ratio_within_its_round(bench):
    rows = []
    for r, (g, npy, vm) in enumerate([(10.0, 5.0, 20.0), (20.0, 5.0, 10.0), (30.0, 10.0, 10.0)]):
        rows += [{"method": "gdlab", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": g,
                  "runs_per_s": g / 10, "utilisation": 0.8, "peak_rss_mb": 500.0 + r},
                 {"method": "numpy", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": npy,
                  "runs_per_s": npy / 10},
                 {"method": "vmap", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": vm,
                  "runs_per_s": vm / 10},
                 {"method": "scipy", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": 1.0,
                  "runs_per_s": 0.5}]
    # a larger size has no SciPy rounds of its own: its ratio uses the smallest size's
    rows += [{"method": "gdlab", "problem": "himmelblau", "n": 10000, "round": 0, "steps_per_s": 40.0,
              "runs_per_s": 4.0, "utilisation": 0.9, "peak_rss_mb": 600.0}]
    # gdlab without curves: a row of its own, against the same baselines' rounds
    rows += [{"method": "gdlab-final", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": g,
              "runs_per_s": g / 10, "utilisation": 0.8, "peak_rss_mb": 400.0} for r, g in enumerate((20.0, 30.0, 40.0))]
    # gdlab.sweep end to end: its share of the kernel's rate in the same round, and the baselines' ratios
    rows += [{"method": "sweep", "problem": "himmelblau", "n": 1000, "round": r, "steps_per_s": g,
              "runs_per_s": g / 10, "utilisation": 0.8, "peak_rss_mb": 700.0} for r, g in enumerate((5.0, 15.0, 15.0))]
    both = bench.summarise(pd.DataFrame(rows))
    # what a user waits for first, then the kernel, size by size
    assert list(both["path"]) == ["gdlab.sweep, in memory", "kernel, with curves", "kernel, final only",
                                  "kernel, with curves"]
    sweep = both.iloc[0]
    assert sweep["of kernel"] == 0.5 and sweep["× numpy"] == 1.5      # 0.5, 0.75, 0.5 of it; 1, 3, 1.5 × numpy
    final = both[both["path"] == "kernel, final only"].iloc[0]
    assert (final["× numpy"], final["× numpy min"], final["× numpy max"]) == (4.0, 4.0, 6.0)   # 4, 6, 4
    summary = both[both["path"] == "kernel, with curves"].set_index("starts")
    small = summary.loc[1000]
    # per round: numpy 2, 4, 3; vmap 0.5, 2, 3 — medians of the ratios, not ratios of the medians
    assert (small["× numpy"], small["× numpy min"], small["× numpy max"]) == (3.0, 2.0, 4.0)
    assert (small["× vmap"], small["× vmap min"], small["× vmap max"]) == (2.0, 0.5, 3.0)
    assert small["M steps/s"] == 20.0 / 1e6 and small["rounds"] == 3 and small["peak RSS MB"] == 502.0
    assert small["× scipy (runs/s)"] == 4.0            # runs/s: 1, 2, 3 over 0.5
    big = summary.loc[10000]
    assert big["× scipy (runs/s)"] == 8.0 and np.isnan(big["× numpy"])


def test_machine_names_the_cpu_its_extensions_and_the_versions(bench):
    facts = bench.machine()
    assert set(facts) == {"cpu", "simd", "cores", "python", "numpy", "jax", "gdlab_xla_options"}
    assert facts["cpu"] and facts["cores"] >= 1 and facts["jax"] == jax.__version__
    assert set(facts["simd"]) <= set(bench.SIMD_FLAGS)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " avx2" in flags:
        assert "avx2" in facts["simd"]


def test_the_goal_mode_measures_the_2d_problems_on_the_device_each_worker_reports(bench, tmp_path, monkeypatch):
    """--goal: gdlab with and without curves and the plain vmap, on every 2-D problem, each in a worker
    that names its device; the table says what share of 10^11 useful steps/s each reached."""
    calls = []

    def fake_measure(method, problem, n):
        calls.append((method, problem, n))
        return {"method": method, "problem": problem, "n": n, "steps_per_s": 2e9, "seconds": 1.0, "compile_s": 0.5,
                "utilisation": 0.9, "peak_rss_mb": 100.0, "device": "cpu"}

    monkeypatch.setattr(bench, "measure", fake_measure)
    frame = bench.goal(1000, tmp_path)
    assert calls == [(m, p, 1000) for p in ("himmelblau", "rosenbrock", "rastrigin") for m in bench.JAX_METHODS]
    assert (frame["of_goal"] == 0.02).all() and (tmp_path / "goal.csv").exists()


def test_a_jax_worker_names_its_device_and_a_numpy_worker_names_none(bench, capsys):
    import json
    bench.worker("gdlab", "himmelblau", 64)
    bench.worker("numpy", "himmelblau", 64)
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(row["method"], row["device"]) for row in lines] == [("gdlab", "cpu"), ("numpy", None)]
