"""Audio level filters: duration, loudness (EBU R128), peak/clipping and silence (score, then decide).

Duration and clipping read what ``AudioDecode`` measured (``audio_probe``); loudness and silence are
computed from the decoded 16 kHz signal (``audio_pcm``). Rows without decoded audio score null and are
kept: these filters judge audio, not its absence. Every reject keeps its numbers in the score columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.audio.measure import loudness_lufs, peak_dbfs, silence_ratio
from mmcurate.pipeline.audio.pcm import pcm_rows, probe_field
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.params import param
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE

__all__ = ["AudioDurationFilter", "AudioLoudnessFilter", "AudioClippingFilter", "AudioSilenceFilter"]


def _f(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, type_, metadata={"doc": doc})


@dataclass(kw_only=True)
class AudioDurationFilter(Filter):
    """Drops audio shorter than ``min_s`` (``too_short``) or longer than ``max_s`` (``too_long``)."""

    name: ClassVar[str] = "audio_duration_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE,)
    writes: ClassVar[tuple[pa.Field, ...]] = (_f("audio_duration_v1_seconds", pa.float64(), "decoded duration, s"),)
    min_s: float = param(0.5, doc="shorter audio is too_short", ge=0)
    max_s: float = param(3600.0, doc="longer audio is too_long", gt=0)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"audio_duration_v1_seconds": probe_field(batch, "duration_s").cast(pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        s = scores["audio_duration_v1_seconds"]
        if s is None:
            return None
        return "too_short" if s < self.min_s else "too_long" if s > self.max_s else None


@dataclass(kw_only=True)
class AudioLoudnessFilter(Filter):
    """Integrated loudness (LUFS, BS.1770 via pyloudnorm): ``too_quiet`` / ``too_loud`` outside the range."""

    name: ClassVar[str] = "audio_loudness_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        _f("audio_loudness_v1_lufs", pa.float64(), "EBU R128 integrated loudness; null under 0.4 s or silent"),)
    min_lufs: float = param(-45.0, doc="quieter is too_quiet (speech is mastered near -23..-16)", le=0)
    max_lufs: float = param(-5.0, doc="louder is too_loud (heavy limiting/clipping)", le=10)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        rows = pcm_rows(batch)
        return {"audio_loudness_v1_lufs": pa.array([None if r is None else loudness_lufs(*r) for r in rows],
                                                   pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        v = scores["audio_loudness_v1_lufs"]
        if v is None:
            return None
        return "too_quiet" if v < self.min_lufs else "too_loud" if v > self.max_lufs else None


@dataclass(kw_only=True)
class AudioClippingFilter(Filter):
    """Peak level and the share of clipped source samples: ``clipped`` above ``max_clip_ratio``."""

    name: ClassVar[str] = "audio_clipping_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        _f("audio_clipping_v1_peak_dbfs", pa.float64(), "source peak, dBFS (0 = full scale)"),
        _f("audio_clipping_v1_ratio", pa.float64(), "share of source samples at |x| >= 0.999"),
    )
    max_clip_ratio: float = param(0.001, doc="more clipped samples than this share is clipped", ge=0, le=1)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        peaks = probe_field(batch, "peak").to_pylist()
        return {"audio_clipping_v1_peak_dbfs": pa.array([None if p is None else peak_dbfs(p) for p in peaks],
                                                        pa.float64()),
                "audio_clipping_v1_ratio": probe_field(batch, "clip_ratio").cast(pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        r = scores["audio_clipping_v1_ratio"]
        return "clipped" if r is not None and r > self.max_clip_ratio else None


@dataclass(kw_only=True)
class AudioSilenceFilter(Filter):
    """Share of 20 ms frames below ``threshold_dbfs``: ``mostly_silent`` above ``max_ratio``."""

    name: ClassVar[str] = "audio_silence_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        _f("audio_silence_v1_ratio", pa.float64(), "share of 20 ms frames under the silence threshold"),)
    threshold_dbfs: float = param(-50.0, doc="a frame with RMS under this is silent", le=0)
    max_ratio: float = param(0.9, doc="more silence than this share is mostly_silent", ge=0, le=1)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        rows = pcm_rows(batch)
        return {"audio_silence_v1_ratio": pa.array(
            [None if r is None else silence_ratio(r[0], r[1], self.threshold_dbfs) for r in rows], pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        r = scores["audio_silence_v1_ratio"]
        return "mostly_silent" if r is not None and r > self.max_ratio else None
