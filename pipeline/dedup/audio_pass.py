"""The ``audio_dedup`` step: near-duplicate recordings across the whole input (:mod:`.audio_fp`)."""

from __future__ import annotations

from dataclasses import dataclass

from mmcurate.pipeline.dedup.audio_fp import AUDIO_FP, AudioFingerprint, audio_duplicates, ray_audio_duplicates
from mmcurate.pipeline.dedup.passes import DedupPass, Method
from mmcurate.pipeline.dedup.policy import PRIORITY, KeepPolicy
from mmcurate.pipeline.params import param

__all__ = ["AudioDedup"]


def _audio(max_ber: float, min_overlap: float) -> Method:
    return Method(AudioFingerprint(), (AUDIO_FP,), audio_duplicates, ray_audio_duplicates,
                  {"max_ber": max_ber, "min_overlap": min_overlap})


@dataclass(kw_only=True)
class AudioDedup(DedupPass):
    """Near-duplicate audio: Haitsma-Kalker fingerprints, matched on sub-fingerprints, verified by bit errors.

    ``keep: best`` keeps the best-sounding copy (lossless, then bit rate, then source sample rate, then
    caption length; :mod:`.audio_keep`), so a 64 kbps MP3 re-encode loses to its FLAC original."""

    max_ber: float = param(0.25, doc="bit error rate at or below which two fingerprints match", ge=0, le=1)
    min_overlap: float = param(0.5, doc="fraction of the shorter clip that must align", gt=0, le=1)

    def methods(self) -> list[Method]:
        return [_audio(self.max_ber, self.min_overlap)]

    def policy(self) -> KeepPolicy:
        return KeepPolicy(rule="audio") if self.keep == "best" else super().policy()

    def _priority_column(self) -> str:
        # Not the image passes' column: "best" means a different key here.
        return f"{PRIORITY}_audio_{self.keep}"
