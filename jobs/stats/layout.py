"""Where the tables of one output folder live, and a batched, column-projected scan over them.

Every stats command reads the same few tables (accepted shards, rejects, clips, dedup removals), and
always only the columns it needs: Parquet is read file by file with ``iter_batches(columns=...)``,
which also projects *nested* leaves (``media.list.element.width`` reads widths without the image
bytes), so memory stays bounded by one batch whatever the row count. Accepted rows are read from the
Parquet shards; when a job wrote only Arrow IPC streams those are read batch by batch instead
(projection there is by top-level column). WebDataset-only folders cannot be scanned column-wise.

The folder may be an object-store prefix (``s3://bucket/run1``): files are then locations read through
pyarrow's filesystems, and a Parquet projection is a set of ranged GETs of the columns asked for, so
``stats``/``inspect``/``export`` of a bucket read the same bytes they would read on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE
from mmcurate.pipeline.out_files import files_in

__all__ = ["OutputFolder", "Batch", "BATCH_ROWS", "track"]

REMOVALS_PATH = "passes"  # the set-level decisions of a job (one parquet per pass step)

# Rows per scanned batch: 64k rows of a few numeric columns is a few MB, and big enough that the
# per-batch overhead of Arrow compute calls is negligible.
BATCH_ROWS = 65_536

# ``mmcurate.pipeline.output_state.JOB_FILE``; not imported, because that module imports the shard
# writers and with them webdataset and torch (~7 s), which a read-only report never needs.
JOB_FILE = "job.json"


@dataclass(frozen=True)
class Batch:
    """One scanned batch plus where it came from (for ``path in shard`` in ``inspect``)."""

    path: str  # relative to the output folder
    offset: int  # row number of the batch's first row inside ``path``
    data: pa.RecordBatch


def _parquet(location: str) -> pq.ParquetFile:
    return pq.ParquetFile(fs.parquet_source(location))


def _has_files(location: str) -> bool:
    return bool(fs.list_files(location, recursive=False))


@dataclass
class OutputFolder:
    """An mmcurate output folder (``README.md``, "Output layout"), opened read-only."""

    root: str  # a local folder (absolute) or an object-store prefix
    job: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> OutputFolder:
        text = os.fspath(path)
        root = text.rstrip("/") if fs.is_remote(text) else os.path.abspath(text)
        if not fs.is_remote(root) and not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: not an output folder")
        job_file = fs.join(root, JOB_FILE)
        has_job = fs.exists(job_file)
        if not has_job and not _has_files(fs.join(root, "parquet")) and not _has_files(fs.join(root, "arrow")):
            raise FileNotFoundError(
                f"{root}: no job.json, parquet/ or arrow/ (is this an mmcurate output folder?)"
            )
        job = json.loads(fs.read_bytes(job_file)) if has_job else {}
        return cls(root=root, job=job)

    def path(self, *parts: str) -> str:
        """The location of ``parts`` under the output."""
        return fs.join(self.root, *parts)

    # -- which files --------------------------------------------------------------------------
    def shard_files(self) -> list[str]:
        return files_in(self.root, "parquet", "parquet") or files_in(self.root, "arrow", "arrow")

    def reject_files(self) -> list[str]:
        return files_in(self.root, "rejects", "parquet")

    def clip_files(self) -> list[str]:
        return files_in(self.root, "clips", "parquet")

    def removal_files(self) -> list[str]:
        """The job's set-level decisions (``passes/*.parquet``)."""
        return files_in(self.root, REMOVALS_PATH, "parquet")

    @property
    def stats_path(self) -> str:
        return self.path(STATS_TABLE)

    @property
    def manifest_path(self) -> str:
        return self.path(MANIFEST_TABLE)

    @property
    def journal_path(self) -> str:
        return self.path(JOURNAL)

    # -- schemas and sizes ---------------------------------------------------------------------
    @staticmethod
    def schema_of(files: Sequence[str]) -> pa.Schema | None:
        if not files:
            return None
        if files[0].endswith(".arrow"):
            with fs.open_input_file(files[0]) as source:
                return pa.ipc.open_stream(source).schema
        return _parquet(files[0]).schema_arrow

    @staticmethod
    def count_rows(files: Sequence[str]) -> int:
        """Rows from Parquet footers (no data read); Arrow streams are counted batch by batch."""
        total = 0
        for path in files:
            if path.endswith(".arrow"):
                with fs.open_input_file(path) as source:
                    total += sum(b.num_rows for b in pa.ipc.open_stream(source))
            else:
                total += _parquet(path).metadata.num_rows
        return total

    @staticmethod
    def read_table(location: str, columns: Sequence[str] | None = None) -> pa.Table:
        """A whole (small) Parquet table of the output: ``stats.parquet``, a pass decision."""
        return _parquet(location).read(columns=list(columns) if columns is not None else None)

    # -- the scan ------------------------------------------------------------------------------
    def scan(
        self, files: Sequence[str], columns: Sequence[str] | None, batch_rows: int = BATCH_ROWS
    ) -> Iterator[Batch]:
        """Batches of ``files`` with only ``columns`` (dotted Parquet paths allowed; None: all).

        Columns missing from a file are skipped rather than failing, because shards of one job agree
        on the schema but a rejects-only or empty unit may lack a stage's columns.
        """
        for path in files:
            rel = fs.relative_to(path, self.root)
            offset = 0
            if path.endswith(".arrow"):
                tops = None if columns is None else list(dict.fromkeys(c.split(".")[0] for c in columns))
                with fs.open_input_file(path) as source:
                    for batch in pa.ipc.open_stream(source):
                        if tops is not None:
                            batch = batch.select([c for c in tops if c in batch.schema.names])
                        yield Batch(rel, offset, batch)
                        offset += batch.num_rows
                continue
            parquet = _parquet(path)
            wanted = None if columns is None else _present(parquet.schema_arrow, columns)
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted, use_threads=True):
                yield Batch(rel, offset, batch)
                offset += batch.num_rows


def _present(schema: pa.Schema, columns: Sequence[str]) -> list[str]:
    """The requested columns that exist in ``schema`` (a nested path counts if its top-level does)."""
    names = set(schema.names)
    return list(dict.fromkeys(c for c in columns if c.split(".")[0] in names))


def track(batches: Iterator[Batch], total_rows: int, desc: str, enabled: bool) -> Iterator[Batch]:
    """``batches`` with a tqdm bar in rows (its rate is the scan's throughput, rows/s); never drawn into
    a log (stderr not a terminal)."""
    import sys

    from tqdm import tqdm

    enabled = enabled and sys.stderr.isatty()
    with tqdm(
        total=total_rows, unit="row", unit_scale=True, desc=desc, disable=not enabled, leave=False
    ) as bar:
        for batch in batches:
            yield batch
            bar.update(batch.data.num_rows)
