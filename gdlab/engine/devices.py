"""One JAX CPU device per core, so a batch's parts run side by side on a multi-core CPU.

JAX gives a CPU one device, and XLA's CPU backend splits only large operations
over the cores: the kernel's step works on a few thousand lanes at a time, too
few to split, so one device keeps one core busy for most of a long run. The
engine deals a batch's parts over all local devices (``engine.stream_batch``),
so with a device per core every core runs lanes of its own.

``import gdlab`` calls :func:`use_cpu_cores` while JAX has not started yet. It
leaves any choice already made alone: ``XLA_FLAGS`` with
``--xla_force_host_platform_device_count``, or ``jax_num_cpu_devices`` set by
the caller. ``GDLAB_CPU_DEVICES=N`` asks for N devices (1 is JAX's default).
Accelerators are not affected: this is the CPU backend's device count only.

The engine's first batch calls :func:`keep_freed_memory`: on glibc, freed blocks of
up to 32 MB then stay in the process for reuse instead of going back to the system
at once. Each kernel call allocates and frees the same buffers of several MB (its
output rows, its temporaries); glibc's defaults hand the larger ones back
(``munmap``, or ``madvise`` on a thread's heap) and the next call takes them again
page by page. On Rastrigin 10-D at 10⁶ starts that was 30,000 page faults a run
and 5–10% of its time. Importing gdlab alone changes nothing (the benchmark's
baselines import its problems and keep glibc's defaults).
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES`` in the
environment are the caller's choice, and are kept.

On a CPU with AVX-512, :func:`cpu_compiler_options` asks XLA to compile the engine's
kernel for 512-bit vectors (XLA prefers 256 bits); only the kernel's ``jax.jit`` gets it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
from pathlib import Path

__all__ = ["use_cpu_cores", "usable_cores", "keep_freed_memory", "cpu_info", "cpu_compiler_options"]

ENV = "GDLAB_CPU_DEVICES"
JAX_ENV = "JAX_NUM_CPU_DEVICES"    # JAX's own setting, read as JAX is imported
SET_ENV = "GDLAB_SET_JAX_NUM_CPU_DEVICES"    # what gdlab put there (a child process inherits both)
MMAP_THRESHOLD = 32 << 20    # blocks below this come from the heap: glibc's largest allowed on 64-bit
TRIM_THRESHOLD = 256 << 20   # free memory at a heap's top kept for reuse, up to this
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3    # mallopt's parameters (malloc.h)
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a cluster's job limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def use_cpu_cores(n: int | None = None) -> int | None:
    """Ask JAX for ``n`` CPU devices (default: ``$GDLAB_CPU_DEVICES``, else one per usable core).

    Returns the count set, or None where it was left alone: the caller already chose one (an
    explicit ``n`` overrides that), or JAX has already started, when the count can no longer
    change. A bad ``$GDLAB_CPU_DEVICES`` raises ValueError naming it. Before JAX is imported the
    count goes to JAX's own setting in the environment (``JAX_NUM_CPU_DEVICES``), which JAX reads
    as it is imported: asking costs no import of JAX."""
    env = os.environ.get(ENV, "").strip()
    if n is None and env:
        n = int(env) if env.lstrip("+").isdigit() else 0
        if n < 1:
            raise ValueError(f"{ENV} must be a whole number of devices ≥ 1, got {env!r}")
    jax = sys.modules.get("jax")
    if n is None:
        # a JAX_NUM_CPU_DEVICES that gdlab set (here, or in the process that started this one, which may
        # have had more cores) is not a choice of the caller's
        ours = os.environ.get(JAX_ENV) is not None and os.environ.get(JAX_ENV) == os.environ.get(SET_ENV)
        chosen = ("xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
                  or (jax.config.jax_num_cpu_devices != -1 if jax is not None
                      else os.environ.get(JAX_ENV, "-1").strip() not in ("", "-1") and not ours))
        if chosen:
            return None      # the caller chose already
        n = usable_cores()
    if jax is None:
        os.environ[JAX_ENV] = os.environ[SET_ENV] = str(int(n))
        return int(n)
    try:
        jax.config.update("jax_num_cpu_devices", int(n))
    except RuntimeError:   # JAX has run something already: its devices are fixed for this process
        return None
    return int(n)


@functools.cache
def cpu_info() -> tuple[str, frozenset]:
    """The CPU's model name and its feature flags (``avx512f``, ``avx2``, …) from ``/proc/cpuinfo``;
    elsewhere the platform's processor name and no flags."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return model, flags


VECTOR_WIDTH = "xla_cpu_prefer_vector_width"


def cpu_compiler_options() -> dict | None:
    """XLA options for the engine's kernel on this CPU: on one with AVX-512, 512-bit vectors.

    XLA's CPU backend prefers 256-bit vectors by default. On an AVX-512 Xeon the kernel then
    took Rastrigin 10-D at 10⁶ starts from 0.50–0.51 to 0.45–0.46 s, with the same bits in
    every record. A choice the caller already made in ``XLA_FLAGS`` is kept (None)."""
    if VECTOR_WIDTH in os.environ.get("XLA_FLAGS", "") or "avx512f" not in cpu_info()[1]:
        return None
    return {VECTOR_WIDTH: 512}


_kept: list = []     # what keep_freed_memory set, once per process


def keep_freed_memory() -> tuple[int, int] | None:
    """On glibc, keep freed blocks below :data:`MMAP_THRESHOLD` and up to :data:`TRIM_THRESHOLD` of
    free heap in the process for reuse (``mallopt``; once a process, later calls return the same).
    Returns the two thresholds set, or None where nothing was set: not glibc, or the environment
    sets glibc's malloc already."""
    if not _kept:
        _kept.append(_set_malloc())
    return _kept[0]


def _set_malloc() -> tuple[int, int] | None:
    if any(os.environ.get(k) for k in _MALLOC_ENV):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version        # glibc's own symbol: other C libraries' mallopt differ
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return None
    return MMAP_THRESHOLD, TRIM_THRESHOLD
