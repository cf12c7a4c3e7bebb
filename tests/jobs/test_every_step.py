"""Every step the catalog lists runs in a job; one of each kind gives the same bytes on Ray and in process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import folder_digest

from mmcurate.jobs.catalog import STEPS, kind_of, step_class
from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.jobs.load import load_job_data

PHOTOS = {
    "astronaut.png": "an astronaut in a white suit stands beside a flag",
    "coffee.png": "a cup of coffee on a saucer with a spoon",
    "chelsea.png": "a tabby cat sitting near a window",
    "rocket.jpg": "a rocket on its launch pad before the launch",
    "motorcycle_left.png": "cat",  # one word: word_count
    "camera.png": "un homme avec un appareil photo sur un trépied dans le parc",  # French: caption_language
    "page.png": "DSC_0042.jpg",  # a file name: boilerplate_caption
}


@pytest.fixture(scope="module")
def photos(skimage_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    for name, caption in PHOTOS.items():
        source = skimage_data_dir / (name if name != "page.png" else "text.png")
        shutil.copy(source, root / name)
        (root / name).with_suffix(".txt").write_text(caption)
    return root


def test_every_listed_step_with_its_defaults_runs_in_the_default_job(photos: Path, tmp_path: Path) -> None:
    data = load_job_data(None, inputs=[str(photos)], output=str(tmp_path / "out"))
    present = [s["use"] for s in data["steps"]]
    # clip_score_cut's threshold has no default; semantic_dedup reads clip_score's embeddings.
    required = {"clip_score_cut": {"min_score": -1.0}, "clip_score": {"write_embedding": True}}
    # ocr first: caption_is_ocr and tmars read its text boxes.
    rows = ["ocr"] + [u for u in STEPS if u not in present and u != "ocr" and kind_of(step_class(u)) != "output"]
    at = present.index("count_tokens")
    data["steps"][at:at] = [{"use": u, **required.get(u, {})} for u in rows]
    data["steps"] += [{"use": u} for u in STEPS if u not in present and kind_of(step_class(u)) == "output"]
    assert {s["use"] for s in data["steps"]} == set(STEPS)
    funnel = run_job(resolve(data), use_ray=False, progress=False)
    assert funnel["rows_in"] == len(PHOTOS) == funnel["accepted"] + funnel["rejected"]
    outputs = {step_class(u).name for u in STEPS if kind_of(step_class(u)) == "output"}
    assert funnel["accepted"] >= 1 and set(funnel["outputs"]) == outputs


def _one_of_each_kind(photos: Path, out: Path) -> dict:
    return {
        "inputs": [{"kind": "folder", "path": str(photos), "unit_rows": 3}],
        "steps": [
            {"use": "image_decode"},                        # a row stage
            {"use": "caption_clean"},
            {"use": "image_size", "min_side": 300},         # filters: score, then decide
            {"use": "word_count", "min_words": 3},
            {"use": "caption_language", "languages": ["en"]},
            {"use": "boilerplate_caption"},
            {"use": "dedup"},                               # set-level passes
            {"use": "clip_score"},
            {"use": "clip_keep_top", "keep_fraction": 0.75},
            {"use": "count_tokens"},
            {"use": "balance"},                             # over the written shards
            {"use": "pack", "context": 4096},
        ],
        "output": {"path": str(out), "max_rows": 2},
    }


def test_one_step_of_each_kind_is_byte_identical_on_ray_and_in_process(photos: Path, tmp_path: Path,
                                                                          ray_session: str) -> None:
    local = run_job(resolve(_one_of_each_kind(photos, tmp_path / "local")), use_ray=False, progress=False)
    remote = run_job(resolve(_one_of_each_kind(photos, tmp_path / "ray")), address=ray_session, progress=False)
    assert folder_digest(tmp_path / "local") == folder_digest(tmp_path / "ray")
    assert local["reasons"] == remote["reasons"]
    rejects = {r["locator"]: r for r in pq.read_table(tmp_path / "ray" / "rejects").to_pylist()}
    assert rejects["motorcycle_left.png"]["reason"] == "word_count_v1:too_few_words"
    assert rejects["camera.png"]["reason"].startswith("caption_language_v1:")
    assert rejects["page.png"]["reason"].startswith(("boilerplate_caption_v1:", "image_size_v1:"))
    assert any(r["reason"] == "image_size_v1:too_small" for r in rejects.values())
    top = [r for r in rejects.values() if r["reason"] == "clip_keep_top_v1:below_top_fraction"]
    assert top and all("clip_score_v1_mean" in r["error"] and "<" in r["error"] for r in top)
    assert set(remote["outputs"]) == {"balance_v1", "pack_v1"}
