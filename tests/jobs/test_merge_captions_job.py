"""``dedup`` with ``merge_captions``: the same image under two captions becomes one sample listing both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
from e2e_support import MIXTURE, NO_MODELS, job_dict, step_index

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline.generate.demo_folder import make_demo_folder


def test_duplicate_images_with_other_captions_are_merged(tmp_path: Path) -> None:
    src = tmp_path / "in"
    make_demo_folder(src, n_scenes=8, n_crops=0, n_duplicates=0, with_video=False)
    shutil.copyfile(src / "scene_0001.png", src / "copy_of_scene_0001.png")
    (src / "copy_of_scene_0001.txt").write_text("the same picture, described differently")
    data = job_dict(src, tmp_path / "out", drop=NO_MODELS + MIXTURE)
    data["steps"][step_index(data, "dedup")]["merge_captions"] = True
    run_job(resolve(data), use_ray=False, progress=False)
    rows = pq.read_table(tmp_path / "out" / "parquet", columns=["locator", "caption", "captions"]).to_pylist()
    kept = [r for r in rows if r["locator"] in ("scene_0001.png", "copy_of_scene_0001.png")]
    assert len(kept) == 1
    original = (src / "scene_0001.txt").read_text()
    assert sorted(kept[0]["captions"]) == sorted([original, "the same picture, described differently"])
    assert kept[0]["captions"][0] == kept[0]["caption"]  # its own caption first
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    assert [r["reason"] for r in rejects if "scene_0001" in r["locator"]] == ["dedup_v1:exact_pixels"]
