"""Writing packed sequences as token shards: Parquet or Arrow IPC files, a manifest and a summary.

Each shard holds ``packs_per_shard`` rows of :data:`~.packing.PACK_SCHEMA` (sample ids, lengths,
``cu_seqlens``, loss weights per pack); a trainer's loader joins the sample ids to the sample shards
(or to its own tokenized records) and builds attention masks / position ids from ``cu_seqlens``.
Every file goes through :func:`~mmcurate.pipeline.fs.write_atomic` (local disk or a bucket), so a reader never sees
a torn shard. The manifest (``packs_manifest.parquet``, :data:`MANIFEST_SCHEMA`) is written last and
lists each shard with its rows, bytes and sha256; ``packs_summary.json`` records the context, counts
and packing efficiency; ``packs_rejects.parquet`` keeps the samples that could not be packed.
Shard names depend only on their index, and FFD is deterministic, so a rerun rewrites the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.fs import StoredFile
from mmcurate.pipeline.mixture.packing import PACK_SCHEMA, REJECT_SCHEMA, PackResult
from mmcurate.schemas.records import MANIFEST_SCHEMA

__all__ = ["MANIFEST_NAME", "SUMMARY_NAME", "REJECTS_NAME", "PackShardWriter", "write_pack_shards"]

MANIFEST_NAME = "packs_manifest.parquet"
SUMMARY_NAME = "packs_summary.json"
REJECTS_NAME = "packs_rejects.parquet"

Format = Literal["parquet", "arrow"]


def _writer(table: pa.Table, fmt: Format) -> Callable[[BinaryIO], None]:
    def write(fh: BinaryIO) -> None:
        if fmt == "parquet":
            pq.write_table(table, fh, compression="zstd")
        else:
            with pa.ipc.new_file(fh, table.schema) as w:
                w.write_table(table)
    return write


class PackShardWriter:
    """Pack shards written as packs arrive (:func:`~.packing.pack_batches` chunk by chunk): the writer holds
    under one shard of packs, the rejects and running sums; :meth:`close` writes rejects, manifest, summary."""

    def __init__(self, out_dir: Path | str, context: int, packs_per_shard: int = 4096, fmt: Format = "parquet",
                 config_hash: str = "") -> None:
        if packs_per_shard < 1:
            raise ValueError("packs_per_shard must be >= 1")
        if fmt not in ("parquet", "arrow"):
            raise ValueError(f"fmt must be 'parquet' or 'arrow', got {fmt!r}")
        self.out, self.context, self.per_shard, self.fmt, self.config_hash = (
            str(out_dir), context, packs_per_shard, fmt, config_hash)
        self._pending: list[pa.Table] = []
        self._rejects: list[pa.Table] = []
        self._infos: list[tuple[str, int, StoredFile]] = []
        self._packs = self._sequences = self._tokens = 0

    def add(self, result: PackResult) -> None:
        self._pending.append(result.packs)
        self._rejects.append(result.rejects)
        if sum(t.num_rows for t in self._pending) < self.per_shard:
            return
        held = pa.concat_tables(self._pending)
        start = 0
        while held.num_rows - start >= self.per_shard:
            self._write(held.slice(start, self.per_shard))
            start += self.per_shard
        rest = held.slice(start)
        # A copy of the few packs left: a slice would keep the whole chunk's buffers alive.
        self._pending = [rest.take(pa.array(np.arange(rest.num_rows)))]

    def _write(self, part: pa.Table) -> None:
        name = f"packs-{len(self._infos):05d}.{self.fmt}"
        self._infos.append((name, part.num_rows, fs.write_atomic(fs.join(self.out, name), _writer(part, self.fmt))))
        self._packs += part.num_rows
        self._sequences += int(pc.sum(pc.list_value_length(part.column("lengths"))).as_py() or 0)
        self._tokens += int(pc.sum(part.column("tokens")).as_py() or 0)

    def close(self) -> dict[str, object]:
        """Write the last shard, the rejects, the summary and (last: it marks the set complete) the manifest."""
        rest = pa.concat_tables(self._pending) if self._pending else PACK_SCHEMA.empty_table()
        if rest.num_rows:
            self._write(rest)
        rejects = pa.concat_tables(self._rejects) if self._rejects else REJECT_SCHEMA.empty_table()
        fs.write_atomic(fs.join(self.out, REJECTS_NAME), _writer(rejects, "parquet"))
        summary: dict[str, object] = {
            "context": self.context,
            "packs": self._packs,
            "sequences": self._sequences,
            "tokens": self._tokens,
            "efficiency": self._tokens / (self._packs * self.context) if self._packs else 0.0,
            "rejects": rejects.num_rows,
            "reject_reasons": {r["values"]: r["counts"] for r in
                               pc.value_counts(rejects.column("drop_reason")).to_pylist()},
            "shards": len(self._infos),
        }
        text = json.dumps(summary, indent=2, sort_keys=True).encode()
        fs.write_atomic(fs.join(self.out, SUMMARY_NAME), lambda fh: fh.write(text))
        fs.write_atomic(fs.join(self.out, MANIFEST_NAME), _writer(self._manifest(), "parquet"))
        return summary

    def _manifest(self) -> pa.Table:
        infos = self._infos
        return pa.table({
            "unit_id": [name.split(".")[0] for name, _, _ in infos],
            "path": [name for name, _, _ in infos],
            "kind": ["packs"] * len(infos),
            "format": [self.fmt] * len(infos),
            "rows": [rows for _, rows, _ in infos],
            "bytes": [info.bytes for _, _, info in infos],
            "sha256": [info.sha256 for _, _, info in infos],
            "schema_version": [PACK_SCHEMA.metadata[b"mmcurate.schema"].decode()] * len(infos),
            "config_hash": [self.config_hash] * len(infos),
        }, schema=MANIFEST_SCHEMA)


def write_pack_shards(result: PackResult, out_dir: Path | str, packs_per_shard: int = 4096,
                      fmt: Format = "parquet", config_hash: str = "") -> dict[str, object]:
    """Write one packing result's shards, rejects, manifest and summary under ``out_dir``; returns the summary."""
    writer = PackShardWriter(out_dir, result.context, packs_per_shard, fmt, config_hash)
    writer.add(result)
    return writer.close()
