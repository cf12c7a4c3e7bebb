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
moved at the start.

Per-clip decisions (``min_clip_motion``, and ``ClipFrameScore.min_clip_score`` through
:func:`drop_failing_clips`) run after the video-level rule and only on rows it kept: clips under the
threshold are removed from the row's ``clips`` (the others keep their ``clip_index``, so clip ids stay
stable) and listed with their scores in ``<name>_dropped_clips``. A video whose every clip fails is
rejected with the filter's video-level reason instead, its ``clips`` left whole for the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.marking import mark_rejected, ok_mask
from mmcurate.schemas.table import put_column
from mmcurate.schemas.video import CLIP_INDEX, CLIPS, VIDEO_PROBE

__all__ = ["VideoDurationFilter", "VideoResolutionFilter", "VideoMotionFilter", "weighted_motion",
           "DROPPED_CLIP_TYPE", "dropped_clips_field", "ClipCut", "cut_clips", "keep_clips", "drop_failing_clips"]


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


DROPPED_CLIP_TYPE = pa.struct([
    pa.field(CLIP_INDEX, pa.int32(), metadata={"doc": "the removed clip's clip_index"}),
    pa.field("score", pa.float64(), metadata={"doc": "the score that failed the per-clip threshold"}),
])


def dropped_clips_field(stage_name: str, doc: str) -> pa.Field:
    """``<stage>_dropped_clips``: what a per-clip rule removed; null where the rule did not look."""
    return pa.field(f"{stage_name}_dropped_clips", pa.list_(DROPPED_CLIP_TYPE), metadata={"doc": doc})


@dataclass(frozen=True)
class ClipCut:
    """One per-clip decision over a batch: which clips stay, what was removed, which rows lose them all."""

    keep: np.ndarray  # bool per clip, in ``list_flatten(clips)`` order
    dropped: pa.ListArray  # per row: list<DROPPED_CLIP_TYPE>; null where not judged
    emptied: np.ndarray  # bool per row: had clips and every one failed


def _regroup(values: pa.Array, lengths: np.ndarray, valid: np.ndarray, type_: pa.DataType) -> pa.ListArray:
    """``values`` cut into consecutive rows of ``lengths`` entries; rows where ``valid`` is false are null."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32())
    return pa.ListArray.from_arrays(offsets, values, type=type_, mask=pa.array(~valid))


def cut_clips(clips: pa.Array, scores: pa.Array, judged: np.ndarray, threshold: float) -> ClipCut:
    """Decide every clip of ``clips`` (list<CLIP_TYPE> per row) against ``threshold``.

    ``scores`` is float64 per clip in ``list_flatten(clips)`` order; a null score is "not measured" and
    the clip stays (a filter does not judge what it could not see). Only rows where ``judged`` is true
    and that have a clips list are looked at. Pure Arrow/numpy: the clips' JPEG frames never become
    Python objects.
    """
    parents = pc.list_parent_indices(clips).to_numpy()
    judged = judged & clips.is_valid().to_numpy(zero_copy_only=False)
    fails = pc.fill_null(pc.less(scores, threshold), False).to_numpy(zero_copy_only=False) & judged[parents]
    counts = np.bincount(parents, minlength=len(clips))
    failed = np.bincount(parents[fails], minlength=len(clips))
    emptied = (counts > 0) & (failed == counts)
    index = pc.struct_field(pc.list_flatten(clips), CLIP_INDEX).filter(pa.array(fails))
    values = pa.StructArray.from_arrays([index, scores.filter(pa.array(fails))], fields=list(DROPPED_CLIP_TYPE))
    return ClipCut(keep=~fails | emptied[parents], emptied=emptied,
                   dropped=_regroup(values, failed, judged, pa.list_(DROPPED_CLIP_TYPE)))


def keep_clips(lists: pa.Array, keep: np.ndarray) -> pa.ListArray:
    """``lists`` (one entry per clip, one list per row) without the entries where ``keep`` is false."""
    parents = pc.list_parent_indices(lists).to_numpy()
    lengths = np.bincount(parents[keep], minlength=len(lists))
    valid = lists.is_valid().to_numpy(zero_copy_only=False)
    return _regroup(pc.list_flatten(lists).filter(pa.array(keep)), lengths, valid, lists.type)


def drop_failing_clips(stage: Filter, batch: pa.Table, scores: pa.Array, threshold: float, code: str,
                       dropped: pa.Field, aligned: tuple[str, ...] = (), judged: np.ndarray | None = None) -> pa.Table:
    """Apply a per-clip rule of ``stage`` to the rows still ok in ``batch`` (see the module doc).

    ``dropped`` is the stage's declared :func:`dropped_clips_field`. ``aligned`` names other per-clip
    list columns (one entry per clip, null where the row has none) that must lose the same entries to
    stay aligned with ``clips``. ``judged`` (bool per row) narrows the rows looked at to those the
    stage could score.
    """
    clips = batch.column(CLIPS).combine_chunks()
    ok = ok_mask(batch).to_numpy()
    cut = cut_clips(clips, scores, ok if judged is None else ok & judged, threshold)
    clip_rows = pc.list_parent_indices(clips).to_numpy()
    for name in aligned:
        lists = batch.column(name).combine_chunks()
        has = lists.is_valid().to_numpy(zero_copy_only=False)
        batch = put_column(batch, batch.schema.field(name), keep_clips(lists, cut.keep[has[clip_rows]]))
    batch = put_column(batch, batch.schema.field(CLIPS), keep_clips(clips, cut.keep))
    batch = put_column(batch, dropped, cut.dropped)
    return mark_rejected(batch, pa.array(cut.emptied), stage.name, stage.reason(code))


def weighted_motion(clips: list[dict[str, Any]] | None) -> float | None:
    """Duration-weighted mean of the clips' motion; clips with one sample count as 0 (nothing moved)."""
    if not clips:
        return None
    total = sum(max(0.0, c["end_s"] - c["start_s"]) for c in clips)
    if total <= 0:
        return None
    return sum((c["motion"] or 0.0) * max(0.0, c["end_s"] - c["start_s"]) for c in clips) / total


