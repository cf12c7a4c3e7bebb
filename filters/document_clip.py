"""``doc_clip``: CLIP similarity of each image of a document to its text, scored then decided per node.

Scoring (the expensive, batched part) embeds every live image with bytes and every live paragraph of
the batch's documents once, then gives each image a similarity to the document's text in one of two ways:

* ``neighbours`` (default): the best cosine over the ``window`` nearest live paragraphs before and
  after the image in reading order — the text a reader sees next to it (OBELICS keeps images whose
  neighbouring text matches; a caption-like paragraph sits right above or below).
* ``assignment``: MMC4's method — each image is assigned to a distinct paragraph by
  :func:`mmcurate.pipeline.documents.image_sets.assign_images` (``scipy.optimize.linear_sum_assignment``
  on the image x paragraph similarity matrix, maximising the total); an image's score is its similarity
  to its assigned paragraph, and an image left over (more images than paragraphs) has none.

Deciding is pure and per node: an image below ``min_similarity`` (or unassigned) stays in ``doc_nodes``
with ``removed = doc_clip_v1:low_similarity`` (``unassigned``); per-node scores and assigned paragraph
positions are written aligned with ``doc_nodes`` so every removal keeps the number that decided it. A
document that loses all its images becomes text-only, or with ``on_no_images: drop`` is rejected.
Model config is :class:`ClipModelFields` (the bundled tiny CLIP by default, as for ``clip_score``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.filters.clip_model import ClipEmbedder, ClipModelFields
from mmcurate.filters.media import decode_image
from mmcurate.pipeline.documents.image_sets import assign_images
from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOC_NODES_FIELD, KIND_IMAGE, KIND_TEXT, document_rows
from mmcurate.schemas.table import put_column

__all__ = ["DocumentClipFilter", "neighbour_scores", "assigned_scores", "SCORES", "ASSIGNED"]

NAME = "doc_clip_v1"
SCORES = pa.field(f"{NAME}_scores", pa.list_(pa.float32()), metadata={
    "doc": "per node, aligned with doc_nodes: an image's CLIP similarity to its text (null: text or unscored)"})
ASSIGNED = pa.field(f"{NAME}_assigned", pa.list_(pa.int32()), metadata={
    "doc": "per node: the doc_nodes position of the paragraph an image was matched to (null: none)"})
REMOVED = pa.field(f"{NAME}_removed", pa.int32(), metadata={"doc": "image nodes removed by this stage"})


def neighbour_scores(sim: np.ndarray, images: list[int], texts: list[int], window: int
                     ) -> list[tuple[float | None, int | None]]:
    """Per image (node positions ``images``): best cosine over the ``window`` nearest paragraphs on each side."""
    out: list[tuple[float | None, int | None]] = []
    for i, pos in enumerate(images):
        before = [j for j, t in enumerate(texts) if t < pos][-window:]
        after = [j for j, t in enumerate(texts) if t > pos][:window]
        near = before + after
        if not near:
            out.append((None, None))
            continue
        best = max(near, key=lambda j: sim[i, j])
        out.append((float(sim[i, best]), texts[best]))
    return out


def assigned_scores(sim: np.ndarray, texts: list[int]) -> list[tuple[float | None, int | None]]:
    """Per image: its similarity to the paragraph MMC4's one-to-one assignment gives it (None: left over)."""
    out: list[tuple[float | None, int | None]] = [(None, None)] * sim.shape[0]
    for i, j in assign_images(sim):
        out[i] = (float(sim[i, j]), texts[j])
    return out


