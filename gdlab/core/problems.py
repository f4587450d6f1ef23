"""Built-in problems: the functions of the lessons and the classic test functions.

A :class:`Problem` is f: R^d -> R written in JAX on one point ``x`` of shape
``(d,)``, with the box its starts are drawn from and the minima known for it.
The built-in functions are also written coordinate-first: given ``x`` of shape
``(d, n)`` they return the ``n`` values at once (index ``x[i]``, reduce over
``axis=0``), which the engine evaluates directly on its lanes
(``vectorized=True``); a problem without that form is vmapped.

The registry :data:`PROBLEMS` maps a name to a :class:`ProblemEntry`, filled by
``@problem(name, dim)`` on a function ``d -> Definition``; :func:`get_problem`
is the one way in for a name.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._lazy import lazy_module
from .errors import InputError, ProblemError
from .inputs import float_array, whole_number
from .names import count
from .precision import x64
from .registry import Registry
from .settings import MAX_NAME

jax = lazy_module("jax")            # imported when a problem is first evaluated: `gdlab list problems` needs none
jnp = lazy_module("jax.numpy")

__all__ = ["Problem", "Objective", "Parametric", "branched", "cast_params", "column_value_and_grad", "ProblemEntry", "Definition", "PROBLEMS", "problem", "get_problem",
           "problem_names", "domain_pairs", "function_problem", "cos_2pi", "sin_2pi", "regression_data",
           "logistic_data"]


# --- cos 2πx and sin 2πx, vectorisable ----------------------------------------------
# XLA's CPU backend calls a scalar routine for sin and cos (about 7 ns an element,
# against 0.25 ns for a multiply-add), which made them most of a Rastrigin step.
# With the argument in turns the reduction is exact: r = x − round(x) and
# t = r − q/4 (q = round(4r)) lose no bits, so what is left is one rounding of
# θ = 2πt ∈ [−π/4, π/4] and two short polynomials (Cephes' sinf and cosf), all
# elementwise. In float32 this is more accurate than jnp.cos(2π·x), whose
# argument 2π·x is rounded before the cosine (an error of about |x|·5e-7).
# float64 keeps jnp.cos and jnp.sin, so float64 numbers are those of the formula.

def _sincos_2pi_f32(x):
    r = x - jnp.round(x)
    q = jnp.round(4 * r)
    t = (r - 0.25 * q) * np.float32(2 * np.pi)
    t2 = t * t
    s = t + t * t2 * (-1.6666654611e-1 + t2 * (8.3321608736e-3 + t2 * -1.9515295891e-4))
    c = 1 - 0.5 * t2 + t2 * t2 * (4.166664568298827e-2 + t2 * (-1.388731625493765e-3 + t2 * 2.443315711809948e-5))
    q = q.astype(jnp.int32) & 3                      # the quarter turn: cos(θ + qπ/2), sin(θ + qπ/2)
    odd = (q & 1) == 1
    cos = jnp.where(odd, s, c) * jnp.where(((q + 1) & 2) != 0, -1, 1).astype(x.dtype)
    sin = jnp.where(odd, c, s) * jnp.where((q & 2) != 0, -1, 1).astype(x.dtype)
    return sin, cos


def _sincos_2pi_f32_jvp(primals, tangents):
    sin, cos = _sincos_2pi_f32_with_jvp()(primals[0])
    return (sin, cos), (np.float32(2 * np.pi) * cos * tangents[0], np.float32(-2 * np.pi) * sin * tangents[0])


@functools.cache
def _sincos_2pi_f32_with_jvp():
    """x → (sin 2πx, cos 2πx) in float32, with its derivative; made once, when first used (a
    jax.custom_jvp at import would import JAX with the registry)."""
    fn = jax.custom_jvp(_sincos_2pi_f32)
    fn.defjvp(_sincos_2pi_f32_jvp)
    return fn


def cos_2pi(x):
    """cos(2πx), elementwise; in float32 by an exact reduction in turns and polynomials."""
    x = jnp.asarray(x)
    return _sincos_2pi_f32_with_jvp()(x)[1] if x.dtype == jnp.float32 else jnp.cos(2 * jnp.pi * x)


def sin_2pi(x):
    """sin(2πx), elementwise; in float32 by an exact reduction in turns and polynomials."""
    x = jnp.asarray(x)
    return _sincos_2pi_f32_with_jvp()(x)[0] if x.dtype == jnp.float32 else jnp.sin(2 * jnp.pi * x)


def _sum_rows(v):
    """Σ over the coordinates (axis 0). On a coordinate-first block (d, n), as the engine evaluates
    it, a chain of row additions, in order: XLA's CPU backend fuses these into the step's loops,
    where a reduce over the coordinates becomes a call of its own (YNNPACK), which made a bare
    Rastrigin step 1.4–1.8× slower at 2 to 10 dimensions. On one point (d,), a reduce, which a
    vmap over points batches into a reduce along the contiguous axis (the row additions there
    read strided columns: a vmapped Rastrigin 10-D descent went 3× slower)."""
    if v.ndim == 1 or v.shape[0] > 64:     # many coordinates: one reduce, not a chain the compiler unrolls
        return jnp.sum(v, axis=0)
    out = v[0]
    for i in range(1, v.shape[0]):
        out = out + v[i]
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Objective:
    """What the engine compiles of a problem: its function, dimension and form. Equal objectives
    (the same ``key``: a registry name and dimension, an expression's text, a user function's
    identity, a family's key; and the same function object) share compiled kernels, whatever
    Problem they came from. The function is compared too: a problem registered again under its
    name, or a Problem copied with another ``fn`` and its key, is another objective (the makers of
    problems hand out one function object per key: the registry's, the expressions', the suites').

    ``parametric``: ``fn`` is ``fn(x, params)``, one function for a family of problems that differ
    only in their numbers (:class:`Parametric`); the kernel takes each problem's ``params`` as an
    input, so the family compiles once."""

    key: Hashable
    fn: Callable = dataclasses.field(compare=False, repr=False)
    dim: int = 1
    vectorized: bool = False
    parametric: bool = False

    def _same(self):
        return self.key, self.dim, self.vectorized, self.parametric

    def __eq__(self, other):
        return isinstance(other, Objective) and other._same() == self._same() and other.fn is self.fn

    def __hash__(self):
        return hash((*self._same(), id(self.fn)))      # (it holds fn: the id is no other's meanwhile)

    def bind(self, params) -> Callable:
        """x → f(x): ``fn`` itself, or a parametric ``fn`` with these ``params``."""
        if not self.parametric:
            return self.fn
        fn = self.fn
        return lambda x: fn(x, params)


def cast_params(params, dtype):
    """Params (:class:`Parametric`) as a kernel of this dtype takes them: numpy arrays, the floating
    ones in ``dtype``, integers as they are."""
    def cast(a):
        a = np.asarray(a)
        return a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a
    return jax.tree.map(cast, params)


def column_value_and_grad(fn: Callable) -> Callable:
    """x (d, …) → (f, ∇f) of a coordinate-first ``fn`` (each value from its own column of x only),
    by one vector-Jacobian product."""
    def vg(x):
        f, vjp = jax.vjp(fn, x)
        return f, vjp(jnp.ones_like(f))[0]
    return vg


def branched(branches: Sequence[Callable], which: str = "which") -> Callable:
    """One coordinate-first ``fn(x, params)`` of several: ``params[which]`` picks the branch, and
    only that branch is evaluated (``lax.switch``). Derivatives go branch by branch: the JVP
    computes ∇f inside the switch, from the branch's own vector-Jacobian product, then ∇f·dx.
    Reverse mode through a plain switch carries every branch's intermediate values out of it at
    each evaluation (bbob's 24-function family: a sphere step on 32 lanes took 17 µs instead of
    0.3). Each value must depend on its own column of ``x`` only, as :attr:`Problem.vectorized` says."""
    branches = tuple(branches)
    vgs = [lambda x, params, b=b: column_value_and_grad(lambda x: b(x, params))(x) for b in branches]

    @jax.custom_jvp
    def fn(x, params):
        return jax.lax.switch(params[which], branches, x, params)

    @fn.defjvp
    def _jvp(primals, tangents):
        x, params = primals
        dx = tangents[0]
        f, g = jax.lax.switch(params[which], vgs, x, params)
        return f, jnp.sum(g * dx, axis=0)       # params are constants: their tangents are not used

    return fn


class Parametric(NamedTuple):
    """A problem as a member of a family that shares compiled kernels: ``fn(x, params)`` is the
    family's function and ``key`` names it; ``params`` (a mapping of arrays, the same names, shapes
    and dtypes for every member) are this problem's numbers. COCO's bbob instances of one dimension
    form a family: shift, rotations and f_opt are params, so 120 problems compile one kernel a method."""

    key: Hashable
    fn: Callable
    params: Any
    #: (key, fn(x, params)) of the problem's own formula within the family, for work done one problem
    #: at a time (the Hessians that classify end points): JAX traces derivatives through a family's
    #: branches far more slowly than through one (bbob 2-D: 24 s for the family, 10 s for its 24 formulas)
    member: tuple[Hashable, Callable] | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """One objective at one dimension.

    ``minima`` holds the known minimisers (one row each) and ``f_min`` their
    values; both are empty where no minimum is known (or none exists), and
    ``f_min`` alone holds f* where only the best value is known.
    ``smooth_minima`` is False where f is not differentiable at its minima
    (a cone tip), so ∇f(x*) is undefined there.
    ``stationary`` lists other known stationary points (saddles, maxima).
    ``vectorized`` says ``fn`` also takes ``x`` of shape ``(d, n)`` (coordinates
    first) and returns the ``n`` values, each from its own column only.
    ``key`` identifies the function by value (see :class:`Objective`); left out, it is the
    function object itself.
    ``start`` is the problem's own start point, where it has one (a suite's: CUTEst's y0), for
    ``starts: {kind: suite}``.
    ``parametric`` makes the problem a member of a family sharing compiled kernels
    (:class:`Parametric`); ``fn`` is then the family's function with this problem's params.
    """

    name: str
    fn: Callable
    dim: int
    domain: tuple[tuple[float, float], ...]
    minima: tuple[tuple[float, ...], ...] = ()
    f_min: tuple[float, ...] = ()
    smooth_minima: bool = True
    stationary: tuple[tuple[float, ...], ...] = ()
    doc: str = ""
    vectorized: bool = False
    key: Hashable = None
    start: tuple[float, ...] = ()
    parametric: Parametric | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if not (isinstance(self.name, str) and 0 < len(self.name) <= MAX_NAME):    # it names figures' files
            raise ProblemError(f"a problem's name must be text of 1 to {MAX_NAME} characters, got {self.name!r:.120}")
        object.__setattr__(self, "dim", checked_dim(self.dim, self.name))
        object.__setattr__(self, "domain", _box_of(self.domain, self.dim, self.name))
        for field in ("minima", "stationary"):     # [2.0] is one point of a 1-D problem
            object.__setattr__(self, field, _rows_of(getattr(self, field), self.dim, self.name, field))
        object.__setattr__(self, "f_min", tuple(float_array(self.f_min, f"problem {self.name!r}: f_min must be "
                                                            "numbers", ProblemError).reshape(-1).tolist()))
        if len(self.start):
            object.__setattr__(self, "start", _rows_of([self.start], self.dim, self.name, "start")[0])
        # f_min holds the value of each minimum, or with no minimum known, the one best value f* where
        # only that is known (a benchmark's listed optimum): f − f* is then known, the distance not
        if len(self.minima) != len(self.f_min) and not (not self.minima and len(self.f_min) == 1):
            raise ProblemError(f"problem {self.name!r}: {len(self.minima)} minima but {len(self.f_min)} values "
                               "(give one value per minimum, or f* alone: f_min: [value] without minima)")
        for m in self.minima:
            if len(m) != self.dim:
                raise ProblemError(f"problem {self.name!r}: minimum {m} is not of dimension {self.dim}")
        if self.start and len(self.start) != self.dim:
            raise ProblemError(f"problem {self.name!r}: start {self.start} is not of dimension {self.dim}")
        if self.key is None:
            object.__setattr__(self, "key", ("function", self.fn))

    @property
    def objective(self) -> Objective:
        if self.parametric is not None:
            return Objective(self.parametric.key, self.parametric.fn, self.dim, self.vectorized, parametric=True)
        return Objective(self.key, self.fn, self.dim, self.vectorized)

    @property
    def own_objective(self) -> Objective:
        """The objective of this problem alone: its family's member formula where it has one (the same
        params), else :attr:`objective`."""
        if self.parametric is not None and self.parametric.member is not None:
            key, fn = self.parametric.member
            return Objective(key, fn, self.dim, self.vectorized, parametric=True)
        return self.objective

    @property
    def params(self):
        """What the kernel takes of this problem besides x: its family's params, or () (none)."""
        return () if self.parametric is None else self.parametric.params

    @property
    def minima_array(self) -> np.ndarray:
        return np.asarray(self.minima, dtype=np.float64).reshape(len(self.minima), self.dim)

    @property
    def domain_array(self) -> np.ndarray:
        return np.asarray(self.domain, dtype=np.float64)

    def with_domain(self, domain: Sequence[Sequence[float]]) -> Problem:
        return dataclasses.replace(self, domain=tuple(tuple(map(float, ax)) for ax in domain))

    def __call__(self, x):
        return self.fn(jnp.asarray(x))


