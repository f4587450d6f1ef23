"""The Python entry points that need no tables: a problem from whatever names it, a point inspected.

Each takes a problem as whatever is handiest — a registry name, an
expression string, a config mapping, a :class:`~gdlab.core.problems.Problem`
or a plain JAX function — and returns plain data
(:class:`~gdlab.core.points.PointInfo`). ``gdlab point`` imports this module
only: no pandas, no sweep layer. The entry points that return tables
(``gdlab.sweep``, ``gdlab.descend``) are in :mod:`gdlab.runner.sweeps`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from ..core.errors import ProblemError, UnknownNameError
from ..core.expressions import is_variable, parse_expression
from ..core.inputs import float_array
from ..core.points import PointInfo, point_info
from ..core.problems import PROBLEMS, Problem, function_problem
from ..core.problems import get_problem as registered_problem

__all__ = ["inspect_point", "as_problem", "get_problem"]


def as_problem(spec) -> Problem:
    """A Problem from a registry name (``rastrigin``, ``rastrigin-10d``), an expression string in
    x, y, z or x1 … xn, a config mapping, or a Problem (a plain function needs its starts:
    :func:`gdlab.core.problems.function_problem`)."""
    if isinstance(spec, str):
        if spec in PROBLEMS:
            return registered_problem(spec)
        base, _, dims = spec.rpartition("-")
        if base in PROBLEMS and dims.endswith("d") and dims[:-1].isdigit():
            return registered_problem(base, int(dims[:-1]))
        if spec.replace("_", "").isalnum() and not is_variable(spec):     # a name, not a formula: x2_sn
            raise UnknownNameError("problem", spec, PROBLEMS, "or give an expression such as 'x**2 + 3*y'")
        return _expression_problem(spec)
    from .schema import resolve_problem  # a mapping, a suite entry or a Problem

    return resolve_problem(spec)


@functools.lru_cache(maxsize=256)
def _expression_problem(spec: str) -> Problem:
    """The Problem of an expression string, one object per text: its function is the same object
    each time, so the programs compiled for it (a point's, the figures') are found again."""
    fn, dim = parse_expression(spec)
    return Problem(name=spec, fn=fn, dim=dim, domain=((-1.0, 1.0),) * dim, doc=f"inline expression {spec}",
                   vectorized=True, key=("expr", spec, dim, "null", None))


def get_problem(spec, dim: int | None = None) -> Problem:
    """``gdlab.get_problem``: a registered problem by name (at ``dim``, its default if None), or
    whatever :func:`as_problem` takes: an expression string, a config mapping
    (``{"name": "rastrigin", "dim": 10}``, ``{"name": …, "expr": …, "domain": …}``) or a Problem."""
    if isinstance(spec, str) and spec in PROBLEMS:
        return registered_problem(spec, dim)
    if dim is not None:
        if isinstance(spec, Mapping):
            return as_problem({**spec, "dim": dim})
        raise ProblemError(f"dim={dim!r} is for a registered problem's name; {spec!r} sets its own dimension")
    return as_problem(spec)


def inspect_point(problem, x: Sequence[float], stationary_tol: float = 1e-6) -> PointInfo:
    """f, ∇f, the Hessian, its eigenvalues and the point's type at ``x`` (float64).

    ``problem`` is a Problem, a registry name, a config mapping, an expression
    string, or a plain function ``f(x)`` written with ``jax.numpy``.
    ``point_type`` is ``non_stationary`` unless the Newton step ‖H⁺∇f‖ is
    within ``stationary_tol`` (a stationary point). Its default, 10⁻⁶, asks whether ∇f is zero at
    this point, as a lesson does; a sweep's point_type (and :func:`classify_points`) allows
    ``STATIONARY_TOL`` = 0.05, a run's stop near a minimum: pass that to get their type.
    """
    if callable(problem) and not isinstance(problem, Problem):
        problem, _ = function_problem(problem, float_array(x, "a point must be a list of numbers").reshape(1, -1))
    return point_info(as_problem(problem), x, stationary_tol)
