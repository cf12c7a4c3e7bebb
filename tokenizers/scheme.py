"""The token plan: what one image or video costs in a vision-language model's LLM sequence.

Every scheme module (:mod:`~mmcurate.tokenizers.qwen_vl`, :mod:`~mmcurate.tokenizers.llava_onevision`,
the fixed-resolution CLIP rule in :mod:`~mmcurate.tokenizers.patch`) returns one :class:`TokenPlan`, so
budgeting and packing code reads one shape whatever the model. The plan keeps the parts of the count
apart (placeholder tokens, the scheme's own special tokens, timestamp text) because trainers and
packers disagree on which of them they count: ``media_tokens`` is what the HuggingFace processor expands
the image/video placeholder into, ``tokens`` is the full sequence cost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["PatchScheme", "TokenPlan"]


class PatchScheme(enum.Enum):
    """The patch-token schemes mmcurate can count; values are stable strings for configs and columns."""

    CLIP_336 = "clip_336"  # LLaVA-1.5: CLIP ViT-L/14 at 336 px, one fixed 24x24 grid
    QWEN2_VL = "qwen2_vl"  # Qwen2-VL and Qwen2.5-VL: 14-px patches, 2x2 merge, smart_resize
    QWEN3_VL = "qwen3_vl"  # Qwen3-VL: 16-px patches, 2x2 merge, text timestamps for video
    LLAVA_ONEVISION = "llava_onevision"  # SigLIP-384 AnyRes max-9 with unpadding and newline tokens


@dataclass(frozen=True)
class TokenPlan:
    """How one media item becomes LLM tokens under one scheme.

    Attributes:
        scheme: the scheme that produced the plan.
        resized: ``(height, width)`` in pixels of what the vision encoder sees per frame (for AnyRes,
            the chosen pinpoint resolution that the crops tile).
        grid: ``(t, h, w)`` grid of LLM tokens *after* spatial merging: Qwen ``(grid_t, grid_h/2,
            grid_w/2)``; CLIP ``(1, 24, 24)``; LLaVA-OV image ``(1, rows, cols)`` of the unpadded (and
            possibly downsampled) crop feature map, without the 27x27 base image and the newlines;
            LLaVA-OV video ``(frames, 14, 14)``.
        merge: spatial merge factor; ``grid`` times ``merge`` on h and w is the encoder patch grid
            (HF ``image_grid_thw``/``video_grid_thw`` for Qwen).
        media_tokens: placeholder tokens the HF processor inserts (``<|image_pad|>``,
            ``<|video_pad|>``, ``<image>``, ``<video>``), newline tokens included where the model has them.
        special_tokens: the scheme's own wrapper tokens around them (Qwen ``<|vision_start|>`` /
            ``<|vision_end|>``); 0 for LLaVA-style models.
        text_tokens: ordinary text tokens the processor adds (Qwen3-VL video timestamps ``<t seconds>``).
        frames: frames the encoder sees (1 for images; sampled frames for video, before temporal
            padding to a multiple of the temporal patch).
        timestamps: seconds rendered per temporal group (Qwen3-VL video only).
        crops: ``(rows, cols)`` of AnyRes crops besides the base image; ``(1, 1)`` otherwise.
    """

    scheme: PatchScheme
    resized: tuple[int, int]
    grid: tuple[int, int, int]
    merge: int
    media_tokens: int
    special_tokens: int = 0
    text_tokens: int = 0
    frames: int = 1
    timestamps: tuple[float, ...] = ()
    crops: tuple[int, int] = (1, 1)

    @property
    def tokens(self) -> int:
        """Total sequence cost: placeholders + wrapper special tokens + timestamp text tokens."""
        return self.media_tokens + self.special_tokens + self.text_tokens

    @property
    def patch_grid(self) -> tuple[int, int, int]:
        """The encoder's ``(t, h, w)`` patch grid (Qwen: equal to HF's ``*_grid_thw``)."""
        t, h, w = self.grid
        return (t, h * self.merge, w * self.merge)
