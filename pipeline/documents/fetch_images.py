"""``doc_image_fetch``: every unique image URL of the whole input fetched once, as a set-level pass.

A logo or a photo shared by pages in different work units must cost one request, not one per unit, so
the fetch is a :class:`Pass`: each worker lists its documents' image URLs that still need bytes (slim
strings), the decision step deduplicates them over the whole dataset and fetches each once through the
existing downloader (:func:`mmcurate.pipeline.net.fetch.fetch_many`: SSRF guard, deadlines, per-host
limits, MIME sniffing) — in chunks over Ray tasks on a cluster, in process otherwise. Bodies are stored
by URL hash under ``<output>/passes/images/<sha256(url)>`` (:mod:`.image_store`, atomic, any
filesystem), never in the decision, which only lists each document's URL outcomes (reason, kind, MIME,
content hash) and stays small enough to ship to every worker.

Applied in the main pass (:class:`.fetch_fill.FillDocumentImages`), the stored bodies fill the image
nodes. Images the reader took from the crawl's own WARC records (``media_index`` set) are never fetched;
``data:`` URIs are decoded locally, capped. It reads the rows with earlier passes applied
(``own_collection``), so an image ``doc_frequent_images`` removed is never fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline import fs
from mmcurate.pipeline.documents.fetch_fill import FillDocumentImages
from mmcurate.pipeline.documents.image_store import OUTCOME, OUTCOMES, decode_data_uri, fetch_to_store
from mmcurate.pipeline.net.fetch import FetchPolicy
from mmcurate.pipeline.params import param
from mmcurate.pipeline.pass_runner import PASSES_DIR
from mmcurate.pipeline.passes import Pass, decision_table
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, KIND_IMAGE, live_nodes
from mmcurate.schemas.table import put_column

__all__ = ["DocumentImageFetch", "decode_data_uri", "urls_to_fetch", "URLS"]

NAME = "doc_images_v1"
URLS = f"{NAME}_urls"  # collected: a document's image URLs that still need bytes
IMAGES_DIR = "images"


def urls_to_fetch(nodes: list[dict[str, Any]] | None) -> list[str] | None:
    """A document's distinct live image URLs without bytes yet (not from the WARC, not ``data:``)."""
    if nodes is None:
        return None
    return sorted({n["url"] for n in live_nodes(nodes) if n["kind"] == KIND_IMAGE and n["media_index"] is None
                   and n["url"] and not n["url"].startswith("data:")})


@dataclass(kw_only=True)
class DocumentImageFetch(Pass):
    """Fetch every unique image URL of the whole input once (stored under the output) and fill the nodes."""

    name: ClassVar[str] = NAME
    own_collection: ClassVar[bool] = True

    policy: FetchPolicy = field(default_factory=FetchPolicy)
    max_data_uri_bytes: int = param(256 * 1024, doc="decoded data: URI cap", ge=1)
    urls_per_task: int = param(256, doc="unique URLs one fetch task takes (on Ray: one task per chunk)", ge=1)
    store: str | None = param(None, doc="where fetched bodies are kept; default <output>/passes/images")

    def bind_output(self, out_dir: str) -> None:
        if self.store is None:
            self.store = fs.join(out_dir, PASSES_DIR, IMAGES_DIR)

    def columns(self) -> list[str]:
        return [URLS]

    def derive(self, table: pa.Table) -> pa.Table:
        docs = table.column(DOC_NODES).to_pylist() if DOC_NODES in table.column_names else [None] * table.num_rows
        return put_column(table, pa.field(URLS, pa.list_(pa.string())), [urls_to_fetch(d) for d in docs])

    def empty_rows(self) -> pa.Table:
        return pa.table({S.SAMPLE_ID: pa.array([], pa.string()), URLS: pa.array([], pa.list_(pa.string()))})

    def _store(self) -> str:
        if self.store is None:
            raise ValueError("doc_image_fetch: no store (set `store`, or run it in a job with an output)")
        return self.store

    def decide(self, rows: pa.Table) -> pa.Table:
        unique = _unique_urls(rows)
        chunks = [unique.slice(i, self.urls_per_task) for i in range(0, unique.num_rows, self.urls_per_task)]
        outcomes = [fetch_to_store(chunk, self.policy, self._store()) for chunk in chunks]
        return self._decision(rows, outcomes)

    def decide_ray(self, rows: Any) -> pa.Table:
        import ray

        tables = [t for t in ray.get(rows.to_arrow_refs()) if t.num_rows]
        collected = pa.concat_tables(tables) if tables else self.empty_rows()
        unique = _unique_urls(collected)
        if unique.num_rows == 0:
            return self._decision(collected, [])
        chunks = -(-unique.num_rows // self.urls_per_task)
        fetched = ray.data.from_arrow(unique).repartition(chunks).map_batches(
            fetch_to_store, fn_kwargs={"policy": self.policy, "store": self._store()}, batch_format="pyarrow",
            batch_size=None)
        return self._decision(collected, [t for t in ray.get(fetched.to_arrow_refs()) if t.num_rows])

    def _decision(self, rows: pa.Table, outcomes: list[pa.Table]) -> pa.Table:
        by_url = {o["url"]: o for t in outcomes for o in t.to_pylist()}
        ids, held = [], []
        for sample_id, urls in sorted(zip(rows.column(S.SAMPLE_ID).to_pylist(), rows.column(URLS).to_pylist())):
            if urls:
                ids.append(sample_id)
                held.append([by_url[u] for u in urls])
        return decision_table(ids, [None] * len(ids), None, **{OUTCOMES: pa.array(held, pa.list_(OUTCOME))})

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        return [FillDocumentImages(step=self.name, decision=decision, store=self._store(),
                                   max_data_uri_bytes=self.max_data_uri_bytes)]


def _unique_urls(rows: pa.Table) -> pa.Table:
    """Every distinct URL of the collected rows, sorted (the same chunks however rows arrived)."""
    urls = sorted({u for doc in rows.column(URLS).to_pylist() if doc for u in doc}) if rows.num_rows else []
    return pa.table({"url": pa.array(urls, pa.string())})
