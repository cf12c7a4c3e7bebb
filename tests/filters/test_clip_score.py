"""CLIP score with the bundled tiny model on fresh generated scenes; the global top-fraction threshold."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mmcurate.filters.clip_quantile import ClipScoreCut, score_threshold, threshold_from_array
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas import sample as S

FRESH = 2_000_000_000  # far from the training (< 1e8) and held-out (1e9) seed ranges
N = 160


@pytest.fixture(scope="module")
def clip() -> ClipScoreFilter:
    stage = ClipScoreFilter(batch_size=64)
    stage.ensure_setup()
    return stage


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(FRESH + i) for i in range(N)]


def test_tiny_clip_separates_matched_from_mismatched(clip, scenes, make_rows, make_table):
    pairs = [(i, (i + 1) % N) for i in range(N) if scenes[i].caption != scenes[(i + 1) % N].caption]
    rows = make_rows([([scenes[i].image], scenes[i].caption) for i, _ in pairs]
                     + [([scenes[i].image], scenes[j].caption) for i, j in pairs])
    scores = np.array(run_stage(clip, make_table(rows)).column("clip_score_v1_mean").to_pylist())
    matched, mismatched = scores[: len(pairs)], scores[len(pairs):]
    assert (matched > mismatched).mean() >= 0.8
    assert matched.mean() - mismatched.mean() > 0.2


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive outscores a random negative), ties counting half: the ROC AUC, exactly."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_roc_auc_helper():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert roc_auc(np.array([0.5]), np.array([0.5])) == 0.5
    assert roc_auc(np.array([0.1, 0.6]), np.array([0.5])) == 0.5


def test_matched_vs_shuffled_captions_auc(clip, scenes, make_rows, make_table):
    """The shipped model on held-out scenes (seeds it never trained on): matched vs shuffled, AUC >= 0.95."""
    perm = np.random.default_rng(0).permutation(N)
    # A shuffled caption that happens to equal the true one is a matched pair, not a negative.
    wrong = [i for i in range(N) if scenes[perm[i]].caption != scenes[i].caption]
    rows = make_rows([([s.image], s.caption) for s in scenes]
                     + [([scenes[i].image], scenes[perm[i]].caption) for i in wrong])
    scores = np.array(run_stage(clip, make_table(rows)).column("clip_score_v1_mean").to_pylist(), np.float64)
    auc = roc_auc(scores[:N], scores[N:])
    assert auc >= 0.95, f"ROC AUC {auc:.3f} over {N} matched and {len(wrong)} shuffled pairs"


def test_one_sample_equals_batch(clip, scenes, make_rows, make_table):
    rows = make_rows([([s.image], s.caption) for s in scenes[:6]])
    one = [apply_to_rows(clip, [r])[0]["clip_score_v1_mean"] for r in rows]
    batch = run_stage(clip, make_table(rows)).column("clip_score_v1_mean").to_pylist()
    assert one == pytest.approx(batch, abs=1e-5)


def test_several_images_are_each_scored(scenes, make_rows, make_table):
    stage = ClipScoreFilter(write_embedding=True)
    video = {"bytes": b"\x00" * 8, "kind": "video", "mime": "video/mp4"}
    a, b = scenes[0], scenes[1]
    rows = make_rows([([a.image, video, b.image], a.caption), ([a.image], a.caption), ([b.image], a.caption)])
    out = run_stage(stage, make_table(rows)).to_pylist()
    per = out[0]["clip_score_v1_images"]
    assert per[1] is None and per[0] == pytest.approx(out[1]["clip_score_v1_mean"], abs=1e-5)
    assert per[2] == pytest.approx(out[2]["clip_score_v1_mean"], abs=1e-5)
    assert out[0]["clip_score_v1_mean"] == pytest.approx((per[0] + per[2]) / 2, abs=1e-6)
    assert out[0]["clip_score_v1_max"] == pytest.approx(max(per[0], per[2]), abs=1e-6)
    assert out[0]["clip_score_v1_n_images"] == 2
    emb = out[0]["clip_score_v1_embedding"]
    assert emb[1] is None and len(emb) == 3 and np.linalg.norm(np.array(emb[0], np.float32)) == pytest.approx(1, abs=1e-2)
    table = run_stage(stage, make_table(rows))
    assert table.schema.field("clip_score_v1_embedding").type == pa.list_(pa.list_(pa.float16()))


def test_decisions(clip, scenes, make_rows, make_table):
    s = scenes[0]
    rows = make_rows([([s.image], s.caption), ([], s.caption), ([s.image], None)])
    keep_all = run_stage(clip, make_table(rows)).column(S.DROP_REASON).to_pylist()
    assert keep_all == [None, "clip_score_v1:no_image", "clip_score_v1:no_caption"]
    strict = ClipScoreFilter(min_score=0.999)
    assert run_stage(strict, make_table(rows[:1])).column(S.DROP_REASON).to_pylist() == ["clip_score_v1:low_score"]
    with pytest.raises(ValueError):
        ClipScoreFilter(min_score=1.5)
    assert ClipScoreFilter(num_gpus=1).resources.num_gpus == 1


def test_trimmed_padding_gives_identical_text_embeddings(clip):
    emb = clip._embedder
    assert emb.trim_padding
    caps = ["a red circle", "three white triangles at the top and more words"]
    full = emb.tokenizer(caps)
    assert emb.tokenize(caps).shape[1] < full.shape[1]
    import torch

    with torch.inference_mode():
        ref = torch.nn.functional.normalize(emb.model.encode_text(full), dim=-1).numpy()
    assert np.abs(emb.embed_texts(caps) - ref).max() < 1e-5


def test_threshold_keeps_the_top_fraction_of_the_whole_table():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-0.2, 0.6, 1001).astype(np.float32)
    table = pa.table({"clip_score_v1_mean": pa.array(list(scores) + [None], pa.float32())})
    thr = score_threshold(table, keep_fraction=0.3)
    assert (scores >= thr).sum() == int(np.ceil(0.3 * 1001))
    assert thr == threshold_from_array(scores, 0.3)
    with pytest.raises(ValueError):
        threshold_from_array(scores, 0.0)


def test_cut_stage_applies_a_threshold_without_the_model():
    rows = [{"clip_score_v1_mean": v, "clip_score_v1_max": v, "clip_score_v1_n_images": 1} for v in (0.1, 0.3, 0.5)]
    out = apply_to_rows(ClipScoreCut(min_score=0.3), rows)
    assert [r[S.DROP_REASON] for r in out] == ["clip_score_cut_v1:low_score", None, None]

