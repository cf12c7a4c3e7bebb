"""`mmcurate run` from a new user's side: input mistakes are one line (exit 2) before Ray starts, a run
that accepts nothing says why, --debug shows tracebacks, and small or finished jobs stay quick and quiet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from mmcurate.jobs.cli import main
from mmcurate.pipeline.readers.base import InputError

MMCURATE = str(Path(sys.executable).parent / "mmcurate")
STEPS = [{"use": "image_decode"}, {"use": "caption_clean"}]


def _photos(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(root / f"p{i:03d}.png")
        (root / f"p{i:03d}.txt").write_text(f"random picture number {i}")
    return root


def _job(tmp_path: Path, inputs: Path, out: Path) -> Path:
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"inputs": [{"kind": "folder", "path": str(inputs), "unit_rows": 10}],
                                   "steps": STEPS, "output": {"path": str(out)}}))
    return job


def test_a_url_only_table_without_url_column_is_one_line_naming_the_fix(tmp_path: Path, capsys) -> None:
    urls = tmp_path / "urls.parquet"
    pq.write_table(pa.table({"image_url": ["http://example.com/a.jpg"], "caption": ["a"]}), urls)
    assert main(["run", "--input", str(urls), "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "url_column: image_url" in err and str(urls) in err
    assert not (tmp_path / "out" / "job.json").exists()  # refused before anything ran


def test_a_json_array_is_read_as_an_array(tmp_path: Path, capsys) -> None:
    _photos(tmp_path / "imgs", 3)
    records = [{"image": f"imgs/p{i:03d}.png", "caption": f"picture {i}", "id": i} for i in range(3)]
    (tmp_path / "llava.json").write_text(json.dumps(records, indent=2))
    assert main(["run", "--input", str(tmp_path / "llava.json"), "--output", str(tmp_path / "out"), "--local",
                 "--no-progress", "--set", "image_decode.min_side=8"]) == 0
    assert json.loads((tmp_path / "out" / "job.json").read_text())["units"] == 1
    assert "accepted                  3" in capsys.readouterr().out


def test_an_empty_input_folder_is_an_error_naming_it(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["run", _job(tmp_path, tmp_path / "empty", tmp_path / "out").as_posix(), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tmp_path / "empty") in err and "empty" in err


def test_debug_shows_the_traceback_of_a_user_mistake(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        main(["run", _job(tmp_path, tmp_path / "empty", tmp_path / "out").as_posix(), "--local", "--debug"])


def test_a_run_that_accepts_nothing_warns_with_reasons_and_can_fail(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(4):
        (bad / f"x{i}.png").write_bytes(b"<html>not found</html>")
    job = _job(tmp_path, bad, tmp_path / "out")
    assert main(["run", str(job), "--local", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: every row was rejected (4 of 4)" in err and "image_decode_v1:" in err
    assert main(["run", str(job), "--local", "--no-progress", "--fail-under-accepted", "0.5"]) == 1
    assert "under --fail-under-accepted 0.5" in capsys.readouterr().err


def test_help_shows_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["demo", "--help"])
    assert done.value.code == 0
    assert "(default: 220)" in capsys.readouterr().out


def test_quiet_local_run_is_silent_off_a_terminal_and_a_finished_job_reruns_without_ray(tmp_path: Path) -> None:
    job = _job(tmp_path, _photos(tmp_path / "in", 12), tmp_path / "out")
    first = subprocess.run([MMCURATE, "run", str(job), "--local"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "committed:" not in first.stderr and "unit/s" not in first.stderr  # no progress bar into a pipe
    assert "accepted                 12" in first.stdout
    again = subprocess.run([MMCURATE, "run", str(job), "-v"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "Ray not started" in again.stderr and "Started a local Ray instance" not in again.stderr
    assert "(resumed 2)" in again.stdout
    quiet = subprocess.run([MMCURATE, "run", str(job), "-q"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr and "accepted" in quiet.stdout
    # Changed inputs are a different job: with --overwrite every unit is redone, by the engine asked for
    # (Ray), not in this process (the finished-job shortcut once looked only at the config and the plan).
    (tmp_path / "in" / "p000.txt").write_text("a caption rewritten after the first run")
    redo = subprocess.run([MMCURATE, "run", str(job), "-v", "--overwrite", "--no-progress"], capture_output=True,
                          text=True, timeout=300)
    assert redo.returncode == 0, redo.stderr
    assert "Ray not started" not in redo.stderr and "(resumed 0)" in redo.stdout
    assert "Started a local Ray instance" in redo.stderr
