"""Sequence packing: first-fit-decreasing into fixed-length contexts, in O(n log n).

Samples are atomic: a sample (and so every image or clip in it) lands whole in one pack, because a
vision item cut in two cannot be encoded and a conversation cut in two loses its answer. A sample
longer than the context cannot be packed and is a reject (``pack_v1:too_long``), as is an empty one
(``pack_v1:empty``); nothing is truncated.

Algorithm: sort lengths in decreasing order, put each into the *first* (lowest-index) bin with room,
opening a new bin when none has. Textbook FFD scans all open bins per item, O(n * bins); here a
max segment tree over the bins' free space finds the leftmost bin with ``free >= length`` by one
root-to-leaf descent, O(log bins) per item, with the same result as the naive loop (tested). Unused
bins sit at full capacity in the tree, so "open a new bin" is the same descent. The tree is sized by
the first-fit bound: at most one bin is half empty, so ``bins <= 2 * sum / capacity + 1``.

Efficiency (NeMo's ``packing_efficiency``, multipack's figure) = packed tokens / (packs x context).
Each pack records ``cu_seqlens`` offsets (flash-attention varlen: sample j spans
``[cu_seqlens[j], cu_seqlens[j+1])``); position ids restart at 0 at each offset.

:func:`pack_batches` packs a stream of row chunks (``Dataset.iter_batches``) one chunk at a time, so
the driver holds one chunk, not the dataset. FFD within chunks of ~1M items leaves at most one
partly-filled pack per chunk, so efficiency drops by < (chunks / packs), unmeasurable at that size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import LOSS_WEIGHT, REPEATS, TOKENS_TOTAL

__all__ = ["NAME", "CONTEXTS", "PACK_SCHEMA", "REJECT_SCHEMA", "PackResult", "ffd_assign", "naive_first_fit", "pack_table",
           "pack_batches"]

NAME = "pack_v1"
CONTEXTS = (8192, 16384, 32768)

PACK_SCHEMA = pa.schema([
    pa.field("pack_id", pa.int64(), nullable=False, metadata={"doc": "0-based pack index, in FFD bin order"}),
    pa.field("sample_ids", pa.list_(pa.string()), metadata={"doc": "samples in the pack, in sequence order"}),
    pa.field("repeat_index", pa.list_(pa.int32()), metadata={"doc": "which repeat (0..repeats-1) of each sample"}),
    pa.field("lengths", pa.list_(pa.int32()), metadata={"doc": "tokens per sample"}),
    pa.field("cu_seqlens", pa.list_(pa.int32()), metadata={"doc": "offsets [0, l0, l0+l1, ...]: len = samples + 1"}),
    pa.field("loss_weights", pa.list_(pa.float32()), metadata={"doc": "per-token loss weight of each sample"}),
    pa.field("tokens", pa.int32(), nullable=False, metadata={"doc": "tokens used (cu_seqlens[-1])"}),
    pa.field("shards", pa.list_(pa.string()),
             metadata={"doc": "per sample, the shard holding its tokens (or its row), relative to the output"}),
    pa.field("rows", pa.list_(pa.int64()), metadata={"doc": "per sample, its row index in that shard"}),
    pa.field("pieces", pa.list_(pa.int32()),
             metadata={"doc": "per sample, which of its context windows (doc_tokens_v1_windows) the sequence is; "
                              "null: the whole sample"}),
], metadata={"mmcurate.schema": "pack/v2"})  # v2: pieces

SHARD, ROW, PIECE = "shard", "row", "piece"  # optional input columns: where each sample's record is, which window

_BLOCK = 65_536  # items placed per block of Python ints in ffd_assign

REJECT_SCHEMA = pa.schema([("sample_id", pa.string()), ("drop_reason", pa.string()), ("error", pa.string())])


@dataclass(frozen=True)
class PackResult:
    packs: pa.Table  # PACK_SCHEMA
    rejects: pa.Table  # sample_id, drop_reason, error
    context: int

    @property
    def efficiency(self) -> float:
        """Packed tokens / (packs x context); 0 with no packs."""
        n = self.packs.num_rows
        return float(np.sum(self.packs.column("tokens").to_numpy())) / (n * self.context) if n else 0.0


def ffd_assign(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, int]:
    """Bin index per item under first-fit-decreasing, and the bin count. Every length must be in 1..capacity."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.int64), 0
    if lengths.min() < 1 or lengths.max() > capacity:
        raise ValueError(f"lengths must be in 1..{capacity}")
    order = np.argsort(-lengths, kind="stable")  # ties keep input order: deterministic
    max_bins = min(len(lengths), 2 * math.ceil(int(lengths.sum()) / capacity) + 1)
    size = 1 << max(0, (max_bins - 1).bit_length())
    tree = [capacity] * (2 * size)  # max free space per subtree; leaves size..2*size-1 are bins
    assign = np.empty(len(lengths), dtype=np.int64)
    placed = np.empty(len(lengths), dtype=np.int64)  # bin of the j-th item in `order`
    for start in range(0, len(order), _BLOCK):  # Python ints a block at a time: the heap stays small
        block = lengths[order[start:start + _BLOCK]].tolist()
        bins = []
        for length in block:
            i = 1
            while i < size:  # descend to the leftmost leaf with free >= length
                i <<= 1
                if tree[i] < length:
                    i += 1
            bins.append(i - size)
            tree[i] -= length
            i >>= 1
            while i:
                left, right = tree[2 * i], tree[2 * i + 1]
                tree[i] = left if left > right else right
                i >>= 1
        placed[start:start + len(bins)] = bins
    assign[order] = placed
    used = int(placed.max()) + 1
    return assign, used


