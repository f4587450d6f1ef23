"""Update rules as optax gradient transformations, built from traced hyperparameters.

Each entry of :data:`METHODS` builds an ``optax.GradientTransformation`` from
``(alpha, momentum)``. They are called inside the compiled kernel with traced
per-run values, so a sweep over a hundred alphas compiles once.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .names import did_you_mean

__all__ = ["Method", "METHODS", "get_method", "method_names", "sign_halving", "SignHalvingState"]


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


class Method(NamedTuple):
    """A registry entry: ``make(alpha, momentum)`` gives the transformation."""

    make: Callable[[jax.Array, jax.Array], optax.GradientTransformation]
    uses_momentum: bool
    doc: str


METHODS: dict[str, Method] = {
    "gd": Method(lambda a, m: optax.sgd(a), False,
                 "gradient descent x ← x − α∇f(x) (lessons 000, 001)"),
    # optax's trace v ← g + γv, x ← x − αv is the lesson's x ← x − α∇f + γ(x − x_prev), term for term.
    "momentum": Method(lambda a, m: optax.sgd(a, momentum=m), True,
                       "heavy ball x ← x − α∇f(x) + γ(x − x_prev) (lesson 004)"),
    "nesterov": Method(lambda a, m: optax.sgd(a, momentum=m, nesterov=True), True,
                       "Nesterov momentum (optax.sgd with nesterov=True)"),
    "adam": Method(lambda a, m: optax.adam(a), False,
                   "Adam (Kingma & Ba 2015) with optax's default β1, β2, ε"),
    "sign_halving": Method(lambda a, m: sign_halving(a), False,
                           "step Δx = alpha against the sign of f′, halved when the sign flips (lesson 000)"),
}


def method_names() -> list[str]:
    return sorted(METHODS)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}{did_you_mean(name, METHODS)}; known: {', '.join(method_names())}")
    return METHODS[name]
