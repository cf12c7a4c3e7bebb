"""Scene cuts and clip spans: where a video is split, and into which clips.

Why our own detector and not PySceneDetect: ``scenedetect`` 0.7 requires ``opencv-python`` (the GUI
build, with its libGL dependency) even when PyAV does the decoding, only to convert frames to HSV and
take the mean channel delta. We already decode every frame in the sandbox, so the same content score is
a few numpy lines over a small thumbnail: the mean absolute difference (0-255) between consecutive
frames' 64x64 RGB thumbnails. A frame starts a new scene when its score is over ``threshold`` *and*
``adaptive_ratio`` times the mean score of its neighbours (PySceneDetect's AdaptiveDetector idea): fast
motion raises the neighbours too and is not a cut; a hard cut is a lone spike.

Spans then respect a maximum clip length (long scenes are cut into equal parts at frame boundaries) and
a minimum one (slivers, e.g. a 3-frame flash between two cuts, are dropped, never merged into a
neighbour that they do not belong to).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["THUMB_SIZE", "ClipSpan", "frame_difference", "detect_cuts", "split_spans"]

# Thumbnail side for content scores: big enough to see a cut, small enough to cost ~nothing per frame.
THUMB_SIZE = 64


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference (0-255) of two same-shape uint8 images."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def detect_cuts(
    scores: np.ndarray | Sequence[float],
    *,
    threshold: float = 30.0,
    adaptive_ratio: float = 3.0,
    window: int = 2,
    min_scene_frames: int = 3,
) -> list[int]:
    """Indices of frames that start a new scene.

    ``scores[i]`` is the content difference between frame ``i - 1`` and frame ``i`` (``scores[0]`` is
    ignored). A cut at ``i`` needs ``scores[i] >= threshold`` and ``scores[i] >= adaptive_ratio`` x the
    mean of the ``window`` scores on each side; a cut closer than ``min_scene_frames`` to the previous
    one is skipped (flashes and strobes are not scenes).
    """
    s = np.asarray(scores, dtype=np.float64)
    cuts: list[int] = []
    last = 0
    for i in range(1, s.size):
        if s[i] < threshold:
            continue
        lo, hi = max(1, i - window), min(s.size, i + window + 1)
        neighbours = np.concatenate([s[lo:i], s[i + 1 : hi]])
        if neighbours.size and s[i] < adaptive_ratio * float(neighbours.mean()):
            continue
        if i - last < min_scene_frames:
            continue
        cuts.append(i)
        last = i
    return cuts


@dataclass(frozen=True)
class ClipSpan:
    """A clip as a range of decoded frames ``[start_frame, end_frame)`` and its time range."""

    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    start_reason: str

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _split_long(
    ts: np.ndarray, start: int, end: int, end_s: float, max_clip_s: float, reason: str
) -> list[ClipSpan]:
    """Split frames ``[start, end)`` into ``ceil(duration / max_clip_s)`` near-equal parts."""
    t0 = float(ts[start])
    duration = end_s - t0
    parts = max(1, math.ceil(duration / max_clip_s - 1e-9))
    # Boundaries at equal times, snapped to the first frame at or after each; a part never exceeds
    # max_clip_s by more than the frame that straddles its end.
    bounds = [start]
    for k in range(1, parts):
        idx = int(np.searchsorted(ts[start:end], t0 + k * duration / parts - 1e-9)) + start
        if bounds[-1] < idx < end:
            bounds.append(idx)
    bounds.append(end)
    spans = []
    for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        stop = float(ts[b]) if b < end else end_s
        spans.append(ClipSpan(a, b, float(ts[a]), stop, reason if j == 0 else "max_length"))
    return spans


def split_spans(
    frame_ts: np.ndarray | Sequence[float],
    end_s: float,
    cuts: Sequence[int],
    *,
    max_clip_s: float | None = 10.0,
    min_clip_s: float = 1.0,
) -> list[ClipSpan]:
    """Clip spans from scene cuts, a maximum and a minimum clip length.

    ``frame_ts`` are the decoded frames' timestamps in order; ``end_s`` is where the last frame ends.
    """
    ts = np.asarray(frame_ts, dtype=np.float64)
    if ts.size == 0:
        return []
    starts = [0, *[c for c in cuts if 0 < c < ts.size]]
    spans: list[ClipSpan] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else int(ts.size)
        stop = float(ts[end]) if end < ts.size else float(end_s)
        reason = "start" if start == 0 else "cut"
        if max_clip_s is not None and stop - float(ts[start]) > max_clip_s:
            spans.extend(_split_long(ts, start, end, stop, max_clip_s, reason))
        else:
            spans.append(ClipSpan(start, end, float(ts[start]), stop, reason))
    return [s for s in spans if s.duration_s >= min_clip_s - 1e-9]
