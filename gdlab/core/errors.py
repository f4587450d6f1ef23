"""gdlab's errors: one base, a subclass per kind of trouble.

Every message names the thing that is wrong and what to do about it. The
command line maps :class:`GdlabError` to exit status 2 (bad input) or 1
(:class:`FolderError`: the results on disk) in one place, ``gdlab.app.cli``.
Each subclass also derives from the built-in exception a Python caller would
expect of it (``ConfigError`` is a ``ValueError``, ``UnknownNameError`` a
``KeyError``), so ``except ValueError`` keeps working around gdlab calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .names import did_you_mean

__all__ = ["GdlabError", "ConfigError", "UnknownNameError", "ProblemError", "ExpressionError", "InputError",
           "FolderError"]


class GdlabError(Exception):
    """The base of every error gdlab raises on purpose: ``str(exc)`` is the whole message."""

    exit_code = 2

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(GdlabError, ValueError):
    """A sweep config with one or more bad keys; ``problems`` holds one message per bad key."""

    def __init__(self, problems: Sequence[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("bad config:\n" + "\n".join(f"  - {p}" for p in self.problems))


class UnknownNameError(GdlabError, KeyError):
    """A name that no registry holds: the message offers the closest known name and lists them all."""

    def __init__(self, kind: str, name, known: Iterable[str], hint: str = ""):
        self.kind, self.name, self.known = kind, name, sorted(known)
        tail = f" ({hint})" if hint else ""
        super().__init__(f"unknown {kind} {name!r}{did_you_mean(name, self.known)}; known: "
                         f"{', '.join(self.known)}{tail}")


class ProblemError(GdlabError, ValueError):
    """A problem definition that cannot be used (a domain, a dimension, minima that do not fit)."""


class ExpressionError(ProblemError):
    """An expression that is not allowed or not well formed; the message names the offending piece."""


class InputError(GdlabError, ValueError):
    """Arguments of a Python call that do not fit together (start shapes, a function JAX cannot trace)."""


class FolderError(GdlabError, RuntimeError):
    """A sweep folder that cannot be used as asked: unwritable, another config's, damaged or incomplete."""

    exit_code = 1
