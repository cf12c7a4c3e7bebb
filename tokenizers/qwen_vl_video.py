"""Qwen-VL video token plans: frame sampling, per-frame pixel budgets and Qwen3-VL timestamps.

A Qwen-VL video costs ``ceil(frames / 2) * (H'/factor) * (W'/factor)`` placeholder tokens, where the
sampled frame count and the per-frame size both come from budgets (``references/tokenization_refs.md``
§1.4, §2, Tables C, D, D2). Defaults reproduce sampling at 2 fps between 4 and 768 frames:

* Qwen2-VL / Qwen2.5-VL, ``impl="transformers"``: ``Qwen2VLVideoProcessor`` with ``do_sample_frames=True,
  fps=2, cap_pixels_per_frame=True`` and its class sizes (128..768 tokens of pixels per frame, total
  ``int(128000 * 28^2 * 0.9)``) -- the settings under which HF applies the same budgets as qwen-vl-utils.
  ``cap_pixels_per_frame=False`` (the 5.23 default, with a warning) drops the total budget.
* ``impl="qwen_vl_utils"``: ``fetch_video`` of qwen-vl-utils >= 0.0.10 (0.0.14 for Qwen3-VL with
  ``image_patch_size=16``), then the HF processor with ``do_resize=False``. Its budget division is a
  float (HF floors), and its ``smart_resize`` differs (see :mod:`~mmcurate.tokenizers.qwen_vl`).
* Qwen3-VL, ``impl="transformers"``: ``Qwen3VLVideoProcessor`` with the hub config (size 4096 ..
  25165824 pixels over *all* frames, 3-D ``smart_resize``, frames ``int(total / fps * 2)`` not rounded to
  even, padded by repeating the last frame).

Qwen3-VL writes ``<{t:.1f} seconds>`` as plain text before each temporal group, wrapped as
``<t seconds><|vision_start|>`` + pads + ``<|vision_end|>``. Counting that text exactly needs the Qwen
tokenizer, which we do not ship; :func:`qwen_timestamp_token_count` applies the Qwen2 BPE rules (each
digit is its own pre-token; ``<``, ``.``, ``>`` single bytes; `` seconds`` one vocabulary entry), so
``<12.5 seconds>`` is 7 tokens. Pass ``timestamp_token_counter=lambda s: len(tok(s).input_ids)`` to use a
real tokenizer. The chat template's own ``<|vision_start|>``/``<|vision_end|>`` around the whole video
are collapsed into the per-group pairs by transformers 4.57 and again from 5.25 (the default,
``keep_outer_wrapper=False``); 5.0-5.24 replaced only ``<|video_pad|>`` and kept them
(+2, ``keep_outer_wrapper=True``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from mmcurate.tokenizers.qwen_vl import Impl, QwenSpec, _check_aspect, _check_impl, qwen_spec, smart_resize
from mmcurate.tokenizers.scheme import PatchScheme, TokenPlan

__all__ = ["QWEN_TIMESTAMP_FORMAT", "qwen_timestamp_text", "qwen_timestamp_token_count", "qwen_frame_timestamps",
           "qwen_video_plan"]

_TIMESTAMP = re.compile(r"<(\d+)\.(\d) seconds>")
QWEN_TIMESTAMP_FORMAT = "<{:.1f} seconds>"  # str.format of the seconds; one decimal, as Qwen3-VL's processor


def qwen_timestamp_text(seconds: float) -> str:
    """The text Qwen3-VL writes before a temporal group (or frame) at ``seconds``: ``<0.3 seconds>``."""
    return QWEN_TIMESTAMP_FORMAT.format(seconds)


def qwen_timestamp_token_count(text: str) -> int:
    """Qwen2/Qwen3 BPE tokens of one rendered timestamp such as ``<0.3 seconds>`` (6 tokens)."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        raise ValueError(f"not a Qwen3-VL timestamp: {text!r}")
    return len(m.group(1)) + len(m.group(2)) + 4  # '<', '.', ' seconds', '>'


