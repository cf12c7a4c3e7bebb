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
from dataclasses import dataclass

import av
import numpy as np

from mmcurate.pipeline.video.decode_loop import (
    REF_MAX_BYTES,
    FrameStore,
    Timeline,
    clip_sampler,
    cut_detector,
    decode_frames,
    motion_score,
    picture_bytes,
)
from mmcurate.pipeline.video.extract_params import (
    DEFAULT_CODECS,
    DEFAULT_PIX_FMTS,
    ExtractedClip,
    Extraction,
    ExtractParams,
)
from mmcurate.pipeline.video.probe import (
    VideoSource,
)
from mmcurate.pipeline.video.scenes import (
    ClipSegmenter,
    ClipSpan,
)
from mmcurate.pipeline.video.two_pass import extract_two_pass

__all__ = ["DEFAULT_CODECS", "DEFAULT_PIX_FMTS", "REF_MAX_BYTES", "BufferStats", "ExtractParams", "ExtractedClip",
           "Extraction", "extract_clips"]


@dataclass
class BufferStats:
    """Peak pictures held for young clips during a single pass (the memory bound, made checkable)."""

    peak_frames: int = 0
    peak_bytes: int = 0

    def observe(self, frames: int, nbytes: int) -> None:
        self.peak_frames, self.peak_bytes = max(self.peak_frames, frames), max(self.peak_bytes, nbytes)


class _OpenClip:
    """The clip being decoded in a single pass: picks causally, keeps pictures only as long as needed."""

    def __init__(self, start_frame: int, start_s: float, reason: str, p: ExtractParams, store: FrameStore,
                 stats: BufferStats) -> None:
        self.start_frame, self.start_s, self.reason = start_frame, start_s, reason
        self.sampler = clip_sampler(start_s, p)
        self._store, self._stats = store, stats
        self._young: dict[int, av.VideoFrame] = {}  # all frames while the clip may still end short
        self._young_bytes = 0
        self._last: tuple[int, av.VideoFrame] | None = None
        self._stored: dict[int, tuple[bytes, np.ndarray]] = {}

    def add(self, index: int, t: float, frame: av.VideoFrame) -> None:
        self.sampler.push(index, t)
        if self.sampler.young(t):
            frame = self._young[index] = self._store.hold(frame)
            self._young_bytes += picture_bytes(frame)
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
            motion=motion_score([thumb for _, thumb in samples]),
        )


class _SinglePass:
    """Routes cut-decided frames into clips: opens, closes and keeps (or drops as slivers) clips."""

    def __init__(self, p: ExtractParams, tl: Timeline) -> None:
        self.p, self.tl = p, tl
        self.segmenter = ClipSegmenter(p.max_clip_s, p.min_clip_s)
        self.clips: list[ExtractedClip] = []
        self.stats = BufferStats()
        self._open: _OpenClip | None = None
        self._store: FrameStore | None = None

    def add(self, index: int, frame: av.VideoFrame, is_cut: bool) -> None:
        t = self.tl.ts[index]
        reason = self.segmenter.start_reason(t, is_cut)
        if reason is not None:
            self.close(index, t)
            if self._store is None:
                assert self.tl.info is not None
                self._store = FrameStore.for_video(self.tl.info.width, self.tl.info.height, self.tl.rotation, self.p)
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
    tl = Timeline()
    detector, run = cut_detector(p), _SinglePass(p, tl)
    waiting: deque[av.VideoFrame] = deque()  # decoded frames whose cut decision is still open
    for _, frame, score in decode_frames(source, p, tl):
        waiting.append(frame)
        for index, is_cut in detector.push(score):
            run.add(index, waiting.popleft(), is_cut)
    for index, is_cut in detector.flush():
        run.add(index, waiting.popleft(), is_cut)
    probe = tl.probe()
    run.close(len(tl.ts), probe.duration_s)
    return Extraction(probe, run.clips), run.stats


def extract_clips(source: VideoSource, params: ExtractParams = ExtractParams()) -> Extraction:  # noqa: B008 - frozen
    """Probe, split into scene clips, sample frames. Raises ``Reject`` for bad input.

    One decode pass unless ``uniform_n`` or ``encode_mp4`` asks for two (see the module docstring);
    both give the same clips and frame times. Run it through :func:`~.sandbox.run_sandboxed`; calling
    it in-process is fine for trusted files.
    """
    if params.uniform_n is not None or params.encode_mp4:
        return extract_two_pass(source, params)
    return _extract_single_pass(source, params)[0]
