"""One point of one function: f, the gradient, the Hessian and what kind of point it is (lessons 000, 002, 004).

``inspect_point(problem, x)`` from Python; ``gdlab point <problem> <x1> <x2> …``
from the command line, where the problem is a registry name or an expression
(``gdlab point "3*x1**2 + 2*x1*x2" -20 -20``). The classification is the one
the runs table uses (:func:`gdlab.engine.classify_points`): the signs of the
Hessian's eigenvalues at a stationary point.
"""

from __future__ import annotations

import sys
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .engine import classify_points
from .names import did_you_mean
from .problems import PROBLEMS, Problem

__all__ = ["PointInfo", "inspect_point", "format_point", "point_main"]


class PointInfo(NamedTuple):
    problem: str
    x: np.ndarray
    f: float
    grad: np.ndarray          # ∂f/∂x_i
    hessian: np.ndarray       # ∂²f/∂x_i∂x_j
    eigenvalues: np.ndarray   # of the Hessian, ascending
    point_type: str           # minimum | maximum | saddle | degenerate | non_stationary


def _problem(spec) -> Problem:
    from .config import resolve_problem
    if isinstance(spec, str) and spec not in PROBLEMS and spec.split("-")[0] not in PROBLEMS:
        if spec.replace("_", "").isalnum() and spec not in ("x", "y", "z") and not spec.startswith("x"):
            raise KeyError(f"unknown problem {spec!r}{did_you_mean(spec, PROBLEMS)}; known: {', '.join(sorted(PROBLEMS))} "
                           "(or give an expression such as 'x**2 + 3*y')")
        from .expr import parse_expression
        fn, dim = parse_expression(spec)
        return Problem(name=spec, fn=fn, dim=dim, domain=((-1.0, 1.0),) * dim, doc=f"inline expression {spec}")
    return resolve_problem(spec)


def inspect_point(problem, x: Sequence[float], stationary_tol: float = 1e-6) -> PointInfo:
    """f, ∇f, the Hessian, its eigenvalues and the point's type at ``x`` (float64).

    ``problem`` is a Problem, a registry name, a config mapping, an
    expression string, or a plain function ``f(x)`` written with ``jax.numpy``.
    ``point_type`` is ``non_stationary`` unless the Newton step ‖H⁺∇f‖ is
    within ``stationary_tol`` (a stationary point).
    """
    if callable(problem) and not isinstance(problem, Problem):
        from .problems import function_problem
        problem, _ = function_problem(problem, np.asarray(x, dtype=np.float64).reshape(1, -1))
    prob = _problem(problem)
    pt = np.asarray(x, dtype=np.float64).reshape(-1)
    if pt.size != prob.dim:
        raise ValueError(f"{prob.name} is a function of {prob.dim} variable(s); got a point with {pt.size}")
    with jax.enable_x64(True):
        xj = jnp.asarray(pt)
        f = float(prob.fn(xj))
        grad = np.asarray(jax.grad(prob.fn)(xj))
        hess = np.asarray(jax.hessian(prob.fn)(xj)).reshape(prob.dim, prob.dim)
    eig = np.linalg.eigvalsh((hess + hess.T) / 2) if np.isfinite(hess).all() else np.full(prob.dim, np.nan)
    kind = str(classify_points(prob, pt[None], "float64", stationary_tol)[0])
    return PointInfo(prob.name, pt, f, grad, hess, eig, kind)


def _vec(v) -> str:
    return "(" + ", ".join(f"{float(c):.6g}" for c in np.atleast_1d(v)) + ")"


_MEANING = {
    "minimum": "∇f = 0 and every eigenvalue of the Hessian > 0",
    "maximum": "∇f = 0 and every eigenvalue of the Hessian < 0",
    "saddle": "∇f = 0 and the Hessian has eigenvalues of both signs",
    "degenerate": "∇f = 0 but an eigenvalue is 0: the Hessian cannot tell",
    "non_stationary": "∇f ≠ 0: not a stationary point",
}


def format_point(info: PointInfo) -> str:
    rows = [f"problem      {info.problem}", f"x            {_vec(info.x)}", f"f(x)         {info.f:.10g}",
            f"gradient     {_vec(info.grad)}    ‖∇f‖ = {np.linalg.norm(info.grad):.6g}"]
    for i, row in enumerate(info.hessian):
        rows.append(("Hessian      " if i == 0 else "             ") + "[" + "  ".join(f"{v:10.6g}" for v in row) + " ]")
    rows += [f"eigenvalues  {_vec(info.eigenvalues)}",
             f"point type   {info.point_type} ({_MEANING.get(info.point_type, '')})"]
    return "\n".join(rows)


def point_main(argv: list[str]) -> int:
    """``gdlab point <problem or expression> <x1> [x2 …]``."""
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print("usage: gdlab point <problem name or expression> <x1> [<x2> …]\n"
              "  e.g. gdlab point shifted_paraboloid 5 6\n"
              "       gdlab point '3*x1**2 + 2*x1*x2' -20 -20", file=sys.stderr)
        return 2
    try:
        coords = [float(v) for v in argv[1:]]
    except ValueError:
        print(f"error: the point's coordinates must be numbers, got {argv[1:]}", file=sys.stderr)
        return 2
    try:
        info = inspect_point(argv[0], coords)
    except (KeyError, ValueError, SyntaxError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(format_point(info))
    return 0
