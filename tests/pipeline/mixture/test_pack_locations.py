"""One token universe: packs are built from the token records a job wrote, and list each sample's shard
and row, so a trainer reads a pack without joining across shards."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mmcurate.jobs.job_file import resolve
from mmcurate.jobs.run import run_job
from mmcurate.pipeline.generate.demo_folder import make_demo_folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pack_in")
    make_demo_folder(root, n_scenes=8, n_crops=0, n_duplicates=0, with_video=False)
    return root


def _run(photos: Path, out: Path, steps: list[str]) -> None:
    job = {"inputs": [{"kind": "folder", "path": str(photos), "unit_rows": 4}],
           "steps": [{"use": s} for s in ["image_decode", "caption_clean", "count_tokens", *steps]],
           "output": {"path": str(out), "formats": ["parquet"], "max_rows": 3}}
    run_job(resolve(job), use_ray=False, progress=False)


def _placed(out: Path) -> list[tuple[str, str, int, int]]:
    packs = pq.read_table(next((out / "mixture").glob("packs-*.parquet"))).to_pylist()
    return [(sid, shard, row, length) for p in packs
            for sid, shard, row, length in zip(p["sample_ids"], p["shards"], p["rows"], p["lengths"])]


def test_packs_hold_the_token_records_and_say_where_each_is(photos: Path, tmp_path: Path) -> None:
    _run(photos, tmp_path / "out", ["vq_tokenize", "balance", "token_records", "pack"])
    placed = _placed(tmp_path / "out")
    assert placed
    for sample_id, shard, row, length in placed:
        assert shard.startswith("tokens/")
        record = pq.read_table(tmp_path / "out" / shard).slice(row, 1).to_pylist()[0]
        assert record["sample_id"] == sample_id and record["n_tokens"] == length == len(record["input_ids"])


def test_without_token_records_packs_point_at_the_accepted_rows(photos: Path, tmp_path: Path) -> None:
    _run(photos, tmp_path / "out", ["balance", "pack"])
    for sample_id, shard, row, length in _placed(tmp_path / "out"):
        record = pq.read_table(tmp_path / "out" / shard, columns=["sample_id", "tokens_total"]).slice(row, 1)
        assert shard.startswith("parquet/") and record.to_pylist()[0] == {"sample_id": sample_id,
                                                                           "tokens_total": length}
