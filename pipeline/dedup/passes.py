"""Dedup as set-level passes: one step per method, and ``dedup`` running several in one decision.

Each pass computes its signatures (pixel sha256, pHash, video frame pHashes, caption MinHash, CLIP
embeddings) for the rows still ok at its place in the job, and removes duplicates across the whole
input: a duplicate pair split over two files or two workers is still found. Methods inside one pass run
in order, each on the rows the previous kept (exact before perceptual: a cheap, certain match first).
Removed rows are rejected ``dedup_v1:<method>`` with ``duplicate_of`` naming the row kept instead;
with ``merge_captions`` the kept row lists the captions of its image duplicates in ``captions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.dedup import global_dedup as G
from mmcurate.pipeline.dedup import ray_dedup as R
from mmcurate.pipeline.dedup.exact import PIXEL_SHA256, ExactHash
from mmcurate.pipeline.dedup.merge_captions import MergeCaptions, caption_groups, ray_caption_groups
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE, MinHashSignature
from mmcurate.pipeline.dedup.phash import PHASH, PHASH_MAX_DISTANCE, PerceptualHash
from mmcurate.pipeline.dedup.policy import DUPLICATE_OF, ORDER, PRIORITY, KeepPolicy, input_order, keep_mask
from mmcurate.pipeline.dedup.semdedup import SemDeDupConfig
from mmcurate.pipeline.dedup.video_phash import VIDEO_PHASH, VIDEO_PHASH_MAX_DISTANCE, VideoPerceptualHash
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import ApplyDecision, Pass, decision_table
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S

__all__ = ["Method", "DedupPass", "Dedup", "ExactDedup", "PhashDedup", "VideoPhashDedup", "MinHashDedup",
           "SemanticDedup"]

EMBEDDING = "dedup_embedding"
CLIP_EMBEDDINGS = "clip_score_v1_embedding"
CLIP_MEAN = "clip_score_v1_mean"
DUPLICATE_OF_FIELD = pa.field(DUPLICATE_OF, pa.string(),
                              metadata={"doc": "sample_id of the kept row this one duplicates"})


@dataclass(frozen=True)
class Method:
    """One dedup method: its signature stage, the columns it reads, and its set-level functions."""

    signature: Stage | None
    columns: tuple[str, ...]
    local: Callable[..., pa.Table]
    ray: Callable[..., pa.Table]
    kwargs: dict[str, Any]


@dataclass(kw_only=True)
class DedupPass(Pass):
    """Shared by every dedup step: the keep rule, caption merging and the CLIP model it may need."""

    name: ClassVar[str] = "dedup_v1"
    writes: ClassVar[tuple[pa.Field, ...]] = (DUPLICATE_OF_FIELD,)

    keep: Literal["first", "best", "area", "clip_score"] = param(
        "first", doc="survivor of a cluster: first = first in input order (unit, then row); best = largest "
                     "image area, then longest caption, then input order; area = largest image; clip_score = "
                     "best CLIP score (ties: input order)",
        choices=("first", "best", "area", "clip_score"))
    merge_captions: bool = param(False, doc="the kept row lists its image duplicates' captions in `captions`")
    num_partitions: int | None = param(4, doc="Ray groupby partitions for the candidate shuffle", ge=1)

    def methods(self) -> list[Method]:
        raise NotImplementedError

    def policy(self) -> KeepPolicy:
        return KeepPolicy(rule="score", score_column=CLIP_MEAN) if self.keep == "clip_score" else KeepPolicy(rule=self.keep)

    def signature_stages(self) -> list[Stage]:
        # CLIP scores and embeddings come from a clip_score step earlier in the job (one model, configured
        # once), never from a model of the pass's own.
        return [m.signature for m in self.methods() if m.signature is not None]

    def _priority_column(self) -> str:
        # Per keep rule: two dedup passes of one group may keep by different rules.
        return f"{PRIORITY}_{self.keep}"

    def columns(self) -> list[str]:
        cols = [c for m in self.methods() for c in m.columns] + [self._priority_column(), ORDER]
        return cols + ([S.CAPTION] if self.merge_captions else [])

    def _require(self, table: pa.Table, column: str, why: str) -> None:
        if column not in table.column_names:
            raise KeyError(f"{self.name} {why} needs {column}: put a clip_score step before it"
                           + (" with write_embedding: true" if column == CLIP_EMBEDDINGS else ""))

    def derive(self, table: pa.Table) -> pa.Table:
        if self.keep == "clip_score":
            self._require(table, CLIP_MEAN, "keep: clip_score")
        table = _put(table, self._priority_column(), self.policy().priority(table))
        table = _put(table, ORDER, input_order(table))  # ties go to the row first in the input
        if any(EMBEDDING in m.columns for m in self.methods()):
            self._require(table, CLIP_EMBEDDINGS, "semantic dedup")
            table = _put(table, EMBEDDING, _first_embedding(table.column(CLIP_EMBEDDINGS)))
        return table

    def _with_priority(self, table: pa.Table) -> pa.Table:
        return _put(table, PRIORITY, table.column(self._priority_column()))

    def decide(self, rows: pa.Table) -> pa.Table:
        rows = self._with_priority(rows)
        full, found = rows, []
        for method in self.methods():
            removed = method.local(rows, **method.kwargs)
            found.append(removed)
            rows = rows.filter(keep_mask(rows.column(S.SAMPLE_ID), removed))
        removals = _combine(found)
        return self._decision(removals, caption_groups(full, removals) if self.merge_captions else None)

    def decide_ray(self, rows: Any) -> pa.Table:
        rows = rows.map_batches(self._with_priority, batch_format="pyarrow", batch_size=None).materialize()
        full, found = rows, []
        for method in self.methods():
            ds = rows.map_batches(_with_embedding, batch_format="pyarrow", batch_size=None) \
                if EMBEDDING in method.columns else rows
            removed = method.ray(ds, num_partitions=self.num_partitions, **method.kwargs)
            found.append(removed)
            if removed.num_rows:
                rows = rows.map_batches(_drop_removed, fn_kwargs={"removed": removed}, batch_format="pyarrow",
                                        batch_size=None).materialize()
        removals = _combine(found)
        return self._decision(removals, ray_caption_groups(full, removals) if self.merge_captions else None)

    def _decision(self, removals: pa.Table, groups: pa.Table | None) -> pa.Table:
        ids = removals.column(S.SAMPLE_ID).to_pylist()
        dups = removals.column(DUPLICATE_OF).to_pylist()
        codes = removals.column("dedup_method").to_pylist()
        captions: list[list[str] | None] = [None] * len(ids)
        if groups is not None and groups.num_rows:
            ids += groups.column(S.SAMPLE_ID).to_pylist()
            dups += [None] * groups.num_rows
            codes += [None] * groups.num_rows
            captions += groups.column("captions").to_pylist()
        details = [f"duplicate of {d}" if d else None for d in dups]
        return decision_table(ids, codes, details, **{DUPLICATE_OF: pa.array(dups, pa.string()),
                                                      "captions": pa.array(captions, pa.list_(pa.string()))})

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        stages: list[Stage] = [ApplyDecision(step=self.name, decision=decision, declared=self.writes)]
        if self.merge_captions:
            groups = decision.filter(pc.is_valid(decision.column("captions"))).select([S.SAMPLE_ID, "captions"])
            stages.append(MergeCaptions(groups=groups))
        return stages


def _exact() -> Method:
    return Method(ExactHash(), (PIXEL_SHA256,), G.exact_duplicates, R.ray_exact_duplicates,
                  {"column": PIXEL_SHA256, "method": "exact_pixels"})


def _phash(max_distance: int) -> Method:
    return Method(PerceptualHash(), (PHASH,), G.phash_duplicates, R.ray_phash_duplicates, {"max_distance": max_distance})


def _video_phash(max_distance: int) -> Method:
    return Method(VideoPerceptualHash(), (VIDEO_PHASH,), G.video_phash_duplicates, R.ray_video_phash_duplicates,
                  {"max_distance": max_distance})


def _minhash(threshold: float, ngram: int) -> Method:
    return Method(MinHashSignature(ngram=ngram), (MINHASH_SIGNATURE, MINHASH_BANDS), G.minhash_duplicates,
                  R.ray_minhash_duplicates, {"threshold": threshold})


def _semantic(eps: float, clusters: int) -> Method:
    config = SemDeDupConfig(n_clusters=clusters, eps=eps)
    return Method(None, (EMBEDDING,), G.semantic_duplicates, R.ray_semantic_duplicates,
                  {"column": EMBEDDING, "config": config})


@dataclass(kw_only=True)
class Dedup(DedupPass):
    """Several dedup methods as one decision (exact, perceptual, video, captions, semantic, in that order)."""

    exact: bool = param(True, doc="identical decoded pixels (catches re-encodes of the same image)")
    phash_max_distance: int | None = param(
        PHASH_MAX_DISTANCE, doc="image near-duplicates within this many of 64 bits; null: off", ge=0, le=64)
    video_phash_max_distance: int | None = param(
        VIDEO_PHASH_MAX_DISTANCE, doc="videos: mean bits apart of frame pHashes; null: off", ge=0, le=64)
    minhash_threshold: float | None = param(
        None, doc="caption near-duplicates at this estimated Jaccard; null: off", gt=0, le=1)
    minhash_ngram: int = param(3, doc="caption shingle length in words", ge=1)
    semantic_eps: float | None = param(
        None, doc="SemDeDup on CLIP embeddings: duplicates at cosine >= 1 - eps; null: off", gt=0, lt=1)
    semantic_clusters: int = param(1000, doc="k-means clusters for SemDeDup (fewer on small inputs)", ge=1)

    def methods(self) -> list[Method]:
        out = [_exact()] if self.exact else []
        out += [_phash(self.phash_max_distance)] if self.phash_max_distance is not None else []
        out += [_video_phash(self.video_phash_max_distance)] if self.video_phash_max_distance is not None else []
        out += [_minhash(self.minhash_threshold, self.minhash_ngram)] if self.minhash_threshold is not None else []
        out += [_semantic(self.semantic_eps, self.semantic_clusters)] if self.semantic_eps is not None else []
        return out


@dataclass(kw_only=True)
class ExactDedup(DedupPass):
    """Identical decoded pixels across the whole input."""

    def methods(self) -> list[Method]:
        return [_exact()]


@dataclass(kw_only=True)
class PhashDedup(DedupPass):
    """Perceptual near-duplicate images (64-bit pHash, banded candidates, verified Hamming distance)."""

    max_distance: int = param(PHASH_MAX_DISTANCE, doc="bits of 64 within which two images are duplicates", ge=0, le=64)

    def methods(self) -> list[Method]:
        return [_phash(self.max_distance)]


@dataclass(kw_only=True)
class VideoPhashDedup(DedupPass):
    """Near-duplicate videos: frame pHashes at 0.5 s, 1.5 s, ..., aligned and compared."""

    max_distance: int = param(VIDEO_PHASH_MAX_DISTANCE, doc="mean bits apart per aligned frame", ge=0, le=64)

    def methods(self) -> list[Method]:
        return [_video_phash(self.max_distance)]


@dataclass(kw_only=True)
class MinHashDedup(DedupPass):
    """Caption (or document text) near-duplicates: word-shingle MinHash, LSH bands, verified Jaccard."""

    threshold: float = param(0.7, doc="estimated Jaccard at or above which two captions are duplicates", gt=0, le=1)
    ngram: int = param(3, doc="shingle length in words", ge=1)

    def methods(self) -> list[Method]:
        return [_minhash(self.threshold, self.ngram)]


@dataclass(kw_only=True)
class SemanticDedup(DedupPass):
    """SemDeDup: k-means on CLIP image embeddings (from a clip_score step with write_embedding), duplicates
    within a cluster at cosine >= 1 - eps."""

    eps: float = param(0.05, doc="duplicates at cosine >= 1 - eps", gt=0, lt=1)
    clusters: int = param(1000, doc="k-means clusters (fewer on small inputs: at least 40 points each)", ge=1)

    def methods(self) -> list[Method]:
        return [_semantic(self.eps, self.clusters)]


def _put(table: pa.Table, name: str, values: Any) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def _first_embedding(column: pa.ChunkedArray) -> pa.Array:
    """Each sample's first image embedding (list<float16>), null when it has none (videos, no image)."""
    firsts = [next((e for e in (items or []) if e is not None), None) for items in column.to_pylist()]
    return pa.array(firsts, pa.list_(pa.float16()))


def _with_embedding(table: pa.Table) -> pa.Table:
    return table.filter(pc.is_valid(table.column(EMBEDDING)))


def _drop_removed(table: pa.Table, removed: pa.Table) -> pa.Table:
    return table.filter(keep_mask(table.column(S.SAMPLE_ID), removed))


def _combine(found: list[pa.Table]) -> pa.Table:
    from mmcurate.pipeline.dedup.policy import DEDUP_RESULT_SCHEMA

    tables = [t.select(DEDUP_RESULT_SCHEMA.names).cast(DEDUP_RESULT_SCHEMA) for t in found if t.num_rows]
    return pa.concat_tables(tables).sort_by(S.SAMPLE_ID) if tables else DEDUP_RESULT_SCHEMA.empty_table()
