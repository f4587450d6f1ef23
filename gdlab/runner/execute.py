"""Run a validated sweep through the engine, part by part, into memory or a sweep folder.

The runs of a sweep are cut into parts: consecutive run_ids of one
(problem, method), at most ``part_size`` each. A shard takes every
``shard.count``-th part. Each (problem, method) share streams through one
kernel; as soon as every run of a part has finished, the part's four tables
are built and handed to a sink — kept in memory by :func:`run_sweep`, written to
the sweep folder by :func:`run_to_folder` (which skips parts already there:
that is resume).
"""

from __future__ import annotations

import functools
import json
import math
import platform
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from .. import __version__
from ..core.criteria import Status
from ..core.errors import ConfigError, FolderError
from ..core.expressions import changed_functions, fingerprinted, functions_record
from ..core.methods import METHODS, Stepper
from ..core.names import count
from ..core.points import listed_minima_doubts, point_kinds_later
from ..core.precision import x64
from ..core.problems import Problem, get_problem
from ..core.schedules import CONSTANT, SCHEDULES
from ..engine import EngineOptions, RunSource, default_lanes, lane_bytes, stream_batch, trace_runs
from ..storage.folder import SORT_KEYS, TABLES, SweepFolder, sweep_id
from ..tables.build import (
    CURVE_COLUMNS,
    curve_rows_bound,
    curves_table,
    nearest_minimum,
    runs_table,
    stops_table,
    traces_table,
)
from ..tables.columns import in_order
from ..tables.results import Results
from .budget import size_warning
from .plan import Block, Part, n_starts, plan_parts, run_blocks, run_inputs, runs_frame
from .progress import Progress
from .schema import Sweep, validate

__all__ = ["INTERRUPTED", "check_interrupt", "execute", "run_sweep", "run_to_folder", "save_results", "problem_spec", "engine_options", "sweep_folder",
           "part_tables", "PartWriter"]


INTERRUPTED = threading.Event()
"""Set by the command line's Ctrl-C handler. Python raises KeyboardInterrupt in whatever frame runs
next, which may be a finalizer that swallows it; the sweep also checks this flag between kernel
calls, so a Ctrl-C always stops the sweep (finished parts stay whole)."""


def check_interrupt() -> None:
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


def engine_options(sw: Sweep, total_runs: int, dim: int, stepper: Stepper | None = None) -> EngineOptions:
    """Engine settings for a kernel with ``total_runs`` runs in the whole sweep (all shards).

    The lane width depends on that total, the problem's dimension and the device's memory only,
    so every shard on the same kind of machine computes the same bits.
    """
    chunk = sw.engine.get("chunk")      # None: each call picks it from the runs finished so far
    lanes = sw.engine.get("lanes") or default_lanes(
        total_runs, lane_bytes(dim, len(sw.rules), sw.max_iter, chunk, sw.dtype, sw.curves,
                               *_stepper_bytes(stepper, dim)))
    return EngineOptions(max_iter=sw.max_iter, dtype=sw.dtype, x_bound=sw.diverge_x, f_bound=sw.diverge_f,
                         lanes=lanes, part=sw.engine.get("part"), chunk=chunk, curves=sw.curves)


def _stepper_bytes(stepper: Stepper | None, dim: int) -> tuple[int, int | None, int]:
    """lane_bytes' (n_hyper, state, n_evals) for a stepper (None: gd's)."""
    if stepper is None:
        return 2, None, 0
    return len(stepper.rows), stepper.method.state_size(dim), stepper.n_evals


def traced_starts(n_starts: int, per_setting: int, seed: int = 0) -> np.ndarray:
    """The start ids whose runs keep full trajectories: a seeded random choice (not evenly spaced
    ids, which on a grid would all lie on the border rows); the same in every shard."""
    if per_setting <= 0 or n_starts == 0:
        return np.zeros(0, np.int64)
    if per_setting >= n_starts:
        return np.arange(n_starts, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_starts, per_setting, replace=False)).astype(np.int64)


TRACE_BYTES = 256 << 20     # the traced paths one replay call holds


