"""Inline problems: an expression string parsed by an allow-list into a JAX function.

No ``eval``, ``exec`` or sympify: the string is parsed with :mod:`ast` and
only these nodes are accepted — numbers, the declared variables (x, y, z or
x1 … xn) and the constants pi and e, ``+ - * / **``, unary minus and plus,
and calls of the functions in :data:`FUNCTIONS` with positional arguments.
Anything else is refused with the offending piece named. Sizes are bounded
before parsing (length, nesting) and exponents are bounded while checking.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .errors import ExpressionError, ProblemError
from .inputs import float_array, is_finite, whole_number
from .precision import x64
from .problems import MAX_DIM, Identity, Problem, checked_dim, computation_sha256, domain_pairs

__all__ = ["FUNCTIONS", "ExpressionError", "parse_expression", "is_variable", "inline_problem", "penalised", "import_target",
           "function_fingerprint", "fingerprinted", "functions_record", "changed_functions", "listed_by_config"]

FUNCTIONS: dict[str, Callable] = {
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "arcsin": jnp.arcsin, "arccos": jnp.arccos,
    "arctan": jnp.arctan, "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh, "exp": jnp.exp,
    "log": jnp.log, "log10": jnp.log10, "log1p": jnp.log1p, "sqrt": jnp.sqrt, "abs": jnp.abs,
    "sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_LENGTH = 5000
MAX_DEPTH = 40
MAX_EXPONENT = 64.0
MAX_NUMBER = 1e30
_XYZ = ("x", "y", "z")
_XN = re.compile(r"^x([1-9][0-9]*)$")


def is_variable(name: str) -> bool:
    """Whether ``name`` is one of an expression's variables: x, y, z, x1 … xn."""
    return name in _XYZ or bool(_XN.match(name))


def _variables(names: set[str]) -> dict[str, int]:
    """Map the variable names used to coordinates: x, y, z or x1 … xn (not both)."""
    xyz = names & set(_XYZ)
    xn = {n for n in names if _XN.match(n)}
    if xyz and xn:
        raise ExpressionError(f"use either x, y, z or x1 … xn, not both (found {sorted(xyz | xn)})")
    if xn:
        return {n: int(_XN.match(n).group(1)) - 1 for n in xn}
    return {n: _XYZ.index(n) for n in xyz}


def _piece(node: ast.AST, text: str) -> str:
    seg = ast.get_source_segment(text, node)
    return repr(seg if seg is not None else type(node).__name__)


def _check(node: ast.AST, text: str, depth: int = 0) -> None:
    """Walk the tree; raise on anything off the allow-list."""
    if depth > MAX_DEPTH:
        raise ExpressionError(f"expression nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Expression):
        return _check(node.body, text, depth + 1)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"only numbers are allowed as constants, not {_piece(node, text)}")
        if abs(node.value) > MAX_NUMBER or not math.isfinite(node.value):     # an int of 400 digits too
            raise ExpressionError(f"number {_piece(node, text)} is out of range (|n| ≤ {MAX_NUMBER:g})")
        return None
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS or is_variable(node.id):
            return None
        raise ExpressionError(f"unknown name {node.id!r}: variables are x, y, z or x1 … xn; "
                              f"constants pi, e; functions {', '.join(sorted(FUNCTIONS))}")
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator in {_piece(node, text)} is not allowed (only unary - and +)")
        return _check(node.operand, text, depth + 1)
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            raise ExpressionError(f"operator in {_piece(node, text)} is not allowed (only + - * / **)")
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right, text)
        _check(node.left, text, depth + 1)
        return _check(node.right, text, depth + 1)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"call {_piece(node.func, text)} is not allowed; "
                                  f"functions: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or len(node.args) != 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"{node.func.id}() takes exactly one positional argument: {_piece(node, text)}")
        return _check(node.args[0], text, depth + 1)
    raise ExpressionError(f"{type(node).__name__} {_piece(node, text)} is not allowed "
                          "(numbers, variables, + - * / **, and the listed functions only)")


