"""One point of one function: f, the gradient, the Hessian and what kind of point it is (lessons 000, 002, 004).

:func:`classify_points` gives the type of many points at once (the runs
table's ``point_type``): the signs of the Hessian's eigenvalues at a
stationary point. :func:`inspect_point` gives everything about one point
(``gdlab point <problem> <x…>`` prints it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError
from .inputs import float_array
from .precision import x64
from .problems import Problem, cast_params
from .settings import STATIONARY_TOL

__all__ = ["POINT_TYPES", "PointInfo", "classify_points", "point_kinds", "point_kinds_later", "point_info", "format_point",
           "curvature", "misplaced_minimum", "listed_minima_doubts"]


POINT_TYPES = np.array(["minimum", "maximum", "saddle", "degenerate", "non_stationary", "undefined"], dtype=object)


def _eigh(h):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix. In one and two
    dimensions by the closed form (λ = m ∓ r about the mean m of the diagonal; the eigenvectors
    turned by θ = ½·atan2(2b, a − c)): XLA's CPU backend calls LAPACK once per matrix, which on
    2×2 matrices cost 4.6–6.5 times as much."""
    if h.shape[0] == 1:
        return h[0], jnp.ones_like(h)
    if h.shape[0] == 2:
        a, b, c = h[0, 0], (h[0, 1] + h[1, 0]) / 2, h[1, 1]
        half = (a - c) / 2
        r = jnp.hypot(half, b)
        # cos θ and sin θ from cos 2θ = half / r and sin 2θ = b / r, each half-angle formula where it
        # does not cancel (arctan2, cos and sin took 14 of the 15 ms of 2¹⁷ points' classification)
        flat = r == 0
        rr = jnp.where(flat, 1, r)
        big = jnp.sqrt(0.5 + 0.5 * (jnp.abs(half) / rr))    # cos θ where half ≥ 0, else |sin θ|
        small = (b / rr) / (2 * big)                         # sin θ where half ≥ 0, else cos θ · sign(b)
        sign = jnp.where(b < 0, -1, 1).astype(h.dtype)
        cos = jnp.where(flat, 1, jnp.where(half >= 0, big, small * sign))
        sin = jnp.where(flat, 0, jnp.where(half >= 0, small, big * sign))
        lam = jnp.stack([(a + c) / 2 - r, (a + c) / 2 + r])
        return lam, jnp.stack([jnp.stack([-sin, cos]), jnp.stack([cos, sin])])   # columns: λ₋'s, λ₊'s
    return jnp.linalg.eigh(h)


MIN_PAD = 64      # the fewest points point_kinds evaluates at once (the rest copies of the first), up to this d


def _curvature(fn, x):
    """(Hessian, ∇f, the Hessian's eigenvalues, ‖H⁺∇f‖, the part of ∇f along H's zero eigenvalues) of
    ``fn`` at ``x``, all from one symmetric eigendecomposition (:func:`curvature`)."""
    h = jax.hessian(fn)(x)
    lam, v = _eigh(h)
    keep = jnp.abs(lam) > 10 * h.shape[0] * jnp.finfo(h.dtype).eps * jnp.max(jnp.abs(lam))
    g = jax.grad(fn)(x)
    along = v.T @ g
    newton = v @ jnp.where(keep, along / jnp.where(keep, lam, 1), 0)
    flat = jnp.where(keep, 0, along)
    return h, g, lam, jnp.sqrt(jnp.sum(newton ** 2)), jnp.sqrt(jnp.sum(flat ** 2))


@functools.lru_cache(maxsize=64)
def curvature(objective):
    """(points (n, d), the problem's params) → (the Hessian's eigenvalues, ‖H⁺∇f‖, the part of ∇f
    along H's zero eigenvalues), all from one symmetric eigendecomposition: H⁺ keeps 1/λ where |λ|
    is above pinv's cutoff (10·d·eps·max|λ|) and 0 elsewhere, which is pinv's answer for a
    symmetric matrix at a third of the cost of an SVD and a second eigvalsh. The last is the slope the Hessian cannot account
    for (f = 3x: all of it), which H⁺ drops from the Newton step."""
    def one(x, params):
        return _curvature(objective.bind(params), x)[2:]
    batched = jax.jit(jax.vmap(one, in_axes=(0, None)))
    return lambda xs, params=(): batched(xs, params)


