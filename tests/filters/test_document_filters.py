"""Node- and document-level document filters, frequent images, MMC4 assignment on planted pairs."""

import io

import numpy as np
import pyarrow as pa
from PIL import Image

from mmcurate.filters.document_level import DocumentFilter
from mmcurate.filters.document_nodes import DocumentNodeFilter
from mmcurate.pipeline.documents.image_sets import assign_images, frequent_images, remove_images
from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.schemas.document import DOCUMENT_SCHEMA, image_node, text_node
from mmcurate.schemas.table import to_table

GOOD = "The river runs through the old town and the bridge was built in the year of the great flood."


def png(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h)).save(buf, "PNG")
    return buf.getvalue()


def docs(*node_lists, images=None):
    rows = [document_row(WorkUnit("u", 0, "{}"), i, source="t", locator=str(i), url=None, nodes=nodes,
                         images=images) for i, nodes in enumerate(node_lists)]
    for r in rows:
        r["unit_rows"] = len(rows)
    return to_table(rows, DOCUMENT_SCHEMA)


def test_node_rules_record_reasons_and_text_only():
    imgs = {"http://i/big": png(300, 200), "http://i/small": png(100, 100), "http://i/wide": png(900, 200)}
    table = docs([text_node(GOOD), image_node("http://i/big"), text_node("hi"), image_node("http://i/small"),
                  text_node("$$$ ### @@@ !!! %%% ^^^ &&& ***"), image_node("http://i/wide")],
                 [text_node(GOOD), image_node("http://i/small")], images=imgs)
    out = DocumentNodeFilter(batch_size=8).process_batch(table).to_pylist()
    removed = [n["removed"] for n in out[0]["doc_nodes"]]
    assert removed == [None, None, "doc_nodes_v1:paragraph_short", "doc_nodes_v1:image_too_small",
                       "doc_nodes_v1:paragraph_short", "doc_nodes_v1:image_aspect"]
    assert out[0]["doc_nodes_v1_removed_images"] == 2 and out[1]["status"] == "ok"  # text-only kept
    dropped = DocumentNodeFilter(on_no_images="drop").process_batch(table).to_pylist()
    assert [d["drop_reason"] for d in dropped] == [None, "doc_nodes_v1:no_images_left"]
    rep = " ".join(["the cat sat on the mat"] * 10)
    assert DocumentNodeFilter().text_code(rep) == "paragraph_repetition"


def test_document_rules():
    table = docs([text_node(GOOD), image_node("http://i/a")], [text_node(GOOD)],
                 [text_node("Der Fluss fließt durch die alte Stadt und die Brücke wurde gebaut."), image_node("u")])
    out = DocumentFilter(languages=("en",)).process_batch(table).to_pylist()
    assert [d["drop_reason"] for d in out] == [None, "doc_v1:too_few_images", "doc_v1:language"]
    assert out[0]["doc_v1_words"] == 19 and out[0]["doc_v1_lang"] == "en"


def test_frequent_images():
    pairs = pa.table({"doc_id": [f"d{i}" for i in range(12)] + ["d0", "d0", "d1"],
                      "image_key": ["logo"] * 12 + ["a", "a", "b"]})
    assert frequent_images(pairs, max_docs=10) == {"logo"}
    assert frequent_images(pairs, max_docs=12) == set()
    nodes = [image_node("logo"), image_node("a")]
    assert remove_images(nodes, {"logo"}) == 1 and nodes[0]["removed"].endswith("frequent_image")


def test_assignment_planted_pairs():
    rng = np.random.default_rng(0)
    sim = rng.uniform(0.0, 0.2, size=(4, 7))
    planted = [(0, 5), (1, 0), (2, 3), (3, 6)]
    for i, s in planted:
        sim[i, s] = 0.9
    sim[0, 0] = 0.8
    sim[1, 5] = 0.95  # image 1 prefers sentence 5, but the optimum gives it sentence 0
    assert assign_images(sim) == planted
    assert assign_images(sim, min_similarity=0.95) == []
