"""The compiled kernel: many descents advanced together, refilled as they finish.

Runs of one (problem, method, dtype, stop-rule count) share one kernel. The
kernel holds ``lanes`` runs at once and advances them ``chunk`` steps at a
time; after each chunk it harvests the runs that finished into an output
buffer and refills their lanes from a queue of waiting runs, so the device
works on live runs rather than waiting for the slowest lane (DESIGN.md,
Engine). Lanes carry over between calls: a call consumes one part of the
queue and returns what finished; only the last call drains the lanes.

Layout: lanes are the last axis of every array (x is ``(d, L)``), so each
coordinate is a contiguous row and the whole step is elementwise across
lanes, which is what XLA vectorises. A problem written coordinate-first
(``Problem.vectorized``) is evaluated on the ``(d, L)`` block directly, and
its gradient comes from one vector-Jacobian product; others are vmapped.

One step judges the lane's current point (every stop rule, finiteness,
divergence, max_iter) from values already in the carry, then moves the
lanes still running and evaluates f and ∇f at the new point into the carry.
Nothing computed in a step is consumed twice within it, so XLA never
recomputes f or ∇f to feed a second fusion. A finished lane keeps its point
(its f and ∇f are recomputed at the same point, to the same bits) until it
is harvested. Lanes are loaded only at chunk boundaries, with f and ∇f of
their start evaluated at loading.

What the records need of each judged step (x, f, ‖∇f‖) goes to a chunk
buffer; once per chunk the kernel takes from it f and x where a rule fired
and the checkpoint curves, so the per-step work stays minimal.

Starts and hyperparameters are traced arrays, and shapes are bucketed to
powers of two, so changing alpha or the number of starts does not recompile
(crossing a power of two of lanes does, once).

Reproducibility: at a given lane width a run's numbers do not depend on the
other runs, its lane or when it was loaded (bit for bit). Across widths XLA
may contract a multiply-add into an FMA at one width and not another, which
moves the last bit; so a sweep fixes its lane width from its whole size, and
its shards use that same width.
"""

from __future__ import annotations

import functools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .devices import cpu_compiler_options, keep_freed_memory
from .methods import get_method
from .problems import Problem
from .stopping import CRITERIA, Status, StopRule, checkpoints, rule_arrays

__all__ = ["EngineOptions", "default_lanes", "lane_bytes", "device_bytes", "run_batch", "stream_batch", "trace_runs", "classify_points",
           "kernel_cache_size", "float_dtype", "RunSource"]

DX, DF, GRAD = (CRITERIA.index(name) for name in ("dx", "df", "grad"))
ALL_CRITERIA = (DX, DF, GRAD)


class EngineOptions(NamedTuple):
    """Settings of one batch; ``lanes``/``part`` default from the device and batch size.

    ``chunk`` is the number of steps between refills. ``None`` (the default) lets each call pick
    it from the lengths of the runs finished so far (:func:`next_chunk`): while the device is the
    bottleneck, the one (8 to :data:`CHUNK_MAX`) that gets such runs done in the least time,
    weighing a finished lane's idle steps against the refills; while the device waits on the host
    (a sweep writing its tables), a shorter one that aims at 90% of lane-steps useful, from 8.
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


def _checkpoints(max_iter: int, curves: bool = True) -> np.ndarray:
    """The steps a run's curve records (none without curves)."""
    return checkpoints(max_iter) if curves else np.zeros(0, np.int32)


class Lanes(NamedTuple):
    """The kernel's state; every array has the lanes as its last axis."""

    run: Any        # (L,) int32: the run's number in the stream; -1 = empty lane
    x: Any          # (d, L): the current point, k updates from the start
    f: Any          # (L,): f(x)
    g: Any          # (d, L): ∇f(x)
    dx: Any         # (L,): ‖x − the point before‖ (0 at the start)
    f_before: Any   # (L,): f at the point before (f itself at the start): |Δf| is taken from it when judged
    opt: Any        # optax state, lanes last
    k: Any          # (L,) int32: updates done
    status: Any     # (L,) int32 (Status)
    fired: Any      # (R, L) int32: first step each rule fired, -1 if not yet
    f_at: Any       # (R, L); (0, L) with one rule, where the host fills them in (_from_the_end)
    x_at: Any       # (R, d, L); (0, d, L) likewise
    hp: Any         # (2, L): alpha, momentum
    curve_f: Any    # (C, L): f at the checkpoint steps
    curve_g: Any    # (C, L): ‖∇f‖ at the checkpoint steps
    scratch: Any    # the chunk buffer: of each judged step, the rows the recorder reads (:func:`_buffered`):
                    # x (K, d, L), f (K, L), ‖∇f‖ (K, L); carried from call to call so it is not allocated
                    # anew (every row is written before it is read)


# What a finished run's record holds: (name, leading shape as a function of (d, R, C), integer?)
def _record_layout(d: int, R: int, C: int):
    return (("run", (), True), ("x", (d,), False), ("f", (), False), ("g", (d,), False), ("k", (), True),
            ("status", (), True), ("fired", (R,), True), ("f_at", (R,), False), ("x_at", (R, d), False),
            ("hp", (2,), False), ("curve_f", (C,), False), ("curve_g", (C,), False))


RECORD_FIELDS = tuple(name for name, _, _ in _record_layout(1, 1, 1))


def _from_the_end(n_rules: int) -> bool:
    """Whether a record's f_at and x_at are filled in by the host rather than moved out of the
    kernel: with one rule, a run stops at the step its rule fires (:func:`_buffers_x`), so they are
    the run's final f and x where the rule fired and nan where it did not."""
    return n_rules == 1


def _out_layout(d: int, R: int, C: int):
    """The fields a call's output holds of each run: the record's, less those the host fills in."""
    host = ("f_at", "x_at") if _from_the_end(R) else ()
    return tuple(field for field in _record_layout(d, R, C) if field[0] not in host)


def _buffers_x(n_rules: int) -> bool:
    """Whether the chunk buffer keeps each step's x. With one rule a run stops at the step its rule
    fires (all its rules have fired: converged), so x and f there are the run's final x and f, and
    the d rows of x a step would write are not needed; with two or more, a rule can fire and the
    run go on. (With one rule the step does not track ``fired`` either: the rule fired at the run's
    last step if the run converged, which the recorder writes once a chunk.)"""
    return n_rules > 1


def _buffered(n_rules: int, curves: bool) -> tuple[str, ...]:
    """Which of a judged step's x, f and ‖∇f‖ the chunk buffer keeps: what the recorder reads of it.
    x and f where a rule fired, with two rules or more (:func:`_buffers_x`); f and ‖∇f‖ at the
    checkpoints, with curves. One rule and no curves: nothing, and a step writes no buffer rows."""
    rules = _buffers_x(n_rules)
    return tuple(name for name, kept in (("x", rules), ("f", rules or curves), ("g", curves)) if kept)


def _record_width(d: int, R: int, C: int) -> int:
    """Numbers in one record as a call's output holds it (a column)."""
    return sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in _out_layout(d, R, C))


