"""Video filters: duration, resolution and motion, scored from what ``VideoClips`` measured.

Each filter only reads columns the clip stage wrote (``video_probe``, ``clips``), so scoring is cheap
Arrow work and re-deciding with other thresholds never decodes again. Each writes its score columns
under its versioned name and drops with ``<name>:<reason>``; rows without a video (null probe) score
null and are kept: these filters judge videos, not the absence of one.

Motion is the mean absolute difference (0-255 on 64x64 RGB thumbnails) between consecutive *sampled*
frames of a clip, so it is measured at the sampling rate (2 fps by default), not the stream's frame
rate, and a 60 fps video is not "stiller" than a 24 fps one. Clips never contain a cut, so a slideshow
(cuts between still slides) and a frozen stream both score near 0. The video's score is the mean of its
clips weighted by clip duration: a stream that froze for most of its length scores low even if it
moved at the start. Per-clip CLIP scores are left to integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.video.columns import CLIPS, VIDEO_PROBE

__all__ = ["VideoDurationFilter", "VideoResolutionFilter", "VideoMotionFilter", "weighted_motion"]


def _probe_field(batch: pa.Table, name: str) -> pa.ChunkedArray:
    return pc.struct_field(batch.column(VIDEO_PROBE), name)


@dataclass(kw_only=True)
class VideoDurationFilter(Filter):
    """Drops videos shorter than ``min_s`` (``too_short``) or longer than ``max_s`` (``too_long``)."""

    name: ClassVar[str] = "video_duration_v1"
    reads: ClassVar[tuple[str, ...]] = (VIDEO_PROBE,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("video_duration_v1_seconds", pa.float64(), metadata={"doc": "decoded duration, seconds"}),
    )
    min_s: float = 2.0
    max_s: float = 3600.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.min_s < self.max_s:
            raise ValueError(f"{self.name}: need 0 <= min_s < max_s, got {self.min_s}, {self.max_s}")

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"video_duration_v1_seconds": _probe_field(batch, "duration_s")}

    def decide(self, scores: dict[str, Any]) -> str | None:
        seconds = scores["video_duration_v1_seconds"]
        if seconds is None:
            return None
        if seconds < self.min_s:
            return "too_short"
        return "too_long" if seconds > self.max_s else None


@dataclass(kw_only=True)
class VideoResolutionFilter(Filter):
    """Drops videos whose displayed short side is under ``min_short_side`` or that are too elongated."""

    name: ClassVar[str] = "video_resolution_v1"
    reads: ClassVar[tuple[str, ...]] = (VIDEO_PROBE,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("video_resolution_v1_short_side", pa.int32(), metadata={"doc": "displayed short side, px"}),
        pa.field("video_resolution_v1_long_side", pa.int32(), metadata={"doc": "displayed long side, px"}),
    )
    min_short_side: int = 144  # 144p is the smallest rung of common streaming ladders
    max_aspect_ratio: float = 3.0  # long/short; banners and scrolling tickers beyond this

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        w, h = _probe_field(batch, "display_width"), _probe_field(batch, "display_height")
        return {
            "video_resolution_v1_short_side": pc.min_element_wise(w, h),
            "video_resolution_v1_long_side": pc.max_element_wise(w, h),
        }

    def decide(self, scores: dict[str, Any]) -> str | None:
        short, long = scores["video_resolution_v1_short_side"], scores["video_resolution_v1_long_side"]
        if short is None or long is None:
            return None
        if short < self.min_short_side:
            return "too_small"
        return "aspect_ratio" if long > self.max_aspect_ratio * max(1, short) else None


def weighted_motion(clips: list[dict[str, Any]] | None) -> float | None:
    """Duration-weighted mean of the clips' motion; clips with one sample count as 0 (nothing moved)."""
    if not clips:
        return None
    total = sum(max(0.0, c["end_s"] - c["start_s"]) for c in clips)
    if total <= 0:
        return None
    return sum((c["motion"] or 0.0) * max(0.0, c["end_s"] - c["start_s"]) for c in clips) / total


@dataclass(kw_only=True)
class VideoMotionFilter(Filter):
    """Drops static videos (slideshows, frozen streams): motion under ``min_motion`` -> ``static``."""

    name: ClassVar[str] = "video_motion_v1"
    reads: ClassVar[tuple[str, ...]] = (CLIPS,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("video_motion_v1_score", pa.float64(),
                 metadata={"doc": "duration-weighted mean abs frame difference of sampled frames, 0-255"}),
    )
    # Re-encoded still frames differ by ~0.1-0.5 (codec noise); a small moving object in a 64x48
    # test video already scores ~7, so 1.0 separates "nothing moves" from "something moves".
    min_motion: float = 1.0

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        clips = batch.column(CLIPS).to_pylist()
        return {"video_motion_v1_score": pa.array([weighted_motion(c) for c in clips], pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        score = scores["video_motion_v1_score"]
        return None if score is None or score >= self.min_motion else "static"
