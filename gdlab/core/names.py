"""Words for messages: the closest known name to one gdlab does not know ("did you mean …?"), and counts
with their nouns ("1 run", "2 runs")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["count", "did_you_mean"]


def did_you_mean(name, known: Iterable[str]) -> str:
    """`` (did you mean 'alpha'?)`` for a misspelt ``name`` (a string close to one of ``known``,
    by :func:`difflib.get_close_matches`), else ``""``: the tail of an "unknown …" message."""
    if not isinstance(name, str) or not name:
        return ""
    known = [k for k in known if isinstance(k, str)]
    close = [k for k in known if k.lower() == name.lower()] or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close and close[0] != name else ""


def count(n: int, noun: str) -> str:
    """``n`` with its noun, singular for one: ``count(1, "part")`` is ``'1 part'``, ``count(12004, "run")``
    is ``'12,004 runs'``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
