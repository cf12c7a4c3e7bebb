"""Schemas of the records the pipeline writes about itself: rejects, the shard manifest, stats.

These are the contract with everything that reads an output folder without mmcurate (the stats
report, ``export``, a user's notebook), so they are versioned and documented like the sample schema.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "REJECT_SCHEMA_VERSION",
    "REJECT_SCHEMA",
    "MANIFEST_SCHEMA_VERSION",
    "MANIFEST_SCHEMA",
    "STATS_SCHEMA_VERSION",
    "STATS_SCHEMA",
]

# The base columns of every reject. The files in ``rejects/`` (``reject/v3``) add the row's media (no bytes),
# flags and every stage column up to the stage that dropped it: ``mmcurate.pipeline.sinks.reject_rows``.
REJECT_SCHEMA_VERSION = "reject/v2"
REJECT_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False, metadata={"doc": "id of the dropped sample"}),
        pa.field("source", pa.string(), nullable=False, metadata={"doc": "input it came from"}),
        pa.field("locator", pa.string(), nullable=False, metadata={"doc": "where in the input"}),
        pa.field("url", pa.string(), metadata={"doc": "origin URL, if any"}),
        pa.field("caption", pa.string(), metadata={"doc": "caption, cut to 1,000 characters"}),
        pa.field("stage", pa.string(), nullable=False, metadata={"doc": "versioned stage name that dropped it"}),
        pa.field("reason", pa.string(), nullable=False, metadata={"doc": "'<stage>:<reason>'"}),
        pa.field("error", pa.string(), metadata={"doc": "detail (exception text)"}),
        pa.field("duplicate_of", pa.string(), metadata={"doc": "dedup rejects: sample_id of the kept row it matched"}),
        pa.field("unit_id", pa.string(), nullable=False, metadata={"doc": "work unit"}),
        pa.field("unit_index", pa.int64(), nullable=False, metadata={"doc": "row position in the unit"}),
    ],
    metadata={"mmcurate.schema": REJECT_SCHEMA_VERSION},
)

MANIFEST_SCHEMA_VERSION = "manifest/v1"
MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("unit_id", pa.string(), nullable=False, metadata={"doc": "work unit that produced the file"}),
        pa.field("path", pa.string(), nullable=False, metadata={"doc": "path relative to the output folder"}),
        pa.field("kind", pa.string(), nullable=False, metadata={"doc": "'shard' or 'rejects'"}),
        pa.field("format", pa.string(), nullable=False, metadata={"doc": "webdataset, parquet, arrow"}),
        pa.field("rows", pa.int64(), nullable=False, metadata={"doc": "samples in the file"}),
        pa.field("bytes", pa.int64(), nullable=False, metadata={"doc": "file size"}),
        pa.field("sha256", pa.string(), nullable=False, metadata={"doc": "hex sha256 of the file"}),
        pa.field("schema_version", pa.string(), nullable=False, metadata={"doc": "schema of the rows inside"}),
        pa.field("config_hash", pa.string(), nullable=False, metadata={"doc": "hash of the job config that wrote it"}),
    ],
    metadata={"mmcurate.schema": MANIFEST_SCHEMA_VERSION},
)

STATS_SCHEMA_VERSION = "stats/v1"
STATS_SCHEMA = pa.schema(
    [
        pa.field("unit_id", pa.string(), nullable=False, metadata={"doc": "work unit"}),
        pa.field("status", pa.string(), nullable=False, metadata={"doc": "'ok' or 'rejected'"}),
        pa.field("reason", pa.string(), metadata={"doc": "drop reason; null for accepted rows"}),
        pa.field("count", pa.int64(), nullable=False, metadata={"doc": "rows with that status and reason"}),
    ],
    metadata={"mmcurate.schema": STATS_SCHEMA_VERSION},
)
