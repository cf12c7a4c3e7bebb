"""Shard file formats: WebDataset tar, Parquet and Arrow IPC, each readable without mmcurate.

* WebDataset: one sample per key (the ``sample_id``, which has no dots): ``<key>.<ext>`` per image
  (``<key>.<i>.<ext>`` when a sample has several), ``<key>.txt`` caption, ``<key>.json`` everything else.
  mtime, owner and mode are fixed so the same rows give the same bytes (``tar_writer.MemberWriter``).
  A document (a row with ``doc_nodes``) is one sample too: its JSON gains ``nodes``, the live nodes in
  reading order, each paragraph with its text and each image with the tar ``member`` suffix holding it.
* Parquet: the sample columns, media bytes in a binary field of the ``media`` list (zstd).
* Arrow: the IPC *stream* format, which ``datasets.Dataset.from_file`` memory-maps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.sinks.tar_writer import MemberWriter
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, KIND_TEXT, live_nodes

__all__ = ["WRITERS", "EXTENSIONS", "training_columns", "write_webdataset", "write_parquet", "write_arrow"]

_MIME_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
             "image/bmp": "bmp", "image/tiff": "tiff", "video/mp4": "mp4", "video/webm": "webm",
             "video/x-matroska": "mkv", "video/quicktime": "mov", "video/x-msvideo": "avi", "video/mpeg": "mpg",
             "video/mp2t": "ts", "audio/wav": "wav", "audio/flac": "flac", "audio/mpeg": "mp3", "audio/ogg": "ogg",
             "audio/mp4": "m4a", "audio/aac": "aac"}


# Video clips (with their sampled JPEG frames) go to their own clip records, not into sample shards;
# decoded audio (64 KB/s of float PCM) is a working column: the original bytes stay in media.
_NOT_IN_SAMPLE_SHARDS = (*S.BOOKKEEPING_COLUMNS, "clips", "audio_pcm")


def training_columns(table: pa.Table) -> pa.Table:
    """The rows as they go to trainers: pipeline bookkeeping (and clip lists) removed."""
    return table.drop_columns([c for c in _NOT_IN_SAMPLE_SHARDS if c in table.column_names])


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return None
    return str(value)


def _node_order(nodes: list[dict[str, Any]], members: list[str]) -> list[dict[str, Any]]:
    """A document's live nodes as a trainer reads them: text, or the member that holds the image."""
    order: list[dict[str, Any]] = []
    for node in live_nodes(nodes):
        if node["kind"] == KIND_TEXT:
            order.append({"kind": KIND_TEXT, "text": node["text"]})
        elif node["media_index"] is not None and node["media_index"] < len(members):
            order.append({"kind": node["kind"], "member": members[node["media_index"]], "url": node["url"],
                          "alt": node["alt"]})
    return order


def _wds_sample(row: dict[str, Any]) -> dict[str, Any]:
    media = row.pop(S.MEDIA) or []
    sample: dict[str, Any] = {"__key__": row[S.SAMPLE_ID]}
    members = []
    for i, item in enumerate(media):
        ext = _MIME_EXT.get(item["mime"] or "", "bin")
        members.append(f"{i}.{ext}" if len(media) > 1 else ext)
        sample[members[-1]] = item["bytes"]
    if row.get(DOC_NODES) is not None:
        row["nodes"] = _node_order(row[DOC_NODES], members)
    if row.get(S.CAPTION) is not None:
        sample["txt"] = row[S.CAPTION].encode("utf-8")
    meta_json = row.pop(S.META_JSON, None)
    row["meta"] = json.loads(meta_json) if meta_json else None
    row["media"] = [{k: v for k, v in item.items() if k != "bytes"} for item in media]
    row = {k: v for k, v in row.items() if not isinstance(v, (bytes, bytearray))}
    sample["json"] = json.dumps(row, sort_keys=True, ensure_ascii=False, default=_json_default).encode("utf-8")
    return sample


def write_webdataset(table: pa.Table, fh: BinaryIO) -> None:
    # Not webdataset.TarWriter: importing webdataset 1.x imports torch, which cost every Ray worker
    # ~2 CPU-seconds of start-up (measured by bench/ingest.py); MemberWriter says why not tarfile.
    with MemberWriter(fh) as tar:
        for row in training_columns(table).to_pylist():
            sample = _wds_sample(row)
            key = sample.pop("__key__")
            for suffix in sorted(sample):
                tar.add(f"{key}.{suffix}", sample[suffix])


def write_parquet(table: pa.Table, fh: BinaryIO) -> None:
    pq.write_table(training_columns(table), fh, compression="zstd", row_group_size=256)


def write_arrow(table: pa.Table, fh: BinaryIO) -> None:
    table = training_columns(table)
    with pa.ipc.new_stream(fh, table.schema) as writer:
        writer.write_table(table, max_chunksize=256)


WRITERS: dict[str, Callable[[pa.Table, BinaryIO], None]] = {
    "webdataset": write_webdataset,
    "parquet": write_parquet,
    "arrow": write_arrow,
}
EXTENSIONS = {"webdataset": "tar", "parquet": "parquet", "arrow": "arrow"}
