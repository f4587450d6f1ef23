"""Every method of the registry, against the loop its source writes: optax's own init/update/apply_updates
(with value, grad and value_fn where the method takes them), or a plain NumPy loop for the methods
written here (sign_halving, bb1, bb2, newton), 50 steps in float64, to 1e-12. Then the schedules
against optax.schedules, the line search's Armijo condition, the evaluation counts, and the
hyperparameter and schedule grids of a sweep."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab.core.methods import METHODS, Stepper
from gdlab.core.schedules import SCHEDULES
from gdlab.engine import EngineOptions, trace_runs

STEPS = 50
PROBLEMS = {"rosenbrock": ([-1.2, 1.0], 1e-3), "ravine": ([3.0, -4.0], 0.01)}


def optax_loop(method, problem, x0, alpha, hyper):
    fn = gdlab.get_problem(problem).fn
    with jax.enable_x64(True):
        x = jnp.asarray(x0, jnp.float64)
        tx = method.make((alpha, *(hyper[h.name] for h in method.hyper)))
        state = tx.init(x)
        xs = [np.asarray(x)]

        @jax.jit       # optax's loop, one step compiled (the line searches' while loops run slowly eagerly)
        def step(x, state):
            value, grad = jax.value_and_grad(fn)(x)
            extra = {k: v for k, v in {"value": value, "grad": grad, "value_fn": fn}.items() if k in method.needs}
            updates, state = tx.update(grad, state, x, **extra)
            return optax.apply_updates(x, updates), state

        for _ in range(STEPS):
            x, state = step(x, state)
            xs.append(np.asarray(x))
    return np.array(xs)


def numpy_loop(name, problem, x0, alpha, hyper):
    """The methods written here, as their docs state them, in NumPy (derivatives from JAX)."""
    fn = gdlab.get_problem(problem).fn
    grad = jax.jit(jax.grad(fn))
    hess = jax.jit(jax.hessian(fn))
    x = np.array(x0, float)
    xs = [x.copy()]
    delta, last = np.full(len(x0), alpha), np.zeros(len(x0))       # sign_halving
    x_prev = g_prev = None                                          # bb
    with jax.enable_x64(True):
        for _ in range(STEPS):
            g = np.asarray(grad(jnp.asarray(x)))
            if name == "sign_halving":
                sign = np.sign(g)
                delta = np.where(sign * last < 0, delta / 2, delta)
                step = delta * sign
                last = np.where(sign != 0, sign, last)
            elif name in ("bb1", "bb2"):
                t = alpha
                if x_prev is not None:
                    s, y = x - x_prev, g - g_prev
                    bb = (s @ s) / (s @ y) if name == "bb1" else (s @ y) / (y @ y)
                    if s @ y > 0 and np.isfinite(bb):
                        t = np.clip(bb, hyper["min_step"], hyper["max_step"])
                x_prev, g_prev = x.copy(), g
                step = t * g
            else:   # newton
                h = np.asarray(hess(jnp.asarray(x)))
                positive = np.all(np.linalg.eigvalsh(h) > 0)
                step = alpha * (np.linalg.solve(h, g) if positive else g)
            x = x - step
            xs.append(x.copy())
    return np.array(xs)


def hyper_values(method):
    """Values away from the defaults, inside each range, so a hyperparameter that did not reach the
    update would show."""
    out = {}
    for h in method.hyper:
        if h.from_problem:            # polyak's f_min: a lower bound below the problems' f* = 0
            out[h.name] = -0.1
            continue
        v = h.default * 0.7 if h.default else 0.05
        if method.name in ("bb1", "bb2"):     # bounds that bind on Rosenbrock, whose first BB steps overshoot
            v = {"min_step": 1e-4, "max_step": 2e-3}[h.name]
        v = min(v, h.high * 0.95) if np.isfinite(h.high) else v
        out[h.name] = v if h.allows(v) else (h.low + h.default) / 2
    return out


WRITTEN_HERE = ("sign_halving", "bb1", "bb2", "newton")


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_gives_its_sources_iterates(name, problem):
    method = METHODS[name]
    x0, alpha = PROBLEMS[problem]
    hyper = hyper_values(method)
    want = numpy_loop(name, problem, x0, alpha, hyper) if name in WRITTEN_HERE else \
        optax_loop(method, problem, x0, alpha, hyper)
    [(xs, _)] = trace_runs(gdlab.get_problem(problem), name, [x0], {"alpha": alpha, **hyper}, [STEPS], (),
                           EngineOptions(max_iter=STEPS, dtype="float64"))
    np.testing.assert_allclose(xs, want, rtol=0, atol=1e-12)
    assert np.abs(want[-1] - want[0]).max() > 1e-5        # the method moved: the comparison says something


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_sweeps_its_hyperparameters_with_one_compilation(name):
    """Two values of each hyperparameter (alpha included): one kernel, and a column each."""
    method = METHODS[name]
    grid = {h.name: [0.0 if h.from_problem else h.default, hyper_values(method)[h.name]] for h in method.hyper}
    before = gdlab.engine.kernel_cache_size()
    r = gdlab.sweep({"problems": ["ravine"], "method": [{"name": name, **grid}], "alpha": [1e-3, 2e-3],
                     "starts": {"kind": "points", "points": [[3.0, -4.0]]}, "criterion": ["grad"], "epsilon": [1e-9],
                     "max_iter": 20, "dtype": "float64", "traces": 0})
    assert gdlab.engine.kernel_cache_size() - before == 1
    assert len(r.runs) == 2 ** (1 + len(method.hyper))
    for h in method.hyper:
        assert sorted(set(r.runs[h.name])) == sorted(set(grid[h.name]))


@pytest.mark.parametrize("which", ["methods", "schedules"])
def test_the_config_docs_list_every_method_and_schedule_with_its_parameters(which):
    """docs/config.md's tables are registry_table's, which has a row per entry with each parameter."""
    from pathlib import Path

    from gdlab.app.commands import registry_table
    page = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    block = page.split(f"<!-- {which}:begin -->\n", 1)[1].split(f"\n<!-- {which}:end -->", 1)[0]
    assert block == registry_table(which)
    registry = METHODS if which == "methods" else SCHEDULES
    for name, entry in registry.items():
        row = next(line for line in block.splitlines() if line.startswith(f"| `{name}` |"))
        for h in entry.hyper:
            assert f"`{h.name}` = " in row and h.range in row, (name, h.name)
        assert "optax" in row or name in ("sign_halving", "bb1", "bb2", "newton", "inverse_time"), name


# --- schedules --------------------------------------------------------------------------------------


ALPHA = 0.3
#: each schedule with parameters away from its defaults, and optax's schedule of the same step sizes
OPTAX_SCHEDULES = {
    "constant": ({}, lambda: optax.schedules.constant_schedule(ALPHA)),
    "exponential_decay": ({"transition_steps": 7, "decay_rate": 0.6, "transition_begin": 3, "staircase": 1},
                          lambda: optax.schedules.exponential_decay(ALPHA, 7, 0.6, transition_begin=3, staircase=True)),
    "inverse_time": ({"transition_steps": 5, "decay_rate": 2.0}, None),
    "polynomial": ({"transition_steps": 30, "power": 2.0, "end_value": 0.1, "transition_begin": 4},
                   lambda: optax.schedules.polynomial_schedule(ALPHA, 0.1 * ALPHA, 2.0, 30, transition_begin=4)),
    "cosine_decay": ({"decay_steps": 40, "end_value": 0.2, "exponent": 1.5},
                     lambda: optax.schedules.cosine_decay_schedule(ALPHA, 40, alpha=0.2, exponent=1.5)),
    "warmup_cosine_decay": ({"warmup_steps": 10, "decay_steps": 50, "init_value": 0.1, "end_value": 0.05,
                             "exponent": 1.0},
                            lambda: optax.schedules.warmup_cosine_decay_schedule(0.1 * ALPHA, ALPHA, 10, 50,
                                                                                 0.05 * ALPHA)),
    "piecewise_constant": ({"boundary1": 10, "scale1": 0.5, "boundary2": 25, "scale2": 0.1, "boundary3": 0,
                            "scale3": 1.0},
                           lambda: optax.schedules.piecewise_constant_schedule(ALPHA, {10: 0.5, 25: 0.1})),
}


def test_every_schedule_is_in_the_table():
    assert set(OPTAX_SCHEDULES) == set(SCHEDULES)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_each_schedules_step_sizes_are_optaxs_at_every_step(name):
    """gd on f(x) = x (∇f = 1): each step is −α·factor(k), which must be optax's schedule at k."""
    params, made = OPTAX_SCHEDULES[name]
    sched = SCHEDULES[name]
    stepper = Stepper(METHODS["gd"], sched if name != "constant" else None)
    problem = gdlab.runner.api.as_problem("x")
    n = 60
    [(xs, _)] = trace_runs(problem, stepper, [[0.0]], {"alpha": ALPHA, **params}, [n], (),
                           EngineOptions(max_iter=n, dtype="float64", x_bound=1e30))
    steps = -np.diff(xs[:, 0])
    if made is None:      # inverse time: α/(1 + rate·k/steps), Keras's InverseTimeDecay
        want = ALPHA / (1 + params["decay_rate"] * np.arange(n) / params["transition_steps"])
    else:
        with jax.enable_x64(True):
            want = np.array([float(made()(k)) for k in range(n)])
    np.testing.assert_allclose(steps, want, rtol=1e-13, atol=1e-15)
    assert name == "constant" or np.ptp(steps) > 0.01 * ALPHA     # it changed the step


