"""The sink at the end of every job: writes each complete work unit's shards and rejects.

It runs as the last Ray Data map (and in-process without Ray). For each unit in its block it checks
the unit is complete (every planned input row present once: a unit split across blocks would make a
shard plan that depends on scheduling), writes the accepted rows as shards in every configured format
and the rejected rows to ``rejects/<unit>.parquet``, each atomically, and returns one commit record
per unit. On local disk nothing is committed here: the driver appends the record to the manifest, the
only commit point, so a unit is either listed with all its files or redone.

On an object store (no rename, no append) every file is one PUT to its deterministic key (same unit,
same bytes, same key, so a retried task overwrites with identical bytes) and the unit's commit record
``_commits/<unit_id>.json`` is PUT *last*, by the worker: it exists only once every file it lists does.
The manifest is assembled from those records (``pipeline/manifest.py``), so a driver that dies after a
worker finished loses nothing, and the output never depends on one machine's disk.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.faults import fault_point
from mmcurate.pipeline.ray_session import follow_driver_cwd
from mmcurate.pipeline.sinks.formats import EXTENSIONS, WRITERS
from mmcurate.pipeline.sinks.reject_rows import REJECT_ROWS_VERSION, rejects_table
from mmcurate.pipeline.sinks.shard_split import row_bytes, split_points
from mmcurate.schemas import sample as S

__all__ = ["UnitWriter", "COMMIT_SCHEMA", "IncompleteUnit", "COMMITS_DIR", "commit_record_bytes"]

COMMITS_DIR = "_commits"

COMMIT_SCHEMA = pa.schema([pa.field("unit_id", pa.string()), pa.field("record", pa.string())])


def commit_record_bytes(record: dict[str, Any]) -> bytes:
    """One unit's commit record as stored: the same bytes as its line in ``manifest.jsonl``."""
    return (json.dumps(record, sort_keys=True) + "\n").encode()


class IncompleteUnit(RuntimeError):
    """A block held only part of a unit: the one-block-per-unit invariant was broken."""


@dataclass(frozen=True)
class SideRecords:
    """Records a domain derives from a unit's accepted rows, written beside its shards (audio windows as
    ``windows/<unit>.parquet``): the job layer names them, so the writer names no domain."""

    folder: str  # also the manifest entry's kind
    column: str  # rows without this column give no records
    build: Callable[[pa.Table], pa.Table]  # a module-level function: it travels to the Ray workers


