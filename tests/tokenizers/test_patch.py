"""Image token counts: the refs' computed tables and parity with the HF Qwen-VL image processors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmcurate.tokenizers.patch import PatchScheme, image_token_count, image_token_plan
from mmcurate.tokenizers.qwen_vl import smart_resize

Q2, Q3 = PatchScheme.QWEN2_VL, PatchScheme.QWEN3_VL

# references/tokenization_refs.md Table A (Qwen2/2.5-VL) and Table B (Qwen3-VL):
# (H, W) -> (qwen-vl-utils H', W', tokens), (transformers + hub config H', W', tokens); None = ValueError.
TABLE_A = {
    (8, 8): ((56, 56, 4), (56, 56, 4)),
    (20, 20): ((56, 56, 4), (56, 56, 4)),
    (28, 28): ((56, 56, 4), (56, 56, 4)),
    (50, 50): ((56, 56, 4), (56, 56, 4)),
    (10, 1000): ((28, 1008, 36), (28, 560, 20)),
    (14, 1400): ((28, 1400, 50), (28, 560, 20)),
    (20, 2000): ((28, 1988, 71), (28, 1988, 71)),
    (10, 2100): (None, None),
    (56, 5000): ((56, 5012, 358), (56, 5012, 358)),
    (224, 224): ((224, 224, 64), (224, 224, 64)),
    (336, 336): ((336, 336, 144), (336, 336, 144)),
    (480, 640): ((476, 644, 391), (476, 644, 391)),
    (640, 480): ((644, 476, 391), (644, 476, 391)),
    (1000, 1000): ((1008, 1008, 1296), (1008, 1008, 1296)),
    (1080, 1920): ((1092, 1932, 2691), (1092, 1932, 2691)),
    (2000, 3000): ((1988, 2996, 7597), (1988, 2996, 7597)),
    (3024, 4032): ((3024, 4032, 15552), (3024, 4032, 15552)),
    (4000, 20): ((4004, 28, 143), (4004, 28, 143)),
    (8000, 8000): ((3584, 3584, 16384), (3584, 3584, 16384)),
}
TABLE_B = {
    (8, 8): ((64, 64, 4), (256, 256, 64)),
    (20, 20): ((64, 64, 4), (256, 256, 64)),
    (28, 28): ((64, 64, 4), (256, 256, 64)),
    (50, 50): ((64, 64, 4), (256, 256, 64)),
    (10, 1000): ((32, 992, 31), (32, 2560, 80)),
    (14, 1400): ((32, 1408, 44), (32, 2560, 80)),
    (20, 2000): ((32, 1984, 62), (32, 2560, 80)),
    (10, 2100): (None, None),
    (56, 5000): ((64, 4992, 312), (64, 4992, 312)),
    (224, 224): ((224, 224, 49), (256, 256, 64)),
    (336, 336): ((320, 320, 100), (320, 320, 100)),
    (480, 640): ((480, 640, 300), (480, 640, 300)),
    (640, 480): ((640, 480, 300), (640, 480, 300)),
    (1000, 1000): ((992, 992, 961), (992, 992, 961)),
    (1080, 1920): ((1088, 1920, 2040), (1088, 1920, 2040)),
    (2000, 3000): ((1984, 3008, 5828), (1984, 3008, 5828)),
    (3024, 4032): ((3008, 4032, 11844), (3008, 4032, 11844)),
    (4000, 20): ((4000, 32, 125), (4000, 32, 125)),
    (8000, 8000): ((4096, 4096, 16384), (4096, 4096, 16384)),
}


@pytest.mark.parametrize("scheme,table", [(Q2, TABLE_A), (Q3, TABLE_B)], ids=["table_a", "table_b"])
def test_reference_tables(scheme: PatchScheme, table: dict) -> None:
    for (h, w), expected in table.items():
        for impl, exp in zip(("qwen_vl_utils", "transformers"), expected, strict=True):
            if exp is None:
                with pytest.raises(ValueError, match="aspect ratio"):
                    image_token_plan(h, w, scheme, impl=impl)
                continue
            plan = image_token_plan(h, w, scheme, impl=impl)
            assert (*plan.resized, plan.media_tokens) == exp, (h, w, impl)
            assert plan.tokens == plan.media_tokens + 2  # <|vision_start|> ... <|vision_end|>
            assert image_token_count(h, w, scheme, impl=impl) == plan.tokens


def test_small_budget_divergence_probe() -> None:
    # Refs §1.5: transformers clamps to 28, qwen-vl-utils yields a 0 side (its resize then fails).
    assert smart_resize(40, 7600, factor=28, min_pixels=100352, max_pixels=105369) == (28, 4452)
    with pytest.raises(ValueError, match="0-pixel"):
        smart_resize(40, 7600, factor=28, min_pixels=100352, max_pixels=105369, impl="qwen_vl_utils")


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        image_token_plan(0, 10, Q2)
    with pytest.raises(ValueError):
        image_token_plan(10, 10, Q2, impl="vllm")
    with pytest.raises(TypeError):
        image_token_plan(10, 10, Q2, max_pixel=5)  # misspelt override


SIDES = [1, 2, 7, 10, 13, 14, 27, 28, 29, 42, 55, 56, 57, 99, 100, 224, 333, 500, 1000, 1023, 2000, 4097, 9999, 30000]


def _size_grid() -> list[tuple[int, int]]:
    rng = np.random.default_rng(7)
    grid = [(h, w) for h in SIDES for w in SIDES]
    # random sizes incl. extreme aspect ratios (log-uniform sides)
    grid += [tuple(int(x) for x in np.exp(rng.uniform(0, math.log(20000), 2))) for _ in range(400)]
    return grid


QWEN_CONFIGS = {
    # Qwen2-VL / Qwen2.5-VL hub preprocessor_config.json
    Q2: dict(min_pixels=3136, max_pixels=12845056),
    # Qwen3-VL hub preprocessor_config.json (Qwen2VLImageProcessor with 16-px patches)
    Q3: dict(size={"shortest_edge": 65536, "longest_edge": 16777216}, patch_size=16,
             image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]),
}


@pytest.mark.parametrize("scheme", [Q2, Q3])
def test_hf_sizing_helper_parity(scheme: PatchScheme) -> None:
    """Over ~1000 sizes (1 px .. 30000 px, aspect up to 30000): grid and error = HF's own helpers."""
    from transformers import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize

    proc = Qwen2VLImageProcessor(**QWEN_CONFIGS[scheme])
    factor = proc.patch_size * proc.merge_size
    checked = raised = 0
    for h, w in _size_grid():
        try:
            hf_patches = proc.get_number_of_image_patches(h, w, {})
            hf_size = hf_smart_resize(h, w, factor, proc.size["shortest_edge"], proc.size["longest_edge"])
        except ValueError:
            with pytest.raises(ValueError):
                image_token_plan(h, w, scheme)
            raised += 1
            continue
        plan = image_token_plan(h, w, scheme)
        assert plan.resized == hf_size, (h, w)
        assert math.prod(plan.patch_grid) == hf_patches, (h, w)
        assert plan.media_tokens == hf_patches // proc.merge_size**2
        checked += 1
    assert checked > 500 and raised > 20  # both branches exercised


