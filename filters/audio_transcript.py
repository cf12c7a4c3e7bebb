"""Caption vs transcript: does the text that came with a recording say what the recording says?

Reads the ASR transcript (``audio_asr_v1_text``, from ``audio_transcribe``) and a reference text: the
caption by default, or any column holding what was read aloud (a TTS prompt, a subtitle). Two scores:

* ``wer``: word error rate of the transcript against the reference (``word_error_rate``: edits over
  reference words, lower-cased word tokens). Where the reference is a true transcript this is the ASR
  quality check speech corpora use; above ``max_wer`` the row is ``transcript_mismatch``.
* ``agreement``: the share of the transcript's distinct words that the reference contains. A caption
  that *describes* a recording ("a man reads the weather") scores low WER-wise yet can still share the
  key words; below ``min_agreement`` (off by default) the row is ``caption_disagrees``.

Rows without a transcript or without a reference score null and are kept: no evidence, no decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.audio.asr_stage import TEXT, word_error_rate
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.params import param
from mmcurate.schemas import sample as S

__all__ = ["TranscriptAgreementFilter", "word_agreement"]

WER = "audio_transcript_v1_wer"
AGREEMENT = "audio_transcript_v1_agreement"


def word_agreement(reference: str, transcript: str) -> float:
    """Share of the transcript's distinct lower-cased words found in the reference (1.0 = all of them)."""
    heard = set(re.findall(r"[\w']+", transcript.lower()))
    if not heard:
        return 0.0
    return len(heard & set(re.findall(r"[\w']+", reference.lower()))) / len(heard)


def _texts(batch: pa.Table, name: str) -> list[str | None]:
    if name not in batch.column_names:
        return [None] * batch.num_rows
    return [t if t and t.strip() else None for t in batch.column(name).to_pylist()]


@dataclass(kw_only=True)
class TranscriptAgreementFilter(Filter):
    """Transcript against caption (or another reference): WER and word agreement, then the thresholds."""

    name: ClassVar[str] = "audio_transcript_v1"
    reads: ClassVar[tuple[str, ...]] = (TEXT, S.CAPTION)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(WER, pa.float64(), metadata={"doc": "word error rate of the transcript vs the reference"}),
        pa.field(AGREEMENT, pa.float64(), metadata={"doc": "share of the transcript's words in the reference"}),
    )
    reference_column: str = param(S.CAPTION, doc="column with the reference text (caption, or what was read aloud)")
    max_wer: float | None = param(0.5, doc="higher WER is transcript_mismatch; null: score only", ge=0)
    min_agreement: float | None = param(None, doc="lower agreement is caption_disagrees; null: score only",
                                        ge=0, le=1)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        pairs = list(zip(_texts(batch, self.reference_column), _texts(batch, TEXT)))
        wer = [word_error_rate(r, t) if r and t else None for r, t in pairs]
        agree = [word_agreement(r, t) if r and t else None for r, t in pairs]
        return {WER: pa.array(wer, pa.float64()), AGREEMENT: pa.array(agree, pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        wer, agree = scores[WER], scores[AGREEMENT]
        if wer is not None and self.max_wer is not None and wer > self.max_wer:
            return "transcript_mismatch"
        if agree is not None and self.min_agreement is not None and agree < self.min_agreement:
            return "caption_disagrees"
        return None
