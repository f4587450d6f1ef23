"""Sweep folders: atomic parquet parts, per-part records, the manifest, locks and loading.

Layout (docs/outputs.md): ``<root>/<experiment>/<sweep_id>/`` with
``config.yaml``, ``manifest.json``, ``runs/ stops/ curves/ traces/`` holding
``part-NNNNN.parquet`` files, and ``parts/part-NNNNN.json``: the record of a
finished part (rows and sha256 of its four files), written after them.

A part is data only once its record exists, so a process killed at any
moment leaves whole parts and nothing half-written is ever read: every file
is written under a temporary name, flushed and renamed into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from ..core.errors import FolderError
from ..core.names import count
from ..tables.columns import in_order

__all__ = ["TABLES", "SORT_KEYS", "NOT_IN_ID", "sweep_id", "SweepFolder", "part_batches", "READ_BATCH", "atomic_write", "not_a_folder", "file_sha256", "column_encodings",
           "readable_metadata",
           "prefetched"]

TABLES = ("runs", "stops", "curves", "traces")
#: the order a table is read back in
SORT_KEYS = {"runs": ["run_id"], "stops": ["run_id", "rule_id"], "curves": ["run_id", "step"],
             "traces": ["run_id", "step"]}
# Keys that say where or how a sweep is split, not what it computes.
#: keys that say where or how a sweep is split or watched, not what it computes: not part of its id
NOT_IN_ID = ("shard", "out_dir", "warn_runs", "report")
READERS = max(2, min(8, os.cpu_count() or 2))     # part files read at once
READ_BATCH = 1 << 15   # runs of consecutive parts a pass over a sweep reads as one (many small parts: few frames)
#: keys added after sweep folders existed: they join the id only when set away from these defaults,
#: so a folder made before keeps its id (and resumes)
ID_IF_SET = {"curves": True, "schedule": ["constant"]}


def _identity(config: Mapping) -> dict:
    """What a sweep's id and a folder's config check compare: the config without NOT_IN_ID and
    without the ID_IF_SET keys at their defaults."""
    return {k: v for k, v in config.items()
            if k not in NOT_IN_ID and not (k in ID_IF_SET and _canonical(v) == _canonical(ID_IF_SET[k]))}


def _canonical(value):
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def sweep_id(config: Mapping) -> str:
    """A short hash of the resolved config (without shard and out_dir): same config, same folder."""
    body = _identity(config)
    text = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def readable_metadata(arrow: pa.Table) -> pa.Table:
    """The table with pandas' metadata naming its list columns' dtype ``object``: pandas writes
    ``list<item: double>[pyarrow]``, which no pandas can read back (``pd.read_parquet`` of a part
    raised ``data type … not understood``); so a plain ``pd.read_parquet`` of a sweep's folder or
    part gives those columns as arrays of floats, and gdlab, polars and DuckDB read the Arrow type."""
    meta = arrow.schema.metadata or {}
    if b"pandas" not in meta:
        return arrow
    pandas_meta = json.loads(meta[b"pandas"])
    for column in pandas_meta.get("columns", []):
        if "[pyarrow]" in str(column.get("numpy_type")) and str(column.get("pandas_type", "")).startswith("list"):
            column["numpy_type"] = "object"
    return arrow.replace_schema_metadata({**meta, b"pandas": json.dumps(pandas_meta).encode()})


def not_a_folder(path: Path | str) -> str | None:
    """What is wrong with ``path`` as a sweep folder before anything in it is read (it is not there, or
    it is a file), else None."""
    path = Path(path)
    if path.is_dir():
        return None
    return (f"{path} {'is a file' if path.exists() else 'does not exist'}: give a sweep folder, the path a "
            "run prints after 'results:' (results/<experiment>/<id>)")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def column_encodings(table: pa.Table, sample: int = 4096) -> dict:
    """How each column is encoded (``pq.write_table``'s ``use_dictionary`` and ``column_encoding``).

    - A dictionary for text (problem, method, status, …) and for numbers with few distinct values
      among ``sample`` rows spread over the column (a grid's α, a rule's id, a checkpoint's step;
      the first rows would call the curves' run ids few, each repeated by its checkpoints).
    - Other floats split into byte streams (``BYTE_STREAM_SPLIT``): a float32 sweep's values widened
      to float64 end in zero bytes, which the compression then takes out.
    - Other integers (run ids, counts) as deltas (``DELTA_BINARY_PACKED``).

    Building a dictionary of a million distinct run ids or values, only to throw it away, was half
    the time of writing a part; the split floats and delta integers took a 10⁶-run sweep's
    parquet from 223 to 168 MB, and the writing of its parts 24% less time (docs/performance.md)."""
    dictionary, encoding = [], {}
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
            dictionary.append(name)
        elif (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and len(column):
            rows = _spread(column, sample)
            if pc.count_distinct(rows).as_py() <= max(1, len(rows) // 16):
                dictionary.append(name)
            else:
                encoding[name] = "BYTE_STREAM_SPLIT" if pa.types.is_floating(kind) else "DELTA_BINARY_PACKED"
    return {"use_dictionary": dictionary, "column_encoding": encoding or None}


def _spread(column: pa.ChunkedArray, sample: int):
    """About ``sample`` rows of ``column`` at an even stride (a strided view where the column is one
    chunk of numbers without nulls; a take of 4,096 rows cost 10 ms of a curves part)."""
    if len(column) <= sample:
        return column
    step = len(column) // sample
    if column.num_chunks == 1 and column.null_count == 0:
        return pa.array(column.chunk(0).to_numpy(zero_copy_only=True)[::step])
    return column.take(pa.array(np.arange(0, len(column), step, dtype=np.int64)))


def atomic_write(path: Path, write) -> None:
    """``write(tmp_path)`` then fsync and rename onto ``path``; a crash leaves the old file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _plain(config):
    """The config as plain yaml-able data (Problem objects from the Python API become their names)."""
    if isinstance(config, Mapping):
        return {str(k): _plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_plain(v) for v in config]
    if hasattr(config, "fn") and hasattr(config, "name"):
        return config.name
    return config


class SweepFolder:
    """One sweep's folder on disk."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._config_id: str | None = None

    def part_name(self, part: int) -> str:
        return f"part-{part:05d}"

    def record_path(self, part: int) -> Path:
        return self.path / "parts" / f"{self.part_name(part)}.json"

    def table_path(self, table: str, part: int) -> Path:
        return self.path / table / f"{self.part_name(part)}.parquet"

    # --- setting up ---------------------------------------------------------
    def prepare(self, config: Mapping) -> None:
        """Create the folder and write config.yaml; refuse if it holds another config, or files and no
        config (a folder that is not a sweep's)."""
        config = _plain(config)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-test-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise FolderError(f"cannot write to the results folder {self.path}: {exc.strerror or exc}") from exc
        cfg_path = self.path / "config.yaml"
        if cfg_path.exists():
            stored = yaml.safe_load(cfg_path.read_text()) or {}
            old, new = _identity(stored), _identity(config)
            if _canonical(old) != _canonical(new):
                changed = sorted(k for k in set(old) | set(new) if _canonical(old.get(k)) != _canonical(new.get(k)))
                raise FolderError(f"{self.path} holds results of a different config (changed: "
                                  f"{', '.join(changed)}); refusing to mix them")
            if _canonical(stored.get("report")) != _canonical(config.get("report")):
                # what the report draws is the latest run's choice
                _write_text(cfg_path, yaml.safe_dump({**stored, "report": config.get("report")}, sort_keys=False))
        else:
            # a folder of the user's own (Results.save(path) into it) would have its files written over
            theirs = sorted(p.name for p in self.path.iterdir() if not p.name.startswith(".write-test-"))
            if theirs:
                raise FolderError(f"{self.path} holds files and no gdlab sweep (no config.yaml: "
                                  f"{', '.join(theirs[:4])}{' …' if len(theirs) > 4 else ''}); give a new or empty "
                                  "folder (nothing was written)")
            _write_text(cfg_path, yaml.safe_dump(config, sort_keys=False))

    def config_id(self) -> str:
        """The sweep id of the folder's config.yaml, which each part record names (``sweep``): a part
        naming another was computed for another config (copied from another sweep's folder, or
        config.yaml edited since)."""
        if self._config_id is None:
            path = self.path / "config.yaml"
            try:
                config = yaml.safe_load(path.read_text())
            except FileNotFoundError:
                raise FolderError(f"{path} is missing, so which config this folder's parts were computed with "
                                  "cannot be told: restore it from a copy of the folder, or compute the sweep again "
                                  "into another folder") from None
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise FolderError(f"{path} cannot be read ({type(exc).__name__})") from None
            if not isinstance(config, dict):
                raise FolderError(f"{path} is not a sweep config")
            self._config_id = sweep_id(config)
        return self._config_id

    def foreign(self, records: Mapping[int, dict]) -> dict[int, str]:
        """The parts among ``records`` that are not this sweep's, with why: a record naming another sweep
        than config.yaml's, or one naming none (written before records named their sweep) that the
        manifest does not list with the same files, which cannot be told from another folder's."""
        mine, out, listed = self.config_id(), {}, None
        for part, rec in sorted(records.items()):
            if "sweep" in rec:
                if rec["sweep"] != mine:
                    out[part] = (f"its record names sweep {rec['sweep']}, not {mine} (this folder's config.yaml): a "
                                 "part copied from another sweep's folder, or config.yaml edited since")
                continue
            if listed is None:
                listed = self._listed()
            if listed.get(part) != {t: e["sha256"] for t, e in rec["files"].items()}:
                out[part] = ("its record names no sweep (written before records named theirs) and the manifest "
                             "does not list it: it cannot be told from another sweep's part")
        return out

    def _listed(self) -> dict[int, dict[str, str]]:
        """The manifest's parts as {part: {table: sha256}} ({} where it is missing or damaged)."""
        try:
            listed = self.snapshot(whole=False)
        except FolderError:
            return {}
        return {part: {t: e["sha256"] for t, e in rec["files"].items()} for part, rec in listed.items()}

    @contextlib.contextmanager
    def lock(self, name: str, wait: bool = True, log=print) -> Iterator[None]:
        """An exclusive lock on ``name`` in this folder (flock: released if the process dies)."""
        path = self.path / f".lock-{name}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                if not wait:
                    raise FolderError(f"another gdlab process (pid {holder}) is writing {self.path} ({name})")
                log(f"waiting for another gdlab process (pid {holder}) writing {self.path} ({name})")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def clean_temporaries(self) -> int:
        """Remove temporary files left by processes that died mid-write (their pid is gone)."""
        removed = 0
        for tmp in self.path.rglob(".*.tmp-*"):
            pid = tmp.name.rsplit("-", 1)[1]
            try:
                if pid.isdigit():
                    os.kill(int(pid), 0)
                    continue                   # that process is alive: it is still writing
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    # --- parts ---------------------------------------------------------------
    def write_part(self, part: int, tables: Mapping[str, pd.DataFrame], facts: Mapping) -> dict:
        """Write a part's four tables, then its record (the moment it becomes data)."""
        files = {}
        for table in TABLES:
            path = self.table_path(table, part)
            frame = tables[table]
            arrow = readable_metadata(pa.Table.from_pandas(frame, preserve_index=False))
            atomic_write(path, lambda tmp: pq.write_table(arrow, tmp, **column_encodings(arrow)))
            files[table] = {"file": str(path.relative_to(self.path)), "rows": len(frame),
                            "sha256": file_sha256(path)}
        record = {"part": part, "files": files, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "sweep": self.config_id(), **facts}
        if isinstance(record.get("functions"), Mapping):
            record["functions"] = {**record["functions"], "check": functions_check(record["functions"])}
        _write_text(self.record_path(part), json.dumps(record, indent=1))
        return record

    def records(self) -> dict[int, dict]:
        """Records of the finished parts (a record unreadable, malformed or whose files are missing
        does not count: :meth:`scan` says why)."""
        return self.scan()[0]

    def scan(self) -> tuple[dict[int, dict], dict[int, str]]:
        """(the finished parts' records, what is wrong with each other part record found): a record
        that is not JSON, not of a record's shape, not of its own part, or whose files are missing."""
        out, wrong = {}, {}
        folder = self.path / "parts"
        if not folder.exists():
            return out, wrong
        for path in sorted(folder.glob("part-*.json")):
            stem = path.stem.removeprefix("part-")
            if not stem.isdigit():
                continue
            part = int(stem)
            try:
                rec = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                wrong[part] = f"its record parts/{path.name} is unreadable ({type(exc).__name__})"
                continue
            problem = _record_problem(rec, part)
            if problem:
                wrong[part] = f"its record parts/{path.name} {problem}"
                continue
            missing = [f["file"] for f in rec["files"].values() if not (self.path / f["file"]).exists()]
            if missing:
                wrong[part] = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
                continue
            out[part] = rec
        return out, wrong

    def damaged(self, records: Mapping[int, dict]) -> dict[int, str]:
        """The parts among ``records`` whose files are not the bytes their record's sha256 names."""
        out = {}
        for part, rec in sorted(records.items()):
            for table in TABLES:
                entry = rec["files"][table]
                if file_sha256(self.path / entry["file"]) != entry["sha256"]:
                    out[part] = f"{entry['file']} is not the file that was written (its sha256 differs)"
                    break
        return out

    def discard(self, part: int) -> None:
        """Remove a part's record, then its files: a crash midway leaves no record of a partial part."""
        self.record_path(part).unlink(missing_ok=True)
        for table in TABLES:
            self.table_path(table, part).unlink(missing_ok=True)

    def write_manifest(self, body: Mapping, planned: int | None = None) -> dict:
        """manifest.json: every finished part with rows and sha256, plus the sweep's facts. With
        ``planned`` (the sweep's parts, 0 … planned − 1), the parts listed are those of the plan and of
        this sweep (:meth:`foreign`), and the status and gdlab version are said from the same records,
        under the lock: another shard writing parts meanwhile cannot make them disagree."""
        with self.lock("manifest"):
            records = self.records()
            if planned is not None:
                strange = set(self.foreign(records))
                records = {p: r for p, r in records.items() if p < planned and p not in strange}
                versions = {r["gdlab"] for r in records.values() if "gdlab" in r}
                body = {**body, "status": "complete" if len(records) == planned else
                        f"partial: {len(records)} of {planned} parts",
                        **({"gdlab": versions.pop()} if len(versions) == 1 else {})}
            manifest = {**body, "parts": {t: [records[p]["files"][t] for p in sorted(records)] for t in TABLES},
                        "part_facts": {str(p): {k: v for k, v in r.items() if k != "files"}
                                       for p, r in sorted(records.items())}}
            _write_text(self.path / "manifest.json", json.dumps(manifest, indent=1, default=str))
        return manifest

    def manifest(self) -> dict:
        """manifest.json, checked for the shape it is written in (FolderError naming what is wrong)."""
        path = self.path / "manifest.json"
        if not_a_folder(self.path):
            raise FolderError(not_a_folder(self.path))
        if not path.is_file():
            if (self.path / "parts").is_dir() and any((self.path / "parts").glob("part-*.json")):
                raise FolderError(f"{self.path} has finished parts but no manifest.json: run the sweep's command "
                                  "again to rebuild it from the part records")
            raise FolderError(f"{self.path} has no manifest.json: not a gdlab sweep folder, or it never finished "
                              "a part")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FolderError(f"{path} is damaged ({type(exc).__name__}): run the sweep's command again to rebuild "
                              "it from the part records") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise FolderError(f"{path} {problem}: run the sweep's command again to rebuild it from the part records")
        return manifest

    def snapshot(self, manifest: Mapping | None = None, whole: bool = True) -> dict[int, dict]:
        """The parts the manifest lists, as records ({part: {"files": {table: entry}}}): what a reader
        reads, as one consistent sweep, whatever other shards write meanwhile. ``whole``: refuse a
        manifest that lists other parts than it counts (:meth:`miscounted`)."""
        manifest = self.manifest() if manifest is None else manifest
        out: dict[int, dict] = {}
        for table in TABLES:
            for entry in manifest["parts"][table]:
                out.setdefault(_part_of(entry["file"]), {"files": {}})["files"][table] = entry
        short = sorted(p for p, rec in out.items() if len(rec["files"]) != len(TABLES))
        if short:
            raise FolderError(f"{self.path / 'manifest.json'} lists part {short[0]} in some tables only: run the "
                              "sweep's command again to rebuild it")
        short = self.miscounted(manifest, out)
        if short and whole:
            raise FolderError(f"{short}: run the sweep's command again to rebuild it from the part records (gdlab "
                              "verify says what is missing)")
        return out

    def miscounted(self, manifest: Mapping, listed: Mapping[int, dict]) -> str | None:
        """Where the manifest lists fewer parts than it counts (its status, n_parts, n_runs), what it
        says: a reader would take a subset for the sweep. None where they agree."""
        status, n_parts, n_runs = manifest.get("status"), manifest.get("n_parts"), manifest.get("n_runs")
        finished = re.fullmatch(r"partial: (\d+) of \d+ parts", status) if isinstance(status, str) else None
        rows = sum(rec["files"]["runs"]["rows"] for rec in listed.values())
        whole = isinstance(n_runs, int) and not isinstance(n_runs, bool)
        if (status == "complete" and (len(listed) != n_parts or (whole and rows != n_runs))) or (
                finished and len(listed) < int(finished.group(1))):
            return (f"{self.path / 'manifest.json'} says {status} (of {n_parts} parts, {n_runs} runs in all) but "
                    f"lists {count(len(listed), 'part')} of {count(rows, 'run')}")
        return None

    def read(self, table: str, parts: Mapping[int, dict] | None = None) -> pd.DataFrame:
        """One table over every finished part (all shards), as one frame ordered by run_id; each
        file checked against its sha256 as it is read (:meth:`read_file`)."""
        parts = self.records() if parts is None else parts
        if not parts:
            raise FolderError(f"{self.path} has no finished parts")
        return _ordered(table, pa.concat_tables(self.read_files([parts[p]["files"][table] for p in sorted(parts)]),
                                                promote_options="default"))

    def read_files(self, entries: list[Mapping], columns: list[str] | None = None) -> list[pa.Table]:
        """:meth:`read_file` of each entry, in order, several at once (hashing and decoding release
        the GIL: many small parts read in a fraction of the time one by one)."""
        if len(entries) < 2:
            return [self.read_file(e, columns) for e in entries]
        with ThreadPoolExecutor(min(READERS, len(entries)), thread_name_prefix="gdlab-read") as pool:
            return list(pool.map(lambda e: self.read_file(e, columns), entries))

    def read_file(self, entry: Mapping, columns: list[str] | None = None) -> pa.Table:
        """One part file, read once and checked against the sha256 of its entry (a record's or the
        manifest's): altered or missing data is a FolderError naming the file, never a table."""
        # ParquetFile, not read_table: the dataset machinery read_table builds cost 3.4 ms of a small
        # part's 1 ms read (the same table)
        return self._checked(entry).read(columns=columns)

    def _checked(self, entry: Mapping) -> pq.ParquetFile:
        """A part file's bytes, checked against its entry's sha256, opened as Parquet (nothing decoded)."""
        path = self.path / entry["file"]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FolderError(f"{entry['file']} is missing from {self.path}: run the sweep's command again to "
                              "compute its part anew (gdlab verify lists the damage)") from None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise FolderError(f"{entry['file']} in {self.path} is not the file that was written (its sha256 "
                              "differs): run the sweep's command again to compute its part anew (gdlab verify "
                              "lists the damage)")
        return pq.ParquetFile(pa.BufferReader(data))

    def read_parts(self, table: str, parts: Mapping[int, dict] | None = None,
                   columns: list[str] | None = None, batch_runs: int = 0,
                   writeable: bool = True) -> Iterator[pd.DataFrame]:
        """The same table one part at a time, each part's frame ordered as :meth:`read` orders the
        whole (``columns``: only these, and the ones it is ordered by). A part holds whole runs
        (every row of its runs, in every table), so anything computed run by run can be computed
        part by part, holding one part's rows at a time: the report reads the sweep this way.

        ``batch_runs``: consecutive parts together, as one frame, until they hold that many runs
        (:func:`part_batches`; the same batches for every table): a sweep of many small parts
        (bbob's 1,440 of 16 runs) then pays the per-frame costs of the reader a few times, not per part.

        ``writeable=False``: a frame of one part's file has Arrow's buffers as its number columns, not
        copies (a part's curves took 35–45 ms to copy, most of it the fresh memory's page faults), and
        they are read-only (several parts joined are copied either way): for a reader that only reads
        them, as the report's pass does."""
        if columns is not None:
            columns = list(dict.fromkeys([*SORT_KEYS[table], *columns]))
        parts = self.records() if parts is None else parts
        if not parts:
            raise FolderError(f"{self.path} has no finished parts")
        for batch in part_batches(parts, batch_runs):
            arrows = self.read_files([parts[p]["files"][table] for p in batch], columns)
            arrow = arrows[0] if len(arrows) == 1 else pa.concat_tables(arrows, promote_options="default")
            # pandas' metadata names every column's dtype, and pyarrow trips on those of columns left out
            yield _ordered(table, arrow if columns is None else arrow.replace_schema_metadata(None), writeable)

    def statistics(self, entry: Mapping, columns: list[str]) -> list[dict[str, tuple]] | None:
        """Per row group of a part file, the (min, max) of each of ``columns`` as the file's Parquet
        footer has them, and its number of rows (``"#rows"``), no rows decoded: the file is checked against its sha256
        first (a footer altered on disk can make pyarrow abort the process as it parses it). A
        column whose every value in the group is null (a NaN the table had: parts are written from
        pandas) is (None, None). None where a row group lacks them or holds some nulls in one of the columns."""
        meta = self._checked(entry).metadata
        where = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        if any(c not in where for c in columns):
            return None
        out = []
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            if group.num_rows == 0:
                continue
            got: dict[str, tuple | int] = {"#rows": group.num_rows}
            for c in columns:
                st = group.column(where[c]).statistics
                if st is None or not st.has_null_count:
                    return None
                if st.null_count == group.num_rows:
                    got[c] = (None, None)
                elif st.null_count or not st.has_min_max:
                    return None
                else:
                    got[c] = (st.min, st.max)
            out.append(got)
        return out

    def empty(self, table: str, parts: Mapping[int, dict] | None = None) -> pd.DataFrame:
        """The table's columns, without its rows: its first part's schema, checked (no rows decoded:
        a part's curves took 30 ms to decode for their column names). The first part, as the readers
        of a folder resumed by a newer gdlab expect: its first parts may lack a column the later have."""
        parts = self.records() if parts is None else parts
        if not parts:
            raise FolderError(f"{self.path} has no finished parts")
        return _ordered(table, self._checked(parts[min(parts)]["files"][table]).schema_arrow.empty_table())


def part_batches(parts: Mapping[int, dict], batch_runs: int = 0) -> list[list[int]]:
    """The part numbers in order, in runs of consecutive parts that hold ``batch_runs`` runs or more
    each (the last may hold fewer); one part a batch where ``batch_runs`` is 0."""
    batches: list[list[int]] = []
    held = batch_runs
    for p in sorted(parts):
        if held >= batch_runs:
            batches.append([])
            held = 0
        batches[-1].append(p)
        held += int(parts[p]["files"]["runs"]["rows"])
    return batches


def _part_of(file: str) -> int:
    stem = Path(file).stem.removeprefix("part-")
    if not stem.isdigit():
        raise FolderError(f"{file!r} is not a part file's name")
    return int(stem)


def _entry_problem(entry) -> str | None:
    if not (isinstance(entry, Mapping) and isinstance(entry.get("file"), str) and isinstance(entry.get("rows"), int)
            and isinstance(entry.get("sha256"), str)):
        return f"has an entry {str(entry)[:80]} that is not {{file, rows, sha256}}"
    return None


RECORD_KEYS = frozenset({"part", "files", "written", "runs", "seconds", "shard", "saved_from", "functions",
                         "sweep", "gdlab"})
#: a gdlab version as its part records hold it (PEP 440: 0.2.0, 1.0rc1, 0.3.dev2)
VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[0-9a-z.]+)?")


def functions_check(functions: Mapping) -> str:
    """The sha256 a part record keeps of its functions' fingerprints (``functions``' ``jax``, ``form`` and
    ``sha256``): a changed byte in a problem's name or the JAX version would otherwise leave them
    unable to be compared, taken as the same function."""
    body = {k: functions[k] for k in ("jax", "form", "sha256") if k in functions}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _record_problem(rec, part: int) -> str | None:
    """What is wrong with a part record's shape, or None."""
    if not isinstance(rec, Mapping) or rec.get("part") != part or not isinstance(rec.get("files"), Mapping):
        return "is not the record of this part"
    if set(rec["files"]) != set(TABLES):
        return f"names the tables {sorted(rec['files'])}, not {list(TABLES)}"
    for entry in rec["files"].values():
        problem = _entry_problem(entry)
        if problem:
            return problem
    # the rest of the record too, so that a changed byte anywhere in it is found (a flipped bit turns
    # "shard" into "chard", or its value into another string, and the JSON still reads)
    unknown = sorted(set(rec) - RECORD_KEYS, key=str)
    if unknown:
        return f"has a key {unknown[0]!r} no part record has"
    if "shard" in rec and not (isinstance(rec["shard"], str) and re.fullmatch(r"shard-\d+-of-\d+", rec["shard"])):
        return f"names its shard {rec['shard']!r}, not shard-<index>-of-<count>"
    written = rec.get("written", "")
    if "written" in rec and not (isinstance(written, str)
                                 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d{4})?", written)):
        return f"says it was written at {written!r}"
    if "sweep" in rec and not (isinstance(rec["sweep"], str) and re.fullmatch(r"[0-9a-f]{12}", rec["sweep"])):
        return f"names its sweep {rec['sweep']!r}, not a sweep id"
    if "gdlab" in rec and not (isinstance(rec["gdlab"], str) and VERSION.fullmatch(rec["gdlab"])):
        return f"says it was computed by gdlab {rec['gdlab']!r}, not a version"
    runs = rec.get("runs")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs != rec["files"]["runs"]["rows"]:
        return f"counts {runs!r} runs where its runs file has {rec['files']['runs']['rows']} rows"
    seconds = rec.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
        return f"says it took {seconds!r} seconds"
    if rec.get("saved_from", "memory") != "memory":
        return f"says it was saved from {rec['saved_from']!r}"
    functions = rec.get("functions", {"jax": "", "form": "", "sha256": {}})    # its functions' fingerprints
    if not (isinstance(functions, Mapping) and set(functions) - {"form", "check"} == {"jax", "sha256"}
            and isinstance(functions["jax"], str) and isinstance(functions.get("form", ""), str)
            and isinstance(functions["sha256"], Mapping)
            and all(isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
                    for k, v in functions["sha256"].items())):
        return ("holds its functions' fingerprints in another shape than {jax: version, form: how, sha256: "
                "{problem: sha256}, check: sha256}")
    if "check" in functions and functions["check"] != functions_check(functions):   # (none before gdlab kept it)
        return "holds its functions' fingerprints changed since they were written (they do not match their check)"
    return None


def _manifest_problem(manifest) -> str | None:
    if not isinstance(manifest, Mapping):
        return f"is not a manifest (a {type(manifest).__name__}, not a mapping)"
    parts = manifest.get("parts")
    if not isinstance(parts, Mapping) or set(parts) != set(TABLES) or not all(isinstance(v, list)
                                                                             for v in parts.values()):
        return "has no list of parts for each table"
    for entries in parts.values():
        for entry in entries:
            problem = _entry_problem(entry)
            if problem:
                return problem
    return None


_END = object()


def prefetched(items: Iterable) -> Prefetched:
    """The items of ``items`` in order, each made in a background thread while the caller works on
    the one before (reading parquet releases the GIL): one item more in memory. The first is begun
    at once, so the caller can do other work before it asks for it (:class:`Prefetched`)."""
    return Prefetched(items)


class Prefetched(Iterator):
    """:func:`prefetched`'s iterator. :meth:`close` (or leaving a ``with`` block, or dropping the
    iterator) waits for the item being made and makes no more, whether or not the caller has asked
    for any: a caller that stops early, or fails before it starts, leaves no reader behind."""

    def __init__(self, items: Iterable):
        self._items = iter(items)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="gdlab-reader")
        self._ahead = self._pool.submit(next, self._items, _END)

    def __next__(self):
        if self._ahead is None:
            raise StopIteration
        try:
            item = self._ahead.result()
        except BaseException:
            self.close()
            raise
        if item is _END:
            self.close()
            raise StopIteration
        self._ahead = self._pool.submit(next, self._items, _END)
        return item

    def close(self) -> None:
        self._ahead = None
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Prefetched:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


def _ordered(table: str, arrow: pa.Table, writeable: bool = True) -> pd.DataFrame:
    frame = arrow.to_pandas(types_mapper=_types, split_blocks=not writeable)
    if in_order(frame, SORT_KEYS[table]):     # parts are written in order: a stable sort would change nothing
        return frame
    return frame.sort_values(SORT_KEYS[table], kind="stable").reset_index(drop=True)


def _types(arrow_type):
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    return None
