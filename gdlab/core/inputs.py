"""User input to numbers: the one place where NumPy's conversion errors become gdlab's."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import InputError

__all__ = ["float_array", "is_finite", "whole_number"]


def is_finite(v) -> bool:
    """A real number (not a bool) that is a finite float64: an integer beyond its range (±1.8e308)
    is not (``math.isfinite`` raises OverflowError for it)."""
    try:
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:
        return False


def float_array(values, what: str, error: type = InputError) -> np.ndarray:
    """``values`` as a float64 array, or ``error`` naming ``what`` it should be: NumPy's own words
    for ragged lists or strings ("setting an array element with a sequence") say nothing of the fix."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:      # (an integer beyond float64's range)
        raise error(f"{what}, got {values!r:.200}: {exc}") from None


def whole_number(value) -> int | None:
    """``value`` as an int where it is a whole number (2, ``np.int64(2)``, 2.0), else None (a bool,
    2.5, "2", inf)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
