"""The adaptive chunk: how many steps the lanes advance between refills, from the runs seen so far.

A short chunk idles a finished lane less; a long one refills less often.
:func:`next_chunk` picks it from the lengths of the runs finished so far
(:class:`RunLengths`); :func:`spans` cuts a batch's runs into the calls' queues.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CHUNK_MAX", "CHUNK_MIN", "PART_LANES", "REFILL_STEPS", "UTILISATION", "HOST_WAIT", "SHORT", "RunLengths",
           "next_chunk", "spans"]


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
    tables, on an accelerator; the driver never says so of CPU devices, whose refills take the
    host's own cores), refills are free to the caller, so it aims at :data:`UTILISATION`: a lane idles
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


def spans(n: int, part: int, first: int, n_first: int) -> list[tuple[int, int]]:
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