def test_a_schedule_grid_compiles_one_kernel_and_fills_its_columns():
    before = gdlab.engine.kernel_cache_size()
    r = gdlab.sweep({"problems": ["ravine"], "method": ["gd"], "alpha": [0.01],
                     "schedule": ["constant", {"name": "exponential_decay", "decay_rate": [0.5, 0.7, 0.9],
                                               "transition_steps": [10, 100]}],
                     "starts": {"kind": "points", "points": [[3.0, -4.0]]}, "criterion": ["grad"],
                     "epsilon": [1e-9], "max_iter": 30, "dtype": "float64", "traces": 0})
    assert gdlab.engine.kernel_cache_size() - before == 2          # the constant step's, and the decay's
    runs = r.runs
    assert runs["schedule"].tolist() == ["constant"] + ["exponential_decay"] * 6
    assert runs["decay_rate"].isna().tolist() == [True] + [False] * 6
    assert sorted(runs["decay_rate"].dropna().unique()) == [0.5, 0.7, 0.9]
    # a faster decay ends farther from the minimum after the same steps
    decayed = runs[runs["transition_steps"] == 10].sort_values("decay_rate")
    assert decayed["f_final"].is_monotonic_decreasing
    summary = r.summary()
    assert {"schedule", "decay_rate", "transition_steps"} <= set(summary.columns)
    assert len(summary) == 7


