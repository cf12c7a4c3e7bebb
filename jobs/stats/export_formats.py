"""Trainer-ready export layouts: LLaVA JSON with media files beside it, and HF ``datasets`` Parquet.

* ``llava``: ``llava.json`` (one JSON array, LLaVA's own data format) and ``images/`` / ``videos/``
  holding each sample's media under ``<sample_id>.<ext>`` (``<sample_id>-<i>.<ext>`` for several). Each
  record's ``image`` (or ``video``) is that path relative to the export folder, which is what LLaVA's
  loader opens (``os.path.join(image_folder, record["image"])``) with ``--image_folder`` set to the export
  folder. Rows with synthesized conversations (``synthesize_v1_llava``) export those, others a caption
  turn pair; the ``<image>`` placeholder opens the human turn once per image, as LLaVA expects.
* ``hf``: Parquet whose ``image`` (and ``video``) column is a ``{bytes, path}`` struct, the
  ``datasets.Image`` storage layout, with the features in the schema's ``huggingface`` metadata, so
  ``datasets.load_dataset("parquet", ...)`` and the Hub viewer decode images instead of showing bytes.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.jobs.stats.columns import first_media_field
from mmcurate.pipeline.sinks.formats import training_columns
from mmcurate.schemas import sample as S

__all__ = ["MEDIA_EXT", "media_path", "llava_records", "hf_table", "write_hf_parquet"]

# The synthesis stage's LLaVA records column (schemas/mixture.py INSTRUCT_LLAVA).
SYNTH_LLAVA = "synthesize_v1_llava"
MEDIA_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp",
             "image/tiff": "tiff", "video/mp4": "mp4", "video/webm": "webm", "video/x-matroska": "mkv",
             "video/quicktime": "mov", "video/x-msvideo": "avi", "video/mpeg": "mpg", "video/mp2t": "ts"}
_CAPTION_PROMPT = "Describe the image briefly."
_VIDEO_PROMPT = "Describe the video briefly."
_IMAGE_STRUCT = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])


def media_path(sample_id: str, item: dict[str, Any], index: int, count: int) -> str:
    """Where an item goes, relative to the export folder: ``images/<id>.<ext>`` or ``videos/<id>.<ext>``."""
    folder = "videos" if item.get("kind") == "video" else "images"
    ext = MEDIA_EXT.get(item.get("mime") or "", "bin")
    return f"{folder}/{sample_id}.{ext}" if count == 1 else f"{folder}/{sample_id}-{index}.{ext}"


def _paths(value: list[str]) -> str | list[str]:
    return value[0] if len(value) == 1 else value


def llava_records(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, bytes]]]:
    """A row's LLaVA records and its media files ``(relative path, bytes)``."""
    media = [m for m in row.get(S.MEDIA) or [] if m.get("bytes")]
    sid = row[S.SAMPLE_ID]
    by_kind: dict[str, list[str]] = {"image": [], "video": []}
    files = []
    for i, item in enumerate(media):
        path = media_path(sid, item, i, len(media))
        by_kind["video" if item.get("kind") == "video" else "image"].append(path)
        files.append((path, item["bytes"]))
    links = {k: _paths(v) for k, v in by_kind.items() if v}
    synthesized = json.loads(row[SYNTH_LLAVA]) if row.get(SYNTH_LLAVA) else []
    if synthesized:
        records = []
        for k, record in enumerate(synthesized):
            record = {key: value for key, value in record.items() if key not in ("image", "video")}
            records.append({**record, "id": record.get("id", sid) if len(synthesized) == 1 else f"{sid}-{k}", **links})
        return records, files
    if row.get(S.CAPTION) is None:
        return [], files
    marks = "<image>\n" * len(by_kind["image"]) + ("<video>\n" if by_kind["video"] and not by_kind["image"] else "")
    prompt = _VIDEO_PROMPT if by_kind["video"] and not by_kind["image"] else _CAPTION_PROMPT
    record = {"id": sid, **links, "conversations": [{"from": "human", "value": f"{marks}{prompt}"},
                                                    {"from": "gpt", "value": row[S.CAPTION]}]}
    return [record], files


def _media_struct(table: pa.Table, kind: str) -> pa.Array:
    """The first ``kind`` item of each row as ``{bytes, path}`` (null where the row has none)."""
    rows = table.select([S.SAMPLE_ID, S.MEDIA]).to_pylist()
    out = []
    for row in rows:
        items = row[S.MEDIA] or []
        found = next(((i, m) for i, m in enumerate(items) if m.get("kind") == kind and m.get("bytes")), None)
        if found is None:
            out.append(None)
        else:
            i, item = found
            out.append({"bytes": item["bytes"], "path": media_path(row[S.SAMPLE_ID], item, i, len(items))})
    return pa.array(out, _IMAGE_STRUCT)


def _feature(t: pa.DataType) -> dict[str, Any] | None:
    """The HF ``datasets`` feature of an Arrow type, for the types a shard holds (None: leave the column out)."""
    names = {pa.string(): "string", pa.large_string(): "large_string", pa.int32(): "int32", pa.int64(): "int64",
             pa.float32(): "float32", pa.float64(): "float64", pa.bool_(): "bool", pa.int16(): "int16",
             pa.int8(): "int8", pa.binary(): "binary"}
    for arrow_type, dtype in names.items():
        if t.equals(arrow_type):
            return {"dtype": dtype, "_type": "Value"}
    if pa.types.is_list(t):
        inner = _feature(t.value_type)
        return None if inner is None else {"feature": inner, "_type": "List"}
    return None


def hf_table(table: pa.Table) -> pa.Table:
    """Training columns with ``image``/``video`` as ``{bytes, path}`` and the other media fields as columns."""
    table = training_columns(table)
    media = table.column(S.MEDIA)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"image": _media_struct(table, "image")}
    videos = _media_struct(table, "video")
    if videos.null_count < len(videos):
        columns["video"] = videos
    columns.update({"width": first_media_field(media, "width"), "height": first_media_field(media, "height"),
                    "n_media": pc.list_value_length(media)})
    features: dict[str, Any] = {"image": {"_type": "Image"}}
    if "video" in columns:
        features["video"] = {"bytes": {"dtype": "binary", "_type": "Value"}, "path": {"dtype": "string", "_type": "Value"}}
    for name in table.column_names:
        if name == S.MEDIA:
            continue
        feature = _feature(table.schema.field(name).type)
        if feature is not None:
            columns[name] = table.column(name)
            features[name] = feature
    for name in ("width", "height", "n_media"):
        features[name] = _feature(columns[name].type)
    out = pa.table(columns)
    features = {name: features[name] for name in out.column_names}  # the columns' order
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return out.replace_schema_metadata(meta)


def write_hf_parquet(table: pa.Table, fh: BinaryIO) -> None:
    pq.write_table(hf_table(table), fh, compression="zstd", row_group_size=256)