@dataclass(kw_only=True)
class DocumentClipFilter(ClipModelFields, Stage):
    """Score each document image against its neighbouring text (or MMC4 assignment); remove low matches."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES, S.MEDIA)
    writes: ClassVar[tuple[pa.Field, ...]] = (DOC_NODES_FIELD, SCORES, ASSIGNED, REMOVED)
    stateful: ClassVar[bool] = True

    min_similarity: float | None = param(None, doc="images below this cosine are removed (None: score only)")
    method: str = param("neighbours", doc="neighbours: nearest paragraphs; assignment: MMC4 linear assignment",
                        choices=("neighbours", "assignment"))
    window: int = param(1, doc="paragraphs on each side an image is compared with (method: neighbours)", ge=1)
    on_no_images: str = param("text_only", doc="a document that loses all its images",
                              choices=("text_only", "drop"))
    _embedder: ClipEmbedder | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_cosine("min_similarity", self.min_similarity)
        self.resources = Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)

    def setup(self) -> None:
        self._embedder = self.load_embedder(self.batch_size)

    def teardown(self) -> None:
        self._embedder = None

    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)

    def decide(self, score: float | None) -> str | None:
        """Pure: the reason code for one image node, None to keep it."""
        if self.min_similarity is None:
            return None
        if score is None:
            return "unassigned" if self.method == "assignment" else None
        return "low_similarity" if score < self.min_similarity else None

    def score_documents(self, docs: list[list[dict[str, Any]]], medias: list[list[dict[str, Any]]]
                        ) -> list[list[tuple[float | None, int | None]]]:
        """Per document, per node: (similarity, matched paragraph position); (None, None) where unscored."""
        self.ensure_setup()
        assert self._embedder is not None
        side = self._embedder.draft_side(self.draft_gap)
        plans, pictures, paragraphs = [], [], []
        for nodes, media in zip(docs, medias):
            images, texts = [], []
            for pos, node in enumerate(nodes):
                if node["removed"] is not None:
                    continue
                if node["kind"] == KIND_TEXT and node["text"]:
                    texts.append(pos)
                    paragraphs.append(node["text"])
                elif node["kind"] == KIND_IMAGE and node["media_index"] is not None:
                    picture = decode_image(media[node["media_index"]], side)
                    if picture is not None:
                        images.append(pos)
                        pictures.append(picture)
            plans.append((images, texts))
        img_emb = self._embedder.embed_images(pictures)
        txt_emb = self._embedder.embed_texts(paragraphs)
        out, i0, t0 = [], 0, 0
        for (images, texts), nodes in zip(plans, docs):
            sim = img_emb[i0:i0 + len(images)] @ txt_emb[t0:t0 + len(texts)].T
            i0, t0 = i0 + len(images), t0 + len(texts)
            per_image = (assigned_scores(sim, texts) if self.method == "assignment"
                         else neighbour_scores(sim, images, texts, self.window)) if texts else \
                [(None, None)] * len(images)
            row: list[tuple[float | None, int | None]] = [(None, None)] * len(nodes)
            for pos, scored in zip(images, per_image):
                row[pos] = scored
            out.append(row)
        return out

    def process_batch(self, batch: pa.Table) -> pa.Table:
        docs = [nodes or [] for nodes in batch.column(DOC_NODES).to_pylist()]
        medias = [media or [] for media in batch.column(S.MEDIA).to_pylist()]
        scored = self.score_documents(docs, medias)
        lost, removed = [], []
        for nodes, row in zip(docs, scored):
            had = any(n["kind"] == KIND_IMAGE and n["removed"] is None for n in nodes)
            cut = 0
            for node, (score, _) in zip(nodes, row):
                if node["kind"] != KIND_IMAGE or node["removed"] is not None or node["media_index"] is None:
                    continue
                code = self.decide(score)
                if code is not None:
                    node["removed"] = self.reason(code)
                    cut += 1
            removed.append(cut)
            lost.append(had and not any(x["kind"] == KIND_IMAGE and x["removed"] is None for x in nodes))
        batch = put_column(batch, DOC_NODES_FIELD, docs)
        batch = put_column(batch, SCORES, [[s for s, _ in row] for row in scored])
        batch = put_column(batch, ASSIGNED, [[a for _, a in row] for row in scored])
        batch = put_column(batch, REMOVED, removed)
        if self.on_no_images == "drop":
            batch = mark_rejected(batch, lost, self.name, self.reason("no_images_left"))
        return batch
