"""Update rules as optax gradient transformations, built from named, traced hyperparameters.

Each entry of :data:`METHODS` declares its hyperparameters (:class:`Hyper`:
name, default, allowed range) and builds an ``optax.GradientTransformation``
from the step size ``alpha`` and those values. The kernel calls the builder
inside the compiled step with per-run traced values (one row of its
``(H, L)`` block each: alpha first, then the method's hyperparameters in the
order declared), so a sweep over a hundred alphas or momenta compiles once.

A new method is one ``@method(name, Hyper(...), ...)`` function here (or in
the user's code, before the sweep runs).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .registry import Registry

__all__ = ["Hyper", "Method", "METHODS", "method", "get_method", "method_names", "sign_halving", "SignHalvingState",
           "ALPHA"]

ALPHA = "alpha"


@dataclasses.dataclass(frozen=True)
class Hyper:
    """A method's hyperparameter: its default and the interval its values must lie in."""

    name: str
    default: float
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    doc: str = ""

    @property
    def range(self) -> str:
        return f"{'[' if self.low_closed else '('}{self.low:g}, {self.high:g}{']' if self.high_closed else ')'}"

    def allows(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return bool(above and below and math.isfinite(value))


ALPHA_HYPER = Hyper(ALPHA, 0.01, 0.0, math.inf, low_closed=False, high_closed=False,
                    doc="the step size (sign_halving: the initial Δx)")


@dataclasses.dataclass(frozen=True)
class Method:
    """A registry entry: ``build(alpha, **hyper)`` gives the transformation; ``hyper`` declares the
    method's hyperparameters beyond alpha, in the order of the kernel's rows."""

    name: str
    build: Callable[..., optax.GradientTransformation] = dataclasses.field(repr=False)
    hyper: tuple[Hyper, ...]
    doc: str

    @property
    def rows(self) -> tuple[str, ...]:
        """The names of the kernel's hyperparameter rows: alpha, then the method's own."""
        return (ALPHA, *(h.name for h in self.hyper))

    def hyperparameter(self, name: str) -> Hyper:
        return ALPHA_HYPER if name == ALPHA else next(h for h in self.hyper if h.name == name)

    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hyper}

    def make(self, row_values) -> optax.GradientTransformation:
        """The transformation for one lane's values of :attr:`rows` (traced inside the kernel)."""
        alpha, *rest = row_values
        return self.build(alpha, **dict(zip((h.name for h in self.hyper), rest)))


METHODS: Registry[Method] = Registry("method")


def method(name: str, *hyper: Hyper):
    """Register ``build(alpha, **hyper)`` as the method ``name``; its docstring is the entry's doc."""
    def make(build, **_):
        return Method(name, build, tuple(hyper), (build.__doc__ or "").strip())
    return METHODS.register(make)


def get_method(name: str | Method) -> Method:
    return name if isinstance(name, Method) else METHODS.get_entry(name)


def method_names() -> list[str]:
    return METHODS.names()


MOMENTUM = Hyper("momentum", 0.9, 0.0, 1.0, high_closed=False, doc="γ, the weight of the last step")


@method("gd")
def _gd(alpha):
    """gradient descent x ← x − α∇f(x) (lessons 000, 001)"""
    return optax.sgd(alpha)


@method("momentum", MOMENTUM)
def _momentum(alpha, momentum):
    """heavy ball x ← x − α∇f(x) + γ(x − x_prev) (lesson 004)"""
    # optax's trace v ← g + γv, x ← x − αv is the lesson's x ← x − α∇f + γ(x − x_prev), term for term.
    return optax.sgd(alpha, momentum=momentum)


@method("nesterov", MOMENTUM)
def _nesterov(alpha, momentum):
    """Nesterov momentum (optax.sgd with nesterov=True)"""
    return optax.sgd(alpha, momentum=momentum, nesterov=True)


