"""Every problem: f(x*) = f*, ∇f(x*) = 0 where smooth; the lessons' derivatives."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdlab.core.problems import PROBLEMS, get_problem


def _f64(fn, x):
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        return np.asarray(fn(x)), np.asarray(jax.grad(fn)(x))


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_known_minima_are_minima(name):
    spec = PROBLEMS[name]
    dims = [spec.default_dim] if spec.dim is not None else [spec.default_dim, 5]
    for d in dims:
        p = get_problem(name, d)
        assert p.doc, f"{name} needs a one-line docstring naming its source"
        assert len(p.domain) == p.dim
        for x_star, f_star in zip(p.minima, p.f_min):
            f, g = _f64(p.fn, x_star)
            assert f == pytest.approx(f_star, rel=1e-12, abs=1e-12)
            if p.smooth_minima:
                assert np.abs(g).max() < 1e-9, (name, d, g)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_coordinate_first_form_matches_one_point_at_a_time(name):
    """The engine evaluates a vectorized problem on (d, n) blocks: each column must give what that
    point gives alone, value and gradient (through the vector-Jacobian product the engine takes)."""
    spec = PROBLEMS[name]
    for d in ([spec.default_dim] if spec.dim is not None else [spec.default_dim, 5]):
        p = get_problem(name, d)
        assert p.vectorized
        dom = p.domain_array
        pts = dom[:, 0] + (dom[:, 1] - dom[:, 0]) * np.random.default_rng(1).random((7, d))
        with jax.enable_x64(True):
            block = jnp.asarray(pts.T)
            f_block, vjp = jax.vjp(p.fn, block)
            g_block = vjp(jnp.ones_like(f_block))[0]
            f_one = jax.vmap(p.fn)(jnp.asarray(pts))
            g_one = jax.vmap(jax.grad(p.fn))(jnp.asarray(pts))
        assert f_block.shape == (7,)
        np.testing.assert_allclose(np.asarray(f_block), np.asarray(f_one), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(np.asarray(g_block).T, np.asarray(g_one), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["rastrigin", "rosenbrock", "styblinski_tang", "ravine"])
def test_coordinate_sums_are_row_additions_on_blocks_and_a_reduce_on_points(name):
    """On the engine's (d, n) blocks the n-d classics sum their coordinates by row additions, which
    XLA fuses into the step; on one point (what a plain vmap batches) by a reduce."""
    p = get_problem(name, 10)
    primitives = lambda x: {eqn.primitive.name for eqn in jax.make_jaxpr(p.fn)(x).jaxpr.eqns}
    assert "reduce_sum" not in primitives(jnp.ones((10, 64), jnp.float32))
    assert "reduce_sum" in primitives(jnp.ones(10, jnp.float32))


def test_classics_and_lessons_registered():
    want = {"x2_sin", "two_x_sin", "x4", "lesson_quartic", "saddle_3x2_2xy", "paraboloid",
            "shifted_paraboloid", "cone", "x2y3", "x2y_y2", "linreg_mse", "logistic",
            "rosenbrock", "himmelblau", "rastrigin", "ackley", "booth", "beale",
            "six_hump_camel", "styblinski_tang", "ravine"}
    assert want <= set(PROBLEMS)


@pytest.mark.parametrize("name, x, grad", [
    ("saddle_3x2_2xy", (-20, -20), (-160, -40)),
    ("paraboloid", (1, 2), (2, 4)),
    ("paraboloid", (3, 4), (6, 8)),
    ("x2y3", (2, 3), (2 * 2 * 27, 3 * 4 * 9)),      # ∂x = 2xy³, ∂y = 3x²y²
    ("x2y_y2", (2, 3), (6 * 2 * 3, 3 * 4 + 2 * 3)),  # ∂x = 6xy, ∂y = 3x² + 2y
    ("lesson_quartic", (-5,), (-135,)),
])
def test_lesson_gradients(name, x, grad):
    _, g = _f64(get_problem(name).fn, x)
    np.testing.assert_allclose(g, grad, rtol=1e-14)


def test_lesson_quartic_value():
    f, _ = _f64(get_problem("lesson_quartic").fn, (-5.0,))
    assert f == 50.0


def test_linreg_minimum_is_least_squares():
    from gdlab.core.problems import regression_data as _regression_data
    a, b = _regression_data()
    k, *_ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(get_problem("linreg_mse").minima[0], k, rtol=1e-12)


def test_nd_problem_names_carry_their_dimension():
    assert get_problem("rastrigin").name == "rastrigin"
    assert get_problem("rastrigin", 10).name == "rastrigin-10d"
    with pytest.raises(ValueError, match="2-dimensional"):
        get_problem("himmelblau", 3)
    with pytest.raises(KeyError, match="unknown problem"):
        get_problem("nope")


def test_cos_sin_2pi_float32_accuracy_and_gradient():
    """The turns form of cos 2πx and sin 2πx in float32: within 1.1e-7 of the float64 values
    over |x| < 1e7 (where jnp.cos(2π·x) in float32 is off by up to 2), exact at the quarter
    turns, and its derivative is −2π sin 2πx (2π cos 2πx) to float32 rounding."""
    from gdlab.core.problems import cos_2pi, sin_2pi
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-span, span, 20_000) for span in (1, 10, 1e3, 1e5, 1e7)]).astype(np.float32)
    quarters = np.arange(-40, 41, dtype=np.float32) / 4
    x = np.concatenate([x, quarters, np.nextafter(quarters, np.float32(np.inf))])
    ref_c, ref_s = np.cos(2 * np.pi * x.astype(np.float64)), np.sin(2 * np.pi * x.astype(np.float64))
    c = np.asarray(cos_2pi(jnp.asarray(x)))
    s = np.asarray(sin_2pi(jnp.asarray(x)))
    assert c.dtype == np.float32 and s.dtype == np.float32
    assert np.abs(c - ref_c).max() < 1.1e-7 and np.abs(s - ref_s).max() < 1.1e-7
    q = np.asarray(cos_2pi(jnp.asarray(quarters)))
    np.testing.assert_array_equal(q, np.round(np.cos(2 * np.pi * quarters.astype(np.float64))))
    gc = np.asarray(jax.vmap(jax.grad(cos_2pi))(jnp.asarray(x)))
    gs = np.asarray(jax.vmap(jax.grad(sin_2pi))(jnp.asarray(x)))
    assert np.abs(gc + 2 * np.pi * ref_s).max() < 1e-6 and np.abs(gs - 2 * np.pi * ref_c).max() < 1e-6


def test_cos_sin_2pi_float64_is_the_formula():
    from gdlab.core.problems import cos_2pi, sin_2pi
    x = np.linspace(-7, 7, 1001)
    with jax.enable_x64(True):
        xj = jnp.asarray(x, jnp.float64)
        np.testing.assert_array_equal(np.asarray(cos_2pi(xj)), np.asarray(jnp.cos(2 * jnp.pi * xj)))
        np.testing.assert_array_equal(np.asarray(sin_2pi(xj)), np.asarray(jnp.sin(2 * jnp.pi * xj)))


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_the_figures_values_and_gradients_are_the_problems_own(name):
    """The report's figures evaluate f and ∇f on grids as one compiled program a problem: the numbers
    of f at each point alone (float64), the same program again for the next figure."""
    from gdlab.report.figures import _compiled, _evaluate, _gradients
    p = get_problem(name)
    dom = p.domain_array
    pts = dom[:, 0] + (dom[:, 1] - dom[:, 0]) * np.random.default_rng(2).random((9, p.dim))
    f, g = zip(*(_f64(p.fn, x) for x in pts))
    np.testing.assert_allclose(_evaluate(p, pts), f, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_gradients(p, pts), g, rtol=1e-12, atol=1e-12)
    assert _compiled(p.own_objective, "f") is _compiled(get_problem(name).own_objective, "f")
    assert _compiled(p.own_objective, "grad") is not _compiled(p.own_objective, "f")


@pytest.mark.parametrize("function", [1, 15, 21])
def test_the_figures_of_a_suites_instances_share_one_program_with_each_instances_numbers(function):
    """bbob's instances of one function are one family (params an input): the figures compile its f
    once, and each instance's values and gradients are its own."""
    from gdlab.core.suites import bbob_problem
    from gdlab.report.figures import _compiled, _evaluate, _gradients
    instances = [bbob_problem(function, inst, 2) for inst in (1, 2, 3)]
    pts = np.random.default_rng(3).uniform(-5, 5, (9, 2))
    for p in instances:
        f, g = zip(*(_f64(p.fn, x) for x in pts))
        np.testing.assert_allclose(_evaluate(p, pts), f, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_gradients(p, pts), g, rtol=1e-9, atol=1e-9)
    assert len({id(_compiled(p.own_objective, "f")) for p in instances}) == 1
    assert len({float(_evaluate(p, pts[:1])[0]) for p in instances}) == 3


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_a_points_values_come_from_one_program_equal_to_the_problems_own(name):
    """``gdlab point`` (point_info) evaluates f, ∇f, the Hessian and the point's type as one compiled
    program: the numbers of f, jax.grad and jax.hessian at the point alone (float64), the type the
    batched classification's, and one compilation for every point of the problem."""
    from gdlab.core.points import _at_point, classify_points, point_info
    p = get_problem(name)
    dom = p.domain_array
    pts = dom[:, 0] + (dom[:, 1] - dom[:, 0]) * np.random.default_rng(4).random((3, p.dim))
    for x in (*pts, *p.minima_array[:1]):
        info = point_info(p, x)
        f, g = _f64(p.fn, x)
        with jax.enable_x64(True):
            h = np.asarray(jax.hessian(p.fn)(jnp.asarray(x, jnp.float64)))
        np.testing.assert_allclose(info.f, f, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(info.grad, g, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(info.hessian, h.reshape(p.dim, p.dim), rtol=1e-12, atol=1e-12)
        assert info.point_type == classify_points(p, x[None], "float64", 1e-6)[0]
    assert _at_point(p.own_objective, p.own_objective.fn)._cache_size() == 1    # one program, every point


def test_a_points_numbers_are_its_functions_own_after_its_module_is_reloaded(tmp_path, monkeypatch):
    """A `_target_` problem names its function by module and name: the same name after the module is
    reloaded with another function is another function, and ``gdlab point`` evaluates the new one
    (a compiled program is cached by the objective and its function)."""
    import importlib
    import sys

    import gdlab
    module = tmp_path / "reloaded_objective.py"
    module.write_text("import jax.numpy as jnp\ndef f(x):\n    return jnp.sum(x ** 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = {"name": "mine", "_target_": "reloaded_objective.f", "dim": 2, "domain": [[-1, 1], [-1, 1]]}
    assert gdlab.inspect_point(entry, [1.0, 2.0]).f == 5.0
    module.write_text("import jax.numpy as jnp\ndef f(x):\n    return -jnp.sum(x ** 3)\n")
    importlib.invalidate_caches()
    importlib.reload(sys.modules["reloaded_objective"])
    info = gdlab.inspect_point({**entry, "domain": [[-2, 2], [-2, 2]]}, [1.0, 2.0])
    assert (info.f, info.grad.tolist()) == (-9.0, [-3.0, -12.0])
    monkeypatch.delitem(sys.modules, "reloaded_objective")


def test_an_expressions_point_is_evaluated_by_one_program_however_often_it_is_asked():
    """gdlab.inspect_point on the same expression text again (a notebook's loop over points): the same
    Problem and function, so its one compiled program serves every call, with each point's numbers."""
    import gdlab
    from gdlab.core.points import _at_point
    from gdlab.runner.api import as_problem
    text = "x**2 + 3*y**2 - x*y"
    for x, y in ((1.0, 2.0), (-2.0, 0.5), (0.0, 0.0)):
        info = gdlab.inspect_point(text, [x, y])
        assert (info.f, info.grad.tolist()) == (x * x + 3 * y * y - x * y, [2 * x - y, 6 * y - x])
    p = as_problem(text)
    assert p is as_problem(text)
    assert _at_point(p.own_objective, p.own_objective.fn)._cache_size() == 1
