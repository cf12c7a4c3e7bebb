"""Per-clip CLIP score for video: the mean image-caption cosine over each clip's sampled frames.

``video_clips_v1`` stores each clip's frames as JPEG; this stage scores them against the sample's
caption with the same model code as the image CLIP score (:class:`.clip_model.ClipEmbedder`), writes
one score per clip and the duration-independent mean over clips, and drops videos whose mean is under
``min_score`` when one is set. Rows without clips (images) are not judged here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.filters.clip_model import ClipEmbedder, ClipModelFields
from mmcurate.filters.media import open_rgb
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.stage import Resources
from mmcurate.pipeline.video.columns import CLIPS
from mmcurate.schemas import sample as S

__all__ = ["ClipFrameScore"]

NAME = "clip_frames_v1"


@dataclass(kw_only=True)
class ClipFrameScore(ClipModelFields, Filter):
    """Score each clip (mean over its frames); ``min_score`` drops low-scoring videos (``low_score``)."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (CLIPS, S.CAPTION)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(f"{NAME}_clip_scores", pa.list_(pa.float32()),
                 metadata={"doc": "per clip: mean cosine of its sampled frames and the caption"}),
        pa.field(f"{NAME}_mean", pa.float32(), metadata={"doc": "mean of the clip scores; null without clips"}),
    )
    stateful: ClassVar[bool] = True

    min_score: float | None = None
    batch_size: int = 16
    _embedder: ClipEmbedder | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.resources = Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)

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
        return {f"{NAME}_clip_scores": pa.array(scores, pa.list_(pa.float32())),
                f"{NAME}_mean": pa.array(means, pa.float32())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        mean = scores[f"{NAME}_mean"]
        if mean is None or self.min_score is None:
            return None
        return "low_score" if mean < self.min_score else None
