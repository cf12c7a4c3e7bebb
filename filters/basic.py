"""Cheap checks: image size and aspect, caption length, word count and word repetition.

Each is its own small filter with a versioned name, so a drop is attributed to exactly one rule and a
threshold can change without touching the others. Defaults are DataComp's "basic" filter (smaller image
side >= 200 px, aspect ratio <= 3, caption > 5 characters and > 2 words; ``baselines/apply_filter.py``);
the unique-word ratio catches keyword-stuffed alt text ("shoes shoes buy shoes cheap shoes").

Image rules look at every image of a sample and use the worst one; sizes come from the media struct
(filled by the decode stage) or, if absent, from the image header without decoding pixels.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
from PIL import Image

from mmcurate.pipeline.filter import Filter
from mmcurate.schemas import sample as S

__all__ = ["ImageSizeFilter", "AspectRatioFilter", "CaptionLengthFilter", "WordCountFilter", "UniqueWordsFilter",
           "image_sizes", "caption_words"]

_WORD = re.compile(r"\w+", re.UNICODE)


def image_sizes(media: list[dict[str, Any]] | None) -> list[tuple[int, int]]:
    """(width, height) of each image item; items whose size cannot be known are skipped."""
    out = []
    for item in media or []:
        if item is None or item.get("kind") not in (None, "image"):
            continue
        w, h = item.get("width"), item.get("height")
        if (w is None or h is None) and item.get("bytes"):
            try:
                with Image.open(io.BytesIO(item["bytes"])) as im:  # header only; pixels stay undecoded
                    w, h = im.size
            except Exception:  # noqa: BLE001 - undecodable: no size, so the row reads as having no image
                continue
        if w and h:
            out.append((int(w), int(h)))
    return out


def caption_words(caption: str | None) -> list[str]:
    """Lower-cased word tokens (letters and digits), punctuation dropped."""
    return _WORD.findall((caption or "").lower())


def _column(batch: pa.Table, fn: Any, typ: pa.DataType, column: str) -> pa.Array:
    return pa.array([fn(v) for v in batch.column(column).to_pylist()], typ)


@dataclass(kw_only=True)
class ImageSizeFilter(Filter):
    """Drop rows whose smallest image side is below ``min_side`` (or whose images are all unreadable)."""

    name: ClassVar[str] = "image_size_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("image_size_v1_min_side", pa.int32(), metadata={"doc": "smallest side over the sample's images"}),
    )
    min_side: int = 200

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        fn = lambda m: min((min(s) for s in image_sizes(m)), default=None)  # noqa: E731
        return {"image_size_v1_min_side": _column(batch, fn, pa.int32(), S.MEDIA)}

    def decide(self, scores: dict[str, Any]) -> str | None:
        side = scores["image_size_v1_min_side"]
        return "no_image" if side is None else ("too_small" if side < self.min_side else None)


@dataclass(kw_only=True)
class AspectRatioFilter(Filter):
    """Drop rows with an image more elongated than ``max_aspect`` (long side / short side)."""

    name: ClassVar[str] = "aspect_ratio_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("aspect_ratio_v1_max", pa.float32(), metadata={"doc": "largest long/short side ratio of its images"}),
    )
    max_aspect: float = 3.0

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        fn = lambda m: max((max(w, h) / min(w, h) for w, h in image_sizes(m)), default=None)  # noqa: E731
        return {"aspect_ratio_v1_max": _column(batch, fn, pa.float32(), S.MEDIA)}

    def decide(self, scores: dict[str, Any]) -> str | None:
        aspect = scores["aspect_ratio_v1_max"]
        return None if aspect is None or aspect <= self.max_aspect else "too_elongated"


@dataclass(kw_only=True)
class CaptionLengthFilter(Filter):
    """Drop captions shorter than ``min_chars`` or longer than ``max_chars`` (stripped characters)."""

    name: ClassVar[str] = "caption_length_v1"
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("caption_length_v1_chars", pa.int32(), metadata={"doc": "caption length in characters, stripped"}),
    )
    min_chars: int = 6  # DataComp: more than 5 characters
    max_chars: int | None = None

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"caption_length_v1_chars": _column(batch, lambda c: len((c or "").strip()), pa.int32(), S.CAPTION)}

    def decide(self, scores: dict[str, Any]) -> str | None:
        n = scores["caption_length_v1_chars"]
        if n < self.min_chars:
            return "too_short"
        return "too_long" if self.max_chars is not None and n > self.max_chars else None


@dataclass(kw_only=True)
class WordCountFilter(Filter):
    """Drop captions with fewer than ``min_words`` or more than ``max_words`` words."""

    name: ClassVar[str] = "word_count_v1"
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("word_count_v1_words", pa.int32(), metadata={"doc": "word tokens in the caption"}),
    )
    min_words: int = 3  # DataComp: more than 2 words
    max_words: int | None = None

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"word_count_v1_words": _column(batch, lambda c: len(caption_words(c)), pa.int32(), S.CAPTION)}

    def decide(self, scores: dict[str, Any]) -> str | None:
        n = scores["word_count_v1_words"]
        if n < self.min_words:
            return "too_few_words"
        return "too_many_words" if self.max_words is not None and n > self.max_words else None


@dataclass(kw_only=True)
class UniqueWordsFilter(Filter):
    """Drop repetitive captions: distinct words / words below ``min_ratio`` (needs ``min_words`` words)."""

    name: ClassVar[str] = "unique_words_v1"
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("unique_words_v1_ratio", pa.float32(), metadata={"doc": "distinct / total lower-cased words"}),
    )
    min_ratio: float = 0.5
    min_words: int = 4  # "a cat a cat" is short, not spam: judge only captions with some words

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        def ratio(c: str | None) -> float | None:
            words = caption_words(c)
            return len(set(words)) / len(words) if len(words) >= self.min_words else None

        return {"unique_words_v1_ratio": _column(batch, ratio, pa.float32(), S.CAPTION)}

    def decide(self, scores: dict[str, Any]) -> str | None:
        r = scores["unique_words_v1_ratio"]
        return "repetitive" if r is not None and r < self.min_ratio else None