def part_tables(sw: Sweep, problem: Problem, method: Stepper, rows: pd.DataFrame, x0: np.ndarray, hyper: np.ndarray,
                rec: dict, opts: EngineOptions, traced: np.ndarray,
                curves_out: Callable[[int], dict[str, np.ndarray]] | None = None) -> dict[str, pd.DataFrame]:
    """The four tables of one part, from its runs' records in run order (``hyper``: the runs'
    hyperparameters (n, H), in the method's row order; ``curves_out``: where the curve rows go,
    as :func:`~gdlab.tables.build.curves_table`'s ``out``)."""
    run_ids = rows["run_id"].to_numpy()
    # the converged ends' Hessians queue on the device behind the kernel's call: the tables that need
    # no device are built meanwhile, then the traced runs' replay (which queues behind the Hessians)
    kinds = point_kinds_later(problem, rec["x"][rec["status"] == Status.converged], opts.dtype, sw.stationary_tol)
    nearest = nearest_minimum(problem, rec["x"], rec["f"])
    stops = stops_table(run_ids, problem, rec, sw.rules, nearest)
    curves = curves_table(run_ids, rec, opts.max_iter, opts.curves, curves_out)
    chosen = np.flatnonzero(np.isin(rows["start_id"].to_numpy(), traced))
    # the replay holds every step of the runs it replays: a few at a time, at most TRACE_BYTES a call
    steps = int(rec["k"][chosen].max()) + 1 if len(chosen) else 1
    per_call = max(1, TRACE_BYTES // (8 * (problem.dim + 1) * steps))
    paths = [path for lo in range(0, len(chosen), per_call)
             for path in trace_runs(problem, method, x0[chosen[lo:lo + per_call]], hyper[chosen[lo:lo + per_call]],
                                    rec["k"][chosen[lo:lo + per_call]], sw.rules, opts)]
    runs = runs_table(rows.drop(columns=["start_id"]), problem, x0, rec, opts.dtype, sw.stationary_tol, nearest, kinds())
    return {"runs": runs, "stops": stops, "curves": curves, "traces": traces_table(run_ids[chosen], paths, problem.dim)}


def execute(sw: Sweep, parts: list[Part], blocks: list[Block], sink: Callable[[Part, dict, dict], None],
            progress: Progress | None = None, curves: _CurveColumns | None = None) -> dict:
    """Stream the given parts through the engine; call ``sink(part, tables, facts)`` as each
    completes (``curves``: the columns every part's curve rows are written into)."""
    by_name = {p.name: p for p in sw.problems}
    kernel_sizes: dict[tuple[str, str, str], int] = {}
    for b in blocks:
        key = (b.problem, b.method, b.schedule)
        kernel_sizes[key] = kernel_sizes.get(key, 0) + b.n
    stats: dict = {"useful": 0, "executed": 0, "lanes": {}}
    with x64(sw.dtype == "float64"):
        for (prob, meth, sched), group in _by_group(parts):
            stepper = Stepper(METHODS[meth], None if sched == CONSTANT else SCHEDULES[sched])
            opts = engine_options(sw, kernel_sizes[(prob, meth, sched)], by_name[prob].dim, stepper)
            stats["lanes"][f"{prob}/{meth}" + ("" if sched == CONSTANT else f"/{sched}")] = opts.lanes
            _execute_group(sw, problem=by_name[prob], method=stepper, group=group, blocks=blocks,
                           opts=opts, sink=sink, progress=progress, stats=stats, curves=curves)
    stats["lane_utilisation"] = stats["useful"] / stats["executed"] if stats["executed"] else math.nan
    return stats


def _execute_group(sw: Sweep, problem: Problem, method: Stepper, group: list[Part], blocks: list[Block],
                   opts: EngineOptions, sink, progress, stats: dict, curves: _CurveColumns | None) -> None:
    """One (problem, method) kernel over its parts. The kernel's queue takes the runs slice by slice
    (built when needed: memory does not grow with the sweep); runs finish out of order, so each
    part's records are gathered until the part is whole, then its tables go to the sink."""
    traced = traced_starts(n_starts(sw.starts, problem), sw.traces)
    sizes = np.array([p.stop - p.start for p in group], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)]          # group-local index of each part's first run

    def take(a: int, b: int):
        pieces = []
        for i in range(np.searchsorted(offsets, a, side="right") - 1, len(group)):
            lo, hi = max(a, offsets[i]), min(b, offsets[i + 1])
            if lo >= hi:
                break
            first = group[i].start - offsets[i]
            pieces.append(run_inputs(sw, blocks, int(first + lo), int(first + hi)))
        return tuple(np.concatenate([pc[k] for pc in pieces]) for k in range(2))

    pending: dict[int, _PartRecords] = {}
    t0 = time.perf_counter()

    def build(i: int, fields: dict) -> None:
        part = group[i]
        rows = runs_frame(blocks, part.start, part.stop, sw.hyper_columns)
        x0, hyper = run_inputs(sw, blocks, part.start, part.stop)
        tables = part_tables(sw, problem, method, rows, x0, hyper, fields, opts, traced,
                             None if curves is None else functools.partial(curves.rows, part.part))
        sink(part, tables, {"runs": int(sizes[i]), "seconds": time.perf_counter() - t0})

    source = RunSource(int(offsets[-1]), take)
    builder = _Stage(build, "gdlab-tables", threaded=_tables_thread())
    try:
        for rec in stream_batch(problem, method, source, rules=sw.rules, opts=opts, stats=stats, host_bound=True):
            check_interrupt()
            run = rec["run"]
            if not len(run):
                continue
            owner = np.searchsorted(offsets, run, side="right") - 1
            one = owner.min() == owner.max()
            for i in ((int(owner[0]),) if one else np.unique(owner).tolist()):
                which = slice(None) if one else np.flatnonzero(owner == i)
                got = pending.setdefault(i, _PartRecords(int(sizes[i])))
                got.put(rec, run[which] - offsets[i], which)
                if got.left == 0:
                    builder.submit(i, pending.pop(i).fields)
            if progress:
                progress.update(len(run))
    except BaseException:
        builder.finish(raising=False)    # the parts whose runs are all in are built and handed on all the same
        raise
    builder.finish()


