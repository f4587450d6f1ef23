"""The Python entry points: run a config or an array of starts, inspect a point.

Each takes a problem as whatever is handiest — a registry name, an
expression string, a config mapping, a :class:`~gdlab.core.problems.Problem`
or a plain JAX function — and returns plain data (:class:`Results`,
:class:`~gdlab.core.points.PointInfo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import ProblemError, UnknownNameError
from ..core.expressions import parse_expression
from ..core.inputs import float_array
from ..core.points import PointInfo, point_info
from ..core.problems import PROBLEMS, Problem, function_problem
from ..core.problems import get_problem as registered_problem

if TYPE_CHECKING:
    from ..tables.results import Results

__all__ = ["sweep", "descend", "inspect_point", "as_problem", "get_problem"]


def sweep(config: Mapping | None = None) -> Results:
    """Validate a config mapping (docs/config.md's keys), run every run, and return the tables in memory.

    Keys not given take the schema's defaults; ``{"experiment": "x2_sin", …}`` runs that shipped
    experiment, the mapping's other keys over it (as ``gdlab experiment=x2_sin key=value``)."""
    # the sweep layer, pandas and the engine: imported here, not by inspect_point (`gdlab point`)
    from .execute import run_sweep
    from .experiments import with_experiment
    from .schema import validate

    return run_sweep(validate(with_experiment(config)))


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
        if spec.replace("_", "").isalnum() and spec not in ("x", "y", "z") and not spec.startswith("x"):
            raise UnknownNameError("problem", spec, PROBLEMS, "or give an expression such as 'x**2 + 3*y'")
        fn, dim = parse_expression(spec)
        return Problem(name=spec, fn=fn, dim=dim, domain=((-1.0, 1.0),) * dim, doc=f"inline expression {spec}",
                       vectorized=True, key=("expr", spec, dim, "null"))
    from .schema import resolve_problem  # a mapping, a suite entry or a Problem

    return resolve_problem(spec)


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
    within ``stationary_tol`` (a stationary point).
    """
    if callable(problem) and not isinstance(problem, Problem):
        problem, _ = function_problem(problem, np.asarray(x, dtype=np.float64).reshape(1, -1))
    return point_info(as_problem(problem), x, stationary_tol)


def descend(problem, method: str, x0s, alpha=0.01, momentum=0.9, *,
            criterion=("df",), epsilon=(1e-6,), min_steps=(0,), max_iter: int = 10_000,
            dtype: str = "float64", traces: int = 0, **settings) -> Results:
    """Descend from each row of ``x0s`` (shape (n, d), or (n,) for 1-d problems).

    ``problem`` is a registry name, an expression (``"x**4 - 3*x**2 + x"``), a config
    mapping, a :class:`Problem`, or a plain function ``f(x)`` of one point written with
    ``jax.numpy`` (:func:`gdlab.core.problems.function_problem`). ``alpha``, ``momentum``,
    ``criterion``, ``epsilon`` and ``min_steps`` may be scalars or lists (grid
    axes, as in a sweep). Defaults to float64, the notebook's choice; sweeps
    default to float32. Starts outside the problem's domain widen it (the
    domain frames the figures).
    """
    if callable(problem) and not isinstance(problem, Problem):
        prob, x0s = function_problem(problem, x0s)
    else:
        prob = as_problem(problem)
        x0s = float_array(x0s, f"starts must be an (n, {prob.dim}) array of numbers")
    if prob.dim == 1:
        x0s = x0s.reshape(-1, 1)
    elif x0s.ndim == 1:
        x0s = x0s.reshape(1, -1)
    if x0s.size and np.isfinite(x0s).all() and x0s.shape[1] == prob.dim:
        lo, hi = x0s.min(axis=0), x0s.max(axis=0)
        if isinstance(problem, str) and prob.key[0] == "expr":
            # an expression has no domain of its own: the starts' box, widened by 1, frames the figures
            prob = prob.with_domain(list(zip((lo - 1).tolist(), (hi + 1).tolist())))
        elif (lo < prob.domain_array[:, 0]).any() or (hi > prob.domain_array[:, 1]).any():
            # starts given one by one may lie outside the domain (which frames the figures): widened to them
            dom = prob.domain_array
            prob = prob.with_domain(list(zip(np.minimum(dom[:, 0], lo).tolist(), np.maximum(dom[:, 1], hi).tolist())))
    config = {
        "experiment": "descend", "problems": [prob], "method": [method],
        "alpha": np.atleast_1d(alpha).tolist(), "momentum": np.atleast_1d(momentum).tolist(),
        "starts": {"kind": "points", "points": x0s.tolist()},
        "criterion": np.atleast_1d(criterion).tolist(), "epsilon": np.atleast_1d(epsilon).tolist(),
        "min_steps": np.atleast_1d(min_steps).tolist(), "max_iter": max_iter, "dtype": dtype,
        "traces": traces, **settings,
    }
    from .execute import run_sweep
    from .schema import validate

    return run_sweep(validate(config))
