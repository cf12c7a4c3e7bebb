"""``doc_frequent_images``: OBELICS' frequent-image rule over the whole dataset, as a set-level pass.

Logos, icons and buttons recur across pages; OBELICS drops every image that occurs in more than 10
documents. Whether an image is frequent depends on every document of the input, so this is a
:class:`Pass`: each worker turns its documents into slim lists of image keys (URL; a ``data:`` URI by
its hash), the driver counts distinct documents per key (:func:`.image_sets.frequent_images`) and the
decision names, per affected document, the frequent keys it holds. Applied in the main pass, those image
nodes stay in ``doc_nodes`` with ``removed = doc_frequent_images_v1:frequent_image``
(:data:`.image_sets.REASON_FREQUENT`). Placed before
``doc_image_fetch``, a frequent image is never fetched at all (and the collection reads only the input).
A document left with no image stays text-only, or with ``on_no_images: drop`` is rejected
``doc_frequent_images_v1:no_images_left``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.documents.image_sets import frequent_images, image_key, remove_images
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import ApplyDecision, Pass, decision_table
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, document_rows, live_nodes
from mmcurate.schemas.table import put_column

__all__ = ["DocFrequentImages", "RemoveFrequentImages", "KEYS", "FREQUENT", "REMOVED"]

NAME = "doc_frequent_images_v1"
KEYS = f"{NAME}_keys"  # collected: a document's distinct live image keys
FREQUENT = f"{NAME}_frequent"  # decision: the frequent keys a document holds
REMOVED = pa.field(f"{NAME}_removed", pa.int32(), metadata={"doc": "image nodes removed as frequent images"})


def document_image_keys(nodes: list[dict[str, Any]] | None) -> list[str] | None:
    """A document's distinct live image keys, sorted; None for a row that is not a document."""
    if nodes is None:
        return None
    keys = {image_key(n["url"]) for n in live_nodes(nodes) if n["kind"] == KIND_IMAGE}
    return sorted(k for k in keys if k is not None)


@dataclass(kw_only=True)
class DocFrequentImages(Pass):
    """Remove images that occur in more than ``max_documents`` documents of the whole input (OBELICS)."""

    name: ClassVar[str] = NAME
    writes: ClassVar[tuple[pa.Field, ...]] = (REMOVED,)

    max_documents: int = param(10, doc="an image in more distinct documents than this is removed (OBELICS: 10)",
                               ge=1)
    on_no_images: str = param("text_only", doc="a document that loses all its images",
                              choices=("text_only", "drop"))

    def columns(self) -> list[str]:
        return [KEYS]

    def derive(self, table: pa.Table) -> pa.Table:
        docs = table.column(DOC_NODES).to_pylist() if DOC_NODES in table.column_names else [None] * table.num_rows
        return put_column(table, pa.field(KEYS, pa.list_(pa.string())), [document_image_keys(d) for d in docs])

    def empty_rows(self) -> pa.Table:
        return pa.table({S.SAMPLE_ID: pa.array([], pa.string()), KEYS: pa.array([], pa.list_(pa.string()))})

    def decide(self, rows: pa.Table) -> pa.Table:
        keys = rows.column(KEYS).combine_chunks() if rows.num_rows else pa.array([], pa.list_(pa.string()))
        parents = pc.list_parent_indices(keys)
        pairs = pa.table({"doc_id": pc.take(rows.column(S.SAMPLE_ID), parents), "image_key": pc.list_flatten(keys)})
        frequent = frequent_images(pairs, self.max_documents)
        ids, codes, details, held, removed = [], [], [], [], []
        for sample_id, doc_keys in zip(rows.column(S.SAMPLE_ID).to_pylist(), keys.to_pylist()):
            hot = [k for k in doc_keys or [] if k in frequent]
            if not hot:
                continue
            lost_all = len(hot) == len(doc_keys)
            ids.append(sample_id)
            held.append(hot)
            removed.append(len(hot))
            codes.append("no_images_left" if lost_all and self.on_no_images == "drop" else None)
            details.append(f"{len(hot)} of {len(doc_keys)} images in > {self.max_documents} documents"
                           if codes[-1] else None)
        order = sorted(range(len(ids)), key=ids.__getitem__)  # the same bytes however rows arrived
        pick = lambda values: [values[i] for i in order]  # noqa: E731
        return decision_table(pick(ids), pick(codes), pick(details),
                              **{FREQUENT: pa.array(pick(held), pa.list_(pa.string())),
                                 REMOVED.name: pa.array(pick(removed), pa.int32())})

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        return [RemoveFrequentImages(step=self.name, decision=decision, declared=self.writes)]


@dataclass(kw_only=True)
class RemoveFrequentImages(ApplyDecision):
    """The decision applied: frequent image nodes marked removed, the count written, rejects recorded."""

    name: ClassVar[str] = "apply_decision"

    def process_batch(self, batch: pa.Table) -> pa.Table:
        batch = super().process_batch(batch)
        if DOC_NODES not in batch.column_names:
            return batch
        index = pc.index_in(batch.column(S.SAMPLE_ID), value_set=self.decision.column(S.SAMPLE_ID).combine_chunks())
        hot = pc.take(self.decision.column(FREQUENT), index).to_pylist()
        docs = batch.column(DOC_NODES).to_pylist()
        for nodes, keys in zip(docs, hot):
            if nodes is not None and keys:
                remove_images(nodes, set(keys))
        counts = pc.if_else(document_rows(batch), pc.fill_null(batch.column(REMOVED.name), 0),
                            batch.column(REMOVED.name))
        return put_column(put_column(batch, DOC_NODES_FIELD, docs), REMOVED, counts)

