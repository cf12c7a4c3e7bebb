"""The same job on a simulated two-node Ray cluster writes the same bytes as on one machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e_support import folder_digest, make_small_input, write_job_yaml

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.load import load_job


def test_two_node_cluster_matches_local(tmp_path: Path) -> None:
    make_small_input(tmp_path / "input")
    local_cfg = write_job_yaml(tmp_path / "local.yaml", tmp_path / "input", tmp_path / "local")
    run_job(load_job(local_cfg), use_ray=False, progress=False)
    cluster_cfg = write_job_yaml(tmp_path / "cluster.yaml", tmp_path / "input", tmp_path / "cluster")
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cluster_job.py")), str(cluster_cfg)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["nodes"] == 2
    assert result["funnel"]["rows_in"] == result["funnel"]["accepted"] + result["funnel"]["rejected"]
    assert folder_digest(tmp_path / "cluster") == folder_digest(tmp_path / "local")
