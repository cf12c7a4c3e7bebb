"""Document rows: a page's nodes (and any image bytes at hand) as one sample row of DOCUMENT_SCHEMA.

The sample id hashes source, locator and the node list (JSON) plus image bytes, so a rerun gives the
same id and an edited page a new one. ``page_row`` is shared by the WARC and HTML-folder readers.
"""

from __future__ import annotations

import json
from typing import Any

from mmcurate.pipeline.documents.extract import ExtractLimits, extract_nodes
from mmcurate.pipeline.documents.html_text import PageError, decode_html
from mmcurate.pipeline.identity import make_sample_id
from mmcurate.pipeline.readers.base import WorkUnit, media_item, rejected_row
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, KIND_IMAGE

__all__ = ["document_row", "page_row"]


def document_row(unit: WorkUnit, index: int, *, source: str, locator: str, url: str | None,
                 nodes: list[dict[str, Any]], images: dict[str, bytes] | None = None,
                 meta: dict[str, Any] | None = None, flags: list[str] | None = None) -> dict[str, Any]:
    """An ok document row; image nodes whose URL is in ``images`` get their bytes attached in order."""
    media: list[bytes] = []
    for node in nodes:
        data = (images or {}).get(node["url"]) if node["kind"] == KIND_IMAGE else None
        if data is not None:
            node["media_index"] = len(media)
            media.append(data)
    content = json.dumps(nodes, sort_keys=True).encode() + b"".join(media)
    return {
        S.SAMPLE_ID: make_sample_id(source, locator, content, None),
        S.SOURCE: source, S.LOCATOR: locator, S.URL: url, S.CAPTION: None,
        S.MEDIA: [media_item(m, "image") for m in media],
        S.META_JSON: json.dumps(meta, sort_keys=True, ensure_ascii=False) if meta else None,
        S.FLAGS: flags or [], S.UNIT_ID: unit.unit_id, S.UNIT_INDEX: index, S.UNIT_ROWS: 0,
        S.STATUS: S.STATUS_OK, S.STAGE: None, S.DROP_REASON: None, S.ERROR: None, DOC_NODES: nodes,
    }


def page_row(unit: WorkUnit, index: int, *, stage: str, source: str, locator: str, url: str | None,
             data: bytes, content_type: str | None, limits: ExtractLimits) -> dict[str, Any]:
    """Extract one HTML page into a document row, or a rejected row ``<stage>:<code>`` with the numbers."""
    try:
        if len(data) > limits.max_chars:
            raise PageError("page_too_large", f"{len(data)} bytes > {limits.max_chars}")
        html, flags = decode_html(data, content_type)
        extracted = extract_nodes(html, url, limits)
    except PageError as exc:
        return rejected_row(unit, index, 0, source=source, locator=locator, stage=stage,
                            reason=f"{stage}:{exc.code}", error=exc.detail, url=url)
    if not extracted.nodes:
        return rejected_row(unit, index, 0, source=source, locator=locator, stage=stage,
                            reason=f"{stage}:no_content", error="no main-content text or image", url=url)
    meta = {"title": extracted.title, "refused_images": extracted.refused} if extracted.refused else {
        "title": extracted.title}
    return document_row(unit, index, source=source, locator=locator, url=url, nodes=extracted.nodes,
                        meta=meta, flags=flags + extracted.flags)
