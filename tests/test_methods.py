"""Every method of the registry, against the loop its source writes: optax's own init/update/apply_updates
(or a plain NumPy loop for the lesson's sign_halving), 50 steps in float64, to 1e-12."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gdlab
from gdlab.core.methods import METHODS
from gdlab.engine import EngineOptions, trace_runs

STEPS = 50
PROBLEMS = {"rosenbrock": ([-1.2, 1.0], 1e-3), "ravine": ([3.0, -4.0], 0.01)}


def optax_loop(method, problem, x0, alpha, hyper):
    fn = gdlab.get_problem(problem).fn
    with jax.enable_x64(True):
        x = jnp.asarray(x0, jnp.float64)
        tx = method.build(alpha, **hyper)
        state = tx.init(x)
        xs = [np.asarray(x)]
        for _ in range(STEPS):
            updates, state = tx.update(jax.grad(fn)(x), state, x)
            x = optax.apply_updates(x, updates)
            xs.append(np.asarray(x))
    return np.array(xs)


def sign_halving_loop(problem, x0, alpha):
    fn = gdlab.get_problem(problem).fn
    x, delta, last = np.array(x0, float), np.full(len(x0), alpha), np.zeros(len(x0))
    xs = [x.copy()]
    with jax.enable_x64(True):
        for _ in range(STEPS):
            sign = np.sign(np.asarray(jax.grad(fn)(jnp.asarray(x))))
            delta = np.where(sign * last < 0, delta / 2, delta)
            x = x - delta * sign
            last = np.where(sign != 0, sign, last)
            xs.append(x.copy())
    return np.array(xs)


def hyper_values(method):
    """Values away from the defaults, inside each range, so a hyperparameter that did not reach the
    update would show."""
    out = {}
    for h in method.hyper:
        v = h.default * 0.7 if h.default else 0.05
        out[h.name] = min(v, h.high * 0.95) if np.isfinite(h.high) else v
    return out


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_gives_its_sources_iterates(name, problem):
    method = METHODS[name]
    x0, alpha = PROBLEMS[problem]
    hyper = hyper_values(method)
    want = sign_halving_loop(problem, x0, alpha) if name == "sign_halving" else \
        optax_loop(method, problem, x0, alpha, hyper)
    [(xs, _)] = trace_runs(gdlab.get_problem(problem), name, [x0], {"alpha": alpha, **hyper}, [STEPS], (),
                           EngineOptions(max_iter=STEPS, dtype="float64"))
    np.testing.assert_allclose(xs, want, rtol=0, atol=1e-12)
    assert np.abs(want[-1] - want[0]).max() > 1e-5        # the method moved: the comparison says something


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_sweeps_its_hyperparameters_with_one_compilation(name):
    """Two values of each hyperparameter (alpha included): one kernel, and a column each."""
    method = METHODS[name]
    grid = {h.name: [h.default, hyper_values(method)[h.name]] for h in method.hyper}
    before = gdlab.engine.kernel_cache_size()
    r = gdlab.sweep({"problems": ["ravine"], "method": [{"name": name, **grid}], "alpha": [1e-3, 2e-3],
                     "starts": {"kind": "points", "points": [[3.0, -4.0]]}, "criterion": ["grad"], "epsilon": [1e-9],
                     "max_iter": 20, "dtype": "float64", "traces": 0})
    assert gdlab.engine.kernel_cache_size() - before == 1
    assert len(r.runs) == 2 ** (1 + len(method.hyper))
    for h in method.hyper:
        assert sorted(set(r.runs[h.name])) == sorted(set(grid[h.name]))


def test_the_config_docs_list_every_method_with_its_hyperparameters():
    from pathlib import Path
    page = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    section = page.split("## Methods", 1)[1].split("\n## ", 1)[0]
    for name, method in METHODS.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        for h in method.hyper:
            assert f"`{h.name}` = {h.default:g}, {h.range}" in row, (name, h.name)
