"""Node-level rules for interleaved documents (OBELICS-style), scored then decided per node.

A node that fails a rule is not deleted: it stays in ``doc_nodes`` with ``removed =
'<stage>:<code>'`` so every removal is recorded. The stage writes per-document counts of kept and
removed nodes. A document that had images and loses them all becomes text-only (default) or is
rejected ``no_images_left``, as configured. Defaults follow OBELICS' web-document filter config:
image side >= 150 px and aspect ratio <= 2; paragraphs of at least 3 words, a special-character ratio
<= 0.3, an English stop-word ratio >= 0.1 (applied only to paragraphs of >= 10 words, where the ratio
means something) and a repeated-word-4-gram fraction <= 0.3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.filters.basic import image_sizes
from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, KIND_TEXT, document_rows
from mmcurate.schemas.table import put_column

__all__ = ["DocumentNodeFilter", "paragraph_scores", "STOP_WORDS"]

_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(
    "the of and to a in is it that for on was with as be by at this are or from an not but have his her "
    "they you we he she which their has had were been its can will would there all one so if more no "
    "what when who about into than then them these also only other some may".split())


def paragraph_scores(text: str) -> dict[str, float]:
    """words, special-character ratio, stop-word ratio and repeated-4-gram fraction of one paragraph."""
    words = _WORD.findall(text.lower())
    n = len(words)
    specials = sum(1 for c in text if not (c.isalnum() or c.isspace()))
    grams = [tuple(words[i:i + 4]) for i in range(max(0, n - 3))]
    repeated = 1.0 - len(set(grams)) / len(grams) if grams else 0.0
    return {"words": float(n), "special": specials / max(1, len(text)),
            "stop": sum(w in STOP_WORDS for w in words) / max(1, n), "repeat": repeated}


@dataclass(kw_only=True)
class DocumentNodeFilter(Stage):
    name: ClassVar[str] = "doc_nodes_v1"
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES, S.MEDIA)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        DOC_NODES_FIELD,
        pa.field("doc_nodes_v1_removed_images", pa.int32(), metadata={"doc": "image nodes removed by this stage"}),
        pa.field("doc_nodes_v1_removed_texts", pa.int32(), metadata={"doc": "paragraphs removed by this stage"}),
    )

    min_image_side: int = param(150, doc="smaller image side below this removes the image node", ge=0)
    max_aspect: float = param(2.0, doc="max(w/h, h/w) above this removes the image node", ge=1.0)
    min_words: int = param(3, doc="paragraphs with fewer words are removed", ge=0)
    max_special_ratio: float = param(0.3, doc="non-alphanumeric, non-space characters / characters", ge=0, le=1)
    min_stop_ratio: float = param(0.1, doc="English stop words / words (paragraphs of >= 10 words)", ge=0, le=1)
    max_repeat: float = param(0.3, doc="fraction of repeated word 4-grams", ge=0, le=1)
    on_no_images: str = param("text_only", doc="a document that loses all its images",
                              choices=("text_only", "drop"))

    def image_code(self, node: dict[str, Any], media: list[dict[str, Any]]) -> str | None:
        index = node.get("media_index")
        if index is None:
            return None  # not fetched yet: size unknown, decided after fetch
        sizes = image_sizes([media[index]])
        if not sizes:
            return "image_unreadable"
        w, h = sizes[0]
        if min(w, h) < self.min_image_side:
            return "image_too_small"
        return "image_aspect" if max(w / h, h / w) > self.max_aspect else None

    def text_code(self, text: str) -> str | None:
        s = paragraph_scores(text)
        if s["words"] < self.min_words:
            return "paragraph_short"
        if s["special"] > self.max_special_ratio:
            return "paragraph_special_chars"
        if s["words"] >= 10 and s["stop"] < self.min_stop_ratio:
            return "paragraph_stop_words"
        return "paragraph_repetition" if s["repeat"] > self.max_repeat else None


    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)
    def process_batch(self, batch: pa.Table) -> pa.Table:
        all_nodes, lost, n_img, n_txt = [], [], [], []
        for nodes, media in zip(batch.column(DOC_NODES).to_pylist(), batch.column(S.MEDIA).to_pylist()):
            nodes = nodes or []
            had_images = any(n["kind"] == KIND_IMAGE and n["removed"] is None for n in nodes)
            counts = {KIND_IMAGE: 0, KIND_TEXT: 0}
            for node in nodes:
                if node["removed"] is not None:
                    continue
                code = (self.image_code(node, media or []) if node["kind"] == KIND_IMAGE
                        else self.text_code(node["text"] or ""))
                if code is not None:
                    node["removed"] = self.reason(code)
                    counts[node["kind"]] += 1
            left = any(n["kind"] == KIND_IMAGE and n["removed"] is None for n in nodes)
            all_nodes.append(nodes)
            lost.append(had_images and not left)
            n_img.append(counts[KIND_IMAGE])
            n_txt.append(counts[KIND_TEXT])
        fields = {f.name: f for f in self.writes}
        batch = put_column(batch, DOC_NODES_FIELD, all_nodes)
        batch = put_column(batch, fields["doc_nodes_v1_removed_images"], n_img)
        batch = put_column(batch, fields["doc_nodes_v1_removed_texts"], n_txt)
        if self.on_no_images == "drop":
            batch = mark_rejected(batch, lost, self.name, self.reason("no_images_left"))
        return batch