# --- line searches, newton, counts ------------------------------------------------------------------

def test_backtracking_never_accepts_a_step_that_breaks_armijo():
    c = 1e-3
    r = gdlab.descend("rosenbrock", {"name": "backtracking", "c": c, "shrink": 0.5}, [[-1.2, 1.0], [2.0, 2.0]],
                      alpha=1.0, criterion="grad", epsilon=1e-8, max_iter=400, traces=2)
    fn = gdlab.get_problem("rosenbrock").fn
    moved = 0
    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(fn))
        for _, path in r.traces.groupby("run_id"):
            xs = np.stack(path["x"].to_list())
            for a, b in zip(xs[:-1], xs[1:]):
                d = b - a
                fa, fb = float(fn(jnp.asarray(a))), float(fn(jnp.asarray(b)))
                assert fb <= fa + c * float(np.dot(d, np.asarray(grad(jnp.asarray(a))))) + 1e-12 * abs(fa)
                moved += bool(np.any(d))
    assert moved > 50
    assert (r.runs["n_f"] > r.runs["n_iter"] + 1).all()       # some steps needed more than one trial


def test_newton_reaches_rosenbrocks_minimum_in_under_30_steps():
    r = gdlab.descend("rosenbrock", {"name": "newton"}, [[-1.2, 1.0]], alpha=1.0, criterion="grad", epsilon=1e-10)
    run = r.runs.iloc[0]
    assert run["status"] == "converged" and run["n_iter"] < 30
    np.testing.assert_allclose(run["x_final"], [1.0, 1.0], atol=1e-8)
    assert run["n_grad"] == 1 + run["n_iter"] * 3       # a step's gradient and its Hessian (d = 2 gradients)


