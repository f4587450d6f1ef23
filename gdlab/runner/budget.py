"""What a sweep will ask of the machine, estimated before anything is computed, and refused where it cannot fit.

Nothing proportional to the number of runs is built here: the counts come from
the settings and the starts' kind, so a config asking for 10¹² starts is
refused in a millisecond. The estimates are of memory (the kernel's lanes on a
device, a part's tables on the host, the traced paths of a part), each named
by the key that sets it, with the numbers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..core.criteria import checkpoints
from ..engine.layout import curve_steps, device_bytes, lane_bytes, record_width
from .keys import MAX_STEP

if TYPE_CHECKING:
    from .schema import Sweep

__all__ = ["MAX_PARTS", "MAX_STEP", "host_bytes", "budget_problems", "n_runs_of", "size_warning"]

MAX_PARTS = 1_000_000          # a sweep's parts: each is a file per table and a record on disk


def host_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size(n: float) -> str:
    if n >= 1e300:          # (an integer product beyond float64's range would not divide)
        return "more than 1e300 B"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def n_runs_of(sw: Sweep) -> int:
    """The sweep's runs (all shards), from the counts alone."""
    total = 0
    for p in sw.problems:
        total += count_starts(sw.starts, p) * len(sw.settings)
    return total


def count_starts(starts: Mapping, problem) -> int:
    """How many starts a (checked) starts spec gives ``problem``: n per axis (grid), n (uniform; suite:
    the suite's start and n − 1 around it, n = 1 where not given), or the points listed."""
    kind = starts.get("kind")
    if kind == "grid":
        return int(starts["n"]) ** problem.dim
    if kind == "uniform":
        return int(starts["n"])
    if kind == "suite":
        return int(starts.get("n") or 1)
    pts = starts["points"]
    return len(pts[problem.name] if isinstance(pts, Mapping) else pts)


def size_warning(sw: Sweep, in_memory: bool) -> str | None:
    """A line for a sweep of more runs than its ``warn_runs``: how big, and what that asks."""
    runs = n_runs_of(sw)
    if runs <= sw.config["warn_runs"]:
        return None
    line = (f"the sweep is {runs:,} runs (more than warn_runs = {sw.config['warn_runs']:,}), up to "
            f"{runs * sw.max_iter:,} steps")
    if in_memory:
        line += (f"; its tables in memory take about {_size(runs * _run_bytes(sw))}, this machine has "
                 f"{_size(host_bytes())}: gdlab on the command line writes them part by part instead")
    return line + "; Ctrl-C keeps what is finished"


def _run_bytes(sw: Sweep) -> int:
    """A run's rows in the tables, in bytes (float64): its runs row, stop rows and curve rows."""
    d = max(p.dim for p in sw.problems)
    return 8 * ((2 * d + 12) + len(sw.rules) * 10 + (len(checkpoints(sw.max_iter)) * 4 if sw.curves else 0))


def budget_problems(sw: Sweep) -> list[str]:
    """What cannot fit in this machine, one message a key (empty where everything fits)."""
    out = []
    runs = n_runs_of(sw)
    parts = -(-runs // sw.part_size)
    if parts > MAX_PARTS:
        out.append(f"starts: the sweep is {runs:,} runs, {parts:,} parts of part_size {sw.part_size:,}; at most "
                   f"{MAX_PARTS:,} parts (fewer starts, or split it into separate sweeps)")
    dims = {p.dim for p in sw.problems}
    d = max(dims)
    for s in {s.method: s for s in sw.settings}.values():
        big = [p for p in sw.problems if s.method.max_dim and p.dim > s.method.max_dim]
        if big:
            out.append(f"method: {s.method.name} runs up to dimension {s.method.max_dim:,} (it forms a d×d Hessian "
                       f"every step), and {big[0].name} has {big[0].dim:,}; use lbfgs or bb1 there")
    chunk = sw.engine.get("chunk") and min(sw.engine["chunk"], sw.max_iter)     # as the engine clamps it
    per_lane = max(lane_bytes(p.dim, len(sw.rules), sw.max_iter, chunk, sw.dtype, sw.curves,
                              len(s.hyper), s.method.state_size(p.dim), s.stepper.n_evals)
                   for p in sw.problems for s in sw.settings)
    room = device_bytes()
    lanes, part = sw.engine.get("lanes"), sw.engine.get("part")
    if lanes and lanes * per_lane > room // 2:
        out.append(f"engine.lanes: {lanes:,} lanes of {_size(per_lane)} each need {_size(lanes * per_lane)}, more "
                   f"than half of a device's {_size(room)}; leave it null (gdlab sizes it) or give fewer")
    elif chunk and per_lane > room // 2:      # the chunk buffer holds chunk steps of each lane
        out.append(f"engine.chunk: a chunk of {chunk:,} steps takes {_size(per_lane)} a lane, more than half of a "
                   f"device's {_size(room)}; leave it null (gdlab adapts it) or give fewer")
    if part:    # a call's queue of starts and its output's records, on the device and copied to the host
        per_run = max(np.dtype(sw.dtype).itemsize * 3 * (
            record_width(p.dim, len(sw.rules), len(curve_steps(sw.max_iter, sw.curves)), len(s.hyper),
                         s.stepper.n_evals) + p.dim + len(s.hyper)) for p in sw.problems for s in sw.settings)
        if part * per_run > room // 2:
            out.append(f"engine.part: a call of {part:,} runs takes about {_size(part * per_run)}, more than half of "
                       f"a device's {_size(room)}; leave it null (gdlab sizes it) or give fewer")
    # a part's tables on the host: the records, the frames and the arrow tables
    part_bytes = sw.part_size * _run_bytes(sw) * 3
    if part_bytes > host_bytes() // 2:
        out.append(f"part_size: a part of {sw.part_size:,} runs takes about {_size(part_bytes)} on the host, more "
                   f"than half of its {_size(host_bytes())}; give a smaller part_size")
    # the traced runs of one setting replay up to max_iter steps each, (d + 1) numbers a step, in one call
    traced = min(sw.traces, max(1, runs // max(1, len(sw.settings) * len(sw.problems))))
    trace_bytes = traced * (sw.max_iter + 1) * (d + 1) * 8 * 3
    if trace_bytes > host_bytes() // 4:
        out.append(f"traces: {traced:,} full trajectories of up to {sw.max_iter + 1:,} steps take about "
                   f"{_size(trace_bytes)}, more than a quarter of this machine's {_size(host_bytes())}; keep fewer "
                   "(traces=…) or lower max_iter")
    return out
