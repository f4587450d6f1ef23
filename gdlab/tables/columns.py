"""Columns of gdlab's tables: lists of floats and strings as Arrow-backed pandas columns, built without Python loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["list_column", "string_column", "points", "in_order"]

_LIST = pd.ArrowDtype(pa.list_(pa.float64()))


def list_column(values: np.ndarray, index=None) -> pd.Series:
    """An (n, d) array as a column of list<float64> (one list per row), without Python loops."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    n, d = values.shape
    arr = pa.ListArray.from_arrays(pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)),
                                   pa.array(values.reshape(-1)))
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=index, dtype=_LIST)


def string_column(codes: np.ndarray, names, index=None) -> pd.Series:
    """``names[codes]`` as a column of pandas strings, missing where a code is negative: built by
    arrow from the few names, where converting a column of Python strings costs a few ms a 10⁵ rows."""
    codes = np.asarray(codes)
    arr = pa.array(list(names), pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def points(column: pd.Series) -> np.ndarray:
    """A list<float> column of equal-length lists back to an (n, d) array."""
    arr = pa.array(column.array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = len(arr)
    flat = np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    return flat.reshape(n, -1) if n else flat.reshape(0, 0)


def in_order(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether the rows are already in the order of their integer ``keys`` (one or two): one pass,
    where a sort of the 10⁸ rows of a big sweep's curves takes as long as reading them."""
    first = frame[keys[0]].to_numpy()
    if not np.all(first[1:] >= first[:-1]):
        return False
    if len(keys) == 1:
        return True
    second = frame[keys[1]].to_numpy()
    return bool(np.all((first[1:] > first[:-1]) | (second[1:] >= second[:-1])))