def test_newton_takes_a_gradient_step_where_the_hessian_is_not_positive_definite():
    # f = x² − y² at (1, 1): H = diag(2, −2), so the step is −α∇f = −α(2, −2)
    problem = gdlab.runner.api.as_problem("x**2 - y**2")
    [(xs, _)] = trace_runs(problem, "newton", [[1.0, 1.0]], 0.1, [1], (), EngineOptions(max_iter=1, dtype="float64"))
    np.testing.assert_allclose(xs[1], [0.8, 1.2], rtol=0, atol=1e-15)


def optax_evaluations(method, problem, x0, alpha, steps):
    """f and ∇f evaluations of optax's loop for ``steps`` steps: the start's, then each line search's trials
    (value_and_grad_from_state reuses the accepted point's where the method keeps it)."""
    fn = gdlab.get_problem(problem).fn
    with jax.enable_x64(True):
        x = jnp.asarray(x0, jnp.float64)
        tx = METHODS[method].make((alpha,) + tuple(h.default for h in METHODS[method].hyper))
        state = tx.init(x)
        n_f = n_g = 1

        @jax.jit
        def step(x, state):
            value, grad = jax.value_and_grad(fn)(x)
            updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=fn)
            return optax.apply_updates(x, updates), state

        for _ in range(steps):
            x, state = step(x, state)
            trials = int(optax.tree.get(state, "num_linesearch_steps"))
            n_f += trials
            n_g += trials if method == "lbfgs" else 1
    return n_f, n_g


@pytest.mark.parametrize("method", ["backtracking", "lbfgs"])
def test_line_searches_count_their_evaluations_as_optaxs_loop_spends_them(method):
    r = gdlab.descend("rosenbrock", method, [[-1.2, 1.0]], alpha=1.0, criterion="grad", epsilon=1e-30, max_iter=25)
    run = r.runs.iloc[0]
    assert run["n_iter"] == 25
    assert (run["n_f"], run["n_grad"]) == optax_evaluations(method, "rosenbrock", [-1.2, 1.0], 1.0, 25)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_counts_its_evaluations(name):
    r = gdlab.descend("ravine", {"name": name, **({"f_min": 0.0} if name == "polyak" else {})}, [[3.0, -4.0]],
                      alpha=1e-3, criterion="grad", epsilon=1e-30, max_iter=10)
    run = r.runs.iloc[0]
    if name in ("backtracking", "lbfgs"):
        assert run["n_f"] >= run["n_iter"] + 1
    elif name == "newton":
        assert (run["n_f"], run["n_grad"]) == (run["n_iter"] + 1, 1 + 3 * run["n_iter"])
    else:
        assert run["n_f"] == run["n_grad"] == run["n_iter"] + 1


def test_polyak_takes_f_star_from_the_problem_or_says_it_has_none():
    r = gdlab.descend("himmelblau", "polyak", [[0.0, 0.0]], alpha=1.0, criterion="grad", epsilon=1e-6, max_iter=500)
    assert r.runs["f_min"].tolist() == [0.0] and r.runs["status"].tolist() == ["converged"]
    with pytest.raises(gdlab.ConfigError, match=r"polyak: f_min is the problem's known minimum f\*, and x\*\*4"):
        gdlab.descend("x**4 - 3*x**2 + x", "polyak", [0.5], alpha=1.0)
    r = gdlab.descend("x**4 - 3*x**2 + x", {"name": "polyak", "f_min": -3.6}, [0.5], alpha=1.0, max_iter=50)
    assert r.runs["f_min"].tolist() == [-3.6]


