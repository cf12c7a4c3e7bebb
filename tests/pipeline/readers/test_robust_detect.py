"""Input-kind detection by content, CSV units that read only their bytes, and the funnel adding up to a listing."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from robust_support import JPEG, write_images

from mmcurate.pipeline.plan import plan_units
from mmcurate.pipeline.readers.base import InputError
from mmcurate.pipeline.readers.detect import detect_input_kind
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.schemas import sample as S


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TAR = _tar_bytes({"0001.jpg": JPEG, "0001.txt": b"a cat"})


def _parquet(path: Path) -> None:
    pq.write_table(pa.table({"image": ["a.jpg"], "caption": ["x"]}), path)


def _file(name: str, data: bytes | Callable[[Path], None]) -> Callable[[Path], Path]:
    def f(root: Path) -> Path:
        path = root / name
        data(path) if callable(data) else path.write_bytes(data)
        return path
    return f


def _folder(files: dict[str, bytes]) -> Callable[[Path], Path]:
    def f(root: Path) -> Path:
        for name, data in files.items():
            (root / "d" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "d" / name).write_bytes(data)
        return root / "d"
    return f


WARC = b"WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
DETECT = [
    ("warc_gz", _file("crawl.warc.gz", gzip.compress(WARC) + gzip.compress(WARC)), "warc"),
    ("warc_plain_named_csv", _file("x.csv", WARC), "warc"),
    ("folder_of_warcs", _folder({"a.warc.gz": gzip.compress(WARC), "sub/b.warc": WARC}), "warc"),
    ("folder_warcs_and_media", _folder({"a.warc.gz": gzip.compress(WARC), "b.jpg": JPEG}), "error:kind: warc"),
    ("tar", _file("x.tar", TAR), "webdataset"),
    ("tar_gz", _file("x.tar.gz", gzip.compress(TAR)), "webdataset"),
    ("tar_gz_named_jsonl", _file("x.jsonl", gzip.compress(TAR)), "webdataset"),
    ("tar_named_csv", _file("x.csv", TAR), "webdataset"),
    ("parquet", _file("x.bin", _parquet), "parquet"),
    ("json_array", _file("x.txt", b'\n  [{"image": "a.jpg"}]'), "json"),
    ("jsonl", _file("x.data", b'{"image": "a.jpg"}\n{"image": "b.jpg"}\n'), "jsonl"),
    ("jsonl_bom", _file("x.data", b'\xef\xbb\xbf{"image": "a.jpg"}\n'), "jsonl"),
    ("csv", _file("x.txt", b"image,caption\na.jpg,x\n"), "csv"),
    ("tsv", _file("x.txt", b"image\tcaption\na.jpg\tx, y\n"), "tsv"),
    ("folder_of_tars", _folder({"a.tar": TAR, "sub/b.tar.gz": gzip.compress(TAR)}), "webdataset"),
    ("folder_of_media", _folder({"a.jpg": JPEG, "a.txt": b"x", "b.json": b"{}"}), "folder"),
    ("folder_tars_and_hidden", _folder({"a.tar": TAR, ".DS_Store": b"x"}), "webdataset"),
    ("folder_mixed", _folder({"a.tar": TAR, "b.jpg": JPEG}), "error:set kind: webdataset"),
    ("folder_of_tables", _folder({"a.parquet": b"PAR1", "b.csv": b"a,b\n"}), "error:its own input"),
    ("folder_media_with_metadata_csv", _folder({"a.jpg": JPEG, "metadata.csv": b"a,b\n"}), "folder"),
    ("gzip_not_tar", _file("x.jsonl.gz", gzip.compress(b'{"a": 1}\n')), "error:decompress"),
    ("empty_file", _file("x.csv", b""), "error:empty"),
    ("binary", _file("x.csv", b"\x00\x01\x02" * 100), "error:set kind"),
    ("one_word", _file("x", b"hello\n"), "error:set kind"),
    ("missing", lambda root: root / "nope", "error:no such file"),
]


@pytest.mark.parametrize(("make", "expect"), [d[1:] for d in DETECT], ids=[d[0] for d in DETECT])
def test_detect_input_kind_by_content(make: Callable[[Path], Path], expect: str, tmp_path: Path) -> None:
    path = str(make(tmp_path))
    if expect.startswith("error:"):
        with pytest.raises(InputError) as err:
            detect_input_kind(path)
        assert expect[6:] in str(err.value) and "\n" not in str(err.value)
    else:
        assert detect_input_kind(path) == expect


def test_auto_table_reader_refuses_a_tar_with_the_kind_to_use(tmp_path: Path) -> None:
    (tmp_path / "x.data").write_bytes(gzip.compress(TAR))
    with pytest.raises(InputError, match="use kind: webdataset"):
        plan_units([TableFileReader(path=str(tmp_path / "x.data"))])


def test_csv_unit_reads_only_its_own_bytes(tmp_path: Path) -> None:
    """After planning, garbage over unit 0's bytes does not touch unit 1: no unit re-parses the file."""
    write_images(tmp_path)
    path = tmp_path / "t.csv"
    lines = ["image,caption"] + [f'a.jpg,"row {i}\nsecond line"' for i in range(6)]
    path.write_text("\n".join(lines) + "\n")
    reader = TableFileReader(path=str(path), unit_rows=3)
    units = plan_units([reader])
    spec = json.loads(units[1].spec)
    assert len(units) == 2 and spec["start"] == 3 and spec["start_byte"] > 0
    raw = bytearray(path.read_bytes())
    raw[spec["start_byte"] - 20:spec["start_byte"] - 1] = b"\xff" * 19  # unit 0's last record, now not UTF-8
    path.write_bytes(bytes(raw))
    rows = reader.read_unit(units[1]).to_pylist()
    assert [r[S.CAPTION] for r in rows] == [f"row {i}\nsecond line" for i in (3, 4, 5)]
    assert [r[S.LOCATOR] for r in rows] == ["row 3", "row 4", "row 5"]