class Definition(NamedTuple):
    """What a registered problem's builder returns for a dimension d."""

    fn: Callable
    domain: Sequence[tuple[float, float]]
    minima: Sequence[tuple[float, ...]] = ()
    f_min: Sequence[float] = ()
    stationary: Sequence[tuple[float, ...]] = ()
    smooth_minima: bool = True


@dataclasses.dataclass(frozen=True)
class ProblemEntry:
    """A registry entry: ``make(d)`` builds the problem at dimension d; ``dim`` is fixed, or None for any."""

    name: str
    build: Callable[[int], Definition] = dataclasses.field(repr=False)
    dim: int | None
    default_dim: int
    doc: str

    def make(self, d: int) -> Problem:
        return _made(self, d)


@functools.lru_cache(maxsize=256)
def _made(entry: ProblemEntry, d: int) -> Problem:
    spec = entry.build(d)
    return Problem(name=entry.name, fn=spec.fn, dim=d, domain=tuple(map(tuple, spec.domain)),
                   minima=tuple(map(tuple, spec.minima)), f_min=tuple(spec.f_min), doc=entry.doc, vectorized=True,
                   stationary=tuple(map(tuple, spec.stationary)), smooth_minima=spec.smooth_minima,
                   key=("registry", entry.name, d))


PROBLEMS: Registry[ProblemEntry] = Registry("problem", "or define one inline with expr")
MAX_DIM = 10_000      # gdlab runs many small descents: a lane holds a point and its gradient