def test_bad_method_and_schedule_entries_name_the_key_and_the_range():
    with pytest.raises(gdlab.ConfigError) as err:
        gdlab.sweep({"method": [{"name": "adam", "b1": [0.9, 1.5], "beta1": 0.9}, {"name": "backtracking", "c": 2}],
                     "schedule": [{"name": "cosine_decay", "decay_steps": 0}, "warmup"]})
    text = str(err.value)
    for piece in ["method[0].b1: 1.5 is outside [0, 1), the range of adam's b1",
                  "method[0].beta1: method adam has no hyperparameter 'beta1'",
                  "method[1].c: 2 is outside (0, 1), the range of backtracking's c",
                  "schedule[0].decay_steps: 0 is outside (0, inf), the range of cosine_decay's decay_steps",
                  "schedule: must be one of"]:
        assert piece in text, piece


def test_newton_is_refused_above_its_dimension():
    with pytest.raises(gdlab.ConfigError, match="newton runs up to dimension 1,000"):
        gdlab.sweep({"problems": [{"name": "rastrigin", "dim": 2000}], "method": ["newton"],
                     "starts": {"kind": "uniform", "n": 4}})


def test_eight_values_of_adams_b1_compile_one_kernel():
    before = gdlab.engine.kernel_cache_size()
    b1 = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99]
    r = gdlab.sweep({"problems": ["rosenbrock"], "method": [{"name": "adam", "b1": b1}], "alpha": [0.01],
                     "starts": {"kind": "points", "points": [[-1.2, 1.0]]}, "criterion": ["grad"],
                     "epsilon": [1e-12], "max_iter": 50, "dtype": "float64", "traces": 0})
    assert gdlab.engine.kernel_cache_size() - before == 1
    assert r.runs["b1"].tolist() == b1 and r.runs["f_final"].nunique() == 8


def test_a_schedule_multiplies_the_step_of_methods_that_work_their_step_out():
    """polyak and bb1 work their step out; a factor of 0.5 from step 0 halves the step taken."""
    problem = gdlab.get_problem("ravine")
    half = {"boundary1": 0.0, "scale1": 0.5}
    for name, hyper in (("polyak", {"f_min": 0.0}), ("bb1", {})):
        plain = Stepper(METHODS[name])
        halved = Stepper(METHODS[name], SCHEDULES["piecewise_constant"])
        opts = EngineOptions(max_iter=1, dtype="float64")
        [(a, _)] = trace_runs(problem, plain, [[3.0, -4.0]], {"alpha": 0.01, **hyper}, [1], (), opts)
        [(b, _)] = trace_runs(problem, halved, [[3.0, -4.0]], {"alpha": 0.01, **hyper, **half}, [1], (), opts)
        np.testing.assert_allclose(b[1] - b[0], 0.5 * (a[1] - a[0]), rtol=1e-12, err_msg=name)


def test_a_method_with_its_own_schedule_list_is_a_setting_of_its_own():
    sw = gdlab.validate({"method": ["gd", {"name": "gd", "schedule": ["cosine_decay"]}], "schedule": ["constant"]})
    assert [(s.method.name, s.schedule.name) for s in sw.settings] == [("gd", "constant"), ("gd", "cosine_decay")]
    with pytest.raises(gdlab.ConfigError, match="decay_steps .* must exceed its warmup_steps"):
        gdlab.validate({"schedule": [{"name": "warmup_cosine_decay", "warmup_steps": 100, "decay_steps": 100}]})


def test_evaluations_at_a_step_count_the_start_apart():
    from gdlab.tables.stats import evaluations_at
    # newton in 2-D: the start's 2, then 1 + 3 a step; 100 steps
    total = 2 + 100 * 4
    np.testing.assert_array_equal(evaluations_at([0, 10, 100], [total] * 3, [100] * 3), [2, 42, total])
    np.testing.assert_array_equal(evaluations_at([0], [2], [0]), [2])
