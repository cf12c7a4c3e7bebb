"""The same job on a simulated two-node Ray cluster writes the same bytes as on one machine: to a path
every node shares (declared), and to a bucket; an undeclared local path is refused before any work."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml
from e2e_support import folder_digest, job_dict, make_small_input

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline import fs


def _job_file(path: Path, input_dir: Path, output: str, **extra: object) -> str:
    data = job_dict(input_dir, Path(output))
    data["output"].update(path=output, **extra)
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_two_node_cluster_matches_local(tmp_path: Path, s3_bucket: str) -> None:
    make_small_input(tmp_path / "input")
    run_job(resolve(job_dict(tmp_path / "input", tmp_path / "local")), use_ray=False, progress=False)
    bucket = f"s3://{s3_bucket}/curated"
    jobs = [_job_file(tmp_path / "undeclared.yaml", tmp_path / "input", str(tmp_path / "undeclared")),
            _job_file(tmp_path / "shared.yaml", tmp_path / "input", str(tmp_path / "shared"), shared_filesystem=True),
            _job_file(tmp_path / "bucket.yaml", tmp_path / "input", bucket)]
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cluster_job.py")), *jobs],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 2
    refused, shared, on_s3 = result["runs"]
    assert "2-node cluster" in refused["error"] and "shared_filesystem" in refused["error"]
    assert not (tmp_path / "undeclared").exists()
    funnel = shared["funnel"]
    assert funnel["rows_in"] == funnel["accepted"] + funnel["rejected"]
    assert folder_digest(tmp_path / "shared") == folder_digest(tmp_path / "local")
    stored = {fs.relative_to(loc, bucket): hashlib.sha256(fs.read_bytes(loc)).hexdigest()
              for loc in fs.list_files(bucket) if not loc.endswith("/job.json")}
    assert on_s3["funnel"]["accepted"] == funnel["accepted"] and stored == folder_digest(tmp_path / "local")