def qwen_frame_timestamps(indices: list[int], video_fps: float, temporal_patch_size: int = 2) -> list[float]:
    """Seconds per temporal group, as HF ``Qwen3VLProcessor._calculate_timestamps``.

    The index list is padded to a multiple of the temporal patch by repeating the last index; each
    group's time is the mean of its first and last frame.
    """
    idx = list(indices)
    if len(idx) % temporal_patch_size:
        idx.extend(idx[-1] for _ in range(temporal_patch_size - len(idx) % temporal_patch_size))
    secs = [i / video_fps for i in idx]
    tps = temporal_patch_size
    return [(secs[i] + secs[i + tps - 1]) / 2 for i in range(0, len(secs), tps)]


def _sampled_frames(
    spec: QwenSpec, impl: Impl, total: int, video_fps: float, fps: float, min_frames: int, max_frames: int
) -> int:
    """Frames sampled at ``fps`` from ``total`` frames, clamped to [min_frames, max_frames]."""
    n = total / video_fps * fps
    tps = spec.temporal_patch_size
    if spec.scheme is PatchScheme.QWEN3_VL and impl == "transformers":
        return min(max(int(n), min_frames), max_frames, total)  # no rounding: patchify pads
    # Qwen2VLVideoProcessor.sample_frames and qwen-vl-utils >= 0.0.10 smart_nframes agree here.
    lo = math.ceil(min_frames / tps) * tps
    hi = math.floor(min(max_frames, total) / tps) * tps
    frames = math.floor(min(max(n, lo), hi, total) / tps) * tps
    if impl == "transformers" and frames > 0:
        # Qwen2VLVideoProcessor takes torch.arange(0, total, total / frames): with a float step it yields
        # ceil(total / (total / frames)) indices, one more than asked for e.g. 59 frames -> 58 asked, 59 kept.
        frames = math.ceil(total / (total / frames))
    return frames


