"""T-MARS: CLIP score with the printed text masked out (Maini et al. 2023, locuslab/T-MARS).

About 40 % of LAION images contain text that overlaps their caption; CLIP reads it, so a screenshot of
the words "red car" scores well against "red car" without showing one. T-MARS masks every detected
text box (filled with the mean colour of the pixels around it), re-scores the image with CLIP and keeps
a pair only if the *masked* score still passes: the match must come from what is depicted.

The text boxes come from the OCR stage (``ocr_v1_boxes``, :mod:`mmcurate.filters.ocr`), so OCR runs
once and its text is kept for synthesis too. Images without boxes are scored once (masked == original).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from PIL import Image

from mmcurate.filters.clip_model import ClipEmbedder, ClipModelFields
from mmcurate.filters.clip_score import pair_scores
from mmcurate.filters.media import media_images
from mmcurate.filters.ocr import BOXES
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.stage import Resources
from mmcurate.schemas import sample as S

__all__ = ["MaskedClipScoreFilter", "TMarsFilter", "mask_text_boxes"]

NAME = "tmars_v1"
SCORE, MASKED, MASKED_IMAGES, N_MASKED = f"{NAME}_score", f"{NAME}_masked", f"{NAME}_masked_images", f"{NAME}_n_masked"


def mask_text_boxes(image: Image.Image, boxes: list[list[int]] | None, ring: float = 0.25) -> Image.Image:
    """``image`` with every box filled by the mean colour of a ring around it (outside all boxes).

    The ring is ``ring`` x the box height wide (at least 2 px): close enough to be the local background,
    and excluding other boxes so neighbouring words do not leak ink colour into the fill.
    """
    if not boxes:
        return image
    arr = np.asarray(image.convert("RGB")).copy()
    h, w = arr.shape[:2]
    clipped = [(max(0, x0), max(0, y0), min(w, x1), min(h, y1)) for x0, y0, x1, y1 in boxes]
    inside = np.zeros((h, w), dtype=bool)
    for x0, y0, x1, y1 in clipped:
        inside[y0:y1, x0:x1] = True
    outside_mean = arr[~inside].mean(axis=0) if (~inside).any() else arr.reshape(-1, 3).mean(axis=0)
    fills = []
    for x0, y0, x1, y1 in clipped:
        pad = max(2, round(ring * (y1 - y0)))
        ys, xs = slice(max(0, y0 - pad), min(h, y1 + pad)), slice(max(0, x0 - pad), min(w, x1 + pad))
        around = arr[ys, xs][~inside[ys, xs]]
        fills.append(around.mean(axis=0) if len(around) else outside_mean)
    for (x0, y0, x1, y1), colour in zip(clipped, fills):  # fill after measuring: fills never feed rings
        arr[y0:y1, x0:x1] = np.round(colour).astype(np.uint8)
    return Image.fromarray(arr)


def _mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return float(np.mean(got)) if got else None


@dataclass(kw_only=True)
class TMarsFilter(ClipModelFields, Filter):
    """Drop pairs whose CLIP score falls below ``min_masked_score`` once text is masked."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA, S.CAPTION, BOXES)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(SCORE, pa.float32(), metadata={"doc": "mean CLIP cosine of the unmasked images"}),
        pa.field(MASKED, pa.float32(), metadata={"doc": "mean CLIP cosine with OCR text boxes masked"}),
        pa.field(MASKED_IMAGES, pa.list_(pa.float32()), metadata={"doc": "masked cosine per media item"}),
        pa.field(N_MASKED, pa.int32(), metadata={"doc": "images that had text boxes to mask"}),
    )
    stateful: ClassVar[bool] = True

    min_masked_score: float | None = None
    batch_size: int = 128
    _embedder: ClipEmbedder | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_cosine("min_masked_score", self.min_masked_score)
        self.resources = Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)

    def setup(self) -> None:
        self._embedder = self.load_embedder(self.batch_size)

    def teardown(self) -> None:
        self._embedder = None

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        if BOXES not in batch.column_names:
            raise KeyError(f"{self.name} needs {BOXES}; run the ocr_v1 stage first")
        self.ensure_setup()
        assert self._embedder is not None
        captions = batch.column(S.CAPTION).to_pylist()
        images = [media_images(m) for m in batch.column(S.MEDIA).to_pylist()]
        boxes = [b or [] for b in batch.column(BOXES).to_pylist()]
        # Only images with boxes need a second pass; the rest are masked == original.
        masked = [
            [mask_text_boxes(im, bx[j] if j < len(bx) else None) if im is not None and j < len(bx) and bx[j] else None
             for j, im in enumerate(row)]
            for row, bx in zip(images, boxes)
        ]
        original, _, _ = pair_scores(self._embedder, captions, images)
        rescored, _, _ = pair_scores(self._embedder, captions, masked)
        merged = [[m if m is not None else o for o, m in zip(orow, mrow)] for orow, mrow in zip(original, rescored)]
        return {
            SCORE: pa.array([_mean(r) for r in original], pa.float32()),
            MASKED: pa.array([_mean(r) for r in merged], pa.float32()),
            MASKED_IMAGES: pa.array(merged, pa.list_(pa.float32())),
            N_MASKED: pa.array([sum(m is not None for m in row) for row in masked], pa.int32()),
        }

    def decide(self, scores: dict[str, Any]) -> str | None:
        masked, original = scores.get(MASKED), scores.get(SCORE)
        if masked is None:
            return "no_image_or_caption"
        if self.min_masked_score is None or masked >= self.min_masked_score:
            return None
        return "text_only_match" if original is not None and original >= self.min_masked_score else "low_masked_score"


# The public, descriptive name (``mmcurate.filters.MaskedClipScoreFilter``); the stage name stays ``tmars_v1``
# so scores and drop reasons written under it keep their meaning.
MaskedClipScoreFilter = TMarsFilter
