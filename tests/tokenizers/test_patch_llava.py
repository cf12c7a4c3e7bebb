"""LLaVA-OneVision AnyRes and LLaVA-1.5 CLIP-336 counts: refs Table E and the HF processors."""

from __future__ import annotations

import numpy as np
import pytest

from mmcurate.tokenizers.patch import PatchScheme, image_token_count, image_token_plan, video_token_plan

OV = PatchScheme.LLAVA_ONEVISION

# refs Table E: (H, W) -> (best pinpoint, crop grid, unpadded features, tokens)
TABLE_E = {
    (20, 2000): ((384, 2304), (1, 6), (1, 162), 892), (50, 50): ((384, 384), (1, 1), (27, 27), 1485),
    (224, 224): ((384, 384), (1, 1), (27, 27), 1485), (336, 336): ((384, 384), (1, 1), (27, 27), 1485),
    (384, 384): ((384, 384), (1, 1), (27, 27), 1485), (480, 640): ((768, 768), (2, 2), (40, 54), 2929),
    (640, 480): ((768, 768), (2, 2), (54, 40), 2943), (768, 768): ((768, 768), (2, 2), (54, 54), 3699),
    (1000, 1000): ((1152, 1152), (3, 3), (81, 81), 7371), (1080, 1920): ((1152, 1920), (3, 5), (60, 108), 7269),
    (2000, 3000): ((1536, 2304), (4, 6), (66, 99), 7329), (3024, 4032): ((1920, 2304), (5, 6), (70, 93), 7309),
    (4000, 20): ((2304, 384), (6, 1), (162, 1), 1053), (500, 2304): ((768, 2304), (2, 6), (36, 162), 6597),
    (1536, 384): ((1536, 384), (4, 1), (108, 27), 3753),
}


def test_table_e() -> None:
    for (h, w), (pin, crops, feats, tokens) in TABLE_E.items():
        plan = image_token_plan(h, w, OV)
        assert (plan.resized, plan.crops, plan.grid[1:], plan.tokens) == (pin, crops, feats, tokens), (h, w)
        assert plan.special_tokens == 0 and plan.text_tokens == 0


def test_video_table_and_multi_image() -> None:
    for n, tokens in [(1, 197), (8, 1569), (16, 3137), (32, 6273), (64, 12545)]:
        assert video_token_plan(n, 30, 480, 640, OV, sample_frames=False).tokens == tokens
    assert video_token_plan(3000, 30, 480, 640, OV).frames == 32  # 100 s at 1 fps, capped at 32
    assert video_token_plan(300, 30, 480, 640, OV).frames == 10
    assert image_token_count(480, 640, OV, multi_image=True) == 730


def _ov_processor(image_processor):
    """LlavaOnevisionProcessor without a tokenizer: only its sizing helpers are called."""
    from transformers import LlavaOnevisionProcessor

    proc = object.__new__(LlavaOnevisionProcessor)
    proc.image_processor = image_processor
    proc.num_image_tokens = 729
    proc.vision_feature_select_strategy = "full"
    proc.vision_aspect_ratio = "anyres_max_9"
    return proc


def test_hf_onevision_parity() -> None:
    """~900 sizes through HF's _get_number_of_features (what replace_image_token calls), plus pixels."""
    from transformers import LlavaOnevisionImageProcessor

    ip = LlavaOnevisionImageProcessor()
    proc = _ov_processor(ip)
    rng = np.random.default_rng(3)
    sides = [1, 2, 10, 100, 383, 384, 385, 500, 767, 1000, 1152, 2000, 2304, 4000, 10000, 30000]
    sizes = [(h, w) for h in sides for w in sides]
    sizes += [tuple(int(x) for x in np.exp(rng.uniform(0, np.log(20000), 2))) for _ in range(600)]
    for h, w in sizes:
        assert image_token_plan(h, w, OV).tokens == proc._get_number_of_features(h, w, 384, 384), (h, w)
    for n in (1, 8, 32):
        assert video_token_plan(n, 30, 64, 64, OV, sample_frames=False).tokens == (
            proc._get_num_multimodal_tokens(video_sizes=[(n, 64, 64)])["num_video_tokens"][0]
        )
    # on pixels: the crop count the image processor produces is 1 base + rows * cols of our plan
    for h, w in [(1, 1), (10, 1000), (480, 640), (900, 300), (40, 1500)]:
        out = ip(images=[np.full((h, w, 3), 50, np.uint8)], input_data_format="channels_last", return_tensors="pt")
        rows, cols = image_token_plan(h, w, OV).crops
        assert out["pixel_values"].shape[1] == 1 + rows * cols, (h, w)
        assert tuple(out["image_sizes"][0].tolist()) == (h, w)


def test_clip_336() -> None:
    from transformers import CLIPImageProcessor

    ip = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    for h, w in [(1, 1), (10, 100), (336, 336), (480, 640), (1000, 200)]:
        out = ip(images=[np.full((h, w, 3), 50, np.uint8)], input_data_format="channels_last", return_tensors="pt")
        side = out["pixel_values"].shape[-1] // 14
        plan = image_token_plan(h, w, PatchScheme.CLIP_336)
        assert out["pixel_values"].shape[-2:] == (336, 336)
        assert plan.tokens == side * side == 576
    with pytest.raises(ValueError):
        image_token_plan(0, 5, PatchScheme.CLIP_336)
