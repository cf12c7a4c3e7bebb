"""SIGKILL a job at several points; rerunning the same config must finish with a folder that is byte
for byte the one an uninterrupted run writes. A changed config is refused unless told to start over.

Drivers run as subprocesses of the ``mmcurate`` CLI, joined to the test session's Ray instance with
``--address`` (the cluster path), so killing one kills a real driver and its Ray job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import folder_digest, make_small_input, write_job_yaml

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.load import load_job
from mmcurate.pipeline.manifest import JOURNAL

CLI = str(Path(sys.executable).with_name("mmcurate"))


@pytest.fixture(scope="module")
def small_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume_input")
    make_small_input(root)
    return root


@pytest.fixture(scope="module")
def reference(small_input: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("reference")
    cfg_path = write_job_yaml(base / "job.yaml", small_input, base / "out")
    run_job(load_job(cfg_path), use_ray=False, progress=False)
    return folder_digest(base / "out")


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MMCURATE_FAULT", None) if not env or "MMCURATE_FAULT" not in env else None
    return subprocess.Popen([CLI, *args, "--no-progress"], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 240) -> tuple[int, str]:
    proc = _cli(args, env)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


@pytest.mark.parametrize(
    "fault",
    [
        "driver_before_commit:u00-000001",  # driver dies between the writer's rename and the manifest line
        "writer_before_rename:u00-000002",  # a Ray worker dies mid-shard: temp file left, task retried
        "writer_after_rename:u00-000000",  # worker dies after its files are in place: retry rewrites them
    ],
)
def test_sigkill_at_a_fault_point_then_resume(fault: str, small_input: Path, reference: dict[str, str],
                                              ray_session: str, tmp_path: Path) -> None:
    cfg = write_job_yaml(tmp_path / "job.yaml", small_input, tmp_path / "out")
    env = {"MMCURATE_FAULT": fault, "MMCURATE_FAULT_MARKER": str(tmp_path / "fault.marker")}
    code, out = _run(["run", str(cfg), "--address", ray_session], env)
    assert (tmp_path / "fault.marker").exists(), out[-2000:]
    if fault.startswith("driver"):
        assert code == -signal.SIGKILL
        code, out = _run(["run", str(cfg), "--address", ray_session])
        assert "resumed" in out
    assert code == 0, out[-3000:]
    assert folder_digest(tmp_path / "out") == reference


def test_external_sigkill_mid_run_then_resume(small_input: Path, reference: dict[str, str], ray_session: str,
                                              tmp_path: Path) -> None:
    cfg = write_job_yaml(tmp_path / "job.yaml", small_input, tmp_path / "out")
    proc = _cli(["run", str(cfg), "--address", ray_session])
    journal = tmp_path / "out" / JOURNAL
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    committed_before = journal.read_bytes().count(b"\n") if journal.exists() else 0
    code, out = _run(["run", str(cfg), "--address", ray_session])
    assert code == 0, out[-3000:]
    assert f"(resumed {committed_before})" in out or committed_before == 0
    assert folder_digest(tmp_path / "out") == reference


def test_changed_config_is_refused_unless_overwrite(small_input: Path, ray_session: str, tmp_path: Path) -> None:
    cfg = write_job_yaml(tmp_path / "job.yaml", small_input, tmp_path / "out")
    assert _run(["run", str(cfg), "--address", ray_session])[0] == 0
    code, out = _run(["run", str(cfg), "--address", ray_session, "--set", "image_decode.min_side=40"])
    assert code == 2 and "--overwrite" in out and "config" in out
    code, out = _run(["run", str(cfg), "--address", ray_session, "--set", "image_decode.min_side=40", "--overwrite"])
    assert code == 0, out[-3000:]
    assert "image_decode_v1:too_small" in out


@pytest.mark.parametrize("fault", ["driver_before_commit:u00-000001", "writer_before_rename:u00-000002"])
def test_sigkill_with_the_output_on_s3_then_resume(fault: str, small_input: Path, reference: dict[str, str],
                                                   ray_session: str, s3_bucket: str, tmp_path: Path) -> None:
    """The same kills with the output on a real S3 server: a dead driver leaves units whose commit
    records exist and one whose record does not; a dead writer dies before its PUT. The rerun takes over
    the dead driver's lease and finishes with the objects, key for key and byte for byte, of a local run."""
    import hashlib

    import yaml

    from mmcurate.pipeline import fs

    out = f"s3://{s3_bucket}/curated"
    cfg = write_job_yaml(tmp_path / "job.yaml", small_input, tmp_path / "unused")
    data = yaml.safe_load(cfg.read_text())
    data["output"]["path"] = out
    cfg.write_text(yaml.safe_dump(data))
    env = {"MMCURATE_FAULT": fault, "MMCURATE_FAULT_MARKER": str(tmp_path / "fault.marker")}
    code, log = _run(["run", str(cfg), "--address", ray_session], env)
    assert (tmp_path / "fault.marker").exists(), log[-2000:]
    if fault.startswith("driver"):
        assert code == -signal.SIGKILL
        assert not fs.exists(fs.join(out, "manifest.parquet"))  # the run was not finished
        code, log = _run(["run", str(cfg), "--address", ray_session])
        assert "resumed" in log
    assert code == 0, log[-3000:]
    stored = {fs.relative_to(loc, out): hashlib.sha256(fs.read_bytes(loc)).hexdigest() for loc in fs.list_files(out)
              if not loc.endswith("/job.json")}
    assert stored == reference  # nothing missing, nothing extra: no commit records, temp or stray objects left
