"""Helpers for end-to-end tests: a small demo input, job configs, and folder comparison."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from mmcurate.jobs.job_file import Job, resolve
from mmcurate.jobs.load import default_job_path
from mmcurate.jobs.yaml_safe import load_yaml
from mmcurate.pipeline.generate.demo_folder import DUPLICATE_PREFIX, make_demo_folder


def make_small_input(root: Path, with_video: bool = False) -> dict[str, str | None]:
    """The demo's local folder, small; videos (a sandboxed decode each) only where a test needs them."""
    # n_crops <= the 11 bundled photos: crops of one photo at two offsets may be (rightly) near-duplicates.
    return make_demo_folder(root, n_scenes=36, n_crops=10, n_duplicates=3, seed=7, with_video=with_video)


def check_expected_reasons(expected: dict[str, str | None], rejects: list[dict], dedup: bool = True) -> None:
    """Every planted file has its reason; of each planted exact copy pair exactly one is deduplicated
    (with ``dedup`` off, both copies are kept)."""
    by_locator = {r["locator"]: r for r in rejects}
    originals = {r[len(DUPLICATE_PREFIX):] for r in expected.values() if r and r.startswith(DUPLICATE_PREFIX)}
    for name, reason in expected.items():
        if name in originals and dedup:
            continue  # judged with its copy below
        if reason is not None and reason.startswith(DUPLICATE_PREFIX) and not dedup:
            reason = None
        if reason is not None and reason.startswith(DUPLICATE_PREFIX):
            original = reason[len(DUPLICATE_PREFIX):]
            pair = [by_locator.get(n) for n in (name, original)]
            removed = [r for r in pair if r is not None]
            assert len(removed) == 1 and removed[0]["reason"] == "dedup_v1:exact_pixels", (name, removed)
            assert removed[0]["duplicate_of"]
            continue
        got = by_locator.get(name)
        assert (got["reason"] if got else None) == reason, name


def default_steps(drop: tuple[str, ...] = ("clip_score", "clip_frames")) -> list[dict]:
    """The packaged default job's steps, without those named in ``drop``."""
    # The model filters have their own tests and a Ray run in test_demo_inputs; in the many resume and
    # cluster runs they would only multiply the cost.
    return [s for s in load_yaml(default_job_path())["steps"] if s["use"] not in drop]


NO_MODELS = ("clip_score", "clip_frames")
MIXTURE = ("synthesize", "count_tokens", "balance", "pack")


def step_index(data: dict, use: str) -> int:
    return next(i for i, s in enumerate(data["steps"]) if s["use"] == use)


def job_dict(input_dir: Path, out_dir: Path, drop: tuple[str, ...] = ("clip_score", "clip_frames")) -> dict:
    return {
        "inputs": [{"kind": "folder", "path": str(input_dir), "unit_rows": 16}],
        "steps": default_steps(drop),
        "output": {"path": str(out_dir), "max_rows": 10, "max_bytes": 400_000},
    }


def job_config(input_dir: Path, out_dir: Path) -> Job:
    return resolve(job_dict(input_dir, out_dir))


def write_job_yaml(path: Path, input_dir: Path, out_dir: Path) -> Path:
    path.write_text(yaml.safe_dump(job_dict(input_dir, out_dir)))
    return path


def folder_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except job.json (it names the output and the command line) and
    the empty run-lock file."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("job.json", ".mmcurate.lock")  # the run lock holds no data
    }
