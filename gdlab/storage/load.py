"""Reading a sweep folder back as Results."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from ..tables.results import Results
from .folder import TABLES, SweepFolder

__all__ = ["load"]


def load(path: Path | str, tables: Iterable[str] = TABLES) -> Results:
    """Read a sweep folder's tables (every finished part of every shard) back as Results.

    ``tables``: the tables to read; the others are left empty (their columns only). A big sweep's
    tables take gigabytes in pandas (the curves tens of rows a run): a caller that needs them for a
    few runs, or run by run, reads them part by part (:meth:`SweepFolder.read_parts`), as the
    report does."""
    folder = SweepFolder(path)
    manifest = folder.manifest()
    records = folder.records()
    wanted = set(tables)
    tables = [folder.read(t, records) if t in wanted else folder.empty(t, records) for t in TABLES]
    config = yaml.safe_load((folder.path / "config.yaml").read_text())
    facts = {k: v for k, v in manifest.items() if k not in ("parts", "part_facts")}
    return Results(*tables, config=config, facts=facts, path=folder.path)
