"""Sweep folders on disk: atomic parquet parts, part records, the manifest, verification and loading."""

from .._lazy import exports

_NAMES = {
    "SORT_KEYS": ".folder",
    "TABLES": ".folder",
    "SweepFolder": ".folder",
    "file_sha256": ".folder",
    "prefetched": ".folder",
    "sweep_id": ".folder",
    "load": ".load",
    "verify": ".verify",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
