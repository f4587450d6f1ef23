"""A validated sweep as runs: blocks of one setting, their starts, the runs frame, and the parts.

Runs are numbered problem, setting (method and hyperparameters), start, so the
same config always numbers its runs the same way. Nothing proportional to the
number of runs is built up front: blocks are a few per setting, and each
slice of starts and rows is built when it is needed.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from ..core.methods import problem_value
from ..core.problems import Problem
from ..core.schedules import CONSTANT
from ..tables.columns import string_column
from .budget import count_starts
from .schema import Sweep

__all__ = ["Block", "Part", "problem_points", "make_starts", "n_starts", "starts_range", "run_blocks", "runs_frame", "run_inputs",
           "expand", "plan_parts"]


class Block(NamedTuple):
    """Consecutive runs of one setting: ``n`` starts of ``problem`` with ``method``, its step-size
    ``schedule`` and their hyperparameters ``hyper`` ((name, value) in the kernel's row order),
    run_ids ``first`` … ``first + n − 1``, start_ids 0 … n − 1."""

    problem: str
    dim: int
    method: str
    hyper: tuple[tuple[str, float], ...]
    n: int
    first: int
    schedule: str = CONSTANT


def make_starts(starts: Mapping, problem: Problem) -> np.ndarray:
    """The (n, d) start points of ``problem`` for a starts spec (grid, uniform, points or suite: the
    problem's own start, then n − 1 drawn uniformly from its domain with the seed)."""
    kind = starts.get("kind")
    lo, hi = problem.domain_array[:, 0], problem.domain_array[:, 1]
    if kind == "suite":
        rng = np.random.default_rng(int(starts.get("seed") or 0))
        around = lo + (hi - lo) * rng.random((count_starts(starts, problem) - 1, problem.dim))
        return np.vstack([np.asarray(problem.start, np.float64).reshape(1, problem.dim), around])
    if kind == "grid":
        axes = [np.linspace(a, b, int(starts["n"])) for a, b in zip(lo, hi)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=1)
    if kind == "uniform":
        rng = np.random.default_rng(int(starts.get("seed", 0)))
        return lo + (hi - lo) * rng.random((int(starts["n"]), problem.dim))
    if kind == "points":
        return np.asarray(problem_points(starts, problem), dtype=np.float64).reshape(-1, problem.dim)
    raise ConfigError(f"starts.kind must be grid, uniform, points or suite, got {kind!r}")


def n_starts(starts: Mapping, problem: Problem) -> int:
    return count_starts(starts, problem)


def problem_points(starts: Mapping, problem: Problem) -> list:
    """The start points of kind points for ``problem``: the list, or its entry in a mapping of problem
    names to lists."""
    pts = starts["points"]
    return pts[problem.name] if isinstance(pts, Mapping) else pts


def starts_range(starts: Mapping, problem: Problem, lo: int, hi: int) -> np.ndarray:
    """Starts ``lo`` … ``hi − 1`` of :func:`make_starts`, bit for bit, without building the others.

    A grid start is found from its index; a uniform start from the seeded
    PCG64 stream advanced past the draws of the starts before it.
    """
    kind = starts.get("kind")
    dom = problem.domain_array
    if kind == "grid":
        n = int(starts["n"])
        idx = np.unravel_index(np.arange(lo, hi, dtype=np.int64), (n,) * problem.dim)
        axes = [np.linspace(a, b, n) for a, b in dom]
        return np.stack([ax[i] for ax, i in zip(axes, idx)], axis=1) if hi > lo else np.zeros((0, problem.dim))
    if kind == "uniform":
        gen = np.random.default_rng(int(starts.get("seed", 0)))
        gen.bit_generator.advance(lo * problem.dim)   # one 64-bit draw per coordinate
        return dom[:, 0] + (dom[:, 1] - dom[:, 0]) * gen.random((hi - lo, problem.dim))
    return make_starts(starts, problem)[lo:hi]


def run_blocks(sweep: Sweep) -> list[Block]:
    """The sweep's runs as blocks, in run_id order: problem, setting, start."""
    blocks, first = [], 0
    for p in sweep.problems:
        n = n_starts(sweep.starts, p)
        for s in sweep.settings:
            blocks.append(Block(p.name, p.dim, s.method.name, _for_problem(s, p), n, first, s.schedule.name))
            first += n
    return blocks


def _for_problem(setting, problem: Problem) -> tuple[tuple[str, float], ...]:
    """The setting's values, those left to the problem (polyak's f_min: its f*) filled in."""
    from_problem = {h.name: h for h in setting.method.hyper if h.from_problem}
    return tuple((name, problem_value(setting.method, from_problem[name], problem)
                  if name in from_problem and math.isnan(value) else value) for name, value in setting.hyper)


def _overlaps(blocks: Sequence[Block], start: int, stop: int):
    """(block, lo, hi): the start_ids lo … hi − 1 of each block within run_ids start … stop − 1
    (``blocks`` in run_id order, as :func:`run_blocks` gives them: the first is found by bisection, where
    a scan of bbob's 4,560 blocks at each of a sweep's calls took 14 s of its 240)."""
    for i in range(bisect.bisect_right(blocks, start, key=lambda b: b.first + b.n), len(blocks)):
        b = blocks[i]
        if b.first >= stop:
            return
        lo, hi = max(start, b.first), min(stop, b.first + b.n)
        if lo < hi:
            yield b, lo - b.first, hi - b.first


def runs_frame(blocks: Sequence[Block], start: int, stop: int,
               hyper_columns: Sequence[str] = ("alpha", "momentum", "schedule")) -> pd.DataFrame:
    """Rows ``start`` … ``stop − 1`` of the runs frame: run_id, problem, dim, method, one column per
    hyperparameter (NaN where the run's method or schedule has none such) and ``schedule`` (the
    schedule's name) where ``hyper_columns`` puts it, start_id."""
    pieces = list(_overlaps(blocks, start, stop))
    sizes = np.array([hi - lo for _, lo, hi in pieces], dtype=np.int64)
    piece = np.repeat(np.arange(len(pieces)), sizes)     # each row's piece

    def rep(values, dtype):
        return np.asarray(values, dtype=dtype)[piece]

    return pd.DataFrame({
        "run_id": np.arange(start, stop, dtype=np.int64),
        "problem": string_column(piece, [b.problem for b, _, _ in pieces]),
        "dim": rep([b.dim for b, _, _ in pieces], np.int64),
        "method": string_column(piece, [b.method for b, _, _ in pieces]),
        **{name: (string_column(piece, [b.schedule for b, _, _ in pieces]) if name == "schedule" else
                  rep([dict(b.hyper).get(name, math.nan) for b, _, _ in pieces], np.float64))
           for name in hyper_columns},
        "start_id": (np.concatenate([np.arange(lo, hi, dtype=np.int64) for _, lo, hi in pieces])
                     if pieces else np.zeros(0, np.int64)),
    })


def run_inputs(sweep: Sweep, blocks: Sequence[Block], start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(x0 (m, d), hyperparameters (m, H)) of run_ids ``start`` … ``stop − 1``, which must share one
    problem and one method (the hyperparameters in its row order)."""
    by_name = {p.name: p for p in sweep.problems}
    xs, hp = [], []
    for b, lo, hi in _overlaps(blocks, start, stop):
        xs.append(starts_range(sweep.starts, by_name[b.problem], lo, hi))
        hp.append(np.broadcast_to(np.array([v for _, v in b.hyper], np.float64), (hi - lo, len(b.hyper))))
    return np.concatenate(xs), np.concatenate(hp)


def expand(sweep: Sweep) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The whole runs frame (run_id, problem, dim, method, hyperparameters, start_id) and each problem's
    starts, in memory. Sweeps themselves use :func:`run_blocks` and build slices as they go."""
    blocks = run_blocks(sweep)
    total = blocks[-1].first + blocks[-1].n if blocks else 0
    return (runs_frame(blocks, 0, total, sweep.hyper_columns),
            {p.name: make_starts(sweep.starts, p) for p in sweep.problems})


class Part(NamedTuple):
    part: int
    problem: str
    method: str
    start: int   # first row of the runs frame
    stop: int    # one past the last row
    schedule: str = CONSTANT

    @property
    def kernel(self) -> tuple[str, str, str]:
        """What the part's runs share a kernel by: (problem, method, schedule)."""
        return self.problem, self.method, self.schedule


def plan_parts(blocks: list[Block], part_size: int) -> list[Part]:
    """Consecutive run_ids of one (problem, method, schedule), at most ``part_size`` each, numbered
    from 0."""
    spans: list[list] = []   # [problem, method, schedule, first, stop] of each stretch of one kernel
    for b in blocks:
        if spans and spans[-1][:3] == [b.problem, b.method, b.schedule] and spans[-1][4] == b.first:
            spans[-1][4] = b.first + b.n
        else:
            spans.append([b.problem, b.method, b.schedule, b.first, b.first + b.n])
    parts = []
    for prob, meth, sched, lo, hi in spans:
        for a in range(lo, hi, part_size):
            parts.append(Part(len(parts), prob, meth, a, min(a + part_size, hi), sched))
    return parts
