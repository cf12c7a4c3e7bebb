"""Hostile tars cannot exhaust memory (issue 20, item 2): gzip bombs, junk named ``.jpg``, a real read's peak.

Each shard is read by the real reader in a child process; the child reports its peak RSS before and
after the read (``ru_maxrss``), so the assertion is on memory actually touched, not on a counter.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.readers.tar_stream import TarLimits, iter_tar_samples

JPEG = mc.encode(Image.new("RGB", (32, 32), (1, 2, 3)), "JPEG")
MIB = 1024**2


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _bomb(path: Path, members: int, member_bytes: int, suffix: str, mode: str) -> None:
    zeros = b"\0" * member_bytes
    with tarfile.open(path, mode) as tar:
        for i in range(members):
            _add(tar, f"{i:04d}.jpg", JPEG if suffix == "txt" else zeros)
            _add(tar, f"{i:04d}.txt", zeros if suffix == "txt" else b"caption")


def _peak_read(path: Path, **reader_kwargs: object) -> tuple[int, list[str]]:
    """(peak RSS growth of a real read in bytes, the reject reasons) from a child process."""
    code = textwrap.dedent(f"""
        import json, resource
        from mmcurate.pipeline.plan import plan_units
        from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader
        reader = WebDatasetReader(path={str(path)!r}, **{reader_kwargs!r})
        units = plan_units([reader])
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reasons = [r["drop_reason"] for u in units for r in reader.read_unit(u).select(["drop_reason"]).to_pylist()]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"grow": (peak - base) * 1024, "reasons": reasons}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["grow"], result["reasons"]


def test_gzip_bomb_costs_no_more_than_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tar.gz"
    _bomb(path, members=24, member_bytes=16 * MIB, suffix="txt", mode="w:gz")  # 384 MiB of captions, ~400 KB
    assert path.stat().st_size < 2 * MIB
    grow, reasons = _peak_read(path)
    assert reasons[-1] == "webdataset_reader_v1:shard_too_large"
    assert reasons.count(None) <= 4  # 64 MiB floor / 16 MiB captions: only the samples under the cap
    assert grow < 200 * MIB, f"peak grew {grow / MIB:.0f} MiB for a 64 MiB cap"


def test_junk_named_jpg_is_rejected_unread(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    _bomb(path, members=8, member_bytes=30 * MIB, suffix="jpg", mode="w")  # 240 MiB of zeros named .jpg
    grow, reasons = _peak_read(path)
    assert reasons == ["webdataset_reader_v1:magic_mismatch"] * 8
    assert grow < 64 * MIB, f"peak grew {grow / MIB:.0f} MiB reading junk that is never kept"


def test_members_over_the_cap_are_refused_by_header(tmp_path: Path) -> None:
    path = tmp_path / "big.tar"
    _bomb(path, members=2, member_bytes=40 * MIB, suffix="jpg", mode="w")
    _, reasons = _peak_read(path)
    assert reasons == ["webdataset_reader_v1:member_too_large"] * 2
    _, reasons = _peak_read(path, max_member_bytes=64 * MIB, check_magic=False)
    assert reasons == [None, None]  # the knobs on the reader reach the tar limits


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_inflation_ratio_applies_to_every_compression(tmp_path: Path, mode: str) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode=mode) as tar:
        for i in range(6):
            _add(tar, f"{i:04d}.jpg", JPEG)
            _add(tar, f"{i:04d}.txt", b"\0" * MIB)
    limits = TarLimits(inflation_floor_bytes=2 * MIB, max_inflation_ratio=4.0)
    samples = []
    with pytest.raises(Exception) as err:  # noqa: PT011 - ShardError, checked below
        for s in iter_tar_samples(io.BytesIO(raw.getvalue()), limits):
            samples.append(s)
    assert getattr(err.value, "reason", None) == "shard_too_large" and "compressed shard" in str(err.value)
    assert len(samples) <= 2
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:  # the same bytes uncompressed: no ratio applies
        for i in range(6):
            _add(tar, f"{i:04d}.jpg", JPEG)
            _add(tar, f"{i:04d}.txt", b"\0" * MIB)
    assert len(list(iter_tar_samples(io.BytesIO(plain.getvalue()), limits))) == 6


def test_folder_junk_named_jpg_is_rejected_after_its_head(tmp_path: Path) -> None:
    from mmcurate.pipeline.plan import plan_units
    from mmcurate.pipeline.readers.folder import FolderReader

    (tmp_path / "junk.jpg").write_bytes(b"\0" * (2 * MIB))
    (tmp_path / "ok.jpg").write_bytes(JPEG)
    (tmp_path / "blob.dat").write_bytes(b"\0" * 100)  # no media suffix: decode judges it, as before
    reader = FolderReader(path=str(tmp_path))
    rows = {r["locator"]: r for u in plan_units([reader]) for r in reader.read_unit(u).to_pylist()}
    assert rows["junk.jpg"]["drop_reason"] == "folder_reader_v1:magic_mismatch"
    assert "application/octet-stream" in rows["junk.jpg"]["error"]
    assert rows["ok.jpg"]["status"] == "ok" and rows["blob.dat"]["status"] == "ok"
    grow, _ = _peak_read_folder(tmp_path)
    assert grow < 16 * MIB


def _peak_read_folder(path: Path) -> tuple[int, None]:
    big = path / "big"
    big.mkdir()
    for i in range(8):
        (big / f"{i}.jpg").write_bytes(b"\0" * (30 * MIB))
    code = textwrap.dedent(f"""
        import json, resource
        from mmcurate.pipeline.plan import plan_units
        from mmcurate.pipeline.readers.folder import FolderReader
        reader = FolderReader(path={str(big)!r})
        units = plan_units([reader])
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for u in units:
            reader.read_unit(u)
        print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return int(out.stdout.strip().splitlines()[-1]), None
