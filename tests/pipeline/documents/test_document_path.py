"""The whole document path in-process: WARC (with image records) -> decode -> node and document filters
-> interleaved tokens -> OBELICS Parquet that HF datasets reads; plus the demo crawl from Debian docs."""

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mmcurate.filters.document_level import DocumentFilter
from mmcurate.filters.document_nodes import DocumentNodeFilter
from mmcurate.pipeline.documents.decode import DocumentImageDecode
from mmcurate.pipeline.documents.obelics import write_obelics
from mmcurate.pipeline.documents.warc_build import demo_crawl, write_warc
from mmcurate.pipeline.documents.warc_reader import WarcReader
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.tokenizers.interleaved_stage import InterleavedTokens

P = "The river runs through the old town and the bridge was built in the year of the great flood."


def png(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "blue").save(buf, "PNG")
    return buf.getvalue()


def test_document_path(tmp_path):
    page = (f"<html><body><article><p>{P}</p><img src='/big.png'><p>{P}</p><img src='/tiny.png'>"
            f"<p>{P}</p></article></body></html>").encode()
    warc = write_warc(tmp_path / "c.warc.gz", [
        ("http://s.test/big.png", png(320, 240), "image/png"), ("http://s.test/tiny.png", png(20, 20), "image/png"),
        ("http://s.test/a.html", page, "text/html"),
        ("http://s.test/b.html", f"<html><body><article><p>{P}</p></article></body></html>".encode(), "text/html")])
    reader = WarcReader(path=str(warc))
    table = reader.read_unit(WorkUnit("u0", 0, json.dumps(reader.plan()[0])))
    out = run_stages([DocumentImageDecode(), DocumentNodeFilter(), DocumentFilter(), InterleavedTokens()], table)
    rows = out.to_pylist()
    assert [r["drop_reason"] for r in rows] == [None, "doc_v1:too_few_images"]
    a = rows[0]
    assert [n["removed"] for n in a["doc_nodes"]] == [None, None, None, "doc_nodes_v1:image_too_small", None]
    assert a["doc_tokens_v1_image"] > 0 and [s["modality"] for s in a["doc_tokens_v1_spans"]] == [
        "text", "image", "text", "text"]
    write_obelics(out, str(tmp_path / "o.parquet"))
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "o.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds[0]["images"] == [None, "http://s.test/big.png", None, None] and ds[0]["image_bytes"][1] == png(320, 240)


DOCS = [d for d in (Path("/usr/share/doc/libffi8/html"), Path("/usr/share/doc/python3.11/html")) if d.is_dir()]


@pytest.mark.skipif(not DOCS, reason="no Debian HTML documentation installed")
def test_demo_crawl_from_debian_docs(tmp_path):
    warc = demo_crawl(tmp_path / "demo.warc.gz", DOCS, max_pages=20)
    reader = WarcReader(path=str(warc))
    rows = reader.read_unit(WorkUnit("u0", 0, json.dumps(reader.plan()[0]))).to_pylist()
    ok = [r for r in rows if r["status"] == "ok" and r["url"].startswith("http://docs.example/")]
    assert len(ok) >= 10 and all(r["doc_nodes"] for r in ok)
    reasons = {r["url"]: r["drop_reason"] for r in rows}
    assert reasons["http://hostile.test/deep.html"] == "warc_reader_v1:too_deep"
