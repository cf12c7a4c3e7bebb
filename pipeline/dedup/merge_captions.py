"""Merge the captions of image duplicates into the row that is kept: one image, several captions.

The same picture is often posted many times with different alt texts. Dropping the copies throws the
extra captions away; this module keeps them as a ``captions`` list on the surviving row, so training
can sample one caption per epoch (as LAION/DataComp-style multi-caption loaders do). It only adds a
column; which rows are removed is still the dedup decision (:mod:`.policy`), applied as a flag.

Two steps, because the job decides globally but writes unit by unit:

* :func:`caption_groups` — over the whole signature table (every row's ``sample_id`` and ``caption``)
  and the removal table: ``sample_id, captions`` for each kept row that absorbed at least one
  duplicate. Small (one row per duplicate cluster), so it travels with the removals to every unit.
  :func:`ray_caption_groups` is the same over a Ray Dataset: only the rows named in the removals
  (removed rows and their kept rows) are brought to the driver.
* :func:`attach_captions` — on any batch: ``captions`` from those groups, else ``[caption]``;
  :class:`MergeCaptions` is the same as a stage, to run right after :class:`~.apply.ApplyDedup`.

:func:`merge_captions` is both at once on one table. Order is deterministic: the row's own caption
first, then the distinct captions of its duplicates in ``sample_id`` order; null and empty captions
are skipped and each distinct string appears once. Chains (A is an exact copy of X, X a perceptual
copy of Y) resolve to the final kept row. Only the removals of the chosen ``methods`` merge (image
methods: exact, pHash); a caption-MinHash removal says two *captions* agree, not two images.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.dedup.policy import DEDUP_METHOD, DUPLICATE_OF
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column

if TYPE_CHECKING:
    import ray.data

__all__ = ["CAPTIONS", "CAPTIONS_FIELD", "IMAGE_METHODS", "caption_groups", "ray_caption_groups",
           "attach_captions", "merge_captions", "MergeCaptions"]

# dedup_method values that mean "same image": the job pass's exact method and the library defaults.
IMAGE_METHODS: tuple[str, ...] = ("exact_pixels", "exact_pixel_sha256_v1", "exact_bytes_sha256_v1", "phash_v1")

CAPTIONS = "captions"
CAPTIONS_FIELD = pa.field(
    CAPTIONS, pa.list_(pa.string()),
    metadata={"doc": "own caption, then the distinct captions of the image duplicates merged into this row"},
)
_GROUPS_SCHEMA = pa.schema([pa.field(S.SAMPLE_ID, pa.string(), nullable=False), CAPTIONS_FIELD])


def _roots(removed: np.ndarray, duplicate_of: np.ndarray) -> np.ndarray:
    """Final kept row of each removed row, following ``duplicate_of`` through other removed rows."""
    position = {sid: i for i, sid in enumerate(removed)}
    roots = duplicate_of.copy()
    for _ in range(len(removed)):  # one step per method in practice; the bound only guards a cycle
        step = np.array([position.get(r, -1) for r in roots], dtype=np.int64)
        if (step < 0).all():
            return roots
        roots = np.where(step >= 0, duplicate_of[np.maximum(step, 0)], roots)
    raise ValueError("duplicate_of links form a cycle")


def caption_groups(
    samples: pa.Table, removals: pa.Table, methods: Collection[str] | None = IMAGE_METHODS
) -> pa.Table:
    """``sample_id, captions`` for every kept row with at least one duplicate (sorted by sample_id).

    ``samples`` needs ``sample_id`` and ``caption`` for the kept rows and their duplicates; ``removals``
    is ``sample_id, duplicate_of, dedup_method`` (:data:`~.policy.DEDUP_RESULT_SCHEMA`), filtered to
    ``methods`` (default: the image methods; None: every row). A removed row missing from ``samples``
    contributes no caption.
    """
    if methods is not None:
        removals = removals.filter(pc.is_in(removals.column(DEDUP_METHOD), pa.array(sorted(methods), pa.string())))
    if removals.num_rows == 0:
        return _GROUPS_SCHEMA.empty_table()
    removed = np.asarray(removals.column(S.SAMPLE_ID).to_pylist(), dtype=object)
    roots = _roots(removed, np.asarray(removals.column(DUPLICATE_OF).to_pylist(), dtype=object))
    ids = samples.column(S.SAMPLE_ID).combine_chunks()
    captions = samples.column(S.CAPTION).combine_chunks()

    def caption_of(sample_ids: np.ndarray) -> list[str | None]:
        index = pc.index_in(pa.array(sample_ids, pa.string()), value_set=ids)
        return pc.take(captions, index).to_pylist()

    unique_roots = np.unique(roots.astype(str))
    members: dict[str, list[tuple[str, str | None]]] = {r: [] for r in unique_roots}
    for sid, root, caption in sorted(zip(removed, roots, caption_of(removed), strict=True), key=lambda t: t[0]):
        members[root].append((sid, caption))
    out: list[list[str]] = []
    for root, own in zip(unique_roots, caption_of(unique_roots), strict=True):
        merged: list[str] = []
        for caption in [own, *(c for _, c in members[root])]:
            if caption and caption not in merged:
                merged.append(caption)
        out.append(merged)
    return pa.table([pa.array(unique_roots, pa.string()), pa.array(out, CAPTIONS_FIELD.type)], schema=_GROUPS_SCHEMA)


def _rows_named(batch: pa.Table, ids: pa.Array) -> pa.Table:
    return batch.filter(pc.is_in(batch.column(S.SAMPLE_ID), value_set=ids))


def ray_caption_groups(
    ds: ray.data.Dataset, removals: pa.Table, methods: Collection[str] | None = IMAGE_METHODS
) -> pa.Table:
    """:func:`caption_groups` over a Ray Dataset with ``sample_id`` and ``caption`` columns."""
    if methods is not None:
        removals = removals.filter(pc.is_in(removals.column(DEDUP_METHOD), pa.array(sorted(methods), pa.string())))
    if removals.num_rows == 0:
        return _GROUPS_SCHEMA.empty_table()
    ids = pa.concat_arrays([removals.column(c).combine_chunks().cast(pa.string()) for c in (S.SAMPLE_ID, DUPLICATE_OF)])
    rows = ds.select_columns([S.SAMPLE_ID, S.CAPTION]).map_batches(
        _rows_named, fn_kwargs={"ids": ids}, batch_format="pyarrow")
    parts = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
             for b in rows.iter_batches(batch_format="pyarrow", batch_size=None)]
    parts = [t.select([S.SAMPLE_ID, S.CAPTION]) for t in parts if t.num_rows]
    if not parts:
        return _GROUPS_SCHEMA.empty_table()
    return caption_groups(pa.concat_tables(parts), removals, methods=None)


def attach_captions(batch: pa.Table, groups: pa.Table) -> pa.Table:
    """``batch`` plus ``captions``: the merged list for rows in ``groups``, else ``[caption]`` (``[]`` if none)."""
    caption = batch.column(S.CAPTION).combine_chunks()
    present = pc.and_(pc.is_valid(caption), pc.not_equal(pc.fill_null(caption, ""), ""))
    lengths = pc.cast(present, pa.int32()).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    own = pa.ListArray.from_arrays(offsets, caption.filter(present))
    index = pc.index_in(batch.column(S.SAMPLE_ID), value_set=groups.column(S.SAMPLE_ID).combine_chunks())
    merged = pc.take(groups.column(CAPTIONS).combine_chunks(), index)
    column = pc.if_else(pc.is_valid(index), merged, own) if batch.num_rows else own
    return put_column(batch, CAPTIONS_FIELD, column)


def merge_captions(
    samples: pa.Table, removals: pa.Table, methods: Collection[str] | None = IMAGE_METHODS
) -> pa.Table:
    """``samples`` (all rows, removed ones included) with the ``captions`` column; see the module doc."""
    return attach_captions(samples, caption_groups(samples, removals, methods))


@dataclass(kw_only=True)
class MergeCaptions(Stage):
    """Write ``captions`` on every row from :func:`caption_groups`' table (computed in the global pass)."""

    name: ClassVar[str] = "merge_captions_v1"
    reads: ClassVar[tuple[str, ...]] = (S.SAMPLE_ID, S.CAPTION)
    writes: ClassVar[tuple[pa.Field, ...]] = (CAPTIONS_FIELD,)

    groups: pa.Table = field(repr=False)
    batch_size: int = 100_000

    def process_batch(self, batch: pa.Table) -> pa.Table:
        return attach_captions(batch, self.groups)