CHUNK_MAX = 256      # rows of the chunk buffer when the chunk adapts
CHUNK_MIN = 8        # the least the chunk adapts to (and the chunk until a run has finished)
PART_LANES = 16      # a large batch's calls take up to this many lanes' worth of runs each
REFILL_STEPS = 30    # what a refill costs, in steps of the lanes (fitted on a 2-core CPU: next_chunk)
UTILISATION = 0.9    # what the chunk aims at while the device waits on the host
HOST_WAIT = 0.5      # the device waits on the host while the host spends less than this share of its time waiting
SHORT = 4096         # RunLengths counts lengths up to this one by one, and sums the longer ones


class RunLengths:
    """The judged steps (k + 1) of the runs finished so far: the evidence the chunk adapts to.
    Lengths up to :data:`SHORT` are counted one by one; longer runs only by their sum, which
    is all a chunk of at most :data:`CHUNK_MAX` steps needs of them."""

    def __init__(self):
        self.counts = np.zeros(SHORT + 1, np.int64)
        self.long_runs = self.long_steps = 0

    def add(self, k) -> None:
        n = np.asarray(k, np.int64).ravel() + 1
        long = n > SHORT
        self.counts += np.bincount(n[~long], minlength=SHORT + 1)
        self.long_runs += int(long.sum())
        self.long_steps += int(n[long].sum())

    @property
    def runs(self) -> int:
        return int(self.counts.sum()) + self.long_runs

    @property
    def mean(self) -> float:
        return (float(self.counts @ np.arange(SHORT + 1)) + self.long_steps) / max(1, self.runs)

    def lane_time(self, chunks, refill: float) -> np.ndarray:
        """Steps' worth of lane time these runs take with each chunk c: a run of n judged steps
        holds its lane ⌈n/c⌉ chunks (loaded at a chunk's start, harvested at the end of the one it
        finishes in), and each chunk costs c steps plus a refill. A long run's ⌈n/c⌉ is n/c + ½."""
        c = np.asarray(chunks, np.float64)
        n = np.flatnonzero(self.counts)
        held = (np.ceil(n[None, :] / c[:, None]) * self.counts[n][None, :]).sum(axis=1)
        held += self.long_steps / c + 0.5 * self.long_runs
        return held * (c + refill)


def next_chunk(lengths: RunLengths, cap: int = CHUNK_MAX, device_idle: bool = False) -> int:
    """The adaptive chunk, from the lengths of the runs finished so far (mean m).

    While the device is the bottleneck: the chunk in [CHUNK_MIN, cap] that gets these runs done
    in the least lane time (:meth:`RunLengths.lane_time`), a refill costing
    :data:`REFILL_STEPS` steps. A short chunk idles a finished lane less; a long one refills
    less often. (Fitted on 2 CPU cores, 10⁶ runs at fixed chunks, time = a·lane-steps +
    b·chunks + c: a refill costs 34 steps of Himmelblau's runs of about 42 steps, 17 of
    Rastrigin 2-D's; the chunk chosen for Rastrigin's short runs is the same from 12 to 34.)
    While the device waits on the host (``device_idle``: a sweep building and writing its
    tables), refills are free to the caller, so it aims at :data:`UTILISATION`: a lane idles
    about half a chunk per run, so the largest power of two at most 2m(1 − u)/u, within
    [CHUNK_MIN, cap]. Before any run has finished (the first calls): CHUNK_MIN, so the first
    lengths come back soon and lanes idle little while nothing is known; while the device is
    the bottleneck, such a call then doubles its chunk in the kernel after each chunk in which
    fewer than an eighth of the lanes finished (long runs stop refilling every 8 steps)."""
    least = min(CHUNK_MIN, cap)
    if lengths.runs == 0:
        return least
    if device_idle:
        most = 2 * lengths.mean * (1 - UTILISATION) / UTILISATION
        return int(min(cap, max(least, 1 << max(0, int(math.floor(math.log2(max(most, 1))))))))
    chunks = np.arange(least, cap + 1)
    return int(chunks[np.argmin(lengths.lane_time(chunks, REFILL_STEPS))])


class _Spec(NamedTuple):
    problem: Problem
    method: str
    dtype: str
    n_rules: int
    lanes: int
    part: int
    chunk: int
    max_iter: int
    curves: bool = True
    criteria: tuple[int, ...] = ALL_CRITERIA   # the criteria the rules use (codes, sorted): all the step computes


def float_dtype(name: str):
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {name!r}")
    return jnp.float32 if name == "float32" else jnp.float64


