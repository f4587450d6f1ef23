"""The one registry shape: a name → entry mapping filled by a ``register`` decorator.

Problems, methods, stop criteria and lesson scenarios are each a
:class:`Registry` of entries with a ``name`` and a one-line ``doc``; ``gdlab
list problems|methods|criteria`` prints them, and tests parametrize over
their keys. A lookup of a name that is not there raises
:class:`~gdlab.core.errors.UnknownNameError` with the closest known name.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry"]

E = TypeVar("E")


class Registry(dict, Generic[E]):
    """``dict[str, Entry]``; ``kind`` names the entries in messages ("problem", "method", …)."""

    def __init__(self, kind: str, hint: str = ""):
        super().__init__()
        self.kind, self.hint = kind, hint

    def register(self, make: Callable[..., E] | None = None, **fields) -> Callable:
        """A decorator: ``@registry.register(name=..., ...)`` turns the decorated function into an
        entry by ``make(fn, **fields)`` (the registry's entry type) and adds it under its name.
        Returns the function unchanged, so it stays callable and testable."""
        def wrap(fn):
            entry = make(fn, **fields) if make is not None else fn
            self.add(entry)
            return fn
        return wrap

    def add(self, entry: E) -> E:
        name = entry.name
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self[name] = entry
        return entry

    def get_entry(self, name) -> E:
        """The entry ``name``, or :class:`UnknownNameError` naming the closest one."""
        if isinstance(name, Hashable) and name in self:
            return self[name]
        raise UnknownNameError(self.kind, name, self, self.hint)

    def names(self) -> list[str]:
        return sorted(self)

    def docs(self) -> Iterator[tuple[str, str]]:
        """(name, one-line doc) of every entry, by name."""
        for name in self.names():
            lines = (getattr(self[name], "doc", "") or "").strip().splitlines()
            yield name, lines[0] if lines else ""