@functools.lru_cache(maxsize=64)
def _at_point(objective, fn):
    """(x, params) → (f, the Hessian, ∇f, its eigenvalues, ‖H⁺∇f‖, the flat part of ∇f) at one point, as
    one compiled program: evaluated operation by operation, JAX compiled each operation of the
    Hessian, 0.5 s or more of ``gdlab point``. Cached by the objective and its function (``fn``,
    ``objective.fn``): an objective's key names its function, but a module reloaded under the same
    ``_target_`` is another function, and a point's numbers are always its problem's own."""
    def one(x, params):
        fn = objective.bind(params)
        return (fn(x), *_curvature(fn, x))
    return jax.jit(one)


def classify_points(problem, xs, dtype: str = "float64", stationary_tol: float = STATIONARY_TOL) -> np.ndarray:
    """Classify points by the eigenvalues of the Hessian: minimum, maximum, saddle or degenerate.

    A point whose Newton step ‖H⁺∇f‖ (the distance to the stationary point the
    quadratic model predicts) exceeds ``stationary_tol``, or whose gradient has
    a part above ``stationary_tol`` along a zero eigenvalue (where the Hessian
    says nothing: f = 3x), is ``non_stationary``: a point with a slope is not a
    minimum, whatever the curvature there. A point where x, ∇f or the Hessian is
    not finite is ``undefined``. An eigenvalue counts as zero below
    √(machine eps)·max(1, max|λ|). ``problem``: a :class:`~gdlab.core.problems.Problem`; ``xs``: an
    (n, d) array of points (one point as d numbers).
    """
    if not isinstance(problem, Problem):
        raise InputError(f"classify_points takes a gdlab.Problem (gdlab.get_problem({problem!r:.40}) gives one), "
                         f"got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise InputError(f"dtype must be float32 or float64, got {dtype!r:.40}")
    pts = float_array(xs, f"points of {problem.name} must be an (n, {problem.dim}) array of numbers")
    if pts.ndim == 1 and pts.size == problem.dim:
        pts = pts[None]
    elif pts.ndim == 1 and problem.dim == 1:
        pts = pts[:, None]
    if pts.ndim != 2 or pts.shape[1] != problem.dim:
        raise InputError(f"points of {problem.name} must be an (n, {problem.dim}) array of numbers, got shape "
                         f"{pts.shape}")
    return POINT_TYPES[point_kinds(problem, pts, dtype, checked_tol(stationary_tol))]


def checked_tol(stationary_tol) -> float:
    """``stationary_tol`` as a float, or an InputError: a number > 0."""
    tol = float_array(stationary_tol, "stationary_tol must be a number > 0")
    if not (tol.ndim == 0 and 0 < tol < np.inf):
        raise InputError(f"stationary_tol must be a number > 0, got {stationary_tol!r:.80}")
    return float(tol)


def point_kinds(problem, xs, dtype: str = "float64", stationary_tol: float = STATIONARY_TOL) -> np.ndarray:
    """:func:`classify_points` as indices into ``POINT_TYPES``."""
    return point_kinds_later(problem, xs, dtype, stationary_tol)()


def point_kinds_later(problem, xs, dtype: str = "float64",
                      stationary_tol: float = STATIONARY_TOL) -> Callable[[], np.ndarray]:
    """:func:`point_kinds` in two halves: this call hands the Hessians to the device and returns at
    once; the function it returns waits for them and gives the kinds. A sweep's tables are built
    while its kernel runs on every device, where the Hessians queue behind the kernel's call: the
    caller does its other work meanwhile instead of waiting."""
    xs = float_array(xs, f"points of {problem.name} must be numbers").reshape(-1, problem.dim)
    if len(xs) == 0:
        return lambda: np.zeros(0, np.int64)
    dt = jnp.float64 if dtype == "float64" else jnp.float32
    n = len(xs)
    # padded (with the first point) to a power of two, and up to MIN_PAD dimensions to at least MIN_PAD
    # points, so parts of any size share a few compilations (a Hessian compiles for a second or more;
    # above MIN_PAD dimensions, 64 d×d Hessians would take memory a few points do not)
    size = max(MIN_PAD if problem.dim <= MIN_PAD else 1, 1 << math.ceil(math.log2(n)))
    padded = np.concatenate([xs, np.broadcast_to(xs[:1], (size - n, problem.dim))])
    with x64(dtype == "float64"):
        pending = curvature(problem.own_objective)(jnp.asarray(padded, dt), cast_params(problem.params, dtype))

    def kinds() -> np.ndarray:
        eig, newton, flat = (np.asarray(a, dtype=np.float64)[:n] for a in pending)
        return _kinds(xs, eig, newton, flat, dt, stationary_tol)
    return kinds


def _kinds(xs: np.ndarray, eig: np.ndarray, newton: np.ndarray, flat: np.ndarray, dt, stationary_tol: float) -> np.ndarray:
    """The points' kinds from their Hessians' eigenvalues (ascending), Newton steps and flat slopes."""
    # eigenvalues come ascending: the first and last decide every sign (columns, not reductions along
    # rows of d numbers, which took 24 ms of 2¹⁷ points)
    lo, hi = np.ascontiguousarray(eig[:, 0]), np.ascontiguousarray(eig[:, -1])
    with np.errstate(invalid="ignore", over="ignore"):
        tol = np.sqrt(np.finfo(dt).eps) * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
        pos, neg = lo > tol, hi < -tol
        mixed = (hi > tol) & (lo < -tol)
    kind = np.select([pos, neg, mixed], [0, 1, 2], 3)
    kind[(newton > stationary_tol) | (flat > stationary_tol)] = 4
    finite = np.isfinite(newton) & np.isfinite(flat)
    for column in (*eig.T, *xs.T):
        finite &= np.isfinite(column)
    return np.where(finite, kind, 5)


class PointInfo(NamedTuple):
    problem: str
    x: np.ndarray
    f: float
    grad: np.ndarray          # ∂f/∂x_i
    hessian: np.ndarray       # ∂²f/∂x_i∂x_j
    eigenvalues: np.ndarray   # of the Hessian, ascending
    point_type: str           # minimum | maximum | saddle | degenerate | non_stationary | undefined


def point_info(problem, x: Sequence[float], stationary_tol: float = 1e-6) -> PointInfo:
    """f, ∇f, the Hessian, its eigenvalues and the point's type at ``x`` (float64).

    ``problem`` is a :class:`~gdlab.core.problems.Problem` (``gdlab.inspect_point`` also takes a
    name, a mapping, an expression or a function).
    ``point_type`` is ``non_stationary`` unless the Newton step ‖H⁺∇f‖ is
    within ``stationary_tol`` (a stationary point).
    """
    prob = problem
    pt = float_array(x, f"a point of {prob.name} must be {prob.dim} number(s)").reshape(-1)
    stationary_tol = checked_tol(stationary_tol)
    if pt.size != prob.dim:
        raise InputError(f"{prob.name} is a function of {prob.dim} variable(s); got a point with {pt.size}")
    program = _at_point(prob.own_objective, prob.own_objective.fn)
    with x64(True):
        values = program(jnp.asarray(pt), cast_params(prob.params, "float64"))
        f, hess, grad, lam, newton, flat = (np.asarray(a, dtype=np.float64) for a in values)
    hess = hess.reshape(prob.dim, prob.dim)
    eig = np.linalg.eigvalsh((hess + hess.T) / 2) if np.isfinite(hess).all() else np.full(prob.dim, np.nan)
    kind = str(POINT_TYPES[_kinds(pt[None], lam[None], newton[None], flat[None], jnp.float64, stationary_tol)[0]])
    return PointInfo(prob.name, pt, float(f), grad, hess, eig, kind)


def misplaced_minimum(problem, x: Sequence[float], tol: float, dtype: str = "float64") -> str | None:
    """Why ``x``, listed as a minimum of ``problem``, seems not to be one to within ``tol`` (a sweep's
    ``success_tol``: a run succeeds when it ends that close to a listed minimum), or None. A doubt,
    not a proof: the check looks along Newton's path and the direction of negative curvature, not
    across the whole ball, so a minimum narrower than ``tol`` beside ``x`` can escape it.

    Said only where f's derivatives and its values agree, at the scale of ``tol``: ``x`` is a
    saddle or a maximum (stationary within ``tol``, and f falls on both sides along its direction
    of negative curvature as that curvature says, out to 4·``tol``); or f is convex at ``x`` and
    Newton's method from it, f convex and its quadratic model holding at every step (each step
    lowers f by what the model says, to within a quarter), converges to a minimum farther than
    ``tol`` away: a point rounded too coarsely, or mistyped (the message gives the minimum's
    place). Anything else passes: a kink (JAX's slope there is one side's: the model fails), a
    Hessian that cannot tell (x⁴ at 0), f not convex at ``x``, a value that is not finite, a
    function that cannot be evaluated in float64 or differentiated twice, more than
    :data:`MINIMA_CHECK_DIM` dimensions."""
    if problem.dim > MINIMA_CHECK_DIM:
        return None
    try:
        x = float_array(x, "a minimum must be numbers").reshape(-1)
        if dtype == "float32":       # no float32 run can end nearer than its resolution
            tol = max(tol, 4 * float(np.finfo(np.float32).eps) * max(1.0, float(np.abs(x).max())))
        return _misplaced(problem, x, tol)
    except Exception:     # a float32-only _target_, a custom_vjp without forward mode: nothing here can tell
        return None


def listed_minima_doubts(problems, tol: float, dtype: str = "float64", f_target: float | None = None) -> list[str]:
    """Doubts about the minima that ``problems`` list, for those whose function and minima are a
    config's own (an expression or a ``_target_`` without constraints: the registry's and the suites'
    are tested, and a penalised function's minimiser lies about 1/μ from the constrained minimum its
    config lists): :func:`misplaced_minimum`'s, and with ``f_target`` (the report's target on f − f*)
    each listed minimum where f differs from its ``f_min`` by more than that."""
    from .expressions import listed_by_config
    out = []
    for p in problems:
        if not (p.minima and listed_by_config(p)):
            continue
        if p.smooth_minima:
            out += [why for why in (misplaced_minimum(p, m, tol, dtype) for m in p.minima) if why]
        if f_target is not None:
            out += [why for why in (_f_min_differs(p, m, f_star, f_target) for m, f_star in zip(p.minima, p.f_min))
                    if why]
    return out


def _f_min_differs(problem, x, f_star: float, f_target: float) -> str | None:
    """Where f at a listed minimum ``x`` is farther than ``f_target`` from its listed ``f_star``."""
    try:
        with x64(True):
            f = float(problem.fn(jnp.asarray(x, jnp.float64)))
    except Exception:     # f cannot be evaluated in float64 here: nothing to compare
        return None
    if not (np.isfinite(f) and abs(f - f_star) > f_target):
        return None
    return (f"problem {problem.name!r}: f at its listed minimum {_listed(x, 1e-10)} is {f:.10g}, but its f_min says "
            f"{f_star:.10g} (a difference of {abs(f - f_star):.3g}, more than f_target = {f_target:g}): f − f* and "
            f"the ECDF targets are measured from {f_star:.10g}, so a run that ends at that minimum reads "
            f"{f - f_star:+.3g} from f*. Give f_min as f there ({f:.10g}), or leave f_min out (it is f at the minima)")


MINIMA_CHECK_DIM = 10     # misplaced_minimum checks problems of at most this many dimensions (a Hessian a step: a
                          # 100-D _target_ written as a Python loop took 15 s to compile it)
NEWTON_STEPS = 30         # Newton's steps misplaced_minimum takes at most (near a minimum, a few)


def _misplaced(problem, x: np.ndarray, tol: float) -> str | None:
    where = f"problem {problem.name!r}: its listed minimum {_listed(x, tol)}"
    start = point_info(problem, x, stationary_tol=tol)
    if start.point_type in ("saddle", "maximum"):
        lam, vec = np.linalg.eigh((start.hessian + start.hessian.T) / 2)
        for sign in (1.0, -1.0):
            for m in (1, 2, 4):
                h = m * tol
                if not point_info(problem, x + sign * h * vec[:, 0]).f < start.f + 0.25 * lam[0] * h * h:
                    return None      # f does not fall as its curvature says: a minimum may lie that close
        return (f"{where} is a {start.point_type} of f, not a minimum: f's quadratic model there is stationary "
                f"within success_tol = {tol:g} (‖∇f‖ = {np.linalg.norm(start.grad):.3g}, the Hessian's eigenvalues "
                f"{_vec(lam)}), and f falls on both sides along its direction of negative curvature, out to "
                f"{4 * tol:g}: runs leave it, and no run would count as a success there: the success rates "
                "of this problem are likely wrong. List f's minima, or leave minima out")
    if start.point_type != "non_stationary":
        return None
    here = _newton(problem, start)
    if here is None:
        return None
    dist = float(np.linalg.norm(here.x - x))
    listed = problem.minima_array
    if (not dist > tol or not here.f < start.f
            or point_info(problem, here.x, stationary_tol=tol).point_type != "minimum"
            or (np.linalg.norm(listed - here.x, axis=1) <= tol).any()):     # runs that end there succeed
        return None
    dom = np.asarray(problem.domain, dtype=np.float64)
    outside = bool(((here.x < dom[:, 0]) | (here.x > dom[:, 1])).any())
    return (f"{where} is not where f has its minimum: Newton's method from it (f convex, its quadratic model "
            f"holding at every step) converges to the minimum {_listed(here.x, tol)}"
            + (" outside the domain (which bounds the starts, not the runs)" if outside else "")
            + f" (f = {here.f:.10g} there, {start.f:.10g} at the listed point), {_distance(dist, tol)} away, farther than "
            f"success_tol = {tol:g}, so a run that ends at that minimum does not count as a success: the success rates of "
            f"this problem are likely wrong. List that minimum as {_listed(here.x, tol)}, or raise success_tol")


def _distance(dist: float, tol: float) -> str:
    """``dist`` with digits enough to read it beyond ``tol``."""
    for digits in range(3, 17):
        if float(f"{dist:.{digits}g}") > tol:
            return f"{dist:.{digits}g}"
    return repr(dist)


def _convex(info: PointInfo) -> bool:
    lam = info.eigenvalues
    return bool(np.isfinite(lam).all() and np.isfinite(info.grad).all() and np.isfinite(info.f)
                and lam[0] > np.sqrt(np.finfo(np.float64).eps) * max(1.0, abs(lam[-1])))


def _newton(problem, here: PointInfo) -> PointInfo | None:
    """Newton's steps from ``here`` while f is convex and each step lowers f by what its quadratic
    model says (to within a quarter; a step too small for f's float64 resolution need only not
    raise f): the point where the step has become negligible, or None."""
    for _ in range(NEWTON_STEPS):
        if not _convex(here):
            return None
        step = -np.linalg.solve(here.hessian, here.grad)
        if np.linalg.norm(step) <= 1e-12 * max(1.0, float(np.linalg.norm(here.x))):
            return here
        trial = point_info(problem, here.x + step)
        with np.errstate(all="ignore"):
            drop = -float(here.grad @ step + 0.5 * step @ here.hessian @ step)     # the model's, > 0 where convex
            fell = here.f - trial.f
            tiny = 1e-12 * abs(here.f) + 1e-300
            holds = fell >= -tiny if drop <= tiny else abs(fell - drop) <= 0.25 * drop
        if not (np.isfinite(trial.f) and holds):
            return None
        here = trial
    return None


def _listed(x, tol: float) -> str:
    """A point as a config lists it, with digits enough to tell points ``tol`` apart: [1, -0.5]."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    scale = max(1.0, float(np.abs(x).max())) if x.size and np.isfinite(x).all() else 1.0
    digits = min(17, max(10, math.ceil(math.log10(scale / tol)) + 3)) if tol > 0 else 17
    return "[" + ", ".join(f"{v:.{digits}g}" for v in x) + "]"


def _vec(v) -> str:
    return "(" + ", ".join(f"{float(c):.6g}" for c in np.atleast_1d(v)) + ")"


_MEANING = {
    "minimum": "∇f = 0 and every eigenvalue of the Hessian > 0",
    "maximum": "∇f = 0 and every eigenvalue of the Hessian < 0",
    "saddle": "∇f = 0 and the Hessian has eigenvalues of both signs",
    "degenerate": "∇f = 0 but an eigenvalue is 0: the Hessian cannot tell",
    "non_stationary": "∇f ≠ 0: not a stationary point",
    "undefined": "f, ∇f or the Hessian is not finite here: the point has no type",
}


def format_point(info: PointInfo) -> str:
    rows = [f"problem      {info.problem}", f"x            {_vec(info.x)}", f"f(x)         {info.f:.10g}",
            f"gradient     {_vec(info.grad)}    ‖∇f‖ = {np.linalg.norm(info.grad):.6g}"]
    for i, row in enumerate(info.hessian):
        rows.append(("Hessian      " if i == 0 else "             ") + "[" + "  ".join(f"{v:10.6g}" for v in row) + " ]")
    rows += [f"eigenvalues  {_vec(info.eigenvalues)}",
             f"point type   {info.point_type} ({_MEANING.get(info.point_type, '')})"]
    return "\n".join(rows)
