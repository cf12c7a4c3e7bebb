"""The token-budget balancer: target shares reached, deterministic across runs and block splits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mmcurate.pipeline.mixture.budget import BudgetConfig, balance, ray_balance

SHARES = {"image_text": 0.55, "video": 0.25, "instruction": 0.20}


def _mixture(n: int = 12_000, seed: int = 0) -> pa.Table:
    """Natural mix: image-text dominant, video long and scarce, instruction medium."""
    rng = np.random.default_rng(seed)
    modality = rng.choice(["image_text", "video", "instruction"], size=n, p=[0.75, 0.05, 0.20])
    source = np.where(modality == "image_text", rng.choice(["laion", "coyo"], size=n), modality + "_src")
    mean = {"image_text": 300, "video": 6000, "instruction": 900}
    tokens = np.array([max(1, int(rng.lognormal(np.log(mean[m]), 0.5))) for m in modality])
    return pa.table({"sample_id": [f"s{i:06d}" for i in range(n)], "modality": modality, "source": source,
                     "tokens_total": pa.array(tokens, pa.int64())})


def _shares(report: pa.Table, level: str) -> dict[str, tuple[float, float]]:
    rows = [r for r in report.to_pylist() if r["level"] == level]
    return {r["key"]: (r["target_share"], r["achieved_share"]) for r in rows}


def test_balance_reaches_shares_and_is_deterministic() -> None:
    rows = _mixture()
    total = int(pa.compute.sum(rows.column("tokens_total")).as_py())
    config = BudgetConfig(total_tokens=total, modality_shares=SHARES, source_shares={"laion": 0.7, "coyo": 0.3})
    decided, report = balance(rows, config)
    for key, (target, achieved) in _shares(report, "modality").items():
        assert achieved == pytest.approx(target, abs=0.02), key
    src = {r["key"]: r for r in report.to_pylist() if r["level"] == "source"}
    assert src["laion"]["achieved_tokens"] / src["coyo"]["achieved_tokens"] == pytest.approx(0.7 / 0.3, rel=0.05)
    reps = decided.column("repeats").to_numpy()
    assert reps.min() == 0 and reps.max() >= 2  # image-text down-sampled, video up-sampled by repeats
    again, _ = balance(rows, config)
    assert again.column("repeats").equals(decided.column("repeats"))
    # the per-row decision ignores the row order and what else is in the table
    shuffled, _ = balance(rows.take(np.random.default_rng(1).permutation(rows.num_rows)), config)
    by_id = dict(zip(shuffled.column("sample_id").to_pylist(), shuffled.column("repeats").to_pylist()))
    assert [by_id[s] for s in decided.column("sample_id").to_pylist()] == reps.tolist()


def test_max_repeats_caps_and_reports_shortfall() -> None:
    rows = _mixture(3000)
    total = int(pa.compute.sum(rows.column("tokens_total")).as_py())
    config = BudgetConfig(total_tokens=total * 10, modality_shares=SHARES, max_repeats=2)
    decided, report = balance(rows, config)
    assert decided.column("repeats").to_numpy().max() <= 2
    video = next(r for r in report.to_pylist() if r["key"] == "video")
    assert video["achieved_tokens"] < video["target_tokens"]


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        BudgetConfig(total_tokens=10, modality_shares={"a": 0.5})


def test_ray_balance_matches_library_across_block_splits(ray_session: str) -> None:
    import ray.data

    rows = _mixture(4000)
    total = int(pa.compute.sum(rows.column("tokens_total")).as_py())
    config = BudgetConfig(total_tokens=total // 2, modality_shares=SHARES, seed=7)
    local, local_report = balance(rows, config)
    expected = dict(zip(local.column("sample_id").to_pylist(), local.column("repeats").to_pylist()))
    for blocks in (1, 5):
        ds = ray.data.from_arrow([rows.slice(i, rows.num_rows // blocks + 1) for i in
                                  range(0, rows.num_rows, rows.num_rows // blocks + 1)])
        decided, report = ray_balance(ds, config)
        got = pa.concat_tables(list(decided.iter_batches(batch_format="pyarrow", batch_size=None)))
        assert dict(zip(got.column("sample_id").to_pylist(), got.column("repeats").to_pylist())) == expected
        assert report.column("achieved_tokens").to_pylist() == local_report.column("achieved_tokens").to_pylist()
