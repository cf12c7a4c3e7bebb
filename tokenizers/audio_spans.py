"""A sample's audio windows as token records place them: which media item, where, how many placeholders.

``count_tokens`` gives each window of ``audio_segments`` its trainer-exact ``tokens_audio``; an
unsegmented recording is one window over its decoded duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmcurate.schemas import sample as S
from mmcurate.schemas.audio import AUDIO_PROBE
from mmcurate.tokenizers.token_count import AUDIO_WINDOWS, TOKENS_AUDIO

__all__ = ["AudioSpan", "audio_media_index", "audio_spans"]


@dataclass(frozen=True)
class AudioSpan:
    """One audio window of a sample: where it sits in the recording and its placeholder count."""

    media_index: int | None
    start_s: float
    end_s: float
    tokens: int


def audio_media_index(media: Sequence[dict[str, Any] | None] | None) -> int | None:
    """The item ``AudioDecode`` decodes: the first audio item, else the first video's soundtrack."""
    kinds = [m.get("kind") if m else None for m in media or []]
    for kind in ("audio", "video"):
        if kind in kinds:
            return kinds.index(kind)
    return None


def audio_spans(row: dict[str, Any]) -> list[AudioSpan]:
    """A row's audio windows with the token counts ``count_tokens`` gave them; the whole recording as one
    window when it was not segmented; none without audio tokens."""
    index = audio_media_index(row.get(S.MEDIA))
    windows = row.get(AUDIO_WINDOWS)
    if windows:
        missing = [w["window_index"] for w in windows if w.get("tokens_audio") is None]
        if missing:
            raise ValueError(f"{row[S.SAMPLE_ID]}: audio windows {missing} have no token count (count_tokens)")
        return [AudioSpan(index, w["start_s"], w["end_s"], int(w["tokens_audio"])) for w in windows]
    tokens = row.get(TOKENS_AUDIO) or 0
    if not tokens:
        return []
    probe = row.get(AUDIO_PROBE) or {}
    return [AudioSpan(index, 0.0, float(probe.get("duration_s") or 0.0), int(tokens))]
