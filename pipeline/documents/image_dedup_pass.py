"""``doc_image_dedup``: the same image in several documents, exact or perceptual, kept once.

The pair dedup removes whole rows; a document is more than one image, so here the unit is the image
node. Each worker lists, per document, its live decoded images: node index, sha256 of the bytes and the
64-bit pHash (:func:`~mmcurate.pipeline.dedup.phash.phash64`, the pair dedup's hash). The driver joins
images with equal bytes (star edges) or pHashes within ``max_distance`` bits (banded candidates,
verified: never all pairs), takes connected components as the pair dedup does
(:mod:`mmcurate.pipeline.dedup.clusters`), and keeps the first image of each component in input order
(document, then node). Every other copy's node is marked removed
``doc_image_dedup_v1:duplicate_image`` in ``doc_nodes``, and its document lists it in
``doc_image_dedup_v1_duplicates`` with the kept copy's document and node and their Hamming distance.
Repeats inside one document count too (the later node goes). A document left with no image stays
text-only, or with ``on_no_images: drop`` is rejected ``doc_image_dedup_v1:no_images_left``.

Place it after ``doc_image_decode`` (the bytes must be there and valid); ``doc_frequent_images`` has
already removed logos by URL, so what is left is the same picture under different URLs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from mmcurate.pipeline.dedup._media import bytes_sha256
from mmcurate.pipeline.dedup.clusters import connected_components, star_edges
from mmcurate.pipeline.dedup.phash import PHASH_MAX_DISTANCE, hamming, near_duplicate_pairs, phash64
from mmcurate.pipeline.dedup.policy import input_order
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import ApplyDecision, Pass, decision_table
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, document_rows
from mmcurate.schemas.table import put_column

__all__ = ["DocImageDedup", "REASON_DUPLICATE", "image_signatures", "duplicate_images"]

NAME = "doc_image_dedup_v1"
REASON_DUPLICATE = f"{NAME}:duplicate_image"
ORDER = f"{NAME}_order"
IMAGES = f"{NAME}_images"  # collected: each live decoded image of a document
IMAGE_SIG = pa.struct([pa.field("node", pa.int32()), pa.field("sha256", pa.string()), pa.field("phash", pa.uint64())])
DUPLICATE = pa.struct([
    pa.field("node", pa.int32(), metadata={"doc": "the removed image node"}),
    pa.field("duplicate_of", pa.string(), metadata={"doc": "sample_id of the document whose copy is kept"}),
    pa.field("duplicate_of_node", pa.int32(), metadata={"doc": "the kept copy's node in that document"}),
    pa.field("distance", pa.int32(), metadata={"doc": "pHash Hamming distance to the kept copy (0: same bytes "
                                                      "or same hash)"}),
])
DUPLICATES = pa.field(f"{NAME}_duplicates", pa.list_(DUPLICATE),
                      metadata={"doc": "image nodes removed as copies of an image kept elsewhere"})


def image_signatures(nodes: list[dict[str, Any]] | None, media: list[dict[str, Any]] | None
                     ) -> list[dict[str, Any]] | None:
    """Node, sha256 and pHash of each live image node with decodable bytes; None for a non-document."""
    if nodes is None:
        return None
    out = []
    for index, node in enumerate(nodes):
        at = node.get("media_index")
        if node["kind"] != KIND_IMAGE or node.get("removed") is not None or at is None or not media:
            continue
        item = media[at]
        try:
            with Image.open(io.BytesIO(item.get("bytes") or b"")) as image:
                phash = phash64(image)
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            continue  # doc_image_decode validated the bytes; an image PIL cannot hash is not compared
        out.append({"node": index, "sha256": bytes_sha256(item), "phash": phash})
    return out


def duplicate_images(images: pa.Table, max_distance: int) -> pa.Table:
    """``images`` (``doc_id, order, node, sha256, phash``) less the first of each duplicate cluster:
    the copies to remove, each with the kept copy's ``keep_doc``, ``keep_node`` and ``distance``."""
    images = images.sort_by([("order", "ascending"), ("node", "ascending")])
    n = images.num_rows
    hashes = images.column("phash").to_numpy().astype(np.uint64)
    _, sha_ids = np.unique(np.asarray(images.column("sha256").to_pylist(), dtype=object).astype(str),
                           return_inverse=True)
    edges = [star_edges(sha_ids.astype(np.int64)), near_duplicate_pairs(hashes, max_distance)]
    labels = connected_components(n, np.concatenate([e.reshape(-1, 2) for e in edges]))
    copies = np.flatnonzero(labels != np.arange(n))  # the label is the component's first (kept) member
    keeper = labels[copies]
    return pa.table({
        "doc_id": images.column("doc_id").take(pa.array(copies)),
        "node": images.column("node").take(pa.array(copies)),
        "keep_doc": images.column("doc_id").take(pa.array(keeper)),
        "keep_node": images.column("node").take(pa.array(keeper)),
        "distance": pa.array(hamming(hashes[copies], hashes[keeper]).astype(np.int32), pa.int32()),
    })


