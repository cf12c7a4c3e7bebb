"""CLIP image-text score filter (LAION / DataComp "CLIP score").

The score is the cosine similarity of the normalised image and caption embeddings of an open_clip model
(any architecture, SigLIP included, weights from a local checkpoint). Every image of a sample is scored
against its caption; the row records the per-image scores and their mean and max, and ``reduce`` picks
which one the decision uses. Two decision modes:

* absolute: ``min_score`` (LAION-2B kept OpenAI ViT-B/32 scores >= 0.28);
* keep the top fraction of the whole dataset (DataComp's CLIP-score baseline keeps 30 %): score with
  ``min_score=None``, compute the global threshold with
  :func:`mmcurate.filters.clip_quantile.score_threshold`, then apply
  :class:`mmcurate.filters.clip_quantile.ClipScoreCut` (decide-only, no model).

The default model is the bundled tiny CLIP trained on generated scenes (``jobs/train_tiny_clip.py``);
its scores are only meaningful on such scenes, and thresholds do not transfer between models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from mmcurate.filters.clip_model import ClipEmbedder, ClipModelFields
from mmcurate.filters.media import media_images
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Resources
from mmcurate.schemas import sample as S

__all__ = ["ClipScoreFilter", "clip_decision", "score_fields", "pair_scores"]

NAME = "clip_score_v1"


def score_fields(prefix: str) -> tuple[pa.Field, ...]:
    """The score columns a CLIP-score-like stage writes under ``prefix``."""
    return (
        pa.field(f"{prefix}_mean", pa.float32(), metadata={"doc": "mean image-caption cosine over the sample's images"}),
        pa.field(f"{prefix}_max", pa.float32(), metadata={"doc": "max image-caption cosine over the sample's images"}),
        pa.field(f"{prefix}_images", pa.list_(pa.float32()),
                 metadata={"doc": "cosine per media item, aligned with `media`; null for non-images"}),
        pa.field(f"{prefix}_n_images", pa.int32(), metadata={"doc": "media items decoded as images"}),
    )


EMBEDDING_FIELD = pa.field(
    f"{NAME}_embedding", pa.list_(pa.list_(pa.float16())),
    metadata={"doc": "unit-norm image embedding per media item (float16), aligned with `media`; for dedup"},
)


def clip_decision(scores: dict[str, Any], prefix: str, reduce: str, min_score: float | None) -> str | None:
    """Shared pure decision: ``no_image`` / ``no_caption`` / ``low_score`` or None to keep."""
    value = scores.get(f"{prefix}_{reduce}")
    if value is None:
        return "no_image" if not scores.get(f"{prefix}_n_images") else "no_caption"
    if min_score is not None and value < min_score:
        return "low_score"
    return None


def pair_scores(
    embedder: ClipEmbedder, captions: list[str | None], images: list[list[Any]], img_emb: np.ndarray | None = None
) -> tuple[list[list[float | None]], np.ndarray, list[tuple[int, int]]]:
    """Per-item cosines aligned with ``images`` (None where no image or no caption).

    ``img_emb``: the images' embeddings already computed (row-major over the non-None items), e.g. on the
    device path, where ``images`` only marks which items have one. Also returns the image embeddings and
    their (row, item) owners, for callers that keep them.
    """
    owners = [(r, j) for r, row in enumerate(images) for j, im in enumerate(row) if im is not None]
    if img_emb is None:
        img_emb = embedder.embed_images([images[r][j] for r, j in owners])
    text_rows = sorted({r for r, _ in owners if captions[r] is not None})
    txt_emb = embedder.embed_texts([captions[r] for r in text_rows])
    text_of = {r: i for i, r in enumerate(text_rows)}
    out: list[list[float | None]] = [[None] * len(row) for row in images]
    for k, (r, j) in enumerate(owners):
        if r in text_of:
            out[r][j] = float(img_emb[k] @ txt_emb[text_of[r]])
    return out, img_emb, owners


def _reduce(values: list[float | None]) -> tuple[float | None, float | None]:
    got = [v for v in values if v is not None]
    return (float(np.mean(got)), float(np.max(got))) if got else (None, None)


def _embedding_column(images: list[list[Any]], emb: np.ndarray, owners: list[tuple[int, int]]) -> pa.Array:
    # Built from offsets (no Python float lists): outer list per row, inner list per item, null for non-images.
    dim = emb.shape[1] if emb.size else 0
    index = {o: k for k, o in enumerate(owners)}
    inner_offsets, inner_null, outer_offsets, order = [0], [], [0], []
    for r, row in enumerate(images):
        for j in range(len(row)):
            k = index.get((r, j))
            inner_null.append(k is None)
            if k is not None:
                order.append(k)
            inner_offsets.append(inner_offsets[-1] + (0 if k is None else dim))
        outer_offsets.append(outer_offsets[-1] + len(row))
    values = pa.array(emb[order].astype(np.float16).ravel() if order else np.zeros(0, np.float16))
    inner = pa.ListArray.from_arrays(pa.array(inner_offsets, pa.int32()), values, mask=pa.array(inner_null, pa.bool_()))
    return pa.ListArray.from_arrays(pa.array(outer_offsets, pa.int32()), inner)


@dataclass(kw_only=True)
class ClipScoreFilter(ClipModelFields, Filter):
    """Score every image against the caption; drop rows below ``min_score`` (if set)."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA, S.CAPTION)
    writes: ClassVar[tuple[pa.Field, ...]] = (*score_fields(NAME), EMBEDDING_FIELD)  # embedding only if asked
    stateful: ClassVar[bool] = True

    min_score: float | None = None
    reduce: Literal["mean", "max"] = "mean"
    write_embedding: bool = False
    require_image: bool = True  # False: rows without images (videos) pass unjudged
    decode_on_device: bool | None = param(
        None, doc="decode and preprocess JPEG items on the model's device (nvJPEG on CUDA, other formats stay on "
                  "Pillow); None: on when that device is CUDA. Scores move by ~1e-3 (bicubic in float, full-size decode)")
    _embedder: ClipEmbedder | None = field(default=None, init=False, repr=False, compare=False)
    _device_path: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reduce not in ("mean", "max"):
            raise ValueError(f"reduce must be 'mean' or 'max', got {self.reduce!r}")
        self.check_cosine("min_score", self.min_score)
        # Instance-level: the scheduler hint and the declared columns follow the config.
        self.resources = Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        self.writes = score_fields(NAME) + ((EMBEDDING_FIELD,) if self.write_embedding else ())

    def setup(self) -> None:
        self._embedder = self.load_embedder(self.batch_size)
        self._device_path = self._on_device()

    def teardown(self) -> None:
        self._embedder = None

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        self.ensure_setup()
        assert self._embedder is not None
        side = self._embedder.draft_side(self.draft_gap)
        media, captions = batch.column(S.MEDIA).to_pylist(), batch.column(S.CAPTION).to_pylist()
        if self._device_path:
            from mmcurate.filters.clip_device import device_images

            images, img_emb = device_images(self._embedder, media, side)
            per_item, emb, owners = pair_scores(self._embedder, captions, images, img_emb)
        else:
            images = [media_images(m, side) for m in media]
            per_item, emb, owners = pair_scores(self._embedder, captions, images)
        means, maxes = zip(*(_reduce(v) for v in per_item)) if per_item else ((), ())
        out: dict[str, pa.Array] = {
            f"{NAME}_mean": pa.array(means, pa.float32()),
            f"{NAME}_max": pa.array(maxes, pa.float32()),
            f"{NAME}_images": pa.array(per_item, pa.list_(pa.float32())),
            f"{NAME}_n_images": pa.array([sum(im is not None for im in row) for row in images], pa.int32()),
        }
        if self.write_embedding:
            out[EMBEDDING_FIELD.name] = _embedding_column(images, emb, owners)
        return out

    def _on_device(self) -> bool:
        """The GPU media path: forced by ``decode_on_device``, else on for a CUDA model it can preprocess for."""
        from mmcurate.filters.clip_device import device_supported

        assert self._embedder is not None
        if self.decode_on_device is None:
            return self._embedder.device.startswith("cuda") and device_supported(self._embedder)
        if self.decode_on_device and not device_supported(self._embedder):
            raise ValueError(f"decode_on_device: {self.arch}'s eval transform is not one the device path reproduces")
        return self.decode_on_device

    def decide(self, scores: dict[str, Any]) -> str | None:
        if not self.require_image and not scores.get(f"{NAME}_n_images"):
            return None  # e.g. a video sample: judged by its clips, not here
        return clip_decision(scores, NAME, self.reduce, self.min_score)
