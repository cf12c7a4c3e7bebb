"""The dedup pass of a job: signatures over the whole input, one decision, before shards are written.

Shards are committed unit by unit as they stream out, but a duplicate can sit in any other unit, so
the decision has to exist before the first shard is written. The pass reads every unit, runs the
stages the signatures depend on (decode, caption cleaning), computes the signatures (pixel sha256,
perceptual hash, video frame pHashes, caption MinHash as configured), and runs the set-level methods on
Ray (or in process): exact first, then perceptual (images, then videos), then captions, each on the rows
the previous method kept. The result, ``sample_id, duplicate_of, dedup_method`` for every removed row,
is written atomically to ``dedup/removals.parquet``; the main pass applies it with
:class:`.apply.ApplyDedup`. The cost is a second read and decode of the input (and, per video, a
sandboxed seek-and-decode of up to eight frames); a resumed job reuses the saved decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline.atomic import atomic_write
from mmcurate.pipeline.dedup.exact import PIXEL_SHA256, ExactHash
from mmcurate.pipeline.dedup.global_dedup import (
    exact_duplicates,
    minhash_duplicates,
    phash_duplicates,
    ray_exact_duplicates,
    ray_minhash_duplicates,
    ray_phash_duplicates,
    ray_semantic_duplicates,
    ray_video_phash_duplicates,
    semantic_duplicates,
    signature_table,
    video_phash_duplicates,
)
from mmcurate.pipeline.dedup.merge_captions import caption_groups, ray_caption_groups
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE, MinHashSignature
from mmcurate.pipeline.dedup.phash import PHASH, PerceptualHash
from mmcurate.pipeline.dedup.policy import DEDUP_RESULT_SCHEMA, KeepPolicy, keep_mask
from mmcurate.pipeline.dedup.semdedup import SemDeDupConfig
from mmcurate.pipeline.dedup.video_phash import VIDEO_PHASH, VideoPerceptualHash
from mmcurate.pipeline.readers.base import Reader, WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S

__all__ = ["GlobalDedup", "REMOVALS_PATH"]

REMOVALS_PATH = "dedup/removals.parquet"
EMBEDDING = "dedup_embedding"
CLIP_EMBEDDINGS = "clip_score_v1_embedding"
CAPTIONS_PATH = "dedup/captions.parquet"


@dataclass(kw_only=True)
class GlobalDedup:
    """Which methods run, and the keep policy; ``prefix`` = how many job stages precede the signatures."""

    prefix: int
    exact: bool = True
    phash_max_distance: int | None = 6
    video_phash_max_distance: int | None = 8  # mean bits per aligned frame; None: videos by exact bytes only
    minhash_threshold: float | None = None
    minhash_ngram: int = 3
    policy: KeepPolicy = field(default_factory=KeepPolicy)
    num_partitions: int | None = 4
    merge_captions: bool = False
    semantic_eps: float | None = None  # SemDeDup on CLIP image embeddings: cosine >= 1 - eps; None: off
    semantic_clusters: int = 1000
    clip: Stage | None = None  # the CLIP stage (writing embeddings) for SemDeDup and the clip-score keep rule
    groups: pa.Table | None = field(default=None, init=False, repr=False)

    def signature_stages(self) -> list[Stage]:
        stages: list[Stage] = []
        if self.exact:
            stages.append(ExactHash())
        if self.phash_max_distance is not None:
            stages.append(PerceptualHash())
        if self.video_phash_max_distance is not None:
            stages.append(VideoPerceptualHash())
        if self.minhash_threshold is not None:
            stages.append(MinHashSignature(ngram=self.minhash_ngram))
        if self.clip is not None:
            stages.append(self.clip)
        return stages

    def _columns(self) -> list[str]:
        cols = [PIXEL_SHA256] if self.exact else []
        cols += [PHASH] if self.phash_max_distance is not None else []
        cols += [VIDEO_PHASH] if self.video_phash_max_distance is not None else []
        cols += [MINHASH_SIGNATURE, MINHASH_BANDS] if self.minhash_threshold is not None else []
        cols += [S.CAPTION] if self.merge_captions else []
        cols += [EMBEDDING] if self.semantic_eps is not None else []
        return cols

    def _slim(self, table: pa.Table) -> pa.Table:
        if self.semantic_eps is not None:
            table = table.append_column(EMBEDDING, _first_embedding(table.column(CLIP_EMBEDDINGS)))
        return signature_table(table, self._columns(), self.policy)

    def _methods(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        methods = []
        if self.exact:
            methods.append((exact_duplicates, ray_exact_duplicates, {"column": PIXEL_SHA256, "method": "exact_pixels"}))
        if self.phash_max_distance is not None:
            methods.append((phash_duplicates, ray_phash_duplicates, {"max_distance": self.phash_max_distance}))
        if self.video_phash_max_distance is not None:
            methods.append((video_phash_duplicates, ray_video_phash_duplicates,
                            {"max_distance": self.video_phash_max_distance}))
        if self.minhash_threshold is not None:
            methods.append((minhash_duplicates, ray_minhash_duplicates, {"threshold": self.minhash_threshold}))
        if self.semantic_eps is not None:
            config = SemDeDupConfig(n_clusters=self.semantic_clusters, eps=self.semantic_eps)
            methods.append((semantic_duplicates, ray_semantic_duplicates, {"column": EMBEDDING, "config": config}))
        return methods

    def removals(self, readers: Sequence[Reader], stages: Sequence[Stage], units: Sequence[WorkUnit],
                 use_ray: bool) -> pa.Table:
        """Every removed row with the row it duplicates and the method that matched."""
        prefix = list(stages[: self.prefix]) + self.signature_stages()
        if use_ray:
            return self._removals_ray(readers, prefix, units)
        parts = [self._slim(run_stages(prefix, readers[u.input_index].read_unit(u))) for u in units]
        table = pa.concat_tables(parts) if parts else self._slim_empty()
        full = table
        found: list[pa.Table] = []
        for local, _, kwargs in self._methods():
            removed = local(table, **kwargs)
            found.append(removed)
            table = table.filter(keep_mask(table.column(S.SAMPLE_ID), removed))
        removals = _combine(found)
        self.groups = caption_groups(full, removals) if self.merge_captions else None
        return removals

    def _slim_empty(self) -> pa.Table:
        return pa.table({S.SAMPLE_ID: pa.array([], pa.string())})

    def _removals_ray(self, readers: Sequence[Reader], prefix: list[Stage], units: Sequence[WorkUnit]) -> pa.Table:
        import ray.data

        from mmcurate.pipeline.execute import ReadUnits
        from mmcurate.pipeline.ray_adapter import apply_stage

        items = [{"unit_id": u.unit_id, "input_index": u.input_index, "spec": u.spec} for u in units]
        ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        ds = ds.map_batches(ReadUnits(readers), batch_format="pyarrow", batch_size=None)
        for stage in prefix:
            ds = apply_stage(ds, stage)
        ds = ds.map_batches(self._slim, batch_format="pyarrow", batch_size=None).materialize()
        full = ds
        found: list[pa.Table] = []
        for _, distributed, kwargs in self._methods():
            rows = ds
            if distributed is ray_semantic_duplicates:  # k-means trains on rows that have an embedding
                rows = ds.map_batches(_with_embedding, batch_format="pyarrow", batch_size=None)
            removed = distributed(rows, num_partitions=self.num_partitions, **kwargs)
            found.append(removed)
            if removed.num_rows:
                ds = ds.map_batches(_drop_removed, fn_kwargs={"removed": removed}, batch_format="pyarrow",
                                    batch_size=None).materialize()
        removals = _combine(found)
        self.groups = ray_caption_groups(full, removals) if self.merge_captions else None
        return removals

    def load_or_compute(self, out_dir: str | Path, readers: Sequence[Reader], stages: Sequence[Stage],
                        units: Sequence[WorkUnit], use_ray: bool) -> pa.Table:
        path = Path(out_dir) / REMOVALS_PATH
        groups_path = Path(out_dir) / CAPTIONS_PATH
        if path.exists() and (not self.merge_captions or groups_path.exists()):
            self.groups = pq.read_table(groups_path) if self.merge_captions else None
            return pq.read_table(path)
        removals = self.removals(readers, stages, units, use_ray)
        if self.merge_captions:  # groups first: a saved removals file means both exist
            atomic_write(groups_path, lambda fh: pq.write_table(self.groups, fh))
        atomic_write(path, lambda fh: pq.write_table(removals, fh))
        return removals


def _first_embedding(column: pa.ChunkedArray) -> pa.Array:
    """Each sample's first image embedding (list<float16>), null when it has none (videos, no image)."""
    firsts = [next((e for e in (items or []) if e is not None), None) for items in column.to_pylist()]
    return pa.array(firsts, pa.list_(pa.float16()))


def _with_embedding(table: pa.Table) -> pa.Table:
    return table.filter(pc.is_valid(table.column(EMBEDDING)))


def _drop_removed(table: pa.Table, removed: pa.Table) -> pa.Table:
    return table.filter(keep_mask(table.column(S.SAMPLE_ID), removed))


def _combine(found: list[pa.Table]) -> pa.Table:
    tables = [t.select(DEDUP_RESULT_SCHEMA.names).cast(DEDUP_RESULT_SCHEMA) for t in found if t.num_rows]
    if not tables:
        return DEDUP_RESULT_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    return table.sort_by(S.SAMPLE_ID)
