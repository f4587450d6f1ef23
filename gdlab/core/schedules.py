"""Step-size schedules: the factor a run's step size is multiplied by at each step.

A schedule here is ``factor(count, **params)``: the multiplier of the method's
step size α after ``count`` updates, 1 at the start for all but a warm-up. So
``{name: exponential_decay, decay_rate: 0.5, transition_steps: 100}`` with
α = 0.1 steps by 0.1·0.5^(k/100), which is ``optax.schedules.exponential_decay(
init_value=0.1, transition_steps=100, decay_rate=0.5)`` at step k. For a line
search the schedule sets the initial step it tries.

The formulas are optax's (a test checks every step against ``optax.schedules``);
they are written here because optax's constructors check their arguments in
Python (``if transition_steps <= 0``), which a traced value cannot pass, and
every parameter here is a traced grid axis: a sweep over ten decay rates
compiles one kernel. ``inverse_time`` has no optax counterpart (Keras's
``InverseTimeDecay``): α/(1 + rate·k/steps), the decaying step of the lessons.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from .._lazy import lazy_module
from .methods import Hyper
from .registry import Registry

jnp = lazy_module("jax.numpy")      # imported when a schedule is first evaluated

__all__ = ["Schedule", "SCHEDULES", "schedule", "get_schedule", "CONSTANT"]

CONSTANT = "constant"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A registry entry: ``factor(count, **params)`` multiplies the step size; ``hyper`` declares the
    parameters, in the order of the kernel's rows (after the method's)."""

    name: str
    factor: Callable = dataclasses.field(repr=False)
    hyper: tuple[Hyper, ...]
    doc: str
    check: Callable | None = dataclasses.field(default=None, repr=False, compare=False)   # params → what is wrong

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hyper)

    def hyperparameter(self, name: str) -> Hyper:
        return next(h for h in self.hyper if h.name == name)

    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hyper}

    def bind(self, values) -> Callable | None:
        """``count → factor`` for one lane's parameter values (None for the constant schedule,
        which leaves the method exactly as it is without one)."""
        if self.name == CONSTANT:
            return None
        params = dict(zip(self.rows, values))
        return lambda count: self.factor(count, **params)


SCHEDULES: Registry[Schedule] = Registry("schedule")


def schedule(name: str, *hyper: Hyper, check: Callable | None = None):
    """Register ``factor(count, **params)`` as the schedule ``name``; its docstring is the doc.
    ``check(params)`` says what is wrong with a combination of parameters (None where nothing is)."""
    def make(factor, **_):
        return Schedule(name, factor, tuple(hyper), (factor.__doc__ or "").strip(), check)
    return SCHEDULES.register(make)


def get_schedule(name: str | Schedule) -> Schedule:
    return name if isinstance(name, Schedule) else SCHEDULES.get_entry(name)


def _steps(name: str, default: float, doc: str, positive: bool = True) -> Hyper:
    return Hyper(name, default, 0.0, math.inf, low_closed=not positive, high_closed=False, doc=doc)


def _fraction(name: str, default: float, doc: str) -> Hyper:
    return Hyper(name, default, 0.0, math.inf, high_closed=False, doc=doc)


TRANSITION_STEPS = _steps("transition_steps", 100, "steps over which the factor changes once by decay_rate")
TRANSITION_BEGIN = _steps("transition_begin", 0, "steps at the full step size before the decay starts", False)
END_VALUE = _fraction("end_value", 0.0, "the final factor (a fraction of alpha)")


@schedule(CONSTANT)
def _constant(count):
    """the step size alpha at every step (optax.schedules.constant_schedule)"""
    return jnp.ones_like(count, dtype=float)


@schedule("exponential_decay", TRANSITION_STEPS,
          Hyper("decay_rate", 0.5, 0.0, math.inf, low_closed=False, high_closed=False,
                doc="the factor after each transition_steps"),
          TRANSITION_BEGIN,
          Hyper("staircase", 0.0, 0.0, 1.0, doc="1: decay in whole transitions (a staircase), 0: smoothly"))
def _exponential(count, transition_steps, decay_rate, transition_begin, staircase):
    """decay_rate^((k − transition_begin)/transition_steps) (optax.schedules.exponential_decay)"""
    decreased = count - transition_begin
    p = decreased / transition_steps
    p = jnp.where(staircase > 0, jnp.floor(p), p)
    return jnp.where(decreased <= 0, 1.0, jnp.power(decay_rate, p))


