"""Clip extraction for one video: the function that runs inside the decode sandbox.

Two decode passes, so memory stays flat however long the video is:

1. **Scan.** Decode every frame; keep only its timestamp and its content score against the previous
   frame (64x64 thumbnails, see :mod:`.scenes`). This measures the real duration and frame rate, finds
   the cuts and enforces ``max_duration_s`` as it goes.
2. **Sample.** From the clip spans and the sampling plan, the frame indices to keep are known; decode
   again, keep exactly those frames (upright, capped to ``frame_max_pixels``, JPEG), measure motion
   between consecutive samples, and optionally re-encode each clip to its own MP4. Without MP4s, the
   decoder is told to drop frames nothing refers to (``skip_frame=NONREF``) unless they are planned:
   B-frames in most H.264/HEVC (measured: that decode 6-33% cheaper on the bench files, ~5-9% off a
   whole ``extract_clips``); the planned frames are bit-identical either way.

Everything is deterministic for a given input and config (no RNG), so a retry or rerun reproduces the
same clips. Expected failures raise :class:`Reject` with a code from :data:`.clip_stage.REJECT_REASONS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import av
import numpy as np

from mmcurate.pipeline.stage import Reject
from mmcurate.pipeline.video import frames as F
from mmcurate.pipeline.video.probe import (
    VideoProbe,
    VideoSource,
    frame_time,
    open_container,
    stream_info,
    timing_from_timestamps,
)
from mmcurate.pipeline.video.scenes import THUMB_SIZE, ClipSpan, detect_cuts, frame_difference, split_spans

__all__ = ["DEFAULT_CODECS", "ExtractParams", "ExtractedClip", "Extraction", "extract_clips"]

# Codecs we decode in production (FFmpeg canonical names). Anything else (ffv1, prores, rawvideo, a
# codec the wheel cannot decode) is `unsupported_codec`: rare in web video and a common fuzzing vector.
DEFAULT_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg1video", "mpeg2video", "mpeg4", "mjpeg")


@dataclass(frozen=True)
class ExtractParams:
    """The extraction config (a plain, picklable value: it travels to the sandbox)."""

    codecs: tuple[str, ...] | None = DEFAULT_CODECS  # None: any codec the wheel decodes
    max_pixels: int = 7680 * 4320  # 8K UHD; judged from the header before any decode
    max_duration_s: float = 3600.0
    keep_partial: bool = True  # truncated mid-stream: keep the decoded part (flagged) or reject
    cut_threshold: float = 30.0
    cut_adaptive_ratio: float = 3.0
    min_scene_frames: int = 3
    max_clip_s: float | None = 10.0
    min_clip_s: float = 1.0
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    frame_factor: int = 2
    uniform_n: int | None = None  # sample exactly N frames per clip instead of by fps
    frame_max_pixels: int = F.QWEN_VIDEO_MAX_PIXELS
    jpeg_quality: int = 90
    encode_mp4: bool = False
    threads: int = 1  # decoder threads; one per sandbox keeps Ray's CPU accounting honest

    def __post_init__(self) -> None:
        checks = {
            "fps > 0": self.fps > 0,
            "1 <= min_frames <= max_frames": 1 <= self.min_frames <= self.max_frames,
            "frame_factor >= 1": self.frame_factor >= 1,
            "min_clip_s >= 0": self.min_clip_s >= 0,
            "max_clip_s > min_clip_s": self.max_clip_s is None or self.max_clip_s > self.min_clip_s,
            "uniform_n >= 1": self.uniform_n is None or self.uniform_n >= 1,
            "max_pixels, frame_max_pixels >= 4": min(self.max_pixels, self.frame_max_pixels) >= 4,
            "max_duration_s > 0": self.max_duration_s > 0,
            "1 <= jpeg_quality <= 95": 1 <= self.jpeg_quality <= 95,
            "threads >= 0": self.threads >= 0,
        }
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"ExtractParams: need {', '.join(failed)}")


@dataclass
class ExtractedClip:
    """One clip; ``to_row`` gives the ``clips`` struct value (see :data:`.columns.CLIP_TYPE`)."""

    clip_index: int
    start_s: float
    end_s: float
    start_frame: int
    n_frames: int
    start_reason: str
    frame_ts: list[float]
    frames: list[bytes] = field(default_factory=list)
    width: int = 0
    height: int = 0
    sample_fps: float = 0.0
    motion: float | None = None
    mp4: bytes | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extraction:
    """What the sandbox returns: the probe and the clips."""

    probe: VideoProbe
    clips: list[ExtractedClip]


def _open_stream(source: VideoSource, threads: int) -> tuple[av.container.InputContainer, Any]:
    container = open_container(source)
    stream = container.streams.video[0] if container.streams.video else None
    if stream is not None and stream.codec_context is not None:
        stream.codec_context.thread_count = threads
    return container, stream


def _scan(
    source: VideoSource, p: ExtractParams
) -> tuple[VideoProbe, np.ndarray, np.ndarray, list[int | None]]:
    """Pass 1: probe, timestamps (s, from the first frame), content scores and raw pts of every frame."""
    container, stream = _open_stream(source, p.threads)
    with container:
        info = stream_info(container)
        if stream.codec_context is None or (p.codecs is not None and info.codec not in p.codecs):
            raise Reject("unsupported_codec", f"codec {info.codec}")
        if info.width * info.height > p.max_pixels:
            raise Reject("too_large", f"{info.width}x{info.height} > {p.max_pixels} pixels")
        fallback = 1.0 / info.declared_fps if info.declared_fps else 1.0 / 25.0
        ts: list[float] = []
        pts: list[int | None] = []
        scores: list[float] = []
        prev: np.ndarray | None = None
        rotation, pix_fmt, last_dur, truncated = 0, None, None, False
        try:
            for frame in container.decode(stream):
                if not ts:
                    rotation, pix_fmt = int(round(frame.rotation / 90.0)) * 90 % 360, frame.format.name
                    if frame.width * frame.height > p.max_pixels:
                        raise Reject("too_large", f"decoded {frame.width}x{frame.height}")
                t = frame_time(frame, ts[-1] if ts else None, fallback)
                if ts and t - ts[0] > p.max_duration_s:
                    raise Reject("too_long", f"> {p.max_duration_s:g} s of decoded frames")
                ts.append(t)
                pts.append(frame.pts)
                thumb = frame.to_ndarray(width=THUMB_SIZE, height=THUMB_SIZE, format="rgb24")
                scores.append(0.0 if prev is None else frame_difference(prev, thumb))
                prev = thumb
                last_dur = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else None
        except av.error.FFmpegError as exc:
            if not ts or not p.keep_partial:
                raise Reject("truncated", f"after {len(ts)} frames: {exc}"[:300]) from exc
            truncated = True
    if not ts:
        raise Reject("truncated", "no decodable frame")
    t_arr = np.asarray(ts, dtype=np.float64)
    # Timeline from the first frame (MPEG-PS/TS start at arbitrary clocks); made monotonic so a
    # stray out-of-order pts cannot break the time search.
    t_arr = np.maximum.accumulate(t_arr - t_arr.min())
    duration, avg_fps, vfr = timing_from_timestamps(t_arr, last_dur)
    swap = rotation in (90, 270)
    probe = VideoProbe(
        container=info.container, codec=info.codec, pix_fmt=pix_fmt, width=info.width, height=info.height,
        rotation=rotation, display_width=info.height if swap else info.width,
        display_height=info.width if swap else info.height, n_frames=len(ts), duration_s=duration,
        declared_duration_s=info.declared_duration_s, avg_fps=avg_fps, declared_fps=info.declared_fps,
        vfr=vfr, has_audio=info.has_audio, truncated=truncated,
    )
    return probe, t_arr, np.asarray(scores, dtype=np.float64), pts


def _plan(span: ClipSpan, ts: np.ndarray, p: ExtractParams) -> np.ndarray:
    """Frame indices to sample from one span (nearest decoded frame to each target time)."""
    if p.uniform_n is not None:
        targets = F.uniform_timestamps(span.start_s, span.end_s, min(p.uniform_n, span.n_frames))
    else:
        targets = F.sample_timestamps(span.start_s, span.end_s, fps=p.fps, min_frames=p.min_frames,
                                      max_frames=p.max_frames, frame_factor=p.frame_factor,
                                      available=span.n_frames)
    return F.nearest_frames(ts, targets, span.start_frame, span.end_frame)


def _decode_again(source: VideoSource, p: ExtractParams, last_needed: int,
                  skip_by_pts: dict[int, int] | None) -> Iterator[tuple[int, av.VideoFrame]]:
    """Pass 2's decode: ``(index, frame)`` in presentation order, up to frame ``last_needed``.

    With ``skip_by_pts`` (planned pts -> frame index; only when every pass-1 frame had a distinct pts),
    a packet whose pts is not planned is decoded with ``skip_frame=NONREF``, so the decoder drops it if
    no other frame references it, and frames are identified by pts. A frame the decoder still returns
    but that is not planned (a reference frame) is not yielded.
    """
    container, stream = _open_stream(source, p.threads)
    with container:
        ctx = stream.codec_context
        k, remaining = -1, len(skip_by_pts or ())
        for packet in container.demux(stream):
            if skip_by_pts is not None:
                # A packet without pts (the flush packet, some elementary streams) is always decoded.
                planned = packet.pts is None or packet.pts in skip_by_pts
                ctx.skip_frame = "DEFAULT" if planned else "NONREF"
            for frame in ctx.decode(packet):
                if skip_by_pts is None:
                    k += 1
                elif (found := skip_by_pts.get(frame.pts)) is None:  # type: ignore[arg-type]
                    continue
                else:
                    k, remaining = found, remaining - 1
                if k > last_needed:
                    return
                yield k, frame
                if skip_by_pts is not None and remaining == 0:
                    return


def _sample(source: VideoSource, p: ExtractParams, probe: VideoProbe, ts: np.ndarray, pts: list[int | None],
            spans: list[ClipSpan], plans: list[np.ndarray]) -> list[ExtractedClip]:
    """Pass 2: decode again and keep the planned frames (and clip MP4s)."""
    sw, sh = F.storage_size(probe.width, probe.height, p.frame_max_pixels)
    up_w, up_h = (sh, sw) if probe.rotation in (90, 270) else (sw, sh)
    clips = [ExtractedClip(i, s.start_s, s.end_s, s.start_frame, s.n_frames, s.start_reason,
                           [float(ts[k]) for k in plan], width=up_w, height=up_h,
                           sample_fps=len(plan) / s.duration_s if s.duration_s > 0 else 0.0)
             for i, (s, plan) in enumerate(zip(spans, plans))]
    wanted: dict[int, list[int]] = {}
    for ci, plan in enumerate(plans):
        for k in plan:
            wanted.setdefault(int(k), []).append(ci)
    last_needed = max(s.end_frame for s in spans) - 1
    thumbs: list[list[tuple[int, np.ndarray]]] = [[] for _ in spans]
    encoders: dict[int, F.ClipEncoder] = {}
    span_of = np.full(last_needed + 1, -1, dtype=np.int64)
    for ci, s in enumerate(spans):
        span_of[s.start_frame : s.end_frame] = ci
    skip_by_pts = None
    if not p.encode_mp4 and None not in pts and len(set(pts)) == len(pts):
        skip_by_pts = {int(pts[k]): k for k in wanted}  # type: ignore[arg-type]
    try:
        for k, frame in _decode_again(source, p, last_needed, skip_by_pts):
            ci = int(span_of[k])
            keep, encode = k in wanted, p.encode_mp4 and ci >= 0
            if not (keep or encode):
                continue
            rgb = frame.to_ndarray(width=sw, height=sh, format="rgb24")
            if keep:
                jpeg = F.encode_jpeg(F.upright(rgb, probe.rotation), p.jpeg_quality)
                small = frame.to_ndarray(width=THUMB_SIZE, height=THUMB_SIZE, format="rgb24")
                for cj in wanted[k]:
                    clips[cj].frames.append(jpeg)
                    if not thumbs[cj] or thumbs[cj][-1][0] != k:
                        thumbs[cj].append((k, small))
            if encode:
                enc = encoders.setdefault(ci, F.ClipEncoder(sw, sh, probe.rotation))
                enc.add(rgb, float(ts[k]) - spans[ci].start_s)
                if k == spans[ci].end_frame - 1:
                    clips[ci].mp4 = encoders.pop(ci).finish()
    except av.error.FFmpegError:
        pass  # a truncated file ends where pass 1 ended; missing frames are checked below
    if any(len(c.frames) != len(c.frame_ts) for c in clips):
        if skip_by_pts is not None:  # pts did not survive the second demux as in the first: decode it all
            return _sample(source, p, probe, ts, [None] * len(pts), spans, plans)
        raise Reject("truncated", "second decode pass ended before the first")
    for ci, enc in encoders.items():
        clips[ci].mp4 = enc.finish()
    for c, th in zip(clips, thumbs):
        diffs = [frame_difference(a[1], b[1]) for a, b in zip(th[:-1], th[1:])]
        c.motion = float(np.mean(diffs)) if diffs else None
    return clips


def extract_clips(source: VideoSource, params: ExtractParams = ExtractParams()) -> Extraction:
    """Probe, split into scene clips, sample frames. Raises ``Reject`` for bad input.

    Run it through :func:`~.sandbox.run_sandboxed`; calling it in-process is fine for trusted files.
    """
    probe, ts, scores, pts = _scan(source, params)
    cuts = detect_cuts(scores, threshold=params.cut_threshold, adaptive_ratio=params.cut_adaptive_ratio,
                       min_scene_frames=params.min_scene_frames)
    spans = split_spans(ts, probe.duration_s, cuts, max_clip_s=params.max_clip_s, min_clip_s=params.min_clip_s)
    if not spans:
        return Extraction(probe, [])
    plans = [_plan(s, ts, params) for s in spans]
    return Extraction(probe, _sample(source, params, probe, ts, pts, spans, plans))

