from __future__ import annotations

import base64
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.plan import plan_hash, plan_units
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.schemas import sample as S

JPEG = mc.encode(Image.new("RGB", (32, 32), (1, 2, 3)), "JPEG")


def _read_all(reader) -> list[dict]:
    units = plan_units([reader])
    return [row for u in units for row in reader.read_unit(u).to_pylist()]


def test_folder_pairs_sidecars_and_accounts_for_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "a.txt").write_bytes(b"caf\xe9")  # Windows-1252
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(mc.encode(Image.new("RGB", (32, 32)), "PNG"))
    (tmp_path / "sub" / "b.json").write_text(json.dumps({"caption": "bee", "license": "CC0"}))
    (tmp_path / "c.jpg").write_bytes(JPEG)
    (tmp_path / "c.txt").write_bytes(b"\x81\x8d")  # undecodable in UTF-8 and cp1252
    (tmp_path / "d.txt").write_text("orphan")
    (tmp_path / "e.jpg").write_bytes(JPEG)
    (tmp_path / "e.json").write_text("{not json")
    rows = _read_all(FolderReader(path=str(tmp_path), unit_rows=2))
    by = {r[S.LOCATOR]: r for r in rows}
    assert set(by) == {"a.jpg", "sub/b.png", "c.jpg", "d.txt", "e.jpg"}
    assert by["a.jpg"][S.CAPTION] == "caf\u00e9" and by["a.jpg"][S.FLAGS] == ["caption_cp1252"]
    assert by["sub/b.png"][S.CAPTION] == "bee" and json.loads(by["sub/b.png"][S.META_JSON]) == {"license": "CC0"}
    assert by["c.jpg"][S.DROP_REASON] == "folder_reader_v1:caption_encoding"
    assert by["d.txt"][S.DROP_REASON] == "folder_reader_v1:missing_media"
    assert by["e.jpg"][S.DROP_REASON] == "folder_reader_v1:bad_sidecar"
    assert by["a.jpg"][S.MEDIA][0]["bytes"] == JPEG
    assert len({r[S.SAMPLE_ID] for r in rows}) == len(rows)


def test_folder_plan_is_deterministic_and_changes_with_content(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"{i}.jpg").write_bytes(JPEG)
    first = plan_hash(plan_units([FolderReader(path=str(tmp_path), unit_rows=2)]))
    assert first == plan_hash(plan_units([FolderReader(path=str(tmp_path), unit_rows=2)]))
    (tmp_path / "5.jpg").write_bytes(JPEG)
    assert first != plan_hash(plan_units([FolderReader(path=str(tmp_path), unit_rows=2)]))


