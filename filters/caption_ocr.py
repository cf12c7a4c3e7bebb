"""Caption-is-OCR filter: drop pairs whose caption only transcribes the text printed in the image.

A caption that repeats the image's text ("SALE" under a poster that says SALE) teaches a model to read,
not to see, and CLIP scores such pairs highly for the same reason (see :mod:`mmcurate.filters.tmars`,
which catches the case with a second CLIP pass). This filter is the cheap version: it compares the
caption with the text the OCR stage already read (``ocr_v1_texts``, :mod:`mmcurate.filters.ocr`), so it
needs no model of its own and runs after OCR at string-matching cost.

Scores are word coverages, both ways: the fraction of the caption's words found in the OCR text
(``caption_in_ocr``: 1.0 means every caption word is printed in the image) and the fraction of the OCR
words found in the caption (``ocr_in_caption``). Words of four or more letters match fuzzily
(similarity >= ``fuzzy``, difflib's ratio) because OCR drops and swaps letters; shorter ones match
exactly. Articles are ignored so "the SALE" still counts as a transcription. The rule drops
``caption_is_ocr`` when ``caption_in_ocr >= max_caption_in_ocr`` (default 0.8).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.filters.ocr import TEXTS
from mmcurate.pipeline.filter import Filter
from mmcurate.schemas import sample as S

__all__ = ["CaptionIsOcrFilter", "word_coverage"]

NAME = "caption_ocr_v1"
CAPTION_IN_OCR, OCR_IN_CAPTION = f"{NAME}_caption_in_ocr", f"{NAME}_ocr_in_caption"

_WORD = re.compile(r"\w+", re.UNICODE)
_IGNORED = frozenset({"a", "an", "the"})


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _IGNORED]


def _covered(words: list[str], vocabulary: set[str], fuzzy: float) -> float:
    """Fraction of ``words`` found in ``vocabulary`` (fuzzily for words of four or more characters)."""
    pool = sorted(vocabulary)

    def found(w: str) -> bool:
        return w in vocabulary or (len(w) >= 4 and bool(difflib.get_close_matches(w, pool, n=1, cutoff=fuzzy)))

    return sum(found(w) for w in words) / len(words)


def word_coverage(caption: str | None, ocr_texts: list[str | None] | None,
                  fuzzy: float = 0.8) -> tuple[float | None, float | None]:
    """(caption words found in the OCR text, OCR words found in the caption); None where a side is empty.

    ``caption_in_ocr`` is 0.0 when the images hold no text; it is None only without caption words or
    without any OCR'd image (nothing to compare).
    """
    cap = _words(caption or "")
    if not cap or ocr_texts is None or all(t is None for t in ocr_texts):
        return None, None
    ocr = _words(" ".join(t for t in ocr_texts if t))
    if not ocr:
        return 0.0, None
    return _covered(cap, set(ocr), fuzzy), _covered(ocr, set(cap), fuzzy)


@dataclass(kw_only=True)
class CaptionIsOcrFilter(Filter):
    """Drop rows whose caption is (mostly) the text OCR read in their images; run after ``ocr_v1``."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION, TEXTS)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(CAPTION_IN_OCR, pa.float32(),
                 metadata={"doc": "fraction of caption words printed in the images (OCR); null: nothing to compare"}),
        pa.field(OCR_IN_CAPTION, pa.float32(),
                 metadata={"doc": "fraction of OCR words that the caption repeats; null: no OCR text"}),
    )

    max_caption_in_ocr: float | None = 0.8  # None: score only
    fuzzy: float = 0.8

    def __post_init__(self) -> None:
        super().__post_init__()
        for label, v in (("max_caption_in_ocr", self.max_caption_in_ocr), ("fuzzy", self.fuzzy)):
            if v is not None and not 0.0 <= v <= 1.0:
                raise ValueError(f"{label} is a fraction in [0, 1], got {v}")

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        if TEXTS not in batch.column_names:
            raise KeyError(f"{self.name} needs {TEXTS}; run the ocr_v1 stage first")
        pairs = [word_coverage(c, t, self.fuzzy)
                 for c, t in zip(batch.column(S.CAPTION).to_pylist(), batch.column(TEXTS).to_pylist())]
        return {CAPTION_IN_OCR: pa.array([p[0] for p in pairs], pa.float32()),
                OCR_IN_CAPTION: pa.array([p[1] for p in pairs], pa.float32())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        cover = scores[CAPTION_IN_OCR]
        if self.max_caption_in_ocr is None or cover is None:
            return None
        return "caption_is_ocr" if cover >= self.max_caption_in_ocr else None