def naive_first_fit(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, int]:
    """The textbook O(n * bins) FFD loop: the reference for tests and the benchmark."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    free: list[int] = []
    assign = np.empty(len(lengths), dtype=np.int64)
    for idx, length in zip(order.tolist(), lengths[order].tolist()):
        for b, room in enumerate(free):
            if room >= length:
                free[b] -= length
                assign[idx] = b
                break
        else:
            free.append(capacity - length)
            assign[idx] = len(free) - 1
    return assign, len(free)


def _flat(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array (a record batch's column already is one)."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _reject_table(ids: list[str], reason: str, details: list[str]) -> pa.Table:
    return pa.table({"sample_id": ids, "drop_reason": [f"{NAME}:{reason}"] * len(ids), "error": details},
                    schema=REJECT_SCHEMA)


def pack_table(rows: pa.Table, context: int, length_column: str = TOKENS_TOTAL) -> PackResult:
    """Pack slim rows (``sample_id``, ``length_column``, optional ``repeats``, ``loss_weight``, the
    ``shard`` / ``row`` that locate each sample's record and the ``piece`` (window) of a split document,
    which the packs then list per sample)."""
    if context < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    # Ids and shard paths stay Arrow strings (taken by index): a million Python str objects per chunk
    # would cost ~200 MB of heap that the allocator keeps fragmented after the chunk is gone.
    ids = _flat(rows.column(S.SAMPLE_ID))
    lengths = rows.column(length_column).fill_null(0).to_numpy().astype(np.int64)
    reps = (rows.column(REPEATS).fill_null(0).to_numpy().astype(np.int64) if REPEATS in rows.column_names
            else np.ones(len(ids), np.int64))
    weights = (rows.column(LOSS_WEIGHT).fill_null(0).to_numpy().astype(np.float32) if LOSS_WEIGHT in rows.column_names
               else np.ones(len(ids), np.float32))
    too_long, empty = lengths > context, lengths < 1
    rejects = pa.concat_tables([
        _reject_table(ids.filter(pa.array(too_long)).to_pylist(), "too_long",
                      [f"{n} tokens > context {context}" for n in lengths[too_long]]),
        _reject_table(ids.filter(pa.array(empty)).to_pylist(), "empty", ["no tokens"] * int(empty.sum())),
    ])
    keep = ~(too_long | empty) & (reps > 0)
    item = np.repeat(np.flatnonzero(keep), reps[keep])  # one item per (sample, repeat)
    rep_index = (np.arange(len(item)) - np.repeat(np.cumsum(reps[keep]) - reps[keep], reps[keep])).astype(np.int32)
    bins, n_bins = ffd_assign(lengths[item], context)
    order = np.lexsort((np.arange(len(item)), -lengths[item], bins))  # per bin: longest first, as placed
    item, rep_index, bins = item[order], rep_index[order], bins[order]
    lens = lengths[item].astype(np.int32)
    starts = np.searchsorted(bins, np.arange(n_bins + 1))  # pack p holds items starts[p]:starts[p+1]
    offsets = np.zeros(len(item) + n_bins, dtype=np.int32)  # cu_seqlens of all packs, concatenated
    cum = np.cumsum(lens, dtype=np.int64)
    pack_base = np.concatenate([[0], cum[starts[1:] - 1]]) if n_bins else np.zeros(1, np.int64)
    seq_pos = np.arange(len(item)) + bins + 1  # where item j's end offset goes in `offsets`
    offsets[seq_pos] = (cum - pack_base[bins]).astype(np.int32)
    cu_starts = (starts + np.arange(n_bins + 1)).astype(np.int32)

    def lists(values: np.ndarray | pa.Array, bounds: np.ndarray, typ: pa.DataType) -> pa.Array:
        flat = values if isinstance(values, pa.Array) else pa.array(values, typ)
        return pa.ListArray.from_arrays(pa.array(bounds, pa.int32()), flat)

    packs = pa.Table.from_arrays([
        pa.array(np.arange(n_bins), pa.int64()),
        lists(ids.take(pa.array(item)), starts.astype(np.int32), pa.string()) if n_bins else pa.array([], pa.list_(pa.string())),
        lists(rep_index, starts.astype(np.int32), pa.int32()) if n_bins else pa.array([], pa.list_(pa.int32())),
        lists(lens, starts.astype(np.int32), pa.int32()) if n_bins else pa.array([], pa.list_(pa.int32())),
        lists(offsets, cu_starts, pa.int32()) if n_bins else pa.array([], pa.list_(pa.int32())),
        lists(weights[item], starts.astype(np.int32), pa.float32()) if n_bins else pa.array([], pa.list_(pa.float32())),
        pa.array(np.diff(np.concatenate([[0], cum[starts[1:] - 1]])) if n_bins else [], pa.int32()),
        *_locations(rows, item, starts.astype(np.int32), n_bins, lists),
        _pieces(rows, item, starts.astype(np.int32), n_bins, lists),
    ], schema=PACK_SCHEMA)
    return PackResult(packs=packs, rejects=rejects, context=context)


def _locations(rows: pa.Table, item: np.ndarray, bounds: np.ndarray, n_bins: int, lists: Any) -> list[pa.Array]:
    """The ``shards`` and ``rows`` lists of each pack (nulls when the rows do not say where they are)."""
    if SHARD not in rows.column_names or ROW not in rows.column_names:
        return [pa.nulls(n_bins, pa.list_(pa.string())), pa.nulls(n_bins, pa.list_(pa.int64()))]
    if not n_bins:
        return [pa.array([], pa.list_(pa.string())), pa.array([], pa.list_(pa.int64()))]
    shards = _flat(rows.column(SHARD)).take(pa.array(item))
    row_index = rows.column(ROW).to_numpy().astype(np.int64)[item]
    return [lists(shards, bounds, pa.string()), lists(row_index, bounds, pa.int64())]


def _pieces(rows: pa.Table, item: np.ndarray, bounds: np.ndarray, n_bins: int, lists: Any) -> pa.Array:
    """The ``pieces`` list of each pack (all null when no row is a document window)."""
    if PIECE not in rows.column_names:
        return pa.nulls(n_bins, pa.list_(pa.int32()))
    if not n_bins:
        return pa.array([], pa.list_(pa.int32()))
    values = rows.column(PIECE).combine_chunks().take(pa.array(item))
    return pa.ListArray.from_arrays(pa.array(bounds, pa.int32()), values)


def pack_batches(batches: Iterable[pa.Table], context: int, length_column: str = TOKENS_TOTAL) -> Iterator[PackResult]:
    """:func:`pack_table` per chunk, ``pack_id`` numbered across chunks: bounded memory for any input size."""
    offset = 0
    for batch in batches:
        result = pack_table(batch, context, length_column)
        del batch  # one chunk alive at a time: not this one while the caller builds the next
        n = result.packs.num_rows
        packs = result.packs.set_column(0, PACK_SCHEMA.field("pack_id"), pa.array(np.arange(offset, offset + n), pa.int64()))
        offset += n
        out = PackResult(packs=packs, rejects=result.rejects, context=context)
        del result, packs
        yield out
        del out
