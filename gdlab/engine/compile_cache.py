"""JAX's persistent compilation cache in a user cache folder, so a repeated ``gdlab`` skips compiling.

The folder is ``$GDLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/gdlab/jax``, else
``~/.cache/gdlab/jax``; ``GDLAB_CACHE_DIR=off`` turns the cache off. Entries
are keyed by JAX on the program, the JAX version and the device, so a stale
entry is never used; the folder can be deleted at any time.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["cache_dir", "enable_compile_cache"]


def cache_dir() -> Path | None:
    """Where compiled kernels are kept, or None when the cache is off."""
    env = os.environ.get("GDLAB_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none", "false") else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gdlab" / "jax"


def enable_compile_cache(path: Path | str | None = None) -> Path | None:
    """Turn on the persistent cache at ``path`` (default :func:`cache_dir`); return the folder used.

    Every kernel is cached, however quick its compile (gdlab's kernels take 0.3–3 s
    each on a CPU, and a sweep or a test session compiles dozens). A folder that
    cannot be created leaves the cache off rather than failing the run.
    """
    folder = Path(path) if path is not None else cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
