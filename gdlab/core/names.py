"""The closest known name to one gdlab does not know, for error messages ("did you mean …?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(name, known: Iterable[str]) -> str:
    """`` (did you mean 'alpha'?)`` for a misspelt ``name`` (a string close to one of ``known``,
    by :func:`difflib.get_close_matches`), else ``""``: the tail of an "unknown …" message."""
    if not isinstance(name, str) or not name:
        return ""
    known = [k for k in known if isinstance(k, str)]
    close = [k for k in known if k.lower() == name.lower()] or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close and close[0] != name else ""
