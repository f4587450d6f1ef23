"""The compiled kernel: many descents advanced together, refilled as they finish.

Runs of one (problem, method, dtype, stop-rule count) share one kernel. The
kernel holds ``lanes`` runs at once and advances them ``chunk`` steps at a
time (:mod:`gdlab.engine.step`); after each chunk it harvests the runs that
finished into an output buffer and refills their lanes from a queue of
waiting runs, so the device works on live runs rather than waiting for the
slowest lane (docs/engine.md). Lanes carry over between calls: a call
consumes one part of the queue and returns what finished; only the last call
drains the lanes.

What the records need of each judged step (x, f, ‖∇f‖) goes to a chunk
buffer; once per chunk the kernel takes from it f and x where a rule fired
and the checkpoint curves, so the per-step work stays minimal.

Starts and hyperparameters are traced arrays, and shapes are bucketed to
powers of two, so changing alpha or the number of starts does not recompile
(crossing a power of two of lanes does, once). Compiled kernels are cached by
the value of their :class:`~gdlab.engine.layout.KernelSpec`, at most
:data:`KERNEL_CACHE` of them.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..core.criteria import CRITERIA, Status
from ..core.methods import as_stepper
from .chunks import CHUNK_MAX, PART_LANES
from .devices import cpu_compiler_options
from .layout import (
    RECORD_FIELDS,
    EngineOptions,
    KernelSpec,
    bucket,
    buffered_rows,
    curve_steps,
    default_lanes,
    float_dtype,
    lane_bytes,
    out_layout,
    record_width,
)
from .step import Lanes, lane_fns

__all__ = ["KERNEL_CACHE", "kernel_spec", "sharded_kernel", "trace_kernel", "kernel_cache_size", "counted",
           "take_idle_lanes", "keep_idle_lanes", "IDLE_LANES", "batch_kernel", "count_add"]

KERNEL_CACHE = 32     # compiled kernels kept (each holds its XLA executable)
HARVEST_BLOCK = 256   # lanes a harvest packs at a time: the blocks the finished lanes fill, not every lane


def _rows(buf, rows):
    """buf (K, …, L) and rows (R, L) with entries in [0, K) → (R, …, L): per lane, the rows it asks for."""
    idx = rows.reshape(rows.shape[:1] + (1,) * (buf.ndim - 2) + rows.shape[1:])
    return jnp.take_along_axis(buf, jnp.broadcast_to(idx, rows.shape[:1] + buf.shape[1:]), axis=0)


def _chunk_recorder(spec: KernelSpec, K: int):
    """Fill the cold fields (f, x where rules fired; checkpoint curves) from a chunk's buffer;
    with one rule, also the rule's step, and its f and x from the run's last step (:func:`buffers_x`).

    The buffer has K rows; a chunk runs ``kd`` ≤ K steps (a traced number). A
    lane live at the chunk's start with k = k0 judged rows 0 … last of the
    buffer, steps k0 … k0 + last. Lanes are loaded only at chunk boundaries, so
    a run's first chunk starts at k0 = 0 and holds the checkpoints below K at
    fixed rows; in any later chunk the few checkpoints of its window are found
    per lane, for as long as some lane has one left.
    """
    cps_np = curve_steps(spec.max_iter, spec.curves)
    C = len(cps_np)
    first = np.array([int(c) for c in cps_np if c < K], dtype=np.int32)
    n_first = len(first)
    cps_all = jnp.asarray(np.append(cps_np, np.iinfo(np.int32).max).astype(np.int32))
    lane_ids = jnp.arange(spec.lanes)

    def record(lanes: Lanes, kd, k0, live0, fired_before, scratch) -> Lanes:
        buf = dict(zip(buffered_rows(spec.n_rules, spec.curves), scratch))
        xbuf, fbuf, gbuf = buf.get("x"), buf.get("f"), buf.get("g")
        last = jnp.where(lanes.status == Status.running, kd - 1, lanes.k - k0)
        judged = live0 & (last >= 0)
        # f and x at the step each newly fired rule fired: from the buffer, or with one rule the
        # run's last step, where it stopped (buffers_x)
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
        # the first checkpoint at or after k0: a count of the few below it (a binary search of each lane
        # is a loop of rounds over every lane, several times slower on a CPU)
        s0 = jnp.sum(cps_all[:C, None] < k0[None, :], axis=0, dtype=jnp.int32)
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
    for name, _, is_int in out_layout(lanes.x.shape[0], lanes.fired.shape[0], lanes.curve_f.shape[0], lanes.hp.shape[0],
                                      lanes.spent.shape[0]):
        a = getattr(lanes, name)
        if name in blank:
            a = jnp.where(blank[name], jnp.nan, a)
        a = a.reshape((-1, a.shape[-1]))
        cols.append(_encode(a, dt) if is_int else a)
    return cols


@functools.lru_cache(maxsize=KERNEL_CACHE)
def batch_kernel(spec: KernelSpec):
    """The refill loop (`call`) and the empty lanes (`empty`) of one spec, on one device's blocks; cached, and
    compiled once, for all devices, by :func:`_sharded_kernel`."""
    empty, load, step = lane_fns(spec)
    L, P, K = spec.lanes, spec.part, spec.chunk
    B = P + L   # runs out: at most the queued runs and the runs carried in from the last call
    lane_ids = jnp.arange(L, dtype=jnp.int32)
    dt = float_dtype(spec.dtype)
    record = _chunk_recorder(spec, K)
    buffered = buffered_rows(spec.n_rules, spec.curves)
    cps = jnp.asarray(curve_steps(spec.max_iter, spec.curves), jnp.int32)
    HB = math.gcd(L, HARVEST_BLOCK)      # divides L: a harvest's blocks never run past its lanes

    def refill(lanes, ptr, queue, n_queue, base, params):
        x0, hp = queue                                   # (d, P), (H, P)
        empty_ = lanes.run < 0
        src = ptr + _ranks(empty_) - 1
        take = empty_ & (src < n_queue)
        src = jnp.clip(src, 0, P - 1)
        lanes = load(lanes, take, base + src, jnp.take(x0, src, axis=1), jnp.take(hp, src, axis=1), params)
        return lanes, ptr + jnp.sum(take, dtype=jnp.int32)

    def harvest(lanes, out, n_out):
        done = (lanes.run >= 0) & (lanes.status != Status.running)
        # finished runs go to the next free columns, in the order of their lanes: the output is dense, so
        # the host reads columns 0 … n_out − 1 in place (each record carries its run). The done lanes'
        # fields are gathered and packed HB lanes at a time, ⌈done / HB⌉ blocks (a short chunk
        # finishes few: packing every lane was most of its refill); the columns past the done
        # lanes' are overwritten by the next harvest, or never read
        first = jnp.zeros(L, jnp.int32).at[jnp.where(done, _ranks(done) - 1, L)].set(lane_ids, mode="drop")
        n_done = jnp.sum(done, dtype=jnp.int32)

        def block(b, out):
            at = jax.lax.dynamic_slice(first, (b * HB,), (HB,))
            sub = lanes._replace(**{name: jnp.take(getattr(lanes, name), at, axis=-1, mode="clip")
                                    for name in RECORD_FIELDS})
            row = 0
            for a in _fields(sub, dt, cps):
                out = jax.lax.dynamic_update_slice(out, a, (jnp.int32(row), n_out + b * HB))
                row += a.shape[0]
            return out

        out = jax.lax.fori_loop(0, (n_done + HB - 1) // HB, block, out)
        return lanes._replace(run=jnp.where(done, -1, lanes.run)), out, n_out + n_done

    def chunk(lanes, kd, rules, bounds, params):
        def inner(i, lanes):
            lanes, judged = step(lanes, rules, bounds, params)
            judged = dict(zip("xfg", judged))              # only the rows the buffer keeps
            return lanes._replace(scratch=tuple(jax.lax.dynamic_update_index_in_dim(b, judged[name], i, 0)
                                                for b, name in zip(lanes.scratch, buffered)))

        k0, fired_before = lanes.k, lanes.fired
        live0 = (lanes.run >= 0) & (lanes.status == Status.running)
        lanes = jax.lax.fori_loop(0, kd, inner, lanes)
        lanes = record(lanes, kd, k0, live0, fired_before, lanes.scratch)
        last = jnp.where(lanes.status == Status.running, kd - 1, lanes.k - k0)
        return lanes, jnp.sum(jnp.where(live0, last + 1, 0), dtype=jnp.int32)

    def call(lanes, out, queue, n_queue, base, kd, grow, rules, bounds, params, drain):
        """Chunks of ``kd`` steps until the queue is loaded (``drain``: until every lane is done).
        ``params``: the problem's numbers where its objective is parametric (else ()); lanes hold
        runs of one problem at a time, so a batch drains before the next problem's params come.

        ``grow`` (a call dealt before any run's length is known): the chunk doubles, from ``kd``
        up to K, after each chunk in which fewer than an eighth of the lanes finished, and holds
        otherwise. Short runs stop it within a chunk or two; long runs stop refilling every few
        steps, even with a few early finishers (diverged starts) among them."""
        lanes, ptr = refill(lanes, jnp.int32(0), queue, n_queue, base, params)

        def body(carry):
            lanes, out, n_out, ptr, kd, steps, n_chunks, useful = carry
            lanes, judged = chunk(lanes, kd, rules, bounds, params)
            lanes, out, n_now = harvest(lanes, out, n_out)
            lanes, ptr = refill(lanes, ptr, queue, n_queue, base, params)
            few = 8 * (n_now - n_out) < L
            return (lanes, out, n_now, ptr, jnp.where(grow & few, jnp.minimum(2 * kd, K), kd), steps + kd,
                    n_chunks + 1, count_add(useful, judged))

        def cond(carry):
            lanes, _, _, ptr = carry[:4]
            return jnp.where(drain, jnp.any(lanes.run >= 0), ptr < n_queue)

        zero = jnp.int32(0)
        lanes, out, n_out, _, _, steps, n_chunks, useful = jax.lax.while_loop(
            cond, body, (lanes, out, zero, ptr, kd, zero, zero, (zero, zero)))
        return lanes, out, jnp.stack([n_out, steps, n_chunks, *useful])

    def new_output():
        """An output buffer of a call: (W, B + L), L more than B, so that a harvest's blocks (at
        most L columns) always fit. Calls take it and give it back donated (columns past a call's
        n_out are never read)."""
        return jnp.zeros((_pack_width(spec), B + L), dt)

    return call, empty, new_output


_COUNT_BITS = 24


def count_add(acc, add):
    """``acc`` (high, low) int32 plus ``add`` (< 2³¹ − 2²⁴): exact up to 2⁵⁵, where one int32
    would wrap (lane-steps of a long call: 4,096 lanes × 10⁶ steps). Read back by :func:`counted`."""
    high, low = acc
    low = low + add
    return high + (low >> _COUNT_BITS), low & ((1 << _COUNT_BITS) - 1)


def counted(high, low) -> int:
    return (int(high) << _COUNT_BITS) + int(low)


def _pack_width(spec: KernelSpec) -> int:
    return record_width(spec.objective.dim, spec.n_rules, len(curve_steps(spec.max_iter, spec.curves)),
                        len(spec.method.rows), spec.method.n_evals)


# The kernels made, for counting compilations (as many as the cache keeps), and the compilations of
# those dropped from it
_MADE: collections.deque = collections.deque(maxlen=KERNEL_CACHE)
_DROPPED = [0]
# The lanes the last finished batch left on its devices, every lane empty (run −1): the next batch of
# the same kernel starts from them instead of building new ones (one entry, so idle memory stays bounded)
IDLE_LANES: dict[tuple[KernelSpec, tuple], Lanes] = {}


def take_idle_lanes(key: tuple[KernelSpec, tuple]) -> Lanes | None:
    """The empty lanes a finished batch of this (spec, devices) left, if it was the last batch run."""
    return IDLE_LANES.pop(key, None)


def keep_idle_lanes(key: tuple[KernelSpec, tuple], lanes: Lanes) -> None:
    """Keep a drained batch's lanes for the next batch of the same kernel (and no others)."""
    IDLE_LANES.clear()
    IDLE_LANES[key] = lanes


