"""Images shared across documents are fetched once (a loopback server counts requests); SSRF kept."""

import base64
import io
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from mmcurate.pipeline.documents.fetch_images import DocumentImageFetch
from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.net.fetch import FetchPolicy
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.schemas.document import DOCUMENT_SCHEMA, image_node, text_node
from mmcurate.schemas.table import to_table

buf = io.BytesIO()
Image.new("RGB", (8, 8), "red").save(buf, "PNG")
PNG = buf.getvalue()


@pytest.fixture
def server():
    hits: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits[self.path] += 1
            code = 200 if self.path.endswith(".png") else 404
            self.send_response(code)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG) if code == 200 else 0))
            self.end_headers()
            if code == 200:
                self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", hits
    srv.shutdown()


def table(*node_lists):
    rows = [document_row(WorkUnit("u", 0, "{}"), i, source="t", locator=str(i), url=None, nodes=n)
            for i, n in enumerate(node_lists)]
    for r in rows:
        r["unit_rows"] = len(rows)
    return to_table(rows, DOCUMENT_SCHEMA)


def test_shared_images_fetched_once(server):
    base, hits = server
    data = "data:image/png;base64," + base64.b64encode(PNG).decode()
    t = table([text_node("a"), image_node(base + "/logo.png"), image_node(base + "/one.png")],
              [image_node(base + "/logo.png"), text_node("b"), image_node(base + "/gone"), image_node(data)],
              [image_node(base + "/logo.png")])
    stage = DocumentImageFetch(policy=FetchPolicy(allow_private_networks=True, total_timeout=3, max_retries=0))
    out = stage.process_batch(t).to_pylist()
    assert hits == {"/logo.png": 1, "/one.png": 1, "/gone": 1}
    assert [len(d["media"]) for d in out] == [2, 2, 1]
    nodes = out[1]["doc_nodes"]
    assert [n["media_index"] for n in nodes] == [0, None, None, 1]
    assert nodes[2]["removed"] == "doc_images_v1:http_404" and out[1]["doc_images_v1_failed"] == 1
    assert out[1]["media"][1]["bytes"] == PNG


def test_private_address_blocked(server):
    base, hits = server
    out = DocumentImageFetch().process_batch(table([text_node("a"), image_node(base + "/x.png")])).to_pylist()
    assert hits == {} and out[0]["doc_nodes"][1]["removed"].startswith("doc_images_v1:")
    assert out[0]["media"] == []
