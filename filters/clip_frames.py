"""Per-clip CLIP score for video: the mean image-caption cosine over each clip's sampled frames.

``video_clips_v1`` stores each clip's frames as JPEG; this stage scores them against the sample's
caption with the same model code as the image CLIP score (:class:`.clip_model.ClipEmbedder`), writes
one score per clip and the duration-independent mean over clips, and drops videos whose mean is under
``min_score`` when one is set. Rows without clips (images) are not judged here.

With ``min_clip_score`` set, the videos ``min_score`` kept then lose their clips scoring under it
(:func:`~mmcurate.filters.video.drop_failing_clips`): ``clips`` and ``clip_frames_v1_clip_scores``
shrink together, the removed clips are listed in ``clip_frames_v1_dropped_clips``, and a video with no
clip left is ``low_score``. The mean stays the mean over every clip scored: it is the video-level input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.filters.clip_model import ClipEmbedder, ClipModelFields
from mmcurate.filters.media import open_rgb
from mmcurate.filters.video import drop_failing_clips, dropped_clips_field
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.stage import Resources
from mmcurate.schemas import sample as S
from mmcurate.schemas.video import CLIPS

__all__ = ["ClipFrameScore"]

NAME = "clip_frames_v1"
SCORES = f"{NAME}_clip_scores"
DROPPED = dropped_clips_field(NAME, "clips removed for a score under min_clip_score, with their score")


@dataclass(kw_only=True)
class ClipFrameScore(ClipModelFields, Filter):
    """Score each clip (mean over its frames); ``min_score`` drops low-scoring videos (``low_score``),
    ``min_clip_score`` low-scoring clips."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (CLIPS, S.CAPTION)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(SCORES, pa.list_(pa.float32()),
                 metadata={"doc": "per clip of `clips`: mean cosine of its sampled frames and the caption"}),
        pa.field(f"{NAME}_mean", pa.float32(),
                 metadata={"doc": "mean over every clip scored, before min_clip_score; null without clips"}),
    )
    stateful: ClassVar[bool] = True

    min_score: float | None = None
    min_clip_score: float | None = None  # None: clips are not judged one by one
    batch_size: int = 16
    _embedder: ClipEmbedder | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_cosine("min_clip_score", self.min_clip_score)
        self.resources = Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        # Instance-level: the dropped-clips column exists only when clips are judged one by one.
        if self.min_clip_score is not None:
            self.writes = (*type(self).writes, DROPPED)

    def setup(self) -> None:
        self._embedder = self.load_embedder(64)

    def _row_scores(self, clips: list[dict[str, Any]] | None, caption: str | None) -> list[float] | None:
        assert self._embedder is not None
        if not clips or not caption:
            return None
        side = self._embedder.draft_side(self.draft_gap)
        frames = [[open_rgb(f, side) for f in clip["frames"] or []] for clip in clips]
        flat = [im for clip in frames for im in clip]
        if not flat:
            return None
        img = self._embedder.embed_images(flat)
        txt = self._embedder.embed_texts([caption])[0]
        cosines = img @ txt
        out, start = [], 0
        for clip in frames:
            out.append(float(np.mean(cosines[start : start + len(clip)])) if clip else float("nan"))
            start += len(clip)
        return out

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        self.ensure_setup()
        clips = batch.column(CLIPS).to_pylist() if CLIPS in batch.column_names else [None] * batch.num_rows
        scores = [self._row_scores(c, cap) for c, cap in zip(clips, batch.column(S.CAPTION).to_pylist())]
        means = [float(np.nanmean(s)) if s else None for s in scores]
        return {SCORES: pa.array(scores, pa.list_(pa.float32())),
                f"{NAME}_mean": pa.array(means, pa.float32())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        mean = scores[f"{NAME}_mean"]
        if mean is None or self.min_score is None:
            return None
        return "low_score" if mean < self.min_score else None

    def process_batch(self, batch: pa.Table) -> pa.Table:
        batch = super().process_batch(batch)
        if self.min_clip_score is None or CLIPS not in batch.column_names:  # image-only data: nothing to cut
            return batch
        scored = batch.column(SCORES).is_valid().to_numpy()  # rows without a caption or frames: not judged
        return drop_failing_clips(self, batch, _flat_scores(batch), self.min_clip_score, "low_score", DROPPED,
                                  aligned=(SCORES,), judged=scored)


def _flat_scores(batch: pa.Table) -> pa.Array:
    """One float64 per clip in ``list_flatten(clips)`` order; null for clips of unscored rows (no caption)
    and for clips without frames (NaN score): neither was measured, so neither is judged."""
    lengths = pc.fill_null(pc.list_value_length(batch.column(CLIPS)), 0).to_pylist()
    per_row = batch.column(SCORES).to_pylist()
    flat = [x for row, n in zip(per_row, lengths) for x in (row if row is not None else [None] * n)]
    return pa.array([None if x is None or math.isnan(x) else x for x in flat], pa.float64())