B1 = Hyper("b1", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the first moment (the mean of the gradients)")
B2 = Hyper("b2", 0.999, 0.0, 1.0, high_closed=False, doc="decay of the second moment (the mean of their squares)")


def _eps(default: float) -> Hyper:
    return Hyper("eps", default, 0.0, math.inf, low_closed=False, high_closed=False,
                 doc="added to the denominator, for stability")


def _weight_decay(default: float) -> Hyper:
    return Hyper("weight_decay", default, 0.0, math.inf, high_closed=False, doc="decoupled weight decay")


@method("adam", B1, B2, _eps(1e-8))
def _adam(alpha, b1, b2, eps):
    """Adam (Kingma & Ba 2015): optax.adam"""
    return optax.adam(alpha, b1=b1, b2=b2, eps=eps)


@method("adamw", B1, B2, _eps(1e-8), _weight_decay(1e-4))
def _adamw(alpha, b1, b2, eps, weight_decay):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): optax.adamw"""
    return optax.adamw(alpha, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


@method("nadam", B1, B2, _eps(1e-8))
def _nadam(alpha, b1, b2, eps):
    """Adam with Nesterov momentum (Dozat 2016): optax.nadam"""
    return optax.nadam(alpha, b1=b1, b2=b2, eps=eps)


@method("amsgrad", B1, B2, _eps(1e-8))
def _amsgrad(alpha, b1, b2, eps):
    """Adam with the running maximum of the second moment (Reddi et al. 2018): optax.amsgrad"""
    return optax.amsgrad(alpha, b1=b1, b2=b2, eps=eps)


@method("adabelief", B1, B2, _eps(1e-16))
def _adabelief(alpha, b1, b2, eps):
    """Adam scaled by the belief in the gradient (Zhuang et al. 2020): optax.adabelief"""
    return optax.adabelief(alpha, b1=b1, b2=b2, eps=eps)


@method("rmsprop", Hyper("decay", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the mean square"), _eps(1e-8))
def _rmsprop(alpha, decay, eps):
    """RMSProp (Tieleman & Hinton 2012): optax.rmsprop"""
    return optax.rmsprop(alpha, decay=decay, eps=eps)


@method("adagrad", Hyper("initial_accumulator_value", 0.1, 0.0, math.inf, high_closed=False,
                         doc="the sum of squares it starts from"), _eps(1e-7))
def _adagrad(alpha, initial_accumulator_value, eps):
    """Adagrad (Duchi et al. 2011): optax.adagrad"""
    return optax.adagrad(alpha, initial_accumulator_value=initial_accumulator_value, eps=eps)


@method("adadelta", Hyper("rho", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the running averages"), _eps(1e-6))
def _adadelta(alpha, rho, eps):
    """Adadelta (Zeiler 2012): optax.adadelta"""
    return optax.adadelta(alpha, rho=rho, eps=eps)


@method("lion", Hyper("b1", 0.9, 0.0, 1.0, high_closed=False, doc="interpolation of the update's momentum"),
        Hyper("b2", 0.99, 0.0, 1.0, high_closed=False, doc="decay of the momentum"), _weight_decay(1e-3))
def _lion(alpha, b1, b2, weight_decay):
    """Lion (Chen et al. 2023): optax.lion"""
    return optax.lion(alpha, b1=b1, b2=b2, weight_decay=weight_decay)


@method("sign")
def _sign(alpha):
    """signSGD, x ← x − α·sign(∇f) (Bernstein et al. 2018): optax.sign_sgd"""
    return optax.sign_sgd(alpha)


class SignHalvingState(NamedTuple):
    delta: jax.Array        # each coordinate's current step Δx
    last_sign: jax.Array    # sign of its partial derivative at the previous step (0 before the first)


def sign_halving(initial_step) -> optax.GradientTransformation:
    """The lesson's first algorithm (lesson 000), per coordinate.

    Move each coordinate by its own Δx against the sign of its partial
    derivative; when that sign flips from the previous step, halve its Δx
    first. ``initial_step`` is the starting Δx (the sweep's alpha).
    """

    def init(params):
        return SignHalvingState(delta=jax.tree.map(lambda p: jnp.full_like(p, initial_step), params),
                                last_sign=jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params

        def one(g, delta, last_sign):
            sign = jnp.sign(g)
            delta = jnp.where(sign * last_sign < 0, delta / 2, delta)
            return -delta * sign, delta, jnp.where(sign != 0, sign, last_sign)

        out = jax.tree.map(one, grads, state.delta, state.last_sign)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)   # noqa: E731
        return pick(0), SignHalvingState(pick(1), pick(2))

    return optax.GradientTransformation(init, update)


@method("sign_halving")
def _sign_halving(alpha):
    """step Δx = alpha against the sign of f′, halved when the sign flips (lesson 000)"""
    return sign_halving(alpha)
