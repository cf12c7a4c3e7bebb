"""The rows of ``rejects/<unit>.parquet``: why each row was dropped, with the numbers that decided it.

A reject keeps its identity and reason (``REJECT_SCHEMA``) *and* every column the stages wrote before
it was dropped (scores, OCR text areas, token counts: a row rejected by step k carries steps 1..k's
columns, later ones are null), typed exactly like the accepted shards' columns, so ``inspect --reason
ocr_v1 --where "ocr_v1_text_area > 0.3"`` and the report's stacked histograms read them directly.
Its media items stay without their bytes (width, height, mime, sha256 are measurements; the bytes would
double the folder), and video clip lists stay out like in the shards.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S
from mmcurate.schemas.records import REJECT_SCHEMA
from mmcurate.schemas.table import conform

__all__ = ["REJECT_ROWS_VERSION", "reject_schema", "rejects_table"]

# reject/v3 = reject/v2 plus media (no bytes), flags and the stage-written columns.
REJECT_ROWS_VERSION = "reject/v3"
_CAPTION_CHARS = 1000
# Video clips carry JPEG frames: heavy and written to clips/ for accepted rows only; decoded audio is
# 64 KB/s of PCM (rejects keep media without bytes, so they keep no signal either).
_LEFT_OUT = {"clips", "audio_pcm"}


def reject_schema(unit_schema: pa.Schema) -> pa.Schema:
    """``REJECT_SCHEMA`` + media, flags + every stage column of ``unit_schema``, in pipeline order."""
    fields = list(REJECT_SCHEMA)
    names = {f.name for f in fields}
    for name in (S.MEDIA, S.FLAGS):
        if name in unit_schema.names:
            fields.append(unit_schema.field(name))
            names.add(name)
    sample_names = set(S.SAMPLE_SCHEMA.names)
    for field in unit_schema:
        if field.name not in names and field.name not in sample_names and field.name not in _LEFT_OUT:
            fields.append(field)
            names.add(field.name)
    return pa.schema(fields, metadata={"mmcurate.schema": REJECT_ROWS_VERSION})


def _media_without_bytes(media: pa.ChunkedArray) -> pa.Array:
    """The media lists with every item's ``bytes`` set to null (same type, same offsets)."""
    media = media.combine_chunks()
    if isinstance(media, pa.ChunkedArray):  # zero chunks
        media = pa.array([], media.type)
    items = media.flatten()
    kept = [items.field(i) if items.type.field(i).name != "bytes" else pa.nulls(len(items), pa.binary())
            for i in range(items.type.num_fields)]
    new_items = pa.StructArray.from_arrays(kept, fields=list(items.type))
    offsets = pc.subtract(media.offsets, media.offsets[0]) if len(media) else media.offsets
    return pa.ListArray.from_arrays(offsets, new_items, type=media.type, mask=media.is_null())


def rejects_table(rejected: pa.Table) -> pa.Table:
    """The rejected rows of a unit (sample schema + stage columns) as ``reject_schema`` rows."""
    schema = reject_schema(rejected.schema)
    cols = {
        "sample_id": rejected.column(S.SAMPLE_ID), "source": rejected.column(S.SOURCE),
        "locator": rejected.column(S.LOCATOR), "url": rejected.column(S.URL),
        "caption": pc.utf8_slice_codeunits(rejected.column(S.CAPTION), 0, _CAPTION_CHARS),
        "stage": rejected.column(S.STAGE), "reason": rejected.column(S.DROP_REASON),
        "error": rejected.column(S.ERROR), "unit_id": rejected.column(S.UNIT_ID),
        "unit_index": rejected.column(S.UNIT_INDEX),
    }
    for field in schema:
        if field.name in cols or field.name not in rejected.column_names:
            continue
        column = rejected.column(field.name)
        cols[field.name] = _media_without_bytes(column) if field.name == S.MEDIA else column
    return conform(pa.table(cols), schema)
