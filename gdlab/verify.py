"""``gdlab verify <sweep folder>``: check every part against the manifest and the part records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

from .storage import TABLES, FolderError, SweepFolder, file_sha256

__all__ = ["verify", "verify_main"]


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
    if manifest.get("status") != "complete":
        damage.append(f"sweep is not complete: {manifest.get('status')}")
    return damage


def verify_main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: gdlab verify <sweep folder>", file=sys.stderr)
        return 2
    listing = Path(argv[0]) / "lessons.json"
    if listing.exists():   # a lessons folder: verify each scenario's sweep
        entries = json.loads(listing.read_text())["scenarios"]
        codes = [verify_main([str((Path(argv[0]) / e["folder"]).resolve())]) for e in entries]
        bad = sum(c != 0 for c in codes)
        print(f"{'ok' if not bad else 'damaged'}: {len(entries) - bad} of {len(entries)} lesson sweeps verified")
        return 1 if bad else 0
    try:
        damage = verify(argv[0])
    except (FolderError, json.JSONDecodeError, KeyError) as exc:
        print(f"damaged: {argv[0]}: {exc}", file=sys.stderr)
        return 1
    if damage:
        for line in damage:
            print(f"damaged: {line}")
        print(f"{len(damage)} problem(s) in {argv[0]}")
        return 1
    n = sum(len(v) for v in SweepFolder(argv[0]).manifest()["parts"].values())
    print(f"ok: {n} part files match the manifest (rows and sha256)")
    return 0
