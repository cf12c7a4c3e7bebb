"""Which member of a duplicate cluster to keep, and the removal table every dedup method returns.

A method finds clusters; the policy decides. Keeping that decision apart (as dolma's mixer is apart
from its taggers) lets one run compare "keep the highest CLIP score" against "keep the largest image"
without re-hashing anything. The policy is reduced to one number per row, the *priority*, computed
once from the sample table and carried next to the signatures (a float is cheap to ship through a
Ray groupby, a media struct is not). Within a cluster the row with the highest priority is kept; ties
go to the smallest ``sample_id`` so the choice is deterministic across runs, workers and shardings.

Rules (``KeepPolicy.rule``):

* ``"first"`` — first seen in ``sample_id`` order (priority 0 for every row, the tie-break decides).
* ``"score"`` — highest value of ``score_column`` (nulls rank last).
* ``"area"`` — largest total pixel area over the row's media items (``width * height``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S

__all__ = [
    "DUPLICATE_OF",
    "DEDUP_METHOD",
    "PRIORITY",
    "DEDUP_RESULT_SCHEMA",
    "KeepPolicy",
    "removal_table",
    "keep_mask",
]

DUPLICATE_OF = "duplicate_of"
DEDUP_METHOD = "dedup_method"
PRIORITY = "dedup_priority"

DEDUP_RESULT_SCHEMA = pa.schema(
    [
        pa.field(S.SAMPLE_ID, pa.string(), nullable=False, metadata={"doc": "the removed row"}),
        pa.field(DUPLICATE_OF, pa.string(), nullable=False, metadata={"doc": "sample_id of the row kept instead"}),
        pa.field(DEDUP_METHOD, pa.string(), nullable=False,
                 metadata={"doc": "versioned method that found the pair: exact_bytes_v1, phash_v1, minhash_v1, ..."}),
    ]
)


@dataclass(frozen=True, kw_only=True)
class KeepPolicy:
    """Keep-one-per-cluster rule; its fields are its configuration."""

    rule: Literal["first", "score", "area"] = "first"
    score_column: str | None = None

    def __post_init__(self) -> None:
        if self.rule not in ("first", "score", "area"):
            raise ValueError(f"unknown keep rule {self.rule!r}")
        if (self.rule == "score") != (self.score_column is not None):
            raise ValueError("score_column is required for rule='score' and only for it")

    def priority(self, table: pa.Table) -> pa.Array:
        """Per-row float64 priority (higher is kept) computed from a sample table."""
        n = table.num_rows
        if self.rule == "first":
            return pa.array(np.zeros(n), pa.float64())
        if self.rule == "score":
            assert self.score_column is not None
            values = pc.cast(table.column(self.score_column), pa.float64()).to_numpy(zero_copy_only=False)
            return pa.array(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf), pa.float64())
        media = table.column(S.MEDIA).combine_chunks()
        items = pc.list_flatten(media)
        width = pc.struct_field(items, "width").to_numpy(zero_copy_only=False)
        height = pc.struct_field(items, "height").to_numpy(zero_copy_only=False)
        area = np.nan_to_num(np.asarray(width, dtype=np.float64) * np.asarray(height, dtype=np.float64))
        owner = pc.list_parent_indices(media).to_numpy()
        return pa.array(np.bincount(owner, weights=area, minlength=n), pa.float64())

    def choose(self, sample_ids: np.ndarray, labels: np.ndarray, priority: np.ndarray) -> np.ndarray:
        """Index of the kept row of each row's cluster (``labels`` are any integer cluster ids)."""
        sample_ids = np.asarray(sample_ids).astype(str)
        order = np.lexsort((sample_ids, -np.asarray(priority, dtype=np.float64), labels))
        sorted_labels = labels[order]
        starts = np.flatnonzero(np.concatenate([[True], sorted_labels[1:] != sorted_labels[:-1]]))
        group = np.cumsum(np.concatenate([[False], sorted_labels[1:] != sorted_labels[:-1]]))
        keeper = np.empty(len(order), dtype=np.int64)
        keeper[order] = order[starts[group]]
        return keeper


def removal_table(
    sample_ids: np.ndarray | pa.Array,
    labels: np.ndarray,
    priority: np.ndarray | pa.Array,
    method: str,
    policy: KeepPolicy,
) -> pa.Table:
    """The rows to remove: ``sample_id, duplicate_of, dedup_method`` (schema ``DEDUP_RESULT_SCHEMA``).

    ``labels`` gives each row's cluster; singleton clusters remove nothing.
    """
    if isinstance(sample_ids, (pa.Array, pa.ChunkedArray)):
        sample_ids = np.asarray(sample_ids.to_pylist(), dtype=object)
    if isinstance(priority, (pa.Array, pa.ChunkedArray)):
        priority = priority.to_numpy(zero_copy_only=False)
    ids = np.asarray(sample_ids).astype(str)
    labels = np.asarray(labels)
    if len(ids) == 0:
        return DEDUP_RESULT_SCHEMA.empty_table()
    keeper = policy.choose(ids, labels, np.asarray(priority, dtype=np.float64))
    removed = np.flatnonzero(keeper != np.arange(len(ids)))
    removed = removed[np.argsort(ids[removed], kind="stable")]
    return pa.table(
        [
            pa.array(ids[removed], pa.string()),
            pa.array(ids[keeper[removed]], pa.string()),
            pa.array([method] * len(removed), pa.string()),
        ],
        schema=DEDUP_RESULT_SCHEMA,
    )


def keep_mask(sample_ids: pa.Array | pa.ChunkedArray, removals: pa.Table) -> pa.Array:
    """Boolean ``keep`` per row of a sample table: false for rows listed in ``removals``."""
    return pc.invert(pc.is_in(sample_ids, value_set=removals.column(S.SAMPLE_ID).combine_chunks()))