MOTION_DROPPED = dropped_clips_field("video_motion_v1", "clips removed for motion under min_clip_motion")


@dataclass(kw_only=True)
class VideoMotionFilter(Filter):
    """Drops static videos (slideshows, frozen streams): motion under ``min_motion`` -> ``static``.

    With ``min_clip_motion`` set, also removes the kept videos' clips under it (null motion, one
    sampled frame, counts as 0 as in :func:`weighted_motion`); a video left with no clip is ``static``.
    """

    name: ClassVar[str] = "video_motion_v1"
    reads: ClassVar[tuple[str, ...]] = (CLIPS,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("video_motion_v1_score", pa.float64(),
                 metadata={"doc": "duration-weighted mean abs frame difference of sampled frames, 0-255"}),
    )
    # Re-encoded still frames differ by ~0.1-0.5 (codec noise); a small moving object in a 64x48
    # test video already scores ~7, so 1.0 separates "nothing moves" from "something moves".
    min_motion: float = 1.0
    min_clip_motion: float | None = None  # None: clips are not judged one by one

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_clip_motion is not None and self.min_clip_motion < 0:
            raise ValueError(f"{self.name}: min_clip_motion is a mean abs difference >= 0, got {self.min_clip_motion}")
        # Instance-level: the dropped-clips column exists only when clips are judged, so the default
        # output is exactly the video-level filter's.
        if self.min_clip_motion is not None:
            self.writes = (*type(self).writes, MOTION_DROPPED)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        batch = super().process_batch(batch)
        if self.min_clip_motion is None:
            return batch
        motion = pc.struct_field(pc.list_flatten(batch.column(CLIPS).combine_chunks()), "motion")
        return drop_failing_clips(self, batch, pc.fill_null(motion, 0.0), self.min_clip_motion, "static",
                                  MOTION_DROPPED)

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        clips = batch.column(CLIPS).to_pylist()
        return {"video_motion_v1_score": pa.array([weighted_motion(c) for c in clips], pa.float64())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        score = scores["video_motion_v1_score"]
        return None if score is None or score >= self.min_motion else "static"
