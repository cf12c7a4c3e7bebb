"""The manifest: the one commit point of a job's output folder.

``manifest.jsonl`` holds one JSON line per committed work unit (its files with rows, bytes, sha256,
schema version and config hash, and its reject counts). The driver appends a line and fsyncs it only
after every file of the unit has been renamed into place; a unit without a line is simply redone.
A line torn by a crash mid-append is ignored on reading. When a job finishes, the journal is rewritten
in unit order (atomically) and ``manifest.parquet`` (one row per file) and ``stats.parquet`` are derived
from it, so an interrupted-then-resumed run ends with the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.atomic import remove_temp_files
from mmcurate.pipeline.sinks.unit_writer import COMMITS_DIR, commit_record_bytes
from mmcurate.schemas import sample as S
from mmcurate.schemas.records import MANIFEST_SCHEMA, STATS_SCHEMA
from mmcurate.schemas.table import to_table

__all__ = ["Manifest", "JOURNAL", "MANIFEST_TABLE", "STATS_TABLE"]

log = logging.getLogger(__name__)
JOURNAL = "manifest.jsonl"
MANIFEST_TABLE = "manifest.parquet"
STATS_TABLE = "stats.parquet"


class Manifest:
    """Reads and appends the journal of one output folder (or object-store prefix)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.location = os.fspath(out_dir)
        self.remote = fs.is_remote(self.location)
        self.root: Path | str = self.location if self.remote else Path(out_dir)
        self.path = fs.join(self.location, JOURNAL) if self.remote else Path(out_dir) / JOURNAL
        self.records: dict[str, dict[str, Any]] = {}
        if fs.exists(self.path):
            self._load()
        if self.remote:
            for location in fs.list_files(fs.join(self.location, COMMITS_DIR)):
                record = json.loads(fs.read_bytes(location))
                self.records[record["unit_id"]] = record

    def _load(self) -> None:
        lines = fs.read_bytes(self.path).split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                log.warning("%s:%d: torn line ignored (interrupted append)", self.path, number)
                continue
            self.records[record["unit_id"]] = record
        if not self.remote:
            self._rewrite_clean_journal()

    def _rewrite_clean_journal(self) -> None:
        # Drop a torn tail now, so the next append starts on a fresh line.
        body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records.values()).encode()
        fs.write_atomic(self.path, lambda fh: fh.write(body))

    def committed(self) -> set[str]:
        return set(self.records)

    def commit(self, record: dict[str, Any]) -> None:
        """Append one unit's record and fsync (object store: PUT its record): from here on the unit is done."""
        line = commit_record_bytes(record)
        if self.remote:
            fs.write_atomic(fs.join(self.location, COMMITS_DIR, f"{record['unit_id']}.json"), lambda fh: fh.write(line))
            self.records[record["unit_id"]] = record
            return
        with open(self.path, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.records[record["unit_id"]] = record

    def funnel(self) -> dict[str, Any]:
        """Totals over committed units: in, accepted, rejected by reason."""
        reasons: Counter[str] = Counter()
        for r in self.records.values():
            reasons.update(r["reasons"])
        return {
            "units": len(self.records),
            "rows_in": sum(r["rows_in"] for r in self.records.values()),
            "accepted": sum(r["accepted"] for r in self.records.values()),
            "rejected": sum(r["rejected"] for r in self.records.values()),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def finalize(self) -> None:
        """Sorted journal plus the Parquet manifest and stats derived from it.

        Called when every unit is committed and no writer runs any more, so leftover temp files of
        killed attempts (a Ray retry succeeded elsewhere) can go too.
        """
        if not self.remote:
            remove_temp_files(Path(self.location))
        ordered = [self.records[u] for u in sorted(self.records)]
        body = b"".join(commit_record_bytes(r) for r in ordered)
        fs.write_atomic(self.path, lambda fh: fh.write(body))
        files = [{**f, "unit_id": r["unit_id"], "config_hash": r["config_hash"]} for r in ordered for f in r["files"]]
        manifest = to_table(files, MANIFEST_SCHEMA)
        fs.write_atomic(fs.join(self.location, MANIFEST_TABLE), lambda fh: pq.write_table(manifest, fh))
        stats_rows = []
        for r in ordered:
            stats_rows.append({"unit_id": r["unit_id"], "status": S.STATUS_OK, "reason": None, "count": r["accepted"]})
            for reason, count in r["reasons"].items():
                stats_rows.append({"unit_id": r["unit_id"], "status": S.STATUS_REJECTED, "reason": reason, "count": count})
        stats = to_table(stats_rows, STATS_SCHEMA)
        fs.write_atomic(fs.join(self.location, STATS_TABLE), lambda fh: pq.write_table(stats, fh))
        if self.remote:  # the journal holds every record now; a crash before this line only leaves duplicates
            for location in fs.list_files(fs.join(self.location, COMMITS_DIR)):
                fs.delete(location)

    def files(self) -> list[dict[str, Any]]:
        return [f for u in sorted(self.records) for f in self.records[u]["files"]]


