"""OBELICS Parquet and MMC4 JSONL inputs round-trip; the OBELICS output loads in HF datasets."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.documents.mmc4 import Mmc4Reader
from mmcurate.pipeline.documents.obelics import ObelicsReader, obelics_table, write_obelics
from mmcurate.pipeline.readers.base import WorkUnit


def read_all(reader):
    return pa.concat_tables([reader.read_unit(WorkUnit(f"u{i}", 0, json.dumps(s)))
                             for i, s in enumerate(reader.plan())])


def test_obelics_round_trip_and_datasets(tmp_path):
    src = pa.table({
        "texts": [["Intro", None, "Outro"], [None, "Only"], ["bad", "both"]],
        "images": [[None, "http://i.test/a.jpg", None], ["http://i.test/b.jpg", None], [None, "http://x"]],
        "metadata": ["[]", "[]", "[]"], "general_metadata": ['{"url": "http://p.test/1"}', "{}", "{}"],
    })
    pq.write_table(src, tmp_path / "in.parquet")
    docs = read_all(ObelicsReader(path=str(tmp_path / "in.parquet"), unit_rows=2))
    assert docs.column("status").to_pylist() == ["ok", "ok", "rejected"]
    assert docs.column("drop_reason").to_pylist()[2] == "obelics_reader_v1:misaligned"
    assert docs.column("url").to_pylist()[0] == "http://p.test/1"
    out = obelics_table(docs)
    assert out.column("texts").to_pylist() == src.column("texts").to_pylist()[:2]
    assert out.column("images").to_pylist() == src.column("images").to_pylist()[:2]
    write_obelics(docs, str(tmp_path / "out.parquet"))
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds[0]["texts"] == ["Intro", None, "Outro"] and ds[1]["images"] == ["http://i.test/b.jpg", None]


def test_mmc4_order_and_bad_lines(tmp_path):
    lines = [
        {"url": "http://m.test/1", "text_list": ["s0", "s1", "s2"],
         "image_info": [{"raw_url": "http://i/a", "matched_text_index": 2, "matched_sim": 0.3},
                        {"raw_url": "http://i/b", "matched_text_index": 0, "matched_sim": 0.2}]},
        {"text_list": ["x"], "image_info": [{"raw_url": "http://i/c", "matched_text_index": 5}]},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n")
    docs = read_all(Mmc4Reader(path=str(path))).to_pylist()
    nodes = docs[0]["doc_nodes"]
    assert [n["text"] or n["url"] for n in nodes] == ["http://i/b", "s0", "s1", "http://i/a", "s2"]
    assert [d["drop_reason"] for d in docs[1:]] == ["mmc4_reader_v1:bad_record"] * 2
    assert "outside" in docs[1]["error"]


def test_webdataset_writes_one_sample_per_document_with_its_node_order(tmp_path):
    import io
    import tarfile

    from PIL import Image

    from mmcurate.pipeline.documents.rows import document_row
    from mmcurate.pipeline.readers.base import media_item
    from mmcurate.pipeline.sinks.formats import write_webdataset
    from mmcurate.schemas.document import DOCUMENT_SCHEMA, image_node, text_node
    from mmcurate.schemas.table import to_table

    pngs = []
    for color in ("red", "blue"):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), color).save(buf, "PNG")
        pngs.append(buf.getvalue())
    gone = image_node("http://i.test/logo.png")
    gone["removed"] = "doc_frequent_images_v1:frequent_image"
    nodes = [text_node("Intro"), image_node("http://i.test/a.png", "a", 0), gone, text_node("Middle"),
             image_node("http://i.test/b.png", None, 1)]
    row = document_row(WorkUnit("u", 0, "{}"), 0, source="t", locator="0", url="http://p.test/1", nodes=nodes)
    row["unit_rows"], row["media"] = 1, [media_item(p) for p in pngs]
    buf = io.BytesIO()
    write_webdataset(to_table([row], DOCUMENT_SCHEMA), buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    key = row["sample_id"]
    assert sorted(members) == [f"{key}.0.png", f"{key}.1.png", f"{key}.json"]  # one sample: one key
    order = json.loads(members[f"{key}.json"])["nodes"]
    assert [n.get("text") or n["member"] for n in order] == ["Intro", "0.png", "Middle", "1.png"]
    assert [members[f"{key}.{n['member']}"] for n in order if n["kind"] == "image"] == pngs
    assert order[1]["url"] == "http://i.test/a.png" and order[1]["alt"] == "a"
