"""Sweep folders on disk: atomic parquet parts, part records, the manifest, verification and loading."""

from .folder import SORT_KEYS, TABLES, SweepFolder, file_sha256, prefetched, sweep_id
from .load import load
from .verify import verify

__all__ = ["SORT_KEYS", "TABLES", "SweepFolder", "file_sha256", "prefetched", "sweep_id", "load", "verify"]