@pytest.mark.parametrize("scheme", [Q2, Q3])
def test_hf_processor_end_to_end(scheme: PatchScheme, fake_tokenizer, count_id) -> None:
    """The full HF processor on real pixel arrays: image_grid_thw and the expanded placeholder count."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    proc = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**QWEN_CONFIGS[scheme]),
        tokenizer=fake_tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
    )
    sizes = [(1, 1), (1, 150), (10, 1000), (14, 1400), (28, 28), (29, 57), (100, 3), (333, 500), (480, 640),
             (1023, 769), (4000, 20), (1500, 1200)]
    from PIL import Image

    images = [Image.new("RGB", (w, h), (127, 90, 30)) for h, w in sizes]  # PIL: no channel-axis guessing
    text = ["<|vision_start|><|image_pad|><|vision_end|>x"] * len(sizes)
    out = proc(text=text, images=images)
    for i, (h, w) in enumerate(sizes):
        plan = image_token_plan(h, w, scheme)
        assert tuple(out["image_grid_thw"][i].tolist()) == plan.patch_grid, (h, w)
        ids = out["input_ids"][i]
        assert count_id(ids, "<|image_pad|>") == plan.media_tokens
        n_wrappers = count_id(ids, "<|vision_start|>") + count_id(ids, "<|vision_end|>")
        assert n_wrappers == plan.special_tokens
    # HF raises for aspect > 200 on pixels too, as we do
    with pytest.raises(ValueError, match="aspect ratio"):
        proc.image_processor(images=[Image.new("RGB", (500, 2))])
    with pytest.raises(ValueError, match="aspect ratio"):
        image_token_plan(2, 500, scheme)
