"""User input to numbers: the one place where NumPy's conversion errors become gdlab's."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["float_array"]


def float_array(values, what: str, error: type = InputError) -> np.ndarray:
    """``values`` as a float64 array, or ``error`` naming ``what`` it should be: NumPy's own words
    for ragged lists or strings ("setting an array element with a sequence") say nothing of the fix."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:      # (an integer beyond float64's range)
        raise error(f"{what}, got {values!r:.200}: {exc}") from None
