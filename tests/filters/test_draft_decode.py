"""Reduced-scale JPEG decode for the CLIP stages, and the batched to-tensor/normalise step."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.filters.media import image_item, open_rgb
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import run_stage

FRESH = 2_100_000_000


def _encoded(size: tuple[int, int], fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def test_draft_keeps_both_sides_at_least_the_requested_side():
    im = open_rgb(_encoded((512, 384), "JPEG"), draft_side=100)
    assert im.mode == "RGB"
    assert im.size == (256, 192)  # 1/2: at 1/4 the short side (96) would fall below 100
    tiny = open_rgb(_encoded((512, 384), "JPEG"), draft_side=40)
    assert tiny.size == (64, 48)  # 1/8
    assert open_rgb(_encoded((512, 384), "JPEG")).size == (512, 384)
    assert open_rgb(_encoded((512, 384), "PNG"), draft_side=40).size == (512, 384)  # only JPEG has DCT scales


@pytest.fixture(scope="module")
def stage() -> ClipScoreFilter:
    s = ClipScoreFilter(batch_size=32)
    s.ensure_setup()
    return s


def test_batched_tensor_step_equals_open_clips_transform(stage):
    emb = stage._embedder
    images = [make_scene(FRESH + i, size=96).image for i in range(6)] + [Image.new("L", (80, 50), 128)]
    expected = torch.stack([emb.transform(im) for im in images])
    assert torch.equal(emb.pixels(images), expected)


def test_draft_decode_changes_scores_little_and_keeps_separation(stage, make_rows, make_table):
    scenes = [make_scene(FRESH + i, size=256) for i in range(48)]
    perm = np.roll(np.arange(len(scenes)), 1)
    rows = make_rows([([image_item(s.image, "JPEG")], s.caption) for s in scenes]
                     + [([image_item(s.image, "JPEG")], scenes[j].caption) for s, j in zip(scenes, perm)
                        if scenes[j].caption != s.caption])
    table = make_table(rows)
    assert stage.draft_gap == 2.0
    fast = np.array(run_stage(stage, table).column("clip_score_v1_mean").to_pylist())
    stage.draft_gap = None
    try:
        full = np.array(run_stage(stage, table).column("clip_score_v1_mean").to_pylist())
    finally:
        stage.draft_gap = 2.0
    assert 0 < np.abs(fast - full).max() < 0.02  # the draft path really ran, and barely moved the scores
    matched, mismatched = fast[: len(scenes)], fast[len(scenes):]
    assert matched.mean() - mismatched.mean() > 0.2
