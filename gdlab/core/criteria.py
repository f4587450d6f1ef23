"""Stop criteria, stop rules, run statuses and curve checkpoints.

A stop **criterion** is a function of one judged step's values
(:class:`StepValues`: the point, the point before, f there and before, ∇f,
the step number) giving the quantity a rule compares with its epsilon; the
rule fires at the first step where that quantity is below epsilon (and the
step is at least ``min_steps``). Criteria are entries of :data:`CRITERIA`; a
new one is one ``@criterion`` function here, and the kernel is compiled for
the criteria a sweep's rules use.

A stop **rule** is (criterion, epsilon, min_steps). Every rule of a sweep is
evaluated on every run in the same pass; a run ends when all of them have
fired, at ``max_iter``, or on a fault (see :class:`Status`).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._lazy import lazy_module
from . import lanes
from .errors import ConfigError
from .inputs import is_finite, whole_number
from .registry import Registry
from .settings import MAX_STEP

jnp = lazy_module("jax.numpy")      # imported when a criterion is first evaluated

__all__ = ["Status", "STATUS_NAMES", "StepValues", "Criterion", "CRITERIA", "AT_THE_MOVE", "criterion", "StopRule", "stop_rules",
           "rule_arrays", "checkpoints"]


class StepValues(NamedTuple):
    """What a criterion sees of step k, lanes last: x (d, L) after k updates, x_before (d, L) after
    k − 1 (x itself at k = 0), f and f_before (L,), g = ∇f(x) (d, L), k (L,). A field the criterion
    does not read (:attr:`Criterion.reads`) may be ``None``."""

    x: Any
    x_before: Any
    f: Any
    f_before: Any
    g: Any
    k: Any


#: the values of a step that are at hand when the step is taken (before f and ∇f at the new point)
AT_THE_MOVE = frozenset({"x", "x_before", "k"})


@dataclasses.dataclass(frozen=True)
class Criterion:
    """A registry entry: ``value(step)`` is the quantity a rule compares with epsilon.

    ``reads``: the :class:`StepValues` fields ``value`` reads. A criterion that reads the point
    before and nothing but :data:`AT_THE_MOVE` is measured as the step is taken, and its value
    carried (one number a lane); one that reads x_before with f or ∇f makes the kernel keep the
    point before (d numbers a lane). ``at_start``: the quantity is defined at k = 0, before any
    update (‖∇f‖ is; ‖Δx‖ is not)."""

    name: str
    value: Callable[[StepValues], Any]
    doc: str
    reads: frozenset = frozenset(StepValues._fields)
    at_start: bool = False

    @property
    def at_the_move(self) -> bool:
        return "x_before" in self.reads and self.reads <= AT_THE_MOVE

    @property
    def keeps_x_before(self) -> bool:
        return "x_before" in self.reads and not self.at_the_move


CRITERIA: Registry[Criterion] = Registry("criterion")


def criterion(name: str, reads: Iterable[str] = StepValues._fields, at_start: bool = False):
    """Register ``value(step)`` as the stop criterion ``name`` (reading the StepValues fields
    ``reads``); its docstring is the entry's doc."""
    unknown = set(reads) - set(StepValues._fields)
    if unknown:
        raise ValueError(f"criterion {name!r} reads {sorted(unknown)}: not fields of StepValues {StepValues._fields}")

    def make(fn, **_):
        return Criterion(name, fn, (fn.__doc__ or "").strip(), frozenset(reads), at_start)
    return CRITERIA.register(make)


@criterion("dx", reads=("x", "x_before"))
def _dx(s: StepValues):
    """‖x_k − x_{k−1}‖: the step just taken was short."""
    return lanes.norm(s.x - s.x_before)


@criterion("df", reads=("f", "f_before"))
def _df(s: StepValues):
    """|f(x_k) − f(x_{k−1})|: f barely changed."""
    return jnp.abs(s.f - s.f_before)


@criterion("grad", reads=("g",), at_start=True)
def _grad(s: StepValues):
    """‖∇f(x_k)‖: the slope is nearly flat."""
    return lanes.norm(s.g)


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

    def check(self) -> StopRule:
        CRITERIA.get_entry(self.criterion)
        if not (is_finite(self.epsilon) and self.epsilon > 0):
            raise ConfigError(f"epsilon must be a positive number, got {self.epsilon!r:.80}")
        steps = whole_number(self.min_steps)
        if steps is None or not 0 <= steps <= MAX_STEP:
            raise ConfigError(f"min_steps must be a whole number in [0, {MAX_STEP:,}], got {self.min_steps!r:.80}")
        return StopRule(self.criterion, float(self.epsilon), steps)


def stop_rules(criterion: Iterable[str] | str = ("df",), epsilon: Iterable[float] | float = (1e-6,),
               min_steps: Iterable[int] | int = (0,)) -> list[StopRule]:
    """The grid criterion × epsilon × min_steps, in that order."""
    def as_list(v):
        return [v] if isinstance(v, (str, int, float)) else list(v)
    return [StopRule(c, e, m).check()
            for c, e, m in itertools.product(as_list(criterion), as_list(epsilon), as_list(min_steps))]


def rule_arrays(rules: Sequence[StopRule], criteria: Sequence[str]):
    """(criterion codes, epsilons, min_steps) as numpy arrays for a kernel compiled for ``criteria``
    (a code is the criterion's place in that tuple)."""
    return (np.array([list(criteria).index(r.criterion) for r in rules], dtype=np.int32),
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
