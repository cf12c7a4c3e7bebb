"""Hostile rows and files: each costs its own rows (with a reason) or stops with a one-line error, and
every other row of the input comes out exactly as in a clean run (issue 21)."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from robust_support import CSV_CLEAN, JPEG, JSONL_CLEAN, run, write_clean_folder, write_images

from mmcurate.pipeline.readers.base import InputError, Reader
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader
from mmcurate.schemas import sample as S

FILES = {"csv": "t.csv", "tsv": "t.tsv", "jsonl": "t.jsonl", "json": "t.json", "parquet": "t.parquet"}


@dataclass
class Case:
    id: str
    kind: str  # folder, csv, tsv, jsonl, json, parquet: the clean input the hostile part is added to
    mutate: Callable[[Path], Path | None]  # edits the input; may return an extra file read as a 2nd input
    expect: str  # "reject:<reason>", "ok", "error:<substring>" or "none" (no new row at all)
    check: Callable[[dict[str, Any]], bool] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def add(name: str, data: bytes | str) -> Callable[[Path], None]:
    def f(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return f


def pair(stem: str, sidecar: str, text: str | bytes) -> Callable[[Path], None]:
    def f(root: Path) -> None:
        add(stem + ".jpg", JPEG)(root)
        add(stem + sidecar, text)(root)
    return f


def append(kind: str, text: str | bytes) -> Callable[[Path], None]:
    def f(root: Path) -> None:
        with open(root / FILES[kind], "ab") as fh:
            fh.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return f


def rewrite(kind: str, make: Callable[[str], bytes]) -> Callable[[Path], None]:
    def f(root: Path) -> None:
        path = root / FILES[kind]
        path.write_bytes(make(path.read_text()))
    return f


def extra_file(name: str, data: bytes) -> Callable[[Path], Path]:
    def f(root: Path) -> Path:
        path = root.parent / name
        path.write_bytes(data)
        return path
    return f


def parquet_rows(rows: dict[str, pa.Array]) -> Callable[[Path], Path]:
    """A second Parquet input: one row whose columns are given (the image is a good path)."""
    def f(root: Path) -> Path:
        path = root / "hostile.parquet"
        pq.write_table(pa.table({"image": pa.array(["a.jpg"]), **rows}), path)
        return path
    return f


def _symlink(target: str, name: str) -> Callable[[Path], None]:
    return lambda root: os.symlink(target, root / name)


def _socket(root: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    os.chdir(root)  # AF_UNIX paths are short: bind relative to the folder
    s.bind("sock")
    s.close()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, errors="surrogateescape") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


DEEP = "[" * 100_000 + "]" * 100_000
OSC = "\x1b]0;pwned\x07\x1b[2J"
CASES = [
    # -- folders: sidecars, names, special files ---------------------------------------------------------
    Case("sidecar_deep_array", "folder", pair("d", ".json", DEEP), "reject:folder_reader_v1:bad_sidecar"),
    Case("sidecar_deep_object", "folder", pair("d", ".json", '{"a":' * 100_000 + "1" + "}" * 100_000),
         "reject:folder_reader_v1:bad_sidecar"),
    Case("sidecar_surrogate_high", "folder", pair("d", ".json", '{"caption": "x\\ud800y"}'),
         "reject:folder_reader_v1:caption_encoding"),
    Case("sidecar_surrogate_low", "folder", pair("d", ".json", '{"caption": "\\udc80"}'),
         "reject:folder_reader_v1:caption_encoding"),
    Case("sidecar_surrogate_meta", "folder", pair("d", ".json", '{"caption": "ok text", "k": ["\\ud800"]}'),
         "reject:folder_reader_v1:meta_encoding"),
    Case("sidecar_list_caption", "folder", pair("d", ".json", '{"caption": ["a", "b"]}'),
         "reject:folder_reader_v1:caption_type"),
    Case("sidecar_int_caption", "folder", pair("d", ".json", '{"text": 7}'), "reject:folder_reader_v1:caption_type"),
    Case("sidecar_not_object", "folder", pair("d", ".json", "[1, 2]"), "reject:folder_reader_v1:bad_sidecar"),
    Case("sidecar_bad_json", "folder", pair("d", ".json", "{nope"), "reject:folder_reader_v1:bad_sidecar"),
    Case("sidecar_txt_undecodable", "folder", pair("d", ".txt", b"\x81\x8d\x90"),
         "reject:folder_reader_v1:caption_encoding"),
    Case("sidecar_bom_json", "folder", pair("d", ".json", "\ufeff" + '{"caption": "with a bom"}'), "ok",
         lambda r: r[S.CAPTION] == "with a bom"),
    Case("name_not_utf8_media", "folder", add(os.fsdecode(b"\xff\xfe.jpg"), JPEG),
         "reject:folder_reader_v1:bad_file_name"),
    Case("name_not_utf8_sidecar", "folder", add(os.fsdecode(b"a\xe9.txt"), b"x"),
         "reject:folder_reader_v1:bad_file_name"),
    Case("name_control_chars", "folder", pair(OSC, ".txt", "escape"), "ok", lambda r: r[S.LOCATOR] == OSC + ".jpg"),
    Case("symlink_file", "folder", _symlink("a.jpg", "link.jpg"), "reject:folder_reader_v1:not_followed_link"),
    Case("symlink_dir_outside", "folder", _symlink("/etc", "etc"), "reject:folder_reader_v1:not_followed_link"),
    Case("symlink_dangling", "folder", _symlink("/nonexistent/x.jpg", "gone.jpg"),
         "reject:folder_reader_v1:dangling_link"),
    Case("fifo", "folder", lambda root: os.mkfifo(root / "pipe.jpg"), "reject:folder_reader_v1:special_file"),
    Case("socket", "folder", _socket, "reject:folder_reader_v1:special_file"),
    Case("hidden_file", "folder", add(".secret.jpg", JPEG), "reject:folder_reader_v1:hidden_file"),
    Case("hidden_folder", "folder", add(".git/objects/x.jpg", JPEG), "reject:folder_reader_v1:hidden_file"),
    Case("not_an_image", "folder", add("e.jpg", b"MZ\x90\x00 not an image"), "reject:image_decode_v1:"),
    Case("empty_media", "folder", add("e.jpg", b""), "reject:image_decode_v1:"),
    Case("orphan_sidecar", "folder", add("f.txt", "no media"), "reject:folder_reader_v1:missing_media"),
    # -- CSV / TSV ----------------------------------------------------------------------------------
    Case("csv_cp1252", "csv", append("csv", "a.jpg,caf\xe9 cr\xe8me,fr\r\n".encode("cp1252")), "error:encoding"),
    Case("csv_cp1252_configured", "csv", append("csv", "a.jpg,caf\xe9,fr\r\n".encode("cp1252")), "ok",
         lambda r: r[S.CAPTION] == "caf\u00e9", {"encoding": "cp1252"}),
    Case("csv_ragged_long", "csv", append("csv", "a.jpg,x,y,z\r\n"), "reject:table_reader_v1:ragged_row"),
    Case("csv_ragged_short", "csv", append("csv", "a.jpg\r\n"), "reject:table_reader_v1:ragged_row"),
    Case("tsv_ragged", "tsv", append("tsv", "a.jpg\tx\ty\tz\n"), "reject:table_reader_v1:ragged_row"),
    Case("csv_quoted_newlines_big", "csv", append("csv", 'a.jpg,"big,' + "line\n" * 400_000 + '",en\r\n'),
         "reject:caption_clean_v1:caption_too_long"),
    Case("csv_quoted_newline_small", "csv", append("csv", 'b.png,"two\nlines",en\r\n'), "ok",
         lambda r: r[S.CAPTION].startswith("two")),
    Case("csv_inch_mark", "csv", append("csv", 'a.jpg,a 5" screen,en\r\nb.png,"quoted ""x""",en\r\n'), "ok2",
         lambda r: r[S.CAPTION] in ('a 5" screen', 'quoted "x"')),
    Case("csv_duplicate_header", "csv", rewrite("csv", lambda t: t.replace("lang", "caption", 1).encode()),
         "error:column twice"),
    Case("csv_unclosed_quote", "csv", append("csv", 'a.jpg,"never closed,en\r\n'), "error:never closed"),
    Case("csv_bom_digits", "csv", rewrite("csv", lambda t: ("\ufeff" + t + "a.jpg,007,en\r\n").encode()), "ok",
         lambda r: r[S.CAPTION] == "007"),
    Case("csv_nan_text", "csv", append("csv", "a.jpg,NaN,en\r\n"), "ok", lambda r: r[S.CAPTION] == "NaN"),
    Case("csv_empty_caption", "csv", append("csv", "a.jpg,,en\r\n"), "reject:caption_clean_v1:caption_empty"),
    Case("csv_blank_lines", "csv", append("csv", "\r\n\r\n"), "none"),
    Case("csv_control_caption", "csv", append("csv", f"a.jpg,{OSC}x,en\r\n"), "ok"),
    # -- JSONL --------------------------------------------------------------------------------------
    Case("jsonl_surrogate_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": "\\ud800"}\n'),
         "reject:table_reader_v1:caption_encoding"),
    Case("jsonl_surrogate_low", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": "a\\udc80"}\n'),
         "reject:table_reader_v1:caption_encoding"),
    Case("jsonl_surrogate_extra", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": "ok", "x": "\\udc80"}\n'),
         "reject:table_reader_v1:meta_encoding"),
    Case("jsonl_deep", "jsonl", append("jsonl", DEEP + "\n"), "reject:table_reader_v1:bad_record"),
    Case("jsonl_list_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": ["a", "b"]}\n'),
         "reject:table_reader_v1:caption_type"),
    Case("jsonl_list_caption_joined", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": ["a", "b"]}\n'),
         "ok", lambda r: r[S.CAPTION] == "a b" and "caption_joined" in r[S.FLAGS], {"caption_join": " "}),
    Case("jsonl_int_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": 7}\n'),
         "reject:table_reader_v1:caption_type"),
    Case("jsonl_dict_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": {"en": "x"}}\n'),
         "reject:table_reader_v1:caption_type"),
    Case("jsonl_nan_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": NaN}\n'),
         "reject:table_reader_v1:caption_type"),
    Case("jsonl_null_caption", "jsonl", append("jsonl", '{"image": "a.jpg", "caption": null}\n'),
         "reject:caption_clean_v1:caption_empty"),
    Case("jsonl_int_url", "jsonl", append("jsonl", '{"caption": "x", "url": 12345}\n'),
         "reject:table_reader_v1:bad_url", kwargs={"url_column": "url"}),
    Case("jsonl_array_line", "jsonl", append("jsonl", "[1, 2]\n"), "reject:table_reader_v1:bad_record"),
    Case("jsonl_not_utf8", "jsonl", append("jsonl", b'{"image": "a.jpg", "caption": "\xff"}\n'),
         "reject:table_reader_v1:bad_record"),
    # -- JSON array and Parquet ---------------------------------------------------------------------
    Case("json_array_non_object", "json", rewrite("json", lambda t: t.replace("]", ", 5]").encode()),
         "reject:table_reader_v1:bad_record"),
    Case("json_array_truncated", "json", rewrite("json", lambda t: t[:-3].encode()), "error:not a valid JSON array"),
    Case("parquet_not_parquet", "parquet", extra_file("fake.parquet", b'{"image": "a.jpg"}\n'),
         "reject:table_reader_v1:unreadable_file"),
    Case("parquet_truncated", "parquet", extra_file("cut.parquet", b"PAR1" + b"\x00" * 64),
         "reject:table_reader_v1:unreadable_file"),
    Case("parquet_list_caption", "parquet", parquet_rows({"caption": pa.array([["a", "b"]])}),
         "reject:table_reader_v1:caption_type"),
    Case("parquet_int_caption", "parquet", parquet_rows({"caption": pa.array([7])}),
         "reject:table_reader_v1:caption_type"),
    Case("parquet_struct_caption", "parquet", parquet_rows({"caption": pa.array([{"t": "x"}])}),
         "reject:table_reader_v1:caption_type"),
    Case("parquet_binary_extra", "parquet",
         parquet_rows({"caption": pa.array(["thumb"]), "thumb": pa.array([b"\x00" * 10240])}), "ok",
         lambda r: json.loads(r[S.META_JSON]) == {"thumb": {"$binary_dropped": 10240}}
         and r[S.FLAGS] == ["meta_binary_dropped"]),
    # -- WebDataset tars ----------------------------------------------------------------------------
    Case("tar_member_not_utf8", "webdataset", extra_file("bad.tar", tar_bytes({os.fsdecode(b"\xff\xfe.jpg"): JPEG})),
         "reject:webdataset_reader_v1:unsafe_member_name"),
    Case("tar_member_escape_name", "webdataset", extra_file("esc.tar", tar_bytes({OSC + ".jpg": JPEG})),
         "reject:webdataset_reader_v1:unsafe_member_name"),
    Case("parquet_int_url", "parquet", parquet_rows({"caption": pa.array(["x"]), "url": pa.array([5])}),
         "reject:table_reader_v1:bad_url", kwargs={"url_column": "url"}),
]


