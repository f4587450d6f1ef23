"""Names and modules imported when first used.

``import gdlab`` and ``gdlab --help`` then cost milliseconds, not the seconds
of importing JAX; ``gdlab.sweep``, ``from gdlab.core import METHODS`` and the
like import what they name on first use, once (:func:`exports`, PEP 562). The
registries' modules name JAX and optax through :func:`lazy_module`, so ``gdlab
list methods`` reads the registry without importing either: JAX is imported
when a problem, a method or a criterion is first evaluated.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["exports", "lazy_module"]


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public ``names`` live in the modules given
    (relative to it: ``{"sweep": ".runner.sweeps"}``)."""

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


class _LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute read (``jnp.sin``)."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str):
        module = sys.modules.get(self._name)
        if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
            # not imported yet, or being imported by another thread (a kernel compiled on a thread of its
            # own): import_module waits for it, where the module half made has not its names yet
            module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __setattr__(self, attr: str, value) -> None:
        raise AttributeError(f"{self!r} is read-only: set {attr!r} on the module itself")

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"

    def __reduce__(self):       # a copy or a pickle stands for the same module
        return _LazyModule, (self._name,)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def lazy_module(name: str):
    """The module ``name``, imported when an attribute of it is first read: ``jnp =
    lazy_module("jax.numpy")`` in place of ``import jax.numpy as jnp``, for a module whose code
    uses it only inside functions (a decorator or constant at module level would import it at once)."""
    return _LazyModule(name)
