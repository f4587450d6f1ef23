"""The expression parser: refuses each hostile form by name, accepts and differentiates each allowed one."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab.core.errors import ExpressionError
from gdlab.core.expressions import FUNCTIONS, inline_problem, parse_expression

HOSTILE = [
    ("__import__('os').system('ls')", "not allowed"),
    ("().__class__.__bases__", "Attribute"),
    ("lambda: 0", "Lambda"),
    ("9**9**9", "nested exponent"),
    ("(" * 10_000 + "x" + ")" * 10_000, "characters long"),
    ("(" * 100 + "x" + ")" * 100, "brackets deep"),
    ("foo + x", "unknown name 'foo'"),
    ("x.real", "Attribute"),
    ("[x for x in y]", "ListComp"),
    ("'a' + x", "only numbers"),
    ("open('f')", "call 'open' is not allowed"),
    ("sin(x, y)", "exactly one positional argument"),
    ("exp(x=1)", "exactly one positional argument"),
    ("x**100", "too large"),
    ("x if y else z", "IfExp"),
    ("x == y", "Compare"),
    ("x @ y", "operator"),
    ("x // y", "operator"),
    ("~x", "operator"),
    ("x; y", "cannot parse"),
    ("x + x1", "not both"),
    ("x + y1", "unknown name .y1."),
    ("True + x", "only numbers"),
    ("1e999 * x", "out of range"),
    ("1j * x", "only numbers"),
]


@pytest.mark.parametrize("text, piece", HOSTILE)
def test_hostile_expressions_are_refused_by_name(text, piece):
    with pytest.raises(ExpressionError, match=piece if not piece.startswith("(") else None):
        parse_expression(text)


ALLOWED = [
    ("(x - 1)**2 + 10*(y + 2)**2", (0.5, 0.25), lambda x, y: (2 * (x - 1), 20 * (y + 2))),
    ("x**2*sin(x)", (2.5,), lambda x: (2 * x * math.sin(x) + x * x * math.cos(x),)),
    ("sqrt(x**2 + y**2) - exp(-x) + log(1 + y**2)", (0.3, 0.7),
     lambda x, y: (x / math.hypot(x, y) + math.exp(-x), y / math.hypot(x, y) + 2 * y / (1 + y * y))),
    ("sigmoid(x1) + tanh(x2) * x3 - abs(x1) / 2", (0.2, -0.4, 1.5),
     lambda a, b, c: (math.exp(-a) / (1 + math.exp(-a)) ** 2 - 0.5, c / math.cosh(b) ** 2, math.tanh(b))),
    ("-x**-2 + pi*cos(y) + e", (1.5, 0.1), lambda x, y: (2 * x ** -3, -math.pi * math.sin(y))),
]


@pytest.mark.parametrize("text, point, grad", ALLOWED)
def test_allowed_expressions_parse_and_differentiate(text, point, grad):
    fn, dim = parse_expression(text)
    assert dim == len(point)
    with jax.enable_x64(True):
        g = np.asarray(jax.grad(fn)(jnp.asarray(point, jnp.float64)))
    np.testing.assert_allclose(g, grad(*point), rtol=1e-12)


@pytest.mark.parametrize("text", ["7", "x1 + 2", "sin(x) * y**2 + exp(-z)", "abs(x2) - x1"])
def test_expressions_take_coordinate_first_blocks(text):
    """The engine evaluates an expression on (d, n) blocks of points: each column is that point's value
    (a constant expression too)."""
    fn, dim = parse_expression(text, 3)
    pts = np.random.default_rng(0).normal(size=(5, 3))
    with jax.enable_x64(True):
        block = np.asarray(fn(jnp.asarray(pts.T)))
        one = np.array([float(fn(jnp.asarray(p))) for p in pts])
    assert block.shape == (5,)
    np.testing.assert_allclose(block, one, rtol=1e-14)


def test_inline_problem_computes_f_min_and_checks_shapes():
    p = inline_problem({"name": "b", "expr": "(x-1)**2 + y**2 + 3", "domain": [[-2, 2]], "minima": [[1, 0]]})
    assert p.dim == 2 and p.f_min == (3.0,) and p.domain == ((-2.0, 2.0), (-2.0, 2.0))
    with pytest.raises(ValueError, match="dimension"):
        inline_problem({"name": "c", "expr": "x + y", "domain": [[-1, 1]], "minima": [[1, 0, 0]]})
    with pytest.raises(ValueError, match="exactly one of expr or _target_"):
        inline_problem({"name": "d", "domain": [[-1, 1]]})


def bowl(x):
    """A callable for the _target_ test."""
    return jnp.sum((x - 2.0) ** 2)


def test_target_problem():
    p = inline_problem({"name": "t", "_target_": "tests.test_expr.bowl", "dim": 3, "domain": [[-5, 5]],
                        "minima": [[2, 2, 2]]})
    assert p.f_min == (0.0,) and p.dim == 3
    assert not p.vectorized   # a Python callable may sum over all axes: the engine vmaps it
    assert inline_problem({"name": "e", "expr": "x**2", "domain": [[-1, 1]]}).vectorized


names = st.sampled_from(["x", "y", "z", "x1", "pi", "e", "foo", "__import__", "os", "open", "lambda"]
                        + sorted(FUNCTIONS))
atoms = st.one_of(names, st.integers(-1000, 1000).map(str), st.floats(-1e3, 1e3, allow_nan=False).map(repr),
                  st.sampled_from(["'s'", "[]", "()", "{}", "...", "None", "True"]))
ops = st.sampled_from([" + ", " - ", " * ", " / ", " ** ", " // ", " % ", ".", ", ", " and ", " if ", "==", "@", ";"])


@st.composite
def expressions(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(atoms)
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(expressions(depth + 1)) + draw(ops) + draw(expressions(depth + 1))
    if kind == 1:
        return "(" + draw(expressions(depth + 1)) + ")"
    if kind == 2:
        return draw(names) + "(" + draw(expressions(depth + 1)) + ")"
    return "-" + draw(expressions(depth + 1))


@settings(max_examples=400, deadline=None)
@given(expressions())
def test_random_expressions_never_crash_or_escape(text):
    """Whatever comes in: refused with ExpressionError, or a function built only from allowed pieces."""
    import builtins
    calls = []
    original = builtins.__import__

    def spy(name, *a, **k):
        calls.append(name)
        return original(name, *a, **k)

    builtins.__import__ = spy
    try:
        fn, dim = parse_expression(text)
    except ExpressionError:
        return
    finally:
        builtins.__import__ = original
    assert "os" not in calls and "subprocess" not in calls
    value = fn(jnp.ones(max(dim, 1)) * 0.5)   # evaluating may give nan/inf, never run anything else
    assert jnp.shape(value) == ()
