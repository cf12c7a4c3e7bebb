"""The commit protocol on a real S3 server: the same job writes the same bytes to S3 as to local disk.

In-process (``use_ray=False``) runs of the packaged image-text job on a small generated folder, with its
dedup pass and its mixture output steps (their decisions, balance table and packs go to the bucket too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from e2e_support import NO_MODELS, folder_digest, job_dict, make_small_input

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline import fs
from mmcurate.pipeline.manifest import JOURNAL, Manifest


def _config(input_dir: Path, output: str):  # noqa: ANN202
    raw = job_dict(input_dir, Path("unused"), drop=NO_MODELS)
    raw["output"].update(path=output, formats=["webdataset", "parquet"])
    return resolve(raw)


def _store_digest(root: str) -> dict[str, str]:
    # job.json records the output location itself, so it differs between a bucket and a folder by design.
    return {fs.relative_to(loc, root): hashlib.sha256(fs.read_bytes(loc)).hexdigest() for loc in fs.list_files(root)
            if not loc.endswith("/job.json")}


@pytest.fixture(scope="module")
def small_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("objstore_input")
    make_small_input(root)
    return root


def test_s3_output_is_byte_identical_to_local(small_input: Path, tmp_path: Path, s3_bucket: str) -> None:
    local = tmp_path / "out"
    run_job(_config(small_input, str(local)), use_ray=False, progress=False)
    remote = f"s3://{s3_bucket}/curated"
    funnel = run_job(_config(small_input, remote), use_ray=False, progress=False)
    assert funnel["units"] >= 3
    expected = folder_digest(local)
    assert _store_digest(remote) == expected  # every object, same key, same bytes; no _commits/ left
    assert {"mixture/balance/part-00000.parquet", "mixture/packs_manifest.parquet"} <= set(expected)
    assert any(k.startswith("passes/") for k in expected)  # the dedup decision, on the bucket too
    assert not (local / "s3:").exists()


def test_commit_records_are_the_commit_point_and_resume_is_identical(small_input: Path, s3_bucket: str) -> None:
    remote = f"s3://{s3_bucket}/curated"
    run_job(_config(small_input, remote), use_ray=False, progress=False)
    reference = _store_digest(remote)
    journal = fs.read_bytes(fs.join(remote, JOURNAL)).splitlines()
    # Simulate a crash before finalize with one unit unfinished: the other units' commit records exist,
    # the journal and the last unit's record do not (a worker died before its record PUT).
    for line in journal[:-1]:
        record = json.loads(line)
        fs.write_atomic(fs.join(remote, "_commits", f"{record['unit_id']}.json"), lambda fh, b=line: fh.write(b + b"\n"))
    for name in (JOURNAL, "manifest.parquet", "stats.parquet"):
        fs.delete(fs.join(remote, name))
    assert len(Manifest(remote).committed()) == len(journal) - 1
    funnel = run_job(_config(small_input, remote), use_ray=False, progress=False)
    assert funnel["resumed_units"] == len(journal) - 1
    assert _store_digest(remote) == reference


def test_stats_inspect_and_export_read_a_bucket_as_a_folder(small_input: Path, tmp_path: Path, s3_bucket: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from mmcurate.jobs.cli import main

    local, remote = tmp_path / "out", f"s3://{s3_bucket}/curated"
    run_job(_config(small_input, str(local)), use_ray=False, progress=False)
    run_job(_config(small_input, remote), use_ray=False, progress=False)
    outputs = {}
    for name, where in (("local", str(local)), ("remote", remote)):
        assert main(["stats", where, "--no-progress"]) == 0
        summary = capsys.readouterr().out.split("\nreport: ")[0]
        assert main(["inspect", where, "-n", "3", "--reason", "image_decode_v1"]) == 0
        shown = capsys.readouterr().out
        assert main(["export", where, "--format", "parquet", "--out", str(tmp_path / f"export-{name}"),
                     "--no-progress"]) == 0
        capsys.readouterr()
        exported = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in sorted((tmp_path / f"export-{name}").rglob("export-*.parquet"))}
        outputs[name] = (summary.replace(where, "OUT"), shown.replace(where, "OUT"), exported)
    assert outputs["remote"] == outputs["local"] and outputs["local"][2]
    assert "image_decode_v1" in outputs["local"][1]
    assert "accepted" in outputs["local"][0] and "image_decode_v1" in outputs["local"][0]
    assert fs.exists(fs.join(remote, "report.html"))  # the report beside the shards, in the bucket
