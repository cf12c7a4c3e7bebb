"""Where the tables of one output folder live, and a batched, column-projected scan over them.

Every stats command reads the same few tables (accepted shards, rejects, clips, dedup removals), and
always only the columns it needs: Parquet is read file by file with ``iter_batches(columns=...)``,
which also projects *nested* leaves (``media.list.element.width`` reads widths without the image
bytes), so memory stays bounded by one batch whatever the row count. Accepted rows are read from the
Parquet shards; when a job wrote only Arrow IPC streams those are read batch by batch instead
(projection there is by top-level column). WebDataset-only folders cannot be scanned column-wise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.atomic import TMP_MARK
from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE

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


def _files(root: Path, sub: str, ext: str) -> list[Path]:
    folder = root / sub
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"*.{ext}") if TMP_MARK not in p.name)


@dataclass
class OutputFolder:
    """An mmcurate output folder (``README.md``, "Output layout"), opened read-only."""

    root: Path
    job: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path) -> OutputFolder:
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: not an output folder")
        if (
            not (root / JOB_FILE).exists()
            and not (root / "parquet").is_dir()
            and not (root / "arrow").is_dir()
        ):
            raise FileNotFoundError(
                f"{root}: no job.json, parquet/ or arrow/ (is this an mmcurate output folder?)"
            )
        job = json.loads((root / JOB_FILE).read_text()) if (root / JOB_FILE).exists() else {}
        return cls(root=root, job=job)

    # -- which files --------------------------------------------------------------------------
    def shard_files(self) -> list[Path]:
        return _files(self.root, "parquet", "parquet") or _files(self.root, "arrow", "arrow")

    def reject_files(self) -> list[Path]:
        return _files(self.root, "rejects", "parquet")

    def clip_files(self) -> list[Path]:
        return _files(self.root, "clips", "parquet")

    @property
    def removals_path(self) -> Path:
        return self.root / REMOVALS_PATH

    @property
    def stats_path(self) -> Path:
        return self.root / STATS_TABLE

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_TABLE

    @property
    def journal_path(self) -> Path:
        return self.root / JOURNAL

    # -- schemas and sizes ---------------------------------------------------------------------
    @staticmethod
    def schema_of(files: Sequence[Path]) -> pa.Schema | None:
        if not files:
            return None
        if files[0].suffix == ".arrow":
            with pa.memory_map(str(files[0])) as source:
                return pa.ipc.open_stream(source).schema
        return pq.read_schema(files[0])

    @staticmethod
    def count_rows(files: Sequence[Path]) -> int:
        """Rows from Parquet footers (no data read); Arrow streams are counted batch by batch."""
        total = 0
        for path in files:
            if path.suffix == ".arrow":
                with pa.memory_map(str(path)) as source:
                    total += sum(b.num_rows for b in pa.ipc.open_stream(source))
            else:
                total += pq.ParquetFile(path).metadata.num_rows
        return total

    # -- the scan ------------------------------------------------------------------------------
    def scan(
        self, files: Sequence[Path], columns: Sequence[str] | None, batch_rows: int = BATCH_ROWS
    ) -> Iterator[Batch]:
        """Batches of ``files`` with only ``columns`` (dotted Parquet paths allowed; None: all).

        Columns missing from a file are skipped rather than failing, because shards of one job agree
        on the schema but a rejects-only or empty unit may lack a stage's columns.
        """
        for path in files:
            rel = str(path.relative_to(self.root))
            offset = 0
            if path.suffix == ".arrow":
                tops = None if columns is None else list(dict.fromkeys(c.split(".")[0] for c in columns))
                with pa.memory_map(str(path)) as source:
                    for batch in pa.ipc.open_stream(source):
                        if tops is not None:
                            batch = batch.select([c for c in tops if c in batch.schema.names])
                        yield Batch(rel, offset, batch)
                        offset += batch.num_rows
                continue
            parquet = pq.ParquetFile(path)
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