def problem(name: str, dim: int | None, default_dim: int | None = None):
    """Register ``build(d) -> Definition`` as the problem ``name``; its docstring is the source line."""
    def make(build, **_):
        return ProblemEntry(name, build, dim, dim if dim is not None else default_dim, (build.__doc__ or "").strip())
    return PROBLEMS.register(make)


def checked_dim(dim, name: str) -> int:
    """A problem's ``dim`` as an int: a whole number (2, 2.0, ``np.int64(2)``) in [1, :data:`MAX_DIM`],
    else a ProblemError naming problem ``name``. One check for registered, expression and
    ``_target_`` problems alike."""
    whole = whole_number(dim)
    if whole is None or not 1 <= whole <= MAX_DIM:
        raise ProblemError(f"problem {name!r}: dim must be a whole number in [1, {MAX_DIM:,}], got {dim!r:.80}")
    return whole


def problem_names() -> list[str]:
    return PROBLEMS.names()


def get_problem(name: str, dim: int | None = None) -> Problem:
    """The registered problem ``name`` at dimension ``dim`` (its default if None)."""
    entry = PROBLEMS.get_entry(name)
    if dim is None:
        dim = entry.default_dim
    dim = checked_dim(dim, name)
    if entry.dim is not None and dim != entry.dim:
        raise ProblemError(f"problem {name!r} is {entry.dim}-dimensional, not {dim}-dimensional")
    prob = entry.make(dim)
    if entry.dim is None and dim != entry.default_dim:   # rastrigin-10d beside rastrigin in one sweep
        prob = dataclasses.replace(prob, name=f"{name}-{dim}d")
    return prob


