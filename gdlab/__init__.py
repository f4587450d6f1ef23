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
- :data:`PROBLEMS`, :data:`METHODS` and :data:`CRITERIA` are the registries;
- :class:`GdlabError` is the base of every error gdlab raises.
"""

__version__ = "0.1.0"

from .engine.devices import use_cpu_cores  # noqa: E402

use_cpu_cores()   # before anything runs on JAX: one CPU device per core (gdlab/engine/devices.py)


from .core.criteria import CRITERIA, Status, StopRule, stop_rules  # noqa: E402
from .core.errors import (  # noqa: E402
                          ConfigError,
                          ExpressionError,
                          FolderError,
                          GdlabError,
                          InputError,
                          ProblemError,
                          UnknownNameError,
)
from .core.methods import METHODS, Hyper, Method, get_method, method  # noqa: E402
from .core.points import PointInfo, classify_points  # noqa: E402
from .core.problems import PROBLEMS, Problem, get_problem, problem  # noqa: E402
from .engine import EngineOptions, run_batch, stream_batch, trace_runs  # noqa: E402
from .runner.api import descend, inspect_point, sweep  # noqa: E402
from .runner.schema import validate  # noqa: E402
from .storage.load import load  # noqa: E402
from .tables.columns import points  # noqa: E402
from .tables.results import Results  # noqa: E402

__all__ = [
    "__version__", "sweep", "descend", "load", "run_batch", "stream_batch", "trace_runs", "inspect_point",
    "classify_points", "PointInfo", "validate", "EngineOptions", "Results", "points",
    "Problem", "PROBLEMS", "get_problem", "problem", "METHODS", "Method", "Hyper", "get_method", "method",
    "CRITERIA", "Status", "StopRule", "stop_rules",
    "GdlabError", "ConfigError", "UnknownNameError", "ProblemError", "ExpressionError", "InputError", "FolderError",
    "use_cpu_cores",
]
