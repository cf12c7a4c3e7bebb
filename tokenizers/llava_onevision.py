"""LLaVA-OneVision token plans: SigLIP-384 AnyRes max-9 images and pooled video frames.

LLaVA-OneVision (``anyres_max_9``, SigLIP so400m-patch14-384, 27x27 = 729 features per 384-px crop) encodes
a single image as one 384x384 base view plus a grid of crops tiling the best "pinpoint" resolution
(``select_best_resolution``). The crop features are unpadded back to the image's aspect ratio, bilinearly
downsampled when they exceed 9 crops' worth (ratio > 1.1), and one newline token ends each feature row.
Counts here follow ``transformers`` ``LlavaOnevisionProcessor._get_number_of_features`` (also what the HF
model and the original LLaVA-NeXT ``llava_arch.py`` produce; see ``references/tokenization_refs.md``
Table E). The original repo unpads with ``int()`` where HF uses ``int(round(x, 7))``; they can differ by
one row/column only when a float product lands within 1e-7 below an integer.

The vision feature strategy of OneVision is ``full`` (no CLS to drop), so there is no ``-1``. Samples
with several images use no AnyRes: each image is 729 + 1 newline tokens (``multi_image=True``). Videos
pool each frame's 27x27 map to 14x14 = 196 tokens and add one newline for the whole video.
"""

from __future__ import annotations

import math

from mmcurate.tokenizers.scheme import PatchScheme, TokenPlan

__all__ = [
    "ONEVISION_PINPOINTS",
    "select_best_resolution",
    "llava_onevision_image_plan",
    "llava_onevision_video_plan",
]

_CROP = 384  # SigLIP input size
_SIDE = 27  # 384 / 14 patches per side -> 729 features per crop

# The released anyres_max_9 configs: every (384*i, 384*j) for i, j in 1..6.
ONEVISION_PINPOINTS: tuple[tuple[int, int], ...] = tuple(
    (_CROP * i, _CROP * j) for i in range(1, 7) for j in range(1, 7)
)


def select_best_resolution(
    height: int, width: int, pinpoints: tuple[tuple[int, int], ...] = ONEVISION_PINPOINTS
) -> tuple[int, int]:
    """The pinpoint ``(height, width)`` that keeps most of the image's pixels, then wastes least.

    A verbatim port of ``transformers.image_processing_utils.select_best_resolution``; ties keep the first.
    """
    best = pinpoints[0]
    max_effective, min_wasted = 0, float("inf")
    for ph, pw in pinpoints:
        scale = min(pw / width, ph / height)
        down_w, down_h = int(width * scale), int(height * scale)
        effective = min(down_w * down_h, width * height)
        wasted = ph * pw - effective
        if effective > max_effective or (effective == max_effective and wasted < min_wasted):
            max_effective, min_wasted, best = effective, wasted, (ph, pw)
    return best


def _unpadded_features(height: int, width: int, rows: int, cols: int, max_crops: int) -> tuple[int, int]:
    """``(rows, cols)`` of the crop feature map after unpadding and max-``max_crops`` downsampling."""
    cur_h, cur_w = _SIDE * rows, _SIDE * cols
    if width / height > cur_w / cur_h:
        new_h = int(round(height * (cur_w / width), 7))
        cur_h -= ((cur_h - new_h) // 2) * 2
    else:
        new_w = int(round(width * (cur_h / height), 7))
        cur_w -= ((cur_w - new_w) // 2) * 2
    ratio = math.sqrt(cur_h * cur_w / (max_crops * _SIDE**2))
    if ratio > 1.1:  # bilinear downsample to about max_crops crops' worth
        return int(cur_h // ratio), int(cur_w // ratio)
    return cur_h, cur_w


def llava_onevision_image_plan(
    height: int,
    width: int,
    *,
    multi_image: bool = False,
    max_crops: int = 9,
    pinpoints: tuple[tuple[int, int], ...] = ONEVISION_PINPOINTS,
) -> TokenPlan:
    """The token plan of one image; all tokens are ``<image>`` placeholders (no wrapper tokens).

    Single image: ``media_tokens`` = 729 (base view) + ``fh * fw`` (unpadded crop features) + ``fh``
    (one newline per feature row); ``grid`` = ``(1, fh, fw)``. ``multi_image``: 729 + 1 newline,
    ``grid`` = ``(1, 27, 27)``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image sides must be >= 1 pixel, got {height}x{width}")
    base = _SIDE * _SIDE
    if multi_image:
        return TokenPlan(PatchScheme.LLAVA_ONEVISION, (_CROP, _CROP), (1, _SIDE, _SIDE), 1, base + 1)
    ph, pw = select_best_resolution(height, width, pinpoints)
    rows, cols = ph // _CROP, pw // _CROP
    fh, fw = _unpadded_features(height, width, rows, cols, max_crops)
    return TokenPlan(
        PatchScheme.LLAVA_ONEVISION, (ph, pw), (1, fh, fw), 1, base + fh * fw + fh, crops=(rows, cols)
    )


def _llava_video_frames(
    num_frames: int, fps: float, sample_fps: float, frames_upbound: int, force_sample: bool
) -> int:
    """Frames LLaVA-NeXT's ``process_video_with_decord`` keeps (train.py; finetune_ov.sh upbound 32)."""
    step = max(1, round(fps / sample_fps))  # the repo would fail on a 0 step; we keep every frame
    n = len(range(0, num_frames, step))
    if frames_upbound > 0 and (n > frames_upbound or force_sample):
        n = frames_upbound
    return n


def llava_onevision_video_plan(
    num_frames: int,
    fps: float,
    height: int,
    width: int,
    *,
    sample_frames: bool = True,
    sample_fps: float = 1.0,
    frames_upbound: int = 32,
    force_sample: bool = False,
    pooled_side: int = 14,
) -> TokenPlan:
    """The token plan of one video: ``196 * frames + 1`` ``<video>`` tokens (one newline per video).

    The frame size does not matter (each frame is resized to 384x384). With ``sample_frames`` the
    frame count follows the LLaVA-NeXT training loader (1 fps, at most 32 frames uniformly); HF's
    ``LlavaOnevisionVideoProcessor`` samples nothing by default, which is ``sample_frames=False``.
    """
    if num_frames < 1 or height < 1 or width < 1:
        raise ValueError(f"need a non-empty video, got {num_frames} frames of {height}x{width}")
    n = num_frames
    if sample_frames:
        n = _llava_video_frames(num_frames, fps, sample_fps, frames_upbound, force_sample)
    per_frame = pooled_side * pooled_side  # ceil(27 / 2) ** 2 after bilinear pooling
    return TokenPlan(
        PatchScheme.LLAVA_ONEVISION,
        (_CROP, _CROP),
        (n, pooled_side, pooled_side),
        1,
        n * per_frame + 1,
        frames=n,
    )