class Identity:
    """An object as a key by its identity, whether or not it hashes (a callable dataclass, an
    equinox module holding arrays): equal to the same object only, or for a bound method
    (``model.loss``, a new object at each access) to the same function of the same object. It
    holds the object, so its ``id`` is not another's while the key lives."""

    __slots__ = ("obj", "_parts")

    def __init__(self, obj):
        self.obj = obj
        self._parts = (obj.__self__, obj.__func__) if isinstance(obj, types.MethodType) else (obj,)

    def __eq__(self, other):
        return isinstance(other, Identity) and len(other._parts) == len(self._parts) and \
            all(a is b for a, b in zip(other._parts, self._parts))

    def __hash__(self):
        return hash(tuple(map(id, self._parts)))

    def __repr__(self):
        return f"Identity({type(self.obj).__name__} at {id(self.obj):#x})"


def computation_sha256(fn: Callable, dim: int) -> str | None:
    """What ``fn`` computes now at a point of ``dim`` coordinates, as a sha256: of its jaxpr (every
    operation, the functions it calls included, the numbers written in it) and of the arrays it
    closes over, traced afresh (JAX keeps a function's traces: a state it reads, changed since,
    would not be seen) in float64 with x64 on, whatever the process's setting (float32 would round
    1e8 + 3 to 1e8). None where it does not trace."""
    import hashlib
    try:
        with x64(True):
            closed = jax.make_jaxpr(lambda x: fn(x))(jax.ShapeDtypeStruct((dim,), jnp.float64))
    except Exception:       # noqa: BLE001 — the sweep's own trace raises it, with its context
        return None
    digest = hashlib.sha256(str(closed.jaxpr).encode())
    for const in closed.consts:
        const = np.asarray(const)
        digest.update(f"{const.dtype}{const.shape}".encode())
        digest.update(np.ascontiguousarray(const).tobytes())
    return digest.hexdigest()