def _tables_thread() -> bool:
    """Whether parts' tables are built on a thread of their own while the kernel runs: on an
    accelerator, whose kernel leaves the host's cores free. On a CPU the kernel takes every core (a
    device per core), and a third busy thread measured no faster, at times slower."""
    return jax.default_backend() != "cpu"


class _Stage:
    """Runs ``work`` on each submitted item in a thread of its own (or, not ``threaded``, at once in
    the caller's), in order, while the caller goes on: the sweep's loop keeps the kernel fed while
    the parts it has finished get their tables (NumPy, pandas and Arrow release the GIL for their
    large operations). An item is queued before the caller waits for the ones before it, so an
    interrupt during the wait loses no item; at most ``depth`` items are queued once :meth:`submit`
    returns, which bounds the memory they hold. A failed item raises in the caller's thread at the
    next submit or at :meth:`finish`."""

    def __init__(self, work: Callable, name: str, depth: int = 1, threaded: bool = True):
        self.work, self.depth = work, depth
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name) if threaded else None
        self.pending = []

    def submit(self, *args) -> None:
        if self.pool is None:       # in the caller's thread, at once
            self.work(*args)
            return
        self.pending.append(self.pool.submit(self.work, *args))
        while len(self.pending) > self.depth:
            self.pending[0].result()
            self.pending.pop(0)

    def finish(self, raising: bool = True) -> None:
        """Wait for every item; ``raising=False`` (the caller is already stopping on an error or an
        interrupt, which is the one to see) waits without raising theirs."""
        try:
            for future in self.pending:
                if raising:
                    future.result()
                else:
                    future.exception()
        finally:
            self.pending = []
            if self.pool is not None:
                self.pool.shutdown(wait=True)


class _PartRecords:
    """One part's records, put in run order as they come (runs finish out of order, and a call's
    records may belong to several parts): each field's rows are written by run, with no sort and
    no concatenation."""

    def __init__(self, n: int):
        self.left = n                                       # runs still to come
        self.fields: dict[str, np.ndarray] | None = None    # the part's record, runs first

    def put(self, rec: dict, pos: np.ndarray, which) -> None:
        """``rec``'s runs ``which`` (a slice or indices) go to the part's runs ``pos``."""
        if self.fields is None:
            self.fields = {k: np.empty((self.left,) + v.shape[1:], v.dtype) for k, v in rec.items()}
        if not len(pos):
            return
        for k, v in rec.items():
            if not v.size:
                continue
            if v.dtype == self.fields[k].dtype:
                _rows(self.fields[k])[pos] = _rows(v[which])
            else:       # (a call's records have one layout; any other is converted, as assignment does)
                self.fields[k][pos] = v[which]
        self.left -= len(pos)


