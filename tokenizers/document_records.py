"""Token records of interleaved documents: text and VQ image codes in reading order.

A web document (``doc_nodes``) reaches an early-fusion model as its live nodes in DOM order: each
paragraph's text ids, each image's VQ codes between ``<|image_start|>`` / ``<|image_end|>`` (the codes
``vq_tokenize`` wrote for the media item the node points at), then ``<|endoftext|>``. Removed nodes and
image nodes without bytes or codes are left out, as the OBELICS export leaves them out. The record has
the schema and id layout of :mod:`.token_records`; the spans say which media item each image is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, KIND_TEXT, live_nodes
from mmcurate.schemas.token_record import COUNTS
from mmcurate.tokenizers.text import encode_texts

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from mmcurate.tokenizers.token_records import TokenLayout

__all__ = ["document_record"]

_COUNTS = COUNTS[1:]  # n_tokens is len(ids), set at the end


def _image(node: dict[str, Any], codes: Sequence[Any], grids: Sequence[Any]) -> tuple[list[int], int, int, int] | None:
    index = node.get("media_index")
    if index is None or index >= len(codes) or codes[index] is None or grids[index] is None:
        return None
    return list(codes[index]), grids[index]["h"], grids[index]["w"], index


def document_record(row: dict[str, Any], tokenizer: Tokenizer, layout: TokenLayout) -> dict[str, Any]:
    """One record for a document row that went through ``vq_tokenize`` (``vq_codes``, ``vq_grid``)."""
    nodes = live_nodes(row[DOC_NODES])
    texts = encode_texts(tokenizer, [n["text"] if n["kind"] == KIND_TEXT else None for n in nodes])
    codes, grids = row.get("vq_codes") or [], row.get("vq_grid") or []
    sp = layout.special_ids
    ids: list[int] = []
    spans: list[dict[str, Any]] = []
    image_grids: list[dict[str, int]] = []
    counts = dict.fromkeys(_COUNTS, 0)

    def span(modality: str, values: Sequence[int], media_index: int | None) -> None:
        spans.append({"modality": modality, "start": len(ids), "length": len(values), "media_index": media_index,
                      "clip_index": None, "timestamp": None, "end": None})
        ids.extend(values)

    for node, text_ids in zip(nodes, texts):
        if node["kind"] == KIND_TEXT:
            if text_ids:
                span("text", text_ids, None)
                counts["n_text"] += len(text_ids)
            continue
        image = _image(node, codes, grids)
        if image is None:
            continue
        values, h, w, index = image
        if len(values) != h * w:
            raise ValueError(f"{row[S.SAMPLE_ID]}: media[{index}] has {len(values)} codes for a {h}x{w} grid")
        ids.append(sp["image_start"])
        span("image", [layout.image_offset + int(c) for c in values], index)
        ids.append(sp["image_end"])
        image_grids.append({"h": h, "w": w})
        counts["n_image"] += len(values)
        counts["n_special"] += 2
    ids.append(sp["eos"])
    counts["n_special"] += 1
    return {"sample_id": row[S.SAMPLE_ID], "input_ids": ids, "spans": spans, "image_grids": image_grids,
            "n_tokens": len(ids), **counts}
