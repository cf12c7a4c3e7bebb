"""doc_image_dedup's decision on planted images: exact bytes and near pHashes join, the first copy in
input order (document, then node) stays, distances are reported, text-only documents are untouched."""

from __future__ import annotations

import pyarrow as pa

from mmcurate.pipeline.documents.image_dedup_pass import DocImageDedup, duplicate_images


def _images(rows: list[tuple[str, int, int, str, int]]) -> pa.Table:
    doc, order, node, sha, phash = zip(*rows)
    return pa.table({"doc_id": list(doc), "order": pa.array(order, pa.int64()), "node": pa.array(node, pa.int32()),
                     "sha256": list(sha), "phash": pa.array(phash, pa.uint64())})


def test_copies_keep_the_first_in_input_order() -> None:
    a, b = 0x0F0F_0F0F_0F0F_0F0F, 0xF0F0_F0F0_F0F0_F0F0  # 64 bits apart: never near copies
    images = _images([
        ("late", 5, 1, "s1", a),          # same bytes as early/3, later in the input
        ("early", 1, 3, "s1", a),
        ("early", 1, 0, "s2", a ^ 0b111),  # 3 bits from a: near copy of early/3, but earlier in its document
        ("mid", 2, 2, "s3", b),           # unrelated
        ("mid", 2, 4, "s4", b ^ 0b11111),  # 5 bits from mid/2: not a copy at max_distance 4
        ("mid", 2, 6, "s3", b),           # a repeat inside one document
    ])
    out = duplicate_images(images, max_distance=4).sort_by([("doc_id", "ascending"), ("node", "ascending")])
    assert out.to_pylist() == [
        {"doc_id": "early", "node": 3, "keep_doc": "early", "keep_node": 0, "distance": 3},
        {"doc_id": "late", "node": 1, "keep_doc": "early", "keep_node": 0, "distance": 3},
        {"doc_id": "mid", "node": 6, "keep_doc": "mid", "keep_node": 2, "distance": 0},
    ]
    assert duplicate_images(images, max_distance=0).num_rows == 2  # exact bytes only: late/1 and mid/6


def test_decision_lists_copies_per_document_and_drops_only_when_asked() -> None:
    sig = pa.struct([pa.field("node", pa.int32()), pa.field("sha256", pa.string()), pa.field("phash", pa.uint64())])
    rows = pa.table({
        "sample_id": ["d1", "d2", "text_only"],
        "doc_image_dedup_v1_images": pa.array([[{"node": 1, "sha256": "x", "phash": 7}],
                                               [{"node": 0, "sha256": "x", "phash": 7}], []], pa.list_(sig)),
        "doc_image_dedup_v1_order": pa.array([0, 1, 2], pa.int64()),
    })
    kept = DocImageDedup().decide(rows).to_pylist()
    assert [(r["sample_id"], r["reject"]) for r in kept] == [("d2", None)]
    assert kept[0]["doc_image_dedup_v1_duplicates"] == [
        {"node": 0, "duplicate_of": "d1", "duplicate_of_node": 1, "distance": 0}]
    dropped = DocImageDedup(on_no_images="drop").decide(rows).to_pylist()
    assert dropped[0]["reject"] == "no_images_left" and "1 of 1 images" in dropped[0]["detail"]
