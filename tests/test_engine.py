"""The batched engine against plain loops, the lessons' numbers, statuses and compilation counts."""
import math
import re

import jax
import numpy as np
import pytest

import gdlab
from gdlab.core.criteria import CRITERIA
from gdlab.core.methods import METHODS
from gdlab.engine import chunks, driver, kernel, layout

GD = METHODS["gd"]
from gdlab.core.criteria import Status, checkpoints, stop_rules
from gdlab.core.problems import get_problem
from gdlab.engine import EngineOptions, kernel_cache_size, run_batch, stream_batch, trace_runs

F64 = EngineOptions(max_iter=5000, dtype="float64")


def x2_sin_prime(x):
    return 2 * x * math.sin(x) + x * x * math.cos(x)


def plain_gd(fprime, x, alpha, steps):
    xs = [x]
    for _ in range(steps):
        x = x - alpha * fprime(x)
        xs.append(x)
    return np.array(xs)


def plain_momentum(fprime, x, alpha, gamma, steps):
    xs, prev = [x], x
    for _ in range(steps):
        x, prev = x - alpha * fprime(x) + gamma * (x - prev), x
        xs.append(x)
    return np.array(xs)


@pytest.mark.parametrize("method, loop", [
    ("gd", lambda: plain_gd(x2_sin_prime, 2.5, 0.005, 300)),
    ("momentum", lambda: plain_momentum(x2_sin_prime, 2.5, 0.005, 0.9, 300)),
])
def test_iterates_match_a_plain_loop(method, loop):
    p = get_problem("x2_sin")
    opts = EngineOptions(max_iter=300, dtype="float64")
    hyper = {"alpha": 0.005, **({"momentum": 0.9} if method == "momentum" else {})}
    [(xs, fs)] = trace_runs(p, method, [[2.5]], hyper, [300], (), opts)
    want = loop()
    np.testing.assert_allclose(xs[:, 0], want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fs, want ** 2 * np.sin(want), rtol=0, atol=1e-12)
    rec = run_batch(p, method, [[2.5]], hyper, (), opts)
    assert rec["k"][0] == 300 and rec["status"][0] == Status.max_iter
    assert abs(rec["x"][0, 0] - want[-1]) < 1e-12


