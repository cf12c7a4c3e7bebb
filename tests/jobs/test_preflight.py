"""User mistakes found before Ray starts, each a one-line PreflightError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmcurate.jobs.preflight import PreflightError, check_checkpoint, check_output_dir, check_step_paths


def test_output_that_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("not a folder")
    with pytest.raises(PreflightError, match="is a file, not a folder") as info:
        check_output_dir(out)
    assert "\n" not in str(info.value)
    with pytest.raises(PreflightError, match="is a file"):
        check_output_dir(out / "sub")  # below a file: cannot be created either


def test_new_and_existing_writable_outputs_pass(tmp_path: Path) -> None:
    check_output_dir(tmp_path)
    check_output_dir(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()  # the check creates nothing


def _check_as_nobody(path: Path) -> str:
    """Run the check in a forked child that dropped root (root writes through any mode bits)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        message = b"passed"
        try:
            os.setgid(65534)
            os.setuid(65534)
            check_output_dir(path)
        except PreflightError as exc:
            message = str(exc).encode()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            message = f"unexpected {exc!r}".encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 4096):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_read_only_output() -> None:
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="mmcurate-ro-"))  # in /tmp: pytest's tmp_path is private to root
    top.chmod(0o755)
    locked = top / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.geteuid() == 0:
            message = _check_as_nobody(locked / "out")
        else:
            with pytest.raises(PreflightError) as info:
                check_output_dir(locked / "out")
            message = str(info.value)
    finally:
        locked.chmod(0o755)
        shutil.rmtree(top)
    assert "is not writable" in message and str(locked) in message, message
    assert "\n" not in message


def test_missing_clip_checkpoint(tmp_path: Path) -> None:
    check_checkpoint(None)
    check_checkpoint("")
    real = tmp_path / "vit.safetensors"
    real.write_bytes(b"x")
    check_checkpoint(real)
    with pytest.raises(PreflightError, match="does not exist"):
        check_checkpoint(tmp_path / "vit_b_32.safetensors", what="CLIP checkpoint")
    with pytest.raises(PreflightError, match="not a file"):
        check_checkpoint(tmp_path)


def test_step_list_checkpoints(tmp_path: Path) -> None:
    steps = [{"use": "image_decode", "min_side": 64}, {"use": "clip_score", "checkpoint": str(tmp_path / "nope.pt")}]
    with pytest.raises(PreflightError, match=r"steps\[1\] \(clip_score\)\.checkpoint: .*nope\.pt does not exist"):
        check_step_paths(steps)
    check_step_paths([{"use": "clip_score", "checkpoint": None}, {"use": "ocr"}])
