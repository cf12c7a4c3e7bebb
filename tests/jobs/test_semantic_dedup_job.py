"""``dedup.semantic_eps``: SemDeDup on CLIP image embeddings inside the job's dedup pass."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
from e2e_support import job_dict
from PIL import Image

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.config import config_from_dict
from mmcurate.pipeline.generate.demo_folder import make_demo_folder


def test_semantic_near_copy_is_removed_by_semdedup(tmp_path: Path) -> None:
    src = tmp_path / "in"
    make_demo_folder(src, n_scenes=30, n_crops=0, n_duplicates=0, with_video=False)
    original = Image.open(src / "scene_0004.png").convert("RGB")
    buf = io.BytesIO()
    original.resize((150, 150)).save(buf, "JPEG", quality=70)  # a resized, lossy copy: not byte- or pixel-equal
    (src / "near_scene_0004.jpg").write_bytes(buf.getvalue())
    (src / "near_scene_0004.txt").write_text((src / "scene_0004.txt").read_text())
    data = job_dict(src, tmp_path / "out")
    data["dedup"] = {"exact": False, "phash_max_distance": None, "semantic_eps": 0.01, "keep": "clip_score"}
    data["mixture"] = {"enabled": False}
    run_job(config_from_dict(data), use_ray=False, progress=False)
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    semantic = [r for r in rejects if r["reason"] == "dedup_v1:semdedup_v1"]
    pair = {"scene_0004.png", "near_scene_0004.jpg"}
    assert len([r for r in semantic if r["locator"] in pair]) == 1
    assert all(r["duplicate_of"] for r in semantic)
    accepted = pq.read_table(tmp_path / "out" / "parquet", columns=["locator"]).column(0).to_pylist()
    assert len(pair & set(accepted)) == 1