def test_batch_of_10000_gives_each_run_what_it_gives_alone():
    p = get_problem("himmelblau")
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-5, 5, (10_000, 2))
    alpha = rng.choice([0.001, 0.005, 0.01, 0.02, 0.03], size=10_000)
    rules = stop_rules(["dx", "df", "grad"], [1e-4, 1e-8], [0, 20])
    opts = EngineOptions(max_iter=3000, dtype="float64", lanes=512, part=2048, chunk=8)
    stats = {}
    batch = run_batch(p, "gd", x0, alpha, rules, opts, stats)
    # runs end at very different steps; every status shows up
    assert len(np.unique(batch["k"])) > 100
    assert stats["useful"] <= stats["executed"]
    for i in rng.choice(10_000, size=12, replace=False):
        # alone: the only run in a kernel of the same width — bit for bit the same
        alone = run_batch(p, "gd", x0[i:i + 1], alpha[i], rules, opts)
        for key in ("x", "f", "g", "k", "status", "fired", "f_at", "x_at", "curve_f", "curve_g"):
            np.testing.assert_array_equal(batch[key][i], alone[key][0], err_msg=f"run {i}: {key}")
        # alone in a one-lane kernel: XLA may fuse multiply-adds differently, the last bit may move
        narrow = run_batch(p, "gd", x0[i:i + 1], alpha[i], rules,
                           EngineOptions(max_iter=3000, dtype="float64"))
        np.testing.assert_allclose(narrow["x"][0], batch["x"][i], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(narrow["status"][0], batch["status"][i])


def test_a_harvest_packs_the_finished_runs_a_block_at_a_time(monkeypatch):
    """A chunk's finished runs are packed HARVEST_BLOCK lanes at a time, as many blocks as lanes
    finished: with blocks of 32 of 256 lanes (up to eight a harvest, the last one part-filled)
    every field of every run is the same bits as packed in one block of all the lanes."""
    p = get_problem("himmelblau")
    x0 = np.random.default_rng(5).uniform(-5, 5, (6000, 2))
    alpha = np.random.default_rng(6).choice([0.002, 0.005, 0.01], size=6000)
    rules = stop_rules(["df", "grad"], [1e-8, 1e-3], [10, 0])
    opts = EngineOptions(max_iter=1500, dtype="float64", lanes=256, part=1024, chunk=96)

    def run(block):
        monkeypatch.setattr(kernel, "HARVEST_BLOCK", block)
        kernel.batch_kernel.cache_clear()
        kernel.sharded_kernel.cache_clear()
        kernel.IDLE_LANES.clear()
        with jax.enable_x64(True):
            recs = list(stream_batch(p, "gd", x0, alpha, rules, opts, devices=jax.local_devices()[:1]))
        merged = {k: np.concatenate([r[k] for r in recs]) for k in layout.RECORD_FIELDS}
        order = np.argsort(merged["run"])
        return {k: v[order] for k, v in merged.items()}

    blocks = run(32)
    whole = run(256)
    np.testing.assert_array_equal(blocks["run"], np.arange(6000))
    for key in layout.RECORD_FIELDS:
        np.testing.assert_array_equal(blocks[key], whole[key], err_msg=key)
    # the first 256 runs are loaded together, and those judged done within the first 96 steps are
    # harvested together: more than two blocks' worth; later harvests take any number
    assert (blocks["k"][:256] < 96).sum() > 96 and len(np.unique(blocks["k"])) > 200
    kernel.batch_kernel.cache_clear()
    kernel.sharded_kernel.cache_clear()
    kernel.IDLE_LANES.clear()


def test_lesson_x2_sin_three_runs():
    r = gdlab.descend("x2_sin", "gd", [2.5], alpha=[0.005, 1e-4], criterion="df", epsilon=1e-3,
                      min_steps=[0, 100])
    s = r.stops.set_index(["run_id", "min_steps"])
    # alpha = 0.005: 73 steps, near x = 5.0755
    assert s.loc[(0, 0), "step"] == 73
    run0 = gdlab.descend("x2_sin", "gd", [2.5], alpha=0.005, criterion="df", epsilon=1e-3)
    assert run0.runs["n_iter"][0] == 73
    assert gdlab.points(run0.runs["x_final"])[0, 0] == pytest.approx(5.0755, abs=1e-4)
    # alpha = 1e-4: stops after one step; with min_steps = 100 at step 100 near 2.521
    assert s.loc[(1, 0), "step"] == 1
    assert s.loc[(1, 100), "step"] == 100
    run1 = gdlab.descend("x2_sin", "gd", [2.5], alpha=1e-4, criterion="df", epsilon=1e-3, min_steps=100)
    x_end = gdlab.points(run1.runs["x_final"])[0, 0]
    assert x_end == pytest.approx(2.521, abs=1e-3)
    assert run1.runs["dist_to_min"][0] > 2.5           # far from the minimum x ≈ 5.0870
    assert run1.runs["point_type"][0] == "non_stationary"
    assert get_problem("x2_sin").minima[0][0] == pytest.approx(5.0870, abs=1e-4)
    assert get_problem("x2_sin").f_min[0] == pytest.approx(-24.083, abs=1e-3)


def test_sign_halving_on_the_lesson_quartic():
    eps = 1e-4
    r = gdlab.descend("lesson_quartic", "sign_halving", [-5.0], alpha=1.0, criterion="dx", epsilon=eps,
                      traces=1)
    xs = gdlab.points(r.traces["x"])[:, 0]
    np.testing.assert_array_equal(xs[:4], [-5, -4, -3, -3.5])
    assert r.runs["status"][0] == "converged"
    assert abs(gdlab.points(r.runs["x_final"])[0, 0] - (-3.5518311520096497)) < 2 * eps


def test_sign_halving_x4_from_0_2_jumps():
    r = gdlab.descend("x4", "sign_halving", [0.2], alpha=1.0, criterion="dx", epsilon=1e-3, traces=1)
    xs = gdlab.points(r.traces["x"])[:, 0]
    np.testing.assert_allclose(xs[:4], [0.2, -0.8, -0.3, 0.2], atol=1e-15)


def test_himmelblau_grid_finds_all_four_minima():
    r = gdlab.sweep({"problems": ["himmelblau"], "starts": {"kind": "grid", "n": 40}, "alpha": [0.01],
                     "criterion": ["grad"], "epsilon": [1e-3], "max_iter": 2000, "traces": 0})
    assert len(r.runs) == 1600
    conv = r.runs[r.runs["status"] == "converged"]
    assert set(conv["min_id"]) == {0, 1, 2, 3}
    assert (conv["dist_to_min"] < 1e-3).all()
    assert (conv["point_type"] == "minimum").all()


def test_statuses_diverged_max_iter_nonfinite_invalid_start():
    sad = gdlab.descend("saddle_3x2_2xy", "gd", [[-20, -20]], alpha=0.1, criterion="grad", epsilon=1e-6,
                        max_iter=10_000)
    assert sad.runs["status"][0] == "diverged"
    assert sad.runs["n_iter"][0] < 10_000
    capped = gdlab.descend("himmelblau", "gd", [[0.0, 0.0]], alpha=1e-4, epsilon=1e-12, max_iter=50)
    assert capped.runs["status"][0] == "max_iter" and capped.runs["n_iter"][0] == 50
    # the cone's gradient is a unit vector: from (1, 9) with alpha 0.5 gd lands on the tip, where ∇f is nan
    cone = gdlab.descend("cone", "gd", [[1.0, 9.0], [1.0, 8.0]], alpha=0.5, criterion="grad", epsilon=1e-6)
    assert list(cone.runs["status"]) == ["nonfinite", "invalid_start"]
    assert list(cone.runs["n_iter"]) == [2, 0]
    assert not cone.stops["fired"].any()
    # x thrown past diverge_x where float32's x⁴ overflows: diverged, as in float64, not nonfinite
    outs = {dtype: gdlab.descend("x**4", "gd", [[20.0]], alpha=0.1, dtype=dtype).runs for dtype in ("float32", "float64")}
    for dtype, runs in outs.items():
        assert runs["status"][0] == "diverged" and runs["n_iter"][0] == 2, dtype
        assert runs["x_final"][0][0] == pytest.approx(1.2863e10, rel=1e-4)
    assert np.isinf(outs["float32"]["f_final"][0]) and np.isfinite(outs["float64"]["f_final"][0])


def test_a_plain_python_function_descends_as_its_registry_twin():
    import jax.numpy as jnp

    def himmelblau(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    starts = [[0.0, 0.0], [-3.0, 3.0], [3.5, -2.0]]
    mine = gdlab.descend(himmelblau, "gd", starts, alpha=0.01, criterion=["df", "grad"], epsilon=1e-8)
    twin = gdlab.descend("himmelblau", "gd", starts, alpha=0.01, criterion=["df", "grad"], epsilon=1e-8)
    assert list(mine.runs["problem"]) == ["himmelblau"] * 3
    for col in ("n_iter", "status", "point_type"):
        assert list(mine.runs[col]) == list(twin.runs[col]), col
    np.testing.assert_allclose(np.stack(mine.runs["x_final"]), np.stack(twin.runs["x_final"]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mine.stops["step"], twin.stops["step"])
    assert mine.stops["dist_to_min_at_stop"].isna().all()          # a plain function knows no minima
    assert (twin.stops["dist_to_min_at_stop"] < 1e-3).all()
    # a function of one variable, elementwise: a flat list is one start a number, as for x2_sin
    lesson = gdlab.descend(lambda x: x ** 2 * jnp.sin(x), "gd", [2.5, 3.0], alpha=0.005, criterion="df", epsilon=1e-3)
    reg = gdlab.descend("x2_sin", "gd", [2.5, 3.0], alpha=0.005, criterion="df", epsilon=1e-3)
    assert list(lesson.runs["n_iter"]) == list(reg.runs["n_iter"]) == [73, 48]
    assert lesson.runs["problem"][0] == "lambda"
    # a flat list for a function of several variables is one start; the point's type from inspect_point
    assert len(gdlab.descend(himmelblau, "gd", [0.0, 0.0], alpha=0.01).runs) == 1
    assert gdlab.inspect_point(lambda x: x[0] ** 2 - x[1] ** 2, [0.0, 0.0]).point_type == "saddle"


@pytest.mark.parametrize("fn, message", [
    (lambda x: np.sin(np.asarray(x)).sum(), "could not be traced by JAX at a point of shape (2,) "
                                            "(TracerArrayConversionError"),
    (lambda x: x * 2, "returns 2 numbers at a point of 2 coordinate(s)"),
    (lambda x: (x[0], x[1]), "must return one number, got tuple"),
])
def test_a_function_gdlab_cannot_differentiate_is_named(fn, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        gdlab.descend(fn, "gd", [[1.0, 2.0]])


def test_a_saddle_start_fires_every_rule_and_is_a_saddle():
    r = gdlab.descend("saddle_3x2_2xy", "gd", [[0.0, 0.0]], alpha=0.1, criterion=["dx", "df", "grad"],
                      epsilon=1e-6)
    assert r.runs["status"][0] == "converged"
    assert r.runs["point_type"][0] == "saddle"
    assert r.stops.set_index("criterion")["step"].to_dict() == {"dx": 1, "df": 1, "grad": 0}


def test_stop_steps_match_a_plain_loop_for_every_rule():
    alpha, steps = 0.002, 400
    xs = plain_gd(x2_sin_prime, 2.5, alpha, steps)
    f = xs ** 2 * np.sin(xs)
    g = np.abs(2 * xs * np.sin(xs) + xs ** 2 * np.cos(xs))
    values = {"dx": np.r_[np.inf, np.abs(np.diff(xs))], "df": np.r_[np.inf, np.abs(np.diff(f))], "grad": g}
    r = gdlab.descend("x2_sin", "gd", [2.5], alpha=alpha, criterion=["dx", "df", "grad"],
                      epsilon=[1e-2, 1e-3], min_steps=[0, 150], max_iter=steps)
    for row in r.stops.itertuples():
        ok = (values[row.criterion] < row.epsilon) & (np.arange(steps + 1) >= row.min_steps)
        want = int(np.argmax(ok)) if ok.any() else -1
        assert row.step == want, row
        if want >= 0:
            assert row.f_at_stop == pytest.approx(f[want], abs=1e-12)


def test_curves_hold_f_at_the_checkpoints():
    assert list(checkpoints(20)) == [0, 1, 2, 3, 4, 6, 8, 11, 16]
    r = gdlab.descend("x2_sin", "gd", [2.5], alpha=0.005, criterion="df", epsilon=1e-3, traces=1)
    trace = r.traces.set_index("step")["f"]
    curve = r.curves.set_index("step")["f"]
    assert list(curve.index) == [0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 73]
    np.testing.assert_array_equal(curve.to_numpy(), trace.loc[curve.index].to_numpy())


def test_a_hundred_alphas_compile_once():
    base = {"problems": ["booth"], "starts": {"kind": "uniform", "n": 5, "seed": 1}, "max_iter": 200,
            "criterion": ["grad"], "epsilon": [1e-4], "traces": 0}
    gdlab.sweep({**base, "alpha": list(np.linspace(1e-3, 0.05, 100))})
    before = kernel_cache_size()
    r = gdlab.sweep({**base, "alpha": list(np.linspace(2e-3, 0.04, 100))})
    assert kernel_cache_size() == before
    assert r.runs["alpha"].nunique() == 100


def test_a_batch_of_many_calls_compiles_its_kernel_once():
    """The first call gets empty lanes and later calls the lanes the call before returned: the
    same types (an IntEnum fill once made the empty lanes' status weakly typed: two compilations).
    The devices run one program, so a batch dealt over two devices compiles once, not per device."""
    import jax
    p = get_problem("styblinski_tang", 3)
    x0 = np.random.default_rng(5).uniform(-5, 5, (100, 3))
    before = kernel_cache_size()
    run_batch(p, "gd", x0, 0.01, rules=stop_rules("grad", 1e-3, 0),
              opts=EngineOptions(max_iter=300, lanes=8, part=16, chunk=16))
    assert len(jax.local_devices()) == 2     # seven parts: dealt over both devices
    assert kernel_cache_size() == before + 1     # one program for both devices, compiled once


def _shifted_bowls():
    """Three problems of one family: f(x) = a·Σ(x − c)² + f0, their numbers as params."""
    import dataclasses

    import jax.numpy as jnp

    from gdlab.core.problems import Parametric, Problem

    def family(x, p):
        c = p["c"].reshape(p["c"].shape + (1,) * (x.ndim - 1))     # x is (d,) or (d, n)
        return p["a"] * jnp.sum((x - c) ** 2, axis=0) + p["f0"]

    out = []
    for i, (a, c, f0) in enumerate([(1.0, (1.0, -2.0), 0.5), (3.0, (0.0, 4.0), -1.0), (0.5, (2.5, 2.5), 7.0)]):
        params = {"a": np.float64(a), "c": np.array(c), "f0": np.float64(f0)}
        out.append(Problem(f"bowl{i}", lambda x, p=params: family(x, p), 2, ((-5.0, 5.0),) * 2,
                           minima=(c,), f_min=(f0,), vectorized=True, key=("bowl", i),
                           parametric=Parametric(("bowls", 2), family, params)))
    return out, [dataclasses.replace(p, parametric=None) for p in out]


@pytest.mark.parametrize("method", ["gd", "adam", "lbfgs"])
def test_a_parametric_family_compiles_one_kernel_with_each_problems_numbers(method):
    """Problems of one family (Parametric) share a kernel; each batch runs on its own params, to the
    same bits as the problem compiled alone with its numbers as constants."""
    family, alone = _shifted_bowls()
    x0 = np.random.default_rng(11).uniform(-5, 5, (40, 2))
    opts = EngineOptions(max_iter=500, dtype="float64")
    rules = stop_rules("grad", 1e-9, 0)
    before = kernel_cache_size()
    got = [run_batch(p, method, x0, 0.05, rules=rules, opts=opts) for p in family]
    assert kernel_cache_size() == before + 1
    for p, rec in zip(alone, got):
        want = run_batch(p, method, x0, 0.05, rules=rules, opts=opts)
        np.testing.assert_array_equal(rec["x"], want["x"])
        np.testing.assert_array_equal(rec["k"], want["k"])
        np.testing.assert_allclose(rec["x"][rec["status"] == Status.converged], np.broadcast_to(p.minima[0], (
            int((rec["status"] == Status.converged).sum()), 2)), atol=1e-8)
    assert (got[0]["status"] == Status.converged).sum() > 20
    # the replayed path is the batch's, with the problem's own params
    with jax.enable_x64(True):
        (xs, fs), = trace_runs(family[1], method, x0[:1], 0.05, got[1]["k"][:1], rules, opts)
    np.testing.assert_array_equal(xs[-1], got[1]["x"][0])


def test_float32_is_the_sweep_default_and_float64_by_config():
    r32 = gdlab.sweep({"problems": ["booth"], "starts": {"kind": "points", "points": [[0.1, 0.2]]},
                       "criterion": ["grad"], "epsilon": [1e-3], "traces": 0})
    r64 = gdlab.sweep({"problems": ["booth"], "starts": {"kind": "points", "points": [[0.1, 0.2]]},
                       "criterion": ["grad"], "epsilon": [1e-3], "traces": 0, "dtype": "float64"})
    assert r32.facts["dtype"] == "float32" and r64.facts["dtype"] == "float64"
    x32, x64 = gdlab.points(r32.runs["x_final"])[0], gdlab.points(r64.runs["x_final"])[0]
    assert np.float32(x32[0]) == x32[0]                 # came from a float32 state
    assert x32[0] != x64[0] and abs(x32[0] - x64[0]) < 1e-4


def test_a_problem_without_the_coordinate_first_form_is_vmapped():
    """A Python function that sums over every axis cannot take (d, n) blocks; the engine vmaps it."""
    import jax.numpy as jnp

    from gdlab.core.problems import Problem
    p = Problem(name="bowl", fn=lambda x: jnp.sum((x - 2.0) ** 2), dim=3, domain=((-5.0, 5.0),) * 3,
                minima=((2.0, 2.0, 2.0),), f_min=(0.0,))
    assert not p.vectorized
    x0 = np.random.default_rng(3).uniform(-5, 5, (300, 3))
    rec = run_batch(p, "gd", x0, 0.1, stop_rules("grad", 1e-8), F64)
    assert (rec["status"] == Status.converged).all()
    np.testing.assert_allclose(rec["x"], 2.0, atol=1e-8)
    # f at the stop is the run's own value, not a sum over the batch
    np.testing.assert_allclose(rec["f"], np.sum((rec["x"] - 2.0) ** 2, axis=1), atol=1e-15)


def test_reused_lanes_carry_nothing_of_the_runs_before():
    """Eight lanes serve 400 runs of very different lengths: a rule that never fired and the
    checkpoints past a run's last step read nan, whatever the lane's earlier runs left there."""
    p = get_problem("himmelblau")
    x0 = np.random.default_rng(4).uniform(-5, 5, (400, 2))
    alpha = np.random.default_rng(5).choice([0.002, 0.01, 0.02, 0.2], 400)   # 0.2 diverges, rules unfired
    rules = stop_rules(["grad", "df"], [1e-4, 1e-12], 0)
    opts = EngineOptions(max_iter=600, dtype="float64", lanes=8, part=32, chunk=8)
    rec = run_batch(p, "gd", x0, alpha, rules, opts)
    cps = checkpoints(600)
    for i in range(400):
        unfired = rec["fired"][i] < 0
        assert np.isnan(rec["f_at"][i][unfired]).all() and np.isnan(rec["x_at"][i][unfired]).all()
        assert not np.isnan(rec["f_at"][i][~unfired]).any()
        beyond = cps > rec["k"][i]
        assert np.isnan(rec["curve_f"][i][beyond]).all() and not np.isnan(rec["curve_f"][i][~beyond]).any()
    assert 0 < (rec["fired"][:, 1] < 0).sum() < 400 and len(np.unique(rec["k"])) > 30
    assert {Status.converged, Status.diverged} <= set(rec["status"])
    # each run as it is alone in the same kernel width
    for i in (0, 199, 399):
        alone = run_batch(p, "gd", x0[i:i + 1], alpha[i], rules, opts)
        for key in ("x", "k", "status", "fired", "curve_f"):
            np.testing.assert_array_equal(rec[key][i], alone[key][0])


def test_one_rule_takes_its_stop_point_from_the_run_not_the_chunk_buffer():
    # With one rule the chunk buffer keeps no x (a run stops where its only rule fires); with the
    # same rule given twice the buffer keeps x and the rules' points come from it. Both must agree,
    # bit for bit, over runs that converge in and across chunks, run out of steps, diverge or fail.
    p = get_problem("himmelblau")
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-5, 5, (3000, 2))
    alpha = rng.choice([0.002, 0.01, 0.02, 0.2], size=3000)
    x0[:5] = np.nan
    rule = stop_rules("df", 1e-7, 12)
    for dtype in ("float32", "float64"):
        opts = EngineOptions(max_iter=400, dtype=dtype, lanes=256, part=512, chunk=16)
        for R in (1, 2):
            spec = kernel.kernel_spec(p, GD, R, len(x0), opts)
            with jax.enable_x64(dtype == "float64"):
                assert len(jax.eval_shape(kernel.batch_kernel(spec)[1]).scratch) == 2 + (R > 1)
        one = run_batch(p, "gd", x0, alpha, rule, opts)
        two = run_batch(p, "gd", x0, alpha, rule * 2, opts)
        statuses = set(Status(s).name for s in one["status"])
        assert {"converged", "max_iter", "diverged", "invalid_start"} <= statuses, statuses
        assert (one["fired"][:, 0] >= 16).any()      # some fire after their first chunk
        for key in ("x", "f", "g", "k", "status", "curve_f", "curve_g"):
            np.testing.assert_array_equal(one[key], two[key], err_msg=key)
        for key in ("fired", "f_at", "x_at"):
            for r in (0, 1):
                np.testing.assert_array_equal(one[key][:, 0], two[key][:, r], err_msg=f"{dtype} {key}[{r}]")
        fired = one["fired"][:, 0] >= 0
        assert fired.sum() > 1000
        np.testing.assert_array_equal(one["x_at"][fired, 0], one["x"][fired])
        assert np.isnan(one["x_at"][~fired]).all()


def test_without_curves_a_record_is_the_same_bits_less_its_curves():
    """``curves=False`` drops the checkpoint curves and nothing else: over runs that converge in and
    across chunks, run out of steps, diverge or start invalid, with one rule and with two, every
    other field is the same bits; the curves have no columns, the chunk buffer keeps only what the
    stop records need (nothing with one rule; x and f with two), and a lane takes fewer bytes."""
    p = get_problem("himmelblau")
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-5, 5, (3000, 2))
    alpha = rng.choice([0.002, 0.01, 0.02, 0.2], size=3000)
    x0[:5] = np.nan
    for rules in (stop_rules("df", 1e-7, 12), stop_rules(["df", "grad"], [1e-7, 1e-3], 12)):
        for dtype in ("float32", "float64"):
            opts = EngineOptions(max_iter=400, dtype=dtype, lanes=256, part=512, chunk=16)
            full = run_batch(p, "gd", x0, alpha, rules, opts)
            final = run_batch(p, "gd", x0, alpha, rules, opts._replace(curves=False))
            spec = kernel.kernel_spec(p, GD, len(rules), len(x0), opts._replace(curves=False))
            with jax.enable_x64(dtype == "float64"):
                buffer = jax.eval_shape(kernel.batch_kernel(spec)[1]).scratch
            assert [b.shape for b in buffer] == ([] if len(rules) == 1 else [(16, 2, 256), (16, 256)])
            assert {"converged", "max_iter", "diverged", "invalid_start"} <= {Status(s).name for s in final["status"]}
            assert (final["k"] > 16).any() and full["curve_f"].shape == (3000, len(checkpoints(400)))
            for key in layout.RECORD_FIELDS:
                if key.startswith("curve_"):
                    assert final[key].shape == (3000, 0), key
                else:
                    np.testing.assert_array_equal(final[key], full[key], err_msg=f"{dtype} {key}")
    width = layout.record_width(2, 1, len(checkpoints(2000)))
    # 2-D, one rule: run, x, f, g, k, status, fired, hp and 2 × 22 checkpoints (f_at and x_at, the run's
    # end where its rule fired, are filled in by the host); two rules: their f_at and x_at too
    assert (width, layout.record_width(2, 1, 0), layout.record_width(2, 2, 0)) == (55, 11, 18)
    assert layout.lane_bytes(2, 1, 2000, curves=False) < layout.lane_bytes(2, 1, 2000) * 0.4


def test_a_kernel_computes_only_its_rules_criteria_with_the_same_bits(monkeypatch):
    """The kernel is compiled for the criteria its rules use (a rule on |Δf| alone computes no
    ‖Δx‖): over runs of every status, with one rule and two, in float32 and float64, its records
    are the same bits as the kernel that computes all three."""
    p = get_problem("himmelblau")
    rng = np.random.default_rng(6)
    x0 = rng.uniform(-5, 5, (2000, 2))
    alpha = rng.choice([0.002, 0.01, 0.02, 0.2], size=2000)
    x0[:5] = np.nan
    specs = []
    spec_for = kernel.kernel_spec

    def every_criterion(*args):
        return spec_for(*args[:5], tuple(CRITERIA))         # whatever the rules' criteria: all three

    def seen(*args):
        specs.append(spec_for(*args))
        return specs[-1]

    for rules in (stop_rules("df", 1e-7, 12), stop_rules("dx", 1e-6, 0), stop_rules("grad", 1e-3, 5),
                  stop_rules(["dx", "grad"], [1e-6, 1e-3], 3)):
        for dtype in ("float32", "float64"):
            opts = EngineOptions(max_iter=300, dtype=dtype, lanes=256, part=512, chunk=16)
            monkeypatch.setattr(driver, "kernel_spec", seen)
            own = run_batch(p, "gd", x0, alpha, rules, opts)
            monkeypatch.setattr(driver, "kernel_spec", every_criterion)
            full = run_batch(p, "gd", x0, alpha, rules, opts)
            assert {"converged", "max_iter", "diverged", "invalid_start"} <= {Status(s).name for s in own["status"]}
            for key in layout.RECORD_FIELDS:
                np.testing.assert_array_equal(own[key], full[key], err_msg=f"{rules} {dtype} {key}")
    assert [tuple(c.name for c in spec.criteria) for spec in specs[::2]] == [("df",), ("dx",), ("grad",), ("dx", "grad")]


def test_a_batch_starts_from_the_lanes_the_last_batch_left_with_the_same_records():
    """A batch that finishes leaves its emptied lanes on the devices, and the next batch of the
    same kernel starts from them instead of building new ones: its records are the same bits as
    from new lanes, though the lanes still hold the last batch's points, fired rules and curves.
    A batch abandoned midway leaves nothing behind (its lanes still hold runs)."""
    p = get_problem("himmelblau")
    rules = stop_rules(["grad", "df"], [1e-4, 1e-12], 0)
    opts = EngineOptions(max_iter=600, dtype="float64", lanes=8, part=32)
    rng = np.random.default_rng(6)
    x_a, x_b = rng.uniform(-5, 5, (200, 2)), rng.uniform(-5, 5, (120, 2))
    b_alpha = rng.choice([0.01, 0.2], 120)              # 0.2 diverges: rules unfired, checkpoints past the end
    kernel.IDLE_LANES.clear()
    fresh = run_batch(p, "gd", x_b, b_alpha, rules, opts)
    run_batch(p, "gd", x_a, 0.002, rules, opts)    # long runs: late checkpoints, both rules fired
    (left,) = kernel.IDLE_LANES.values()
    assert (np.asarray(left.run) == -1).all()
    assert np.isfinite(np.asarray(left.curve_f)[-3:]).any() and (np.asarray(left.fired) >= 0).any()
    again = run_batch(p, "gd", x_b, b_alpha, rules, opts)
    assert left.x.is_deleted()       # donated to the first call of the batch: it started from these lanes
    for key in layout.RECORD_FIELDS:
        np.testing.assert_array_equal(again[key], fresh[key], err_msg=key)
    assert np.isnan(fresh["f_at"]).any() and np.isnan(fresh["curve_f"]).any()
    with jax.enable_x64(True):
        batch = stream_batch(p, "gd", x_a, 0.002, rules, opts)
        next(batch)
        batch.close()
    assert not kernel.IDLE_LANES
    after = run_batch(p, "gd", x_b, b_alpha, rules, opts)
    for key in layout.RECORD_FIELDS:
        np.testing.assert_array_equal(after[key], fresh[key], err_msg=key)


def test_calls_write_into_the_outputs_the_host_is_done_with_and_never_under_a_kept_record():
    """Each call's output buffer is donated back to a later call once the caller has moved on from
    its records, so calls do not clear a new buffer each; a caller that keeps records (views of the
    output) keeps them intact, since JAX copies a buffer that is still viewed instead of donating it."""
    p = get_problem("himmelblau")
    rules = stop_rules("grad", 1e-4, 0)
    opts = EngineOptions(max_iter=400, dtype="float64", lanes=8, part=16)
    x0 = np.random.default_rng(8).uniform(-5, 5, (400, 2))
    with jax.enable_x64(True):
        starts = [rec["f"].ctypes.data for rec in stream_batch(p, "gd", x0, 0.01, rules, opts)]
        kept = list(stream_batch(p, "gd", x0, 0.01, rules, opts))
    assert len(starts) > 20 and len(set(starts)) <= 6       # a few buffers in turn, not one per call
    fresh = run_batch(p, "gd", x0, 0.01, rules, opts)
    for key in layout.RECORD_FIELDS:
        got = np.concatenate([rec[key] for rec in kept])[np.argsort(np.concatenate([r["run"] for r in kept]))]
        np.testing.assert_array_equal(got, fresh[key], err_msg=key)


def test_lane_width_follows_the_runs_and_the_device_memory(monkeypatch):
    assert layout.default_lanes(100) == 16 and layout.default_lanes(10 ** 7) == layout.max_lanes()
    # a wider problem with more rules needs more memory per lane
    small, big = layout.lane_bytes(2, 1, 2000), layout.lane_bytes(10, 12, 2000, dtype="float64")
    assert big > 5 * small > 0
    # the CPU's devices (two here) share the host's memory
    import os
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert layout.device_bytes() == ram // 2
    # on a device with 1 GiB, a lane of 1 MiB: a sixteenth of the memory holds 64 of them
    monkeypatch.setattr(layout, "device_bytes", lambda: 1 << 30)
    assert layout.default_lanes(10 ** 7, 1 << 20) == 64
    assert layout.default_lanes(10 ** 7, big) == min(layout.max_lanes(), 1 << int(np.log2((1 << 26) // big)))


def test_a_large_batch_gets_long_calls_after_two_short_ones_per_device():
    p = get_problem("himmelblau")
    spec = kernel.kernel_spec(p, GD, 1, 10 ** 6, EngineOptions())
    assert (spec.lanes, spec.part) == (4096, chunks.PART_LANES * 4096)     # a sixteenth of the batch, at most 16 lanes' worth
    assert kernel.kernel_spec(p, GD, 1, 10 ** 5, EngineOptions()).part == 4 * 4096      # as before below
    assert kernel.kernel_spec(p, GD, 1, 10 ** 6, EngineOptions(part=1000)).part == 1024  # the caller's, bucketed
    spans = chunks.spans(10 ** 6, 65536, 8192, 4)
    assert [b - a for a, b in spans[:5]] == [8192] * 4 + [65536]
    assert spans[0][0] == 0 and spans[-1][1] == 10 ** 6 and all(b == c for (_, b), (c, _) in zip(spans, spans[1:]))
    assert chunks.spans(5, 4, 8, 2) == [(0, 4), (4, 5)]           # first slices never above a part


def test_adaptive_chunk_changes_when_lanes_refill_not_what_runs_compute():
    """The default chunk follows the runs' lengths from call to call (8 … 256 steps between
    refills); every record is the same bits as with a fixed chunk of 16, the curves included."""
    assert chunks.next_chunk(chunks.RunLengths()) == 8                 # 8 until a run has finished
    assert chunks.next_chunk(chunks.RunLengths(), device_idle=True) == 8
    p = get_problem("himmelblau")
    rng = np.random.default_rng(6)
    x0 = rng.uniform(-5, 5, (3000, 2))
    alpha = np.where(np.arange(3000) < 300, 0.02, 0.0004)       # a few short runs first, then long ones
    rules = stop_rules(["grad", "df"], [1e-5, 1e-10], [0, 5])
    base = dict(max_iter=1500, dtype="float64", lanes=64, part=256)
    calls = []
    real_next = driver.next_chunk
    try:
        driver.next_chunk = lambda *a, **k: calls.append(real_next(*a, **k)) or calls[-1]
        adaptive = run_batch(p, "gd", x0, alpha, rules, EngineOptions(**base))
    finally:
        driver.next_chunk = real_next
    fixed = run_batch(p, "gd", x0, alpha, rules, EngineOptions(chunk=16, **base))
    assert calls[0] == 8 and max(calls) > 48, calls
    for key in layout.RECORD_FIELDS:
        np.testing.assert_array_equal(adaptive[key], fixed[key], err_msg=key)
    assert len(np.unique(adaptive["k"])) > 100 and np.isfinite(adaptive["curve_f"][:, :10]).all()


def test_the_busy_chunk_is_the_one_that_takes_the_least_lane_time():
    """next_chunk weighs idle lanes against refills over the finished runs' real lengths: for
    every chunk c a run of n judged steps holds its lane ⌈n/c⌉ chunks of c steps and a refill
    each. Checked against that sum written out, and on lengths whose answer is known."""
    from gdlab.engine.chunks import CHUNK_MAX, REFILL_STEPS, SHORT, RunLengths, next_chunk

    def lengths_of(n):
        lengths = RunLengths()
        lengths.add(np.asarray(n) - 1)      # judged steps are k + 1
        return lengths

    assert next_chunk(lengths_of([42] * 50)) == 42        # one chunk holds each run exactly
    assert next_chunk(lengths_of([300] * 50)) == 150      # two chunks of 150, none idle
    assert next_chunk(lengths_of([11] * 50)) == 11
    assert next_chunk(lengths_of([5] * 50)) == 8          # never below 8
    assert next_chunk(lengths_of([10 ** 5] * 5)) == 256   # long runs: as few refills as the buffer allows
    assert next_chunk(lengths_of([42] * 50), cap=32) == 21
    # device idle: a power of two near 2m(1 − 0.9)/0.9, so a lane idles a tenth of its run
    assert next_chunk(lengths_of([42] * 10), device_idle=True) == 8
    assert next_chunk(lengths_of([100] * 10), device_idle=True) == 16
    assert next_chunk(lengths_of([300] * 10), device_idle=True) == 64
    rng = np.random.default_rng(0)
    for scale in (12, 40, 200, 3000):
        n = np.maximum(1, rng.lognormal(np.log(scale), 0.6, 5000).astype(np.int64))
        lengths = lengths_of(n)
        assert lengths.runs == len(n) and lengths.mean == pytest.approx(n.mean())
        cs = np.arange(8, CHUNK_MAX + 1)
        brute = np.array([sum(-(-m // c) * (c + REFILL_STEPS) for m in n.tolist()) for c in cs.tolist()], float)
        model = lengths.lane_time(cs, REFILL_STEPS)
        short = n <= SHORT     # a long run counts n/c + ½ chunks instead of ⌈n/c⌉: within half a chunk
        if short.all():
            np.testing.assert_allclose(model, brute, rtol=1e-12)
        else:
            np.testing.assert_allclose(model, brute, rtol=0.5 * (~short).sum() / (n[~short] / CHUNK_MAX).sum())
        chosen = next_chunk(lengths)
        assert brute[chosen - 8] <= brute.min() * 1.001, (scale, chosen, cs[brute.argmin()])


def test_newton_step_and_eigenvalues_match_pinv_and_eigvalsh():
    """classify_points takes both from one eigendecomposition (closed forms in 1-D and 2-D, eigh
    above); they are pinv's and eigvalsh's answers, a zero eigenvalue (a flat direction), a
    diagonal Hessian with equal eigenvalues and a maximum included."""
    import jax

    from gdlab.core.points import curvature as _curvature
    from gdlab.core.problems import Problem
    flat = Problem("flat_in_x2", lambda x: (x[0] - 1.0) ** 2 + 0.0 * x[1], 2, ((-2.0, 2.0), (-2.0, 2.0)))
    round_ = Problem("round", lambda x: 3 * x[0] ** 2 + 3 * x[1] ** 2, 2, ((-2.0, 2.0), (-2.0, 2.0)))
    cap = Problem("cap", lambda x: -(x[0] + 2 * x[1]) ** 2 - x[1] ** 2, 2, ((-2.0, 2.0), (-2.0, 2.0)))
    for p in (get_problem("himmelblau", 2), get_problem("rastrigin", 3), get_problem("x2_sin"),
              get_problem("six_hump_camel"), flat, round_, cap):
        xs = np.random.default_rng(3).uniform(-3, 3, (64, p.dim))
        with jax.enable_x64(True):
            eig, newton, unexplained = (np.asarray(a) for a in _curvature(p.objective)(xs))
            for x, e, n, u in zip(xs, eig, newton, unexplained):
                h = np.asarray(jax.hessian(p.fn)(x))
                g = np.asarray(jax.grad(p.fn)(x))
                np.testing.assert_allclose(e, np.linalg.eigvalsh(h), rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(n, np.linalg.norm(np.linalg.pinv(h) @ g), rtol=1e-9, atol=1e-12)
                # the gradient's part along H's zero eigenvalues: (I − H H⁺) ∇f
                np.testing.assert_allclose(u, np.linalg.norm(g - h @ np.linalg.pinv(h) @ g), rtol=1e-9, atol=1e-9)
        if p is flat:   # the flat problem's step is the distance to x1 = 1 along x1 only
            np.testing.assert_allclose(newton, np.abs(xs[:, 0] - 1.0), rtol=1e-12)
        # float32 (a sweep's default): within float32's rounding of the same numbers
        eig32, newton32, _ = (np.asarray(a, np.float64) for a in _curvature(p.objective)(xs.astype(np.float32)))
        scale = np.maximum(np.abs(eig).max(axis=1, keepdims=True), 1.0)
        np.testing.assert_allclose(eig32 / scale, eig / scale, rtol=0, atol=2e-5)
        assert np.median(np.abs(newton32 - newton) / np.maximum(newton, 1e-3)) < 1e-5


@pytest.mark.parametrize("on_cpu", [False, True], ids=["accelerator", "cpu"])
def test_the_chunk_shortens_while_the_device_waits_on_the_host(on_cpu, monkeypatch):
    """On an accelerator, a caller slow to take the records (a sweep writing tables) leaves the
    device idle between calls: then refills cost it nothing, and the chunk aims at 90% useful
    lane-steps (8 steps for runs of about 40); a caller that keeps up gets the throughput chunk
    (about 50), and one that says it is host-bound gets the short chunk from the start. On CPU
    devices the lanes run on the caller's cores, so every caller gets the throughput chunk. Same
    records. (The accelerator's case is run on this machine's CPU devices, told they are not.)"""
    import time
    if on_cpu and not driver.refills_cost_the_host(jax.local_devices()):
        pytest.skip("the machine's devices are no CPUs")
    if not on_cpu:
        monkeypatch.setattr(driver, "refills_cost_the_host", lambda devices: False)
    p = get_problem("himmelblau")
    # 32 calls of a few ms: enough that a stall of the machine does not decide the measured share
    x0 = np.random.default_rng(2).uniform(-5, 5, (64000, 2))
    rules = stop_rules("df", 1e-6, 10)
    opts = EngineOptions(max_iter=2000, dtype="float32", lanes=256, part=2048)
    runs, util = {}, {}
    for slow in (False, True, "told"):
        stats, recs = {}, []
        for rec in stream_batch(p, "gd", x0, 0.005, rules, opts, stats, devices=jax.local_devices()[:1],
                                host_bound=slow == "told"):
            recs.append(rec)
            if slow is True:
                time.sleep(0.05)
        runs[slow] = {k: np.concatenate([r[k] for r in recs]) for k in ("run", "k", "x")}
        util[slow] = stats["useful"] / stats["executed"]
        lengths = chunks.RunLengths()
        lengths.add(runs[slow]["k"])
        assert 30 < lengths.mean < 60
        later = stats["chunks"][4:]
        best = chunks.next_chunk(lengths)
        assert 40 <= best <= 64
        if on_cpu:       # the lengths known: the throughput chunk (from the lengths seen so far), however slow the caller
            assert stats["chunks"][:2] == [8, 8] and all(abs(c - best) <= 8 for c in stats["chunks"][2:]), \
                (best, stats["chunks"])
        elif slow == "told":
            assert set(stats["chunks"]) == {8}, stats["chunks"]
        elif slow:      # the first wait measured is the third call's (the two dealt blind are not timed),
            assert set(later) == {8}, stats["chunks"]       # and the fourth is dealt before it
        else:
            # a busy machine may stall a call, and the caller then looks slow for a while
            assert sum(abs(c - best) <= 2 for c in later) >= 0.5 * len(later), (best, stats["chunks"])
    if not on_cpu:       # the tail keeps all below 0.9
        assert util[True] > util[False] + 0.03 and util["told"] > util[False] + 0.03
    for s in (True, "told"):
        for key in ("k", "x"):
            np.testing.assert_array_equal(runs[False][key][np.argsort(runs[False]["run"])],
                                          runs[s][key][np.argsort(runs[s]["run"])])


def test_a_call_dealt_before_any_run_finished_grows_its_chunk_while_few_lanes_finish(monkeypatch):
    """Nothing is known of the runs' lengths in the first call, so it starts at 8 steps; while
    the kernel is the bottleneck it doubles the chunk after each chunk in which fewer than an
    eighth of the lanes finished, up to CHUNK_MAX, and holds it once more finish. A start that fails at
    once (nan) does not hold long runs at 8. A host-bound caller on an accelerator keeps 8 (run
    on this machine's CPU devices, told they are not). Same records."""
    monkeypatch.setattr(driver, "refills_cost_the_host", lambda devices: False)
    p = get_problem("paraboloid")
    rules = stop_rules("df", 1e-6, 10)
    one = jax.local_devices()[:1]

    def run(n, alpha, host_bound=False, chunk=None):
        x0 = np.random.default_rng(3).uniform(-5, 5, (n, 2))
        x0[:5] = np.nan                                 # invalid starts: done in the first chunk
        opts = EngineOptions(max_iter=3000, dtype="float64", lanes=512, part=n, chunk=chunk)
        stats, recs = {}, []
        with jax.enable_x64(True):
            for rec in stream_batch(p, "gd", x0, alpha, rules, opts, stats, devices=one,
                                    host_bound=host_bound):
                recs.append(rec)
        merged = {k: np.concatenate([r[k] for r in recs]) for k in ("run", "k", "x", "f", "curve_f")}
        order = np.argsort(merged["run"])
        return {k: v[order] for k, v in merged.items()}, stats

    long_runs, stats = run(512, 0.002)                  # one run a lane, of 500–2,000 steps
    n = long_runs["k"][5:]
    assert stats["chunks"] == [8] and 500 < n.min() and n.max() < 2000, (n.min(), n.max())
    # 8, 16, … and then CHUNK_MAX (256) to the end, where 8 steps throughout take max(k)/8 chunks
    doubling = [8 << i for i in range(int(np.log2(chunks.CHUNK_MAX // 8)) + 1)]
    assert sum(doubling[:-1]) < n.min()               # grown before the first run finishes
    assert stats["chunks_run"] <= n.max() / chunks.CHUNK_MAX + len(doubling) + 1, (stats["chunks_run"], n.max())
    assert stats["executed"] == 512 * (sum(doubling[:-1]) + chunks.CHUNK_MAX * (stats["chunks_run"] - len(doubling) + 1))
    told, told_stats = run(512, 0.002, host_bound=True)
    assert told_stats["chunks_run"] >= n.max() / 8, told_stats["chunks_run"]
    fixed, _ = run(512, 0.002, chunk=16)
    for key in ("k", "x", "f", "curve_f"):
        np.testing.assert_array_equal(long_runs[key], fixed[key], err_msg=key)
        np.testing.assert_array_equal(told[key], fixed[key], err_msg=key)
    # four short runs a lane (11–15 steps): none finish in the first 8 steps, the first round in
    # the next 16, and the chunk holds at 16, one chunk a round
    short, stats = run(2048, 0.3)
    assert 10 <= short["k"][5:].min() and short["k"].max() < 16
    assert stats["chunks_run"] == 5 and stats["executed"] == 512 * (8 + 4 * 16), stats


def test_lane_step_counts_do_not_wrap_past_int32():
    """A call's useful lane-steps are summed on the device in two int32 words: exact far past
    2³¹ (4,096 lanes × 10⁶ steps), where one int32 would wrap negative."""
    from gdlab.engine.kernel import count_add as _count
    from gdlab.engine.kernel import counted as _counted
    i32 = jax.numpy.int32
    acc = (i32(0), i32(0))
    adds = [2 ** 31 - 2 ** 24 - 1, 262_144, 1, 2 ** 30, 2 ** 31 - 2 ** 24 - 1] * 40
    for a in adds:
        acc = _count(acc, i32(a))
    assert _counted(*acc) == sum(adds) > 2 ** 36


def test_the_kernel_compiled_for_512_bit_vectors_gives_the_same_bits(monkeypatch):
    """On a CPU with AVX-512 the kernel is compiled with XLA's ``xla_cpu_prefer_vector_width=512``
    (:func:`gdlab.engine.devices.cpu_compiler_options`). Wider vectors only change how many lanes one
    instruction takes: every record field is the same bits with and without the option, on the
    coordinate-first problems and on Rastrigin's polynomial cos, in float32 and float64."""
    from gdlab.engine import devices
    rng = np.random.default_rng(9)
    cases = [("himmelblau", 2, 0.01), ("rastrigin", 10, 0.002), ("rosenbrock", 2, 2e-4)]
    starts = {name: rng.uniform(-2, 2, (1500, dim)) for name, dim, _ in cases}
    records = {}
    for forced in ({}, {devices.VECTOR_WIDTH: 512}):
        monkeypatch.setattr(kernel, "cpu_compiler_options", lambda forced=forced: forced or None)
        kernel.sharded_kernel.cache_clear()
        kernel.IDLE_LANES.clear()
        for name, dim, alpha in cases:
            p = get_problem(name, dim)
            for dtype in ("float32", "float64"):
                opts = EngineOptions(max_iter=300, dtype=dtype, lanes=128, part=256, chunk=16)
                out = run_batch(p, "gd", starts[name], alpha, stop_rules("df", 1e-9, 10), opts)
                records.setdefault((name, dtype), []).append(out)
    kernel.sharded_kernel.cache_clear()
    kernel.IDLE_LANES.clear()
    for (name, dtype), (plain, wide) in records.items():
        assert {Status(s).name for s in plain["status"]} >= {"converged"}
        for key in layout.RECORD_FIELDS:
            np.testing.assert_array_equal(wide[key], plain[key], err_msg=f"{name} {dtype} {key}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stop_rows_take_their_nearest_minimum_from_the_runs_with_one_rule(dtype):
    """With one rule a run's stop point is its last point where the rule fired: the stop rows built
    from the runs' nearest minima are those built from x_at, fired and unfired runs alike."""
    import pandas as pd

    from gdlab.tables.build import nearest_minimum, stops_table
    p = get_problem("himmelblau")
    rules = stop_rules("grad", 1e-3, 1)
    x0 = np.random.default_rng(4).uniform(-5, 5, (300, 2))
    rec = run_batch(p, "gd", x0, 0.01, rules, EngineOptions(max_iter=40, dtype=dtype))
    fired = rec["fired"][:, 0] >= 0
    assert 0 < fired.sum() < len(fired)          # both kinds of run
    ids = np.arange(len(x0))
    taken = stops_table(ids, p, rec, rules, nearest_minimum(p, rec["x"], rec["f"]))
    pd.testing.assert_frame_equal(taken, stops_table(ids, p, rec, rules))
    assert (taken["min_id_at_stop"].to_numpy()[~fired] == -1).all()
    assert taken["dist_to_min_at_stop"].to_numpy()[fired].max() < 0.01