def _rows(a: np.ndarray) -> np.ndarray:
    """An array's rows as one element each (its bytes; a view of a C-contiguous array, else of a
    contiguous copy), so that moving rows by index copies each row whole: a part's 22 checkpoint
    values a run moved as floats took 3× as long."""
    a = np.ascontiguousarray(a)
    width = a.itemsize * (a.size // len(a))
    flat = a.reshape(len(a), -1)
    return flat.view(f"u{width}" if width in (1, 2, 4, 8) else np.dtype((np.void, width)))[:, 0]


class _CurveColumns:
    """An in-memory sweep's curves table, written in place: the parts' curve rows go into one set
    of columns, reserved for the most rows its runs can have (on Linux's default overcommit,
    memory never written costs only address space), in part order, so that they are not joined by
    a copy: that was a second write of every row (527 MB at 10⁶ runs of 196 steps) into fresh memory.

    A part whose turn has come (every part before it in ``order`` has its rows) writes its rows
    straight into the next ones. A part built before its turn (a kernel's parts interleave with
    another's, as a schedule or a method listed twice makes them, and the kernels run one after
    the other; or a kernel with fewer lanes than a part holds finished a later part first) writes
    into rows of its own, which move into the columns when its turn comes."""

    def __init__(self, n_rows: int, order: list[int]):
        self.columns = {k: np.empty(n_rows, t) for k, t in CURVE_COLUMNS.items()}
        self.order, self.turn = list(order), 0      # the parts in table order; the next to write
        self.used = 0                                   # the rows written
        self.early: dict[int, dict[str, np.ndarray]] = {}     # parts built before their turn → their rows

    @classmethod
    def reserve(cls, sw: Sweep, parts: list[Part]) -> _CurveColumns | None:
        """Columns for ``parts`` of ``sw``; None where it keeps no curves, or where the
        reservation is refused (the parts' tables are then joined)."""
        if not sw.curves:
            return None
        try:
            return cls(sum(p.stop - p.start for p in parts) * curve_rows_bound(sw.max_iter),
                       sorted(p.part for p in parts))
        except MemoryError:
            return None

    def rows(self, part: int, n: int) -> dict[str, np.ndarray]:
        """Columns of ``n`` rows for ``part`` to write: the next rows of the table where its turn
        has come, else rows of its own. Parts write one at a time, each before the next asks."""
        self._move_early()          # (a part built before its turn has written its rows by now)
        if self.turn < len(self.order) and self.order[self.turn] == part:
            self.turn += 1
            return self._take(n)
        self.early[part] = {k: np.empty(n, t) for k, t in CURVE_COLUMNS.items()}
        return self.early[part]

    def _take(self, n: int) -> dict[str, np.ndarray]:
        a, b = self.used, self.used + n
        if b > len(self.columns["run_id"]):
            raise RuntimeError(f"curve rows past the {len(self.columns['run_id']):,} reserved")  # a bug, not input
        self.used = b
        return {k: c[a:b] for k, c in self.columns.items()}

    def _move_early(self) -> None:
        while self.turn < len(self.order) and self.order[self.turn] in self.early:
            part = self.order[self.turn]
            self.turn += 1
            rows = self.early.pop(part)
            for k, c in self._take(len(rows["run_id"])).items():
                c[:] = rows[k]

    def table(self) -> pd.DataFrame | None:
        """The whole table, once every part has its rows; None otherwise (a part missing)."""
        self._move_early()
        if self.turn < len(self.order):
            return None
        return pd.DataFrame({k: c[:self.used] for k, c in self.columns.items()}, copy=False)


def _by_group(parts: list[Part]):
    out: dict[tuple[str, str, str], list[Part]] = {}
    for p in parts:
        out.setdefault(p.kernel, []).append(p)
    return out.items()


def _facts(sw: Sweep, n_runs: int, seconds: float, stats: dict) -> dict:
    return {
        "runs": int(n_runs), "seconds": seconds, "dtype": sw.dtype,
        "device": str(jax.devices()[0]), "device_count": jax.local_device_count(), "backend": jax.default_backend(),
        "jax": jax.__version__, "gdlab": __version__, "python": platform.python_version(),
        "useful_lane_steps": int(stats.get("useful", 0)), "executed_lane_steps": int(stats.get("executed", 0)),
        "lane_utilisation": stats.get("lane_utilisation", math.nan), "lanes": stats.get("lanes"),
        **functions_record(sw.problems),     # what its _target_/CUTEst functions computed, for Results.save
    }


def _concat(frames: list[pd.DataFrame], table: str) -> pd.DataFrame:
    """The parts' frames as one table in its order. Given in part order they are in it already (a
    part's rows are in run order, and parts are consecutive runs): one pass checks it, where a
    sort took 2.5 s of a 10⁶-run sweep's 7 s."""
    frame = pd.concat(frames, ignore_index=True)
    if in_order(frame, SORT_KEYS[table]):
        return frame
    return frame.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)


def run_sweep(sw: Sweep) -> Results:
    """Run every run of ``sw`` (its shard's share) and gather the tables in memory."""
    for doubt in listed_minima_doubts(sw.problems, sw.success_tol, sw.dtype, sw.f_target):
        warnings.warn(doubt, stacklevel=2)
    big = size_warning(sw, in_memory=True)
    if big:
        warnings.warn(big, stacklevel=2)
    blocks = run_blocks(sw)
    plan = plan_parts(blocks, sw.part_size)
    parts = _my_parts(sw, plan)
    if not parts:
        raise ConfigError(f"shard: shard {sw.shard['index']} of {sw.shard['count']} holds none of this sweep's "
                          f"{count(len(plan), 'part')} (part_size {sw.part_size:,}): give a shard.index below "
                          f"{len(plan)}, or a smaller part_size")
    got: dict[int, dict[str, pd.DataFrame]] = {}
    t0 = time.perf_counter()
    curves = _CurveColumns.reserve(sw, parts)
    # with the curve columns, a part's own curves table is a view of them (or of rows of its own, until
    # they move in): not kept
    stats = execute(sw, parts, blocks, lambda p, tables, facts: got.__setitem__(
        p.part, tables if curves is None else {**tables, "curves": None}), curves=curves)
    whole = None if curves is None else curves.table()
    if curves is not None and whole is None:
        raise RuntimeError("an in-memory sweep lost a part's curve rows: this is a bug in gdlab")
    tables = [whole if t == "curves" and curves is not None else _concat([got[p][t] for p in sorted(got)], t)
              for t in TABLES]
    return Results(*tables, config=sw.config, facts=_facts(sw, len(tables[0]), time.perf_counter() - t0, stats))