def _scalar(fn: Callable, dim: int) -> Callable:
    """``fn`` as the engine takes a plain function: one wrapper a (function, dim, computation), so its
    kernels are found again by the next call, and a function whose state has changed since (an array
    it closes over, an attribute) is another. A fresh one where ``fn`` does not trace (the sweep says why)."""
    sha = computation_sha256(fn, dim)
    return _scalar_form(Identity(fn)) if sha is None else _shared_scalar(Identity(fn), dim, sha)


def _scalar_form(fn: Identity) -> Callable:
    def scalar(x):
        return jnp.reshape(fn.obj(x), ())
    return scalar


@functools.lru_cache(maxsize=64)
def _shared_scalar(fn: Identity, dim: int, sha: str) -> Callable:
    return _scalar_form(fn)


def function_problem(fn: Callable, starts) -> tuple[Problem, np.ndarray]:
    """A plain Python function ``fn(x) -> f`` as a Problem, with the starts as an (n, d) array.

    ``fn`` takes one point ``x`` of shape (d,) and is written with ``jax.numpy``
    (JAX differentiates it); the engine vmaps it. d is the starts' width: an
    (n, d) array is n starts, and a flat list is one start, unless ``fn`` is
    elementwise (a function of one variable, such as ``x**2 * jnp.sin(x)``),
    where it is one start a number. The problem is named after the function
    and knows no minima (success rates and distances to a minimum are NaN);
    its domain, which only frames figures, is the starts' bounding box widened
    by 1 on each side.
    """
    pts = float_array(starts, "starts for a function must be a point or an (n, d) array of points")
    if pts.ndim not in (1, 2) or pts.size == 0:
        raise InputError(f"starts for a function must be a point or an (n, d) array of points, got shape {pts.shape}")

    def size_at(x: np.ndarray) -> int:
        try:
            # a wrapper's trace, not fn's own: JAX keeps fn's, and a float64 kernel then found the float64
            # arrays fn closes over as float32 constants (it failed to lower)
            out = jax.eval_shape(lambda x: fn(x), jax.ShapeDtypeStruct(x.shape, jnp.float32))
        except Exception as exc:
            first = (str(exc).splitlines() or [""])[0]
            raise InputError(f"the function {_function_name(fn)!r} could not be traced by JAX at a point of shape "
                            f"{x.shape} ({type(exc).__name__}: {first}); write it with jax.numpy (jnp), "
                            "taking x of shape (d,) and returning one number") from exc
        if not hasattr(out, "shape"):
            raise InputError(f"the function {_function_name(fn)!r} must return one number, got {type(out).__name__}")
        if not jnp.issubdtype(out.dtype, jnp.floating):     # JAX differentiates real floating values only
            raise InputError(f"the function {_function_name(fn)!r} must return a real floating-point number, got "
                             f"{out.dtype} (a complex value: take its abs or real part; an integer: compute in "
                             "floats)")
        return int(np.prod(out.shape, dtype=np.int64))

    flat = pts.ndim == 1
    if flat:
        pts = pts.reshape(1, -1) if pts.size == 1 or size_at(pts) == 1 else pts.reshape(-1, 1)
    d = pts.shape[1]
    got = size_at(pts[0])
    if got != 1:
        raise InputError(f"the function {_function_name(fn)!r} returns {got} numbers at a point of {d} "
                         "coordinate(s); it must return one number (sum over coordinates"
                         + (", or give the starts as an (n, d) array)" if flat else ")"))
    lo, hi = pts.min(axis=0) - 1.0, pts.max(axis=0) + 1.0
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise InputError("starts must be finite numbers")

    prob = Problem(name=_function_name(fn), fn=_scalar(fn, d), dim=d, domain=tuple(zip(lo.tolist(), hi.tolist())),
                   doc=f"Python function {getattr(fn, '__qualname__', _function_name(fn))}")
    return prob, pts


def _function_name(fn) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return name.strip("<>") or "function"


