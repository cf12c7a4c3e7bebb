"""Issue 20 from the user's side: the ``mmcurate run`` command line (most cases are library tests next to
the modules: tests/pipeline/readers/test_table_path_safety.py, test_tar_bombs.py,
tests/pipeline/test_caption_forging.py, test_output_integrity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from e2e_support import NO_MODELS, default_steps
from PIL import Image

from mmcurate.jobs.cli import main
from mmcurate.pipeline.generate import cases as mc

JPEG = mc.encode(Image.new("RGB", (64, 64), (200, 10, 10)), "JPEG")
SECRET = mc.encode(Image.new("RGB", (64, 64), (10, 10, 200)), "JPEG")


def _run(inputs: list[Path], out: Path, ray: str, *extra: str) -> int:
    job = out.parent / f"{out.name}-job.yaml"  # the default job without the model filters and dedup
    job.write_text(yaml.safe_dump({"inputs": [{"kind": "folder", "path": "."}],
                                   "steps": default_steps(NO_MODELS + ("dedup",))}))
    args = ["run", str(job), "--output", str(out), "--address", ray, "--no-progress", *extra]
    for path in inputs:
        args += ["--input", str(path)]
    return main(args)


def test_table_cannot_read_outside_its_folder(tmp_path: Path, ray_session: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.jpg").write_bytes(SECRET)
    (data / "ok.jpg").write_bytes(JPEG)
    rows = [{"image": "ok.jpg", "caption": "a red square"}, {"image": "../secret.jpg", "caption": "x"},
            {"image": str(tmp_path / "secret.jpg"), "caption": "y"}, {"image": "/proc/self/environ", "caption": "z"},
            {"image": "/dev/zero", "caption": "w"}]
    (data / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _run([data / "t.jsonl"], tmp_path / "out", ray_session) == 0
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["table_reader_v1:path_outside_root"] * 4
    for shard in (tmp_path / "out" / "parquet").glob("*.parquet"):
        assert SECRET not in [m["bytes"] for row in pq.read_table(shard).to_pylist() for m in row["media"]]


@pytest.mark.parametrize("overwrite", [False, True])
def test_user_folder_as_output_is_refused_untouched(tmp_path: Path, ray_session: str, overwrite: bool) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(JPEG)
    (tmp_path / "in" / "a.txt").write_text("a red square")
    user = tmp_path / "mine"
    (user / "parquet").mkdir(parents=True)
    (user / "parquet" / "data.parquet").write_bytes(b"user bytes")
    (user / "draft.tmp-1").write_bytes(b"user temp")
    code = _run([tmp_path / "in"], user, ray_session, *(["--overwrite"] if overwrite else []))
    assert code == 2
    assert sorted(p.relative_to(user).as_posix() for p in user.rglob("*") if p.is_file()) == [
        "draft.tmp-1", "parquet/data.parquet"]


def test_doubled_input_and_output_inside_input_are_refused(tmp_path: Path, ray_session: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(JPEG)
    (tmp_path / "in" / "a.txt").write_text("a red square")
    assert _run([tmp_path / "in", tmp_path / "in"], tmp_path / "out", ray_session) == 2
    assert _run([tmp_path / "in"], tmp_path / "in" / "out", ray_session) == 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "in" / "out").exists()
