"""Image paths in tables: a path-traversal matrix over every table format (issue 20, item 1).

Every hostile path must come out as a reject with its reason and the numbers (resolved path, roots,
file type), never as bytes in a shard, and never hang or read without bound (FIFO, ``/dev/zero``).
"""

from __future__ import annotations

import csv
import json
import os
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.plan import plan_units
from mmcurate.pipeline.readers.safe_path import PathRefused, read_inside, resolve_roots
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.schemas import sample as S

JPEG = mc.encode(Image.new("RGB", (32, 32), (1, 2, 3)), "JPEG")
FORMATS = ("parquet", "jsonl", "json", "csv", "tsv")


def _write_table(path: Path, fmt: str, images: list[str]) -> None:
    rows = [{"image": v, "caption": f"c{i}"} for i, v in enumerate(images)]
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    else:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, ["image", "caption"], delimiter="\t" if fmt == "tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture()
def hostile_tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """data/ holds the table and one good image; outside/ is a sibling the table must not reach."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (data / "ok.jpg").write_bytes(JPEG)
    (outside / "secret.jpg").write_bytes(JPEG)
    (data / "linked_dir").symlink_to(outside, target_is_directory=True)
    (data / "link.jpg").symlink_to(outside / "secret.jpg")
    (data / "inner_link.jpg").symlink_to(data / "ok.jpg")  # a symlink that stays inside is fine
    os.mkfifo(data / "fifo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(data / "sock.jpg"))
    (data / "subdir").mkdir()
    cases = {
        "ok.jpg": "ok",
        "inner_link.jpg": "ok",
        "../outside/secret.jpg": "path_outside_root",
        str(outside / "secret.jpg"): "path_outside_root",
        "linked_dir/secret.jpg": "path_outside_root",
        "link.jpg": "path_outside_root",
        "~/secret.jpg": "missing_media",  # ~ is a folder name here, never the home directory
        "/etc/passwd": "path_outside_root",
        "/proc/self/environ": "path_outside_root",
        "/dev/zero": "path_outside_root",
        "fifo.jpg": "not_regular_file",
        "sock.jpg": "not_regular_file",
        "subdir": "not_regular_file",
        "file:///etc/passwd": "path_refused",
        "missing.jpg": "missing_media",
    }
    return data, cases


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_paths_stay_inside_the_tables_folder(hostile_tree: tuple[Path, dict[str, str]], fmt: str) -> None:
    data, cases = hostile_tree
    table = data / f"t.{fmt}"
    _write_table(table, fmt, list(cases))
    reader = TableFileReader(path=str(table), unit_rows=4)
    rows = [r for u in plan_units([reader]) for r in reader.read_unit(u).to_pylist()]
    assert len(rows) == len(cases)
    for (value, expected), row in zip(cases.items(), rows, strict=True):
        if expected == "ok":
            assert row[S.STATUS] == S.STATUS_OK and row[S.MEDIA][0]["bytes"] == JPEG, value
        else:
            assert row[S.DROP_REASON] == f"table_reader_v1:{expected}", (value, row[S.ERROR])
            assert row[S.MEDIA] == [], value


def test_numbers_in_the_refusals(hostile_tree: tuple[Path, dict[str, str]]) -> None:
    data, _ = hostile_tree
    roots = resolve_roots([data])
    with pytest.raises(PathRefused, match=r"resolves to .*/outside/secret\.jpg, outside the allowed roots"):
        read_inside("linked_dir/secret.jpg", data, roots, 1000)
    with pytest.raises(PathRefused, match=r"file type 'p', not a regular file"):
        read_inside("fifo.jpg", data, roots, 1000)
    with pytest.raises(PathRefused, match=rf"{len(JPEG)} bytes > max_file_bytes 10") as err:
        read_inside("ok.jpg", data, roots, 10)
    assert err.value.code == "too_large"


def test_configured_roots_widen_and_narrow(hostile_tree: tuple[Path, dict[str, str]]) -> None:
    data, _ = hostile_tree
    table = data / "t.jsonl"
    _write_table(table, "jsonl", ["ok.jpg", "linked_dir/secret.jpg"])
    outside = data.parent / "outside"
    reader = TableFileReader(path=str(table), allowed_roots=(str(data), str(outside)))
    rows = [r for u in plan_units([reader]) for r in reader.read_unit(u).to_pylist()]
    assert [r[S.STATUS] for r in rows] == [S.STATUS_OK, S.STATUS_OK]
    narrow = TableFileReader(path=str(table), allowed_roots=(str(outside),))
    rows = [r for u in plan_units([narrow]) for r in narrow.read_unit(u).to_pylist()]
    assert [r[S.DROP_REASON] for r in rows] == ["table_reader_v1:path_outside_root", None]


def test_pseudo_filesystems_are_refused_even_under_root_slash(tmp_path: Path) -> None:
    roots = resolve_roots(["/"])
    for value in ("/proc/self/environ", "/dev/zero", "/sys/kernel/mm/transparent_hugepage/enabled"):
        with pytest.raises(PathRefused) as err:
            read_inside(value, tmp_path, roots, 1 << 20)
        assert err.value.code == "path_outside_root"
