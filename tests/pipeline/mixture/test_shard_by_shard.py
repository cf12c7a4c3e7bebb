"""balance and pack over the accepted output one shard at a time give the whole-table answers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmcurate.pipeline.mixture.budget import BudgetConfig, balance, budget_rows
from mmcurate.pipeline.mixture.loss_weights import add_loss_weights
from mmcurate.pipeline.mixture.packing import pack_table
from mmcurate.pipeline.mixture.passes import Balance, Pack
from mmcurate.pipeline.passes import OutputContext

SHARES = {"image_text": 0.6, "video": 0.3, "text": 0.1}


def _accepted(out: Path, shards: int = 5, rows: int = 700) -> pa.Table:
    """An output's accepted shards (slim columns only), and all their rows as one table."""
    rng = np.random.default_rng(3)
    (out / "parquet").mkdir(parents=True)
    parts = []
    for k in range(shards):
        modality = rng.choice(list(SHARES), size=rows, p=[0.8, 0.05, 0.15])
        tokens = rng.integers(10, 3000, size=rows)
        part = pa.table({
            "sample_id": [f"{k}-{i:05d}" for i in rng.permutation(rows)],  # not sorted within a shard
            "source": np.char.add("src", (np.arange(rows) % 3).astype(str)),
            "modality": modality,
            "tokens_total": pa.array(tokens, pa.int64()),
            "tokens_supervised": pa.array(tokens // 3, pa.int64()),
        })
        pq.write_table(part, out / "parquet" / f"unit-{k:03d}.parquet")
        parts.append(part)
    return pa.concat_tables(parts)


def test_balance_by_shard_equals_the_library_balance_of_every_row(tmp_path: Path) -> None:
    rows = _accepted(tmp_path)
    step = Balance(total_tokens=2_000_000, modality_shares=SHARES, max_repeats=3, seed=7)
    summary = step.run(OutputContext(str(tmp_path), "h"))
    parts = sorted((tmp_path / "mixture" / "balance").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{k:05d}.parquet" for k in range(5)]
    got = pa.concat_tables([pq.read_table(p) for p in parts]).sort_by("sample_id")

    config = BudgetConfig(total_tokens=2_000_000, modality_shares=SHARES, max_repeats=3, seed=7)
    decided, report = balance(budget_rows(rows), config)
    whole = add_loss_weights(decided.append_column("tokens_supervised", rows.column("tokens_supervised")))
    whole = whole.sort_by("sample_id")
    assert got.column("sample_id").equals(whole.column("sample_id"))
    assert got.column("repeats").to_pylist() == whole.column("repeats").to_pylist()
    assert np.allclose(got.column("loss_weight").to_numpy(), whole.column("loss_weight").to_numpy(), rtol=1e-6)
    assert summary == {"samples": rows.num_rows, "repeated_rows": sum(whole.column("repeats").to_pylist())}
    written = json.loads((tmp_path / "mixture" / "report.json").read_text())["budget"]
    assert [r["achieved_tokens"] for r in written] == pytest.approx(report.column("achieved_tokens").to_pylist())


def _placed(out: Path) -> tuple[pa.Table, Counter]:
    packs = pa.concat_tables([pq.read_table(p) for p in sorted((out / "mixture").glob("packs-*.parquet"))])
    return packs, Counter((s, r) for p in packs.to_pylist() for s, r in zip(p["sample_ids"], p["repeat_index"]))


@pytest.mark.parametrize("chunk_rows", [400, 10_000_000])  # 400: ~2 shards of kept rows a chunk
def test_pack_in_chunks_places_every_repeat_once(tmp_path: Path, chunk_rows: int) -> None:
    rows = _accepted(tmp_path)
    Balance(total_tokens=2_000_000, modality_shares=SHARES, max_repeats=3).run(OutputContext(str(tmp_path), "h"))
    summary = Pack(context=4096, packs_per_shard=50, chunk_rows=chunk_rows).run(OutputContext(str(tmp_path), "h"))
    packs, placed = _placed(tmp_path)
    balanced = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "mixture" / "balance").glob("*"))])
    wanted = Counter((s, r) for s, k in zip(balanced.column("sample_id").to_pylist(),
                                            balanced.column("repeats").to_pylist()) for r in range(k))
    assert placed == wanted  # every (sample, repeat) in exactly one pack
    assert packs.column("pack_id").to_pylist() == list(range(packs.num_rows))  # numbered across chunks
    assert max(packs.column("tokens").to_pylist()) <= 4096
    assert summary["samples"] == rows.num_rows and summary["packs"] == packs.num_rows
    if chunk_rows > rows.num_rows:  # one chunk: exactly the packing of the whole table
        whole = pack_table(balanced.filter(pa.compute.greater(balanced.column("repeats"), 0)), 4096)
        assert packs.column("sample_ids").to_pylist() == whole.packs.column("sample_ids").to_pylist()
    else:  # chunks of whole shards: the first and last shard never share a pack; one partly filled pack a chunk
        shards_in = [{sid.split("-")[0] for sid in p} for p in packs.column("sample_ids").to_pylist()]
        assert not any({"0", "4"} <= s for s in shards_in)
        whole = pack_table(balanced.filter(pa.compute.greater(balanced.column("repeats"), 0)), 4096)
        assert any({"0", "4"} <= {sid.split("-")[0] for sid in p} for p in whole.packs.column("sample_ids").to_pylist())
        assert whole.packs.num_rows <= packs.num_rows <= whole.packs.num_rows + 5  # 5 shards: at most 5 chunks
