"""``inspect`` and ``export``: filters really applied, paths point at the row, exported shards read
back with pyarrow and webdataset, and the export manifest describes the files on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from mmcurate.jobs.stats.__main__ import main
from mmcurate.jobs.stats.columns import first_media_field
from mmcurate.jobs.stats.export import export
from mmcurate.jobs.stats.inspect import inspect_rows
from mmcurate.jobs.stats.layout import OutputFolder


def _accepted(out: Path) -> pa.Table:
    return ds.dataset(sorted((out / "parquet").glob("*.parquet"))).to_table()


def _wide(table: pa.Table, min_width: int) -> pa.Table:
    width = first_media_field(table["media"], "width")
    return table.filter(pc.greater_equal(width, min_width))


def test_inspect_where_and_paths(job_output: Path) -> None:
    folder = OutputFolder.open(job_output)
    rows = inspect_rows(folder, n=1000, where="width >= 128 and caption_len < 45")
    table = _accepted(job_output)
    expected = _wide(table, 128).filter(pc.less(pc.utf8_length(_wide(table, 128)["caption"]), 45))
    assert sorted(r["sample_id"] for r in rows) == sorted(expected["sample_id"].to_pylist())
    assert rows and all(r["media"][0]["width"] >= 128 and len(r["caption"]) < 45 for r in rows)
    for row in rows[:5]:  # "path in shard" names the file and row the sample is in
        path, index = row["path"].rsplit("#", 1)
        assert (
            pq.read_table(job_output / path, columns=["sample_id"])["sample_id"][int(index)].as_py()
            == row["sample_id"]
        )
    assert len(inspect_rows(folder, n=3)) == 3


def test_inspect_reasons(job_output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = OutputFolder.open(job_output)
    rows = inspect_rows(folder, n=50, reason="image_decode_v1")
    rejects = ds.dataset(sorted((job_output / "rejects").glob("*.parquet"))).to_table()
    decode = rejects.filter(pc.equal(rejects["stage"], "image_decode_v1"))
    assert sorted(r["sample_id"] for r in rows) == sorted(decode["sample_id"].to_pylist())
    rows = inspect_rows(folder, n=50, reason="image_decode_v1:too_small")
    assert [r["reason"] for r in rows] == ["image_decode_v1:too_small"]
    assert main(["inspect", str(job_output), "--reason", "image_decode_v1:too_small", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "image_decode_v1:too_small" in printed and "rejects/" in printed and "caption:" in printed
    assert main(["inspect", str(job_output), "--where", "widht > 3"]) == 2
    assert "unknown column 'widht'" in capsys.readouterr().err


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_manifest(out: Path, fmt: str, total: int, shard_size: int) -> pa.Table:
    manifest = pq.read_table(out / "manifest.parquet")
    assert manifest.schema.metadata[b"mmcurate.schema"] == b"manifest/v1"
    assert sum(manifest["rows"].to_pylist()) == total
    assert all(r <= shard_size for r in manifest["rows"].to_pylist())
    assert (
        sorted(p.relative_to(out).as_posix() for p in (out / fmt).iterdir()) == manifest["path"].to_pylist()
    )
    for row in manifest.to_pylist():
        assert row["format"] == fmt and row["kind"] == "shard"
        assert row["bytes"] == (out / row["path"]).stat().st_size and row["sha256"] == _sha256(
            out / row["path"]
        )
    assert len((out / "manifest.jsonl").read_text().splitlines()) == manifest.num_rows
    assert not list(out.rglob("*.mmcurate-tmp-*"))
    return manifest


def test_export_parquet_filtered(job_output: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    assert (
        main(
            [
                "export",
                str(job_output),
                "--format",
                "parquet",
                "--out",
                str(out),
                "--shard-size",
                "7",
                "--where",
                "width >= 128",
                "--no-progress",
            ]
        )
        == 0
    )
    expected = _wide(_accepted(job_output), 128)
    manifest = _check_manifest(out, "parquet", expected.num_rows, 7)
    assert manifest.num_rows == -(-expected.num_rows // 7)
    exported = ds.dataset([str(out / p) for p in manifest["path"].to_pylist()]).to_table()
    assert exported.schema.names == expected.schema.names  # stored columns only, no helper columns
    assert exported["sample_id"].to_pylist() == expected["sample_id"].to_pylist()
    assert exported["media"].to_pylist() == expected["media"].to_pylist()  # bytes travel unchanged
    assert json.loads((out / "export.json").read_text())["where"] == "width >= 128"
    with pytest.raises(FileExistsError):
        export(OutputFolder.open(job_output), out, "parquet", progress=False)
    again = export(
        OutputFolder.open(job_output), out, "parquet", shard_size=1000, overwrite=True, progress=False
    )
    assert again.shards == 1 and again.rows == _accepted(job_output).num_rows


def test_export_webdataset_readable(job_output: Path, tmp_path: Path) -> None:
    import webdataset as wds

    out = tmp_path / "wds"
    result = export(
        OutputFolder.open(job_output),
        out,
        "webdataset",
        shard_size=10,
        where="caption contains 'a'",
        progress=False,
    )
    accepted = _accepted(job_output)
    expected = accepted.filter(pc.match_substring(accepted["caption"], "a"))
    _check_manifest(out, "webdataset", expected.num_rows, 10)
    urls = [str(out / f["path"]) for f in result.files]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert [s["__key__"] for s in samples] == expected["sample_id"].to_pylist()
    first = samples[0]
    assert first["txt"].decode() == expected["caption"][0].as_py()
    image_key = next(k for k in first if k in ("jpg", "png", "webp", "gif", "bmp", "tiff"))
    assert first[image_key] == expected["media"][0].as_py()[0]["bytes"]
    assert json.loads(first["json"])["sample_id"] == first["__key__"]
