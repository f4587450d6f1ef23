"""Stop rules, run statuses and curve checkpoints.

A stop rule is (criterion, epsilon, min_steps). Every rule of a sweep is
evaluated on every run in the same pass; a run ends when all of them have
fired, at ``max_iter``, or on a fault (see :class:`Status`).
"""

from __future__ import annotations

import enum
import itertools
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from .names import did_you_mean

__all__ = ["Status", "CRITERIA", "StopRule", "stop_rules", "checkpoints"]

#: dx = ‖x_k − x_{k−1}‖, df = |f(x_k) − f(x_{k−1})|, grad = ‖∇f(x_k)‖.
CRITERIA = ("dx", "df", "grad")


class Status(enum.IntEnum):
    """How a run ended. The codes are what the kernel stores."""

    running = 0
    converged = 1
    max_iter = 2
    diverged = 3
    nonfinite = 4
    invalid_start = 5

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.running: "still running (never stored in results)",
    Status.converged: "every stop rule fired",
    Status.max_iter: "reached max_iter before every stop rule fired",
    Status.diverged: "|x| or |f| grew past the divergence bound",
    Status.nonfinite: "a nan or inf appeared in x, f or ∇f (e.g. a point where f is not differentiable)",
    Status.invalid_start: "f or ∇f is not finite at the start point",
}

STATUS_NAMES = np.array([s.name for s in Status], dtype=object)


class StopRule(NamedTuple):
    criterion: str
    epsilon: float
    min_steps: int = 0

    def check(self) -> "StopRule":
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion {self.criterion!r} is not one of {CRITERIA}{did_you_mean(self.criterion, CRITERIA)}")
        if not (self.epsilon > 0 and np.isfinite(self.epsilon)):
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}")
        if int(self.min_steps) != self.min_steps or self.min_steps < 0:
            raise ValueError(f"min_steps must be a non-negative integer, got {self.min_steps!r}")
        return StopRule(self.criterion, float(self.epsilon), int(self.min_steps))


def stop_rules(criterion: Iterable[str] | str = ("df",), epsilon: Iterable[float] | float = (1e-6,),
               min_steps: Iterable[int] | int = (0,)) -> list[StopRule]:
    """The grid criterion × epsilon × min_steps, in that order."""
    def as_list(v):
        return [v] if isinstance(v, (str, int, float)) else list(v)
    return [StopRule(c, e, m).check()
            for c, e, m in itertools.product(as_list(criterion), as_list(epsilon), as_list(min_steps))]


def rule_arrays(rules: Sequence[StopRule]):
    """(criterion codes, epsilons, min_steps) as numpy arrays for the kernel."""
    return (np.array([CRITERIA.index(r.criterion) for r in rules], dtype=np.int32),
            np.array([r.epsilon for r in rules], dtype=np.float64),
            np.array([r.min_steps for r in rules], dtype=np.int32))


def checkpoints(max_iter: int) -> np.ndarray:
    """Geometric checkpoint steps 0, 1, 2, 3, 4, 6, 8, 11, 16, 23, … up to max_iter (round(√2^i))."""
    steps = {0}
    i = 0
    while True:
        k = int(round(2 ** (i / 2)))
        if k > max_iter:
            break
        steps.add(k)
        i += 1
    return np.array(sorted(steps), dtype=np.int32)
