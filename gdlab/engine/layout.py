"""The kernel's settings and the layout of what it records: options, spec, record fields, memory.

A :class:`KernelSpec` says everything a compiled kernel is specialised on (the
objective, the method, dtype, rule count, lane width, chunk, max_iter,
curves, the criteria its rules use); two equal specs share one compilation.
A finished run leaves the kernel as one column of numbers (its *record*):
:func:`record_layout` names the fields and :func:`unpack` reads them back.
:func:`lane_bytes` and :func:`default_lanes` size the lanes to the device.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.criteria import checkpoints
from ..core.errors import InputError
from .chunks import CHUNK_MAX, PART_LANES

__all__ = ["EngineOptions", "KernelSpec", "float_dtype", "bucket", "curve_steps", "record_layout", "RECORD_FIELDS",
           "fills_at_on_host", "out_layout", "buffers_x", "buffered_rows", "record_width", "device_bytes", "lane_bytes",
           "default_lanes", "max_lanes", "decode", "unpack"]


class EngineOptions(NamedTuple):
    """Settings of one batch; ``lanes``/``part`` default from the device and batch size.

    ``chunk`` is the number of steps between refills. ``None`` (the default) lets each call pick
    it from the lengths of the runs finished so far (:func:`next_chunk`): while the device is the
    bottleneck, the one (8 to :data:`CHUNK_MAX`) that gets such runs done in the least time,
    weighing a finished lane's idle steps against the refills; on an accelerator, while the device
    waits on the host (a sweep writing its tables), a shorter one that aims at 90% of lane-steps
    useful, from 8 (on CPU devices a refill takes the host's own cores: never).
    A call dealt before any run has finished starts at 8 and, while the device is the
    bottleneck, doubles it in the kernel while few lanes finish. An integer fixes it.

    ``curves=False`` keeps no checkpoint curves: a record's ``curve_f`` and ``curve_g`` have no
    columns, and the rest of it (final state, stop records) is the same bits. For 2-D with
    ``max_iter`` = 2,000 a record is then 14 numbers instead of 58, and 2-D runs of a few dozen
    steps go 1.5–2.1× faster (Rastrigin 10-D 1.2–1.4×, Rosenbrock's long runs 1.16–1.8×, on the two
    CPUs measured), because moving and recording the curves is much of their cost; with one rule a
    step then writes no chunk buffer rows at all."""

    max_iter: int = 10_000
    dtype: str = "float32"
    x_bound: float = 1e8
    f_bound: float = 1e30
    lanes: int | None = None
    part: int | None = None
    chunk: int | None = None
    curves: bool = True


def curve_steps(max_iter: int, curves: bool = True) -> np.ndarray:
    """The steps a run's curve records (none without curves)."""
    return checkpoints(max_iter) if curves else np.zeros(0, np.int32)


class KernelSpec(NamedTuple):
    """What one compiled kernel is specialised on. ``objective`` (a problem's function, compared by
    value: :class:`~gdlab.core.problems.Objective`) and ``method`` (a registry entry) are hashable,
    so equal specs find the same compiled kernel."""

    objective: Any
    method: Any
    dtype: str
    n_rules: int
    lanes: int
    part: int
    chunk: int
    max_iter: int
    curves: bool = True
    # the criteria the rules use (their registry entries, compared: a name registered again is another
    # kernel), in registry order: all the step computes
    criteria: tuple = ()


def float_dtype(name: str):
    if name not in ("float32", "float64"):
        raise InputError(f"dtype must be float32 or float64, got {name!r}")
    return jnp.float32 if name == "float32" else jnp.float64


def bucket(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def max_lanes() -> int:
    # CPU: a few thousand lanes fill the vector units; accelerators want far more.
    return 4096 if jax.default_backend() == "cpu" else 1 << 18


def device_bytes() -> int:
    """Memory of one local device: the accelerator's limit, or on the CPU the host's RAM shared by
    its devices (one per core: :mod:`gdlab.engine.devices`), each of which may hold a kernel's lanes."""
    try:
        limit = (jax.local_devices()[0].memory_stats() or {}).get("bytes_limit")
        if limit:
            return int(limit)
    except Exception:   # backends without memory_stats
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // jax.local_device_count()


def lane_bytes(dim: int, n_rules: int, max_iter: int, chunk: int | None = None, dtype: str = "float32",
               curves: bool = True, n_hyper: int = 2, state: int | None = None, n_evals: int = 0) -> int:
    """Device memory one lane takes: its state and a gathered copy, the chunk buffer, and its share
    of the queue (up to :data:`PART_LANES` runs a lane) and of the output's columns (two more).
    ``n_hyper``: the method's hyperparameter rows (alpha included); ``state``: the numbers its
    optimiser state and a step's work hold (``Method.state_size``; default 4·dim)."""
    width = record_width(dim, n_rules, len(curve_steps(max_iter, curves)), n_hyper, n_evals)
    chunk = chunk or CHUNK_MAX
    buffered = sum(dim if name == "x" else 1 for name in buffered_rows(n_rules, curves))
    state = 4 * dim if state is None else state
    return np.dtype(dtype).itemsize * ((PART_LANES + 3) * width + chunk * buffered + PART_LANES * (dim + n_hyper) + state)


def default_lanes(n_runs: int, per_lane: int = 0) -> int:
    """Lane width for a kernel with ``n_runs`` runs: about an eighth of them — enough waiting runs
    to refill lanes as they finish, and a narrow kernel for the tail, where a few long runs are
    all that is left — capped by what the device wants and, given ``per_lane`` bytes
    (:func:`lane_bytes`), by a sixteenth of the device's memory."""
    cap = max_lanes()
    if per_lane:
        cap = min(cap, 1 << max(0, int(math.log2(max(1, device_bytes() // 16 // per_lane)))))
    return min(cap, bucket(max(1, n_runs // 8)))


# What a finished run's record holds: (name, leading shape as a function of (d, R, C, H, E), integer?);
# E is 2 for a method that counts its evaluations of f and ∇f (Method.evals), else 0
def record_layout(d: int, R: int, C: int, H: int = 2, E: int = 0):
    return (("run", (), True), ("x", (d,), False), ("f", (), False), ("g", (d,), False), ("k", (), True),
            ("status", (), True), ("fired", (R,), True), ("f_at", (R,), False), ("x_at", (R, d), False),
            ("hp", (H,), False), ("spent", (E,), True), ("curve_f", (C,), False), ("curve_g", (C,), False))


RECORD_FIELDS = tuple(name for name, _, _ in record_layout(1, 1, 1))


def fills_at_on_host(n_rules: int) -> bool:
    """Whether a record's f_at and x_at are filled in by the host rather than moved out of the
    kernel: with one rule, a run stops at the step its rule fires (:func:`buffers_x`), so they are
    the run's final f and x where the rule fired and nan where it did not."""
    return n_rules == 1


def out_layout(d: int, R: int, C: int, H: int = 2, E: int = 0):
    """The fields a call's output holds of each run: the record's, less those the host fills in."""
    host = ("f_at", "x_at") if fills_at_on_host(R) else ()
    return tuple(field for field in record_layout(d, R, C, H, E) if field[0] not in host)


def buffers_x(n_rules: int) -> bool:
    """Whether the chunk buffer keeps each step's x. With one rule a run stops at the step its rule
    fires (all its rules have fired: converged), so x and f there are the run's final x and f, and
    the d rows of x a step would write are not needed; with two or more, a rule can fire and the
    run go on. (With one rule the step does not track ``fired`` either: the rule fired at the run's
    last step if the run converged, which the recorder writes once a chunk.)"""
    return n_rules > 1


def buffered_rows(n_rules: int, curves: bool) -> tuple[str, ...]:
    """Which of a judged step's x, f and ‖∇f‖ the chunk buffer keeps: what the recorder reads of it.
    x and f where a rule fired, with two rules or more (:func:`buffers_x`); f and ‖∇f‖ at the
    checkpoints, with curves. One rule and no curves: nothing, and a step writes no buffer rows."""
    rules = buffers_x(n_rules)
    return tuple(name for name, kept in (("x", rules), ("f", rules or curves), ("g", curves)) if kept)


def record_width(d: int, R: int, C: int, H: int = 2, E: int = 0) -> int:
    """Numbers in one record as a call's output holds it (a column)."""
    return sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in out_layout(d, R, C, H, E))


def decode(a: np.ndarray) -> np.ndarray:
    """Integers back from a packed float block (the inverse of :func:`encode`)."""
    return a.view(np.int32) if a.dtype == np.float32 else a.astype(np.int32)


def unpack(packed: np.ndarray, d: int, R: int, C: int, H: int = 2, E: int = 0) -> dict[str, np.ndarray]:
    """The record fields of the runs in the columns of ``packed`` (W, n): views, runs first (f_at
    and x_at, where the host fills them in, new arrays: :func:`fills_at_on_host`)."""
    out, row = {}, 0
    n = packed.shape[1]
    for name, shape, is_int in out_layout(d, R, C, H, E):
        w = int(np.prod(shape, dtype=np.int64))
        a = packed[row:row + w]
        row += w
        out[name] = np.moveaxis((decode(a) if is_int else a).reshape(shape + (n,)), -1, 0)
    if fills_at_on_host(R):
        fired = out["fired"] >= 0                                       # (n, 1)
        nan = np.array(np.nan, packed.dtype)
        out["f_at"] = np.where(fired, out["f"][:, None], nan)
        out["x_at"] = np.where(fired[:, :, None], out["x"][:, None, :], nan)
    return {name: out[name] for name in RECORD_FIELDS}
