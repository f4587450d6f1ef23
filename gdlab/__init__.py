"""gdlab: gradient descent at scale — many descents in one compiled JAX kernel, tidy tables out.

The flow is config → runs → kernel → tables → folder → report; each stage is a
plain function on plain data, in a layer of its own (docs/layout.md):
``core`` → ``engine`` → ``tables`` → ``storage`` → ``runner`` → ``report`` →
``lessons`` → ``app``. The public Python API is here:

- :func:`sweep` runs a config mapping (docs/config.md's keys) and returns :class:`Results`;
- :func:`descend` does the same for an array of starts, for notebooks;
- :func:`load` reads a sweep folder back as :class:`Results`;
- :func:`run_batch` is the engine on raw arrays;
- :func:`inspect_point` gives f, ∇f, the Hessian and the point's type at a point;
- ``report(results_or_folder)`` writes a sweep's report (``gdlab.report`` is the report package, callable);
- :data:`PROBLEMS`, :data:`METHODS` and :data:`CRITERIA` are the registries;
- :class:`GdlabError` is the base of every error gdlab raises.

Names are imported on first use, so ``import gdlab`` (and ``gdlab --help``)
does not import JAX.
"""

__version__ = "0.1.0"

from ._lazy import exports  # noqa: E402
from .engine.devices import use_cpu_cores  # noqa: E402  (JAX-free until JAX is imported)

use_cpu_cores()   # before anything runs on JAX: one CPU device per core (gdlab/engine/devices.py)

_NAMES = {
    "sweep": ".runner.sweeps", "descend": ".runner.sweeps", "inspect_point": ".runner.api",
    "load": ".storage", "run_batch": ".engine", "stream_batch": ".engine", "trace_runs": ".engine",
    "EngineOptions": ".engine", "classify_points": ".core.points", "PointInfo": ".core.points",
    "validate": ".runner.schema", "Results": ".tables.results", "points": ".tables.columns",
    "Problem": ".core.problems", "PROBLEMS": ".core.problems", "get_problem": ".runner.api",
    "problem": ".core.problems", "METHODS": ".core.methods", "Method": ".core.methods", "Hyper": ".core.methods",
    "get_method": ".core.methods", "method": ".core.methods", "SCHEDULES": ".core.schedules",
    "schedule": ".core.schedules", "CRITERIA": ".core.criteria", "Status": ".core.criteria",
    "StopRule": ".core.criteria", "stop_rules": ".core.criteria",
    "GdlabError": ".core.errors", "ConfigError": ".core.errors", "UnknownNameError": ".core.errors",
    "ProblemError": ".core.errors", "ExpressionError": ".core.errors", "InputError": ".core.errors",
    "FolderError": ".core.errors",
}
_getattr, __dir__ = exports(__name__, _NAMES)


def __getattr__(name: str):
    if name == "report":      # the subpackage, callable: gdlab.report(results_or_folder), gdlab.report.build
        import importlib
        return importlib.import_module(".report", __name__)
    return _getattr(name)


__all__ = ["__version__", *_NAMES, "report", "use_cpu_cores"]
