"""Token record shards and their ``manifest.json``, written one shard at a time.

``token_records`` writes one shard per accepted shard (the entry's ``source`` names it), so the driver
holds one shard's records at a time and ``pack`` pairs each accepted shard with its token records
without a join over the whole output. The manifest is written last: it marks the set complete.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.schemas.token_record import COUNTS, TOKEN_RECORD_SCHEMA, TOKEN_RECORD_VERSION

__all__ = ["write_token_shard", "write_token_manifest"]


def write_token_shard(records: pa.Table, out_dir: str, name: str, source: str | None = None) -> dict[str, Any]:
    """Write one shard of records; returns its manifest entry (rows, bytes, sha256, count sums)."""
    part = records.cast(TOKEN_RECORD_SCHEMA)
    info = fs.write_atomic(fs.join(out_dir, name), lambda fh: pq.write_table(part, fh, compression="zstd"))
    sums = {k: int(pc.sum(part.column(k)).as_py() or 0) for k in COUNTS}
    entry: dict[str, Any] = {"path": name, "rows": part.num_rows, "bytes": info.bytes, "sha256": info.sha256, **sums}
    if source is not None:
        entry["source"] = source
    return entry


def write_token_manifest(out_dir: str, layout: dict[str, Any], shards: list[dict[str, Any]],
                         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest = {
        "schema": TOKEN_RECORD_VERSION, "layout": layout, "shards": shards,
        "rows": sum(s["rows"] for s in shards),
        "totals": {k: sum(s[k] for s in shards) for k in COUNTS},
        **(extra or {}),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True).encode()
    fs.write_atomic(fs.join(out_dir, "manifest.json"), lambda fh: fh.write(text))
    return manifest
