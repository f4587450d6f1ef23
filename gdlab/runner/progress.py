"""Progress of a long step: a tqdm bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

__all__ = ["Progress"]


class Progress:
    """A tqdm bar on a terminal; plain log lines elsewhere, every 5 s. ``quiet``: seconds before
    either shows (a step that is usually quick says nothing unless it turns out long); ``what``:
    what is counted, in the lines; ``desc``: the bar's label.

    A line's rate and time left are those since the line before (or the first update): what
    comes before the first update is start-up (the kernel's compilation, the first part's read),
    which would make a sweep's first estimates several times too long, and a sweep speeds up as
    its chunk adapts. The last line gives the whole time."""

    def __init__(self, total: int, enabled: bool, log: Callable[[str], None], quiet: float = 0.0,
                 what: str = "runs", desc: str | None = None):
        self.total, self.done, self.log, self.t0 = total, 0, log, time.perf_counter()
        self.enabled, self.quiet, self.what = enabled, quiet, what
        self.bar = None
        self.last_line = 0.0
        self.mark: tuple[float, int] | None = None       # (time, count) of the first update, then of the last line
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="run", unit_scale=True, dynamic_ncols=True, delay=quiet, desc=desc)

    def update(self, n: int):
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if self.mark is None:
            self.mark = (now, self.done)
        if not self.enabled or now - self.t0 < self.quiet:
            return
        if now - self.last_line > 5 or self.done == self.total:
            self.last_line = now
            head = f"{self.done:,}/{self.total:,} {self.what}"
            t1, n1 = self.mark
            if self.done == self.total:
                took = max(now - self.t0, 1e-9)
                self.log(f"{head} in {took:,.1f} s, {_rate(self.done / took)}")
            elif self.done == n1:
                self.log(f"{head}, the first after {now - self.t0:,.1f} s of start-up")
            else:
                rate = (self.done - n1) / max(now - t1, 1e-9)
                self.log(f"{head}, {_rate(rate)}, {(self.total - self.done) / rate:,.0f} s left")
                self.mark = (now, self.done)

    def note(self, line: str):
        """A line for the log that leaves the bar whole (any thread)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            self.log(line)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _rate(per_second: float) -> str:
    """Runs a second to three significant digits: '0.37 runs/s', '4.2 runs/s', '215,301 runs/s'."""
    if per_second >= 99.95:
        return f"{per_second:,.0f} runs/s"
    return f"{per_second:.3g} runs/s"
