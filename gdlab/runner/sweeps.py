"""The Python entry points that return tables: run a config, or descend from an array of starts.

``gdlab.sweep`` and ``gdlab.descend`` run in memory and return :class:`~gdlab.tables.results.Results`.
A problem is given as :mod:`gdlab.runner.api` takes it (a registry name, an expression string, a
config mapping, a :class:`~gdlab.core.problems.Problem` or a plain JAX function).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.inputs import float_array
from ..core.problems import Problem, function_problem
from ..tables.results import Results
from .api import as_problem

__all__ = ["sweep", "descend"]


def sweep(config: Mapping | None = None) -> Results:
    """Validate a config mapping (docs/config.md's keys), run every run, and return the tables in memory.

    Keys not given take the schema's defaults; ``{"experiment": "x2_sin", …}`` runs that shipped
    experiment, the mapping's other keys over it (as ``gdlab experiment=x2_sin key=value``)."""
    # the sweep layer and the engine: imported when a sweep runs, not when the name is looked up
    from .execute import run_sweep
    from .experiments import with_experiment
    from .schema import validate

    return run_sweep(validate(with_experiment(config)))


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
