"""The processes that save a report's figures: how many (read before a sweep starts, so that a bad
setting is said then) and the pool that feeds them, without importing matplotlib (a command starts
them before its own imports)."""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

__all__ = ["MAX_WORKERS", "figure_workers", "start_workers"]

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


def start_workers(workers: int | None = None) -> None:
    """Start the figure workers now (``workers``: default :func:`figure_workers`), so that their
    start-up overlaps the caller's own imports and reading; they start with the first figure
    otherwise."""
    n = figure_workers() if workers is None else workers
    if n:
        _pool(n)


class _WorkerLost(Exception):
    """A worker died or could not start; the figure is saved in the caller's process instead."""


# The worker's program: ``gdlab`` and ``gdlab.report`` as bare packages (their __init__ would import
# JAX and the engine), then this module's loop; once its channel closes, it ends at once (every figure
# it saved is written and answered; Python's own shutdown held the caller's stderr open 0.2 s more)
_BOOT = ("import sys, types, os.path, matplotlib\n"
         "matplotlib.use('Agg')\n"
         "for name, path in (('gdlab', os.path.dirname(sys.argv[1])), ('gdlab.report', sys.argv[1])):\n"
         "    pkg = types.ModuleType(name); pkg.__path__ = [path]; sys.modules[name] = pkg\n"
         "from gdlab.report.render import _serve; _serve()")
_END = "\nimport os, sys\nsys.stderr.flush()\nos._exit(0)"


class _Pool:
    """Threads that each feed one worker process, from one queue of (future, job). The first
    :data:`MAX_WORKERS` start theirs at once, so that the worker's start-up (importing matplotlib,
    about 0.45 s) is under way before the first figure comes."""

    def __init__(self, n: int):
        self.jobs: queue.Queue = queue.Queue()
        self.broken = False      # a worker could not start: the caller saves its figures itself from then on
        for i in range(n):      # (more than MAX_WORKERS, asked for by name, start with a figure)
            threading.Thread(target=self._feed, args=(i < MAX_WORKERS,), name=f"gdlab-figures-{i}",
                             daemon=True).start()

    def submit(self, job: tuple) -> Future:
        future: Future = Future()
        self.jobs.put((future, job))
        return future

    def _feed(self, eager: bool) -> None:
        proc = None
        if eager:
            try:
                proc = self._start()
            except Exception:       # tried again at the first job, where a failure is handled
                proc = None
        answered = False
        while True:
            future, job = self.jobs.get()
            try:
                if proc is None or proc.poll() is not None:
                    proc, answered = self._start(), False
                pickle.dump(job, proc.stdin)
                proc.stdin.flush()
                status, value = pickle.load(proc.stdout)
                answered = True
            except Exception as exc:     # the pipe broke, the worker died, a job that does not pickle
                if proc is not None:
                    proc.kill()
                    self.broken = self.broken or not answered    # it never answered: it will not
                proc = None
                future.set_exception(_WorkerLost(str(exc)))
                continue
            if status == "ok":
                future.set_result(value)
            else:
                future.set_exception(_WorkerLost(value))

    @staticmethod
    def _start() -> subprocess.Popen:
        # the worker looks for modules where this process does (a notebook may have added a folder)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen([sys.executable, "-c", _BOOT + _END, str(Path(__file__).parent)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


_POOLS: dict[int, _Pool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n: int) -> _Pool:
    with _POOLS_LOCK:
        if n not in _POOLS:
            _POOLS[n] = _Pool(n)
        return _POOLS[n]