def test_folder_funnel_adds_up_to_the_listing(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "a.txt").write_text("cap")
    (tmp_path / "b.jpg").write_bytes(JPEG)
    (tmp_path / ".hidden.jpg").write_bytes(JPEG)
    os.symlink("a.jpg", tmp_path / "l.jpg")
    os.symlink("missing", tmp_path / "m.jpg")
    os.mkfifo(tmp_path / "p.jpg")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(JPEG)
    listing = [Path(d, f) for d, dirs, files in os.walk(tmp_path) for f in files + [x for x in dirs
               if Path(d, x).is_symlink()]]
    reader = FolderReader(path=str(tmp_path), unit_rows=3)
    rows = [r for u in plan_units([reader]) for r in reader.read_unit(u).to_pylist()]
    sidecars = 1  # a.txt is part of a.jpg's row
    assert len(rows) == len(listing) - sidecars
    reasons = sorted(r[S.DROP_REASON].split(":")[1] for r in rows if r[S.STATUS] != S.STATUS_OK)
    assert reasons == ["dangling_link", "hidden_file", "not_followed_link", "special_file"]


def test_jsonl_with_a_bom_reads_its_first_line(tmp_path: Path) -> None:
    write_images(tmp_path)
    (tmp_path / "t.jsonl").write_bytes(b'\xef\xbb\xbf{"image": "a.jpg", "caption": "007"}\n{"image": "b.png", "caption": "x"}\n')
    reader = TableFileReader(path=str(tmp_path / "t.jsonl"))
    rows = [r for u in plan_units([reader]) for r in reader.read_unit(u).to_pylist()]
    assert [(r[S.STATUS], r[S.CAPTION]) for r in rows] == [(S.STATUS_OK, "007"), (S.STATUS_OK, "x")]
