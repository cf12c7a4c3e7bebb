"""Frame sampling by timestamp, and how sampled frames are stored (JPEG, optionally a clip MP4).

The count follows Qwen2-VL's video recipe (qwen-vl-utils ``smart_nframes``): ``n = duration x fps``
(2 fps by default), clamped to ``[min_frames, max_frames]`` and to the frames that exist, floored to a
multiple of ``frame_factor`` (2: Qwen merges two frames per temporal patch).

Placement is *causal*, so frames can be picked while the clip is still being decoded (one decode pass,
bounded memory; see :class:`ClipSampler`): targets sit on a fixed ``1/fps`` grid from the clip start,
``t_k = start + (k + 0.5) / fps`` (the centres of ``1/fps`` slices, as transformers' Qwen2-VL video
processor uses a fixed stride), and the first ``n`` are kept. Each target takes the decoded frame
*nearest in time*, so a variable-frame-rate video is sampled by when things happen, not by frame index;
a frame is taken at most once (when frames are sparser than the grid, the count drops to the distinct
frames, floored to ``frame_factor``). For a clip of a whole number of ``1/fps`` slices this is exactly
the earlier "centres of ``n`` equal slices" placement. Picking stops at ``max_frames``, so a clip longer
than ``max_frames / fps`` (384 s by default; only reachable with ``max_clip_s=None``) is sampled over its
first ``max_frames / fps`` seconds, where the earlier placement spread them (it needed the clip's end).

A clip shorter than ``min_frames / fps`` needs *more* frames than its grid has, so it keeps the equal
slices: ``n`` targets at the centres of ``n`` equal slices of the clip, which needs the clip's end; the
sampler remembers that young a clip's frames (the extractor holds their pictures) until the clip is
either over or too old to be short. Uniform-N sampling (``n`` fixed, as LLaVA-style
``frames_upbound``) is the equal-slices placement with ``n`` given.

Frames are stored upright (display rotation applied) and capped to ``max_pixels`` (Qwen2-VL's
``VIDEO_MAX_PIXELS = 768 x 28 x 28`` by default), so later token counting sees the real frame size.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import av
import numpy as np
from PIL import Image

__all__ = [
    "QWEN_VIDEO_MAX_PIXELS",
    "frame_count",
    "ClipSampler",
    "sample_timestamps",
    "uniform_timestamps",
    "nearest_frames",
    "storage_size",
    "upright",
    "encode_jpeg",
    "ClipEncoder",
]

QWEN_VIDEO_MAX_PIXELS = 768 * 28 * 28


def _count_bounds(min_frames: int, max_frames: int, frame_factor: int) -> tuple[int, int]:
    """``min_frames`` rounded up and ``max_frames`` rounded down to a multiple of ``frame_factor``."""
    return (math.ceil(min_frames / frame_factor) * frame_factor,
            math.floor(max_frames / frame_factor) * frame_factor)


def frame_count(
    duration_s: float, *, fps: float = 2.0, min_frames: int = 4, max_frames: int = 768,
    frame_factor: int = 2, available: int | None = None,
) -> int:
    """How many frames to sample from a clip of ``duration_s`` seconds (``available`` frames in it)."""
    lo, hi = _count_bounds(min_frames, max_frames, frame_factor)
    n = min(max(duration_s * fps, lo), hi)
    if available is not None:
        n = min(n, available)
    n = math.floor(n / frame_factor) * frame_factor
    # A clip with fewer frames than one temporal patch still gives its frame rather than nothing;
    # trainers pad frame lists to the factor by repeating the last frame.
    return max(1, int(n))


def uniform_timestamps(start_s: float, end_s: float, n: int) -> np.ndarray:
    """``n`` timestamps at the centres of ``n`` equal slices of ``[start_s, end_s)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    step = (end_s - start_s) / n
    return start_s + step * (np.arange(n, dtype=np.float64) + 0.5)


def sample_timestamps(
    start_s: float, end_s: float, *, fps: float = 2.0, min_frames: int = 4, max_frames: int = 768,
    frame_factor: int = 2, available: int | None = None,
) -> np.ndarray:
    """Target timestamps for sampling a clip at ``fps`` (see the module docstring for the rule)."""
    duration = end_s - start_s
    n = frame_count(duration, fps=fps, min_frames=min_frames, max_frames=max_frames,
                    frame_factor=frame_factor, available=available)
    if duration * fps < _count_bounds(min_frames, max_frames, frame_factor)[0]:
        return uniform_timestamps(start_s, end_s, n)  # short clip: denser than the grid
    return start_s + (np.arange(n, dtype=np.float64) + 0.5) / fps


