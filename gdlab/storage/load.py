"""Reading a sweep folder back as Results."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from ..core.errors import FolderError, InputError
from ..tables.results import Results
from .folder import TABLES, SweepFolder

__all__ = ["load"]


def load(path: Path | str, tables: Iterable[str] = TABLES, manifest: Mapping | None = None) -> Results:
    """Read a sweep folder's tables (the parts its manifest lists, of every shard) back as Results.

    Each file is checked against the manifest's sha256 as it is read: a missing or altered part is
    a :class:`~gdlab.core.errors.FolderError` naming it, never a table with runs left out or
    changed. A sweep still partial (shards still running, or a run stopped) loads the parts it has
    with a warning that says how many. ``tables``: the tables to read; the others are left empty
    (their columns only). A big sweep's tables take gigabytes in pandas (the curves tens of rows a
    run): a caller that needs them for a few runs, or run by run, reads them part by part
    (:meth:`SweepFolder.read_parts` over :meth:`SweepFolder.snapshot`), as the report does.
    ``manifest``: the one a caller has read, so that it reads the same parts (a snapshot)."""
    tables = (tables,) if isinstance(tables, str) else tuple(tables)
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise InputError(f"tables: {unknown[0]!r} is not a table (the tables: {', '.join(TABLES)})")
    folder = SweepFolder(path)
    manifest = folder.manifest() if manifest is None else manifest
    parts = folder.snapshot(manifest)
    records = folder.records()
    foreign = folder.foreign({p: records[p] for p in parts if p in records})
    if foreign:
        part, why = next(iter(foreign.items()))
        more = f" (and {len(foreign) - 1:,} more parts)" if len(foreign) > 1 else ""
        raise FolderError(f"{folder.path}: part {part}{more}: {why}; its tables would not be its config's runs. "
                          "gdlab verify lists them; the sweep's command computes them again")
    if manifest.get("status") != "complete":
        warnings.warn(f"{folder.path} is a partial sweep ({manifest.get('status')}): these tables hold its "
                      f"{len(parts)} finished parts", stacklevel=2)
    wanted = set(tables)
    tables = [folder.read(t, parts) if t in wanted else folder.empty(t, parts) for t in TABLES]
    try:
        config = yaml.safe_load((folder.path / "config.yaml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FolderError(f"{folder.path / 'config.yaml'} cannot be read ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise FolderError(f"{folder.path / 'config.yaml'} is not a sweep config")
    facts = {k: v for k, v in manifest.items() if k not in ("parts", "part_facts")}
    functions = _functions(records, parts)
    if functions is not None:       # Results.save writes them: a copy keeps what its runs were computed with
        facts["functions"] = functions
    return Results(*tables, config=config, facts=facts, path=folder.path)


def _functions(records: Mapping[int, dict], parts: Mapping[int, dict]) -> dict | None:
    """The fingerprints of the functions the parts were computed with (``functions`` in their
    ``records``, without each record's check), where every part holds the same; else None."""
    found = [records.get(p, {}).get("functions") for p in parts]
    bodies = [{k: v for k, v in f.items() if k != "check"} for f in found if isinstance(f, Mapping)]
    if bodies and len(bodies) == len(found) and all(b == bodies[0] for b in bodies):
        return bodies[0]
    return None
