"""The compiled kernel: many descents advanced together, refilled as they finish.

Runs of one (problem, method, dtype, stop-rule count) share one kernel. The
kernel holds ``lanes`` runs at once and advances them ``chunk`` steps at a
time; after each chunk it harvests the runs that finished into an output
buffer and refills their lanes from a queue of waiting runs, so the device
works on live runs rather than waiting for the slowest lane (DESIGN.md,
Engine). Lanes carry over between calls: a call consumes one part of the
queue and returns what finished; only the last call drains the lanes.

Every stop rule is evaluated at every step of every run; per rule the kernel
keeps the first step it fired and f and x there. A finished run's lane is
frozen (``where(live, new, old)``) until it is harvested.

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
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .methods import get_method
from .problems import Problem
from .stopping import CRITERIA, Status, StopRule, checkpoints, rule_arrays

__all__ = ["EngineOptions", "default_lanes", "run_batch", "stream_batch", "trace_runs", "classify_points",
           "kernel_cache_size", "float_dtype"]

GRAD = CRITERIA.index("grad")


class EngineOptions(NamedTuple):
    """Settings of one batch; ``lanes``/``part``/``chunk`` default from the device and batch size."""

    max_iter: int = 10_000
    dtype: str = "float32"
    x_bound: float = 1e8
    f_bound: float = 1e30
    lanes: int | None = None
    part: int | None = None
    chunk: int = 16


class Lanes(NamedTuple):
    run: Any        # (L,) int32: index of the run in the queue's numbering; -1 = empty lane
    x: Any          # (L, d)
    f: Any          # (L,)
    g: Any          # (L, d)
    opt: Any        # optax state, leading axis L
    k: Any          # (L,) int32: updates done
    fresh: Any      # (L,) bool: x is the start; f and ∇f not yet evaluated
    status: Any     # (L,) int32 (Status)
    fired: Any      # (L, R) int32: first step each rule fired, -1 if not yet
    f_at: Any       # (L, R)
    x_at: Any       # (L, R, d)
    hp: Any         # (L, 2): alpha, momentum
    curve_f: Any    # (L, C): f at the checkpoint steps
    curve_g: Any    # (L, C): ‖∇f‖ at the checkpoint steps


# Fields copied to the output buffer when a run finishes (everything but the optimiser's inner state).
RECORD_FIELDS = ("run", "x", "f", "g", "k", "status", "fired", "f_at", "x_at", "hp", "curve_f", "curve_g")


class _Spec(NamedTuple):
    problem: Problem
    method: str
    dtype: str
    n_rules: int
    lanes: int
    part: int
    chunk: int
    max_iter: int


def float_dtype(name: str):
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {name!r}")
    return jnp.float32 if name == "float32" else jnp.float64


def _bucket(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def _max_lanes() -> int:
    # CPU: a few thousand lanes fill the vector units; accelerators want far more.
    return 4096 if jax.default_backend() == "cpu" else 1 << 18


def default_lanes(n_runs: int) -> int:
    """Lane width for a kernel with ``n_runs`` runs: about an eighth of them — enough waiting runs
    to refill lanes as they finish, and a narrow kernel for the tail, where a few long runs are
    all that is left — capped by what the device wants."""
    return min(_max_lanes(), _bucket(max(1, n_runs // 8)))


def _where(cond, new, old):
    """Per-lane select over whole pytrees; ``cond`` is (L,) and broadcast over trailing axes."""
    def pick(a, b):
        c = cond.reshape(cond.shape + (1,) * (a.ndim - cond.ndim))
        return jnp.where(c, a, b)
    return jax.tree.map(pick, new, old)


# Reductions over a lane's few coordinates or rules are written out term by term:
# XLA's CPU backend lowers a reduce over a short minor axis to a scalar loop per
# lane, which cost 5x the step here; the unrolled form stays elementwise and
# vectorises across lanes. Long axes fall back to the reduce.
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
    return jnp.sqrt(acc if acc is not None else jnp.sum(v * v))


def _all(v):
    acc = _fold(jnp.logical_and, v)
    return acc if acc is not None else jnp.all(v)


def _max(v):
    acc = _fold(jnp.maximum, v)
    return acc if acc is not None else jnp.max(v)


def _lane_fns(spec: _Spec):
    """The per-lane init and step functions for one kernel spec.

    ``step`` touches only a lane's hot state (x, f, ∇f, optimiser state, k,
    status, fired); what the records need of each step (x, f, ‖∇f‖, k) it
    returns as a row for the chunk buffer, and the kernel fills the cold
    fields (f and x where a rule fired, the checkpoint curves) from that
    buffer once per chunk.
    """
    fn = spec.problem.fn
    make = get_method(spec.method).make
    dt = float_dtype(spec.dtype)
    d, R = spec.problem.dim, spec.n_rules
    C = len(checkpoints(spec.max_iter))
    value_and_grad = jax.value_and_grad(fn)

    def init(run, x0, hp):
        x0 = x0.astype(dt)
        return Lanes(run=run, x=x0, f=jnp.zeros((), dt), g=jnp.zeros_like(x0),
                     opt=make(hp[0], hp[1]).init(x0), k=jnp.int32(0), fresh=jnp.bool_(True),
                     status=jnp.int32(Status.running), fired=jnp.full((R,), -1, jnp.int32),
                     f_at=jnp.full((R,), jnp.nan, dt), x_at=jnp.full((R, d), jnp.nan, dt),
                     hp=hp, curve_f=jnp.full((C,), jnp.nan, dt), curve_g=jnp.full((C,), jnp.nan, dt))

    def step(lane: Lanes, crit, eps, min_steps, x_bound, f_bound):
        live = (lane.run >= 0) & (lane.status == Status.running)
        updates, opt_next = make(lane.hp[0], lane.hp[1]).update(lane.g, lane.opt, lane.x)
        x = jnp.where(lane.fresh, lane.x, optax.apply_updates(lane.x, updates))
        opt_state = jax.tree.map(lambda a, b: jnp.where(lane.fresh, a, b), lane.opt, opt_next)
        k = lane.k + jnp.where(lane.fresh, 0, 1).astype(jnp.int32)
        f, g = value_and_grad(x)
        gnorm = _norm(g)
        finite = jnp.isfinite(f) & _all(jnp.isfinite(g)) & _all(jnp.isfinite(x))

        dx = _norm(x - lane.x)
        df = jnp.abs(f - lane.f)
        value = jnp.where(crit == 0, dx, jnp.where(crit == 1, df, gnorm))
        # A comparison with nan is false, and a nonfinite step is refused outright:
        # a fault never counts as a fired rule. At the start only ‖∇f‖ is defined.
        allowed = (k >= min_steps) & (lane.fired < 0) & finite & (~lane.fresh | (crit == GRAD))
        fired = jnp.where(allowed & (value < eps), k, lane.fired)
        all_fired = _all(fired >= 0) if R else jnp.bool_(False)
        diverged = (_max(jnp.abs(x)) > x_bound) | (jnp.abs(f) > f_bound)
        status = jnp.select(
            [~finite & lane.fresh, ~finite, all_fired, diverged, k >= spec.max_iter],
            [Status.invalid_start, Status.nonfinite, Status.converged, Status.diverged, Status.max_iter],
            Status.running).astype(jnp.int32)

        def keep(new, old):   # a finished or empty lane never changes
            return jax.tree.map(lambda a, b: jnp.where(live, a, b), new, old)

        lane = lane._replace(x=keep(x, lane.x), f=keep(f, lane.f), g=keep(g, lane.g),
                             opt=keep(opt_state, lane.opt), k=keep(k, lane.k),
                             fresh=lane.fresh & ~live, status=keep(status, lane.status),
                             fired=keep(fired, lane.fired))
        return lane, (x, f, gnorm, jnp.where(live, k, -1))

    return init, step


def _take_rows(buf, rows):
    """buf (K, L, ...) and rows (L, n) → (L, n, ...): for each lane, the rows it asks for."""
    per_lane = jnp.moveaxis(buf, 0, 1)
    idx = rows.reshape(rows.shape + (1,) * (per_lane.ndim - 2))
    return jnp.take_along_axis(per_lane, idx, axis=1)


def _chunk_recorder(spec: _Spec, K: int):
    """Fill the cold fields (f, x where rules fired; checkpoint curves) from a chunk's buffer.

    Lanes are loaded only at chunk boundaries, so a lane's k at buffer row j
    is m·K + j: its first chunk holds the checkpoints below K at fixed rows
    (a static slice), and any later chunk at most a few, found per lane.
    """
    cps_np = checkpoints(spec.max_iter)
    cps = jnp.asarray(cps_np)
    C = len(cps_np)
    first_rows = [int(c) for c in cps_np if c < K]
    later = max([int(np.sum((cps_np >= m * K) & (cps_np < (m + 1) * K)))
                 for m in range(1, spec.max_iter // K + 2)] or [0])
    lane_ids = jnp.arange(spec.lanes)

    def record(lanes: Lanes, fired_before, xbuf, fbuf, gbuf, kbuf) -> Lanes:
        kstart = kbuf[0]                                    # k at row 0, -1 if the lane was not live
        # f and x at the step each newly fired rule fired
        new = (lanes.fired >= 0) & (fired_before < 0) & (kstart >= 0)[:, None]
        rows = jnp.clip(lanes.fired - kstart[:, None], 0, K - 1)
        f_at = jnp.where(new, _take_rows(fbuf, rows), lanes.f_at)
        x_at = jnp.where(new[..., None], _take_rows(xbuf, rows), lanes.x_at)
        # checkpoints in a lane's first chunk: fixed rows
        curve_f, curve_g = lanes.curve_f, lanes.curve_g
        if first_rows:
            n0 = len(first_rows)
            hit = (kstart == 0)[:, None] & (kbuf[jnp.asarray(first_rows)].T == cps[:n0][None, :])
            curve_f = curve_f.at[:, :n0].set(jnp.where(hit, fbuf[jnp.asarray(first_rows)].T, curve_f[:, :n0]))
            curve_g = curve_g.at[:, :n0].set(jnp.where(hit, gbuf[jnp.asarray(first_rows)].T, curve_g[:, :n0]))
        # later chunks: at most `later` checkpoints fall in a window of K steps
        s0 = jnp.searchsorted(cps, kstart)
        for t in range(later):
            c = jnp.minimum(s0 + t, C - 1)
            row = jnp.clip(cps[c] - kstart, 0, K - 1)
            k_row = jnp.take_along_axis(kbuf.T, row[:, None], axis=1)[:, 0]
            hit = (kstart > 0) & (s0 + t < C) & (cps[c] - kstart < K) & (k_row == cps[c])
            fv = jnp.take_along_axis(fbuf.T, row[:, None], axis=1)[:, 0]
            gv = jnp.take_along_axis(gbuf.T, row[:, None], axis=1)[:, 0]
            curve_f = curve_f.at[lane_ids, c].set(jnp.where(hit, fv, curve_f[lane_ids, c]))
            curve_g = curve_g.at[lane_ids, c].set(jnp.where(hit, gv, curve_g[lane_ids, c]))
        return lanes._replace(f_at=f_at, x_at=x_at, curve_f=curve_f, curve_g=curve_g)

    return record


@functools.lru_cache(maxsize=None)
def _kernel(spec: _Spec):
    """The jitted refill loop for one spec (cached: one compilation per spec)."""
    init, step = _lane_fns(spec)
    L, P, K = spec.lanes, spec.part, spec.chunk
    B = P + L   # a call can finish every queued run and every run already in a lane
    d = spec.problem.dim
    dt = float_dtype(spec.dtype)
    v_init = jax.vmap(init)
    v_step = jax.vmap(step, in_axes=(0, None, None, None, None, None))
    record = _chunk_recorder(spec, K)

    def refill(lanes, ptr, queue, n_queue):
        ids, x0, hp = queue
        empty = lanes.run < 0
        rank = jnp.cumsum(empty) - 1
        src = ptr + rank
        take = empty & (src < n_queue)
        src = jnp.clip(src, 0, P - 1)
        fresh = v_init(ids[src], x0[src], hp[src])
        return _where(take, fresh, lanes), ptr + jnp.sum(take, dtype=jnp.int32)

    def harvest(lanes, out, n_out):
        done = (lanes.run >= 0) & (lanes.status != Status.running)
        pos = jnp.where(done, n_out + jnp.cumsum(done) - 1, B)
        out = {name: out[name].at[pos].set(getattr(lanes, name), mode="drop") for name in RECORD_FIELDS}
        lanes = lanes._replace(run=jnp.where(done, -1, lanes.run))
        return lanes, out, n_out + jnp.sum(done, dtype=jnp.int32)

    def chunk(lanes, useful, rules, bounds):
        bufs = (jnp.zeros((K, L, d), dt), jnp.zeros((K, L), dt), jnp.zeros((K, L), dt),
                jnp.full((K, L), -1, jnp.int32))

        def inner(i, carry):
            lanes, bufs, useful = carry
            lanes, row = v_step(lanes, *rules, *bounds)
            bufs = tuple(jax.lax.dynamic_update_index_in_dim(b, r, i, 0) for b, r in zip(bufs, row))
            return lanes, bufs, useful + jnp.sum(row[3] >= 0, dtype=jnp.int32)

        fired_before = lanes.fired
        lanes, bufs, useful = jax.lax.fori_loop(0, K, inner, (lanes, bufs, useful))
        return record(lanes, fired_before, *bufs), useful

    def call(lanes, queue, n_queue, rules, bounds, drain):
        out = {name: jnp.zeros((B,) + getattr(lanes, name).shape[1:], getattr(lanes, name).dtype)
               for name in RECORD_FIELDS}
        lanes, ptr = refill(lanes, jnp.int32(0), queue, n_queue)

        def body(carry):
            lanes, out, n_out, ptr, useful, executed = carry
            lanes, useful = chunk(lanes, useful, rules, bounds)
            lanes, out, n_out = harvest(lanes, out, n_out)
            lanes, ptr = refill(lanes, ptr, queue, n_queue)
            return lanes, out, n_out, ptr, useful, executed + L * K

        def cond(carry):
            lanes, _, _, ptr, _, _ = carry
            return jnp.where(drain, jnp.any(lanes.run >= 0), ptr < n_queue)

        zero = jnp.int32(0)
        lanes, out, n_out, _, useful, executed = jax.lax.while_loop(
            cond, body, (lanes, out, zero, ptr, zero, zero))
        return lanes, out, n_out, useful, executed

    def empty(dim_dtype):
        run = jnp.full((L,), -1, jnp.int32)
        x0 = jnp.zeros((L, d), dim_dtype)
        hp = jnp.ones((L, 2), dim_dtype)
        return v_init(run, x0, hp)

    return jax.jit(call), jax.jit(empty, static_argnums=0)


_SPECS: list[_Spec] = []


def kernel_cache_size() -> int:
    """How many batch kernels have been compiled in this process (tests count compilations)."""
    return sum(_kernel(s)[0]._cache_size() for s in _SPECS)


def _spec_for(problem: Problem, method: str, n_rules: int, n_runs: int, opts: EngineOptions) -> _Spec:
    lanes = opts.lanes or default_lanes(n_runs)
    # a few lanes' worth per call: finished runs come back (and parts get written) as the group runs
    part = opts.part or max(lanes, min(4 * lanes, _bucket(n_runs)))
    spec = _Spec(problem, method, opts.dtype, n_rules, _bucket(lanes), _bucket(part), opts.chunk, opts.max_iter)
    if spec not in _SPECS:
        _SPECS.append(spec)
    return spec


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
                 stats: dict | None = None, devices: Sequence | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Run every start; yield numpy records of the runs as they finish.

    ``x0`` is an (n, d) array with ``alpha`` and ``momentum`` (scalars or one per
    start), or a :class:`RunSource` that builds the runs slice by slice.
    Each record dict has ``run`` (the row of ``x0`` it belongs to) and the
    final state, per-rule stop records and checkpoint curves of each run.
    Finished runs come in no particular order. The queue is dealt out in
    parts over ``devices`` (all local devices by default); each device runs
    its own lanes, so its runs are the same bits as on one device. ``stats``
    (if given) receives the lane-step counters ``useful`` and ``executed``.
    """
    source = x0 if isinstance(x0, RunSource) else _array_source(problem, x0, alpha, momentum)
    if opts.dtype == "float64" and not jax.config.jax_enable_x64:
        # a generator cannot hold the context for its caller; silently running in float32 would be worse
        raise ValueError("float64 needs `with jax.enable_x64(True):` around the loop over stream_batch "
                         "(run_batch and gdlab.sweep do this for you)")
    n = source.n
    get_method(method)
    if n == 0:
        return
    spec = _spec_for(problem, method, len(rules), n, opts)
    call, empty = _kernel(spec)
    dt = float_dtype(opts.dtype)
    crit, eps, min_steps = rule_arrays(rules)
    P = spec.part
    spans = [(a, min(a + P, n)) for a in range(0, n, P)]
    devices = list(devices or jax.local_devices())[: max(1, len(spans))]
    shared = {}
    for dev in devices:
        put = functools.partial(jax.device_put, device=dev)
        shared[dev] = (put(empty(dt)),
                       (put(jnp.asarray(crit)), put(jnp.asarray(eps, dt)), put(jnp.asarray(min_steps))),
                       (put(jnp.asarray(opts.x_bound, dt)), put(jnp.asarray(opts.f_bound, dt))))
    lanes = {dev: shared[dev][0] for dev in devices}
    last_span = {dev: max(i for i in range(len(spans)) if i % len(devices) == j)
                 for j, dev in enumerate(devices)}
    useful = executed = 0
    for first in range(0, len(spans), len(devices)):
        pending = []
        for j, dev in enumerate(devices):   # dispatch every device before waiting on any
            i = first + j
            if i >= len(spans):
                break
            start, stop = spans[i]
            m = stop - start
            ids = np.full(P, -1, np.int32)
            ids[:m] = np.arange(start, stop, dtype=np.int32)
            xs, al, mo = source.take(start, stop)
            xq = np.zeros((P, problem.dim), dt); xq[:m] = xs
            hq = np.ones((P, 2), dt); hq[:m, 0] = al; hq[:m, 1] = mo
            queue = jax.device_put((ids, xq, hq), dev)
            _, rules_dev, bounds = shared[dev]
            lanes[dev], out, n_out, u, e = call(lanes[dev], queue, jnp.int32(m), rules_dev, bounds,
                                                jnp.bool_(i == last_span[dev]))
            pending.append((out, n_out, u, e))
        for out, n_out, u, e in pending:
            useful += int(u); executed += int(e)
            n_out = int(n_out)
            if n_out:
                yield {name: np.asarray(a)[:n_out] for name, a in out.items()}
    if stats is not None:
        stats["useful"] = stats.get("useful", 0) + useful
        stats["executed"] = stats.get("executed", 0) + executed


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
    init, step = _lane_fns(spec)
    v_init = jax.vmap(init)
    v_step = jax.vmap(step, in_axes=(0, None, None, None, None, None))

    def call(x0, hp, rules, bounds):
        lanes = v_init(jnp.arange(x0.shape[0], dtype=jnp.int32), x0, hp)

        def one(lanes, _):
            lanes, _ = v_step(lanes, *rules, *bounds)
            return lanes, (lanes.x, lanes.f)

        _, (xs, fs) = jax.lax.scan(one, lanes, None, length=n_steps)
        return xs, fs

    return jax.jit(call)


