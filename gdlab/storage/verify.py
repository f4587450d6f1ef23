"""Check every part of a sweep folder against the manifest and the part records (``gdlab verify``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from ..core.errors import FolderError
from .folder import TABLES, SweepFolder, file_sha256

__all__ = ["verify"]


def verify(path: Path | str) -> list[str]:
    """Every problem found: a missing, truncated, altered or unlisted part, named by its file."""
    folder = SweepFolder(path)
    manifest = folder.manifest()
    damage = []
    listed = {}
    for table in TABLES:
        for entry in manifest.get("parts", {}).get(table, []):
            listed[entry["file"]] = entry
    for rel, entry in sorted(listed.items()):
        file = folder.path / rel
        if not file.exists():
            damage.append(f"{rel}: missing")
            continue
        digest = file_sha256(file)
        if digest != entry["sha256"]:
            damage.append(f"{rel}: sha256 {digest[:12]}… differs from the manifest's {entry['sha256'][:12]}…")
            continue
        try:
            rows = pq.ParquetFile(file).metadata.num_rows
        except Exception as exc:   # pyarrow raises several types on a damaged file
            damage.append(f"{rel}: unreadable parquet ({exc})")
            continue
        if rows != entry["rows"]:
            damage.append(f"{rel}: {rows} rows, the manifest says {entry['rows']}")
    for table in TABLES:
        for file in sorted((folder.path / table).glob("part-*.parquet")):
            rel = str(file.relative_to(folder.path))
            if rel not in listed:
                damage.append(f"{rel}: not in the manifest (an unfinished part, or the manifest is stale)")
    # the part records, which resume trusts: each listed part's record there, whole, naming the same bytes
    records, wrong = folder.scan()
    listed_parts = folder.snapshot(manifest, whole=False)
    short = folder.miscounted(manifest, listed_parts)
    if short:
        damage.append(short)
    for part in sorted(listed_parts):
        name = folder.record_path(part).relative_to(folder.path)
        if part in wrong:
            damage.append(f"part {part}: {wrong[part]}")
        elif part not in records:
            damage.append(f"{name}: missing (the manifest lists part {part})")
        elif any(records[part]["files"][t]["sha256"] != e["sha256"]
                 for t, e in listed_parts[part]["files"].items()):
            damage.append(f"{name}: names other files than the manifest does")
    try:        # the config the parts were computed for: each record names its sweep id
        for part, why in folder.foreign({p: r for p, r in records.items() if p in listed_parts}).items():
            damage.append(f"part {part}: {why}")
    except FolderError as exc:
        damage.append(str(exc))
    versions = {}
    for part, rec in sorted(records.items()):
        versions.setdefault(rec.get("gdlab", manifest.get("gdlab")), []).append(part)
    if len(versions) > 1:
        damage.append("parts computed by different gdlab versions: " + "; ".join(
            f"{was} (part {parts[0]}{'…' if len(parts) > 1 else ''}, {len(parts):,} in all)"
            for was, parts in sorted(versions.items(), key=lambda kv: str(kv[0]))))
    if manifest.get("status") != "complete":
        damage.append(f"sweep is not complete: {manifest.get('status')}")
    return damage
