"""Decode one audio file to 16 kHz mono float32 with PyAV: the function that runs inside the sandbox.

Order of judgement (each a :class:`Reject` code, see :data:`REJECT_REASONS`): zero bytes are
``empty``; bytes FFmpeg cannot open are ``truncated`` when their magic bytes say audio/video container
and ``not_audio`` otherwise (HTML, images, garbage); an opened file without an audio stream is
``no_audio_stream``; a codec outside the allow-list or without a decoder is ``unsupported_codec``; a
header claiming more than ``max_duration_s`` is ``too_long`` before any decode. Then the stream is
decoded and resampled (FFmpeg's swresample through ``av.AudioResampler``: a real polyphase
low-pass resampler, not sample dropping) and the *decoded* length is what counts: a header that lies
(claims 100 s over 2 s of data, or 1 s over 10 s) is measured, and decoding stops with ``too_long``
as soon as the decoded samples pass the limit, so a hostile file cannot make us decode for hours.

Peak and clipping are measured on the source samples (before the mix-down and the resampler, whose
low-pass smooths a clipped square top into overshoot), in the decoder's own sample format.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import av
import numpy as np

from mmcurate.pipeline.readers.sniff import kind_of, sniff_mime
from mmcurate.pipeline.reject import Reject

__all__ = ["REJECT_REASONS", "DEFAULT_CODECS", "AudioSource", "DecodeParams", "AudioProbe", "DecodedAudio",
           "decode_audio"]

AudioSource = bytes | str | os.PathLike[str]

REJECT_REASONS: tuple[str, ...] = (
    "empty", "truncated", "not_audio", "no_audio_stream", "unsupported_codec", "too_long", "too_short",
    "decoder_crash", "decode_timeout", "too_large",
)
# Web and dataset audio codecs (FFmpeg decoder names). Anything else is a fuzzing vector more than data.
DEFAULT_CODECS = ("pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_u8", "pcm_s16be",
                  "flac", "mp3", "mp3float", "aac", "vorbis", "opus", "alac")
# Containers that may hold audio: bytes that start like these yet will not open are truncated.
_MAGIC = ((0, b"RIFF"), (0, b"RF64"), (0, b"fLaC"), (0, b"OggS"), (0, b"ID3"), (4, b"ftyp"), (4, b"moov"),
          (0, b"\x1a\x45\xdf\xa3"))
# |x| at or above this is a clipped sample (16-bit full scale is 32767/32768 = 0.99997).
CLIP_LEVEL = 0.999


@dataclass(frozen=True)
class DecodeParams:
    """What the decode needs (a plain picklable value: it crosses the sandbox)."""

    sample_rate: int = 16000
    codecs: tuple[str, ...] | None = DEFAULT_CODECS  # None: anything the wheel decodes
    max_duration_s: float = 3600.0
    min_duration_s: float = 0.1
    keep_partial: bool = True  # a stream cut mid-way keeps its decoded part (flagged) or is truncated


@dataclass
class AudioProbe:
    container: str
    codec: str
    source_rate: int
    channels: int
    header_duration_s: float | None
    duration_s: float
    n_samples: int
    sample_rate: int
    peak: float
    clip_ratio: float
    truncated: bool = False
    bit_rate: int | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DecodedAudio:
    probe: AudioProbe
    pcm: bytes = field(repr=False)  # float32 little-endian, mono, at probe.sample_rate

    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<f4")


def _looks_like_container(head: bytes) -> bool:
    return any(head[o : o + len(m)] == m for o, m in _MAGIC) or (len(head) > 1 and head[0] == 0xFF
                                                                  and head[1] & 0xE0 == 0xE0)


def _open(source: AudioSource) -> av.container.InputContainer:
    head = source[:16] if isinstance(source, bytes) else open(source, "rb").read(16)  # noqa: SIM115
    if not head:
        raise Reject("empty", "0 bytes")
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError) as exc:
        code = "truncated" if _looks_like_container(head) else "not_audio"
        raise Reject(code, f"{type(exc).__name__}: {exc}") from None


def _header_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else None


def _bit_rate(container: av.container.InputContainer, stream: av.AudioStream) -> int | None:
    """The codec's bit rate (MP3, AAC, PCM say it); else the container's average when the file is this one
    stream (FLAC, Opus, Vorbis: size over duration), since then no video shares the bytes."""
    rate = stream.bit_rate or (stream.codec_context.bit_rate if stream.codec_context is not None else None)
    if not rate and len(container.streams) == 1:
        rate = container.bit_rate
    return int(rate) if rate else None


def _level(frame: av.AudioFrame) -> np.ndarray:
    """The frame's samples as floats in -1..1, whatever the decoder's sample format."""
    x = frame.to_ndarray()
    if x.dtype.kind == "f":
        return x
    if x.dtype == np.uint8:
        return (x.astype(np.float32) - 128.0) / 128.0
    return x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)


def _check_stream(container: av.container.InputContainer, p: DecodeParams, head: bytes) -> av.AudioStream:
    if not container.streams.audio:
        # FFmpeg opens a JPEG or a GIF too (as a one-frame video): that is not audio at all, while a
        # real audio/video container without a soundtrack has no audio stream.
        kind = kind_of(sniff_mime(head))
        code = "no_audio_stream" if kind in ("video", "audio") else "not_audio"
        raise Reject(code, f"{sniff_mime(head)}; streams: {[s.type for s in container.streams]}")
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    codec = ctx.name if ctx is not None else None
    if codec is None or (p.codecs is not None and codec not in p.codecs):
        raise Reject("unsupported_codec", f"{codec!r} not in {list(p.codecs or ())}")
    header = _header_duration(container, stream)
    if header is not None and header > p.max_duration_s:
        raise Reject("too_long", f"header says {header:.2f} s > {p.max_duration_s:g} s")
    return stream


def decode_audio(source: AudioSource, p: DecodeParams = DecodeParams()) -> DecodedAudio:  # noqa: B008 - frozen
    """Decode, mix down and resample one file; raises :class:`Reject` (codes in :data:`REJECT_REASONS`)."""
    if isinstance(source, bytes) and not source:
        raise Reject("empty", "0 bytes")
    head = source[:4096] if isinstance(source, bytes) else open(source, "rb").read(4096)  # noqa: SIM115
    with _open(source) as container:
        stream = _check_stream(container, p, head)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=p.sample_rate)
        limit = int(p.max_duration_s * p.sample_rate) + 1
        chunks: list[np.ndarray] = []
        n, peak, clipped, seen, truncated = 0, 0.0, 0, 0, False
        try:
            for frame in container.decode(stream):
                x = _level(frame)
                if x.size:
                    peak = max(peak, float(np.abs(x).max()))
                    clipped += int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL))
                    seen += x.size
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    n += out.samples
                if n > limit:
                    raise Reject("too_long", f"decoded past {p.max_duration_s:g} s (header said "
                                             f"{_header_duration(container, stream)})")
        except av.error.FFmpegError as exc:
            if seen == 0 or not p.keep_partial:
                raise Reject("truncated", f"decode failed after {n} samples: {exc}") from None
            truncated = True
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        pcm = np.concatenate(chunks).astype("<f4") if chunks else np.zeros(0, "<f4")
        if pcm.size == 0:
            raise Reject("truncated", "no decodable audio frame")
        duration = pcm.size / p.sample_rate
        header = _header_duration(container, stream)
        # Decoding far less than the header promised: the file was cut (or the header lies; either
        # way the measured length is the one kept, and the row says so).
        truncated = truncated or (header is not None and duration < 0.9 * header - 0.1)
        if duration < p.min_duration_s:
            raise Reject("too_short", f"{duration:.3f} s < {p.min_duration_s:g} s")
        probe = AudioProbe(container=container.format.name, codec=stream.codec_context.name,
                           source_rate=int(stream.rate or 0), channels=int(stream.channels or 0),
                           header_duration_s=header, duration_s=duration,
                           n_samples=int(pcm.size), sample_rate=p.sample_rate, peak=peak,
                           clip_ratio=clipped / seen if seen else 0.0, truncated=truncated,
                           bit_rate=_bit_rate(container, stream))
    return DecodedAudio(probe, pcm.tobytes())