def trace_runs(problem: Problem, method: str, x0, alpha, momentum, n_iter,
               rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions()):
    """Full trajectories of a few runs: (x, f) at steps 0 … n_iter of each.

    Runs the same per-lane step as the batch kernel, so the path is the one
    the batch took. Returns a list of ``(xs (n_iter+1, d), fs (n_iter+1,))``.
    """
    x0, alpha, momentum = _check_inputs(problem, x0, alpha, momentum)
    n_iter = np.asarray(n_iter, dtype=np.int64)
    if len(x0) == 0:
        return []
    spec = _Spec(problem, method, opts.dtype, len(rules), 0, 0, 0, opts.max_iter)
    n_steps = _bucket(int(n_iter.max()) + 1)
    dt = float_dtype(opts.dtype)
    crit, eps, min_steps = rule_arrays(rules)
    with jax.enable_x64(opts.dtype == "float64"):
        call = _trace_kernel(spec, n_steps)
        xs, fs = call(jnp.asarray(x0, dt), jnp.asarray(np.stack([alpha, momentum], 1), dt),
                      (jnp.asarray(crit), jnp.asarray(eps, dt), jnp.asarray(min_steps)),
                      (jnp.asarray(opts.x_bound, dt), jnp.asarray(opts.f_bound, dt)))
        xs, fs = np.asarray(xs), np.asarray(fs)
    return [(xs[: k + 1, i], fs[: k + 1, i]) for i, k in enumerate(n_iter)]


