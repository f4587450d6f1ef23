"""Package namespaces that import their modules when a name is first used (PEP 562).

``import gdlab`` and ``gdlab --help`` then cost milliseconds, not the seconds
of importing JAX; ``gdlab.sweep``, ``from gdlab.core import METHODS`` and the
like import what they name on first use, once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["exports"]


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public ``names`` live in the modules given
    (relative to it: ``{"sweep": ".runner.api"}``)."""

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        globals_of = importlib.import_module(package).__dict__
        globals_of[name] = value          # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(names))

    return __getattr__, __dir__
