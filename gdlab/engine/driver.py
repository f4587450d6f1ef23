"""Running batches: the host side of the kernel, which feeds it runs and hands their records on.

:func:`stream_batch` deals a batch's runs over the local devices in calls of
the compiled kernel (:mod:`gdlab.engine.kernel`) and yields the records of the
runs as they finish; :func:`run_batch` gathers them in the order of the
starts; :func:`trace_runs` replays a few runs step by step for their paths.

Hyperparameters are given as a mapping of the method's row names (``alpha``
first: :attr:`gdlab.core.methods.Method.rows`) to one value or one per start;
a bare number is alpha. A row not given takes the method's default.

Reproducibility: at a given lane width a run's numbers do not depend on the
other runs, its lane or when it was loaded (bit for bit). Across widths XLA
may contract a multiply-add into an FMA at one width and not another, which
moves the last bit; so a sweep fixes its lane width from its whole size, and
its shards use that same width.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from ..core.criteria import CRITERIA, StopRule, rule_arrays
from ..core.errors import GdlabError, InputError
from ..core.inputs import float_array, is_finite, whole_number
from ..core.methods import Method, Stepper, as_stepper, problem_value
from ..core.precision import x64
from ..core.problems import Problem, cast_params
from ..core.settings import MAX_CHUNK, MAX_STEP
from .chunks import HOST_WAIT, RunLengths, next_chunk
from .chunks import spans as call_spans
from .devices import keep_freed_memory
from .kernel import counted, keep_idle_lanes, kernel_spec, sharded_kernel, take_idle_lanes, trace_kernel
from .layout import RECORD_FIELDS, EngineOptions, KernelSpec, bucket, curve_steps, float_dtype, unpack

__all__ = ["RunSource", "refills_cost_the_host", "checked_options", "checked_rules", "checked_rows", "hyper_rows", "stream_batch", "run_batch", "trace_runs"]


def _starts(problem: Problem, x0) -> np.ndarray:
    x0 = float_array(x0, f"starts must be an (n, {problem.dim}) array of numbers for problem {problem.name!r}")
    if x0.ndim == 1 and problem.dim == 1:
        x0 = x0[:, None]
    if x0.ndim != 2 or x0.shape[1] != problem.dim:
        raise InputError(f"starts must have shape (n, {problem.dim}) for problem {problem.name!r}, "
                         f"got {x0.shape}")
    return x0


def checked_options(opts: EngineOptions) -> EngineOptions:
    """``opts`` if its settings are ones the kernel can run (a fixed chunk no longer than max_iter),
    else an InputError naming the setting: max_iter ≤ 0 ran no step and said every run had hit
    max_iter; lanes = 0 divided by zero."""
    if not isinstance(opts, EngineOptions):
        raise InputError(f"opts must be gdlab.EngineOptions(…), got {type(opts).__name__}")
    max_iter = whole_number(opts.max_iter)
    if max_iter is None or not 1 <= max_iter <= MAX_STEP:
        raise InputError(f"EngineOptions.max_iter must be a whole number of steps in [1, {MAX_STEP:,}], "
                         f"got {opts.max_iter!r}")
    sizes = {}
    for name, high in (("lanes", MAX_STEP), ("part", MAX_STEP), ("chunk", MAX_CHUNK)):
        value = getattr(opts, name)
        sizes[name] = None if value is None else whole_number(value)
        if value is not None and (sizes[name] is None or not 1 <= sizes[name] <= high):
            raise InputError(f"EngineOptions.{name} must be None (the engine chooses) or a whole number in "
                             f"[1, {high:,}], got {value!r}")
    for name in ("x_bound", "f_bound"):
        value = getattr(opts, name)
        if not (is_finite(value) and value > 0):
            raise InputError(f"EngineOptions.{name} must be a finite number > 0, got {value!r}")
    float_dtype(opts.dtype)
    # a chunk longer than a run can be serves nothing: its buffer would only take memory, its loop time
    chunk = sizes["chunk"] and min(sizes["chunk"], max_iter)
    return opts._replace(max_iter=max_iter, lanes=sizes["lanes"], part=sizes["part"], chunk=chunk)


def checked_rules(rules, opts: EngineOptions) -> tuple[StopRule, ...]:
    """``rules`` as StopRules a kernel can judge (one StopRule alone is a rule, not three fields), else
    an InputError naming the rule: a negative or NaN epsilon ran every run to max_iter, min_steps 2.5
    ran as 2, and a misspelt criterion failed in NumPy."""
    rules = (rules,) if isinstance(rules, StopRule) else tuple(rules)
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, StopRule):
            raise InputError(f"rules[{i}] must be a gdlab.StopRule(criterion, epsilon, min_steps), got {rule!r:.80}")
        try:
            out.append(rule.check())
        except GdlabError as exc:
            why = "; ".join(getattr(exc, "problems", None) or [str(exc)])
            raise InputError(f"rules[{i}] {rule}: {why}") from None
        if out[-1].min_steps > opts.max_iter:
            raise InputError(f"rules[{i}] {rule}: min_steps {rule.min_steps:,} is more than max_iter = "
                             f"{opts.max_iter:,}, so it could never fire")
    return tuple(out)


_VECTORIZED_SEEN: weakref.WeakSet = weakref.WeakSet()


def _checked_problem(problem) -> Problem:
    """``problem`` if the engine can run it: a Problem, whose ``fn``, where it says it is vectorized,
    gives n values for n points given coordinates first (checked once per Problem: a function of one
    point failed deep in the kernel's loop)."""
    if not isinstance(problem, Problem):
        raise InputError(f"the engine takes a gdlab.Problem (gdlab.get_problem({problem!r:.40}) gives one; "
                         f"gdlab.descend takes names and functions too), got {type(problem).__name__}")
    if problem.vectorized and problem not in _VECTORIZED_SEEN:
        try:
            shape = jax.eval_shape(lambda x: problem.fn(x), jax.ShapeDtypeStruct((problem.dim, 3), jnp.float32)).shape
        except Exception as exc:
            shape = f"an error ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]:.120})"
        if shape != (3,):
            raise InputError(f"problem {problem.name!r} says vectorized=True, so its fn must give n values for x of "
                             f"shape (d, n) (coordinates first); for x of shape ({problem.dim}, 3) it gave "
                             f"{shape if isinstance(shape, str) else f'shape {shape}'}: leave vectorized False for "
                             "a function of one point")
        _VECTORIZED_SEEN.add(problem)
    return problem


def hyper_rows(method: Method | Stepper, hyper, n: int, problem: Problem | None = None) -> np.ndarray:
    """The (n, H) hyperparameters of n runs in ``method.rows`` order, from a number (alpha) or a
    mapping of row names to a value or one value per run; rows not given take the method's defaults
    (polyak's f_min: the ``problem``'s known minimum)."""
    method = as_stepper(method)
    given = dict(hyper) if isinstance(hyper, Mapping) else {"alpha": hyper}
    for h in method.method.hyper:
        if h.from_problem and given.get(h.name) is None:
            given[h.name] = problem_value(method.method, h, problem)
    unknown = sorted(set(given) - set(method.rows))
    if unknown:
        raise InputError(f"method {method.name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
                         f"it has {', '.join(method.rows)}")
    if given.get("alpha") is None:
        raise InputError(f"method {method.name!r} needs alpha (one per start, or one for all)")
    defaults = {"alpha": None, **method.defaults()}
    cols = []
    for name in method.rows:
        whose, hyper = method.hyperparameter(name)
        value = float_array(given.get(name, defaults[name]),
                            f"{whose}: {name} must be a number in {hyper.range} (one, or one per start)")
        if value.ndim > 1 or (value.ndim == 1 and len(value) != n):
            raise InputError(f"{name}: give one value, or one per start ({n}); got shape {value.shape}")
        cols.append(np.broadcast_to(value, (n,)))
    return checked_rows(method, np.stack(cols, axis=1) if cols else np.zeros((n, 0)))


def checked_rows(method: Method | Stepper, rows: np.ndarray) -> np.ndarray:
    """``rows`` (n, H), the runs' hyperparameters in ``method.rows`` order, if each is a finite number in
    its method's or schedule's range, else an InputError naming it: NaN, a negative step or adam's
    b1 = 2 would run, and end diverged or wrong, with no error."""
    method = as_stepper(method)
    rows = float_array(rows, f"hyperparameter rows must be an (n, {len(method.rows)}) array of numbers")
    if rows.ndim != 2 or rows.shape[1] != len(method.rows):
        raise InputError(f"hyperparameter rows must be an (n, {len(method.rows)}) array ({', '.join(method.rows)}), "
                         f"got shape {rows.shape}")
    for j, name in enumerate(method.rows):
        whose, hyper = method.hyperparameter(name)
        value = rows[:, j]
        fits = hyper.fits(value)
        if not fits.all():
            bad = np.unique(value[~fits])      # (one value given, broadcast to every run, is one value)
            raise InputError(f"{whose}: {name} must be a number in {hyper.range} (one, or one per start), got "
                             f"{bad[0]:g}" + (f" and {len(bad) - 1:,} more" if len(bad) > 1 else ""))
    conflict = method.method.conflict and method.method.conflict(
        {name: rows[:, j] for j, name in enumerate(method.rows)})
    if conflict:
        raise InputError(f"method {method.name!r}: {conflict}")
    return rows


class RunSource:
    """Runs to feed the kernel without holding them all: ``n`` runs, and ``take(a, b)`` giving
    (x0 (m, d), hyperparameters (m, H)) of runs a … b−1, the hyperparameters in the method's row
    order. A sweep builds each slice when the queue needs it, so memory does not grow with the
    number of runs."""

    def __init__(self, n: int, take: Callable[[int, int], tuple[np.ndarray, np.ndarray]]):
        self.n, self.take = int(n), take


def _checked_source(source: RunSource, method: Stepper) -> RunSource:
    """``source`` whose every slice's hyperparameters are checked (:func:`checked_rows`) as it is taken."""
    def take(a: int, b: int):
        x0, hp = source.take(a, b)
        return x0, checked_rows(method, hp)
    return RunSource(source.n, take)


def _array_source(problem: Problem, method: Stepper, x0, hyper) -> RunSource:
    x0 = _starts(problem, x0)
    hp = hyper_rows(method, hyper, len(x0), problem)
    return RunSource(len(x0), lambda a, b: (x0[a:b], hp[a:b]))


def refills_cost_the_host(devices: Sequence) -> bool:
    """Whether the lanes of these devices run on the host's own cores (CPU devices): there a refill
    takes time from the caller's work, whatever waits on what, so the chunk always goes for the
    kernel's least time; on an accelerator a refill costs a caller that is the bottleneck nothing."""
    return all(dev.platform == "cpu" for dev in devices)


def stream_batch(problem: Problem, method: str | Method, x0, hyper=None,
                 rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions(),
                 stats: dict | None = None, devices: Sequence | None = None,
                 host_bound: bool = False) -> Iterator[dict[str, np.ndarray]]:
    """Run every start; yield numpy records of the runs as they finish.

    ``x0`` is an (n, d) array with ``hyper`` (alpha, or a mapping of the method's hyperparameters:
    each one value or one per start), or a :class:`RunSource` that builds the runs slice by slice.
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
    :mod:`gdlab.engine.devices`); each device runs its own lanes, so its runs are
    the same bits as on one device. ``stats``
    (if given) receives the lane-step counters ``useful`` and ``executed``,
    each call's first chunk (``chunks``) and how many chunks the devices ran
    in all (``chunks_run``: one refill each).

    The adaptive chunk (``opts.chunk=None``) goes for throughput while the
    caller keeps up with the kernel, and, on an accelerator, for useful
    lane-steps while the kernel waits on the caller, which it measures. A call
    dealt before any run has finished starts at 8 and, while the kernel is the
    bottleneck, doubles its chunk as long as few lanes finish (long runs).
    ``host_bound=True`` says the caller will not keep up (a sweep: its tables
    take longer per run than the kernel's steps, in bursts the measure cannot
    foresee), so on an accelerator the chunk aims at useful lane-steps from the
    first call. On CPU devices the lanes run on the caller's own cores, so a
    refill always costs the caller time and the chunk always goes for
    throughput (:func:`refills_cost_the_host`).

    A batch that runs to its end leaves its emptied lanes on the devices, and
    the next batch of the same kernel starts from them (one set is kept, so
    that much device memory stays in use between batches); a batch abandoned
    midway leaves none.
    """
    method, opts, problem = as_stepper(method), checked_options(opts), _checked_problem(problem)
    rules = checked_rules(rules, opts)
    source = _checked_source(x0, method) if isinstance(x0, RunSource) else _array_source(problem, method, x0, hyper)
    keep_freed_memory()    # each call's buffers of several MB are reused, not faulted in anew (gdlab/devices.py)
    if opts.dtype == "float64" and not jax.config.jax_enable_x64:
        # a generator cannot hold the context for its caller; silently running in float32 would be worse
        raise InputError("float64 needs `with jax.enable_x64(True):` around the loop over stream_batch "
                         "(run_batch and gdlab.sweep do this for you)")
    n = source.n
    if n == 0:
        return
    spec = kernel_spec(problem, method, len(rules), n, opts, [r.criterion for r in rules])
    crit, eps, min_steps = rule_arrays(rules, [c.name for c in spec.criteria])
    np_dt = np.dtype(opts.dtype)
    d, R, cps, H = problem.dim, len(rules), curve_steps(opts.max_iter, opts.curves), len(method.rows)
    E = method.n_evals
    P = spec.part
    devices = tuple(devices or jax.local_devices())
    spans = call_spans(n, P, 2 * spec.lanes if opts.part is None else P, 2 * len(devices))
    # a device is worth its own tail of slow runs when it gets two parts or more
    devices = devices[: max(1, len(spans) // 2)]
    k = len(devices)
    call, sh, (init, init_out) = sharded_kernel(spec, devices)
    # device j takes spans j, j + k, j + 2k, …: one call runs a group of k spans side by side
    groups = [list(range(g, min(g + k, len(spans)))) for g in range(0, len(spans), k)]
    last_span = [max(i for i in range(len(spans)) if i % k == j) for j in range(k)]
    lanes = take_idle_lanes((spec, devices)) or init()
    rules_dev = jax.device_put((np.asarray(crit), np.asarray(eps, np_dt), np.asarray(min_steps)), sh["rep"])
    params = jax.device_put(cast_params(problem.params, opts.dtype), sh["rep"])
    bounds = jax.device_put((np.asarray(opts.x_bound, np_dt), np.asarray(opts.f_bound, np_dt)), sh["rep"])

    def queue(g):
        """The queue of group g's call (k spans, one per device), on the host."""
        xq = np.zeros((d, k * P), np_dt)
        hq = np.ones((H, k * P), np_dt)
        n_queue, base = np.zeros(k, np.int32), np.zeros(k, np.int32)
        drain = np.ones(k, bool)       # a device with no span left has drained already
        for j, i in enumerate(groups[g]):
            start, stop = spans[i]
            m = stop - start
            xs, hp = source.take(start, stop)
            xq[:, j * P: j * P + m] = np.asarray(xs).T
            hq[:, j * P: j * P + m] = np.asarray(hp).T
            n_queue[j], base[j], drain[j] = m, start, i == last_span[j]
        return xq, hq, n_queue, base, drain

    use_x64 = jax.config.jax_enable_x64     # thread-local: the launching thread must see the caller's

    free_out = []     # output buffers the host is done with: the next calls write into them (donated)

    def launch(xq, hq, n_queue, base, drain, kd, grow):
        """Run a call on the devices, on a thread of its own, and return once it is done. On several
        CPU devices JAX returns only once the call before has finished (its lanes are this one's
        input); and waiting here, not in the caller's thread, keeps the caller's wait (a future's)
        interruptible: a wait inside JAX for a running call is not, and Ctrl-C would wait for it."""
        nonlocal lanes
        with x64(use_x64):
            out_buf = free_out.pop() if free_out else init_out()
            lanes, out, counts = call(lanes, out_buf, jax.device_put((xq, hq), sh["queue"]),
                                      jax.device_put(n_queue, sh["per_dev"]), jax.device_put(base, sh["per_dev"]),
                                      jax.device_put(np.int32(kd), sh["rep"]), jax.device_put(np.bool_(grow), sh["rep"]),
                                      rules_dev, bounds, params,
                                      jax.device_put(drain, sh["per_dev"]))
            counts.block_until_ready()
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
    # on the host's own cores a refill is never free: the chunk always goes for the kernel's least time,
    # and the host's wait is not measured
    shared = refills_cost_the_host(devices)
    host_bound = host_bound and not shared
    measure_wait = not (host_bound or shared)
    device_idle, chunks, blind, waited, cycled, back = host_bound, [], [], 0.0, 0.0, time.perf_counter()
    # A batch stopped midway (Ctrl-C, an error in the caller) returns at once: the call on the devices
    # cannot be cancelled, so it is left to finish on its thread rather than waited for.
    launcher, finished = ThreadPoolExecutor(1, thread_name_prefix="gdlab-launch"), False
    try:
        pending, held = dispatch(0), None
        for g in range(1, len(groups) + 1):
            ahead = dispatch(g)
            asked = time.perf_counter()
            out, counts = pending.result()
            counts = np.asarray(counts)         # per device: rows written, steps, chunks, useful (2 words)
            useful += sum(counted(h, lo) for h, lo in counts[:, 3:])
            executed += spec.lanes * int(counts[:, 1].astype(np.int64).sum())
            chunks_run += int(counts[:, 2].sum())
            now = time.perf_counter()
            if g > 1 and not blind[g - 1] and measure_wait:    # the first wait includes compiling
                waited, cycled = waited + now - asked, cycled + now - back
                device_idle = waited < HOST_WAIT * cycled
            back = now
            # each device's block of columns, read in place (no copy): its first counts[j, 0] are records
            for block in out.addressable_shards:
                j = (block.index[1].start or 0) // (out.shape[1] // k)
                if counts[j, 0]:
                    rec = unpack(np.asarray(block.data)[:, : counts[j, 0]], d, R, len(cps), H, E)
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
        finished = True
    finally:
        launcher.shutdown(wait=finished, cancel_futures=True)
    # every device's last call drained it: each lane is empty, as good as new for the next batch
    keep_idle_lanes((spec, devices), lanes)
    if stats is not None:
        stats["useful"] = stats.get("useful", 0) + useful
        stats["executed"] = stats.get("executed", 0) + executed
        stats["chunks"] = stats.get("chunks", []) + chunks
        stats["chunks_run"] = stats.get("chunks_run", 0) + chunks_run


def run_batch(problem: Problem, method: str | Method, x0, hyper,
              rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions(),
              stats: dict | None = None) -> dict[str, np.ndarray]:
    """:func:`stream_batch` gathered into arrays in the order of ``x0``'s rows."""
    opts, problem = checked_options(opts), _checked_problem(problem)
    x0 = _starts(problem, x0)
    n = len(x0)
    with x64(opts.dtype == "float64"):
        parts = list(stream_batch(problem, method, x0, hyper, rules, opts, stats))
    if not parts:
        raise InputError("no starts given")
    merged = {name: np.concatenate([p[name] for p in parts]) for name in RECORD_FIELDS}
    order = np.argsort(merged["run"], kind="stable")
    merged = {name: a[order] for name, a in merged.items()}
    if len(merged["run"]) != n or not np.array_equal(merged["run"], np.arange(n)):
        raise RuntimeError("engine lost or duplicated runs: this is a bug in gdlab")
    return merged


def trace_runs(problem: Problem, method: str | Method, x0, hyper, n_iter,
               rules: Sequence[StopRule] = (), opts: EngineOptions = EngineOptions()):
    """Full trajectories of a few runs: (x, f) at steps 0 … n_iter of each.

    Runs the same lane step as the batch kernel, so the path is the one the
    batch took. ``hyper`` as for :func:`stream_batch`, or an (n, H) array of
    rows. Returns a list of ``(xs (n_iter+1, d), fs (n_iter+1,))``.
    """
    method, opts, problem = as_stepper(method), checked_options(opts), _checked_problem(problem)
    rules = checked_rules(rules, opts)
    x0 = _starts(problem, x0)
    n_iter = np.asarray(n_iter, dtype=np.int64)
    n = len(x0)
    if n == 0:
        return []
    hp = checked_rows(method, hyper) if isinstance(hyper, np.ndarray) and hyper.ndim == 2 else \
        hyper_rows(method, hyper, n, problem)
    L = bucket(n)
    used = tuple(CRITERIA[name] for name in CRITERIA if name in {r.criterion for r in rules})
    spec = KernelSpec(problem.objective, method, opts.dtype, len(rules), L, 0, 0, opts.max_iter, True, used)
    n_steps = bucket(int(n_iter.max()) + 1)
    dt = float_dtype(opts.dtype)
    crit, eps, min_steps = rule_arrays(rules, [c.name for c in used])
    xq = np.zeros((problem.dim, L)); xq[:, :n] = x0.T
    hq = np.ones((len(method.rows), L)); hq[:, :n] = hp.T
    with x64(opts.dtype == "float64"):
        call = trace_kernel(spec, n_steps)
        xs, fs = call(jnp.asarray(xq, dt), jnp.asarray(hq, dt),
                      (jnp.asarray(crit), jnp.asarray(eps, dt), jnp.asarray(min_steps)),
                      (jnp.asarray(opts.x_bound, dt), jnp.asarray(opts.f_bound, dt)),
                      cast_params(problem.params, opts.dtype))
        xs, fs = np.asarray(xs), np.asarray(fs)      # (steps, d, L), (steps, L)
    return [(xs[: k + 1, :, i], fs[: k + 1, i]) for i, k in enumerate(n_iter)]