def _check_exponent(node: ast.AST, text: str) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Pow):
            raise ExpressionError(f"nested exponent {_piece(node, text)} is not allowed")
    value = _constant_value(node)
    if value is not None and abs(value) > MAX_EXPONENT:
        raise ExpressionError(f"exponent {_piece(node, text)} is too large (|p| ≤ {MAX_EXPONENT:g})")


def _constant_value(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant_value(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    return None


_BINOPS = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply, ast.Div: jnp.divide}


def _compile(node: ast.AST, coords: Mapping[str, int]) -> Callable:
    """The checked tree as a closure x -> value, built from the same node types _check allowed."""
    if isinstance(node, ast.Expression):
        return _compile(node.body, coords)
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return lambda x: value
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            value = CONSTANTS[node.id]
            return lambda x: value
        i = coords[node.id]
        return lambda x: x[i]
    if isinstance(node, ast.UnaryOp):
        inner = _compile(node.operand, coords)
        return (lambda x: -inner(x)) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left, coords), _compile(node.right, coords)
        if isinstance(node.op, ast.Pow):
            p = _constant_value(node.right)
            if p is not None and p.is_integer():
                n = int(p)
                return lambda x: jax.lax.integer_pow(jnp.asarray(left(x)), n)
            return lambda x: jnp.power(left(x), right(x))
        op = _BINOPS[type(node.op)]
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.Call):
        fn, arg = FUNCTIONS[node.func.id], _compile(node.args[0], coords)
        return lambda x: fn(arg(x))
    raise ExpressionError(f"{type(node).__name__} is not allowed")   # unreachable after _check


def parse_expression(text: str, dim: int | None = None) -> tuple[Callable, int]:
    """Parse ``text`` into ``(fn, dim)`` where fn maps x of shape (dim,) to a scalar, and
    coordinate-first x of shape (dim, n) to the n values (the engine's vectorized form). The same
    text gives the same function object, whatever the dim: compiled programs are shared by it."""
    fn, need, used = _parsed(text) if isinstance(text, str) else _parse(text)
    given, dim = dim, need if dim is None else whole_number(dim)
    if dim is None:
        raise ExpressionError(f"dim must be a whole number, got {given!r:.80}")
    if dim < max(need, 1):
        raise ExpressionError(f"expression uses {list(used)} but dim is {dim}")
    return fn, dim


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> tuple[Callable, int, tuple[str, ...]]:
    return _parse(text)


def _parse(text: str) -> tuple[Callable, int, tuple[str, ...]]:
    """(fn, the dimension the text needs: its largest variable's, the variables it uses)."""
    if not isinstance(text, str):
        raise ExpressionError(f"expr must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long (at most {MAX_LENGTH})")
    depth = max_depth = 0
    for ch in text:   # bounded before the parser sees it: Python's own parser fails on deep nesting
        depth += ch in "([{"
        depth -= ch in ")]}"
        max_depth = max(max_depth, depth)
    if max_depth > MAX_DEPTH:
        raise ExpressionError(f"expression nests {max_depth} brackets deep (at most {MAX_DEPTH})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):       # thousands of unary minus signs: Python's parser gives up
        raise ExpressionError(f"expression nests deeper than {MAX_DEPTH} levels") from None
    _check(tree, text.strip())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in CONSTANTS}
    coords = _variables(names)
    need = max(coords.values(), default=-1) + 1
    if need > MAX_DIM:
        raise ExpressionError(f"expression uses x{need}: at most {MAX_DIM:,} variables (x1 … x{MAX_DIM})")
    body = _compile(tree, coords)

    def fn(x):
        return jnp.broadcast_to(jnp.asarray(body(x), dtype=x.dtype), x.shape[1:])

    return fn, need, tuple(sorted(coords))


_CACHE: dict[tuple[str, Identity | None], Problem] = {}
_CACHE_SIZE = 256       # inline problems kept (a sweep's are few; a long notebook session's are bounded)