def _rows_of(points, dim: int, name: str, what: str) -> tuple[tuple[float, ...], ...]:
    """``points`` as rows of ``dim`` floats: a list of points, or in 1-D a flat list of numbers."""
    rows = float_array(points if len(points) else np.zeros((0, dim)), f"problem {name!r}: {what} must be points of "
                       f"{dim} number(s)", ProblemError)
    if rows.ndim == 1 and dim == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or rows.shape[1] != dim:
        raise ProblemError(f"problem {name!r}: {what} must be points of {dim} number(s), one a row, got shape "
                           f"{rows.shape}")
    return tuple(map(tuple, rows.tolist()))


def _box_of(domain, dim: int, name: str) -> tuple[tuple[float, float], ...]:
    """A Problem's domain as ``dim`` pairs of finite floats lo < hi: starts are drawn from it and
    figures drawn over it, so an infinite or empty axis (or one whose width overflows) is refused
    here, not met as NaN starts."""
    fix = "give each axis two finite numbers [lo, hi] with lo < hi and a finite width hi − lo"
    try:
        axes = [tuple(float_array(ax, "", ProblemError).reshape(-1).tolist()) for ax in domain]
    except (ProblemError, TypeError):
        raise ProblemError(f"problem {name!r}: domain must be {count(dim, 'pair')} [lo, hi] of numbers, "
                           f"got {domain!r:.200}") from None
    if len(axes) != dim:
        raise ProblemError(f"problem {name!r}: domain has {len(axes)} {'axis' if len(axes) == 1 else 'axes'}, "
                           f"dim is {dim}")
    for i, ax in enumerate(axes):
        if len(ax) != 2 or not (math.isfinite(ax[0]) and math.isfinite(ax[1]) and ax[0] < ax[1]
                                and math.isfinite(ax[1] - ax[0])):     # (a start is lo + (hi − lo)·u)
            raise ProblemError(f"problem {name!r}: domain axis {i} is {list(ax)}: {fix}")
    return tuple(axes)


def domain_pairs(domain, dim: int) -> list[list[float]]:
    """``dim`` pairs [lo, hi] from a domain spec; a single pair stands for every axis."""
    what = f"domain must be {count(dim, 'pair')} [lo, hi] of numbers"
    if not isinstance(domain, (list, tuple)) or not all(isinstance(ax, (list, tuple)) for ax in domain):
        raise ProblemError(f"{what}, got {domain!r}")
    dom = [float_array(ax, what, ProblemError).reshape(-1).tolist() for ax in domain]
    if len(dom) == 1 and dim > 1:
        dom = dom * dim
    if len(dom) != dim or any(len(ax) != 2 for ax in dom):
        raise ProblemError(f"{what}, got {domain}")
    return dom


def _box(d, lo, hi):
    return [(lo, hi)] * d


# --- the lessons ------------------------------------------------------------

@problem("x2_sin", 1)
def _x2_sin(d):
    """x²·sin x, lesson 001 (gradient descent in Python), plotted on [1, 8]."""
    return Definition(lambda x: x[0] ** 2 * jnp.sin(x[0]), [(1.0, 8.0)],
                      [(5.08698509410228,)], [-24.082960223068334])


@problem("two_x_sin", 1)
def _two_x_sin(d):
    """2x·sin x, lesson 000 (derivative and gradient optimisation), on [1, 8]."""
    return Definition(lambda x: 2 * x[0] * jnp.sin(x[0]), [(1.0, 8.0)],
                      [(4.913180439434884,)], [-9.628939779424536])


@problem("x4", 1)
def _x4(d):
    """x⁴, lesson 000: step halving from 20, 200, 2000 and 0.2; minimum 0 at 0."""
    return Definition(lambda x: x[0] ** 4, [(-3.0, 3.0)], [(0.0,)], [0.0])


@problem("lesson_quartic", 1)
def _lesson_quartic(d):
    """x⁴ + 5x³ − 10x, lesson 000: f′ = 4x³ + 15x² − 10, f(−5) = 50, f′(−5) = −135."""
    return Definition(lambda x: x[0] ** 4 + 5 * x[0] ** 3 - 10 * x[0], [(-5.0, 2.0)],
                      [(-3.5518311520096497,), (0.7457114156776083,)],
                      [-29.37144385548799, -5.074486471356606],
                      stationary=((-0.9438802636679575,),))


@problem("saddle_3x2_2xy", 2)
def _saddle(d):
    """3x1² + 2x1x2, lesson 000: gradient (−160, −40) at (−20, −20); a saddle at 0, unbounded below."""
    return Definition(lambda x: 3 * x[0] ** 2 + 2 * x[0] * x[1], _box(2, -20.0, 20.0), stationary=((0.0, 0.0),))


