"""Token records: one interleaved mixed-modal token sequence per sample, written as Parquet shards.

Early-fusion models (Chameleon, §4.1/§5.2 of the tokenization refs) train on one id space: text ids
from the LLM tokenizer, image code ids shifted past the text vocabulary, and marker tokens around each
image. This module builds that sequence from a sample's caption and its ``vq_codes`` (written by
:class:`~mmcurate.tokenizers.vqvae.stage.VQTokenize`), records which positions belong to which modality,
and writes shards any Arrow reader can load (``pyarrow`` alone, no mmcurate) plus a JSON manifest.

Sequence of a sample (``image_first=True``, the captioning order; ``False`` puts the text first)::

    [<|image_start|> c_0+off ... c_{hw-1}+off <|image_end|>] per image item, text ids, <|endoftext|>

``off = TokenLayout.image_offset``. Markers come from the text tokenizer when it has them (the shipped
caption BPE does); a target tokenizer without them gets them appended right after its vocabulary, and
the image codes follow those. The layout is stored in the manifest so ids can be mapped back.
Video items are not VQ-tokenized yet, so they contribute nothing (frame timestamps are future work).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.sinks.atomic import atomic_write
from mmcurate.schemas import sample as S
from mmcurate.tokenizers.text import encode_texts
from mmcurate.tokenizers.vqvae.stage import VQ_CODES, VQ_GRID

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["TOKEN_RECORD_VERSION", "TOKEN_RECORD_SCHEMA", "SPAN_TYPE", "MARKERS", "TokenLayout",
           "build_record", "token_records", "write_token_shards"]

TOKEN_RECORD_VERSION = "token_record/v1"
MARKERS = {"eos": "<|endoftext|>", "image_start": "<|image_start|>", "image_end": "<|image_end|>"}

SPAN_TYPE = pa.struct([
    pa.field("modality", pa.string(), metadata={"doc": "'text' or 'image'"}),
    pa.field("start", pa.int32(), metadata={"doc": "first position in input_ids"}),
    pa.field("length", pa.int32(), metadata={"doc": "number of positions (image: codes only, no markers)"}),
    pa.field("media_index", pa.int32(), metadata={"doc": "index into the sample's media list; null for text"}),
])
TOKEN_RECORD_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False, metadata={"doc": "the sample's sample_id (sample/v1)"}),
    pa.field("input_ids", pa.list_(pa.int32()),
             metadata={"doc": "interleaved ids: text ids < image_offset <= image code ids (see manifest layout)"}),
    pa.field("spans", pa.list_(SPAN_TYPE), metadata={"doc": "modality spans in sequence order"}),
    pa.field("image_grids", pa.list_(pa.struct([pa.field("h", pa.int32()), pa.field("w", pa.int32())])),
             metadata={"doc": "(h, w) code grid of each image span, in span order"}),
    pa.field("n_tokens", pa.int32(), metadata={"doc": "len(input_ids)"}),
    pa.field("n_text", pa.int32(), metadata={"doc": "text-tokenizer ids of the caption"}),
    pa.field("n_image", pa.int32(), metadata={"doc": "image code ids (all images)"}),
    pa.field("n_special", pa.int32(), metadata={"doc": "marker tokens (image start/end, end of text)"}),
], metadata={"mmcurate.schema": TOKEN_RECORD_VERSION})


@dataclass(frozen=True)
class TokenLayout:
    """How text ids, markers and image codes share one vocabulary."""

    text_vocab_size: int
    codebook_size: int
    image_offset: int
    special_ids: dict[str, int] = field(default_factory=dict)  # keys of MARKERS
    appended: tuple[str, ...] = ()  # markers the text tokenizer lacked, appended after its vocabulary

    @property
    def vocab_size(self) -> int:
        return self.image_offset + self.codebook_size

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer, codebook_size: int) -> TokenLayout:
        text_vocab = tokenizer.get_vocab_size(with_added_tokens=True)
        ids: dict[str, int] = {}
        appended: list[str] = []
        for key, token in MARKERS.items():
            tid = tokenizer.token_to_id(token)
            if tid is None:
                tid = text_vocab + len(appended)
                appended.append(token)
            ids[key] = tid
        return cls(text_vocab, codebook_size, text_vocab + len(appended), ids, tuple(appended))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "appended": list(self.appended), "vocab_size": self.vocab_size}


def build_record(sample_id: str, text_ids: Sequence[int], images: Sequence[tuple[Sequence[int], int, int, int]],
                 layout: TokenLayout, image_first: bool = True) -> dict[str, Any]:
    """One record; ``images`` are ``(codes, grid_h, grid_w, media_index)`` in media order."""
    ids: list[int] = []
    spans: list[dict[str, Any]] = []
    grids: list[dict[str, int]] = []
    sp = layout.special_ids

    def add_text() -> None:
        if text_ids:
            spans.append({"modality": "text", "start": len(ids), "length": len(text_ids), "media_index": None})
            ids.extend(int(t) for t in text_ids)

    def add_images() -> None:
        for codes, h, w, media_index in images:
            if len(codes) != h * w:
                raise ValueError(f"{sample_id}: media[{media_index}] has {len(codes)} codes for a {h}x{w} grid")
            ids.append(sp["image_start"])
            spans.append({"modality": "image", "start": len(ids), "length": len(codes), "media_index": media_index})
            ids.extend(layout.image_offset + int(c) for c in codes)
            ids.append(sp["image_end"])
            grids.append({"h": h, "w": w})

    for part in ((add_images, add_text) if image_first else (add_text, add_images)):
        part()
    ids.append(sp["eos"])
    n_image = sum(len(c) for c, *_ in images)
    return {"sample_id": sample_id, "input_ids": ids, "spans": spans, "image_grids": grids, "n_tokens": len(ids),
            "n_text": len(text_ids), "n_image": n_image, "n_special": 2 * len(images) + 1}


def token_records(table: pa.Table, tokenizer: Tokenizer, layout: TokenLayout, image_first: bool = True) -> pa.Table:
    """Token records of the ``ok`` rows of a sample table that went through ``VQTokenize``."""
    rows = table.select([c for c in (S.SAMPLE_ID, S.CAPTION, S.STATUS, VQ_CODES, VQ_GRID)
                         if c in table.column_names]).to_pylist()
    rows = [r for r in rows if r.get(S.STATUS, S.STATUS_OK) == S.STATUS_OK]
    texts = encode_texts(tokenizer, [r.get(S.CAPTION) for r in rows])
    out = []
    for row, text_ids in zip(rows, texts):
        images = [(codes, g["h"], g["w"], i) for i, (codes, g) in
                  enumerate(zip(row.get(VQ_CODES) or [], row.get(VQ_GRID) or [])) if codes is not None]
        out.append(build_record(row[S.SAMPLE_ID], text_ids, images, layout, image_first))
    return pa.Table.from_pylist(out, schema=TOKEN_RECORD_SCHEMA)


def write_token_shards(records: pa.Table, out_dir: str | Path, layout: TokenLayout, rows_per_shard: int = 10_000,
                       prefix: str = "tokens", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``records`` as ``<prefix>-NNNNN.parquet`` shards and ``manifest.json``; returns the manifest."""
    out = Path(out_dir)
    shards = []
    for n, start in enumerate(range(0, max(records.num_rows, 1), rows_per_shard)):
        part = records.slice(start, rows_per_shard).cast(TOKEN_RECORD_SCHEMA)
        name = f"{prefix}-{n:05d}.parquet"
        info = atomic_write(out / name, lambda fh, t=part: pq.write_table(t, fh, compression="zstd"))
        sums = {k: int(pa.compute.sum(part.column(k)).as_py() or 0) for k in ("n_tokens", "n_text", "n_image", "n_special")}
        shards.append({"path": name, "rows": part.num_rows, "bytes": info.bytes, "sha256": info.sha256, **sums})
    manifest = {
        "schema": TOKEN_RECORD_VERSION, "layout": layout.to_dict(), "shards": shards,
        "rows": records.num_rows,
        "totals": {k: sum(s[k] for s in shards) for k in ("n_tokens", "n_text", "n_image", "n_special")},
        **(extra or {}),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True).encode()
    atomic_write(out / "manifest.json", lambda fh: fh.write(text))
    return manifest
