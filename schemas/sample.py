"""The sample schema: one row per training sample, from ingest to shard.

Defined once here and versioned, because every stage, sink and reader agrees on it and because Arrow
must never infer a column type from a single row (a lone ``None`` becomes ``null`` and then refuses to
concatenate with the real type). Stages add their own columns (scores, token counts) by declaring
typed fields in ``Stage.writes``; :func:`sample_schema` merges them in.

A sample holds *media items* in a list, so a row can carry one image, several images (interleaved web
documents) or a video; nothing downstream may assume exactly one image.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "SAMPLE_SCHEMA_VERSION",
    "MEDIA_TYPE",
    "SAMPLE_FIELDS",
    "SAMPLE_SCHEMA",
    "SAMPLE_ID",
    "SOURCE",
    "LOCATOR",
    "URL",
    "CAPTION",
    "MEDIA",
    "META_JSON",
    "FLAGS",
    "UNIT_ID",
    "UNIT_INDEX",
    "UNIT_ROWS",
    "STATUS",
    "STAGE",
    "DROP_REASON",
    "ERROR",
    "STATUS_OK",
    "STATUS_REJECTED",
    "BOOKKEEPING_COLUMNS",
    "sample_schema",
]

SAMPLE_SCHEMA_VERSION = "sample/v1"

SAMPLE_ID = "sample_id"
SOURCE = "source"
LOCATOR = "locator"
URL = "url"
CAPTION = "caption"
MEDIA = "media"
META_JSON = "meta_json"
FLAGS = "flags"
UNIT_ID = "unit_id"
UNIT_INDEX = "unit_index"
UNIT_ROWS = "unit_rows"
STATUS = "status"
STAGE = "stage"
DROP_REASON = "drop_reason"
ERROR = "error"

STATUS_OK = "ok"
STATUS_REJECTED = "rejected"

MEDIA_TYPE = pa.struct(
    [
        pa.field("bytes", pa.binary(), metadata={"doc": "encoded media (original bytes unless `ops` changed pixels)"}),
        pa.field("kind", pa.string(), metadata={"doc": "'image' or 'video'"}),
        pa.field("mime", pa.string(), metadata={"doc": "MIME type sniffed from magic bytes, never trusted from headers"}),
        pa.field("width", pa.int32(), metadata={"doc": "pixels after EXIF transpose; null until decoded"}),
        pa.field("height", pa.int32(), metadata={"doc": "pixels after EXIF transpose; null until decoded"}),
        pa.field("sha256", pa.string(), metadata={"doc": "hex sha256 of the bytes as ingested (exact dedup)"}),
        pa.field("source_mode", pa.string(), metadata={"doc": "Pillow mode before conversion (CMYK, I;16, P, ...)"}),
        pa.field("n_frames", pa.int32(), metadata={"doc": "frames in the source file (animated images, video)"}),
        pa.field("ops", pa.list_(pa.string()),
                 metadata={"doc": "normalisations applied: exif_transpose, to_rgb, first_frame, ..."}),
    ]
)

SAMPLE_FIELDS: tuple[pa.Field, ...] = (
    pa.field(SAMPLE_ID, pa.string(), nullable=False,
             metadata={"doc": "32 hex chars: blake2b-128 of source, locator and content hash; stable across reruns"}),
    pa.field(SOURCE, pa.string(), nullable=False, metadata={"doc": "input the row came from (folder, file, URL list)"}),
    pa.field(LOCATOR, pa.string(), nullable=False,
             metadata={"doc": "where in the source: relative path, row number, tar member key"}),
    pa.field(URL, pa.string(), metadata={"doc": "origin URL when the media was downloaded"}),
    pa.field(CAPTION, pa.string(), metadata={"doc": "caption text, valid UTF-8, normalised by the caption stage"}),
    pa.field(MEDIA, pa.list_(MEDIA_TYPE), metadata={"doc": "zero or more media items (images, a video)"}),
    pa.field(META_JSON, pa.string(),
             metadata={"doc": "source-provided extra fields as a JSON object, carried verbatim; stages never read it"}),
    pa.field(FLAGS, pa.list_(pa.string()), metadata={"doc": "non-fatal notes: caption_cp1252, caption_normalized, ..."}),
    pa.field(UNIT_ID, pa.string(), nullable=False, metadata={"doc": "work unit of the fixed shard plan"}),
    pa.field(UNIT_INDEX, pa.int64(), nullable=False, metadata={"doc": "input row position inside its unit"}),
    pa.field(UNIT_ROWS, pa.int64(), nullable=False, metadata={"doc": "input rows in the unit (completeness check)"}),
    pa.field(STATUS, pa.string(), nullable=False, metadata={"doc": "'ok' or 'rejected'"}),
    pa.field(STAGE, pa.string(), metadata={"doc": "versioned name of the stage that rejected the row"}),
    pa.field(DROP_REASON, pa.string(), metadata={"doc": "'<stage>:<reason>', a closed set per stage"}),
    pa.field(ERROR, pa.string(), metadata={"doc": "human-readable detail for the reject (exception text)"}),
)

SAMPLE_SCHEMA = pa.schema(list(SAMPLE_FIELDS), metadata={"mmcurate.schema": SAMPLE_SCHEMA_VERSION})

# Columns that exist for the pipeline's own accounting; sinks keep them out of training shards.
BOOKKEEPING_COLUMNS = (UNIT_ROWS, STATUS, STAGE, DROP_REASON, ERROR)


def sample_schema(extra: tuple[pa.Field, ...] | list[pa.Field] = ()) -> pa.Schema:
    """The sample schema plus stage-declared columns, in declaration order, without duplicates."""
    fields = list(SAMPLE_FIELDS)
    names = {f.name for f in fields}
    for field in extra:
        if field.name in names:
            existing = next(f for f in fields if f.name == field.name)
            if not existing.type.equals(field.type):
                raise TypeError(f"column {field.name!r} declared as {field.type} and {existing.type}")
            continue
        fields.append(field)
        names.add(field.name)
    return pa.schema(fields, metadata={"mmcurate.schema": SAMPLE_SCHEMA_VERSION})
