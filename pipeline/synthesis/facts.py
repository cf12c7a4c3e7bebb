"""What instruction synthesis knows about a sample: the facts both back ends build questions from.

Gathered once per row from the sample's columns so the template and LLM back ends see the same
inputs: the caption, OCR text (``ocr_v1_texts`` when the OCR filter ran, else none), the size of the
first image, and video timing from ``clips`` (``frame_ts``, ``start_s``/``end_s``) when present —
either a parent row's ``clips`` list or a clip record's own top-level fields. For audio, the ASR
transcript (``audio_asr_v1_text``) and the decoded duration (``audio_probe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import CLIPS, OCR_TEXTS

__all__ = ["Segment", "SampleFacts", "facts_from_row", "TRANSCRIPT"]

TRANSCRIPT = "audio_asr_v1_text"  # AudioTranscribe's column (pipeline/audio/asr_stage.py)


@dataclass(frozen=True)
class Segment:
    """One video clip: where it lies on the source timeline and the timestamps of its sampled frames."""

    start_s: float
    end_s: float
    frame_ts: tuple[float, ...]


@dataclass(frozen=True)
class SampleFacts:
    sample_id: str
    caption: str
    ocr_text: str
    width: int | None
    height: int | None
    n_images: int
    n_videos: int
    segments: tuple[Segment, ...]
    transcript: str = ""
    n_audios: int = 0
    audio_s: float | None = None  # decoded audio length, seconds

    @property
    def duration_s(self) -> float | None:
        return max(s.end_s for s in self.segments) if self.segments else None

    @property
    def timestamps(self) -> tuple[float, ...]:
        return tuple(t for s in self.segments for t in s.frame_ts)

    def segment_at(self, t: float) -> tuple[int, Segment] | None:
        for i, seg in enumerate(self.segments):
            if seg.start_s <= t < seg.end_s:
                return i, seg
        return None


def _ocr_text(value: Any) -> str:
    """``ocr_v1_texts`` is list<string> per media item; a plain string column is accepted too."""
    if value is None:
        return ""
    parts = [value] if isinstance(value, str) else [v for v in value if v]
    return " ".join(" ".join(p.split()) for p in parts).strip()


def _segments(row: dict[str, Any]) -> tuple[Segment, ...]:
    clips = row.get(CLIPS)
    if clips is None and row.get("frame_ts") is not None:  # a clip record (CLIP_RECORD_SCHEMA)
        clips = [row]
    segs = []
    for clip in clips or []:
        ts = tuple(float(t) for t in (clip.get("frame_ts") or []))
        start = clip.get("start_s")
        end = clip.get("end_s")
        if start is None or end is None:
            if not ts:
                continue
            start, end = ts[0], ts[-1]
        segs.append(Segment(float(start), float(end), ts))
    return tuple(sorted(segs, key=lambda s: s.start_s))


def facts_from_row(row: dict[str, Any], ocr_column: str = OCR_TEXTS) -> SampleFacts:
    """The facts of one sample row (a dict of the table's columns)."""
    media = [m for m in (row.get(S.MEDIA) or []) if m]
    images = [m for m in media if m.get("kind") == "image"]
    videos = [m for m in media if m.get("kind") == "video"]
    audios = [m for m in media if m.get("kind") == "audio"]
    probe = row.get("audio_probe") or {}
    segments = _segments(row)
    first = (images or videos or [{}])[0]
    width, height = first.get("width"), first.get("height")
    if width is None and row.get("frame_ts") is not None:  # clip records carry their frame size
        width, height = row.get("width"), row.get("height")
    return SampleFacts(
        sample_id=str(row[S.SAMPLE_ID]),
        caption=" ".join((row.get(S.CAPTION) or "").split()),
        ocr_text=_ocr_text(row.get(ocr_column)),
        width=width,
        height=height,
        n_images=len(images),
        n_videos=len(videos) or (1 if segments and not images else 0),
        segments=segments,
        transcript=" ".join((row.get(TRANSCRIPT) or "").split()),
        n_audios=len(audios),
        audio_s=probe.get("duration_s"),
    )
