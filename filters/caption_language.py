"""Caption language filter: keep captions in the languages a dataset is built for.

The detector is py3langid (a maintained fork of Lui & Baldwin's langid.py): a byte n-gram naive-Bayes
model over 140 language labels whose weights ship inside the wheel (a 4.5 MB package, numpy only, about
35 us per caption, deterministic). Alternatives considered: fastText's lid.176 is more accurate but its model is
a download; lingua bundles its models but is a ~100 MB wheel; langdetect is slower and random unless
seeded; pycld2 needs a C build on some platforms.

Probabilities are normalised (``norm_probs``), so the confidence is comparable across captions. Short
captions carry little evidence and come out with a low confidence in *every* language ("red car" is
English at 0.17), so the rule drops only captions *confidently* in another language: ``other_language``
when the top language is outside ``languages`` with confidence >= ``min_confidence``. Unsure captions
pass; the length and word-count filters judge them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.filter import Filter
from mmcurate.schemas import sample as S

__all__ = ["CaptionLanguageFilter", "detect_language"]

NAME = "caption_language_v1"
LANG, CONFIDENCE = f"{NAME}_lang", f"{NAME}_confidence"


@lru_cache(maxsize=1)
def _identifier() -> Any:
    # Loaded once per process (0.5 s): Ray task workers are reused, so a stateless stage pays it once.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str | None) -> tuple[str | None, float | None]:
    """(ISO 639 code, probability) of ``text``; (None, None) when it has no letters to judge."""
    if text is None or not any(ch.isalpha() for ch in text):
        return None, None
    lang, conf = _identifier().classify(text)
    return lang, float(conf)


@dataclass(kw_only=True)
class CaptionLanguageFilter(Filter):
    """Detect the caption's language; drop captions confidently in a language not in ``languages``."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(LANG, pa.string(), metadata={"doc": "detected ISO 639 code (py3langid); null: no letters"}),
        pa.field(CONFIDENCE, pa.float32(), metadata={"doc": "probability of the detected language in [0, 1]"}),
    )

    languages: tuple[str, ...] | None = ("en",)  # None: score only, never drop
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence is a probability in [0, 1], got {self.min_confidence}")
        if isinstance(self.languages, str):  # ("en") is a str, not a tuple: a common slip
            self.languages = (self.languages,)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        found = [detect_language(c) for c in batch.column(S.CAPTION).to_pylist()]
        return {LANG: pa.array([f[0] for f in found], pa.string()),
                CONFIDENCE: pa.array([f[1] for f in found], pa.float32())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        lang, conf = scores[LANG], scores[CONFIDENCE]
        if self.languages is None or lang is None or lang in self.languages:
            return None
        return "other_language" if conf >= self.min_confidence else None
