"""Audio content filters: speech ratio (Silero VAD), WADA-SNR and effective bandwidth.

The speech filter also writes the VAD's speech spans (seconds), which segmentation cuts between, so
the model runs once per file. Thresholds default to None ("score only"): a sound-effects corpus wants
no speech minimum and a tone has no meaningful SNR; speech corpora set ``min_ratio``/``min_db``/``min_hz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.audio.measure import bandwidth_hz, wada_snr
from mmcurate.pipeline.audio.pcm import pcm_rows
from mmcurate.pipeline.audio.vad import SileroVad, speech_ratio
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Resources
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE

__all__ = ["AudioSpeechFilter", "AudioSnrFilter", "AudioBandwidthFilter", "SPAN_TYPE"]

SPAN_TYPE = pa.struct([pa.field("start_s", pa.float64()), pa.field("end_s", pa.float64())])


def _f(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, type_, metadata={"doc": doc})


@dataclass(kw_only=True)
class AudioSpeechFilter(Filter):
    """Silero VAD speech spans and speech ratio; ``no_speech`` under ``min_ratio`` (None: score only)."""

    name: ClassVar[str] = "audio_speech_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        _f("audio_speech_v1_ratio", pa.float64(), "share of the duration inside VAD speech spans"),
        _f("audio_speech_v1_spans", pa.list_(SPAN_TYPE), "VAD speech spans, seconds"),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)
    stateful: ClassVar[bool] = True

    batch_size: int = param(16, doc="rows per call", ge=1)
    threshold: float = param(0.5, doc="Silero speech probability threshold", gt=0, lt=1)
    min_silence_s: float = param(0.1, doc="pauses shorter than this do not end a span", ge=0)
    min_ratio: float | None = param(None, doc="less speech than this share is no_speech; None: score only",
                                    ge=0, le=1)
    _vad: SileroVad | None = field(default=None, init=False, repr=False, compare=False)

    def setup(self) -> None:
        self._vad = SileroVad(self.threshold, self.min_silence_s)
        self._vad.load()

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        self.ensure_setup()
        assert self._vad is not None
        ratios: list[float | None] = []
        spans: list[list[dict[str, float]] | None] = []
        for row in pcm_rows(batch):
            if row is None:
                ratios.append(None)
                spans.append(None)
                continue
            found = self._vad.spans(*row)
            ratios.append(speech_ratio(found, row[0].size / row[1]))
            spans.append([{"start_s": s, "end_s": e} for s, e in found])
        return {"audio_speech_v1_ratio": pa.array(ratios, pa.float64()),
                "audio_speech_v1_spans": pa.array(spans, pa.list_(SPAN_TYPE))}

    def decide(self, scores: dict[str, Any]) -> str | None:
        r = scores["audio_speech_v1_ratio"]
        return "no_speech" if self.min_ratio is not None and r is not None and r < self.min_ratio else None


@dataclass(kw_only=True)
class AudioSnrFilter(Filter):
    """WADA-SNR in dB (clamped to -10..100); ``noisy`` under ``min_db`` (None: score only)."""

    name: ClassVar[str] = "audio_snr_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (_f("audio_snr_v1_db", pa.float64(), "WADA-SNR estimate, dB"),)
    min_db: float | None = param(None, doc="lower SNR is noisy; None: score only")

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"audio_snr_v1_db": pa.array([None if r is None else wada_snr(r[0]) for r in pcm_rows(batch)],
                                            pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        v = scores["audio_snr_v1_db"]
        return "noisy" if self.min_db is not None and v is not None and v < self.min_db else None


@dataclass(kw_only=True)
class AudioBandwidthFilter(Filter):
    """Effective bandwidth in Hz; ``narrowband`` under ``min_hz`` (catches upsampled 8 kHz audio)."""

    name: ClassVar[str] = "audio_bandwidth_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        _f("audio_bandwidth_v1_hz", pa.float64(), "highest frequency within floor_db of the spectrum's peak"),)
    floor_db: float = param(50.0, doc="how far under the spectral peak still counts as content", gt=0)
    min_hz: float | None = param(None, doc="narrower is narrowband (telephone ~4000); None: score only", ge=0)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"audio_bandwidth_v1_hz": pa.array(
            [None if r is None else bandwidth_hz(r[0], r[1], self.floor_db) for r in pcm_rows(batch)], pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        v = scores["audio_bandwidth_v1_hz"]
        return "narrowband" if self.min_hz is not None and v is not None and v < self.min_hz else None
