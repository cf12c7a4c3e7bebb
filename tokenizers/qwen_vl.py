"""Qwen-VL image sizing and image token plans (Qwen2-VL, Qwen2.5-VL, Qwen3-VL).

Qwen-VL models resize every image to a multiple of ``patch_size * merge_size`` pixels inside a pixel
budget (``smart_resize``), cut it into patches and merge 2x2 patches into one LLM token, so the token
count depends on the exact rounding. This module reproduces it bit for bit.

Two implementations exist and disagree at the edges (see ``references/tokenization_refs.md`` §1.2,
§1.5, Tables A/B):

* ``impl="transformers"`` (default): ``transformers`` 5.x ``smart_resize`` (identical in 4.57), which
  is what the HF image processor -- and so every HF-based trainer -- runs. No ``max(factor, ...)`` on
  the first rounding, so a 10x1000 image becomes 28x560 (20 tokens).
* ``impl="qwen_vl_utils"``: ``qwen-vl-utils`` (0.0.8 - 0.0.14) ``fetch_image``. Clamps the first
  rounding at ``factor`` (10x1000 -> 28x1008, 36 tokens) but not the downscale branch, where a side can
  become 0; we raise ``ValueError`` there since the real pipeline fails on the resize. Its image defaults
  are 4 and 16384 tokens' worth of pixels for both patch sizes (Qwen3-VL: 4096 .. 16777216), and the
  Qwen3-VL README passes ``do_resize=False`` to the HF processor afterwards, so these sizes are final.
  Running qwen-vl-utils and then the HF processor *with* resizing gives the HF size of the
  qwen-vl-utils output; HF's resize is idempotent on factor-aligned in-budget sizes.

Both raise ``ValueError`` for aspect ratios above 200, like every reference. transformers <= 4.49 also
raised for sides under ``factor``; we follow 5.x.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mmcurate.tokenizers.scheme import PatchScheme, TokenPlan

__all__ = [
    "Impl",
    "MAX_ASPECT_RATIO",
    "QwenSpec",
    "QWEN2_VL_SPEC",
    "QWEN3_VL_SPEC",
    "qwen_spec",
    "smart_resize",
    "qwen_image_plan",
]

Impl = Literal["transformers", "qwen_vl_utils"]

# Every reference hard-codes 200 and raises rather than clamping or padding.
MAX_ASPECT_RATIO = 200


@dataclass(frozen=True)
class QwenSpec:
    """Fixed architecture numbers and released image defaults of one Qwen-VL generation."""

    scheme: PatchScheme
    patch_size: int
    image_min: Mapping[str, int]  # per impl: the released Qwen3-VL configs differ between the two
    image_max: int
    merge_size: int = 2
    temporal_patch_size: int = 2

    @property
    def factor(self) -> int:
        """Pixels per LLM token side: patch * merge (28 for Qwen2/2.5-VL, 32 for Qwen3-VL)."""
        return self.patch_size * self.merge_size


# Qwen2-VL / Qwen2.5-VL hub preprocessor_config.json: min_pixels 3136 (=4*28^2), max 12845056 (=16384*28^2);
# qwen-vl-utils uses the same 4 / 16384 tokens.
QWEN2_VL_SPEC = QwenSpec(PatchScheme.QWEN2_VL, 14, {"transformers": 3136, "qwen_vl_utils": 3136}, 12845056)
# Qwen3-VL hub config: size {shortest_edge: 65536 (=64*32^2), longest_edge: 16777216 (=16384*32^2)};
# qwen-vl-utils with image_patch_size=16: 4*32^2 .. 16384*32^2.
QWEN3_VL_SPEC = QwenSpec(PatchScheme.QWEN3_VL, 16, {"transformers": 65536, "qwen_vl_utils": 4096}, 16777216)


def qwen_spec(scheme: PatchScheme) -> QwenSpec:
    """The :class:`QwenSpec` of a Qwen scheme."""
    if scheme is PatchScheme.QWEN2_VL:
        return QWEN2_VL_SPEC
    if scheme is PatchScheme.QWEN3_VL:
        return QWEN3_VL_SPEC
    raise ValueError(f"{scheme} is not a Qwen-VL scheme")


def _check_impl(impl: str) -> None:
    if impl not in ("transformers", "qwen_vl_utils"):
        raise ValueError(f"impl must be 'transformers' or 'qwen_vl_utils', got {impl!r}")


def _check_aspect(height: float, width: float) -> None:
    if height < 1 or width < 1:
        raise ValueError(f"image sides must be >= 1 pixel, got {height}x{width}")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}, got {ratio}")


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int,
    min_pixels: float,
    max_pixels: float,
    impl: Impl = "transformers",
) -> tuple[int, int]:
    """``(height, width)`` after Qwen's ``smart_resize``: sides multiples of ``factor``, area in budget.

    Raises ``ValueError`` for aspect ratios above 200 and, with ``impl="qwen_vl_utils"``, where that
    implementation would produce a 0-pixel side (tiny per-frame video budgets on very thin frames).
    """
    _check_impl(impl)
    _check_aspect(height, width)
    # Python's round() is banker's rounding (round(22.5) == 22), exactly as in the references.
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if impl == "qwen_vl_utils":
        h_bar, w_bar = max(factor, h_bar), max(factor, w_bar)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)  # from the original size, not the rounded one
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
        if impl == "transformers":
            h_bar, w_bar = max(factor, h_bar), max(factor, w_bar)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    if h_bar <= 0 or w_bar <= 0:
        raise ValueError(
            f"qwen-vl-utils smart_resize gives a 0-pixel side for {height}x{width}: {h_bar}x{w_bar}"
        )
    return h_bar, w_bar


def qwen_image_plan(
    height: int,
    width: int,
    scheme: PatchScheme = PatchScheme.QWEN2_VL,
    *,
    impl: Impl = "transformers",
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> TokenPlan:
    """The token plan of one image for a Qwen-VL scheme.

    ``media_tokens`` = ``(H'/factor) * (W'/factor)`` ``<|image_pad|>`` tokens (HF ``image_grid_thw.prod()
    // 4``); ``special_tokens`` = 2 for the ``<|vision_start|>`` and ``<|vision_end|>`` the chat template
    puts around them. ``min_pixels``/``max_pixels`` default to the released configs (see the specs).
    """
    _check_impl(impl)
    spec = qwen_spec(scheme)
    lo = spec.image_min[impl] if min_pixels is None else min_pixels
    hi = spec.image_max if max_pixels is None else max_pixels
    h, w = smart_resize(height, width, factor=spec.factor, min_pixels=lo, max_pixels=hi, impl=impl)
    grid = (1, h // spec.factor, w // spec.factor)
    return TokenPlan(
        scheme=scheme,
        resized=(h, w),
        grid=grid,
        merge=spec.merge_size,
        media_tokens=grid[1] * grid[2],
        special_tokens=2,
    )