def problem_spec(problem: Problem):
    """What a config stores for ``problem`` so that validating it builds the same function on the same
    domain: a registry name (or ``{name, dim, domain}``), or an inline mapping for an expression or a
    ``_target_``. A plain Python function has no such form: FolderError says what to do."""
    key = problem.key
    domain = [[float(v) for v in ax] for ax in problem.domain]
    if isinstance(key, tuple) and key[0] == "registry":
        _, name, dim = key
        spec = {"name": name, "dim": dim, "domain": domain}
        plain = get_problem(name, dim)
        same_domain = [list(ax) for ax in plain.domain] == domain
        return name if plain.name == name and same_domain else spec
    if isinstance(key, tuple) and key[0] in ("expr", "target"):
        kind, text, dim, constraints, _ = key      # (and a _target_'s function)
        spec = {"name": problem.name, "expr" if kind == "expr" else "_target_": text, "dim": dim,
                "domain": domain, "minima": [[float(v) for v in m] for m in problem.minima],
                "f_min": [float(v) for v in problem.f_min]}
        if constraints != "null":
            spec["constraints"] = json.loads(constraints)
        return spec
    raise FolderError(f"problem {problem.name!r} is a Python function, which a sweep folder's config.yaml cannot "
                      "hold: give it as an expression ({name: …, expr: …, domain: …}) or as a _target_ "
                      "(module.function, importable where the folder is read), then run and save again")


def save_results(res: Results, path: Path | str | None = None, log: Callable[[str], None] = print) -> Path:
    """Write in-memory results (``gdlab.sweep``'s) as a sweep folder: config.yaml, the parts the sweep
    would have written and the manifest, so that ``gdlab report``, ``gdlab verify``, ``gdlab.load`` and a
    resume read it as one the command wrote. ``path``: the sweep folder (default
    ``<out_dir>/<experiment>/<sweep id>``). Returns the folder."""
    sw = validate(res.config)
    # entries already plain data (names, mappings) are kept as given, so the id is the command's; a
    # Problem object becomes the spec that rebuilds it
    given = list(sw.config["problems"]) if isinstance(sw.config["problems"], (list, tuple)) else [sw.config["problems"]]
    if all(isinstance(e, (str, Mapping)) for e in given):
        entries = given                  # a suite entry stands for several problems: kept whole
    elif len(given) == len(sw.problems):
        entries = [e if isinstance(e, (str, Mapping)) else problem_spec(p) for e, p in zip(given, sw.problems)]
    else:
        entries = [problem_spec(p) for p in sw.problems]
    config = {**_plain_config(sw.config), "problems": entries}
    again = validate(config)
    if [(p.key, p.domain) for p in again.problems] != [(p.key, p.domain) for p in sw.problems]:
        raise FolderError("these results' problems do not rebuild from a config (its problems: "
                          f"{[p.name for p in sw.problems]}); run them from a config mapping and save again")
    blocks = run_blocks(again)
    plan = plan_parts(blocks, again.part_size)
    tables = _whole_parts(res, again, plan)        # checked before anything is written
    folder = SweepFolder(Path(path) if path is not None else sweep_folder(again))
    folder.prepare(config)
    shard = f"shard-{again.shard['index']}-of-{again.shard['count']}"
    # the functions as they were when the results were computed (one defined again since is not
    # theirs); results read from a folder by an older gdlab hold none, and their parts get none
    functions = {"functions": res.facts["functions"]} if isinstance((res.facts or {}).get("functions"), Mapping) \
        else {}
    with folder.lock(shard, log=log):
        version = str((res.facts or {}).get("gdlab") or __version__)     # the gdlab that computed them
        _same_functions(folder, again, functions, log)
        _same_version(folder, version)
        for p, part in tables:
            folder.write_part(p.part, part, {"runs": p.stop - p.start, "shard": shard, "saved_from": "memory",
                                             "gdlab": version, **functions})
        facts = res.facts or {}
        stats = {"useful": facts.get("useful_lane_steps"), "executed": facts.get("executed_lane_steps"),
                 "lane_utilisation": facts.get("lane_utilisation"), "lanes": facts.get("lanes"),
                 "seconds": facts.get("seconds")}
        _update_manifest(folder, again, plan, sum(b.n for b in blocks), stats, log)
    res.path = folder.path
    return folder.path