def test_oversized_file_is_rejected_before_reading(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(JPEG * 100)
    (tmp_path / "big.txt").write_text("big")
    rows = _read_all(FolderReader(path=str(tmp_path), max_file_bytes=1000))
    assert rows[0][S.DROP_REASON] == "folder_reader_v1:too_large"


def test_parquet_with_bytes_and_paths(tmp_path: Path) -> None:
    (tmp_path / "img.jpg").write_bytes(JPEG)
    table = pa.table({"image": [JPEG, None, JPEG], "caption": ["bytes", "missing", b"caf\xe9"], "score": [1, 2, 3]})
    pq.write_table(table, tmp_path / "pairs.parquet", row_group_size=1)
    rows = _read_all(TableFileReader(path=str(tmp_path / "pairs.parquet"), unit_rows=2))
    assert [r[S.STATUS] for r in rows] == ["ok", "rejected", "ok"]
    assert rows[0][S.MEDIA][0]["bytes"] == JPEG and json.loads(rows[0][S.META_JSON]) == {"score": 1}
    assert rows[1][S.DROP_REASON] == "table_reader_v1:missing_media"
    assert rows[2][S.CAPTION] == "caf\u00e9" and rows[2][S.LOCATOR] == "row 2"
    paths = pa.table({"image": ["img.jpg", "nope.jpg"], "caption": ["a", "b"]})
    pq.write_table(paths, tmp_path / "paths.parquet")
    rows = _read_all(TableFileReader(path=str(tmp_path / "paths.parquet")))
    assert rows[0][S.MEDIA][0]["bytes"] == JPEG and rows[1][S.DROP_REASON] == "table_reader_v1:missing_media"


def test_jsonl_paths_base64_and_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "img.jpg").write_bytes(JPEG)
    lines = [json.dumps({"image": "img.jpg", "caption": "by path"}), "{broken", json.dumps([1, 2]),
             json.dumps({"image": "img.jpg", "caption": "again"})]
    (tmp_path / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    rows = _read_all(TableFileReader(path=str(tmp_path / "pairs.jsonl"), unit_rows=3))
    assert [r[S.STATUS] for r in rows] == ["ok", "rejected", "rejected", "ok"]
    assert rows[1][S.DROP_REASON] == "table_reader_v1:bad_record"
    assert rows[3][S.UNIT_ID] != rows[0][S.UNIT_ID]  # second unit starts at its recorded offset
    b64 = tmp_path / "b64.jsonl"
    b64.write_text(json.dumps({"image": base64.b64encode(JPEG).decode(), "caption": "inline"}) + "\n")
    rows = _read_all(TableFileReader(path=str(b64), image_encoding="base64"))
    assert rows[0][S.MEDIA][0]["bytes"] == JPEG


def test_csv_and_tsv_url_lists_keep_text_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "urls.csv").write_text('url,caption,rank\nhttp://a.example/1.jpg,"007, agent",1\nhttp://a.example/2.jpg,,2\n')
    (tmp_path / "urls.tsv").write_text("url\tcaption\nhttp://a.example/3.jpg\tthree\n")
    rows = _read_all(TableFileReader(path=str(tmp_path / "urls.csv"), url_column="url"))
    assert [r[S.URL] for r in rows] == ["http://a.example/1.jpg", "http://a.example/2.jpg"]
    assert rows[0][S.CAPTION] == "007, agent" and rows[0][S.MEDIA] == [] and json.loads(rows[0][S.META_JSON]) == {"rank": "1"}
    assert rows[1][S.CAPTION] is None and rows[0][S.SAMPLE_ID] != rows[1][S.SAMPLE_ID]
    rows = _read_all(TableFileReader(path=str(tmp_path / "urls.tsv"), url_column="url"))
    assert rows[0][S.CAPTION] == "three" and rows[0][S.STATUS] == "ok"


def test_webdataset_reader_rows_and_shard_errors(tmp_path: Path) -> None:
    from mmcurate.jobs.demo_web import make_tars
    from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader

    expected = make_tars(tmp_path, n_good=4, seed=1)
    rows = _read_all(WebDatasetReader(path=str(tmp_path)))
    by_key = {r[S.LOCATOR].split("#")[0]: r for r in rows}
    for key, reason in expected.items():
        assert by_key[key][S.DROP_REASON] == reason, key
    good = by_key["hostile.tar:000000"]
    assert good[S.CAPTION] and Image.open(__import__("io").BytesIO(good[S.MEDIA][0]["bytes"])).size == (160, 160)
    units = {r[S.UNIT_ID] for r in rows}
    assert len(units) == 2  # one unit per tar
    for unit in units:
        unit_rows = [r for r in rows if r[S.UNIT_ID] == unit]
        assert sorted(r[S.UNIT_INDEX] for r in unit_rows) == list(range(len(unit_rows)))
        assert {r[S.UNIT_ROWS] for r in unit_rows} == {len(unit_rows)}
    refused = _read_all(WebDatasetReader(path="pipe:curl http://x/a.tar"))
    assert refused[0][S.DROP_REASON] == "webdataset_reader_v1:scheme_not_allowed"
