"""Helpers for end-to-end tests: a small demo input, job configs, and folder comparison."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from mmcurate.jobs.config import JobConfig, config_from_dict
from mmcurate.jobs.demo_data import make_demo_folder


def make_small_input(root: Path, with_video: bool = False) -> dict[str, str | None]:
    """The demo's local folder, small; videos (a sandboxed decode each) only where a test needs them."""
    return make_demo_folder(root, n_scenes=36, n_crops=12, n_duplicates=3, seed=7, with_video=with_video)


def job_dict(input_dir: Path, out_dir: Path) -> dict:
    return {
        "inputs": [{"kind": "folder", "path": str(input_dir), "unit_rows": 16}],
        "output": str(out_dir),
        "shards": {"max_rows": 10, "max_bytes": 400_000},
    }


def job_config(input_dir: Path, out_dir: Path) -> JobConfig:
    return config_from_dict(job_dict(input_dir, out_dir))


def write_job_yaml(path: Path, input_dir: Path, out_dir: Path) -> Path:
    path.write_text(yaml.safe_dump(job_dict(input_dir, out_dir)))
    return path


def folder_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except job.json (which records nothing run-specific anyway)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
