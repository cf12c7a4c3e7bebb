"""The default job end to end: local engine and Ray on 2 CPUs give the same bytes, every input is
accounted for exactly once, and the shards load in webdataset/torch, pyarrow, datasets and Ray Data
without importing mmcurate."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import check_expected_reasons, folder_digest, job_config, make_small_input

from mmcurate.jobs.cli import run_job
from mmcurate.pipeline.manifest import Manifest


@pytest.fixture(scope="module")
def demo_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    root = tmp_path_factory.mktemp("demo_input")
    return root, make_small_input(root, with_video=True)


@pytest.fixture(scope="module")
def local_out(demo_input, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    run_job(job_config(demo_input[0], out), use_ray=False, progress=False)
    return out


@pytest.fixture(scope="module")
def ray_out(demo_input, ray_session: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "out"
    funnel = run_job(job_config(demo_input[0], out), address=ray_session, progress=False)
    assert funnel["units"] >= 4
    return out


def test_ray_and_local_runs_are_byte_identical(local_out: Path, ray_out: Path) -> None:
    assert folder_digest(local_out) == folder_digest(ray_out)


def test_every_input_is_in_exactly_one_of_accepted_or_rejects(demo_input, ray_out: Path) -> None:
    input_dir, expected = demo_input
    accepted = pq.read_table(ray_out / "parquet", columns=["locator", "sample_id"]).to_pylist()
    rejects = pq.read_table(ray_out / "rejects").to_pylist()
    seen = Counter([r["locator"] for r in accepted] + [r["locator"] for r in rejects])
    inputs = {p.relative_to(input_dir).as_posix() for p in input_dir.iterdir() if p.suffix not in (".txt", ".json")}
    inputs.add("bad_orphan_caption.txt")
    assert set(seen) == inputs and set(seen.values()) == {1}
    check_expected_reasons(expected, rejects)
    ids = [r["sample_id"] for r in accepted]
    assert len(ids) == len(set(ids))


def test_manifest_describes_every_file_exactly(ray_out: Path) -> None:
    import hashlib

    manifest = Manifest(ray_out)
    listed = {f["path"]: f for f in manifest.files()}
    on_disk = {p.relative_to(ray_out).as_posix()
               for d in ("webdataset", "parquet", "arrow", "rejects", "clips", "windows") for p in (ray_out / d).glob("*")}
    assert set(listed) == on_disk
    for path, entry in listed.items():
        data = (ray_out / path).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    table = pq.read_table(ray_out / "manifest.parquet")
    assert table.num_rows == len(listed)
    funnel = manifest.funnel()
    assert funnel["accepted"] + funnel["rejected"] == funnel["rows_in"]
    assert all(f["rows"] <= 10 for f in manifest.files() if f["kind"] == "shard")


def test_videos_become_clip_records_with_the_planted_cut(ray_out: Path) -> None:
    clips = pq.read_table(ray_out / "clips").to_pylist()
    by_source = {}
    for clip in clips:
        by_source.setdefault(clip["locator"], []).append(clip)
    assert set(by_source) == {"video_cuts.mp4", "video_vp9.webm"}
    cuts = by_source["video_cuts.mp4"]
    assert [round(c["start_s"], 1) for c in cuts] == [0.0, 2.5]  # planted cut at frame 25 of a 10 fps video
    for clip in clips:
        assert len(clip["frames"]) == len(clip["frame_ts"]) >= 4 and clip["clip_id"].startswith(clip["sample_id"])
    parquet_ids = set(pq.read_table(ray_out / "parquet", columns=["sample_id"]).column(0).to_pylist())
    assert {c["sample_id"] for c in clips} <= parquet_ids


READER_SCRIPT = textwrap.dedent(
    """
    import glob, io, json, sys
    out = sys.argv[1]
    import pyarrow.dataset as pads
    import torch, webdataset as wds
    from PIL import Image
    from datasets import Dataset, load_dataset
    tars = sorted(glob.glob(out + "/webdataset/*.tar"))
    ds = wds.WebDataset(tars, shardshuffle=False).decode("pil").to_tuple("__key__", "jpg;png;webp;gif;bmp;tiff;mp4;webm", "txt", "json")
    def size(media):  # images decode to PIL; videos stay bytes (a trainer would decode them with PyAV)
        return media.size if hasattr(media, "size") else (len(media), 1)
    loader = torch.utils.data.DataLoader(ds.map(lambda s: (s[0], size(s[1]), s[2], s[3])), batch_size=None, num_workers=2)
    wds_rows = list(loader)
    table = pads.dataset(out + "/parquet", format="parquet").to_table()
    hf_parquet = load_dataset("parquet", data_dir=out + "/parquet", split="train")
    hf_arrow = [Dataset.from_file(p) for p in sorted(glob.glob(out + "/arrow/*.arrow"))]
    first = Image.open(io.BytesIO(table.column("media")[0][0]["bytes"].as_py()))
    print(json.dumps({
        "wds": len(wds_rows), "wds_keys": sorted(r[0] for r in wds_rows), "wds_sizes_ok": all(min(r[1]) > 0 for r in wds_rows),
        "parquet": table.num_rows, "parquet_ids": sorted(table.column("sample_id").to_pylist()),
        "hf_parquet": hf_parquet.num_rows, "hf_arrow": sum(d.num_rows for d in hf_arrow),
        "first_image": list(first.size), "mmcurate_imported": "mmcurate" in sys.modules,
    }))
    """
)


def test_shards_load_without_mmcurate(ray_out: Path, tmp_path: Path) -> None:
    script = tmp_path / "read_shards.py"
    script.write_text(READER_SCRIPT)
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(script), str(ray_out)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    accepted = Manifest(ray_out).funnel()["accepted"]
    assert got["wds"] == got["parquet"] == got["hf_parquet"] == got["hf_arrow"] == accepted
    assert got["wds_keys"] == got["parquet_ids"] and got["wds_sizes_ok"]
    assert not got["mmcurate_imported"]


def test_ray_data_reads_the_parquet_shards(ray_out: Path, ray_session: str) -> None:
    import ray.data

    ds = ray.data.read_parquet(str(ray_out / "parquet"))
    assert ds.count() == Manifest(ray_out).funnel()["accepted"]
    row = ds.take(1)[0]
    assert row["caption"] and row["media"][0]["width"] > 0
