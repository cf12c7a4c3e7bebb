"""The one decode loop both extraction paths share: header checks, timeline, cut scores.

Every frame is decoded once, in presentation order; :func:`decode_frames` yields it with its content
score against the previous frame (64x64 thumbnails) and records its time in a :class:`Timeline`, which
becomes the video's :class:`~.probe.VideoProbe` at the end. Expected failures raise ``Reject``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video import frames as F
from mmcurate.pipeline.video.extract_params import ExtractParams
from mmcurate.pipeline.video.probe import (
    StreamInfo,
    VideoProbe,
    VideoSource,
    frame_time,
    open_container,
    stream_info,
    timing_from_timestamps,
)
from mmcurate.pipeline.video.scenes import (
    THUMB_SIZE,
    CutDetector,
    cut_thumbnail,
    frame_difference,
)

__all__ = ["REF_MAX_BYTES", "FrameStore", "Timeline", "open_stream", "check_pix_fmt", "decode_frames", "cut_detector",
           "clip_sampler", "motion_score", "picture_bytes"]

# A young clip's buffered picture is the decoder's frame itself up to this size (no copy, no CPU);
# bigger pictures (4K, 10-bit 1440p+) are scaled to the storage size first to bound the buffer.
REF_MAX_BYTES = 4 * 1024 * 1024


def picture_bytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)


def open_stream(source: VideoSource, threads: int) -> tuple[av.container.InputContainer, Any]:
    container = open_container(source)
    stream = container.streams.video[0] if container.streams.video else None
    if stream is not None and stream.codec_context is not None:
        stream.codec_context.thread_count = threads
    return container, stream


@dataclass
class Timeline:
    """What the decode loop learns as it goes: header facts, per-frame times and pts, damage."""

    info: StreamInfo | None = None
    rotation: int = 0
    pix_fmt: str | None = None
    ts: list[float] = field(default_factory=list)  # seconds from the first frame, non-decreasing
    pts: list[int | None] = field(default_factory=list)
    last_duration: float | None = None
    truncated: bool = False

    def probe(self) -> VideoProbe:
        info = self.info
        assert info is not None and self.ts
        duration, avg_fps, vfr = timing_from_timestamps(np.asarray(self.ts, dtype=np.float64), self.last_duration)
        swap = self.rotation in (90, 270)
        return VideoProbe(
            container=info.container, codec=info.codec, pix_fmt=self.pix_fmt, width=info.width,
            height=info.height, rotation=self.rotation, display_width=info.height if swap else info.width,
            display_height=info.width if swap else info.height, n_frames=len(self.ts), duration_s=duration,
            declared_duration_s=info.declared_duration_s, avg_fps=avg_fps, declared_fps=info.declared_fps,
            vfr=vfr, has_audio=info.has_audio, truncated=self.truncated,
        )


def check_pix_fmt(pix_fmt: str | None, p: ExtractParams, where: str) -> None:
    """``unsupported_codec`` for a pixel format outside ``p.pix_fmts`` (a header may not say: None passes)."""
    if pix_fmt is not None and p.pix_fmts is not None and pix_fmt not in p.pix_fmts:
        raise Reject("unsupported_codec", f"{where} pixel format {pix_fmt}")


def decode_frames(source: VideoSource, p: ExtractParams, tl: Timeline) -> Iterator[tuple[int, av.VideoFrame, float]]:
    """Every frame once, in presentation order: ``(index, frame, cut score)``; fills ``tl`` as it goes.

    Raises ``Reject`` for the header checks, an oversized first frame, ``max_duration_s`` and (without
    ``keep_partial``, or before any frame) a decode error; with ``keep_partial`` a decode error ends the
    video there, flagged ``truncated``.
    """
    container, stream = open_stream(source, p.threads)
    with container:
        tl.info = info = stream_info(container)
        if stream.codec_context is None or (p.codecs is not None and info.codec not in p.codecs):
            raise Reject("unsupported_codec", f"codec {info.codec}")
        check_pix_fmt(info.pix_fmt, p, "header")
        if info.width * info.height > p.max_pixels:
            raise Reject("too_large", f"{info.width}x{info.height} > {p.max_pixels} pixels")
        fallback = 1.0 / info.declared_fps if info.declared_fps else 1.0 / 25.0
        raw_prev: float | None = None
        t_first = 0.0
        prev_thumb: np.ndarray | None = None
        thumbnailer = VideoReformatter()
        try:
            for frame in container.decode(stream):
                raw = frame_time(frame, raw_prev, fallback)
                if raw_prev is None:
                    tl.rotation, tl.pix_fmt = int(round(frame.rotation / 90.0)) * 90 % 360, frame.format.name
                    check_pix_fmt(tl.pix_fmt, p, "decoded")
                    if frame.width * frame.height > p.max_pixels:
                        raise Reject("too_large", f"decoded {frame.width}x{frame.height}")
                    t_first = raw
                raw_prev = raw
                # Timeline from the first frame (MPEG-PS/TS start at arbitrary clocks), kept monotonic so
                # a stray out-of-order pts cannot move a frame before its predecessor.
                t = max(raw - t_first, tl.ts[-1] if tl.ts else 0.0)
                if t > p.max_duration_s:
                    raise Reject("too_long", f"> {p.max_duration_s:g} s of decoded frames")
                tl.ts.append(t)
                tl.pts.append(frame.pts)
                tl.last_duration = (float(frame.duration * frame.time_base)
                                    if frame.duration and frame.time_base else None)
                thumb = cut_thumbnail(frame, thumbnailer)
                score = 0.0 if prev_thumb is None else frame_difference(prev_thumb, thumb)
                prev_thumb = thumb
                yield len(tl.ts) - 1, frame, score
        except av.error.FFmpegError as exc:
            if not tl.ts or not p.keep_partial:
                raise Reject("truncated", f"after {len(tl.ts)} frames: {exc}"[:300]) from exc
            tl.truncated = True
    if not tl.ts:
        raise Reject("truncated", "no decodable frame")


def cut_detector(p: ExtractParams) -> CutDetector:
    return CutDetector(threshold=p.cut_threshold, adaptive_ratio=p.cut_adaptive_ratio,
                       min_scene_frames=p.min_scene_frames)


def clip_sampler(start_s: float, p: ExtractParams) -> F.ClipSampler:
    return F.ClipSampler(start_s, fps=p.fps, min_frames=p.min_frames, max_frames=p.max_frames,
                         frame_factor=p.frame_factor)


def motion_score(thumbs: list[np.ndarray]) -> float | None:
    """Mean content difference between consecutive sampled frames (None below two samples)."""
    diffs = [frame_difference(a, b) for a, b in zip(thumbs[:-1], thumbs[1:])]
    return float(np.mean(diffs)) if diffs else None


class FrameStore:
    """How sampled frames are stored: size, rotation, JPEG quality.

    One reformatter per conversion, so each keeps its swscale context for the whole video (see
    :func:`.scenes.cut_thumbnail`).
    """

    def __init__(self, width: int, height: int, rotation: int, quality: int) -> None:
        self.width, self.height, self.rotation, self.quality = width, height, rotation, quality
        self._to_rgb, self._to_thumb, self._to_held = VideoReformatter(), VideoReformatter(), VideoReformatter()

    @classmethod
    def for_video(cls, width: int, height: int, rotation: int, p: ExtractParams) -> FrameStore:
        w, h = F.storage_size(width, height, p.frame_max_pixels)
        return cls(w, h, rotation, p.jpeg_quality)

    @property
    def upright_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """Storage-size RGB in the coded orientation."""
        return self._to_rgb.reformat(frame, self.width, self.height, "rgb24").to_ndarray()

    def thumbnail(self, frame: av.VideoFrame) -> np.ndarray:
        """The motion thumbnail: swscale's default (bilinear), which the motion filter was calibrated on."""
        return self._to_thumb.reformat(frame, THUMB_SIZE, THUMB_SIZE, "rgb24").to_ndarray()

    def jpeg(self, rgb: np.ndarray) -> bytes:
        return F.encode_jpeg(F.upright(rgb, self.rotation), self.quality)

    def sample(self, frame: av.VideoFrame) -> tuple[bytes, np.ndarray]:
        """A picked frame as stored JPEG bytes and its motion thumbnail."""
        return self.jpeg(self.rgb(frame)), self.thumbnail(frame)

    def hold(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A picture to buffer: the decoder's frame, or a storage-size copy when it is big."""
        if picture_bytes(frame) <= REF_MAX_BYTES:
            return frame
        return self._to_held.reformat(frame, self.width, self.height, "yuv420p")