def _whole_parts(res: Results, sw: Sweep, plan: list[Part]) -> list[tuple[Part, dict[str, pd.DataFrame]]]:
    """The parts of ``plan`` the results hold, each with its four tables; FolderError where the results
    are not whole: a ``.where`` selection (whole parts of it would pass for a partial sweep), runs out
    of run order, a part with some of its runs only, a table missing its rows."""
    selection = (res.facts or {}).get("where")
    if selection:
        said = ", ".join(f"{k}={v!r}" for k, v in selection.items())
        raise FolderError(f"these results are a selection (.where({said})), not a sweep: save the whole Results "
                          "that gdlab.sweep returned (a selection's tables are yours to write as you like: "
                          "r.runs.to_parquet(…))")
    run_id = res.runs["run_id"].to_numpy()
    if len(run_id) and not (np.diff(run_id) > 0).all():
        raise FolderError("these results' runs are not in run order (run_id ascending): save the Results "
                          "gdlab.sweep returned, not a re-sorted copy")
    out = []
    for p in plan:
        lo, hi = np.searchsorted(run_id, [p.start, p.stop])
        if hi == lo:
            continue                # another shard's part
        if hi - lo != p.stop - p.start:
            raise FolderError(f"these results lack runs {p.start:,}–{p.stop - 1:,} of part {p.part} "
                              f"({hi - lo:,} of {p.stop - p.start:,} there): save the whole Results that "
                              "gdlab.sweep returned, not a filtered copy")
        out.append((p, {t: _rows_between(getattr(res, t), p.start, p.stop) for t in TABLES}))
    if not out:
        raise FolderError("these results hold no runs to save")
    n_rules = len(sw.rules)
    for p, part in out:
        if len(part["stops"]) != len(part["runs"]) * n_rules:
            raise FolderError(f"these results hold {len(part['stops']):,} stop rows for {len(part['runs']):,} runs × "
                              f"{n_rules} rules (part {p.part}): load every table (gdlab.load(folder)) before saving")
        if sw.config.get("curves", True) and len(part["runs"]) and not len(part["curves"]):
            raise FolderError(f"these results hold no curves for part {p.part} of a sweep with curves: load every "
                              "table (gdlab.load(folder)) before saving")
    return out


