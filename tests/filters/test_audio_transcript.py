"""Caption vs transcript: WER against a reference, word agreement, each reject with its numbers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mmcurate.filters.audio_transcript import AGREEMENT, WER, TranscriptAgreementFilter, word_agreement
from mmcurate.pipeline.runner import apply_to_rows
from mmcurate.schemas import sample as S

SAID = "The rain in Spain stays mainly in the plain."


def _rows(step: TranscriptAgreementFilter, pairs: list[tuple[str | None, str | None]]) -> list[dict]:
    rows = [{"sample_id": f"a{i}", "caption": c, "audio_asr_v1_text": t} for i, (c, t) in enumerate(pairs)]
    extra = [pa.field("audio_asr_v1_text", pa.string()), *step.writes]
    return apply_to_rows(step, rows, S.sample_schema(extra))


def test_wer_and_agreement_decide_with_their_numbers_kept() -> None:
    step = TranscriptAgreementFilter(max_wer=0.3, min_agreement=0.5)
    rows = _rows(step, [
        (SAID, "the rain in spain stays mainly in the plain"),   # exact (case and punctuation aside)
        (SAID, "the rain in spain stays mostly on the plain"),   # 2 of 9 words wrong: 0.22
        ("A weather report", "the rain in spain stays mainly in the plain"),  # a description, not a transcript
        (SAID, None),                                             # no transcript: no evidence, kept
        (None, "hello there"),                                     # no reference: kept
    ])
    assert [r[WER] for r in rows[:3]] == pytest.approx([0.0, 2 / 9, 3.0])
    assert [r["status"] for r in rows] == ["ok", "ok", "rejected", "ok", "ok"]
    assert rows[2]["drop_reason"] == "audio_transcript_v1:transcript_mismatch"
    assert rows[3][WER] is None and rows[4][AGREEMENT] is None
    # Agreement alone (WER off): a caption sharing none of the spoken words disagrees.
    only = TranscriptAgreementFilter(max_wer=None, min_agreement=0.5)
    out = _rows(only, [("Rain in Spain, read aloud", "the rain in spain"), ("A cat purrs", "the rain in spain")])
    assert [r["drop_reason"] for r in out] == [None, "audio_transcript_v1:caption_disagrees"]
    assert word_agreement("Rain in Spain, read aloud", "the rain in spain") == pytest.approx(3 / 4)


def test_the_reference_can_be_another_column() -> None:
    step = TranscriptAgreementFilter(reference_column="spoken_text", max_wer=0.1)
    rows = [{"sample_id": "a", "caption": "a professor", "spoken_text": SAID, "audio_asr_v1_text": SAID.lower()}]
    extra = [pa.field("spoken_text", pa.string()), pa.field("audio_asr_v1_text", pa.string()), *step.writes]
    (row,) = apply_to_rows(step, rows, S.sample_schema(extra))
    assert row[WER] == 0.0 and row["status"] == "ok"
