"""``AudioDecode`` (``audio_decode_v1``): each audio item -> its probe and 16 kHz mono samples.

Each file is decoded in the video path's crash sandbox (:mod:`mmcurate.pipeline.video.sandbox`), so
a decoder that segfaults or hangs costs one row (``decoder_crash``/``decode_timeout``) and a memory
blow-up is ``too_large``, never the worker. With ``soundtracks=True`` video items are decoded too
(their audio track); a video without one passes untouched, since a silent video is not a bad video.
With ``require=True`` (an audio-only job) every row is judged as audio: the reader calls content it
does not recognise ``image`` (decode judges the rest), so a web page saved as ``.wav`` or a 0-byte file
is rejected here (``not_audio``, ``empty``) instead of reaching later steps undecoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.audio.decode import DEFAULT_CODECS, AudioSource, DecodedAudio, DecodeParams, decode_audio
from mmcurate.pipeline.media_rows import rows_with_media_kind
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, Resources, RowStage
from mmcurate.pipeline.video.sandbox import run_sandboxed
from mmcurate.schemas import sample as S
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PCM_FIELD, AUDIO_PROBE, AUDIO_PROBE_FIELD

__all__ = ["AudioDecode"]

FLAG_TRUNCATED = "audio_truncated"


@dataclass(kw_only=True)
class AudioDecode(RowStage):
    """Probe, decode and resample each audio item (and, optionally, each video's soundtrack)."""

    name: ClassVar[str] = "audio_decode_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA, S.FLAGS)
    writes: ClassVar[tuple[pa.Field, ...]] = (AUDIO_PROBE_FIELD, AUDIO_PCM_FIELD)
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)

    batch_size: int = param(16, doc="rows per call (each carries 64 KB/s of decoded audio)", ge=1)
    sample_rate: int = param(16000, doc="output sample rate, Hz (Whisper-family encoders take 16 kHz)",
                             ge=1000, le=192000)
    max_duration_s: float = param(3600.0, doc="longer is too_long (from the header, then as decoded)", gt=0)
    min_duration_s: float = param(0.1, doc="decoded audio shorter than this is too_short", ge=0)
    codecs: tuple[str, ...] | None = param(DEFAULT_CODECS, doc="decoder allow-list; None: any the wheel has")
    keep_partial: bool = param(True, doc="keep the decoded part of a stream cut mid-way (flagged)")
    soundtracks: bool = param(False, doc="also decode the audio track of video items")
    require: bool = param(False, doc="audio-only job: rows without an audio item are decoded anyway "
                                     "(not_audio, empty, no_audio_stream)")
    timeout_s: float = param(120.0, doc="wall clock per file, including the sandbox start", gt=0)
    crash_retries: int = param(1, doc="a crash is retried this many times, then decoder_crash", ge=0)
    max_memory_bytes: int | None = param(2 * 1024**3, doc="address-space cap of the decode child", ge=1)
    # The function run in the sandbox; swap only for tests. Must pickle by reference.
    decode_fn: Callable[[AudioSource, DecodeParams], DecodedAudio] = decode_audio

    def decode_params(self) -> DecodeParams:
        return DecodeParams(sample_rate=self.sample_rate, codecs=self.codecs, max_duration_s=self.max_duration_s,
                            min_duration_s=self.min_duration_s, keep_partial=self.keep_partial)

    def decode(self, data: AudioSource) -> DecodedAudio:
        """Decode one file in the sandbox (library entry point); raises ``Reject``."""
        if isinstance(data, bytes) and not data:
            raise Reject("empty", "0 bytes")
        return run_sandboxed(self.decode_fn, data, self.decode_params(), timeout_s=self.timeout_s,
                             crash_retries=self.crash_retries, max_memory_bytes=self.max_memory_bytes)

    def _kinds(self) -> tuple[str, ...]:
        return ("audio", "video") if self.soundtracks else ("audio",)

    def applies_to(self, batch: pa.Table) -> pa.Array:
        if self.require:
            return pa.array(np.ones(batch.num_rows, dtype=bool))
        return pa.array(rows_with_media_kind(batch, self._kinds()))

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = list(row.get(S.MEDIA) or [])
        index = next((i for i, m in enumerate(media) if m and m.get("kind") == "audio"), None)
        if index is None and self.soundtracks:
            index = next((i for i, m in enumerate(media) if m and m.get("kind") == "video"), None)
        if index is None and self.require:
            if not media or not media[0]:
                raise Reject("not_audio", "no media item")
            index = 0  # whatever the reader took it for, the decoder judges it as audio
        if index is None:
            return {}
        item = media[index]
        try:
            result = self.decode(item.get("bytes") or b"")
        except Reject as rej:
            silent_video = item.get("kind") == "video" and rej.reason in ("no_audio_stream", "not_audio")
            if silent_video and not self.require:
                return {}  # a silent video: nothing to do here; the video stages judge the video
            raise
        flags = list(row.get(S.FLAGS) or [])
        if result.probe.truncated and FLAG_TRUNCATED not in flags:
            flags.append(FLAG_TRUNCATED)
        media[index] = {**item, "ops": [*(item.get("ops") or []), f"audio_decode:{self.sample_rate}hz_mono"]}
        return {S.MEDIA: media, S.FLAGS: flags, AUDIO_PROBE: result.probe.to_row(), AUDIO_PCM: result.pcm}
