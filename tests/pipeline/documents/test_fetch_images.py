"""Images shared across documents are fetched once over the whole input (a loopback server counts
requests), in process and on Ray, across work units; WARC-stored bytes reused; SSRF kept."""

import base64
import io
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmcurate.pipeline.documents.fetch_images import DocumentImageFetch
from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.net.fetch import FetchPolicy
from mmcurate.pipeline.readers.base import WorkUnit, media_item
from mmcurate.pipeline.runner import run_stages
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


def fetched(stage: DocumentImageFetch, t, store) -> list[dict]:
    """The pass end to end in process: collect, decide once, apply in the main pass."""
    stage.bind_output(str(store))
    decision = stage.decide(stage.derive(t).select(["sample_id", *stage.columns()]))
    return run_stages(stage.apply_stages(decision), t).to_pylist()


def test_shared_images_fetched_once(server, tmp_path):
    base, hits = server
    data = "data:image/png;base64," + base64.b64encode(PNG).decode()
    t = table([text_node("a"), image_node(base + "/logo.png"), image_node(base + "/one.png")],
              [image_node(base + "/logo.png"), text_node("b"), image_node(base + "/gone"), image_node(data)],
              [image_node(base + "/logo.png")])
    stage = DocumentImageFetch(policy=FetchPolicy(allow_private_networks=True, total_timeout=3, max_retries=0))
    out = fetched(stage, t, tmp_path)
    assert hits == {"/logo.png": 1, "/one.png": 1, "/gone": 1}
    assert [len(d["media"]) for d in out] == [2, 2, 1]
    nodes = out[1]["doc_nodes"]
    assert [n["media_index"] for n in nodes] == [0, None, None, 1]
    assert nodes[2]["removed"] == "doc_images_v1:http_404" and out[1]["doc_images_v1_failed"] == 1
    assert out[1]["media"][1]["bytes"] == PNG


def test_private_address_blocked(server, tmp_path):
    base, hits = server
    out = fetched(DocumentImageFetch(), table([text_node("a"), image_node(base + "/x.png")]), tmp_path)
    assert hits == {} and out[0]["doc_nodes"][1]["removed"].startswith("doc_images_v1:")
    assert out[0]["media"] == []


def test_warc_bytes_are_reused_and_not_fetched(server, tmp_path):
    base, hits = server
    t = table([text_node("a"), image_node(base + "/stored.png", media_index=0)])
    t = t.set_column(t.schema.get_field_index("media"), "media",
                     pa.array([[media_item(PNG)]], t.schema.field("media").type))
    out = fetched(DocumentImageFetch(policy=FetchPolicy(allow_private_networks=True)), t, tmp_path)
    assert hits == {} and out[0]["media"][0]["bytes"] == PNG and out[0]["doc_nodes"][1]["media_index"] == 0


def page(body: str) -> str:
    return f"<html><body><article><p>{body} " * 3 + "</p></article></body></html>"


def job(pages: Path, out: Path) -> dict:
    return {"inputs": [{"kind": "html_folder", "path": str(pages), "unit_rows": 1}],
            "steps": [{"use": "doc_image_fetch", "urls_per_task": 1,
                       "policy": {"allowed_networks": ["127.0.0.1/32"], "total_timeout": 5, "max_retries": 0}}],
            "output": {"path": str(out)}}


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_url_shared_by_documents_of_different_units_is_fetched_once(engine, tmp_path, request):
    from mmcurate.jobs.cli import run_job
    from mmcurate.jobs.demo_server import DemoServer
    from mmcurate.jobs.job_file import resolve

    images = tmp_path / "site"
    images.mkdir()
    (images / "shared.png").write_bytes(PNG)
    (images / "own.png").write_bytes(PNG)
    pages = tmp_path / "pages"
    pages.mkdir()
    with DemoServer(images) as srv:
        for i, extra in enumerate(["", f"<img src='{srv.url('own.png')}'>", ""]):
            text = f"Page {i} tells the story of the old harbour and the ships that came in the night"
            (pages / f"p{i}.html").write_text(page(text).replace("</article>",
                                              f"<img src='{srv.url('shared.png')}' alt='shared'>{extra}</article>"))
        kwargs = {"address": request.getfixturevalue("ray_session")} if engine == "ray" else {"use_ray": False}
        funnel = run_job(resolve(job(pages, tmp_path / "out")), progress=False, **kwargs)
        assert dict(srv.hits) == {"/shared.png": 1, "/own.png": 1}  # three units, one request per URL
    assert funnel["accepted"] == 3
    rows = pq.read_table(tmp_path / "out" / "parquet").to_pylist()
    assert sorted(len(r["media"]) for r in rows) == [1, 1, 2]
    assert all(r["media"][0]["bytes"] == PNG for r in rows)
