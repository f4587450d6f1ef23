"""Saving figures: SVG and PNG, in worker processes while the report draws the next figure.

Laying a figure out and rendering it twice (SVG, then PNG) is most of a small
or mid-sized report's time, and matplotlib does it on one core. A
:class:`FigureWriter` pickles each figure, hands it to a worker process and
returns a future of its PNG bytes; the report collects them when it writes
its page. The files are the same bits as :func:`save_figure` in the caller's
process (the workers render with the caller's rcParams).

This module imports matplotlib and nothing of JAX: a worker is a plain
``python -c`` process that loads only this module (and what a pickled figure
names), not the ``gdlab`` package's engine, so it starts in about a third of a
second. Workers are not ``multiprocessing`` children, which would import the
caller's main script again (a script without an ``if __name__ == "__main__"``
guard would run once more in each). They start when a report starts (the
``gdlab report`` command starts them before its own imports:
:func:`~gdlab.report.workers.start_workers`), are kept for the process's
later reports, and end when it does (their input closes).
"""

from __future__ import annotations

import io
import pickle
import re
import sys
from concurrent.futures import Future
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import ticker

from .workers import _pool, _WorkerLost, figure_workers, start_workers

__all__ = ["save_figure", "FigureWriter", "figure_workers", "PowerFormatter", "log_axes"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class PowerFormatter(ticker.LogFormatterSciNotation):
    """A log axis's tick labels as matplotlib's default formatter chooses them (which ticks get one,
    10⁻³ or 2×10⁻³), written in plain text instead of mathtext. Mathtext's parser takes about 7 ms a
    label and keeps few of them, so a report's log-axis figures spent most of their time there."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        inner = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if inner is None:
            return label
        text = re.sub(r"\^\{([^}]*)\}", lambda m: m.group(1).translate(_SUPERSCRIPT),
                      inner.group(1).replace(r"\times", "×"))
        return "−" + text[1:] if text.startswith("-") else text


def log_axes(ax, x: bool = True, y: bool = True):
    """Log scale on the axes asked for, with :class:`PowerFormatter` labels."""
    for on, axis, scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if on:
            scale("log")
            axis.set_major_formatter(PowerFormatter())
            axis.set_minor_formatter(PowerFormatter(labelOnlyBase=False))
    return ax


def save_figure(fig, folder: Path | str, stem: str) -> bytes:
    """Lay ``fig`` out, write ``stem``.svg and ``stem``.png (110 dpi) into ``folder`` and close it;
    return the PNG's bytes. The same figure gives the same bits: the SVG carries no date and its
    ids are hashed with a fixed salt (matplotlib's are random otherwise)."""
    fig.tight_layout()
    with matplotlib.rc_context({"svg.hashsalt": "gdlab"}):
        fig.savefig(Path(folder) / f"{stem}.svg", metadata={"Date": None})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    png = buf.getvalue()
    (Path(folder) / f"{stem}.png").write_bytes(png)
    plt.close(fig)
    return png


def _save_pickled(job: tuple) -> bytes:
    payload, rc, folder, stem = job
    with matplotlib.rc_context(rc):
        return save_figure(pickle.loads(payload), folder, stem)


def _serve() -> None:
    """A worker: (job) pickles in on stdin, ("ok", png) or ("error", text) pickles out on stdout,
    until stdin closes."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the caller's to handle; stdin closing ends this
    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr          # a stray print must not corrupt the channel
    while True:
        try:
            job = pickle.load(channel_in)
        except (EOFError, pickle.UnpicklingError):      # the caller closed the channel, or exited mid-job
            return
        try:
            reply = ("ok", _save_pickled(job))
        except Exception as exc:     # the caller saves it again in its own process, and sees the error there
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            pickle.dump(reply, channel_out)
            channel_out.flush()
        except BrokenPipeError:
            return


class _Saving:
    """A figure being saved by a worker: :meth:`result` is its PNG, saved here if the worker failed."""

    def __init__(self, future: Future, job: tuple):
        self.future, self.job = future, job

    def result(self) -> bytes:
        try:
            return self.future.result()
        except _WorkerLost:
            return _save_pickled(self.job)


class _Saved:
    def __init__(self, png: bytes):
        self.png = png

    def result(self) -> bytes:
        return self.png


class FigureWriter:
    """Saves figures (:func:`save_figure`) in worker processes while the caller draws the next one.

    ``submit(fig, folder, stem)`` pickles the figure, closes it and returns at once; the returned
    object's ``result()`` is the PNG's bytes once the files are written. ``workers``: how many
    worker processes (default :func:`figure_workers`); with none, or for a figure that does not
    pickle, ``submit`` saves the figure itself. A figure a worker fails on is saved again in this
    process, so an error in it is raised here, with its traceback."""

    def __init__(self, workers: int | None = None):
        self.workers = figure_workers() if workers is None else workers
        self.stems: list[str] = []        # the figures given to this writer, in order

    def start(self) -> FigureWriter:
        """Start the worker processes now, while the caller does other work (they start with the
        first figure otherwise)."""
        start_workers(self.workers)
        return self

    def submit(self, fig, folder: Path | str, stem: str):
        self.stems.append(stem)
        pool = _pool(self.workers) if self.workers else None
        if pool is None or pool.broken:
            return _Saved(save_figure(fig, folder, stem))
        try:
            # the caller's style, not its backend (a notebook's is not the worker's to load)
            rc = {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}
            job = (pickle.dumps(fig), rc, str(folder), stem)
        except Exception:            # an artist that does not pickle (a lambda formatter): saved here
            return _Saved(save_figure(fig, folder, stem))
        plt.close(fig)
        return _Saving(pool.submit(job), job)
