"""gdlab: gradient descent at scale — many descents in one compiled JAX kernel, tidy tables out.

The flow is config → runs → kernel → tables; each stage is a plain function:

- :func:`sweep` runs a config mapping (DESIGN.md's keys) and returns :class:`Results`;
- :func:`descend` does the same for an array of starts, for notebooks;
- :func:`run_batch` is the engine on raw arrays;
- :func:`inspect_point` gives f, ∇f, the Hessian and the point's type at a point;
- :data:`PROBLEMS` and :data:`METHODS` are the registries.
"""

__version__ = "0.1.0"

from .devices import use_cpu_cores  # noqa: E402

use_cpu_cores()   # before anything runs on JAX: one CPU device per core (gdlab/devices.py)


from .config import ConfigError, Sweep, expand, validate  # noqa: E402
from .engine import EngineOptions, classify_points, run_batch, trace_runs  # noqa: E402
from .methods import METHODS, get_method, sign_halving  # noqa: E402
from .point import PointInfo, inspect_point  # noqa: E402
from .problems import PROBLEMS, Problem, get_problem  # noqa: E402
from .results import Results, points  # noqa: E402
from .stopping import CRITERIA, Status, StopRule, checkpoints, stop_rules  # noqa: E402
from .sweep import descend, run_sweep, sweep  # noqa: E402

__all__ = [
    "__version__", "sweep", "descend", "run_sweep", "run_batch", "trace_runs", "classify_points",
    "inspect_point", "PointInfo", "use_cpu_cores", "validate", "expand", "ConfigError", "Sweep", "EngineOptions", "Results", "points",
    "Problem", "PROBLEMS", "get_problem", "METHODS", "get_method", "sign_halving",
    "Status", "StopRule", "CRITERIA", "stop_rules", "checkpoints",
]