def _bucket(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def _max_lanes() -> int:
    # CPU: a few thousand lanes fill the vector units; accelerators want far more.
    return 4096 if jax.default_backend() == "cpu" else 1 << 18


def device_bytes() -> int:
    """Memory of one local device: the accelerator's limit, or on the CPU the host's RAM shared by
    its devices (one per core: :mod:`gdlab.devices`), each of which may hold a kernel's lanes."""
    try:
        limit = (jax.local_devices()[0].memory_stats() or {}).get("bytes_limit")
        if limit:
            return int(limit)
    except Exception:   # backends without memory_stats
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // jax.local_device_count()


def lane_bytes(dim: int, n_rules: int, max_iter: int, chunk: int | None = None, dtype: str = "float32",
               curves: bool = True) -> int:
    """Device memory one lane takes: its state and a gathered copy, the chunk buffer, and its share
    of the queue (up to :data:`PART_LANES` runs a lane) and of the output's columns (two more)."""
    width = _record_width(dim, n_rules, len(_checkpoints(max_iter, curves)))
    chunk = chunk or CHUNK_MAX
    buffered = sum(dim if name == "x" else 1 for name in _buffered(n_rules, curves))
    return np.dtype(dtype).itemsize * ((PART_LANES + 3) * width + chunk * buffered + PART_LANES * (dim + 2) + 4 * dim)


def default_lanes(n_runs: int, per_lane: int = 0) -> int:
    """Lane width for a kernel with ``n_runs`` runs: about an eighth of them — enough waiting runs
    to refill lanes as they finish, and a narrow kernel for the tail, where a few long runs are
    all that is left — capped by what the device wants and, given ``per_lane`` bytes
    (:func:`lane_bytes`), by a sixteenth of the device's memory."""
    cap = _max_lanes()
    if per_lane:
        cap = min(cap, 1 << max(0, int(math.log2(max(1, device_bytes() // 16 // per_lane)))))
    return min(cap, _bucket(max(1, n_runs // 8)))


def _where(cond, new, old):
    """Per-lane select over whole pytrees; ``cond`` is (L,) and broadcast over leading axes."""
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)


# Reductions over a lane's few coordinates or rules are written out row by row:
# with lanes last each row is a vector across lanes, so the fold stays elementwise
# and vectorises. Long axes fall back to the reduce over axis 0.
_UNROLL = 64


def _fold(op, v):
    if v.shape[0] > _UNROLL or v.shape[0] == 0:
        return None
    acc = v[0]
    for i in range(1, v.shape[0]):
        acc = op(acc, v[i])
    return acc


def _norm(v):
    acc = _fold(jnp.add, v * v)
    return jnp.sqrt(acc if acc is not None else jnp.sum(v * v, axis=0))


def _all(v):
    acc = _fold(jnp.logical_and, v)
    return acc if acc is not None else jnp.all(v, axis=0)


def _max_abs(v):
    acc = _fold(jnp.maximum, jnp.abs(v))
    return acc if acc is not None else jnp.max(jnp.abs(v), axis=0)


def _finite(v):
    """All rows finite, per lane: v·0 is 0 for a finite entry and nan otherwise."""
    acc = _fold(jnp.add, v * 0)
    return jnp.isfinite(acc if acc is not None else jnp.sum(v * 0, axis=0))


def _value_and_grad(problem: Problem):
    """(d, L) → (f (L,), ∇f (d, L)): one vector-Jacobian product for a coordinate-first problem
    (each lane's value depends on its own column only), a vmap over lanes otherwise."""
    if problem.vectorized:
        def vg(x):
            f, vjp = jax.vjp(problem.fn, x)
            return f, vjp(jnp.ones_like(f))[0]
        return vg
    return jax.vmap(jax.value_and_grad(problem.fn), in_axes=-1, out_axes=(0, -1))


def _lane_fns(spec: _Spec):
    """The lane functions of one kernel spec, all on whole (…, L) blocks.

    ``load(lanes, take, run, x0, hp)`` puts new runs into the lanes where ``take``
    and evaluates f and ∇f at their starts; ``step(lanes, rules, bounds)`` judges
    and advances every lane once, returning the judged (x, f, ‖∇f‖) for the
    chunk buffer.
    """
    make = get_method(spec.method).make
    dt = float_dtype(spec.dtype)
    d, R, L, K = spec.problem.dim, spec.n_rules, spec.lanes, spec.chunk
    C = len(_checkpoints(spec.max_iter, spec.curves))
    R_at = 0 if _from_the_end(R) else R       # the rules whose f_at and x_at the lanes keep
    criteria = spec.criteria
    vg = _value_and_grad(spec.problem)
    v_init = jax.vmap(lambda x, a, m: make(a, m).init(x), in_axes=-1, out_axes=-1)
    v_update = jax.vmap(lambda g, o, x, a, m: make(a, m).update(g, o, x), in_axes=-1, out_axes=-1)

    def empty():
        x = jnp.zeros((d, L), dt)
        hp = jnp.ones((2, L), dt)
        f, g = vg(x)
        return Lanes(run=jnp.full((L,), -1, jnp.int32), x=x, f=f, g=g, dx=jnp.zeros_like(f), f_before=f,
                     opt=v_init(x, hp[0], hp[1]), k=jnp.zeros((L,), jnp.int32),
                     status=jnp.full((L,), int(Status.running), jnp.int32), fired=jnp.full((R, L), -1, jnp.int32),
                     f_at=jnp.full((R_at, L), jnp.nan, dt), x_at=jnp.full((R_at, d, L), jnp.nan, dt), hp=hp,
                     curve_f=jnp.full((C, L), jnp.nan, dt), curve_g=jnp.full((C, L), jnp.nan, dt),
                     scratch=tuple(jnp.zeros((K, d, L) if name == "x" else (K, L), dt)
                                   for name in _buffered(R, spec.curves)))

    def load(lanes: Lanes, take, run, x0, hp) -> Lanes:
        x = jnp.where(take, x0.astype(dt), lanes.x)
        hp = jnp.where(take, hp.astype(dt), lanes.hp)
        f, g = vg(x)
        f = jnp.where(take, f, lanes.f)
        g = jnp.where(take, g, lanes.g)
        opt = _where(take, v_init(x, hp[0], hp[1]), lanes.opt)
        # f_at, x_at and the curves keep the lane's last run's values: the recorder overwrites every
        # entry the new run reaches, and the packing blanks the others (fired < 0, checkpoint > k)
        return lanes._replace(run=jnp.where(take, run, lanes.run), x=x, f=f, g=g, dx=jnp.where(take, 0, lanes.dx),
                              f_before=jnp.where(take, f, lanes.f_before), opt=opt, k=jnp.where(take, 0, lanes.k),
                              status=jnp.where(take, Status.running, lanes.status),
                              fired=jnp.where(take, -1, lanes.fired), hp=hp)

    def step(lanes: Lanes, rules, bounds):
        crit, eps, min_steps = (r[:, None] for r in rules)
        x_bound, f_bound = bounds
        x, f, g, k = lanes.x, lanes.f, lanes.g, lanes.k
        live = (lanes.run >= 0) & (lanes.status == Status.running)
        # judge step k from the carry
        gnorm = _norm(g)
        finite = jnp.isfinite(f) & _finite(g) & _finite(x)
        # |Δf| from the carried f and the f before: the step's new f then has one reader (the carry), so
        # XLA computes it once (a second reader had it recompute f, a third of a Rastrigin 10-D step)
        df = jnp.abs(f - lanes.f_before) if DF in criteria else None
        # each rule's criterion; the kernel is compiled for the criteria its rules use, and computes
        # no other (‖Δx‖ alone is about 5% of a step)
        value = None
        for code, q in zip((DX, DF, GRAD), (lanes.dx, df, gnorm)):
            if code in criteria:
                value = q if value is None else jnp.where(crit == code, q, value)
        value = jnp.broadcast_to(jnp.zeros_like(f) if value is None else value, crit.shape[:1] + f.shape)
        # A comparison with nan is false, and a nonfinite step is refused outright:
        # a fault never counts as a fired rule. At the start only ‖∇f‖ is defined.
        allowed = (k >= min_steps) & finite & ((k > 0) | (crit == GRAD))
        if R == 1:
            # the run stops where its only rule fires: `fired` is written by the recorder (_buffers_x)
            fired, all_fired = lanes.fired, allowed[0] & (value[0] < eps[0])
        else:
            fired = jnp.where(live & allowed & (lanes.fired < 0) & (value < eps), k, lanes.fired)
            all_fired = _all(fired >= 0) if R else jnp.zeros_like(live)
        diverged = (_max_abs(x) > x_bound) | (jnp.abs(f) > f_bound)
        # the first that holds, in this order (a chain of selects: jnp.select would lower to a reduce)
        status = jnp.where(k >= spec.max_iter, Status.max_iter, Status.running)
        for cond, code in ((diverged, Status.diverged), (all_fired, Status.converged), (~finite, Status.nonfinite),
                           (~finite & (k == 0), Status.invalid_start)):
            status = jnp.where(cond, code, status)
        status = jnp.where(live, status, lanes.status).astype(jnp.int32)
        go = live & (status == Status.running)
        # move the lanes still running; evaluate f and ∇f at the new point
        updates, opt_next = v_update(g, lanes.opt, x, lanes.hp[0], lanes.hp[1])
        x_new = jnp.where(go, x + updates.astype(dt), x)
        opt = _where(go, opt_next, lanes.opt)
        f_new, g_new = vg(x_new)
        # ‖Δx‖ of the new step, from both points while both are at hand (|Δf| waits for its judging)
        lanes = lanes._replace(x=x_new, f=f_new, g=g_new, dx=_norm(x_new - x) if DX in criteria else lanes.dx,
                               f_before=f, opt=opt, k=k + go.astype(jnp.int32),
                               status=status, fired=fired)
        return lanes, (x, f, gnorm)

    return empty, load, step


def _rows(buf, rows):
    """buf (K, …, L) and rows (R, L) with entries in [0, K) → (R, …, L): per lane, the rows it asks for."""
    idx = rows.reshape(rows.shape[:1] + (1,) * (buf.ndim - 2) + rows.shape[1:])
    return jnp.take_along_axis(buf, jnp.broadcast_to(idx, rows.shape[:1] + buf.shape[1:]), axis=0)


def _chunk_recorder(spec: _Spec, K: int):
    """Fill the cold fields (f, x where rules fired; checkpoint curves) from a chunk's buffer;
    with one rule, also the rule's step, and its f and x from the run's last step (:func:`_buffers_x`).

    The buffer has K rows; a chunk runs ``kd`` ≤ K steps (a traced number). A
    lane live at the chunk's start with k = k0 judged rows 0 … last of the
    buffer, steps k0 … k0 + last. Lanes are loaded only at chunk boundaries, so
    a run's first chunk starts at k0 = 0 and holds the checkpoints below K at
    fixed rows; in any later chunk the few checkpoints of its window are found
    per lane, for as long as some lane has one left.
    """
    cps_np = _checkpoints(spec.max_iter, spec.curves)
    C = len(cps_np)
    first = np.array([int(c) for c in cps_np if c < K], dtype=np.int32)
    n_first = len(first)
    cps_all = jnp.asarray(np.append(cps_np, np.iinfo(np.int32).max).astype(np.int32))
    lane_ids = jnp.arange(spec.lanes)

    def record(lanes: Lanes, kd, k0, live0, fired_before, scratch) -> Lanes:
        buf = dict(zip(_buffered(spec.n_rules, spec.curves), scratch))
        xbuf, fbuf, gbuf = buf.get("x"), buf.get("f"), buf.get("g")
        last = jnp.where(lanes.status == Status.running, kd - 1, lanes.k - k0)
        judged = live0 & (last >= 0)
        # f and x at the step each newly fired rule fired: from the buffer, or with one rule the
        # run's last step, where it stopped (_buffers_x)
        if xbuf is not None:
            new = (lanes.fired >= 0) & (fired_before < 0) & judged
            rows = jnp.clip(lanes.fired - k0, 0, K - 1)
            f_at, x_at = _rows(fbuf, rows), _rows(xbuf, rows)
        elif lanes.fired.shape[0]:
            # one rule: it fired where the run converged, at its last step
            new = (judged & (lanes.status == Status.converged))[None]
            lanes = lanes._replace(fired=jnp.where(new, lanes.k, lanes.fired))
            f_at, x_at = lanes.f[None], lanes.x[None]
        if lanes.f_at.shape[0]:
            lanes = lanes._replace(f_at=jnp.where(new, f_at, lanes.f_at),
                                   x_at=jnp.where(new[:, None, :], x_at, lanes.x_at))
        # checkpoints in a run's first chunk: fixed rows
        curve_f, curve_g = lanes.curve_f, lanes.curve_g
        if n_first:
            hit = judged & (k0 == 0) & (jnp.asarray(first)[:, None] <= last)
            curve_f = curve_f.at[:n_first].set(jnp.where(hit, fbuf[first], curve_f[:n_first]))
            curve_g = curve_g.at[:n_first].set(jnp.where(hit, gbuf[first], curve_g[:n_first]))
        if C == 0:
            return lanes._replace(curve_f=curve_f, curve_g=curve_g)
        # later chunks: the checkpoints at or after k0, one per lane per round, while any lane has one
        s0 = jnp.searchsorted(cps_all, k0).astype(jnp.int32)
        later = judged & (k0 > 0)

        def row_of(t):
            idx = s0 + t
            return idx, cps_all[jnp.minimum(idx, C)] - k0

        def more(carry):
            t, _, _ = carry
            return jnp.any(later & (row_of(t)[1] <= last))

        def one(carry):
            t, curve_f, curve_g = carry
            idx, row = row_of(t)
            hit = later & (row <= last)
            rowc = jnp.clip(row, 0, K - 1)[None]
            at = (jnp.where(hit, idx, C), lane_ids)
            curve_f = curve_f.at[at].set(_rows(fbuf, rowc)[0], mode="drop")
            curve_g = curve_g.at[at].set(_rows(gbuf, rowc)[0], mode="drop")
            return t + 1, curve_f, curve_g

        _, curve_f, curve_g = jax.lax.while_loop(more, one, (jnp.int32(0), curve_f, curve_g))
        return lanes._replace(curve_f=curve_f, curve_g=curve_g)

    return record


def _ranks(mask):
    """1, 2, … over the lanes where ``mask`` (in a fixed order of the lanes; 0 elsewhere).

    The order is column-major over a (√L, √L) view, so the prefix sums run down
    rows — vector adds across lanes, by an associative scan — instead of a
    cumsum over one long axis, which XLA's CPU backend computes slowly."""
    L = mask.shape[0]
    rows = 1 << (int(math.log2(L)) // 2)
    within = jax.lax.associative_scan(jnp.add, mask.astype(jnp.int32).reshape(rows, L // rows), axis=0)
    total = within[-1]
    before = jnp.cumsum(total) - total              # columns to the left (a short cumsum)
    return jnp.where(mask, (within + before[None, :]).reshape(L), 0)


def _encode(a, dt):
    return jax.lax.bitcast_convert_type(a, jnp.float32) if dt == jnp.float32 else a.astype(dt)


def _fields(lanes: Lanes, dt, cps) -> list:
    """Every record field of every lane as (rows, L) arrays, in the record's order (the rows of the
    output a finished run's column is written to). Integers ride along exactly: bit-cast into
    float32, converted into float64. Entries a run never reached (a rule that did not fire, a
    checkpoint ``cps`` past its last step) are nan, whatever the lane held from its last run."""
    unfired = lanes.fired < 0
    beyond = cps[:, None] > lanes.k[None, :]
    blank = {"f_at": unfired, "x_at": unfired[:, None, :], "curve_f": beyond, "curve_g": beyond}
    cols = []
    for name, _, is_int in _out_layout(lanes.x.shape[0], lanes.fired.shape[0], lanes.curve_f.shape[0]):
        a = getattr(lanes, name)
        if name in blank:
            a = jnp.where(blank[name], jnp.nan, a)
        a = a.reshape((-1, a.shape[-1]))
        cols.append(_encode(a, dt) if is_int else a)
    return cols


def _decode(a: np.ndarray) -> np.ndarray:
    """Integers back from a packed float block (the inverse of :func:`_encode`)."""
    return a.view(np.int32) if a.dtype == np.float32 else a.astype(np.int32)


def _unpack(packed: np.ndarray, d: int, R: int, C: int) -> dict[str, np.ndarray]:
    """The record fields of the runs in the columns of ``packed`` (W, n): views, runs first (f_at
    and x_at, where the host fills them in, new arrays: :func:`_from_the_end`)."""
    out, row = {}, 0
    n = packed.shape[1]
    for name, shape, is_int in _out_layout(d, R, C):
        w = int(np.prod(shape, dtype=np.int64))
        a = packed[row:row + w]
        row += w
        out[name] = np.moveaxis((_decode(a) if is_int else a).reshape(shape + (n,)), -1, 0)
    if _from_the_end(R):
        fired = out["fired"] >= 0                                       # (n, 1)
        nan = np.array(np.nan, packed.dtype)
        out["f_at"] = np.where(fired, out["f"][:, None], nan)
        out["x_at"] = np.where(fired[:, :, None], out["x"][:, None, :], nan)
    return {name: out[name] for name in RECORD_FIELDS}


@functools.lru_cache(maxsize=None)
def _kernel(spec: _Spec):
    """The refill loop (`call`) and the empty lanes (`empty`) of one spec, on one device's blocks; cached, and
    compiled once, for all devices, by :func:`_sharded_kernel`."""
    empty, load, step = _lane_fns(spec)
    L, P, K = spec.lanes, spec.part, spec.chunk
    B = P + L   # runs out: at most the queued runs and the runs carried in from the last call
    lane_ids = jnp.arange(L, dtype=jnp.int32)
    dt = float_dtype(spec.dtype)
    record = _chunk_recorder(spec, K)
    buffered = _buffered(spec.n_rules, spec.curves)
    cps = jnp.asarray(_checkpoints(spec.max_iter, spec.curves), jnp.int32)

    def refill(lanes, ptr, queue, n_queue, base):
        x0, hp = queue                                   # (d, P), (2, P)
        empty_ = lanes.run < 0
        src = ptr + _ranks(empty_) - 1
        take = empty_ & (src < n_queue)
        src = jnp.clip(src, 0, P - 1)
        lanes = load(lanes, take, base + src, jnp.take(x0, src, axis=1), jnp.take(hp, src, axis=1))
        return lanes, ptr + jnp.sum(take, dtype=jnp.int32)

    def harvest(lanes, out, n_out):
        done = (lanes.run >= 0) & (lanes.status != Status.running)
        # finished runs go to the next free columns, in the order of their lanes: the output is dense, so
        # the host reads columns 0 … n_out − 1 in place (each record carries its run). Each field's rows
        # are gathered, done lanes first, and written L columns at once: the columns past the done
        # lanes' are overwritten by the next harvest, or never read
        first = jnp.zeros(L, jnp.int32).at[jnp.where(done, _ranks(done) - 1, L)].set(lane_ids, mode="drop")
        row = 0
        for a in _fields(lanes, dt, cps):
            out = jax.lax.dynamic_update_slice(out, jnp.take(a, first, axis=1, mode="clip"),
                                               (jnp.int32(row), n_out))
            row += a.shape[0]
        return lanes._replace(run=jnp.where(done, -1, lanes.run)), out, n_out + jnp.sum(done, dtype=jnp.int32)

    def chunk(lanes, kd, rules, bounds):
        def inner(i, lanes):
            lanes, judged = step(lanes, rules, bounds)
            judged = dict(zip("xfg", judged))              # only the rows the buffer keeps
            return lanes._replace(scratch=tuple(jax.lax.dynamic_update_index_in_dim(b, judged[name], i, 0)
                                                for b, name in zip(lanes.scratch, buffered)))

        k0, fired_before = lanes.k, lanes.fired
        live0 = (lanes.run >= 0) & (lanes.status == Status.running)
        lanes = jax.lax.fori_loop(0, kd, inner, lanes)
        lanes = record(lanes, kd, k0, live0, fired_before, lanes.scratch)
        last = jnp.where(lanes.status == Status.running, kd - 1, lanes.k - k0)
        return lanes, jnp.sum(jnp.where(live0, last + 1, 0), dtype=jnp.int32)

    def call(lanes, out, queue, n_queue, base, kd, grow, rules, bounds, drain):
        """Chunks of ``kd`` steps until the queue is loaded (``drain``: until every lane is done).

        ``grow`` (a call dealt before any run's length is known): the chunk doubles, from ``kd``
        up to K, after each chunk in which fewer than an eighth of the lanes finished, and holds
        otherwise. Short runs stop it within a chunk or two; long runs stop refilling every few
        steps, even with a few early finishers (diverged starts) among them."""
        lanes, ptr = refill(lanes, jnp.int32(0), queue, n_queue, base)

        def body(carry):
            lanes, out, n_out, ptr, kd, steps, n_chunks, useful = carry
            lanes, judged = chunk(lanes, kd, rules, bounds)
            lanes, out, n_now = harvest(lanes, out, n_out)
            lanes, ptr = refill(lanes, ptr, queue, n_queue, base)
            few = 8 * (n_now - n_out) < L
            return (lanes, out, n_now, ptr, jnp.where(grow & few, jnp.minimum(2 * kd, K), kd), steps + kd,
                    n_chunks + 1, _count(useful, judged))

        def cond(carry):
            lanes, _, _, ptr = carry[:4]
            return jnp.where(drain, jnp.any(lanes.run >= 0), ptr < n_queue)

        zero = jnp.int32(0)
        lanes, out, n_out, _, _, steps, n_chunks, useful = jax.lax.while_loop(
            cond, body, (lanes, out, zero, ptr, kd, zero, zero, (zero, zero)))
        return lanes, out, jnp.stack([n_out, steps, n_chunks, *useful])

    def new_output():
        """An output buffer of a call: (W, B + L), L more than B, so that a harvest's L columns always
        fit. Calls take it and give it back donated (columns past a call's n_out are never read)."""
        return jnp.zeros((_pack_width(spec), B + L), dt)

    return call, empty, new_output


_COUNT_BITS = 24


def _count(acc, add):
    """``acc`` (high, low) int32 plus ``add`` (< 2³¹ − 2²⁴): exact up to 2⁵⁵, where one int32
    would wrap (lane-steps of a long call: 4,096 lanes × 10⁶ steps). Read back by :func:`_counted`."""
    high, low = acc
    low = low + add
    return high + (low >> _COUNT_BITS), low & ((1 << _COUNT_BITS) - 1)


def _counted(high, low) -> int:
    return (int(high) << _COUNT_BITS) + int(low)


def _pack_width(spec: _Spec) -> int:
    return _record_width(spec.problem.dim, spec.n_rules, len(_checkpoints(spec.max_iter, spec.curves)))


_SPECS: list[tuple[_Spec, tuple]] = []
# The lanes the last finished batch left on its devices, every lane empty (run −1): the next batch of
# the same kernel starts from them instead of building new ones (one entry, so idle memory stays bounded)
_IDLE: dict[tuple[_Spec, tuple], Lanes] = {}


def _lanes_last(a) -> PartitionSpec:
    return PartitionSpec(*([None] * (a.ndim - 1)), "dev")


@functools.lru_cache(maxsize=None)
def _sharded_kernel(spec: _Spec, devices: tuple):
    """The refill loop over ``devices`` as one program (compiled once for all of them): each
    device runs its own lanes and its own part of the queue, with its own while loop and no
    communication; arrays are the devices' blocks side by side along the lanes (and the output's
    columns). Per-device scalars (n_queue, base, drain) are arrays of one entry per device."""
    call, empty, new_output = _kernel(spec)
    mesh = Mesh(np.array(devices), ("dev",))
    lanes_spec = jax.tree.map(_lanes_last, jax.eval_shape(empty))
    per_dev, rep = PartitionSpec("dev"), PartitionSpec()

    def local(lanes, out, queue, n_queue, base, kd, grow, rules, bounds, drain):
        lanes, out, counts = call(lanes, out, queue, n_queue[0], base[0], kd, grow, rules, bounds, drain[0])
        return lanes, out, counts[None]

    queue_spec = (PartitionSpec(None, "dev"), PartitionSpec(None, "dev"))
    out_spec = PartitionSpec(None, "dev")
    fn = jax.shard_map(local, mesh=mesh, check_vma=False,
                       in_specs=(lanes_spec, out_spec, queue_spec, per_dev, per_dev, rep, rep, rep, rep, per_dev),
                       out_specs=(lanes_spec, out_spec, per_dev))
    # each device builds its own empty lanes (nothing goes through the host: the chunk buffer alone
    # is tens of MB a device)
    init = jax.jit(jax.shard_map(empty, mesh=mesh, in_specs=(), out_specs=lanes_spec, check_vma=False))
    init_out = jax.jit(jax.shard_map(new_output, mesh=mesh, in_specs=(), out_specs=out_spec, check_vma=False))
    shardings = {"lanes": jax.tree.map(lambda p: NamedSharding(mesh, p), lanes_spec),
                 "queue": NamedSharding(mesh, PartitionSpec(None, "dev")),
                 "per_dev": NamedSharding(mesh, per_dev), "rep": NamedSharding(mesh, rep)}
    # the lanes go in and come back: donated, the call updates them in place (chunk buffer included)
    options = cpu_compiler_options() if all(d.platform == "cpu" for d in devices) else None
    return jax.jit(fn, donate_argnums=(0, 1), compiler_options=options), shardings, (init, init_out)


def kernel_cache_size() -> int:
    """How many batch kernels have been compiled in this process (tests count compilations)."""
    return sum(_sharded_kernel(s, d)[0]._cache_size() for s, d in _SPECS)


def _spec_for(problem: Problem, method: str, n_rules: int, n_runs: int, opts: EngineOptions,
              criteria: Sequence[int] = ALL_CRITERIA) -> _Spec:
    lanes = opts.lanes or default_lanes(n_runs, lane_bytes(problem.dim, n_rules, opts.max_iter, opts.chunk, opts.dtype,
                                                          opts.curves))
    chunk = opts.chunk or CHUNK_MAX
    # a few lanes' worth per call, so finished runs come back (and parts get written) as the group
    # runs; up to 16 for a large batch, a sixteenth of it, so calls and their fixed costs are few
    part = opts.part or max(lanes, min(4 * lanes, _bucket(n_runs)), min(PART_LANES * lanes, _bucket(n_runs) // 16))
    return _Spec(problem, method, opts.dtype, n_rules, _bucket(lanes), _bucket(part), chunk, opts.max_iter,
                 bool(opts.curves), tuple(sorted({int(c) for c in criteria})))


def _spans(n: int, part: int, first: int, n_first: int) -> list[tuple[int, int]]:
    """Runs 0 … n−1 cut into the queue slices of the calls: the first ``n_first`` of at most
    ``first`` runs, the others of ``part``. The first two calls are dealt before any run has
    finished, so they run at a chunk chosen blind; small, they give the next calls the runs'
    lengths soon, and the rest runs at the chunk those lengths call for."""
    spans, a = [], 0
    while a < n:
        size = min(first, part) if len(spans) < n_first else part
        spans.append((a, min(a + size, n)))
        a += size
    return spans


def _check_inputs(problem: Problem, x0, alpha, momentum):
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim == 1 and problem.dim == 1:
        x0 = x0[:, None]
    if x0.ndim != 2 or x0.shape[1] != problem.dim:
        raise ValueError(f"starts must have shape (n, {problem.dim}) for problem {problem.name!r}, "
                         f"got {x0.shape}")
    n = x0.shape[0]
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (n,))
    momentum = np.broadcast_to(np.asarray(momentum, dtype=np.float64), (n,))
    return x0, alpha, momentum


class RunSource:
    """Runs to feed the kernel without holding them all: ``n`` runs, and ``take(a, b)`` giving
    (x0 (m, d), alpha (m,), momentum (m,)) of runs a … b−1. A sweep builds each slice when the
    queue needs it, so memory does not grow with the number of runs."""

    def __init__(self, n: int, take: Callable[[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]):
        self.n, self.take = int(n), take


def _array_source(problem: Problem, x0, alpha, momentum) -> RunSource:
    if alpha is None:
        raise TypeError("stream_batch needs alpha (one per start, or one for all)")
    x0, alpha, momentum = _check_inputs(problem, x0, alpha, momentum)
    return RunSource(len(x0), lambda a, b: (x0[a:b], alpha[a:b], momentum[a:b]))


def stream_batch(problem: Problem, method: str, x0, alpha=None, momentum=0.0,
                 rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions(),
                 stats: dict | None = None, devices: Sequence | None = None,
                 host_bound: bool = False) -> Iterator[dict[str, np.ndarray]]:
    """Run every start; yield numpy records of the runs as they finish.

    ``x0`` is an (n, d) array with ``alpha`` and ``momentum`` (scalars or one per
    start), or a :class:`RunSource` that builds the runs slice by slice.
    Each record dict has ``run`` (the row of ``x0`` it belongs to) and the
    final state, per-rule stop records and checkpoint curves of each run.
    Finished runs come in no particular order, one dict per device and call;
    its arrays are read-only views of that call's output, which they keep
    alive (copy one to change it; a later call writes into an output only
    once no record of it is held, else JAX copies it). In float64 the integer
    fields (run, k, status, fired) are converted copies, and with one rule
    f_at and x_at are built on the host. The queue is dealt out in
    parts over ``devices`` (all local devices by default, as many as get two
    parts each; on a CPU, ``import gdlab`` makes one device per core: see
    :mod:`gdlab.devices`); each device runs its own lanes, so its runs are
    the same bits as on one device. ``stats``
    (if given) receives the lane-step counters ``useful`` and ``executed``,
    each call's first chunk (``chunks``) and how many chunks the devices ran
    in all (``chunks_run``: one refill each).

    The adaptive chunk (``opts.chunk=None``) goes for throughput while the
    caller keeps up with the kernel, and for useful lane-steps while the
    kernel waits on the caller, which it measures. A call dealt before any
    run has finished starts at 8 and, while the kernel is the bottleneck,
    doubles its chunk as long as few lanes finish (long runs). ``host_bound=True`` says the
    caller will not keep up (a sweep: its tables take longer per run than the
    kernel's steps, in bursts the measure cannot foresee), so the chunk aims at
    useful lane-steps from the first call.

    A batch that runs to its end leaves its emptied lanes on the devices, and
    the next batch of the same kernel starts from them (one set is kept, so
    that much device memory stays in use between batches); a batch abandoned
    midway leaves none.
    """
    source = x0 if isinstance(x0, RunSource) else _array_source(problem, x0, alpha, momentum)
    keep_freed_memory()    # each call's buffers of several MB are reused, not faulted in anew (gdlab/devices.py)
    if opts.dtype == "float64" and not jax.config.jax_enable_x64:
        # a generator cannot hold the context for its caller; silently running in float32 would be worse
        raise ValueError("float64 needs `with jax.enable_x64(True):` around the loop over stream_batch "
                         "(run_batch and gdlab.sweep do this for you)")
    n = source.n
    get_method(method)
    if n == 0:
        return
    crit, eps, min_steps = rule_arrays(rules)
    spec = _spec_for(problem, method, len(rules), n, opts, crit)
    np_dt = np.dtype(opts.dtype)
    d, R, cps = problem.dim, len(rules), _checkpoints(opts.max_iter, opts.curves)
    P = spec.part
    devices = tuple(devices or jax.local_devices())
    spans = _spans(n, P, 2 * spec.lanes if opts.part is None else P, 2 * len(devices))
    # a device is worth its own tail of slow runs when it gets two parts or more
    devices = devices[: max(1, len(spans) // 2)]
    k = len(devices)
    call, sh, (init, init_out) = _sharded_kernel(spec, devices)
    if (spec, devices) not in _SPECS:
        _SPECS.append((spec, devices))
    # device j takes spans j, j + k, j + 2k, …: one call runs a group of k spans side by side
    groups = [list(range(g, min(g + k, len(spans)))) for g in range(0, len(spans), k)]
    last_span = [max(i for i in range(len(spans)) if i % k == j) for j in range(k)]
    lanes = _IDLE.pop((spec, devices), None) or init()
    rules_dev = jax.device_put((np.asarray(crit), np.asarray(eps, np_dt), np.asarray(min_steps)), sh["rep"])
    bounds = jax.device_put((np.asarray(opts.x_bound, np_dt), np.asarray(opts.f_bound, np_dt)), sh["rep"])

    def queue(g):
        """The queue of group g's call (k spans, one per device), on the host."""
        xq = np.zeros((d, k * P), np_dt)
        hq = np.ones((2, k * P), np_dt)
        n_queue, base = np.zeros(k, np.int32), np.zeros(k, np.int32)
        drain = np.ones(k, bool)       # a device with no span left has drained already
        for j, i in enumerate(groups[g]):
            start, stop = spans[i]
            m = stop - start
            xs, al, mo = source.take(start, stop)
            xq[:, j * P: j * P + m] = np.asarray(xs).T
            hq[0, j * P: j * P + m] = al
            hq[1, j * P: j * P + m] = mo
            n_queue[j], base[j], drain[j] = m, start, i == last_span[j]
        return xq, hq, n_queue, base, drain

    x64 = jax.config.jax_enable_x64     # thread-local: the launching thread must see the caller's

    free_out = []     # output buffers the host is done with: the next calls write into them (donated)

    def launch(xq, hq, n_queue, base, drain, kd, grow):
        """Start a call on the devices. On several CPU devices JAX returns only once the call before
        has finished (its lanes are this one's input), so this runs on a thread of its own."""
        nonlocal lanes
        with jax.enable_x64(x64):
            out_buf = free_out.pop() if free_out else init_out()
            lanes, out, counts = call(lanes, out_buf, jax.device_put((xq, hq), sh["queue"]),
                                      jax.device_put(n_queue, sh["per_dev"]), jax.device_put(base, sh["per_dev"]),
                                      jax.device_put(np.int32(kd), sh["rep"]), jax.device_put(np.bool_(grow), sh["rep"]),
                                      rules_dev, bounds,
                                      jax.device_put(drain, sh["per_dev"]))
        return out, counts

    def dispatch(g):
        """Queue the call of group g: it starts as soon as the devices are free."""
        if g >= len(groups):
            return None
        kd = opts.chunk or next_chunk(lengths, spec.chunk, device_idle)
        chunks.append(kd)
        blind.append(lengths.runs == 0)
        # nothing known yet and the device the bottleneck: the call doubles its chunk while few lanes finish
        grow = not opts.chunk and not device_idle and lengths.runs == 0
        return launcher.submit(launch, *queue(g), kd, grow)

    # One call stays queued ahead: while the devices run it, the host builds the next queue and
    # unpacks (and the caller stores) what the call before returned.
    # The host waits for each call's output. While it waits less than half its time, the caller is
    # the bottleneck and the device sits idle between calls (a sweep building and writing tables).
    # The calls dealt blind (before any run had finished) are not timed: they are small, so the
    # second is often done before the host asks for it, which said "host-bound" after one call
    # and sent the next, large call to the short chunk.
    useful = executed = chunks_run = 0
    lengths = RunLengths()     # the finished runs' lengths, for the chunk
    device_idle, chunks, blind, waited, cycled, back = host_bound, [], [], 0.0, 0.0, time.perf_counter()
    with ThreadPoolExecutor(1, thread_name_prefix="gdlab-launch") as launcher:
        pending, held = dispatch(0), None
        for g in range(1, len(groups) + 1):
            ahead = dispatch(g)
            asked = time.perf_counter()
            out, counts = pending.result()
            counts = np.asarray(counts)         # per device: rows written, steps, chunks, useful (2 words)
            useful += sum(_counted(h, lo) for h, lo in counts[:, 3:])
            executed += spec.lanes * int(counts[:, 1].astype(np.int64).sum())
            chunks_run += int(counts[:, 2].sum())
            now = time.perf_counter()
            if g > 1 and not blind[g - 1] and not host_bound:    # the first wait includes compiling
                waited, cycled = waited + now - asked, cycled + now - back
                device_idle = waited < HOST_WAIT * cycled
            back = now
            # each device's block of columns, read in place (no copy): its first counts[j, 0] are records
            for block in out.addressable_shards:
                j = (block.index[1].start or 0) // (out.shape[1] // k)
                if counts[j, 0]:
                    rec = _unpack(np.asarray(block.data)[:, : counts[j, 0]], d, R, len(cps))
                    lengths.add(rec["k"])
                    yield rec
                    del rec
            # the call before's output: the caller has moved on from its records by now, so the next call
            # can write into it (a caller that kept views of it makes JAX copy it instead)
            del block
            if held is not None:
                free_out.append(held)
            held, out = out, None
            pending = ahead
    # every device's last call drained it: each lane is empty, as good as new for the next batch
    _IDLE.clear()
    _IDLE[(spec, devices)] = lanes
    if stats is not None:
        stats["useful"] = stats.get("useful", 0) + useful
        stats["executed"] = stats.get("executed", 0) + executed
        stats["chunks"] = stats.get("chunks", []) + chunks
        stats["chunks_run"] = stats.get("chunks_run", 0) + chunks_run


def run_batch(problem: Problem, method: str, x0, alpha, momentum=0.0,
              rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions(),
              stats: dict | None = None) -> dict[str, np.ndarray]:
    """:func:`stream_batch` gathered into arrays in the order of ``x0``'s rows."""
    x0 = np.asarray(x0)
    n = len(x0)
    with jax.enable_x64(opts.dtype == "float64"):
        parts = list(stream_batch(problem, method, x0, alpha, momentum, rules, opts, stats))
    if not parts:
        raise ValueError("no starts given")
    merged = {name: np.concatenate([p[name] for p in parts]) for name in RECORD_FIELDS}
    order = np.argsort(merged["run"], kind="stable")
    merged = {name: a[order] for name, a in merged.items()}
    if len(merged["run"]) != n or not np.array_equal(merged["run"], np.arange(n)):
        raise RuntimeError("engine lost or duplicated runs: this is a bug in gdlab")
    return merged


@functools.lru_cache(maxsize=None)
def _trace_kernel(spec: _Spec, n_steps: int):
    empty, load, step = _lane_fns(spec)
    L = spec.lanes

    def call(x0, hp, rules, bounds):
        lanes = load(empty()._replace(scratch=()), jnp.ones((L,), bool), jnp.arange(L, dtype=jnp.int32), x0, hp)

        def one(lanes, _):
            lanes, (x, f, _) = step(lanes, rules, bounds)
            return lanes, (x, f)

        _, (xs, fs) = jax.lax.scan(one, lanes, None, length=n_steps)
        return xs, fs

    return jax.jit(call)


def trace_runs(problem: Problem, method: str, x0, alpha, momentum, n_iter,
               rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions()):
    """Full trajectories of a few runs: (x, f) at steps 0 … n_iter of each.

    Runs the same lane step as the batch kernel, so the path is the one the
    batch took. Returns a list of ``(xs (n_iter+1, d), fs (n_iter+1,))``.
    """
    x0, alpha, momentum = _check_inputs(problem, x0, alpha, momentum)
    n_iter = np.asarray(n_iter, dtype=np.int64)
    n = len(x0)
    if n == 0:
        return []
    L = _bucket(n)
    spec = _Spec(problem, method, opts.dtype, len(rules), L, 0, 0, opts.max_iter)
    n_steps = _bucket(int(n_iter.max()) + 1)
    dt = float_dtype(opts.dtype)
    crit, eps, min_steps = rule_arrays(rules)
    xq = np.zeros((problem.dim, L)); xq[:, :n] = x0.T
    hq = np.ones((2, L)); hq[0, :n] = alpha; hq[1, :n] = momentum
    with jax.enable_x64(opts.dtype == "float64"):
        call = _trace_kernel(spec, n_steps)
        xs, fs = call(jnp.asarray(xq, dt), jnp.asarray(hq, dt),
                      (jnp.asarray(crit), jnp.asarray(eps, dt), jnp.asarray(min_steps)),
                      (jnp.asarray(opts.x_bound, dt), jnp.asarray(opts.f_bound, dt)))
        xs, fs = np.asarray(xs), np.asarray(fs)      # (steps, d, L), (steps, L)
    return [(xs[: k + 1, :, i], fs[: k + 1, i]) for i, k in enumerate(n_iter)]


POINT_TYPES = np.array(["minimum", "maximum", "saddle", "degenerate", "non_stationary"], dtype=object)


def _eigh(h):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix. In one and two
    dimensions by the closed form (λ = m ∓ r about the mean m of the diagonal; the eigenvectors
    turned by θ = ½·atan2(2b, a − c)): XLA's CPU backend calls LAPACK once per matrix, which on
    2×2 matrices cost 4.6–6.5 times as much."""
    if h.shape[0] == 1:
        return h[0], jnp.ones_like(h)
    if h.shape[0] == 2:
        a, b, c = h[0, 0], (h[0, 1] + h[1, 0]) / 2, h[1, 1]
        half = (a - c) / 2
        r = jnp.hypot(half, b)
        theta = jnp.arctan2(b, half) / 2
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        lam = jnp.stack([(a + c) / 2 - r, (a + c) / 2 + r])
        return lam, jnp.stack([jnp.stack([-sin, cos]), jnp.stack([cos, sin])])   # columns: λ₋'s, λ₊'s
    return jnp.linalg.eigh(h)


@functools.lru_cache(maxsize=None)
def _curvature(problem: Problem):
    """x → (the Hessian's eigenvalues, ‖H⁺∇f‖), both from one symmetric eigendecomposition: H⁺
    keeps 1/λ where |λ| is above pinv's cutoff (10·d·eps·max|λ|) and 0 elsewhere, which is
    pinv's answer for a symmetric matrix at a third of the cost of an SVD and a second eigvalsh."""
    def one(x):
        h = jax.hessian(problem.fn)(x)
        lam, v = _eigh(h)
        keep = jnp.abs(lam) > 10 * h.shape[0] * jnp.finfo(h.dtype).eps * jnp.max(jnp.abs(lam))
        along = v.T @ jax.grad(problem.fn)(x)
        newton = v @ jnp.where(keep, along / jnp.where(keep, lam, 1), 0)
        return lam, jnp.sqrt(jnp.sum(newton ** 2))
    return jax.jit(jax.vmap(one))


def classify_points(problem: Problem, xs, dtype: str = "float64", stationary_tol: float = 0.05) -> np.ndarray:
    """Classify points by the eigenvalues of the Hessian: minimum, maximum, saddle or degenerate.

    A point whose Newton step ‖H⁺∇f‖ (the distance to the stationary point the
    quadratic model predicts) exceeds ``stationary_tol`` is ``non_stationary``:
    a stop far from any stationary point is not a minimum, whatever the
    curvature there. An eigenvalue counts as zero below √(machine eps)·max(1, max|λ|).
    """
    return POINT_TYPES[point_kinds(problem, xs, dtype, stationary_tol)]


def point_kinds(problem: Problem, xs, dtype: str = "float64", stationary_tol: float = 0.05) -> np.ndarray:
    """:func:`classify_points` as indices into ``POINT_TYPES``."""
    xs = np.asarray(xs, dtype=np.float64).reshape(-1, problem.dim)
    if len(xs) == 0:
        return np.zeros(0, np.int64)
    dt = float_dtype(dtype)
    n = len(xs)
    # padded (with the first point) to a power of two, so parts of any size share one compilation
    padded = np.concatenate([xs, np.broadcast_to(xs[:1], (_bucket(n) - n, problem.dim))])
    with jax.enable_x64(dtype == "float64"):
        eig, newton = _curvature(problem)(jnp.asarray(padded, dt))
        eig, newton = np.asarray(eig, dtype=np.float64)[:n], np.asarray(newton, dtype=np.float64)[:n]
    tol = np.sqrt(np.finfo(dt).eps) * np.maximum(1.0, np.abs(eig).max(axis=1, initial=0.0))[:, None]
    pos = (eig > tol).all(axis=1)
    neg = (eig < -tol).all(axis=1)
    mixed = (eig > tol).any(axis=1) & (eig < -tol).any(axis=1)
    kind = np.select([pos, neg, mixed], [0, 1, 2], 3)
    kind = np.where(np.isfinite(eig).all(axis=1), kind, 3)
    return np.where(np.isfinite(newton) & (newton > stationary_tol), 4, kind)
