"""Interleaved token sequences for documents: text ids and image placeholders in reading order.

Each live node becomes one *span*: a paragraph's text ids (the target LLM's tokenizer; a newline is the
paragraph separator the tokenizer sees), or an image's placeholder tokens, counted exactly under a patch
scheme (:mod:`mmcurate.tokenizers.qwen_vl` et al. via :class:`~mmcurate.tokenizers.scheme.TokenPlan`:
media plus the scheme's wrapper tokens). Spans record modality, start, length and node index.

Long documents are cut into windows of at most ``context`` tokens at span boundaries; an image is
never split. A text span longer than the context is the one place a window may cut inside a node (at a
token boundary: text has no atomic unit that big); an image longer than the context cannot be placed and
raises :class:`ImageTooLong` so the stage rejects the document with the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mmcurate.schemas.document import KIND_IMAGE

__all__ = ["ImageTooLong", "interleave", "windows", "MODALITY_TEXT", "MODALITY_IMAGE"]

MODALITY_TEXT = "text"
MODALITY_IMAGE = "image"


class ImageTooLong(ValueError):
    pass


def interleave(nodes: list[dict[str, Any]], media: list[dict[str, Any]] | None,
               encode: Callable[[Sequence[str]], list[list[int]]], image_tokens: Callable[[int, int], int],
               image_token_id: int) -> tuple[list[int], list[dict[str, Any]]]:
    """(token ids, spans) of a document's live nodes in order; images without bytes/size are skipped."""
    live = [(i, n) for i, n in enumerate(nodes or []) if n.get("removed") is None]
    texts = [n["text"] + "\n" for _, n in live if n["kind"] != KIND_IMAGE]
    encoded = iter(encode(texts)) if texts else iter(())
    ids: list[int] = []
    spans: list[dict[str, Any]] = []
    for index, node in live:
        if node["kind"] == KIND_IMAGE:
            item = (media or [])[node["media_index"]] if node.get("media_index") is not None else None
            if not item or not item.get("width") or not item.get("height"):
                continue
            piece = [image_token_id] * image_tokens(int(item["height"]), int(item["width"]))
            modality = MODALITY_IMAGE
        else:
            piece = next(encoded)
            modality = MODALITY_TEXT
        spans.append({"modality": modality, "start": len(ids), "length": len(piece), "node": index})
        ids.extend(piece)
    return ids, spans


def windows(spans: list[dict[str, Any]], context: int) -> list[tuple[int, int]]:
    """``[start, end)`` token ranges of at most ``context`` tokens, cut only between spans (or inside an
    over-long text span), never inside an image."""
    out: list[tuple[int, int]] = []
    start = end = 0
    for span in spans:
        s, n = span["start"], span["length"]
        if n > context and span["modality"] == MODALITY_IMAGE:
            raise ImageTooLong(f"image node {span['node']} needs {n} tokens > context {context}")
        if s + n - start <= context:
            end = s + n
            continue
        if end > start:
            out.append((start, end))
        start = s
        while n > context:  # an over-long paragraph: token-boundary cuts
            out.append((start, start + context))
            start += context
            n -= context
        end = start + n
    if end > start:
        out.append((start, end))
    return out

