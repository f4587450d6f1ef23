"""Reductions over the leading axis of lanes-last arrays: a lane's few coordinates or rules.

The engine keeps every array with the lanes as its last axis (x is ``(d, L)``),
so a row is a vector across lanes. A reduction over a short leading axis is
written out row by row: the fold stays elementwise across lanes and
vectorises, where a reduce over axis 0 becomes a call of its own on XLA's CPU
backend. Long axes fall back to the reduce.
"""

from __future__ import annotations

from .._lazy import lazy_module

jnp = lazy_module("jax.numpy")      # imported when first traced: the criteria's registry imports this module

__all__ = ["norm", "all_rows", "max_abs", "finite"]

_UNROLL = 64


def _fold(op, v):
    if v.shape[0] > _UNROLL or v.shape[0] == 0:
        return None
    acc = v[0]
    for i in range(1, v.shape[0]):
        acc = op(acc, v[i])
    return acc


def norm(v):
    """The Euclidean norm of each lane's column."""
    acc = _fold(jnp.add, v * v)
    return jnp.sqrt(acc if acc is not None else jnp.sum(v * v, axis=0))


def all_rows(v):
    acc = _fold(jnp.logical_and, v)
    return acc if acc is not None else jnp.all(v, axis=0)


def max_abs(v):
    acc = _fold(jnp.maximum, jnp.abs(v))
    return acc if acc is not None else jnp.max(jnp.abs(v), axis=0)


def finite(v):
    """All rows finite, per lane: v·0 is 0 for a finite entry and nan otherwise."""
    acc = _fold(jnp.add, v * 0)
    return jnp.isfinite(acc if acc is not None else jnp.sum(v * 0, axis=0))
