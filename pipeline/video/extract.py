"""Clip extraction for one video: the function that runs inside the decode sandbox.

**One decode pass** (the default): each frame is decoded once; its timestamp and its content score
against the previous frame (64x64 thumbnails, see :mod:`.scenes`) feed an online cut detector, which
decides a frame ``window`` (2) frames later; decided frames go to the open clip, which ends at a cut or
at ``max_clip_s`` (causal split, see :mod:`.scenes`) and samples its frames causally on the fixed
``1/fps`` grid (see :mod:`.frames`). A picked frame is converted at once (upright, capped to
``frame_max_pixels``, JPEG; a 64x64 thumbnail for motion), so pictures are held only briefly:

* the ``window`` frames waiting for their cut decision and the clip's previous frame (a grid target is
  decided when the first frame at or past it arrives);
* while the open clip is younger than ``min_frames / fps`` (2 s by default): its frames, since a clip
  that ends that early is sampled over its real length instead (``min_frames`` equal slices). These are
  the decoder's own frames (a reference, no copy or conversion) when a picture is at most
  :data:`REF_MAX_BYTES` (1080p 8-bit 4:2:0 is 3.1 MB), else a copy scaled to the storage size. So the
  buffer holds at most ``min_frames / fps`` seconds of frames (``min_frames`` rounded up to
  ``frame_factor``), each at most ``max(REF_MAX_BYTES, storage size in YUV 4:2:0)``: 60 pictures at
  30 fps (720p: ~83 MB; any source: <= 240 MiB), whatever the video's length (:class:`BufferStats`
  records the peak). Timestamps, pts and the clips' JPEGs are the only things that grow with length.

**Two decode passes** where the single pass cannot work: ``uniform_n`` places N frames over the whole
clip, which needs the clip's end before picking; ``encode_mp4`` re-encodes every frame of a clip. Pass 1
decodes everything for timestamps and scores; spans come from the same cut detector and segmenter and
fps plans from the same :class:`~.frames.ClipSampler`, so both paths cut and sample identically. Pass 2
decodes again and keeps the planned frames; without MP4s the decoder drops frames nothing refers to
(``skip_frame=NONREF``) unless they are planned.

Everything is deterministic for a given input and config (no RNG), so a retry or rerun reproduces the
same clips. Expected failures raise :class:`Reject` with a code from :data:`.clip_stage.REJECT_REASONS`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video import frames as F
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
    ClipSegmenter,
    ClipSpan,
    CutDetector,
    cut_thumbnail,
    detect_cuts,
    frame_difference,
    split_spans,
)

__all__ = ["DEFAULT_CODECS", "DEFAULT_PIX_FMTS", "REF_MAX_BYTES", "ExtractParams", "ExtractedClip", "Extraction", "extract_clips"]

# A young clip's buffered picture is the decoder's frame itself up to this size (no copy, no CPU);
# bigger pictures (4K, 10-bit 1440p+) are scaled to the storage size first to bound the buffer.
REF_MAX_BYTES = 4 * 1024 * 1024

# Codecs we decode in production (FFmpeg canonical names). Anything else (ffv1, prores, rawvideo, a
# codec the wheel cannot decode) is `unsupported_codec`: rare in web video and a common fuzzing vector.
DEFAULT_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg1video", "mpeg2video", "mpeg4", "mjpeg")
# Decoded pixel formats we accept: 8-bit 4:2:0 / 4:2:2 / 4:4:4 (and their full-range "j" and
# semi-planar forms), grey, and 10-bit 4:2:0 (HDR web video: AV1, VP9 profile 2, HEVC Main 10).
# High-bit-depth 4:2:2 / 4:4:4 are studio intermediates, not web video (bad-input matrix V12).
DEFAULT_PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21",
                    "gray", "yuv420p10le")


@dataclass(frozen=True)
class ExtractParams:
    """The extraction config (a plain, picklable value: it travels to the sandbox)."""

    codecs: tuple[str, ...] | None = DEFAULT_CODECS  # None: any codec the wheel decodes
    pix_fmts: tuple[str, ...] | None = DEFAULT_PIX_FMTS  # None: any pixel format
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


@dataclass
class _Timeline:
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


def _check_pix_fmt(pix_fmt: str | None, p: ExtractParams, where: str) -> None:
    """``unsupported_codec`` for a pixel format outside ``p.pix_fmts`` (a header may not say: None passes)."""
    if pix_fmt is not None and p.pix_fmts is not None and pix_fmt not in p.pix_fmts:
        raise Reject("unsupported_codec", f"{where} pixel format {pix_fmt}")


def _decode(source: VideoSource, p: ExtractParams, tl: _Timeline) -> Iterator[tuple[int, av.VideoFrame, float]]:
    """Every frame once, in presentation order: ``(index, frame, cut score)``; fills ``tl`` as it goes.

    Raises ``Reject`` for the header checks, an oversized first frame, ``max_duration_s`` and (without
    ``keep_partial``, or before any frame) a decode error; with ``keep_partial`` a decode error ends the
    video there, flagged ``truncated``.
    """
    container, stream = _open_stream(source, p.threads)
    with container:
        tl.info = info = stream_info(container)
        if stream.codec_context is None or (p.codecs is not None and info.codec not in p.codecs):
            raise Reject("unsupported_codec", f"codec {info.codec}")
        _check_pix_fmt(info.pix_fmt, p, "header")
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
                    _check_pix_fmt(tl.pix_fmt, p, "decoded")
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


def _cut_detector(p: ExtractParams) -> CutDetector:
    return CutDetector(threshold=p.cut_threshold, adaptive_ratio=p.cut_adaptive_ratio,
                       min_scene_frames=p.min_scene_frames)


def _sampler(start_s: float, p: ExtractParams) -> F.ClipSampler:
    return F.ClipSampler(start_s, fps=p.fps, min_frames=p.min_frames, max_frames=p.max_frames,
                         frame_factor=p.frame_factor)


def _motion(thumbs: list[np.ndarray]) -> float | None:
    """Mean content difference between consecutive sampled frames (None below two samples)."""
    diffs = [frame_difference(a, b) for a, b in zip(thumbs[:-1], thumbs[1:])]
    return float(np.mean(diffs)) if diffs else None


class _Store:
    """How sampled frames are stored: size, rotation, JPEG quality.

    One reformatter per conversion, so each keeps its swscale context for the whole video (see
    :func:`.scenes.cut_thumbnail`).
    """

    def __init__(self, width: int, height: int, rotation: int, quality: int) -> None:
        self.width, self.height, self.rotation, self.quality = width, height, rotation, quality
        self._to_rgb, self._to_thumb, self._to_held = VideoReformatter(), VideoReformatter(), VideoReformatter()

    @classmethod
    def for_video(cls, width: int, height: int, rotation: int, p: ExtractParams) -> _Store:
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
        if _picture_bytes(frame) <= REF_MAX_BYTES:
            return frame
        return self._to_held.reformat(frame, self.width, self.height, "yuv420p")


def _picture_bytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)


@dataclass
class BufferStats:
    """Peak pictures held for young clips during a single pass (the memory bound, made checkable)."""

    peak_frames: int = 0
    peak_bytes: int = 0

    def observe(self, frames: int, nbytes: int) -> None:
        self.peak_frames, self.peak_bytes = max(self.peak_frames, frames), max(self.peak_bytes, nbytes)


class _OpenClip:
    """The clip being decoded in a single pass: picks causally, keeps pictures only as long as needed."""

    def __init__(self, start_frame: int, start_s: float, reason: str, p: ExtractParams, store: _Store,
                 stats: BufferStats) -> None:
        self.start_frame, self.start_s, self.reason = start_frame, start_s, reason
        self.sampler = _sampler(start_s, p)
        self._store, self._stats = store, stats
        self._young: dict[int, av.VideoFrame] = {}  # all frames while the clip may still end short
        self._young_bytes = 0
        self._last: tuple[int, av.VideoFrame] | None = None
        self._stored: dict[int, tuple[bytes, np.ndarray]] = {}

    def add(self, index: int, t: float, frame: av.VideoFrame) -> None:
        self.sampler.push(index, t)
        if self.sampler.young(t):
            frame = self._young[index] = self._store.hold(frame)
            self._young_bytes += _picture_bytes(frame)
            self._stats.observe(len(self._young), self._young_bytes)
        else:
            self._store_picks(index, frame)
            self._young.clear()
            self._young_bytes = 0
        self._last = (index, frame)

    def _picture(self, index: int, current: tuple[int, av.VideoFrame] | None = None) -> av.VideoFrame:
        for held in (current, self._last):
            if held is not None and held[0] == index:
                return held[1]
        return self._young[index]

    def _store_picks(self, index: int, frame: av.VideoFrame) -> None:
        """Store the picks not stored yet: the current frame, the previous one, or young-buffer frames."""
        for k in self.sampler.picks[len(self._stored):]:
            self._stored[k] = self._store.sample(self._picture(k, (index, frame)))

    def finish(self, end_frame: int, end_s: float, clip_index: int, ts: list[float]) -> ExtractedClip:
        picks = self.sampler.finish(end_s)
        samples = [self._stored.get(k) or self._store.sample(self._picture(k)) for k in picks]
        w, h = self._store.upright_size
        duration = end_s - self.start_s
        return ExtractedClip(
            clip_index, self.start_s, end_s, self.start_frame, end_frame - self.start_frame, self.reason,
            [ts[k] for k in picks], [jpeg for jpeg, _ in samples], width=w, height=h,
            sample_fps=len(picks) / duration if duration > 0 else 0.0,
            motion=_motion([thumb for _, thumb in samples]),
        )


class _SinglePass:
    """Routes cut-decided frames into clips: opens, closes and keeps (or drops as slivers) clips."""

    def __init__(self, p: ExtractParams, tl: _Timeline) -> None:
        self.p, self.tl = p, tl
        self.segmenter = ClipSegmenter(p.max_clip_s, p.min_clip_s)
        self.clips: list[ExtractedClip] = []
        self.stats = BufferStats()
        self._open: _OpenClip | None = None
        self._store: _Store | None = None

    def add(self, index: int, frame: av.VideoFrame, is_cut: bool) -> None:
        t = self.tl.ts[index]
        reason = self.segmenter.start_reason(t, is_cut)
        if reason is not None:
            self.close(index, t)
            if self._store is None:
                assert self.tl.info is not None
                self._store = _Store.for_video(self.tl.info.width, self.tl.info.height, self.tl.rotation, self.p)
            self._open = _OpenClip(index, t, reason, self.p, self._store, self.stats)
        assert self._open is not None
        self._open.add(index, t, frame)

    def close(self, end_frame: int, end_s: float) -> None:
        clip, self._open = self._open, None
        if clip is None:
            return
        span = ClipSpan(clip.start_frame, end_frame, clip.start_s, end_s, clip.reason)
        if self.segmenter.keeps(span):
            self.clips.append(clip.finish(end_frame, end_s, len(self.clips), self.tl.ts))


def _extract_single_pass(source: VideoSource, p: ExtractParams) -> tuple[Extraction, BufferStats]:
    tl = _Timeline()
    detector, run = _cut_detector(p), _SinglePass(p, tl)
    waiting: deque[av.VideoFrame] = deque()  # decoded frames whose cut decision is still open
    for _, frame, score in _decode(source, p, tl):
        waiting.append(frame)
        for index, is_cut in detector.push(score):
            run.add(index, waiting.popleft(), is_cut)
    for index, is_cut in detector.flush():
        run.add(index, waiting.popleft(), is_cut)
    probe = tl.probe()
    run.close(len(tl.ts), probe.duration_s)
    return Extraction(probe, run.clips), run.stats


def _plan(span: ClipSpan, ts: np.ndarray, p: ExtractParams) -> np.ndarray:
    """Frame indices to sample from one span (the single pass's rule, run over known timestamps)."""
    if p.uniform_n is not None:
        targets = F.uniform_timestamps(span.start_s, span.end_s, min(p.uniform_n, span.n_frames))
        return F.nearest_frames(ts, targets, span.start_frame, span.end_frame)
    sampler = _sampler(span.start_s, p)
    for k in range(span.start_frame, span.end_frame):
        sampler.push(k, float(ts[k]))
    return np.asarray(sampler.finish(span.end_s), dtype=np.int64)


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
    """Two-pass path, pass 2: decode again and keep the planned frames (and clip MP4s)."""
    store = _Store.for_video(probe.width, probe.height, probe.rotation, p)
    (sw, sh), (up_w, up_h) = (store.width, store.height), store.upright_size
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
            rgb = store.rgb(frame)
            if keep:
                jpeg, small = store.jpeg(rgb), store.thumbnail(frame)
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
        c.motion = _motion([thumb for _, thumb in th])
    return clips


def _extract_two_pass(source: VideoSource, p: ExtractParams) -> Extraction:
    tl = _Timeline()
    scores = [score for _, _, score in _decode(source, p, tl)]
    probe, ts = tl.probe(), np.asarray(tl.ts, dtype=np.float64)
    cuts = detect_cuts(scores, threshold=p.cut_threshold, adaptive_ratio=p.cut_adaptive_ratio,
                       min_scene_frames=p.min_scene_frames)
    spans = split_spans(ts, probe.duration_s, cuts, max_clip_s=p.max_clip_s, min_clip_s=p.min_clip_s)
    if not spans:
        return Extraction(probe, [])
    plans = [_plan(s, ts, p) for s in spans]
    return Extraction(probe, _sample(source, p, probe, ts, tl.pts, spans, plans))


def extract_clips(source: VideoSource, params: ExtractParams = ExtractParams()) -> Extraction:
    """Probe, split into scene clips, sample frames. Raises ``Reject`` for bad input.

    One decode pass unless ``uniform_n`` or ``encode_mp4`` asks for two (see the module docstring);
    both give the same clips and frame times. Run it through :func:`~.sandbox.run_sandboxed`; calling
    it in-process is fine for trusted files.
    """
    if params.uniform_n is not None or params.encode_mp4:
        return _extract_two_pass(source, params)
    return _extract_single_pass(source, params)[0]
