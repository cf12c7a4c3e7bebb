"""Balance and pack a 100k-sample synthetic mix with realistic lengths: shares within 1 %, packs >= 98 % full.

The mix mimics a Qwen2-VL fine-tuning set after token counting (:mod:`.token_count`): vision tokens come
from the real :func:`~mmcurate.tokenizers.patch.image_token_count` / ``video_token_count`` at common photo,
screenshot and video sizes (images at ``max_pixels = 1280 * 28 * 28``, the Qwen fine-tuning default; video
at 2 fps, clips of log-normal duration, the longest cut to the per-sample cap), text tokens are log-normal
per modality. Lengths span ~20 to 8,192 tokens (median ~1,250), with a tail at the cap.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mmcurate.pipeline.mixture.budget import BudgetConfig, balance
from mmcurate.pipeline.mixture.packing import pack_table
from mmcurate.tokenizers.patch import image_token_count, video_token_count
from mmcurate.tokenizers.scheme import PatchScheme

N = 100_000
CONTEXT = 8192
SHARES = {"image_text": 0.45, "instruction": 0.25, "video": 0.20, "text": 0.10}
_MODALITIES = ("image_text", "instruction", "video", "text")
_NATURAL_P = (0.62, 0.25, 0.05, 0.08)  # sample counts; in tokens about 40 / 37 / 16 / 7 %
_SHORT_SIDES = (224, 256, 336, 384, 480, 512, 600, 720, 768, 900, 1024, 1080, 1200, 1536, 2048)
_ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 2.0, 3.0)
_VIDEO_SIZES = ((360, 640), (480, 854), (720, 1280))
_TEXT_MEDIAN = (40, 450, 120, 700)  # caption, conversation, video caption/QA, text-only
_TEXT_SIGMA = (0.6, 0.8, 0.5, 1.0)


def synthetic_mix(n: int = N, seed: int = 0) -> pa.Table:
    """Slim budget rows ``sample_id, modality, source, tokens_total`` of a realistic mixed-modal set."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(len(_MODALITIES), size=n, p=_NATURAL_P)
    short = rng.choice(_SHORT_SIDES, size=n)
    aspect = rng.choice(_ASPECTS, size=n)
    n_images = np.where(kind == 0, 1, np.where(kind == 1, rng.choice([1, 1, 1, 2, 3], size=n), 0))
    seconds = np.clip(rng.lognormal(np.log(8), 0.8, size=n), 1, 180).astype(np.int64)
    video_size = rng.integers(0, len(_VIDEO_SIZES), size=n)
    # 90 image sizes and a few hundred (seconds, size) clips: count each once, exactly, then look up.
    image_tokens = {(s, a): image_token_count(s, round(s * a), PatchScheme.QWEN2_VL, max_pixels=1280 * 28 * 28)
                    for s in _SHORT_SIDES for a in _ASPECTS}
    vision = np.array([image_tokens[s, a] for s, a in zip(short.tolist(), aspect.tolist(), strict=True)]) * n_images
    is_video = kind == 2
    video_tokens = {(d, v): video_token_count(d * 30, 30.0, *_VIDEO_SIZES[v], PatchScheme.QWEN2_VL)
                    for d, v in set(zip(seconds[is_video].tolist(), video_size[is_video].tolist(), strict=True))}
    clips = zip(seconds[is_video].tolist(), video_size[is_video].tolist(), strict=True)
    vision[is_video] = [min(video_tokens[k], CONTEXT) for k in clips]  # longer clips are cut to the cap
    text = rng.lognormal(np.log(np.array(_TEXT_MEDIAN)[kind]), np.array(_TEXT_SIGMA)[kind]).astype(np.int64) + 4
    modality = np.array(_MODALITIES)[kind]
    # two sources per modality, 70/30: cells are (modality, source), so each modality spans two cells
    source = np.char.add(modality.astype(str), np.where(rng.random(n) < 0.7, ":a", ":b"))
    return pa.table({"sample_id": [f"s{i:06d}" for i in range(n)], "modality": modality, "source": source,
                     "tokens_total": pa.array(np.minimum(vision + text, CONTEXT), pa.int64())})


@pytest.fixture(scope="module")
def balanced() -> tuple[pa.Table, pa.Table]:
    rows = synthetic_mix()
    total = int(pc.sum(rows.column("tokens_total")).as_py())
    return balance(rows, BudgetConfig(total_tokens=total, modality_shares=SHARES, seed=3))


def test_mix_is_realistic() -> None:
    rows = synthetic_mix(20_000)
    lengths = rows.column("tokens_total").to_numpy()
    assert lengths.min() >= 5 and lengths.max() == CONTEXT
    assert 500 < np.median(lengths) < 2000 and (lengths == CONTEXT).sum() > 50  # a tail of capped videos
    assert np.percentile(lengths, 95) > 3000 and len(np.unique(lengths)) > 2000  # long-tailed, not a few sizes


def test_balance_within_one_percent_on_100k(balanced: tuple[pa.Table, pa.Table]) -> None:
    decided, report = balanced
    assert decided.num_rows == N
    modality = {r["key"]: r for r in report.to_pylist() if r["level"] == "modality"}
    assert set(modality) == set(SHARES)
    for key, r in modality.items():
        assert r["target_share"] == pytest.approx(SHARES[key])
        assert abs(r["achieved_share"] - r["target_share"]) <= 0.01, (key, r)
    # the report's achieved tokens are what the repeats give
    out = decided.column("tokens_total").to_numpy() * decided.column("repeats").to_numpy()
    assert sum(r["achieved_tokens"] for r in modality.values()) == out.sum()
    reps = decided.column("repeats").to_numpy()
    assert reps.min() == 0 and reps.max() >= 2  # some modalities down-, others up-sampled


def test_pack_100k_at_8192_is_98_percent_full_and_atomic(balanced: tuple[pa.Table, pa.Table]) -> None:
    decided, _ = balanced
    result = pack_table(decided, CONTEXT)
    assert result.rejects.num_rows == 0  # every length is in 1..8192 by construction
    assert result.efficiency >= 0.98

    packs = result.packs
    ids = pc.list_flatten(packs.column("sample_ids")).to_numpy(zero_copy_only=False)
    rep = pc.list_flatten(packs.column("repeat_index")).to_numpy()
    lens = pc.list_flatten(packs.column("lengths")).to_numpy()
    # every (sample, repeat) exactly once, and whole: its span is its full token count
    want_ids = decided.column("sample_id").to_numpy(zero_copy_only=False)
    reps = decided.column("repeats").to_numpy()
    length_of = dict(zip(want_ids.tolist(), decided.column("tokens_total").to_pylist(), strict=True))
    assert len(ids) == reps.sum()
    assert len(set(zip(ids.tolist(), rep.tolist(), strict=True))) == len(ids)
    repeated = reps > 2
    assert all(rep[ids == s].max() == r - 1 for s, r in zip(want_ids[repeated][:50], reps[repeated][:50], strict=True))
    assert lens.tolist() == [length_of[s] for s in ids.tolist()]
    # span boundaries: cu_seqlens = [0, l0, l0+l1, ...] per pack, never past the context
    cu = packs.column("cu_seqlens").to_pylist()
    per_pack = packs.column("lengths").to_pylist()
    assert all(c[0] == 0 and np.array_equal(np.diff(c), n) for c, n in zip(cu, per_pack, strict=True))
    tokens = packs.column("tokens").to_numpy()
    assert tokens.max() <= CONTEXT and tokens.sum() == lens.sum()
