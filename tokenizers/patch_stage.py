"""The patch-token stage: per-sample, per-media LLM token counts under one model's patch scheme.

Token budgets, length filters and packing (set-level functions over a Ray Dataset) need each sample's
exact vision-token cost; this stage writes it from the decoded ``width``/``height`` of every item in the
``media`` list, so no pixels are touched and it runs at row speed. A sample may hold any number of
images and videos. Counts are :attr:`TokenPlan.tokens` (wrapper and timestamp tokens included, see
:mod:`mmcurate.tokenizers.patch`).

Rejects (``patch_tokens_v1:<reason>``): ``not_decoded`` when an image or video item has no size yet;
``untokenizable`` when the trainer's processor would raise for it (Qwen aspect ratio above 200, a
video too short to sample 2 frames, video under ``CLIP_336``).

The media struct has no frame rate, so videos are counted only when ``video_fps`` is configured;
otherwise their ``tokens_media``/``token_grid`` entries and ``tokens_video`` are null, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S
from mmcurate.tokenizers.patch import image_token_plan, video_token_plan
from mmcurate.tokenizers.scheme import PatchScheme, TokenPlan

__all__ = ["TOKENS_IMAGE", "TOKENS_VIDEO", "TOKENS_MEDIA", "TOKEN_GRID", "GRID_TYPE", "PatchTokenCount"]

# Column names of this stage (they belong in schemas/ once another module reads them).
TOKENS_IMAGE = "tokens_image"
TOKENS_VIDEO = "tokens_video"
TOKENS_MEDIA = "tokens_media"
TOKEN_GRID = "token_grid"

GRID_TYPE = pa.struct([pa.field("t", pa.int32()), pa.field("h", pa.int32()), pa.field("w", pa.int32())])

_IMAGE, _VIDEO = "image", "video"


@dataclass(kw_only=True)
class PatchTokenCount(RowStage):
    """Write ``tokens_image``, ``tokens_video``, ``tokens_media`` and ``token_grid`` for ``scheme``.

    ``image_overrides``/``video_overrides`` are passed to :func:`image_token_plan` /
    :func:`video_token_plan` (e.g. ``{"impl": "qwen_vl_utils"}``); they are checked at construction.
    Under ``LLAVA_ONEVISION`` a sample with several images uses the multi-image rule (729 + 1 each),
    as the HF processor does, unless ``image_overrides`` sets ``multi_image`` itself.
    """

    name: ClassVar[str] = "patch_tokens_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(TOKENS_IMAGE, pa.int64(), metadata={"doc": "LLM tokens of all image items (0 if none)"}),
        pa.field(TOKENS_VIDEO, pa.int64(),
                 metadata={"doc": "LLM tokens of all video items (0 if none; null if a video is uncounted)"}),
        pa.field(TOKENS_MEDIA, pa.list_(pa.int64()),
                 metadata={"doc": "LLM tokens per media item, in media order; null for uncounted items"}),
        pa.field(TOKEN_GRID, pa.list_(GRID_TYPE),
                 metadata={"doc": "LLM-token grid (t, h, w) per media item after merging (TokenPlan.grid)"}),
    )

    scheme: PatchScheme = PatchScheme.QWEN2_VL
    image_overrides: dict[str, Any] = field(default_factory=dict)
    video_overrides: dict[str, Any] = field(default_factory=dict)
    video_fps: float | None = None  # frame rate assumed for video items; None leaves them uncounted

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.scheme, str):  # YAML configs give the enum value
            self.scheme = PatchScheme(self.scheme)
        if self.video_fps is not None and self.video_fps <= 0:
            raise ValueError(f"video_fps must be > 0, got {self.video_fps}")
        # Fail at construction, not on the first row, for a misspelt override (TypeError).
        image_token_plan(336, 336, self.scheme, **self.image_overrides)
        if self.video_fps is not None and self.scheme is not PatchScheme.CLIP_336:
            video_token_plan(64, 30.0, 336, 336, self.scheme, **self.video_overrides)

    def _image_plan(self, item: dict[str, Any], n_images: int) -> TokenPlan:
        overrides = dict(self.image_overrides)
        if self.scheme is PatchScheme.LLAVA_ONEVISION and n_images > 1:
            overrides.setdefault("multi_image", True)
        return image_token_plan(item["height"], item["width"], self.scheme, **overrides)

    def _video_plan(self, item: dict[str, Any]) -> TokenPlan | None:
        if self.video_fps is None:
            return None
        if not item.get("n_frames"):
            raise Reject("not_decoded", "video item without n_frames")
        return video_token_plan(
            item["n_frames"], self.video_fps, item["height"], item["width"], self.scheme,
            **self.video_overrides,
        )

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = row.get(S.MEDIA) or []
        n_images = sum(1 for m in media if m and m.get("kind") == _IMAGE)
        per_media: list[int | None] = []
        grids: list[dict[str, int] | None] = []
        totals = {_IMAGE: 0, _VIDEO: 0}
        video_uncounted = False
        for i, item in enumerate(media):
            kind = item.get("kind") if item else None
            if kind not in (_IMAGE, _VIDEO):
                per_media.append(None)
                grids.append(None)
                continue
            if item.get("width") is None or item.get("height") is None:
                raise Reject("not_decoded", f"media[{i}] ({kind}) has no width/height")
            try:
                plan = self._image_plan(item, n_images) if kind == _IMAGE else self._video_plan(item)
            except ValueError as exc:
                raise Reject("untokenizable", f"media[{i}] {item['height']}x{item['width']}: {exc}") from None
            if plan is None:
                video_uncounted = True
                per_media.append(None)
                grids.append(None)
                continue
            totals[kind] += plan.tokens
            per_media.append(plan.tokens)
            t, h, w = plan.grid
            grids.append({"t": t, "h": h, "w": w})
        return {
            TOKENS_IMAGE: totals[_IMAGE],
            TOKENS_VIDEO: None if video_uncounted else totals[_VIDEO],
            TOKENS_MEDIA: per_media,
            TOKEN_GRID: grids,
        }
