"""Probing a video with PyAV: what the container and stream are, and how long it really runs.

The container's duration and frame count are claims (a raw elementary stream can say "0.04 s" over
100 frames, reliability case V8), so timing comes from decoded frame timestamps:
``duration = last - first + last frame's duration``, and variable frame rate is read from the spread
of the intervals. Rotation is the display matrix (stream side data, surfaced on decoded frames as
``VideoFrame.rotation``, counter-clockwise degrees). Failures are typed :class:`Reject` codes, decided
from what the bytes are: a file whose magic bytes say video but will not open is ``truncated``; HTML or
anything else is ``not_a_video`` (we never trust a file name or a header's content type).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from typing import Any

import av
import numpy as np

from mmcurate.pipeline.reject import Reject

__all__ = [
    "VideoProbe",
    "StreamInfo",
    "VideoSource",
    "looks_like_video",
    "open_container",
    "stream_info",
    "frame_time",
    "timing_from_timestamps",
    "probe_video",
]

VideoSource = bytes | str | os.PathLike[str]

# Magic bytes of containers that carry video; used only to tell "broken video" from "not a video".
_MAGIC = (
    (4, b"ftyp"),  # ISO BMFF: mp4, mov, m4v (the box type sits after the 4-byte size)
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # EBML: Matroska, WebM
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream pack header
    (0, b"\x00\x00\x01\xb3"),  # MPEG-1/2 video sequence header (elementary stream)
    (0, b"\x00\x00\x00\x01"),  # H.264/HEVC Annex B start code
    (0, b"RIFF"),  # AVI
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x47"),  # MPEG transport stream sync byte (weak, but a TS that will not open is broken)
)


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes look like a video container (magic bytes, not names or headers)."""
    return any(head[off : off + len(magic)] == magic for off, magic in _MAGIC)


@dataclass(frozen=True)
class StreamInfo:
    """What the container header says about the first video stream (before any decode)."""

    container: str
    codec: str
    width: int
    height: int
    declared_duration_s: float | None
    declared_fps: float | None
    has_audio: bool
    pix_fmt: str | None = None  # the header's pixel format; some demuxers only know it after a decode


@dataclass(frozen=True)
class VideoProbe:
    """A probed video: header facts plus timing measured from decoded frames (see ``columns``)."""

    container: str
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    rotation: int
    display_width: int
    display_height: int
    n_frames: int
    duration_s: float
    declared_duration_s: float | None
    avg_fps: float
    declared_fps: float | None
    vfr: bool
    has_audio: bool
    truncated: bool = False

    def to_row(self) -> dict[str, Any]:
        """The ``video_probe`` struct value."""
        return asdict(self)


def open_container(source: VideoSource) -> av.container.InputContainer:
    """Open ``source`` for reading, or raise ``Reject`` (``empty``, ``truncated``, ``not_a_video``)."""
    if isinstance(source, bytes):
        head = source[:16]
        if not source:
            raise Reject("empty", "0 bytes")
        handle: Any = io.BytesIO(source)
    else:
        with open(source, "rb") as f:
            head = f.read(16)
        if not head:
            raise Reject("empty", "0 bytes")
        handle = os.fspath(source)
    try:
        return av.open(handle, mode="r")
    except av.error.FFmpegError as exc:
        raise Reject("truncated" if looks_like_video(head) else "not_a_video", str(exc)[:300]) from exc


def stream_info(container: av.container.InputContainer) -> StreamInfo:
    """Header facts of the first video stream, or ``Reject`` (``no_video_stream``/``not_a_video``)."""
    has_audio = bool(container.streams.audio)
    if not container.streams.video:
        # An audio file is a real media file without pictures; anything else FFmpeg half-recognised
        # (a text file probed as some raw format) is simply not a video.
        raise Reject("no_video_stream" if has_audio else "not_a_video", f"format {container.format.name}")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate
    declared = container.duration / 1_000_000 if container.duration else None
    return StreamInfo(
        container=container.format.name,
        codec=ctx.codec.canonical_name if ctx is not None else "unknown",
        width=int(ctx.width) if ctx is not None else 0,
        height=int(ctx.height) if ctx is not None else 0,
        declared_duration_s=declared,
        declared_fps=float(rate) if rate else None,
        has_audio=has_audio,
        pix_fmt=(ctx.pix_fmt or None) if ctx is not None else None,
    )


def frame_time(frame: av.VideoFrame, previous: float | None, fallback_interval: float) -> float:
    """A frame's presentation time in seconds; frames without a pts follow the previous one."""
    t = frame.time
    if t is None:
        return 0.0 if previous is None else previous + fallback_interval
    return float(t)


def timing_from_timestamps(ts: np.ndarray, last_duration: float | None) -> tuple[float, float, bool]:
    """``(duration_s, avg_fps, vfr)`` from decoded presentation timestamps (seconds, decode order)."""
    if ts.size == 0:
        return 0.0, 0.0, False
    intervals = np.diff(np.sort(ts))
    median = float(np.median(intervals)) if intervals.size else 0.0
    tail = last_duration if last_duration and last_duration > 0 else median
    duration = float(ts.max() - ts.min()) + (tail or 0.0)
    # Time bases round intervals by a tick (1/12800 s at 30000/1001 fps is 0.2%); 10% is real VFR.
    vfr = bool(intervals.size >= 2 and median > 0 and float(intervals.max() - intervals.min()) > 0.1 * median)
    avg_fps = ts.size / duration if duration > 0 else 0.0
    return duration, avg_fps, vfr


def _rotation(frame: av.VideoFrame) -> int:
    return int(round(frame.rotation / 90.0)) * 90 % 360


def probe_video(source: VideoSource, *, max_frames: int | None = None) -> VideoProbe:
    """Probe ``source``: header facts, then decode (up to ``max_frames``) for real timing.

    Library entry point; the clip extractor does the same inline during its first decode pass so a
    video is decoded no more often than needed. Run it in :func:`~.sandbox.run_sandboxed` for
    untrusted input: a decoder crash here would take the caller down.
    """
    with open_container(source) as container:
        info = stream_info(container)
        stream = container.streams.video[0]
        fallback = 1.0 / info.declared_fps if info.declared_fps else 1.0 / 25.0
        ts: list[float] = []
        rotation, pix_fmt, last_duration, truncated = 0, None, None, False
        try:
            for frame in container.decode(stream):
                if not ts:
                    rotation, pix_fmt = _rotation(frame), frame.format.name
                ts.append(frame_time(frame, ts[-1] if ts else None, fallback))
                last_duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else None
                if max_frames is not None and len(ts) >= max_frames:
                    break
        except av.error.FFmpegError as exc:
            if not ts:
                raise Reject("truncated", str(exc)[:300]) from exc
            truncated = True
    if not ts:
        raise Reject("truncated", "no decodable frame")
    duration, avg_fps, vfr = timing_from_timestamps(np.asarray(ts), last_duration)
    swap = rotation in (90, 270)
    return VideoProbe(
        container=info.container, codec=info.codec, pix_fmt=pix_fmt, width=info.width, height=info.height,
        rotation=rotation, display_width=info.height if swap else info.width,
        display_height=info.width if swap else info.height, n_frames=len(ts), duration_s=duration,
        declared_duration_s=info.declared_duration_s, avg_fps=avg_fps, declared_fps=info.declared_fps,
        vfr=vfr, has_audio=info.has_audio, truncated=truncated,
    )
