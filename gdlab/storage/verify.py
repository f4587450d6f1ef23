"""Check every part of a sweep folder against the manifest and the part records (``gdlab verify``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

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
    for part in sorted(folder.snapshot(manifest)):
        name = folder.record_path(part).relative_to(folder.path)
        if part in wrong:
            damage.append(f"part {part}: {wrong[part]}")
        elif part not in records:
            damage.append(f"{name}: missing (the manifest lists part {part})")
        elif any(records[part]["files"][t]["sha256"] != e["sha256"]
                 for t, e in folder.snapshot(manifest)[part]["files"].items()):
            damage.append(f"{name}: names other files than the manifest does")
    if manifest.get("status") != "complete":
        damage.append(f"sweep is not complete: {manifest.get('status')}")
    return damage
