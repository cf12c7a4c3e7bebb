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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.fs import StoredFile
from mmcurate.pipeline.mixture.packing import PACK_SCHEMA, PackResult
from mmcurate.schemas.records import MANIFEST_SCHEMA

__all__ = ["MANIFEST_NAME", "SUMMARY_NAME", "REJECTS_NAME", "write_pack_shards"]

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


def write_pack_shards(result: PackResult, out_dir: Path | str, packs_per_shard: int = 4096,
                      fmt: Format = "parquet", config_hash: str = "") -> dict[str, object]:
    """Write shards, rejects, manifest and summary under ``out_dir``; returns the summary dict."""
    if packs_per_shard < 1:
        raise ValueError("packs_per_shard must be >= 1")
    if fmt not in ("parquet", "arrow"):
        raise ValueError(f"fmt must be 'parquet' or 'arrow', got {fmt!r}")
    out = str(out_dir)
    packs = result.packs
    infos: list[tuple[str, int, StoredFile]] = []
    for shard, start in enumerate(range(0, packs.num_rows, packs_per_shard)):
        part = packs.slice(start, packs_per_shard)
        name = f"packs-{shard:05d}.{fmt}"
        infos.append((name, part.num_rows, fs.write_atomic(fs.join(out, name), _writer(part, fmt))))
    fs.write_atomic(fs.join(out, REJECTS_NAME), _writer(result.rejects, "parquet"))
    manifest = pa.table({
        "unit_id": [name.split(".")[0] for name, _, _ in infos],
        "path": [name for name, _, _ in infos],
        "kind": ["packs"] * len(infos),
        "format": [fmt] * len(infos),
        "rows": [rows for _, rows, _ in infos],
        "bytes": [info.bytes for _, _, info in infos],
        "sha256": [info.sha256 for _, _, info in infos],
        "schema_version": [PACK_SCHEMA.metadata[b"mmcurate.schema"].decode()] * len(infos),
        "config_hash": [config_hash] * len(infos),
    }, schema=MANIFEST_SCHEMA)
    tokens = int(pc.sum(packs.column("tokens")).as_py() or 0)
    summary: dict[str, object] = {
        "context": result.context,
        "packs": packs.num_rows,
        "sequences": int(pc.sum(pc.list_value_length(packs.column("lengths"))).as_py() or 0),
        "tokens": tokens,
        "efficiency": result.efficiency,
        "rejects": result.rejects.num_rows,
        "reject_reasons": {r["values"]: r["counts"] for r in
                           pc.value_counts(result.rejects.column("drop_reason")).to_pylist()},
        "shards": len(infos),
    }
    text = json.dumps(summary, indent=2, sort_keys=True).encode()
    fs.write_atomic(fs.join(out, SUMMARY_NAME), lambda fh: fh.write(text))
    fs.write_atomic(fs.join(out, MANIFEST_NAME), _writer(manifest, "parquet"))  # last: it marks the set complete
    return summary