def _lanes_last(a) -> PartitionSpec:
    return PartitionSpec(*([None] * (a.ndim - 1)), "dev")


@functools.lru_cache(maxsize=KERNEL_CACHE)
def sharded_kernel(spec: KernelSpec, devices: tuple):
    """The refill loop over ``devices`` as one program (compiled once for all of them): each
    device runs its own lanes and its own part of the queue, with its own while loop and no
    communication; arrays are the devices' blocks side by side along the lanes (and the output's
    columns). Per-device scalars (n_queue, base, drain) are arrays of one entry per device."""
    call, empty, new_output = batch_kernel(spec)
    mesh = Mesh(np.array(devices), ("dev",))
    lanes_spec = jax.tree.map(_lanes_last, jax.eval_shape(empty))
    per_dev, rep = PartitionSpec("dev"), PartitionSpec()

    def local(lanes, out, queue, n_queue, base, kd, grow, rules, bounds, params, drain):
        lanes, out, counts = call(lanes, out, queue, n_queue[0], base[0], kd, grow, rules, bounds, params, drain[0])
        return lanes, out, counts[None]

    queue_spec = (PartitionSpec(None, "dev"), PartitionSpec(None, "dev"))
    out_spec = PartitionSpec(None, "dev")
    fn = jax.shard_map(local, mesh=mesh, check_vma=False,
                       in_specs=(lanes_spec, out_spec, queue_spec, per_dev, per_dev, rep, rep, rep, rep, rep, per_dev),
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
    jitted = jax.jit(fn, donate_argnums=(0, 1), compiler_options=options)
    if len(_MADE) == _MADE.maxlen:
        _DROPPED[0] += _MADE[0]._cache_size()
    _MADE.append(jitted)
    return jitted, shardings, (init, init_out)


def kernel_cache_size() -> int:
    """How many batch kernels have been compiled in this process (tests count compilations)."""
    return _DROPPED[0] + sum(jitted._cache_size() for jitted in _MADE)


@functools.lru_cache(maxsize=KERNEL_CACHE)
def trace_kernel(spec: KernelSpec, n_steps: int):
    empty, load, step = lane_fns(spec)
    L = spec.lanes

    def call(x0, hp, rules, bounds, params):
        lanes = load(empty()._replace(scratch=()), jnp.ones((L,), bool), jnp.arange(L, dtype=jnp.int32), x0, hp,
                     params)

        def one(lanes, _):
            lanes, (x, f, _) = step(lanes, rules, bounds, params)
            return lanes, (x, f)

        _, (xs, fs) = jax.lax.scan(one, lanes, None, length=n_steps)
        return xs, fs

    return jax.jit(call)


def kernel_spec(problem, method, n_rules: int, n_runs: int, opts: EngineOptions,
                criteria: Sequence[str] = ()) -> KernelSpec:
    """The spec of the kernel for these runs: ``problem`` a Problem, ``method`` a Method entry or a
    :class:`~gdlab.core.methods.Stepper` (with its schedule), ``criteria`` the names the rules use
    (kept in registry order)."""
    method = as_stepper(method)
    lanes = opts.lanes or default_lanes(n_runs, lane_bytes(problem.dim, n_rules, opts.max_iter, opts.chunk, opts.dtype,
                                                          opts.curves, len(method.rows),
                                                          method.method.state_size(problem.dim), method.n_evals))
    chunk = opts.chunk or CHUNK_MAX
    # a few lanes' worth per call, so finished runs come back (and parts get written) as the group
    # runs; up to 16 for a large batch, a sixteenth of it, so calls and their fixed costs are few
    part = opts.part or max(lanes, min(4 * lanes, bucket(n_runs)), min(PART_LANES * lanes, bucket(n_runs) // 16))
    used = tuple(CRITERIA[name] for name in CRITERIA if name in set(criteria))
    return KernelSpec(problem.objective, method, opts.dtype, n_rules, bucket(lanes), bucket(part), chunk, opts.max_iter,
                      bool(opts.curves), used)
