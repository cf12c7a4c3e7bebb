"""Inputs on an object store (a real S3 server on 127.0.0.1): a folder with video, a Parquet table whose
image paths are keys beside it, a CSV table and a WebDataset tar read from the bucket give the same rows,
reasons and bytes as the same files on local disk; detected by content there too; S3 in, S3 out on Ray
equals S3 in, local out."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from e2e_support import MIXTURE, NO_MODELS, default_steps, folder_digest

from mmcurate.jobs.job_file import detect_kind, resolve
from mmcurate.jobs.run import run_job
from mmcurate.pipeline import fs
from mmcurate.pipeline.generate.demo_folder import make_demo_folder


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def local_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("remote_in")
    make_demo_folder(root / "photos", n_scenes=6, n_crops=2, n_duplicates=1, seed=3, with_video=True)
    images = sorted(p for p in (root / "photos").rglob("*.jpg"))[:6]
    tables = root / "tables"
    (tables / "img").mkdir(parents=True)
    for p in images:
        (tables / "img" / p.name).write_bytes(p.read_bytes())
    paths = [f"img/{p.name}" for p in images] + ["../photos/x.jpg", "img/missing.jpg"]
    pq.write_table(pa.table({"image": paths, "caption": [f"picture {i}" for i in range(len(paths))]}),
                   tables / "pairs.parquet")
    (tables / "pairs.csv").write_text("image,caption\n" + "".join(f"{p},row {i}\n" for i, p in enumerate(paths)))
    shard = {f"s{i:03d}.jpg": p.read_bytes() for i, p in enumerate(images[:4])}
    shard.update({f"s{i:03d}.txt": f"tar caption {i}".encode() for i in range(4)})
    whole = _tar(shard)
    (root / "tars").mkdir()
    (root / "tars" / "a.tar").write_bytes(whole)
    (root / "tars" / "b.tar").write_bytes(whole[: len(whole) // 2])  # truncated: the samples before the cut stay
    return root


def _upload(root: Path, bucket: str) -> str:
    base = f"s3://{bucket}/in"
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            fs.write_atomic(fs.join(base, p.relative_to(root).as_posix()), lambda fh, b=data: fh.write(b))
    return base


def _job(base: str, out: str) -> dict:
    at = (lambda rel: fs.join(base, rel)) if base.startswith("s3://") else (lambda rel: str(Path(base) / rel))
    return {"inputs": [{"kind": "auto", "path": at("photos"), "unit_rows": 8},
                       {"kind": "auto", "path": at("tables/pairs.parquet"), "unit_rows": 4},
                       {"kind": "auto", "path": at("tables/pairs.csv"), "unit_rows": 4},
                       {"kind": "auto", "path": at("tars")}],
            "steps": default_steps(NO_MODELS + MIXTURE + ("dedup",)),
            "output": {"path": out, "max_rows": 10, "formats": ["parquet", "webdataset"]}}


def _outcome(out: Path) -> dict[tuple[str, str], tuple]:
    """Per (input file name, locator): status, reason, caption and the media bytes' hash."""
    rows = pq.read_table(out / "parquet").to_pylist() + pq.read_table(out / "rejects").to_pylist()
    return {(r["source"].rstrip("/").rsplit("/", 1)[-1], r["locator"]):
            (r.get("reason"), r["caption"], [hashlib.sha256(m["bytes"] or b"").hexdigest() for m in r["media"] or []])
            for r in rows}


def test_inputs_on_s3_read_like_the_same_files_on_disk(local_inputs: Path, s3_bucket: str, tmp_path: Path) -> None:
    base = _upload(local_inputs, s3_bucket)
    assert [detect_kind(fs.join(base, rel), "test") for rel in ("photos", "tables/pairs.parquet",
                                                                "tables/pairs.csv", "tars", "tars/a.tar")] == [
        "folder", "parquet", "csv", "webdataset", "webdataset"]
    run_job(resolve(_job(str(local_inputs), str(tmp_path / "local"))), use_ray=False, progress=False)
    run_job(resolve(_job(base, str(tmp_path / "remote"))), use_ray=False, progress=False)
    local, remote = _outcome(tmp_path / "local"), _outcome(tmp_path / "remote")
    assert remote == local
    reasons = {k: v[0] for k, v in remote.items()}
    assert reasons[("pairs.parquet", "row 6")] == "table_reader_v1:path_outside_root"  # ../ leaves the folder
    assert reasons[("pairs.csv", "row 7")] == "table_reader_v1:missing_media"
    assert any(k[0] == "b.tar" and v and v.startswith("webdataset_reader_v1:") for k, v in reasons.items())
    assert any(k[0] == "photos" and k[1].endswith(".mp4") and v is None for k, v in reasons.items())
    assert sum(v is None for v in reasons.values()) >= 12


def test_s3_to_s3_on_ray_equals_s3_to_local(local_inputs: Path, s3_bucket: str, tmp_path: Path,
                                            ray_session: str) -> None:
    base = _upload(local_inputs, s3_bucket)
    run_job(resolve(_job(base, str(tmp_path / "local"))), use_ray=False, progress=False)
    out = f"s3://{s3_bucket}/curated"
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(_job(base, out)))
    # A driver of its own, as a user runs it: the AWS_* of its environment reach the cluster's workers
    # through the job's runtime_env (this test process joined Ray before the bucket existed).
    done = subprocess.run([sys.executable, "-m", "mmcurate.jobs.cli", "run", str(job), "--address", ray_session,
                           "--no-progress"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    remote = {fs.relative_to(loc, out): hashlib.sha256(fs.read_bytes(loc)).hexdigest() for loc in fs.list_files(out)
              if not loc.endswith("/job.json")}
    assert remote == folder_digest(tmp_path / "local")
