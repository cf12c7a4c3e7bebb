"""Which member of a duplicate cluster to keep, and the removal table every dedup method returns.

A method finds clusters; the policy decides. Keeping that decision apart (as dolma's mixer is apart
from its taggers) lets one run compare "keep the highest CLIP score" against "keep the largest image"
without re-hashing anything. The policy is reduced to one number per row, the *priority*, computed
once from the sample table and carried next to the signatures (a float is cheap to ship through a
Ray groupby, a media struct is not). Within a cluster the row with the highest priority is kept; ties
go to the row first in *input order* (``dedup_order``: the plan's order, unit then row index), so the
choice is the one a user reading the input top to bottom expects, and is the same across runs, workers
and shardings (``sample_id`` breaks a tie only where no order is known).

Rules (``KeepPolicy.rule``):

* ``"first"`` — first in input order (priority 0 for every row, the order decides).
* ``"score"`` — highest value of ``score_column`` (nulls rank last), then input order.
* ``"area"`` — largest total pixel area over the row's media items (``width * height``), then input order.
* ``"best"`` — a quality key: largest total pixel area, then longest caption (characters), then input
  order. A photo beats its thumbnail, and of two copies of one photo the one with the fuller caption stays.
* ``"audio"`` — the best-sounding copy (``audio_dedup``'s ``keep: best``): lossless codec first, then bit
  rate, then source sample rate, then caption length (:mod:`.audio_keep`).
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
    "ORDER",
    "DEDUP_RESULT_SCHEMA",
    "KeepPolicy",
    "removal_table",
    "keep_mask",
    "input_order",
]

DUPLICATE_OF = "duplicate_of"
DEDUP_METHOD = "dedup_method"
PRIORITY = "dedup_priority"
ORDER = "dedup_order"
RULES = ("first", "score", "area", "best", "audio")
# input order packed in an int64: input << 44 | unit << 24 | row (inputs < 2^19, units < 2^20, rows < 2^24)
_UNIT_SHIFT, _INPUT_SHIFT = 24, 44
# "best" packs area and caption length in one float64, exact below 2^33 pixels and 2^20 characters.
_CAPTION_SLOTS = 2 ** 20

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

    rule: Literal["first", "score", "area", "best", "audio"] = "first"
    score_column: str | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
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
        if self.rule == "audio":
            from mmcurate.pipeline.dedup.audio_keep import audio_quality

            return pa.array(audio_quality(table), pa.float64())
        area = _area(table)
        if self.rule == "area":
            return pa.array(area, pa.float64())
        chars = np.minimum(_caption_chars(table), _CAPTION_SLOTS - 1)
        return pa.array(area * _CAPTION_SLOTS + chars, pa.float64())

    def choose(self, sample_ids: np.ndarray, labels: np.ndarray, priority: np.ndarray,
               input_position: np.ndarray | None = None) -> np.ndarray:
        """Index of the kept row of each row's cluster (``labels`` are any integer cluster ids).

        Highest priority first, then smallest ``input_position`` (input order), then smallest sample_id."""
        sample_ids = np.asarray(sample_ids).astype(str)
        position = np.zeros(len(sample_ids), np.int64) if input_position is None else np.asarray(input_position)
        order = np.lexsort((sample_ids, position, -np.asarray(priority, dtype=np.float64), labels))
        sorted_labels = labels[order]
        starts = np.flatnonzero(np.concatenate([[True], sorted_labels[1:] != sorted_labels[:-1]]))
        group = np.cumsum(np.concatenate([[False], sorted_labels[1:] != sorted_labels[:-1]]))
        keeper = np.empty(len(order), dtype=np.int64)
        keeper[order] = order[starts[group]]
        return keeper


def _area(table: pa.Table) -> np.ndarray:
    """Total pixel area over each row's media items (0 where none is decoded)."""
    media = table.column(S.MEDIA).combine_chunks()
    items = pc.list_flatten(media)
    width = pc.struct_field(items, "width").to_numpy(zero_copy_only=False)
    height = pc.struct_field(items, "height").to_numpy(zero_copy_only=False)
    area = np.nan_to_num(np.asarray(width, dtype=np.float64) * np.asarray(height, dtype=np.float64))
    owner = pc.list_parent_indices(media).to_numpy()
    return np.bincount(owner, weights=area, minlength=table.num_rows)


def _caption_chars(table: pa.Table) -> np.ndarray:
    if S.CAPTION not in table.column_names:
        return np.zeros(table.num_rows)
    lengths = pc.fill_null(pc.utf8_length(table.column(S.CAPTION)), 0)
    return np.asarray(lengths.to_numpy(), dtype=np.float64)


def _unit_position(unit_id: str) -> int | None:
    """``u<input>-<unit>`` of the plan as (input << 44 | unit << 24); None for any other id."""
    head, _, tail = unit_id[1:].partition("-")
    if not unit_id.startswith("u") or not head.isdigit() or not tail.isdigit():
        return None
    if int(head) >= 2 ** (63 - _INPUT_SHIFT) or int(tail) >= 2 ** (_INPUT_SHIFT - _UNIT_SHIFT):
        return None
    return int(head) << _INPUT_SHIFT | int(tail) << _UNIT_SHIFT


def input_order(table: pa.Table) -> pa.Array:
    """Each row's place in the input (int64, smaller is earlier): the plan's unit, then the row index.

    A table without plan bookkeeping (library use) is in input order as given: its row positions."""
    n = table.num_rows
    fallback = pa.array(np.arange(n, dtype=np.int64), pa.int64())
    if S.UNIT_ID not in table.column_names or S.UNIT_INDEX not in table.column_names:
        return fallback
    units = table.column(S.UNIT_ID).to_pylist()
    index = np.asarray(pc.fill_null(table.column(S.UNIT_INDEX), 0).to_numpy(), dtype=np.int64)
    known = {u: _unit_position(str(u)) for u in set(units)}
    if any(v is None for v in known.values()) or (index >= 2 ** _UNIT_SHIFT).any():
        return fallback
    base = np.array([known[u] for u in units], dtype=np.int64)
    return pa.array(base + index, pa.int64())


def removal_table(
    sample_ids: np.ndarray | pa.Array,
    labels: np.ndarray,
    priority: np.ndarray | pa.Array,
    method: str,
    policy: KeepPolicy,
    input_position: np.ndarray | None = None,
) -> pa.Table:
    """The rows to remove: ``sample_id, duplicate_of, dedup_method`` (schema ``DEDUP_RESULT_SCHEMA``).

    ``labels`` gives each row's cluster; singleton clusters remove nothing. ``input_position`` (see
    :func:`input_order`) breaks priority ties; without it the smallest sample_id is kept.
    """
    if isinstance(sample_ids, (pa.Array, pa.ChunkedArray)):
        sample_ids = np.asarray(sample_ids.to_pylist(), dtype=object)
    if isinstance(priority, (pa.Array, pa.ChunkedArray)):
        priority = priority.to_numpy(zero_copy_only=False)
    ids = np.asarray(sample_ids).astype(str)
    labels = np.asarray(labels)
    if len(ids) == 0:
        return DEDUP_RESULT_SCHEMA.empty_table()
    keeper = policy.choose(ids, labels, np.asarray(priority, dtype=np.float64), input_position)
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
