"""Frame sampling by timestamp, and how sampled frames are stored (JPEG, optionally a clip MP4).

Sampling follows Qwen2-VL's video recipe (qwen-vl-utils ``smart_nframes``): ``n = duration x fps``
(2 fps by default), clamped to ``[min_frames, max_frames]`` and to the frames that exist, floored to a
multiple of ``frame_factor`` (2: Qwen merges two frames per temporal patch). The ``n`` targets are the
centres of ``n`` equal slices of the clip, and each takes the decoded frame *nearest in time*, so a
variable-frame-rate video is sampled by when things happen, not by frame index. Uniform-N sampling
(``n`` fixed, as LLaVA-style ``frames_upbound``) is the same placement with ``n`` given.

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
    "sample_timestamps",
    "uniform_timestamps",
    "nearest_frames",
    "storage_size",
    "upright",
    "encode_jpeg",
    "ClipEncoder",
]

QWEN_VIDEO_MAX_PIXELS = 768 * 28 * 28


def frame_count(
    duration_s: float, *, fps: float = 2.0, min_frames: int = 4, max_frames: int = 768,
    frame_factor: int = 2, available: int | None = None,
) -> int:
    """How many frames to sample from a clip of ``duration_s`` seconds (``available`` frames in it)."""
    n = duration_s * fps
    lo = math.ceil(min_frames / frame_factor) * frame_factor
    hi = math.floor(max_frames / frame_factor) * frame_factor
    n = min(max(n, lo), hi)
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
    """Target timestamps for sampling a clip at ``fps`` (see the module docstring for the count)."""
    n = frame_count(end_s - start_s, fps=fps, min_frames=min_frames, max_frames=max_frames,
                    frame_factor=frame_factor, available=available)
    return uniform_timestamps(start_s, end_s, n)


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
