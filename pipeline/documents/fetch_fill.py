"""The ``doc_image_fetch`` decision applied: each document's image nodes filled from the fetched bodies.

For every live image node, in reading order: bytes the reader already holds (taken from the crawl's
WARC records) are kept; a ``data:`` URI is decoded here, capped; any other URL takes the body the pass
stored under its URL hash, or, when its fetch failed, the node is removed with ``doc_images_v1:<download
reason>`` (the document stays). Afterwards ``media`` holds the live images' bytes in node order and each
image node points into it; ``doc_images_v1_failed`` counts the nodes removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline import fs
from mmcurate.pipeline.documents.image_store import OUTCOMES, body_path, decode_data_uri
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import ApplyDecision
from mmcurate.pipeline.readers.base import media_item
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, document_rows
from mmcurate.schemas.table import put_column

__all__ = ["FillDocumentImages", "FAILED"]

FAILED = pa.field("doc_images_v1_failed", pa.int32(), metadata={"doc": "image nodes removed: fetch failed"})
MEDIA = pa.field(S.MEDIA, pa.list_(S.MEDIA_TYPE), metadata={"doc": "live images' bytes in node order"})


@dataclass(kw_only=True)
class FillDocumentImages(ApplyDecision):
    name: ClassVar[str] = "doc_images_v1"
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES, S.MEDIA)

    store: str
    max_data_uri_bytes: int = param(256 * 1024, doc="decoded data: URI cap", ge=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.writes = (DOC_NODES_FIELD, MEDIA, FAILED)

    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        index = pc.index_in(batch.column(S.SAMPLE_ID), value_set=self.decision.column(S.SAMPLE_ID).combine_chunks())
        outcomes = pc.take(self.decision.column(OUTCOMES), index).to_pylist()
        bodies: dict[str, bytes] = {}  # one read per URL per batch
        out_nodes, out_media, failed = [], [], []
        for nodes, media, known in zip(batch.column(DOC_NODES).to_pylist(), batch.column(S.MEDIA).to_pylist(),
                                       outcomes):
            by_url = {o["url"]: o for o in known or []}
            nodes, new_media, bad = nodes or [], [], 0
            for node in nodes:
                if node["kind"] != KIND_IMAGE or node["removed"] is not None:
                    continue
                item, reason = self._item(node, media or [], by_url, bodies)
                if item is None:
                    node["removed"], node["media_index"] = f"{self.step}:{reason}", None
                    bad += 1
                else:
                    node["media_index"] = len(new_media)
                    new_media.append(item)
            out_nodes.append(nodes)
            out_media.append(new_media)
            failed.append(bad)
        batch = put_column(batch, DOC_NODES_FIELD, out_nodes)
        return put_column(put_column(batch, MEDIA, out_media), FAILED, failed)

    def _item(self, node: dict[str, Any], media: list[dict[str, Any]], by_url: dict[str, dict[str, Any]],
              bodies: dict[str, bytes]) -> tuple[dict[str, Any] | None, str]:
        if node["media_index"] is not None:
            return media[node["media_index"]], ""
        url = node["url"] or ""
        if url.startswith("data:"):
            try:
                return media_item(decode_data_uri(url, self.max_data_uri_bytes)), ""
            except ValueError:
                return None, "bad_data_uri"
        outcome = by_url.get(url)
        if outcome is None:
            return None, "bad_url"
        if outcome["reason"] is not None:
            return None, outcome["reason"]
        if url not in bodies:
            bodies[url] = fs.read_bytes(body_path(self.store, url))
        return media_item(bodies[url], outcome["kind"], outcome["mime"], outcome["sha256"]), ""
