"""The Arrow columns the audio stages write (stage-declared, merged in through ``Stage.writes``).

``audio_probe`` says what the stream is and what the decode measured; ``audio_pcm`` is the decoded
signal every audio measurement reads (float32 little-endian, mono, at ``audio_probe.sample_rate``):
decoded once, in the sandbox, and never again by the filters. It is 64 KB per second at 16 kHz, so
audio batches stay small (``AudioDecode.batch_size``) and a writer drops the column before output
(the original bytes stay in ``media``).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["AUDIO_PROBE", "AUDIO_PCM", "AUDIO_PROBE_TYPE", "AUDIO_PROBE_FIELD", "AUDIO_PCM_FIELD"]

AUDIO_PROBE = "audio_probe"
AUDIO_PCM = "audio_pcm"


def _f(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, type_, metadata={"doc": doc})


AUDIO_PROBE_TYPE = pa.struct([
    _f("container", pa.string(), "demuxer name (FFmpeg's: wav, flac, mp3, ogg, 'mov,mp4,m4a,...')"),
    _f("codec", pa.string(), "decoder name (pcm_s16le, flac, mp3float, aac, opus, vorbis, ...)"),
    _f("source_rate", pa.int32(), "the stream's own sample rate, Hz"),
    _f("channels", pa.int32(), "the stream's channel count (decoded audio is mixed down to mono)"),
    _f("header_duration_s", pa.float64(), "the container's claim; informational, never trusted"),
    _f("duration_s", pa.float64(), "measured: decoded samples / sample_rate"),
    _f("n_samples", pa.int64(), "decoded samples after resampling (mono)"),
    _f("sample_rate", pa.int32(), "rate of audio_pcm, Hz (16000 by default)"),
    _f("peak", pa.float64(), "max |sample| of the source, full scale = 1.0"),
    _f("clip_ratio", pa.float64(), "fraction of source samples at |x| >= 0.999"),
    _f("truncated", pa.bool_(), "decode ended early (error mid-stream, or far short of the header's claim)"),
    _f("bit_rate", pa.int64(), "the stream's bits per second (codec's, else the container's); null if unknown"),
])
AUDIO_PROBE_FIELD = _f(AUDIO_PROBE, AUDIO_PROBE_TYPE, "what the audio stream is and what its decode measured")
AUDIO_PCM_FIELD = _f(AUDIO_PCM, pa.large_binary(), "decoded audio: float32 LE mono at audio_probe.sample_rate")
