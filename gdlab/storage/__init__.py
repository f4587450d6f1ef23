"""Sweep folders on disk: atomic parquet parts, part records, the manifest, verification and loading."""

# imported here, not on first use: the names load and verify are also its modules' names, which the
# import system would bind to the package in their place once either module is imported
from .folder import SORT_KEYS, TABLES, SweepFolder, file_sha256, prefetched, sweep_id
from .load import load
from .verify import verify

__all__ = ["SORT_KEYS", "TABLES", "SweepFolder", "file_sha256", "prefetched", "sweep_id", "load", "verify"]
