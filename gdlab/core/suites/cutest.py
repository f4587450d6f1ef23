"""CUTEst's unconstrained problems through sif2jax, loaded one by one.

``import sif2jax`` imports every one of its problems, which took 65 s here (its constrained
problem CLEUVEN7 alone 55 s), so a problem is loaded from its own module: the names come from
the ``from .module import NAME`` lines of sif2jax's list of unconstrained problems, read as text,
and the packages above the module are entered without running their ``__init__``. A later
``import sif2jax`` by the caller runs them as usual and finds the modules loaded here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
import types
from pathlib import Path

__all__ = ["PACKAGE", "names", "load"]

PACKAGE = "sif2jax"
_UNCONSTRAINED = ("cutest", "_unconstrained_minimisation")


def _root() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {PACKAGE!r}", name=PACKAGE)
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=1)
def names() -> dict[str, str]:
    """Each unconstrained problem's name → the module (in sif2jax's unconstrained package) that holds it."""
    init = _root().joinpath(*_UNCONSTRAINED, "__init__.py")
    out = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                out[alias.asname or alias.name] = node.module
    return out


@functools.cache
def load(name: str):
    """An instance of sif2jax's problem ``name`` (its default size and start)."""
    module = names()[name]
    root = _root()
    made = []
    packages = [PACKAGE, f"{PACKAGE}.{_UNCONSTRAINED[0]}", f"{PACKAGE}.{'.'.join(_UNCONSTRAINED)}"]
    for i, pkg in enumerate(packages):
        if pkg not in sys.modules:          # the package entered without its __init__
            bare = types.ModuleType(pkg)
            bare.__path__ = [str(root.joinpath(*_UNCONSTRAINED[:i]))]
            sys.modules[pkg] = bare
            made.append(pkg)
    try:
        mod = importlib.import_module(f"{packages[-1]}.{module}")
    finally:
        for pkg in made:                    # a later import runs the real __init__
            del sys.modules[pkg]
    return getattr(mod, name)()