@problem("paraboloid", 2)
def _paraboloid(d):
    """x² + y², lessons 000/004: gradient (2, 4) at (1, 2); minimum 0 at the origin."""
    return Definition(lambda x: x[0] ** 2 + x[1] ** 2, _box(2, -5.0, 5.0), [(0.0, 0.0)], [0.0])


@problem("shifted_paraboloid", 2)
def _shifted_paraboloid(d):
    """x² − 10x + y² − 12y + 71, lesson 004: minimum 10 at (5, 6)."""
    return Definition(lambda x: x[0] ** 2 - 10 * x[0] + x[1] ** 2 - 12 * x[1] + 71,
                      [(0.0, 10.0), (0.0, 12.0)], [(5.0, 6.0)], [10.0])


@problem("cone", 2)
def _cone(d):
    """√((x−1)² + (y−8)²), lesson 004: minimum 0 at (1, 8), where it is not differentiable."""
    return Definition(lambda x: jnp.sqrt((x[0] - 1) ** 2 + (x[1] - 8) ** 2), [(-9.0, 11.0), (-2.0, 18.0)],
                      [(1.0, 8.0)], [0.0], smooth_minima=False)


@problem("x2y3", 2)
def _x2y3(d):
    """x²·y³, lesson 002 (partial derivatives): ∂x = 2xy³, ∂y = 3x²y²; no minimum."""
    return Definition(lambda x: x[0] ** 2 * x[1] ** 3, _box(2, -2.0, 2.0))


@problem("x2y_y2", 2)
def _x2y_y2(d):
    """3x²y + y², lesson 002: ∂x = 6xy, ∂y = 3x² + 2y; degenerate stationary point at 0, unbounded below."""
    return Definition(lambda x: 3 * x[0] ** 2 * x[1] + x[1] ** 2, _box(2, -2.0, 2.0), stationary=((0.0, 0.0),))


def _column(v, x):
    """A data vector ``v`` (rows,) shaped to broadcast against coordinate-first ``x`` (d, *batch)."""
    return v.reshape(v.shape + (1,) * (x.ndim - 1))


def regression_data(seed=2024, n=200):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 5))
    k_true = np.array([1.5, -2.0, 0.5, 3.0, -1.0, 0.25])
    target = k_true[0] + features @ k_true[1:] + 0.3 * rng.normal(size=n)
    return np.column_stack([np.ones(n), features]), target


@problem("linreg_mse", 6)
def _linreg_mse(d):
    """MSE of y = k0 + k1·x1 + … + k5·x5 in its coefficients, lesson 000; seeded synthetic data (200 rows)."""
    design, target = regression_data()
    k_star, *_ = np.linalg.lstsq(design, target, rcond=None)
    f_star = float(np.mean((design @ k_star - target) ** 2))

    def fn(k):
        a = jnp.asarray(design, dtype=k.dtype)
        b = jnp.asarray(target, dtype=k.dtype)
        return jnp.mean((jnp.tensordot(a, k, axes=1) - _column(b, k)) ** 2, axis=0)

    return Definition(fn, _box(6, -5.0, 5.0), [tuple(k_star)], [f_star])


def logistic_data(seed=7, n=200):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 2))
    w_true = np.array([0.5, 2.0, -1.0])
    p = 1 / (1 + np.exp(-(w_true[0] + features @ w_true[1:])))
    labels = np.where(rng.random(n) < p, 1.0, -1.0)   # noisy: not separable, so a minimum exists
    return np.column_stack([np.ones(n), features]), labels


@problem("logistic", 3)
def _logistic(d):
    """Mean logistic loss log(1 + e^(−y·w·x)) of a sigmoid classifier, lesson 000; seeded synthetic data."""
    design, labels = logistic_data()
    w = np.zeros(3)
    for _ in range(50):   # Newton's method in float64: the known minimum
        z = labels * (design @ w)
        s = 1 / (1 + np.exp(z))
        grad = -(design * (labels * s)[:, None]).mean(0)
        hess = (design * (s * (1 - s))[:, None]).T @ design / len(z)
        w = w - np.linalg.solve(hess, grad)
    f_star = float(np.mean(np.logaddexp(0, -labels * (design @ w))))

    def fn(w):
        a = jnp.asarray(design, dtype=w.dtype)
        y = jnp.asarray(labels, dtype=w.dtype)
        return jnp.mean(jnp.logaddexp(0, -_column(y, w) * jnp.tensordot(a, w, axes=1)), axis=0)

    return Definition(fn, _box(3, -5.0, 5.0), [tuple(w)], [f_star])


# --- the classics ----------------------------------------------------------

