"""Document-level rules for interleaved documents: image count, word count, language, image/text ratio.

Scores come from the live (not removed) nodes; thresholds default to OBELICS' web-document config
(1-30 images, 10-2,000 words) with an image-to-word ratio cap in the spirit of NeMo Curator's interleaved
image-to-text-ratio filter. Language uses the same py3langid detector as captions, on the first 2,000
characters of text (enough for a stable decision, bounded cost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.filters.caption_language import detect_language
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.params import param
from mmcurate.schemas.document import DOC_NODES, KIND_IMAGE, document_rows, live_nodes

__all__ = ["DocumentFilter", "document_scores"]

_WORD = re.compile(r"\w+", re.UNICODE)
P = "doc_v1_"


def document_scores(nodes: list[dict[str, Any]] | None) -> dict[str, Any]:
    live = live_nodes(nodes)
    text = "\n".join(n["text"] for n in live if n["kind"] != KIND_IMAGE and n["text"])
    words = len(_WORD.findall(text))
    images = sum(n["kind"] == KIND_IMAGE for n in live)
    lang, prob = detect_language(text[:2000]) if text else (None, None)
    return {P + "images": images, P + "words": words, P + "image_ratio": images / max(1, words),
            P + "lang": lang, P + "lang_prob": prob}


@dataclass(kw_only=True)
class DocumentFilter(Filter):
    name: ClassVar[str] = "doc_v1"
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(P + "images", pa.int32(), metadata={"doc": "live image nodes"}),
        pa.field(P + "words", pa.int32(), metadata={"doc": "words in live paragraphs"}),
        pa.field(P + "image_ratio", pa.float32(), metadata={"doc": "images per word"}),
        pa.field(P + "lang", pa.string(), metadata={"doc": "py3langid language of the text"}),
        pa.field(P + "lang_prob", pa.float32(), metadata={"doc": "its probability"}),
    )

    min_images: int = param(1, doc="fewer live images rejects (0 allows text-only documents)", ge=0)
    max_images: int = param(30, doc="more live images rejects", ge=0)
    min_words: int = param(10, doc="fewer words rejects", ge=0)
    max_words: int = param(2000, doc="more words rejects", ge=1)
    max_image_ratio: float = param(0.5, doc="images per word above this rejects", ge=0)
    languages: tuple[str, ...] = param((), doc="allowed language codes; empty allows all")
    min_lang_prob: float = param(0.5, doc="language probability below this counts as unknown", ge=0, le=1)


    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)
    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        rows = [document_scores(n) for n in batch.column(DOC_NODES).to_pylist()]
        return {f.name: pa.array([r[f.name] for r in rows], f.type) for f in self.writes}

    def decide(self, s: dict[str, Any]) -> str | None:
        if s[P + "images"] < self.min_images:
            return "too_few_images"
        if s[P + "images"] > self.max_images:
            return "too_many_images"
        if s[P + "words"] < self.min_words:
            return "too_few_words"
        if s[P + "words"] > self.max_words:
            return "too_many_words"
        if s[P + "image_ratio"] > self.max_image_ratio:
            return "image_ratio"
        if self.languages and (s[P + "lang"] not in self.languages or (s[P + "lang_prob"] or 0) < self.min_lang_prob):
            return "language"
        return None
