"""How many processes save a report's figures: read before a sweep starts (a bad setting is said
then), without importing matplotlib."""

from __future__ import annotations

import os

__all__ = ["MAX_WORKERS", "figure_workers"]

MAX_WORKERS = 4      # figure workers at most (a report has a few dozen figures)


def figure_workers() -> int:
    """Worker processes for figures: ``GDLAB_FIGURE_WORKERS`` if set (0: save in this process), else
    one per usable core up to :data:`MAX_WORKERS`, and none on a single core."""
    env = os.environ.get("GDLAB_FIGURE_WORKERS", "").strip()
    if env:
        if not env.isdigit():
            raise ValueError(f"GDLAB_FIGURE_WORKERS must be a whole number of processes (0: none), got {env!r}")
        return int(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, MAX_WORKERS)
