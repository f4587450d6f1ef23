"""Float64 on and off within one process: :func:`x64`, the context every gdlab trace runs in.

A sweep runs in its dtype (float32 by default), the report's figures and the point
classification in float64, a notebook's ``gdlab.descend`` in float64: one process traces a
function in both modes. JAX 0.10 (jaxlib's ``canonicalize_value``) keeps the JAX form of a NumPy
array that a function reads (a regression's data, a centre) in a cache keyed by the array alone,
not by the mode it was made in. While a trace of the first mode lives (a compiled kernel, a figure's
program), a trace in the other mode finds the array at the first mode's dtype, and the program fails
to lower ("Cannot lower jaxpr with verifier errors"), or a float64 run would read the data rounded to
float32. :func:`x64` converts NumPy arrays afresh in the mode of each trace where this JAX has that
cache; :func:`stale_canonical_arrays` tells whether it does, so a JAX without it is left as it is.
"""

from __future__ import annotations

import numpy as np

from .._lazy import lazy_module

__all__ = ["stale_canonical_arrays", "x64"]

jax = lazy_module("jax")

_checked = False


def stale_canonical_arrays() -> bool:
    """Whether this JAX hands a trace with float64 on the float32 form of a NumPy array that an
    earlier trace with float64 off converted (and the other way round)."""
    from jax._src import dtypes
    probe = np.zeros(2)
    with jax.enable_x64(False):
        first = dtypes.canonicalize_value(probe)
    with jax.enable_x64(True):
        second = dtypes.canonicalize_value(probe)
    return first is second or second.dtype != np.float64


def _converted(x: np.ndarray):
    """A NumPy array as a trace takes it, in the current mode: JAX's own conversion, without its cache."""
    from jax._src import dtypes, literals
    return literals.TypedNdArray(np.asarray(x, dtypes.canonicalize_dtype(x.dtype)))


def _fix_canonical_arrays() -> None:
    global _checked
    if _checked:
        return
    _checked = True
    try:
        from jax._src import dtypes, literals
        register, _ = dtypes.register_canonicalize_value_handler, literals.TypedNdArray
        stale = stale_canonical_arrays()
    except (ImportError, AttributeError):       # a JAX whose internals differ: left as it is
        return
    if stale:
        register(np.ndarray, _converted)


def x64(on: bool):
    """``jax.enable_x64(on)``, with NumPy arrays converted afresh in each mode (see the module)."""
    _fix_canonical_arrays()
    return jax.enable_x64(bool(on))