@problem("rosenbrock", None, 2)
def _rosenbrock(d):
    """Rosenbrock (1960), n-d: Σ 100(x_{i+1} − x_i²)² + (1 − x_i)²; minimum 0 at (1, …, 1)."""
    if d < 2:
        raise ProblemError("rosenbrock needs dimension ≥ 2")
    return Definition(lambda x: _sum_rows(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),
                      _box(d, -2.0, 2.0), [(1.0,) * d], [0.0])


@problem("himmelblau", 2)
def _himmelblau(d):
    """Himmelblau (1972): (x² + y − 11)² + (x + y² − 7)², four minima of value 0."""
    return Definition(lambda x: (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2,
                      _box(2, -5.0, 5.0),
                      [(3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                       (-3.779310253377747, -3.283185991286169), (3.5844283403304917, -1.8481265269644034)],
                      [0.0, 0.0, 0.0, 0.0])


@problem("rastrigin", None, 2)
def _rastrigin(d):
    """Rastrigin (1974), n-d: 10d + Σ x_i² − 10 cos 2πx_i; global minimum 0 at the origin."""
    return Definition(lambda x: 10 * x.shape[0] + _sum_rows(x ** 2 - 10 * cos_2pi(x)),
                      _box(d, -5.12, 5.12), [(0.0,) * d], [0.0])


@problem("ackley", None, 2)
def _ackley(d):
    """Ackley (1987), n-d: −20e^(−0.2√(mean x²)) − e^(mean cos 2πx) + 20 + e; minimum 0 at 0, a cone tip."""
    def fn(x):
        return (-20 * jnp.exp(-0.2 * jnp.sqrt(jnp.mean(x ** 2, axis=0)))
                - jnp.exp(jnp.mean(cos_2pi(x), axis=0)) + 20 + jnp.e)
    return Definition(fn, _box(d, -5.0, 5.0), [(0.0,) * d], [0.0], smooth_minima=False)


@problem("booth", 2)
def _booth(d):
    """Booth: (x + 2y − 7)² + (2x + y − 5)²; minimum 0 at (1, 3) (Jamil & Yang 2013, f12)."""
    return Definition(lambda x: (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2,
                      _box(2, -10.0, 10.0), [(1.0, 3.0)], [0.0])


@problem("beale", 2)
def _beale(d):
    """Beale (1958): (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²; minimum 0 at (3, 0.5)."""
    def fn(x):
        a, b = x[0], x[1]
        return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b ** 2) ** 2 + (2.625 - a + a * b ** 3) ** 2
    return Definition(fn, _box(2, -4.5, 4.5), [(3.0, 0.5)], [0.0])


@problem("six_hump_camel", 2)
def _camel(d):
    """Six-hump camel (Dixon & Szegő 1978): two global minima −1.0316 and four local ones."""
    def fn(x):
        a, b = x[0], x[1]
        return (4 - 2.1 * a ** 2 + a ** 4 / 3) * a ** 2 + a * b + (-4 + 4 * b ** 2) * b ** 2
    pts = [(0.08984201310031806, -0.7126564030207396, -1.0316284534898774),
           (1.7036067149699807, -0.7960835686726252, -0.21546382438371725),
           (1.6071047529201974, 0.5686514548841314, 2.1042503103112584)]
    minima = [(a, b) for a, b, _ in pts] + [(-a, -b) for a, b, _ in pts]
    values = [v for *_, v in pts] * 2
    return Definition(fn, [(-3.0, 3.0), (-2.0, 2.0)], minima, values)


_ST_X = -2.903534027771177
_ST_F = -39.16616570377141


@problem("styblinski_tang", None, 2)
def _styblinski_tang(d):
    """Styblinski & Tang (1990), n-d: ½Σ(x⁴ − 16x² + 5x); minimum −39.166·d at x_i = −2.9035."""
    return Definition(lambda x: 0.5 * _sum_rows(x ** 4 - 16 * x ** 2 + 5 * x),
                      _box(d, -5.0, 5.0), [(_ST_X,) * d], [_ST_F * d])


_RAVINE_KAPPA = 100.0


@problem("ravine", None, 2)
def _ravine(d):
    """Ill-conditioned quadratic ½Σ c_i x_i², c log-spaced 1 … 100 (condition number 100, L = 100); minimum 0 at 0."""
    c = np.logspace(0, math.log10(_RAVINE_KAPPA), d) if d > 1 else np.ones(1)

    def fn(x):
        return 0.5 * _sum_rows(_column(jnp.asarray(c, dtype=x.dtype), x) * x ** 2)

    return Definition(fn, _box(d, -10.0, 10.0), [(0.0,) * d], [0.0])