@schedule("inverse_time", TRANSITION_STEPS,
          Hyper("decay_rate", 1.0, 0.0, math.inf, high_closed=False, doc="how fast the step shrinks"))
def _inverse_time(count, transition_steps, decay_rate):
    """1/(1 + decay_rate·k/transition_steps), α/k-like decay (Keras's InverseTimeDecay; not in optax)"""
    return 1.0 / (1.0 + decay_rate * count / transition_steps)


@schedule("polynomial", TRANSITION_STEPS,
          Hyper("power", 1.0, 0.0, math.inf, low_closed=False, high_closed=False, doc="the polynomial's power"),
          END_VALUE, TRANSITION_BEGIN)
def _polynomial(count, transition_steps, power, end_value, transition_begin):
    """(1 − end_value)(1 − t/transition_steps)^power + end_value, t = k − transition_begin clipped to
    [0, transition_steps] (optax.schedules.polynomial_schedule; power 1 is linear_schedule)"""
    t = jnp.clip(count - transition_begin, 0, transition_steps)
    return (1.0 - end_value) * (1 - t / transition_steps) ** power + end_value


DECAY_STEPS = _steps("decay_steps", 1000, "steps from the full step size to end_value")
EXPONENT = Hyper("exponent", 1.0, 0.0, math.inf, low_closed=False, high_closed=False,
                 doc="the power of the cosine factor")


def _cosine(count, decay_steps, end_value, exponent):
    count = jnp.minimum(count, decay_steps)
    decay = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
    return (1 - end_value) * decay ** exponent + end_value


@schedule("cosine_decay", DECAY_STEPS, END_VALUE, EXPONENT)
def _cosine_decay(count, decay_steps, end_value, exponent):
    """half a cosine from 1 to end_value over decay_steps (optax.schedules.cosine_decay_schedule,
    whose alpha is end_value here)"""
    return _cosine(count, decay_steps, end_value, exponent)


def _decay_after_warmup(params) -> str | None:
    if params["decay_steps"] <= params["warmup_steps"]:
        return (f"warmup_cosine_decay's decay_steps ({params['decay_steps']:g}) must exceed its warmup_steps "
                f"({params['warmup_steps']:g}): decay_steps counts from the start, the warm-up included")
    return None


@schedule("warmup_cosine_decay",
          _steps("warmup_steps", 100, "steps of the linear warm-up from init_value to 1", False),
          DECAY_STEPS,
          _fraction("init_value", 0.0, "the factor at the start of the warm-up"),
          END_VALUE, EXPONENT, check=_decay_after_warmup)
def _warmup_cosine(count, warmup_steps, decay_steps, init_value, end_value, exponent):
    """linear from init_value to 1 over warmup_steps, then a cosine to end_value at decay_steps
    (optax.schedules.warmup_cosine_decay_schedule with peak_value = alpha)"""
    t = jnp.clip(count, 0, warmup_steps)
    warm = (init_value - 1.0) * (1 - t / jnp.maximum(warmup_steps, 1)) + 1.0
    cos = _cosine(count - warmup_steps, decay_steps - warmup_steps, end_value, exponent)
    return jnp.where(count < warmup_steps, warm, cos)


def _boundary(i: int) -> Hyper:
    return Hyper(f"boundary{i}", 0.0, 0.0, math.inf, high_closed=False, doc=f"the step from which scale{i} applies")


def _scale(i: int) -> Hyper:
    return Hyper(f"scale{i}", 1.0, 0.0, math.inf, high_closed=False, doc=f"the factor from boundary{i} on")


@schedule("piecewise_constant", _boundary(1), _scale(1), _boundary(2), _scale(2), _boundary(3), _scale(3))
def _piecewise(count, boundary1, scale1, boundary2, scale2, boundary3, scale3):
    """1, times scale_i from step boundary_i on (up to three; optax.schedules.piecewise_constant_schedule
    with {boundary_i: scale_i})"""
    v = 1.0
    pairs = ((boundary1, scale1), (boundary2, scale2), (boundary3, scale3))
    for threshold, scale in pairs:
        indicator = jnp.maximum(0.0, jnp.sign(threshold - count))
        v = v * indicator + (1 - indicator) * scale * v
    return v
