"""Image fetch for documents: each unique image URL of a batch fetched once, bytes placed in DOM order.

URLs go through the existing downloader (:func:`mmcurate.pipeline.net.fetch.fetch_many`: SSRF guard,
deadlines, per-host limits, MIME sniffing), deduplicated across all documents of the batch, so a logo
or a shared photo costs one request per unit, not one per page. Images already in ``media`` (taken from
the crawl's own WARC records by the reader) are not fetched again. ``data:`` URIs are decoded locally,
capped. A failed image removes its node with ``doc_images_v1:<download reason>``; the document stays.
Afterwards ``media`` holds the live images' bytes in node order and each image node points into it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote_to_bytes

import pyarrow as pa

from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_many
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import media_item
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, document_rows
from mmcurate.schemas.table import put_column

__all__ = ["DocumentImageFetch", "decode_data_uri"]


def decode_data_uri(uri: str, max_bytes: int) -> bytes:
    """Bytes of a ``data:[mime][;base64],payload`` URI; ValueError if malformed or over ``max_bytes``."""
    head, sep, payload = uri.partition(",")
    if not sep or not head.lower().startswith("data:"):
        raise ValueError("malformed data: URI")
    try:
        data = base64.b64decode(payload, validate=False) if head.lower().endswith(";base64") else \
            unquote_to_bytes(payload)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from exc
    if len(data) > max_bytes:
        raise ValueError(f"{len(data)} bytes > {max_bytes}")
    return data


@dataclass(kw_only=True)
class DocumentImageFetch(Stage):
    name: ClassVar[str] = "doc_images_v1"
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES, S.MEDIA)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        DOC_NODES_FIELD,
        pa.field(S.MEDIA, pa.list_(S.MEDIA_TYPE), metadata={"doc": "live images' bytes in node order"}),
        pa.field("doc_images_v1_failed", pa.int32(), metadata={"doc": "image nodes removed: fetch failed"}),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)
    repeatable: ClassVar[bool] = False  # each URL is fetched once per job

    policy: FetchPolicy = field(default_factory=FetchPolicy)
    max_data_uri_bytes: int = param(256 * 1024, doc="decoded data: URI cap", ge=1)


    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)
    def process_batch(self, batch: pa.Table) -> pa.Table:
        docs = batch.column(DOC_NODES).to_pylist()
        medias = batch.column(S.MEDIA).to_pylist()
        wanted = sorted({n["url"] for nodes in docs for n in nodes or [] if n["kind"] == KIND_IMAGE
                         and n["removed"] is None and n["media_index"] is None and n["url"]
                         and not n["url"].startswith("data:")})
        results = dict(zip(wanted, fetch_many(wanted, self.policy))) if wanted else {}
        out_nodes, out_media, failed = [], [], []
        for nodes, media in zip(docs, medias):
            nodes, new_media, bad = nodes or [], [], 0
            for node in nodes:
                if node["kind"] != KIND_IMAGE or node["removed"] is not None:
                    continue
                item, reason = self._bytes_for(node, media or [], results)
                if item is None:
                    node["removed"], node["media_index"] = self.reason(reason), None
                    bad += 1
                else:
                    node["media_index"] = len(new_media)
                    new_media.append(item)
            out_nodes.append(nodes)
            out_media.append(new_media)
            failed.append(bad)
        fields = {f.name: f for f in self.writes}
        batch = put_column(batch, DOC_NODES_FIELD, out_nodes)
        batch = put_column(batch, fields[S.MEDIA], out_media)
        return put_column(batch, fields["doc_images_v1_failed"], failed)

    def _bytes_for(self, node: dict[str, Any], media: list[dict[str, Any]], results: dict[str, Any]
                   ) -> tuple[dict[str, Any] | None, str]:
        if node["media_index"] is not None:
            return media[node["media_index"]], ""
        url = node["url"] or ""
        if url.startswith("data:"):
            try:
                return media_item(decode_data_uri(url, self.max_data_uri_bytes)), ""
            except ValueError:
                return None, "bad_data_uri"
        res = results.get(url)
        if res is None or not res.ok:
            return None, (res.reason if res is not None else "bad_url") or "fetch_failed"
        return media_item(res.body, res.kind, res.sniffed_mime, res.sha256), ""
