"""``semantic_dedup``: SemDeDup on CLIP image embeddings as a step of the job."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
from e2e_support import MIXTURE, NO_MODELS, job_dict, step_index
from PIL import Image

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline.generate.demo_folder import make_demo_folder


def test_semantic_near_copy_is_removed_by_semdedup(tmp_path: Path) -> None:
    src = tmp_path / "in"
    make_demo_folder(src, n_scenes=30, n_crops=0, n_duplicates=0, with_video=False)
    original = Image.open(src / "scene_0004.png").convert("RGB")
    buf = io.BytesIO()
    original.resize((150, 150)).save(buf, "JPEG", quality=70)  # a resized, lossy copy: not byte- or pixel-equal
    (src / "near_scene_0004.jpg").write_bytes(buf.getvalue())
    (src / "near_scene_0004.txt").write_text((src / "scene_0004.txt").read_text())
    data = job_dict(src, tmp_path / "out", drop=NO_MODELS + MIXTURE)
    data["steps"][step_index(data, "dedup"):step_index(data, "dedup") + 1] = [
        {"use": "clip_score", "write_embedding": True, "require_image": False},
        {"use": "semantic_dedup", "eps": 0.01, "keep": "clip_score"}]
    run_job(resolve(data), use_ray=False, progress=False)
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    semantic = [r for r in rejects if r["reason"] == "dedup_v1:semdedup_v1"]
    pair = {"scene_0004.png", "near_scene_0004.jpg"}
    assert len([r for r in semantic if r["locator"] in pair]) == 1
    assert all(r["duplicate_of"] for r in semantic)
    accepted = pq.read_table(tmp_path / "out" / "parquet", columns=["locator"]).column(0).to_pylist()
    assert len(pair & set(accepted)) == 1