def _clean_input(kind: str, root: Path) -> Path:
    if kind == "webdataset":
        root.mkdir(parents=True)
        (root / "clean.tar").write_bytes(tar_bytes({"0001.jpg": JPEG, "0001.txt": b"a cat", "0002.jpg": JPEG,
                                                    "0002.txt": b"a dog"}))
        return root / "clean.tar"
    if kind == "folder":
        write_clean_folder(root)
        return root
    write_images(root)
    path = root / FILES[kind]
    if kind == "csv":
        path.write_text(CSV_CLEAN, newline="")
    elif kind == "tsv":
        path.write_text(CSV_CLEAN.replace(",", "\t"), newline="")
    elif kind == "jsonl":
        path.write_text(JSONL_CLEAN)
    elif kind == "json":
        path.write_text(json.dumps([json.loads(line) for line in JSONL_CLEAN.splitlines()], indent=1))
    else:
        pq.write_table(pa.Table.from_pylist([json.loads(line) for line in JSONL_CLEAN.splitlines()]), path)
    return path


def _reader(kind: str, path: Path, kwargs: dict[str, Any]) -> Reader:
    if kind == "folder":
        return FolderReader(path=str(path), unit_rows=4, **kwargs)
    if kind == "webdataset":
        return WebDatasetReader(path=str(path), **kwargs)
    return TableFileReader(path=str(path), unit_rows=2, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_costs_only_its_rows(case: Case, tmp_path: Path) -> None:
    cwd = os.getcwd()
    root = tmp_path / "in"
    main = _clean_input(case.kind, root)
    clean_acc, clean_rej = run([_reader(case.kind, main, case.kwargs)], tmp_path / "clean")
    try:
        extra = case.mutate(root)
    finally:
        os.chdir(cwd)
    readers = [_reader(case.kind, main, case.kwargs)]
    if extra is not None:
        readers.append(_reader(case.kind, extra, case.kwargs))
    if case.expect.startswith("error:"):
        with pytest.raises(InputError) as err:
            run(readers, tmp_path / "hostile")
        message = str(err.value)
        assert case.expect[6:] in message and "\n" not in message and str(main) in message
        return
    acc, rej = run(readers, tmp_path / "hostile")
    assert {k: acc[k] for k in clean_acc} == clean_acc  # every clean row comes out exactly as before
    if extra is not None:  # a hostile second input: the first input's shards are the same bytes
        clean_files = sorted((tmp_path / "clean" / "parquet").glob("*.parquet"))
        assert clean_files and all(f.read_bytes() == (tmp_path / "hostile" / "parquet" / f.name).read_bytes()
                                   for f in clean_files)
    known = {r["sample_id"] for r in clean_rej}
    new_rej = [r for r in rej if r["sample_id"] not in known]
    new_acc = [r for k, r in acc.items() if k not in clean_acc]
    assert all(r[S.CAPTION] is None or r[S.CAPTION].encode("utf-8") for r in new_acc)
    if case.expect == "none":
        assert not new_rej and not new_acc
    elif case.expect.startswith("ok"):
        assert len(new_acc) == int(case.expect[2:] or 1) and not new_rej, new_rej
        assert case.check is None or all(case.check(r) for r in new_acc), new_acc
    else:
        assert not new_acc and len(new_rej) == 1, (new_acc, new_rej)
        assert new_rej[0]["reason"].startswith(case.expect[7:]), new_rej[0]
        assert new_rej[0]["error"], new_rej[0]  # every reject says what decided it
