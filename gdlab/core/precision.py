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

import threading
import weakref

import numpy as np

from .._lazy import lazy_module

__all__ = ["stale_canonical_arrays", "x64"]

jax = lazy_module("jax")

_checked = False
_checking = threading.Lock()
#: id of a NumPy array a trace takes in its own dtype → (the array, its form: a view of it), both held
#: weakly, as JAX's own cache holds them: each such array read by a trace is one constant of it
_forms: dict[int, tuple[weakref.ref, weakref.ref]] = {}


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
    """A NumPy array as a trace takes it, in the current mode: JAX's own check and conversion. An
    array taken in its own dtype is a view of it, kept (one constant however often a trace reads it,
    and an array changed in place is seen by the next trace); one converted (float64 with float64
    off) is a copy, made at each read: a copy kept would be read by a later trace after the array
    changed in place, which the function's fingerprint sees (a new kernel with the old numbers)."""
    from jax._src import dtypes, literals
    dtypes.check_valid_dtype(x.dtype)      # JAX's own TypeError for arrays it does not take (object, '>f8', …)
    dtype = dtypes.canonicalize_dtype(x.dtype)
    if dtype != x.dtype:
        return literals.TypedNdArray(np.asarray(x, dtype))
    key = id(x)
    held = _forms.get(key)
    if held is not None and held[0]() is x and (form := held[1]()) is not None:
        return form
    form = literals.TypedNdArray(x)
    try:
        _forms[key] = (weakref.ref(x, lambda _, key=key: _forms.pop(key, None)), weakref.ref(form))
    except TypeError:       # an array that takes no weak reference: a view at each read
        pass
    return form


def _fix_canonical_arrays() -> None:
    global _checked
    if _checked:
        return
    with _checking:             # a second thread waits until the handler is in place
        if _checked:
            return
        try:
            from jax._src import dtypes, literals
            register = dtypes.register_canonicalize_value_handler
            stale = hasattr(literals, "TypedNdArray") and stale_canonical_arrays()
        except (ImportError, AttributeError):       # a JAX whose internals differ: left as it is
            stale = False
        if stale:
            register(np.ndarray, _converted)
        _checked = True


def x64(on: bool):
    """``jax.enable_x64(on)``, with NumPy arrays converted afresh in each mode (see the module)."""
    _fix_canonical_arrays()
    return jax.enable_x64(bool(on))