@dataclass(kw_only=True)
class DocImageDedup(Pass):
    """Keep each image once across the whole input: exact copies and near copies (pHash) in other
    documents (or later in the same one) are removed as nodes."""

    name: ClassVar[str] = NAME
    writes: ClassVar[tuple[pa.Field, ...]] = (DUPLICATES,)

    max_distance: int = param(PHASH_MAX_DISTANCE, doc="pHash bits two images may differ by and still be copies; "
                                                      "0: exact bytes or identical hash only", ge=0, le=32)
    on_no_images: str = param("text_only", doc="a document that loses all its images",
                              choices=("text_only", "drop"))

    def columns(self) -> list[str]:
        return [IMAGES, ORDER]

    def derive(self, table: pa.Table) -> pa.Table:
        docs = table.column(DOC_NODES).to_pylist() if DOC_NODES in table.column_names else [None] * table.num_rows
        media = table.column(S.MEDIA).to_pylist()
        table = put_column(table, pa.field(IMAGES, pa.list_(IMAGE_SIG)),
                           [image_signatures(d, m) for d, m in zip(docs, media)])
        return put_column(table, pa.field(ORDER, pa.int64()), input_order(table))

    def empty_rows(self) -> pa.Table:
        return pa.table({S.SAMPLE_ID: pa.array([], pa.string()), IMAGES: pa.array([], pa.list_(IMAGE_SIG)),
                         ORDER: pa.array([], pa.int64())})

    def _flat(self, rows: pa.Table) -> pa.Table:
        sigs = rows.column(IMAGES).combine_chunks()
        parents = pc.list_parent_indices(sigs)
        flat = pc.list_flatten(sigs)
        return pa.table({"doc_id": pc.take(rows.column(S.SAMPLE_ID), parents),
                         "order": pc.take(rows.column(ORDER), parents),
                         "node": pc.struct_field(flat, "node"), "sha256": pc.struct_field(flat, "sha256"),
                         "phash": pc.struct_field(flat, "phash")})

    def decide(self, rows: pa.Table) -> pa.Table:
        copies = duplicate_images(self._flat(rows), self.max_distance).to_pylist() if rows.num_rows else []
        images_per_doc = {d: len(s or []) for d, s in zip(rows.column(S.SAMPLE_ID).to_pylist(),
                                                         rows.column(IMAGES).to_pylist())}
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for c in copies:
            by_doc.setdefault(c["doc_id"], []).append({"node": c["node"], "duplicate_of": c["keep_doc"],
                                                       "duplicate_of_node": c["keep_node"], "distance": c["distance"]})
        ids = sorted(by_doc)  # the same bytes however rows arrived
        lists = [sorted(by_doc[i], key=lambda d: d["node"]) for i in ids]
        codes = ["no_images_left" if self.on_no_images == "drop" and len(dups) == images_per_doc[i] else None
                 for i, dups in zip(ids, lists)]
        details = [f"{len(dups)} of {images_per_doc[i]} images are copies of images kept elsewhere" if code else None
                   for i, dups, code in zip(ids, lists, codes)]
        return decision_table(ids, codes, details, **{DUPLICATES.name: pa.array(lists, DUPLICATES.type)})

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        return [RemoveDuplicateImages(step=self.name, decision=decision, declared=self.writes)]


@dataclass(kw_only=True)
class RemoveDuplicateImages(ApplyDecision):
    """The decision applied: each listed node marked removed, the list written, rejects recorded."""

    name: ClassVar[str] = "apply_decision"

    def process_batch(self, batch: pa.Table) -> pa.Table:
        batch = super().process_batch(batch)
        if DOC_NODES not in batch.column_names:
            return batch
        docs = batch.column(DOC_NODES).to_pylist()
        for nodes, dups in zip(docs, batch.column(DUPLICATES.name).to_pylist()):
            for dup in dups or []:
                if nodes is not None and nodes[dup["node"]]["removed"] is None:
                    nodes[dup["node"]]["removed"] = REASON_DUPLICATE
        empty = pa.array([[]] * batch.num_rows, DUPLICATES.type)
        listed = pc.if_else(pc.and_(document_rows(batch), pc.is_null(batch.column(DUPLICATES.name))), empty,
                            batch.column(DUPLICATES.name))
        return put_column(put_column(batch, DOC_NODES_FIELD, docs), DUPLICATES, listed)
