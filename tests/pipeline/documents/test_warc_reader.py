"""WARC reader: pages become documents, image records attach their bytes, bad crawls keep what came first."""

import gzip
import io

from mmcurate.pipeline.documents.html_folder import HtmlFolderReader
from mmcurate.pipeline.documents.warc_build import hostile_pages, write_warc
from mmcurate.pipeline.documents.warc_reader import WarcReader
from mmcurate.pipeline.readers.base import WorkUnit

LONG = "with enough ordinary words in it to count as the main content of this article page"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def page(n: int) -> bytes:
    return (f"<html><body><article><p>Page {n} opens {LONG}.</p><img src='/img/{n}.png' alt='pic {n}'>"
            f"<p>Page {n} closes {LONG}.</p></article></body></html>").encode()


def read(path, **kw):
    reader = WarcReader(path=str(path), **kw)
    [spec] = reader.plan()
    return reader.read_unit(WorkUnit("u0", 0, __import__("json").dumps(spec))).to_pylist()


def test_pages_and_image_records(tmp_path):
    recs = [(f"http://s.test/p{n}.html", page(n), "text/html") for n in range(3)]
    recs.insert(1, ("http://s.test/img/0.png", PNG, "image/png"))
    rows = read(write_warc(tmp_path / "c.warc.gz", recs))
    assert [r["status"] for r in rows] == ["ok"] * 3
    first = rows[0]
    assert [n["kind"] for n in first["doc_nodes"]] == ["text", "image", "text"]
    assert first["doc_nodes"][1]["media_index"] == 0 and first["media"][0]["bytes"] == PNG
    assert rows[1]["media"] == [] and rows[1]["doc_nodes"][1]["url"] == "http://s.test/img/1.png"
    assert read(tmp_path / "c.warc.gz") == rows  # deterministic ids and content


def test_truncated_and_corrupt_member(tmp_path):
    recs = [(f"http://s.test/p{n}.html", page(n), "text/html") for n in range(4)]
    data = write_warc(tmp_path / "c.warc.gz", recs).read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: int(len(data) * 0.8)])
    rows = read(tmp_path / "cut.warc.gz")
    assert [r["status"] for r in rows[:-1]] == ["ok"] * (len(rows) - 1) and len(rows) >= 3
    assert rows[-1]["drop_reason"] == "warc_reader_v1:warc_truncated"
    members = data.split(b"\x1f\x8b\x08")  # gzip member starts
    bad = b"\x1f\x8b\x08".join(members[:3]) + b"\x1f\x8b\x08" + b"\xde\xad" * 50 + b"\x1f\x8b\x08" + \
        b"\x1f\x8b\x08".join(members[4:])
    (tmp_path / "bad.warc.gz").write_bytes(bad)
    rows = read(tmp_path / "bad.warc.gz")
    assert rows[-1]["drop_reason"] == "warc_reader_v1:warc_truncated"
    assert sum(r["status"] == "ok" for r in rows) >= 1


def test_record_claiming_10gb(tmp_path):
    head = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://s.test/huge.html\r\n"
            b"WARC-Record-ID: <urn:uuid:1>\r\nContent-Type: application/http; msgtype=response\r\n"
            b"Content-Length: 10737418240\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
    good = write_warc(tmp_path / "g.warc", [("http://s.test/p.html", page(0), "text/html")], gzip=False)
    (tmp_path / "h.warc").write_bytes(good.read_bytes() + head)
    rows = read(tmp_path / "h.warc")
    assert rows[0]["status"] == "ok"
    assert rows[1]["drop_reason"] == "warc_reader_v1:record_too_large" and "10737418240" in rows[1]["error"]


def test_hostile_pages_each_get_a_reason(tmp_path):
    rows = read(write_warc(tmp_path / "h.warc.gz", hostile_pages()))
    by_url = {r["url"]: r for r in rows}
    assert by_url["http://hostile.test/deep.html"]["drop_reason"] == "warc_reader_v1:too_deep"
    many = by_url["http://hostile.test/many.html"]
    assert sum(n["kind"] == "image" for n in many["doc_nodes"]) == 10_000 and "images_capped" in many["flags"]
    assert "Café crème" in by_url["http://hostile.test/latin1.html"]["doc_nodes"][0]["text"]
    assert "charset_replaced" in by_url["http://hostile.test/broken.html"]["flags"]
    assert not any(n["kind"] == "image" for n in by_url["http://hostile.test/js.html"]["doc_nodes"])
    assert by_url["http://hostile.test/boiler.html"]["drop_reason"] == "warc_reader_v1:no_content"


def test_html_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.html").write_bytes(page(7))
    (tmp_path / "notes.txt").write_text("ignored")
    reader = HtmlFolderReader(path=str(tmp_path), base_url="http://h.test/docs")
    [spec] = reader.plan()
    [row] = reader.read_unit(WorkUnit("u", 0, __import__("json").dumps(spec))).to_pylist()
    assert row["doc_nodes"][1]["url"] == "http://h.test/img/7.png" and row["locator"] == "a/x.html"
    _ = gzip, io