def _rows_between(frame: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """The rows of runs ``start`` ≤ run_id < ``stop`` of a table in run order."""
    ids = frame["run_id"].to_numpy()
    lo, hi = np.searchsorted(ids, [start, stop])
    return frame.iloc[lo:hi].reset_index(drop=True)


def _plain_config(config: Mapping) -> dict:
    """The config's keys but problems, as a config.yaml holds them."""
    return {k: v for k, v in config.items() if k != "problems"}


def _my_parts(sw: Sweep, plan: list[Part]) -> list[Part]:
    """This shard's parts: every shard.count-th one."""
    return [p for p in plan if p.part % sw.shard["count"] == sw.shard["index"]]


def sweep_folder(sw: Sweep, root: Path | str | None = None) -> Path:
    return Path(root if root is not None else sw.out_dir) / sw.experiment / sweep_id(sw.config)


def run_to_folder(sw: Sweep, root: Path | str | None = None, log: Callable[[str], None] = print,
                  show_progress: bool = True) -> Path:
    """Run the shard's missing parts into the sweep folder and update its manifest; return the folder."""
    for doubt in listed_minima_doubts(sw.problems, sw.success_tol, sw.dtype, sw.f_target):
        log(f"warning: {doubt}")
    folder = SweepFolder(sweep_folder(sw, root))
    folder.prepare(sw.config)
    blocks = run_blocks(sw)
    plan = plan_parts(blocks, sw.part_size)
    n_runs = sum(b.n for b in blocks)
    shard = f"shard-{sw.shard['index']}-of-{sw.shard['count']}"
    big = size_warning(sw, in_memory=False)
    if big:
        log(f"warning: {big}")
    functions = functions_record(sw.problems)
    with folder.lock(shard, log=log):
        folder.clean_temporaries()
        _same_functions(folder, sw, functions, log)
        mine = _my_parts(sw, plan)
        done, wrong = _sound_parts(folder, {p.part for p in mine}, len(plan))
        todo = [p for p in mine if p.part not in done]
        if todo:        # (a sweep whose parts are all done is another version's to report, not to add to)
            _same_version(folder, __version__)
        for part, why in sorted(wrong.items()):
            log(f"part {part}: {why}; {'computing it again' if part < len(plan) else 'removed'}")
            folder.discard(part)
        if not todo:
            log(f"sweep {folder.path.name}: all {count(len(mine), 'part')} of this shard are already complete; "
                "nothing to compute")
            stats = {}
        else:
            if len(todo) < len(mine):
                log(f"resuming: {len(mine) - len(todo):,} of {count(len(mine), 'part')} already done")
            n_todo = sum(p.stop - p.start for p in todo)
            log(f"sweep {folder.path.name}: {count(n_todo, 'run')} in {count(len(todo), 'part')} (the sweep: "
                f"{sweep_shape(sw, blocks)}; "
                f"dtype {sw.dtype}, {count(jax.local_device_count(), jax.default_backend() + ' device')})")
            progress = Progress(n_todo, show_progress, log)
            t0 = time.perf_counter()
            projected = threading.Lock()

            def write(p: Part, tables, facts) -> dict:
                record = folder.write_part(p.part, tables, {**facts, "shard": shard, "gdlab": __version__,
                                                            **functions})
                if projected.acquire(blocking=False):   # the first part written tells what the rest will take
                    try:
                        lines = disk_projection(folder.path, record, n_todo)
                    except OSError:     # a guess never stops a sweep
                        lines = []
                    for line in lines:
                        progress.note(line)
                return record

            writer = PartWriter(write)
            stopped = True
            try:
                stats = execute(sw, todo, blocks, writer.submit, progress)
                stopped = False
            finally:
                try:
                    # the parts being written are finished, whatever stopped the sweep; a write that
                    # failed meanwhile does not hide what stopped it (an interrupt's exit code)
                    writer.finish(raising=not stopped)
                finally:
                    progress.close()    # after them: a write's lines (the disk projection) are said
            stats["seconds"] = time.perf_counter() - t0
        _update_manifest(folder, sw, plan, n_runs, stats, log)
    return folder.path


def sweep_shape(sw: Sweep, blocks: list[Block]) -> str:
    """The sweep's runs as settings × starts, in words: '12 settings × 400 starts, a grid of 20 per axis'."""
    ns = sorted({b.n for b in blocks})
    starts = count(ns[0], "start") if len(ns) == 1 else f"{ns[0]:,}–{ns[-1]:,} starts"
    shape = f"{count(len(blocks), 'setting')} × {starts}"
    if sw.starts.get("kind") == "grid":
        shape += f", a grid of {sw.starts['n']:,} per axis"
    return shape


LARGE_SWEEP_BYTES = 10 ** 9    # a sweep projected to take more than this on disk says so


def disk_projection(path: Path, record: Mapping, n_runs: int) -> list[str]:
    """What ``n_runs`` runs will take on disk, judged by one written part's ``record``: a line when
    that is over :data:`LARGE_SWEEP_BYTES`, and a warning when it is more than the disk has free."""
    rows = record["files"]["runs"]["rows"]
    size = sum((path / f["file"]).stat().st_size for f in record["files"].values())
    if not rows:
        return []
    need = size / rows * n_runs
    free = shutil.disk_usage(path).free
    lines = []
    if need > LARGE_SWEEP_BYTES:
        lines.append(f"sweep: its first part took {_bytes(size)} for {rows:,} runs, so {n_runs:,} runs will "
                     f"take about {_bytes(need)} on disk ({_bytes(free)} free)")
    if need - size > free:
        lines.append(f"warning: the sweep needs about {_bytes(need - size)} more on disk than the "
                     f"{_bytes(free)} free under {path}: it will stop when the disk is full, keeping the parts "
                     "finished (fewer starts, curves: false, or a folder with more room: out_dir=…)")
    return lines


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


class PartWriter:
    """Writes parts in background threads while the next ones are computed: ``workers`` parts at a
    time, each part's files by one thread.

    Writing a part (Parquet's encoding, sha256, fsync) takes longer than building its tables, and
    pyarrow, hashlib and fsync release the GIL, so writes overlap with the sweep and with each other:
    with two writers a 10⁶-run sweep's parts took 3.2–3.3 s where one writer took 3.6–4.0 s, the
    sweep's thread waiting for the writer 1.0–1.1 s of it (docs/performance.md). At most ``workers``
    parts are held once :meth:`submit` returns, which bounds memory. A failed write (a full disk)
    raises in the sweep's thread at the next part or at :meth:`finish`. The first part is written
    alone (it tells what the sweep will take on disk). The writes under way when the sweep stops
    (Ctrl-C, an error) are waited for, and a part handed over while the sweep waits for a write is
    written even when an interrupt stops that wait, so a computed part is not lost."""

    def __init__(self, write: Callable, workers: int = 2):
        self.write, self.workers = write, workers
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="gdlab-writer")
        self.pending: list = []
        self.first = True

    def submit(self, part, tables, facts) -> None:
        self._raise_failed()
        try:
            # the first part is written alone: it tells what the rest will take on disk before several
            # writes at once could fill a disk that has room for one
            while len(self.pending) >= (1 if self.first else self.workers):
                self.pending[0].result()
                self.pending.pop(0)
                self.first = False
        except BaseException:
            if self.pending and self.pending[0].done() and self.pending[0].exception() is not None:
                self.pending.pop(0)      # a failed write: its error is raised, once, and this part not written
                raise
            # stopped while waiting (Ctrl-C, SIGTERM): the part in hand is computed, and written all the same
            self.pending.append(self.pool.submit(self.write, part, tables, facts))
            raise
        self.pending.append(self.pool.submit(self.write, part, tables, facts))

    def _raise_failed(self) -> None:
        """A finished write's error, where one failed (the first submitted of those)."""
        for future in self.pending:
            if future.done() and future.exception() is not None:
                self.pending.remove(future)
                raise future.exception()

    def finish(self, raising: bool = True) -> None:
        """Wait for every write, then raise the first failed one's error (``raising=False``: the
        caller is already stopping on an error or an interrupt, which is the one to see)."""
        try:
            failed = [f.exception() for f in self.pending]      # waits for each, raising none
            for exc in failed:
                if exc is not None and raising:
                    raise exc
        finally:
            self.pending = []
            self.pool.shutdown(wait=True)


