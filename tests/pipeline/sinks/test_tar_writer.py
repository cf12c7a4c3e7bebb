"""The WebDataset member writer gives the bytes ``tarfile`` gives, for short, long and non-ASCII names."""

from __future__ import annotations

import io
import tarfile

import pytest

from mmcurate.pipeline.sinks.tar_writer import MemberWriter


def _tarfile_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o444, "bigdata", "bigdata"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ours(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with MemberWriter(buf) as tar:
        for name, data in members:
            tar.add(name, data)
    return buf.getvalue()


CASES = {
    "webdataset sample": [("0123456789abcdef.jpg", b"\xff\xd8" + bytes(range(256)) * 40),
                          ("0123456789abcdef.json", b'{"a": 1}'), ("0123456789abcdef.txt", b"a cat")],
    "empty and block-sized": [("a.bin", b""), ("b.bin", b"x" * 512), ("c.bin", b"y" * 513)],
    "name of exactly 100 bytes": [("n" * 96 + ".jpg", b"data")],
    "long name (PAX)": [("k" * 140 + ".jpg", b"data"), ("short.txt", b"t")],
    "non-ASCII name (PAX)": [("café-☕.txt", "ü".encode())],
    "no members": [],
    "a record's worth": [(f"{i:04d}.bin", b"z" * 9000) for i in range(3)],
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_bytes_as_tarfile(case: str) -> None:
    members = CASES[case]
    ours = _ours(members)
    assert ours == _tarfile_bytes(members)
    with tarfile.open(fileobj=io.BytesIO(ours)) as tar:
        assert [(m.name, tar.extractfile(m).read()) for m in tar] == members
