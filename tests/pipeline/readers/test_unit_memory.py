"""A unit read the way a worker reads it holds its bytes about twice at most (issue 20, item 2).

The child process reads through ``read_unit`` (the entry of Ray workers and ``--local``) and reports its
peak RSS growth (``ru_maxrss``). On 6b1e466 the folder case here (one 48 MiB unit) grew 209 MiB, over
its 160 MiB bound: the folder reader held every row's Python bytes while Arrow copied them. It grows
131 MiB now that rows become Arrow every 16 MiB; the tar case (already chunked) 131 MiB before and after.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

MIB = 1024**2
FILES, FILE_BYTES = 96, 512 * 1024  # 48 MiB of incompressible JPEG-headed files: one unit


def _jpeg_like() -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(FILE_BYTES - 4)  # magic right; decode is not part of a read


def _folder(root: Path) -> Path:
    root.mkdir()
    for i in range(FILES):
        (root / f"{i:03d}.jpg").write_bytes(_jpeg_like())
        (root / f"{i:03d}.txt").write_text(f"file {i}")
    return root


def _tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for i in range(FILES):
            for name, data in ((f"{i:03d}.jpg", _jpeg_like()), (f"{i:03d}.txt", f"file {i}".encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _peak_unit_read(reader_code: str) -> tuple[int, int, int]:
    """(peak RSS growth over every unit's read, rows read, the largest unit's media bytes), in a child."""
    code = textwrap.dedent(f"""
        import json, resource
        from mmcurate.pipeline.plan import plan_units
        from mmcurate.pipeline.read_units import read_unit
        from mmcurate.pipeline.readers.folder import FolderReader
        from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader
        reader = {reader_code}
        units = plan_units([reader])
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows, largest = 0, 0
        for unit in units:
            table = read_unit([reader], unit)
            rows += table.num_rows
            largest = max(largest, table.column("media").nbytes)
            del table
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"grow": (peak - base) * 1024, "rows": rows, "largest": largest}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["grow"], result["rows"], result["largest"]


@pytest.mark.parametrize("kind", ["folder", "tar"])
def test_a_unit_costs_at_most_twice_its_bytes_plus_a_floor(tmp_path: Path, kind: str) -> None:
    if kind == "folder":
        path = _folder(tmp_path / "photos")
        reader = f"FolderReader(path={str(path)!r}, unit_rows={FILES})"
    else:
        path = _tar(tmp_path / "shard.tar")
        reader = f"WebDatasetReader(path={str(path)!r})"
    grow, rows, largest = _peak_unit_read(reader)
    assert rows == FILES
    assert largest >= FILES * FILE_BYTES
    assert grow < 2 * largest + 64 * MIB, f"peak grew {grow / MIB:.0f} MiB for a {largest / MIB:.0f} MiB unit"
