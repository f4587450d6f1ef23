"""The engine: many descents in one compiled JAX kernel, refilled as runs finish.

:func:`run_batch` and :func:`stream_batch` run arrays of starts;
:func:`trace_runs` replays a few runs' paths. How it works: docs/engine.md.
"""

from .driver import RunSource, hyper_rows, run_batch, stream_batch, trace_runs
from .kernel import kernel_cache_size
from .layout import EngineOptions, default_lanes, device_bytes, float_dtype, lane_bytes

__all__ = ["EngineOptions", "RunSource", "hyper_rows", "run_batch", "stream_batch", "trace_runs", "kernel_cache_size",
           "default_lanes", "device_bytes", "float_dtype", "lane_bytes"]
