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
#: (id of a NumPy array, the dtype a trace takes it in) → (the array, its form in that dtype), both
#: held weakly, as JAX's own cache holds them: each array read by a trace is one constant of it
_forms: dict[tuple[int, np.dtype], tuple[weakref.ref, weakref.ref]] = {}


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
    """A NumPy array as a trace takes it, in the current mode: JAX's own check and conversion, with a
    cache that knows the mode."""
    from jax._src import dtypes, literals
    dtypes.check_valid_dtype(x.dtype)      # JAX's own TypeError for arrays it does not take (object, '>f8', …)
    dtype = dtypes.canonicalize_dtype(x.dtype)
    key = (id(x), dtype)
    held = _forms.get(key)
    if held is not None and held[0]() is x and (form := held[1]()) is not None:
        return form
    form = literals.TypedNdArray(np.asarray(x, dtype))
    try:
        _forms[key] = (weakref.ref(x, lambda _, key=key: _forms.pop(key, None)), weakref.ref(form))
    except TypeError:       # an array that takes no weak reference: converted at each read
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
            register, _ = dtypes.register_canonicalize_value_handler, literals.TypedNdArray
            stale = stale_canonical_arrays()
        except (ImportError, AttributeError):       # a JAX whose internals differ: left as it is
            stale = False
        if stale:
            register(np.ndarray, _converted)
        _checked = True


def x64(on: bool):
    """``jax.enable_x64(on)``, with NumPy arrays converted afresh in each mode (see the module)."""
    _fix_canonical_arrays()
    return jax.enable_x64(bool(on))
