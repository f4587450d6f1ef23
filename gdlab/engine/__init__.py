"""The engine: many descents in one compiled JAX kernel, refilled as runs finish.

:func:`run_batch` and :func:`stream_batch` run arrays of starts;
:func:`trace_runs` replays a few runs' paths. How it works: docs/engine.md.
"""

from .._lazy import exports

_NAMES = {
    "EngineOptions": ".layout",
    "RunSource": ".driver",
    "hyper_rows": ".driver",
    "run_batch": ".driver",
    "stream_batch": ".driver",
    "trace_runs": ".driver",
    "kernel_cache_size": ".kernel",
    "default_lanes": ".layout",
    "device_bytes": ".layout",
    "float_dtype": ".layout",
    "lane_bytes": ".layout",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