class ClipSampler:
    """Causal frame picks for one clip: :meth:`push` its frames in order, then :meth:`finish`.

    Works on ``(frame index, time)`` only; the caller holds pictures. After each push, new entries of
    :attr:`picks` are the current frame or the one pushed just before it (a target is decided when the
    first frame at or past it arrives), so the caller needs the previous frame and nothing older, except
    while the clip is :meth:`young`: then it must keep every frame's picture, because a clip that ends
    before ``min_frames / fps`` is resampled over its real length. Picks stop at ``max_frames``.
    """

    def __init__(self, start_s: float, *, fps: float = 2.0, min_frames: int = 4, max_frames: int = 768,
                 frame_factor: int = 2) -> None:
        self.start_s, self.fps = start_s, fps
        self._count = {"fps": fps, "min_frames": min_frames, "max_frames": max_frames,
                       "frame_factor": frame_factor}
        self._lo, self._hi = _count_bounds(min_frames, max_frames, frame_factor)
        self._factor = frame_factor
        self.picks: list[int] = []
        self.n_frames = 0
        self._k = 0  # next grid target
        self._last: tuple[int, float] | None = None
        self._young: list[tuple[int, float]] = []

    def young(self, t: float) -> bool:
        """Whether a clip that has reached ``t`` could still end up short (needing equal slices)."""
        return (t - self.start_s) * self.fps < self._lo

    def push(self, index: int, t: float) -> None:
        """The clip's next frame (presentation order)."""
        self.n_frames += 1
        while len(self.picks) < self._hi and (target := self._target()) <= t:
            nearer_last = self._last is not None and target - self._last[1] <= t - target
            self._take(self._last[0] if nearer_last and self._last is not None else index)
        if self.young(t):
            self._young.append((index, t))
        else:
            self._young.clear()
        self._last = (index, t)

    def finish(self, end_s: float) -> list[int]:
        """The clip ended at ``end_s``: its sampled frame indices, in order."""
        duration = end_s - self.start_s
        n = frame_count(duration, available=self.n_frames, **self._count)
        if duration * self.fps < self._lo:
            times = np.array([t for _, t in self._young], dtype=np.float64)
            near = nearest_frames(times, uniform_timestamps(self.start_s, end_s, n))
            picks = _distinct([self._young[j][0] for j in near.tolist()])
        else:
            # Targets after the last frame but inside the clip: the last frame is the nearest one.
            while self._last is not None and len(self.picks) < self._hi and self._target() < end_s:
                self._take(self._last[0])
            picks = self.picks
        return picks[: max(1, min(n, len(picks) // self._factor * self._factor))]

    def _target(self) -> float:
        return self.start_s + (self._k + 0.5) / self.fps

    def _take(self, index: int) -> None:
        self._k += 1
        if not self.picks or self.picks[-1] != index:
            self.picks.append(index)


def _distinct(indices: list[int]) -> list[int]:
    """Drop consecutive repeats (indices are non-decreasing, so this is a set in order)."""
    return [k for j, k in enumerate(indices) if j == 0 or indices[j - 1] != k]


def nearest_frames(frame_ts: np.ndarray, targets: np.ndarray, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Index (into ``frame_ts``) of the frame nearest each target, searching only ``[lo, hi)``.

    ``frame_ts`` must be sorted within the range (decoded presentation order is).
    """
    hi = int(frame_ts.size) if hi is None else hi
    window = frame_ts[lo:hi]
    right = np.clip(np.searchsorted(window, targets), 1, max(1, window.size - 1))
    left = right - 1
    if window.size == 1:
        return np.full(targets.shape, lo, dtype=np.int64)
    pick_left = np.abs(targets - window[left]) <= np.abs(window[right] - targets)
    return lo + np.where(pick_left, left, right).astype(np.int64)


def storage_size(width: int, height: int, max_pixels: int = QWEN_VIDEO_MAX_PIXELS) -> tuple[int, int]:
    """Width and height to store a frame at: aspect kept, area capped, even sides (for YUV 4:2:0)."""
    scale = min(1.0, math.sqrt(max_pixels / max(1, width * height)))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (counter-clockwise degrees, a multiple of 90) to an HxWxC array.

    Same convention as FFmpeg's autorotate: the matrix's counter-clockwise angle is how the coded
    picture is turned for display.
    """
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """An HxWx3 uint8 array as baseline JPEG bytes (4:2:0, no metadata)."""
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


class ClipEncoder:
    """Re-encodes one clip to its own MP4 (H.264 when the wheel has libx264, else MPEG-4 Part 2).

    Frames keep their source timestamps relative to the clip start (so VFR survives) and their coded
    orientation; the source's rotation is written back as the display matrix.
    """

    TIME_BASE = Fraction(1, 90_000)

    def __init__(self, width: int, height: int, rotation: int = 0, *, crf: int = 23) -> None:
        self._buf = io.BytesIO()
        self._out = av.open(self._buf, mode="w", format="mp4")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self._stream = self._out.add_stream(codec, rate=30)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = self.TIME_BASE
        if codec == "libx264":
            self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        if rotation:
            self._stream.set_display_rotation(rotation)
        self._last_pts = -1

    def add(self, rgb: np.ndarray, t_rel: float) -> None:
        """Encode one coded-orientation RGB frame at ``t_rel`` seconds from the clip start."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        pts = max(int(round(t_rel / self.TIME_BASE)), self._last_pts + 1)
        frame.pts, frame.time_base, self._last_pts = pts, self.TIME_BASE, pts
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def finish(self) -> bytes:
        """Flush the encoder, close the container and return the MP4 bytes."""
        for packet in self._stream.encode():
            self._out.mux(packet)
        self._out.close()
        return self._buf.getvalue()