def _plain(value):
    """A value JSON does not know, as a key: an array's every number (``str`` of a NumPy array rounds
    to 8 digits and leaves out the middle of a long one), else its text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def penalised(fn: Callable, dim: int, constraints: Mapping, name: str) -> tuple[Callable, str]:
    """f plus a quadratic penalty: f(x) + μ·(Σ h_i(x)² + Σ max(0, g_j(x))²).

    ``constraints`` is ``{eq: [h_i, …], ineq: [g_j, …], penalty: μ}``: expressions
    in the same variables as f, with h_i(x) = 0 and g_j(x) ≤ 0 wanted. As μ
    grows the minimiser of the penalised function tends to the constrained
    one (the Lagrange point), at a distance of order 1/μ; ``2μ·h_i(x)`` tends to
    the Lagrange multiplier of h_i.
    """
    if not isinstance(constraints, Mapping):
        raise ProblemError(f"problem {name!r}: constraints must be a mapping {{eq: [...], ineq: [...], penalty: μ}}")
    unknown = set(constraints) - {"eq", "ineq", "penalty"}
    if unknown:
        raise ProblemError(f"problem {name!r}: unknown constraint keys {sorted(unknown)} (allowed: eq, ineq, penalty)")
    mu = constraints.get("penalty")
    if not (isinstance(mu, (int, float)) and is_finite(mu) and mu > 0):
        raise ProblemError(f"problem {name!r}: constraints.penalty must be a number > 0 (the weight μ), got {mu!r}")
    parts = {}
    for kind in ("eq", "ineq"):
        texts = constraints.get(kind) or []
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise ProblemError(f"problem {name!r}: constraints.{kind} must be a list of expressions, got {texts!r}")
        fns = []
        for text in texts:
            try:
                fns.append(parse_expression(text, dim)[0])
            except ExpressionError as exc:
                raise ProblemError(f"problem {name!r}: constraints.{kind}: {exc}") from None
        parts[kind] = fns
    if not parts["eq"] and not parts["ineq"]:
        raise ProblemError(f"problem {name!r}: constraints has no eq or ineq expression")
    eq, ineq, mu = parts["eq"], parts["ineq"], float(mu)
    what = [f"{t} = 0" for t in constraints.get("eq") or []] + [f"{t} ≤ 0" for t in constraints.get("ineq") or []]
    doc = f"subject to {', '.join(what)} by a quadratic penalty μ = {mu:g}"
    # one penalised function a (function, constraints): the same problem under another name or domain
    # shares its compiled kernels (an objective is its key and its function)
    return _penalty(Identity(fn), tuple(map(Identity, eq)), tuple(map(Identity, ineq)), mu), doc


@functools.lru_cache(maxsize=256)
def _penalty(fn: Identity, eq: tuple[Identity, ...], ineq: tuple[Identity, ...], mu: float) -> Callable:
    def fn_penalised(x):
        total = fn.obj(x)
        for h in eq:
            total = total + mu * h.obj(x) ** 2
        for g in ineq:
            total = total + mu * jnp.maximum(g.obj(x), 0.0) ** 2
        return total
    return fn_penalised


def inline_problem(entry: Mapping) -> Problem:
    """``{name, expr | _target_, domain, minima?, f_min?, dim?, constraints?}`` → Problem
    (cached: same entry, same object). ``constraints`` adds a quadratic penalty (:func:`penalised`)."""
    key = json.dumps(entry, sort_keys=True, default=_plain)
    # a _target_ is the function its path names now: a module reloaded, or a notebook's function defined
    # again under the same name, is another function, with its own Problem and compiled kernels
    try:
        target = import_target(entry["_target_"]) if "_target_" in entry and "expr" not in entry else None
    except ProblemError:     # said below, after the entry's other checks
        target = None
    same = None if target is None else Identity(target)
    whole = whole_number(entry.get("dim"))
    if same is not None and whole is not None and 1 <= whole <= MAX_DIM:
        # and what it computes now (a fresh trace, about 1 ms): a global it reads, or an array it closes
        # over, changed since is another function, with its own kernels, as descend's plain functions are
        same = (same, computation_sha256(target, whole))
    key = (key, same)
    if key in _CACHE:
        return _CACHE[key]
    allowed = {"name", "expr", "_target_", "domain", "minima", "f_min", "dim", "constraints"}
    unknown = set(entry) - allowed
    if unknown:
        raise ProblemError(f"unknown keys {sorted(unknown)} in an inline problem (allowed: {sorted(allowed)})")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ProblemError("an inline problem needs a name")
    if ("expr" in entry) == ("_target_" in entry):
        raise ProblemError(f"problem {name!r}: give exactly one of expr or _target_")
    if "expr" in entry:
        fn, dim = parse_expression(entry["expr"], None if entry.get("dim") is None else checked_dim(entry["dim"], name))
        doc = f"inline expression {entry['expr']}"
    else:
        fn = target if target is not None else import_target(entry["_target_"], name)
        if entry.get("dim") is None:
            raise ProblemError(f"problem {name!r}: a _target_ problem needs dim")
        dim = checked_dim(entry["dim"], name)
        doc = f"Python callable {entry['_target_']}"
    if entry.get("constraints") is not None:
        fn, more = penalised(fn, dim, entry["constraints"], name)
        doc = f"{doc}, {more}"
    domain = entry.get("domain")
    if domain is None:
        raise ProblemError(f"problem {name!r}: needs a domain, e.g. [[-5, 5], [-5, 5]]")
    try:
        dom = domain_pairs(domain, dim)
    except ProblemError as exc:
        raise ProblemError(f"problem {name!r}: {exc}") from None
    minima = [list(np.atleast_1d(float_array(m, f"problem {name!r}: minima must be points of numbers", ProblemError)))
              for m in (entry.get("minima") or [])]
    for m in minima:
        if len(m) != dim:
            raise ProblemError(f"problem {name!r}: minimum {m} is not of dimension {dim}")
    if entry.get("f_min") is not None:
        f_min = float_array(entry["f_min"], f"problem {name!r}: f_min must be a list of numbers",
                            ProblemError).reshape(-1).tolist()
    else:
        try:
            with x64(True):
                f_min = [float(fn(jnp.asarray(m, jnp.float64))) for m in minima]
        except Exception as exc:     # a function written for float32 alone, say: the user's code, not gdlab's
            raise ProblemError(f"problem {name!r}: f could not be evaluated at its minima in float64 to give "
                               f"f_min ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}): give f_min with "
                               "the minima (f_min: [value, ...], one value per minimum), or make f work in float64 "
                               "too") from None
    # the function's identity, by value: what it computes, not the name or domain it is shown under (a
    # _target_'s path and the function it names now, as the text names an expression's function)
    ident = ("expr", entry["expr"]) if "expr" in entry else ("target", entry["_target_"])
    ident += (dim, json.dumps(entry.get("constraints"), sort_keys=True, default=str), same)
    prob = Problem(name=name, fn=fn, dim=dim, domain=tuple(tuple(map(float, ax)) for ax in dom),
                   minima=tuple(map(tuple, minima)), f_min=tuple(f_min), doc=doc, vectorized="expr" in entry,
                   key=ident)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = prob
    return prob


def listed_by_config(problem) -> bool:
    """Whether a problem's function and minima are its config's own: an expression or a ``_target_``
    without constraints (its key, as :func:`inline_problem` makes it: kind, text or path, dim, the
    constraints as JSON, …). Such minima are checked (:func:`gdlab.core.points.listed_minima_doubts`);
    the registry's and the suites' are tested, and a penalised function's minimiser lies about 1/μ
    from the constrained minimum its config lists."""
    key = getattr(problem, "key", None)
    return isinstance(key, tuple) and len(key) > 3 and key[0] in ("expr", "target") and key[3] == json.dumps(None)


#: how :func:`function_fingerprint` is taken: fingerprints of another form (or JAX version) are not compared
FINGERPRINT_FORM = "jaxpr-x64"


def function_fingerprint(problem) -> str | None:
    """What a ``_target_`` (or CUTEst) problem's function computes now (:func:`computation_sha256`): the
    path a ``_target_`` names says nothing of the code behind it, which its author may change between
    two runs of the same config. None for other problems (:func:`fingerprinted`) and where tracing fails."""
    if fingerprinted(problem) is None:
        return None
    return computation_sha256(problem.fn, problem.dim)


def fingerprinted(problem) -> str | None:
    """The code a problem names but a config does not hold, in words, where its function is
    fingerprinted (:func:`function_fingerprint`): a ``_target_``'s path, a CUTEst problem's
    sif2jax class (sif2jax upgraded may define it anew). None for the others: a registry name
    (gdlab's own code, its version in the manifest) and an expression (its text is its function)."""
    key = getattr(problem, "key", None)
    if isinstance(key, tuple) and key and key[0] == "target":
        return str(key[1])
    if isinstance(key, tuple) and key and key[0] == "cutest":
        return f"sif2jax's {key[1]}"
    return None


def functions_record(problems) -> dict:
    """What a sweep folder's part records keep of its problems' functions, beside the part's rows:
    ``{"functions": {"jax": version, "form": FINGERPRINT_FORM, "sha256": {problem: fingerprint}}}``
    for the ``_target_`` and CUTEst
    problems (:func:`function_fingerprint`), or nothing where there are none."""
    prints = {p.name: fp for p in problems if (fp := function_fingerprint(p)) is not None}
    return {"functions": {"jax": jax.__version__, "form": FINGERPRINT_FORM, "sha256": prints}} if prints else {}


def changed_functions(records: Mapping[int, Mapping], now: Mapping) -> tuple[dict[str, int], set[str]]:
    """``now`` (:func:`functions_record` of the problems as they are) against the part ``records``:
    (problem → how many parts were computed with another function, the problems whose parts' JAX was
    another version, which traces a function in its own words, or whose fingerprints are of another
    form, so that no comparison can be made)."""
    mine = now.get("functions", {})
    changed: dict[str, int] = {}
    unknown: set[str] = set()
    for record in records.values():
        was = record.get("functions")
        if not isinstance(was, Mapping) or not isinstance(was.get("sha256"), Mapping):
            continue           # a part of a sweep without _target_ problems, or from before they were kept
        for name, sha in was["sha256"].items():
            if name not in mine.get("sha256", {}):
                continue
            if (was.get("jax"), was.get("form")) != (mine.get("jax"), mine.get("form")):
                unknown.add(name)
            elif sha != mine["sha256"][name]:
                changed[name] = changed.get(name, 0) + 1
    return changed, unknown


def import_target(path, name: str = "") -> Callable:
    """The function a dotted path ``package.module.function`` names (a ``_target_``)."""
    import importlib
    what = f"problem {name!r}: " if name else ""
    if not isinstance(path, str) or "." not in path:
        raise ProblemError(f"{what}_target_ must be a dotted path module.function, got {path!r}")
    module, _, attr = path.rpartition(".")
    try:
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # a module in the working folder, as `python -m` finds one (a console script's path has no '')
            here = os.getcwd()
            if here in sys.path or exc.name != module.split(".")[0]:
                raise
            sys.path.append(here)
            found = importlib.import_module(module)
        fn = getattr(found, attr)
    except (ImportError, AttributeError) as exc:
        raise ProblemError(f"{what}cannot import _target_ {path!r}: {exc} (is its module on the Python path? "
                           "gdlab looks in the working folder too; set PYTHONPATH for others)") from None
    if not callable(fn):
        raise ProblemError(f"{what}_target_ {path!r} is not a function")
    return fn