@dataclass(kw_only=True)
class UnitWriter:
    """Callable over Arrow blocks; returns ``COMMIT_SCHEMA`` rows (one per unit)."""

    out_dir: str
    formats: tuple[str, ...]
    max_rows: int
    max_bytes: int
    config_hash: str
    side_records: tuple[SideRecords, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.formats) - set(WRITERS)
        if unknown:
            raise ValueError(f"unknown shard formats {sorted(unknown)}; choose from {sorted(WRITERS)}")

    def __call__(self, block: pa.Table) -> pa.Table:
        follow_driver_cwd()  # a relative output path means the driver's
        records = []
        for unit_id in sorted(set(block.column(S.UNIT_ID).to_pylist())):
            unit = block.filter(pc.equal(block.column(S.UNIT_ID), unit_id))
            records.append({"unit_id": unit_id, "record": json.dumps(self.write_unit(unit_id, unit), sort_keys=True)})
        return pa.Table.from_pylist(records, schema=COMMIT_SCHEMA)

    def _file_entry(self, info: fs.StoredFile, kind: str, fmt: str, rows: int, schema_version: str) -> dict[str, Any]:
        return {"path": fs.relative_to(info.location, self.out_dir), "kind": kind, "format": fmt,
                "rows": rows, "bytes": info.bytes, "sha256": info.sha256, "schema_version": schema_version}

    def _write_clips(self, root: str, unit_id: str, ok: pa.Table) -> list[dict[str, Any]]:
        """One record per video clip (frames, timestamps, parent identity) in ``clips/<unit>.parquet``."""
        from mmcurate.pipeline.sinks.explode import explode_clips
        from mmcurate.schemas.video import CLIP_RECORD_SCHEMA, CLIPS

        if CLIPS not in ok.column_names:
            return []
        records = explode_clips(ok)
        if records.num_rows == 0:
            return []
        info = fs.write_atomic(fs.join(root, "clips", f"{unit_id}.parquet"), lambda fh: pq.write_table(records, fh))
        version = (CLIP_RECORD_SCHEMA.metadata or {}).get(b"mmcurate.schema", b"video_clip/v1").decode()
        return [self._file_entry(info, "clips", "parquet", records.num_rows, version)]

    def _write_side(self, root: str, unit_id: str, ok: pa.Table, side: SideRecords) -> list[dict[str, Any]]:
        """``side``'s records of this unit's accepted rows in ``<side.folder>/<unit>.parquet`` (none: no file)."""
        if side.column not in ok.column_names:
            return []
        records = side.build(ok)
        if records.num_rows == 0:
            return []
        info = fs.write_atomic(fs.join(root, side.folder, f"{unit_id}.parquet"),
                               lambda fh: pq.write_table(records, fh))
        version = (records.schema.metadata or {}).get(b"mmcurate.schema", b"").decode()
        return [self._file_entry(info, side.folder, "parquet", records.num_rows, version)]

    def write_unit(self, unit_id: str, unit: pa.Table) -> dict[str, Any]:
        """Write one unit's files; returns its commit record (files and counts)."""
        indices = unit.column(S.UNIT_INDEX).to_pylist()
        expected = unit.column(S.UNIT_ROWS)[0].as_py()
        if len(set(indices)) != expected:
            raise IncompleteUnit(f"{unit_id}: {len(set(indices))} of {expected} input rows in this block")
        # take and filter copy every image's bytes: skipped when the block is in order / all accepted.
        if indices != sorted(indices):
            unit = unit.take(pc.sort_indices(unit, [(S.UNIT_INDEX, "ascending")]))
        ok_mask = pc.equal(unit.column(S.STATUS), S.STATUS_OK)
        if pc.all(ok_mask).as_py():
            ok, rejected = unit, unit.slice(0, 0)
        else:
            ok, rejected = unit.filter(ok_mask), unit.filter(pc.invert(ok_mask))
        root = self.out_dir
        files: list[dict[str, Any]] = []
        slices = split_points(row_bytes(ok), self.max_rows, self.max_bytes) if ok.num_rows else []
        schema_version = S.SAMPLE_SCHEMA_VERSION
        for k, (offset, length) in enumerate(slices):
            shard = ok.slice(offset, length)
            for fmt in self.formats:
                path = fs.join(root, fmt, f"{unit_id}-{k:04d}.{EXTENSIONS[fmt]}")
                info = fs.write_atomic(path, lambda fh, f=fmt, t=shard: WRITERS[f](t, fh),
                                       before_commit=lambda: fault_point("writer_before_rename", unit_id))
                files.append(self._file_entry(info, "shard", fmt, length, schema_version))
        files += self._write_clips(root, unit_id, ok)
        for side in self.side_records:
            files += self._write_side(root, unit_id, ok, side)
        rejects = rejects_table(rejected)  # with the scores that decided each reject
        info = fs.write_atomic(fs.join(root, "rejects", f"{unit_id}.parquet"), lambda fh: pq.write_table(rejects, fh))
        files.append(self._file_entry(info, "rejects", "parquet", rejected.num_rows, REJECT_ROWS_VERSION))
        fault_point("writer_after_rename", unit_id)
        reasons = Counter(rejected.column(S.DROP_REASON).to_pylist())
        record = {
            "unit_id": unit_id, "config_hash": self.config_hash, "files": files,
            "rows_in": expected, "rows_out": unit.num_rows, "accepted": ok.num_rows, "rejected": rejected.num_rows,
            "reasons": dict(sorted(reasons.items())),
        }
        if fs.is_remote(root):  # the object-store commit point: written last, after every file it lists
            body = commit_record_bytes(record)
            fs.write_atomic(fs.join(root, COMMITS_DIR, f"{unit_id}.json"), lambda fh: fh.write(body))
        return record
