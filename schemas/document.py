"""The document schema: an interleaved web page as an ordered list of text and image nodes.

OBELICS stores a document as two aligned lists, ``texts`` and ``images``, where position ``i`` holds
either a paragraph (and ``None`` in ``images``) or an image (and ``None`` in ``texts``). mmcurate keeps
the same reading order in one typed column, :data:`DOC_NODES`, on the ordinary sample row, so every
stage, sink and reject path that knows samples knows documents too. The row's ``media`` list holds the
image bytes that are available, in DOM order; an image node points into it with ``media_index`` (null
until the bytes are fetched). A node removed by a node-level filter stays in the list with its
``removed`` reason, so every removal is recorded; writers skip removed nodes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas.sample import sample_schema

__all__ = ["document_rows", "DOCUMENT_SCHEMA_VERSION", "NODE_TYPE", "DOC_NODES", "DOC_NODES_FIELD", "DOCUMENT_SCHEMA",
           "KIND_TEXT", "KIND_IMAGE", "text_node", "image_node", "live_nodes", "document_text", "to_obelics"]

DOCUMENT_SCHEMA_VERSION = "document/v1"
DOC_NODES = "doc_nodes"
KIND_TEXT = "text"
KIND_IMAGE = "image"

NODE_TYPE = pa.struct([
    pa.field("kind", pa.string(), metadata={"doc": "'text' (a paragraph) or 'image'"}),
    pa.field("text", pa.string(), metadata={"doc": "paragraph text; null for images"}),
    pa.field("url", pa.string(), metadata={"doc": "absolute image URL (or 'data:' for inline images); null for text"}),
    pa.field("alt", pa.string(), metadata={"doc": "the image's alt text as written in the page"}),
    pa.field("media_index", pa.int32(), metadata={"doc": "position of the image bytes in `media`; null until fetched"}),
    pa.field("removed", pa.string(), metadata={"doc": "'<stage>:<reason>' when a node filter removed it, else null"}),
])

DOC_NODES_FIELD = pa.field(DOC_NODES, pa.list_(NODE_TYPE),
                           metadata={"doc": "the document's nodes in reading (DOM) order"})

DOCUMENT_SCHEMA = sample_schema((DOC_NODES_FIELD,))


def text_node(text: str) -> dict[str, Any]:
    return {"kind": KIND_TEXT, "text": text, "url": None, "alt": None, "media_index": None, "removed": None}


def image_node(url: str | None, alt: str | None = None, media_index: int | None = None) -> dict[str, Any]:
    return {"kind": KIND_IMAGE, "text": None, "url": url, "alt": alt, "media_index": media_index, "removed": None}


def live_nodes(nodes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Nodes not removed by a filter, in order."""
    return [n for n in nodes or [] if n.get("removed") is None]


def document_text(nodes: list[dict[str, Any]] | None) -> str | None:
    """The live paragraphs in reading order, one per line (what text dedup compares); None without text."""
    text = "\n".join(n["text"] for n in live_nodes(nodes) if n["kind"] == KIND_TEXT and n["text"])
    return text or None


def to_obelics(nodes: list[dict[str, Any]], media: list[dict[str, Any]] | None
               ) -> tuple[list[str | None], list[bytes | str | None]]:
    """OBELICS' aligned ``texts`` / ``images`` lists: image bytes when fetched, else the URL."""
    texts: list[str | None] = []
    images: list[bytes | str | None] = []
    for node in live_nodes(nodes):
        if node["kind"] == KIND_TEXT:
            texts.append(node["text"])
            images.append(None)
        else:
            index = node.get("media_index")
            texts.append(None)
            images.append(media[index]["bytes"] if media and index is not None else node.get("url"))
    return texts, images


def document_rows(batch: pa.Table) -> pa.Array:
    """Rows that hold a document (``doc_nodes``): the document steps pass every other row through untouched."""
    if DOC_NODES not in batch.column_names:
        return pa.array([False] * batch.num_rows, pa.bool_())
    return pc.is_valid(batch.column(DOC_NODES))