POINT_TYPES = np.array(["minimum", "maximum", "saddle", "degenerate", "non_stationary"], dtype=object)


@functools.lru_cache(maxsize=None)
def _curvature(problem: Problem):
    def one(x):
        h = jax.hessian(problem.fn)(x)
        newton = jnp.linalg.pinv(h) @ jax.grad(problem.fn)(x)
        return jnp.linalg.eigvalsh(h), jnp.sqrt(jnp.sum(newton ** 2))
    return jax.jit(jax.vmap(one))


def classify_points(problem: Problem, xs, dtype: str = "float64", stationary_tol: float = 0.05) -> np.ndarray:
    """Classify points by the eigenvalues of the Hessian: minimum, maximum, saddle or degenerate.

    A point whose Newton step ‖H⁺∇f‖ (the distance to the stationary point the
    quadratic model predicts) exceeds ``stationary_tol`` is ``non_stationary``:
    a stop far from any stationary point is not a minimum, whatever the
    curvature there. An eigenvalue counts as zero below √(machine eps)·max(1, max|λ|).
    """
    xs = np.asarray(xs, dtype=np.float64).reshape(-1, problem.dim)
    if len(xs) == 0:
        return np.array([], dtype=object)
    dt = float_dtype(dtype)
    with jax.enable_x64(dtype == "float64"):
        eig, newton = _curvature(problem)(jnp.asarray(xs, dt))
        eig, newton = np.asarray(eig, dtype=np.float64), np.asarray(newton, dtype=np.float64)
    tol = np.sqrt(np.finfo(dt).eps) * np.maximum(1.0, np.abs(eig).max(axis=1, initial=0.0))[:, None]
    pos = (eig > tol).all(axis=1)
    neg = (eig < -tol).all(axis=1)
    mixed = (eig > tol).any(axis=1) & (eig < -tol).any(axis=1)
    kind = np.select([pos, neg, mixed], [0, 1, 2], 3)
    kind = np.where(np.isfinite(eig).all(axis=1), kind, 3)
    kind = np.where(np.isfinite(newton) & (newton > stationary_tol), 4, kind)
    return POINT_TYPES[kind]
