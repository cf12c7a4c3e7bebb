"""Trainer-exact patch-token counts for images and videos, one entry point for every scheme.

Budgeting, filtering and packing need to know how many LLM positions a sample will take *in the
trainer*, not an estimate: a few tokens off per image adds up to overflowing or under-filled packs.
Each scheme reproduces the ``transformers`` processor that HF trainers run (tested against them in
``tests/tokenizers``), with ``qwen-vl-utils`` behaviour as an option where it differs:

==================  =============================================================  ========================
scheme              counted tokens (``TokenPlan.tokens``)                           module
==================  =============================================================  ========================
``CLIP_336``        576 ``<image>`` features (LLaVA-1.5: shorter side to 336,      here
                    centre crop 336, 14-px patches); no wrapper tokens; no video
``QWEN2_VL``        ``<|vision_start|>`` + N ``<|image_pad|>``/``<|video_pad|>``     :mod:`.qwen_vl`,
                    + ``<|vision_end|>``                                           :mod:`.qwen_vl_video`
``QWEN3_VL``        image as Qwen2; video: per temporal group ``<t seconds>`` text  same
                    + ``<|vision_start|>`` + pads + ``<|vision_end|>`` (the
                    template's outer pair only if ``keep_outer_wrapper``)
``LLAVA_ONEVISION`` ``<image>`` x (729 base + unpadded crop features + one newline  :mod:`.llava_onevision`
                    per feature row); video ``<video>`` x (196 per frame + 1)
==================  =============================================================  ========================

``**overrides`` are the keyword arguments of the scheme's plan function (``impl``, ``min_pixels``,
``max_pixels``, ``sample_fps``, ``multi_image``, ...); an unknown one raises ``TypeError``.
"""

from __future__ import annotations

from typing import Any

from mmcurate.tokenizers.llava_onevision import llava_onevision_image_plan, llava_onevision_video_plan
from mmcurate.tokenizers.qwen_vl import qwen_image_plan
from mmcurate.tokenizers.qwen_vl_video import qwen_video_plan
from mmcurate.tokenizers.scheme import PatchScheme, TokenPlan

__all__ = [
    "PatchScheme",
    "TokenPlan",
    "clip_image_plan",
    "image_token_plan",
    "video_token_plan",
    "image_token_count",
    "video_token_count",
]


def clip_image_plan(height: int, width: int, *, image_size: int = 336, patch_size: int = 14) -> TokenPlan:
    """LLaVA-1.5's fixed grid: every image becomes ``(image_size / patch_size)^2`` = 576 features.

    ``CLIPImageProcessor`` resizes the shorter side to 336 and centre-crops 336x336 (LLaVA-1.5 pads to a
    square first, which changes pixels, not the count). The CLS token is dropped (``default`` strategy).
    """
    if height < 1 or width < 1:
        raise ValueError(f"image sides must be >= 1 pixel, got {height}x{width}")
    side = image_size // patch_size
    return TokenPlan(PatchScheme.CLIP_336, (image_size, image_size), (1, side, side), 1, side * side)


def image_token_plan(height: int, width: int, scheme: PatchScheme, **overrides: Any) -> TokenPlan:
    """The full :class:`TokenPlan` of one ``height`` x ``width`` image under ``scheme``.

    Raises ``ValueError`` for sizes the trainer's processor rejects (Qwen: aspect ratio above 200).
    """
    if scheme is PatchScheme.CLIP_336:
        return clip_image_plan(height, width, **overrides)
    if scheme in (PatchScheme.QWEN2_VL, PatchScheme.QWEN3_VL):
        return qwen_image_plan(height, width, scheme, **overrides)
    if scheme is PatchScheme.LLAVA_ONEVISION:
        return llava_onevision_image_plan(height, width, **overrides)
    raise ValueError(f"unknown scheme {scheme!r}")


def video_token_plan(
    num_frames: int, fps: float, height: int, width: int, scheme: PatchScheme, **overrides: Any
) -> TokenPlan:
    """The full :class:`TokenPlan` of a video of ``num_frames`` source frames at ``fps``.

    Frame sampling follows each model's loader (Qwen 2 fps, 4..768 frames; LLaVA-OV 1 fps, at most 32);
    ``sample_frames=False`` counts ``num_frames`` as already sampled. ``CLIP_336`` has no video mode.
    """
    if scheme in (PatchScheme.QWEN2_VL, PatchScheme.QWEN3_VL):
        return qwen_video_plan(num_frames, fps, height, width, scheme, **overrides)
    if scheme is PatchScheme.LLAVA_ONEVISION:
        return llava_onevision_video_plan(num_frames, fps, height, width, **overrides)
    raise ValueError(f"{scheme} has no video token scheme")


def image_token_count(height: int, width: int, scheme: PatchScheme, **overrides: Any) -> int:
    """Sequence tokens of one image: ``image_token_plan(...).tokens`` (wrapper tokens included)."""
    return image_token_plan(height, width, scheme, **overrides).tokens


def video_token_count(
    num_frames: int, fps: float, height: int, width: int, scheme: PatchScheme, **overrides: Any
) -> int:
    """Sequence tokens of one video: ``video_token_plan(...).tokens`` (wrappers and timestamps included)."""
    return video_token_plan(num_frames, fps, height, width, scheme, **overrides).tokens