def _resize_frames(
    spec: QwenSpec,
    impl: Impl,
    n: int,
    height: int,
    width: int,
    min_pixels: int | None,
    max_pixels: int | None,
    total_pixels: float | None,
    cap_pixels_per_frame: bool,
    max_video_tokens: int | None,
) -> tuple[int, int]:
    f = spec.factor
    if impl == "qwen_vl_utils":
        lo = 128 * f * f if min_pixels is None else min_pixels  # VIDEO_MIN_TOKEN_NUM
        total = 128000 * f * f * 0.9 if total_pixels is None else total_pixels  # MODEL_SEQ_LEN default
        hi = max(min(768 * f * f, total / n * spec.temporal_patch_size), int(lo * 1.05))
        hi = hi if max_pixels is None else min(max_pixels, hi)  # a user max can only lower it
        return smart_resize(height, width, factor=f, min_pixels=lo, max_pixels=hi, impl=impl)
    if spec.scheme is PatchScheme.QWEN2_VL:
        lo = 128 * f * f if min_pixels is None else min_pixels
        hi = 768 * f * f if max_pixels is None else max_pixels
        if cap_pixels_per_frame:
            tokens = 128000 if max_video_tokens is None else max_video_tokens
            total = int(tokens * f * f * 0.9) if total_pixels is None else int(total_pixels)
            hi = max(min(hi, total * spec.temporal_patch_size // n), int(lo * 1.05))
        return smart_resize(height, width, factor=f, min_pixels=lo, max_pixels=hi, impl=impl)
    # Qwen3VLVideoProcessor: the budget covers all frames (hub video_preprocessor_config sizes).
    lo = 4096 if min_pixels is None else min_pixels
    hi = 25165824 if max_pixels is None else max_pixels
    if cap_pixels_per_frame:
        frame_cap = (768 if max_video_tokens is None else max_video_tokens) * f * f
        hi = max(min(frame_cap, hi // n), int(lo * 1.05)) * n
    return _smart_resize_3d(n, height, width, spec, lo, hi)


def _smart_resize_3d(n: int, height: int, width: int, spec: QwenSpec, lo: int, hi: int) -> tuple[int, int]:
    """HF ``qwen3_vl.video_processing_qwen3_vl.smart_resize``: upscale sides below factor, budget T*H*W."""
    f, tf = spec.factor, spec.temporal_patch_size
    if n < tf:
        raise ValueError(f"t:{n} must be larger than temporal_factor:{tf}")
    if height < f or width < f:
        scale = max(f / height, f / width)
        height, width = int(height * scale), int(width * scale)
    _check_aspect(height, width)
    h_bar, w_bar, t_bar = round(height / f) * f, round(width / f) * f, round(n / tf) * tf
    if t_bar * h_bar * w_bar > hi:
        beta = math.sqrt((n * height * width) / hi)
        h_bar = max(f, math.floor(height / beta / f) * f)
        w_bar = max(f, math.floor(width / beta / f) * f)
    elif t_bar * h_bar * w_bar < lo:
        beta = math.sqrt(lo / (n * height * width))
        h_bar = math.ceil(height * beta / f) * f
        w_bar = math.ceil(width * beta / f) * f
    return h_bar, w_bar


def qwen_video_plan(
    num_frames: int,
    fps: float,
    height: int,
    width: int,
    scheme: PatchScheme = PatchScheme.QWEN2_VL,
    *,
    impl: Impl = "transformers",
    sample_fps: float = 2.0,
    min_frames: int = 4,
    max_frames: int = 768,
    sample_frames: bool = True,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    total_pixels: float | None = None,
    cap_pixels_per_frame: bool | None = None,
    max_video_tokens: int | None = None,
    timestamp_token_counter: Callable[[str], int] = qwen_timestamp_token_count,
    keep_outer_wrapper: bool = False,
) -> TokenPlan:
    """The token plan of one video of ``num_frames`` frames at ``fps``, ``height`` x ``width`` pixels.

    Qwen2/2.5-VL: ``media_tokens`` ``<|video_pad|>`` + 2 special (``<|vision_start|>``,
    ``<|vision_end|>``); no text. Qwen3-VL: per temporal group 2 special + ``frame_seqlen`` pads + the
    timestamp's text tokens, plus 2 special if ``keep_outer_wrapper``. ``sample_frames=False`` uses all
    ``num_frames`` (frames already sampled, HF's ``do_sample_frames=False``). ``cap_pixels_per_frame``
    defaults to True for Qwen2 (the reference budget) and False for Qwen3 (the hub config).
    Raises ``ValueError`` when fewer than 2 frames would be sampled, like the references.
    """
    _check_impl(impl)
    spec = qwen_spec(scheme)
    if num_frames < 1 or fps <= 0:
        raise ValueError(f"need num_frames >= 1 and fps > 0, got {num_frames} frames at {fps} fps")
    if sample_frames:
        n = _sampled_frames(spec, impl, num_frames, fps, sample_fps, min_frames, max_frames)
    else:
        n = num_frames
    if n < 2:  # qwen-vl-utils asserts; HF divides by zero (Qwen2) or raises in smart_resize (Qwen3)
        raise ValueError(f"video of {num_frames} frames at {fps} fps samples {n} < 2 frames")
    cap = (scheme is PatchScheme.QWEN2_VL) if cap_pixels_per_frame is None else cap_pixels_per_frame
    h, w = _resize_frames(
        spec, impl, n, height, width, min_pixels, max_pixels, total_pixels, cap, max_video_tokens
    )
    grid_t = -(-n // spec.temporal_patch_size)  # patchify repeats the last frame up to the temporal patch
    grid = (grid_t, h // spec.factor, w // spec.factor)
    frame_tokens = grid[1] * grid[2]
    if scheme is PatchScheme.QWEN2_VL:
        return TokenPlan(scheme, (h, w), grid, spec.merge_size, grid_t * frame_tokens, 2, 0, n)
    # Qwen3-VL: both HF sampling and qwen-vl-utils take linspace(0, total - 1, n).round() indices.
    idx = np.linspace(0, num_frames - 1, n).round().astype(int).tolist() if sample_frames else list(range(n))
    times = qwen_frame_timestamps(idx, fps, spec.temporal_patch_size)
    text = sum(timestamp_token_counter(qwen_timestamp_text(t)) for t in times)
    special = 2 * grid_t + (2 if keep_outer_wrapper else 0)
    media = grid_t * frame_tokens
    return TokenPlan(scheme, (h, w), grid, spec.merge_size, media, special, text, n, tuple(times))