def _same_functions(folder: SweepFolder, sw: Sweep, functions: Mapping, log: Callable[[str], None]) -> None:
    """Refuse to add to (or to call complete) a folder whose parts were computed with another function
    under one of the sweep's ``_target_`` paths or CUTEst names: its results would mix two functions, or be the old
    one's. ``functions``: :func:`functions_record` of the sweep's problems as they are now."""
    if not functions:
        return
    changed, unknown = changed_functions(folder.records(), functions)
    targets = {p.name: fingerprinted(p) for p in sw.problems}
    for name in sorted(unknown - set(changed)):
        log(f"note: problem {name!r}: its parts were fingerprinted under another JAX version (or by another "
            f"gdlab), so whether its function {targets.get(name, '')} has changed since cannot be told; taken as "
            "the same")
    if changed:
        which = "; ".join(f"problem {name!r}: {count(n, 'part')} in {folder.path} {'was' if n == 1 else 'were'} "
                          f"computed with another version of its function {targets.get(name, '')}"
                          for name, n in sorted(changed.items()))
        raise FolderError(f"{which} (its code has changed since, or code it calls), and the results of two "
                          "versions of a function must not mix. Run it as it is now into another folder (another "
                          f"name=… or out_dir=…), or delete {folder.path} to compute it again; nothing in it was "
                          "changed")


def _same_version(folder: SweepFolder, version: str) -> None:
    """Refuse to add to a folder whose parts another gdlab version computed (any shard's): a sweep's
    parts would mix two versions' runs (a method or a problem changed between them), and call
    themselves one sweep. A part record from before records kept the version is taken as the
    manifest's."""
    records = folder.records()
    try:
        said = str(folder.manifest().get("gdlab") or version)
    except FolderError:         # rebuilt from the part records later
        said = version
    other = {}
    for part, rec in sorted(records.items()):
        was = rec.get("gdlab", said)
        if was != version:
            other.setdefault(was, []).append(part)
    if other:
        which = "; ".join(f"gdlab {was} computed {count(len(parts), 'part')} (part {parts[0]}"
                          f"{'…' if len(parts) > 1 else ''})" for was, parts in sorted(other.items()))
        raise FolderError(f"{folder.path}: {which}, and this is gdlab {version}: the runs of two versions must not "
                          "mix in one sweep. Finish it with the gdlab that began it, run it into another folder "
                          f"(another name=… or out_dir=…), or delete {folder.path} to compute it again; nothing in "
                          "it was changed")


def _sound_parts(folder: SweepFolder, mine: set[int], planned: int) -> tuple[set[int], dict[int, str]]:
    """(This shard's finished parts that can be trusted: each record whole, of this folder's sweep,
    and each file the bytes its sha256 names; the parts to discard, with why: this shard's others,
    to be computed again (resume never builds on damaged data, nor on another sweep's), and records
    of parts beyond the sweep's ``planned`` parts, which no shard computes)."""
    records, wrong = folder.scan()
    wrong = {p: why for p, why in wrong.items() if p in mine}
    wrong.update({p: f"is not a part of this sweep (it has {count(planned, 'part')})"
                  for p in records if p >= planned})
    wrong.update(folder.foreign({p: r for p, r in records.items() if p in mine}))
    wrong.update(folder.damaged({p: r for p, r in records.items() if p in mine and p not in wrong}))
    for part in sorted(mine - set(records) - set(wrong)):
        if any(folder.table_path(t, part).exists() for t in TABLES):
            wrong[part] = (f"its files are there without its record {folder.record_path(part).name} (a write cut "
                           "short, or the record deleted)")
    return {p for p in records if p in mine and p not in wrong}, wrong


def _update_manifest(folder: SweepFolder, sw: Sweep, plan: list[Part], n_runs: int, stats: dict,
                     log: Callable[[str], None] = print) -> dict:
    """Write the manifest: the plan's finished parts of this sweep, its status and facts (the status
    and the parts' gdlab version are said by write_manifest, from the records it lists)."""
    previous = {}
    if (folder.path / "manifest.json").exists():
        try:
            previous = folder.manifest().get("runs_by_shard", {})
        except FolderError as exc:      # rebuilt below from the part records, which hold what it needs
            log(f"{exc}; rebuilding it from the part records")
    shard = f"shard-{sw.shard['index']}-of-{sw.shard['count']}"
    if stats:
        previous[shard] = {k: stats.get(k) for k in ("useful", "executed", "lane_utilisation", "lanes", "seconds")}
    useful = sum((s.get("useful") or 0) for s in previous.values())
    executed = sum((s.get("executed") or 0) for s in previous.values())
    body = {
        "sweep_id": folder.path.name, "experiment": sw.experiment,
        "n_runs": n_runs, "n_parts": len(plan), "rules": [r._asdict() for r in sw.rules],
        "gdlab": __version__, "jax": jax.__version__, "device": str(jax.devices()[0]),
        "device_count": jax.local_device_count(), "backend": jax.default_backend(), "dtype": sw.dtype,
        "lane_utilisation": useful / executed if executed else None,
        "useful_lane_steps": useful, "executed_lane_steps": executed,
        "seconds": sum((s.get("seconds") or 0) for s in previous.values()),
        "runs_by_shard": previous,
    }
    return folder.write_manifest(body, planned=len(plan))
