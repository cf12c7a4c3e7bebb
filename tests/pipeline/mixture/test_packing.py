"""Sequence packing: FFD equals the naive loop, samples are atomic, overlong ones rejected, >= 95 % full."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmcurate.pipeline.mixture.pack_shards import MANIFEST_NAME, SUMMARY_NAME, write_pack_shards
from mmcurate.pipeline.mixture.packing import ffd_assign, naive_first_fit, pack_table


def realistic_lengths(n: int, seed: int = 0) -> np.ndarray:
    """Image-text ~ 300-1,500 tokens, instruction ~ 1-3k, video 4-16k: a log-normal mixture."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    mu = np.array([np.log(600), np.log(1800), np.log(7000)])[kind]
    return np.clip(rng.lognormal(mu, 0.5), 16, 40_000).astype(np.int64)


def test_segment_tree_matches_naive_first_fit() -> None:
    for seed, cap in ((0, 8192), (1, 16384), (2, 100)):
        lengths = np.clip(realistic_lengths(3000, seed), 1, cap) if cap > 100 else np.random.default_rng(2).integers(1, 101, 500)
        fast, n_fast = ffd_assign(lengths, cap)
        slow, n_slow = naive_first_fit(lengths, cap)
        assert n_fast == n_slow and np.array_equal(fast, slow)


@pytest.mark.parametrize("context", [8192, 16384, 32768])
def test_pack_atomic_rejects_and_efficiency(context: int) -> None:
    lengths = realistic_lengths(20_000)
    ids = [f"s{i:05d}" for i in range(len(lengths))]
    result = pack_table(pa.table({"sample_id": ids, "tokens_total": lengths}), context)
    too_long = {i for i, n in zip(ids, lengths) if n > context}
    assert set(result.rejects.column("sample_id").to_pylist()) == too_long
    assert set(result.rejects.column("drop_reason").to_pylist()) <= {"pack_v1:too_long"}
    assert result.efficiency >= 0.95
    length_of = dict(zip(ids, lengths.tolist()))
    seen = []
    for pack in result.packs.to_pylist():
        cu = pack["cu_seqlens"]
        assert cu[0] == 0 and cu[-1] == pack["tokens"] <= context
        assert np.all(np.diff(cu) == pack["lengths"])  # boundaries consistent with lengths
        assert pack["lengths"] == [length_of[s] for s in pack["sample_ids"]]  # each sample whole, in one span
        seen += pack["sample_ids"]
    assert sorted(seen) == sorted(set(ids) - too_long)  # every packable sample exactly once


def test_repeats_and_weights_travel() -> None:
    table = pa.table({"sample_id": ["a", "b", "c", "d"], "tokens_total": [5000, 3000, 9000, 0],
                      "repeats": pa.array([2, 0, 1, 1], pa.int32()), "loss_weight": pa.array([0.5, 1, 2, 1], pa.float32())})
    result = pack_table(table, 8192)
    items = [(s, r, w) for p in result.packs.to_pylist() for s, r, w in zip(p["sample_ids"], p["repeat_index"], p["loss_weights"])]
    assert sorted(items) == [("a", 0, 0.5), ("a", 1, 0.5)]
    assert dict(zip(result.rejects.column("sample_id").to_pylist(), result.rejects.column("drop_reason").to_pylist())) == {
        "c": "pack_v1:too_long", "d": "pack_v1:empty"}


def test_write_shards_manifest(tmp_path: Path) -> None:
    lengths = realistic_lengths(2000)
    result = pack_table(pa.table({"sample_id": [f"s{i}" for i in range(2000)], "tokens_total": lengths}), 16384)
    summary = write_pack_shards(result, tmp_path, packs_per_shard=50)
    manifest = pq.read_table(tmp_path / MANIFEST_NAME)
    assert manifest.num_rows == summary["shards"] and sum(manifest.column("rows").to_pylist()) == result.packs.num_rows
    back = pa.concat_tables([pq.read_table(tmp_path / p) for p in manifest.column("path").to_pylist()])
    assert back.equals(result.packs)
    assert (tmp_path / SUMMARY_NAME).exists() and not list(tmp_path.glob("*.mmcurate-tmp-*"))
    again = tmp_path / "again"
    write_pack_shards(pack_table(pa.table({"sample_id": [f"s{i}" for i in range(2000)], "tokens_total": lengths}), 16384),
                      again, packs_per_shard=50)
    assert pq.read_table(again / MANIFEST_NAME).column("sha256").equals(manifest.column("sha256"))
