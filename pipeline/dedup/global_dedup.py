"""Dedup across the whole dataset: each method as a plain function on an Arrow table (on Ray: :mod:`.ray_dedup`).

Dedup is set-level: a duplicate pair split across two files, two blocks or two workers must still be
found, so no method may decide inside a batch. Every method has the same three steps:

1. **Keys** — explode each row's signature into grouping keys (the sha256 itself; one key per pHash
   band; one per pHash band of a video's anchor frames; one key per MinHash band; a k-means cluster id
   for SemDeDup).
2. **Edges** — rows sharing a key are candidates; each group yields verified edges (Hamming distance,
   mean Hamming distance over a video's frames, estimated Jaccard, cosine). On Ray this is
   ``groupby(key).map_groups``: the shuffle brings every row with one key to one worker, wherever the
   rows started.
3. **Decide** — the edges (one per duplicate, far fewer than rows) come back to the driver for
   connected components (:mod:`.clusters`) and the keep choice (:mod:`.policy`).

The per-group functions (``_key_edges``, ``_band_edges``, ``_cluster_edges``) are the same code in
both modes: the library function calls them on the whole exploded table, :mod:`.ray_dedup` calls them
per group.
Inputs are slim *signature tables*: ``sample_id``, the signature column(s), ``dedup_priority`` and
``dedup_order`` (see :func:`signature_table`); rows with a null signature are skipped. Every function returns
``sample_id, duplicate_of, dedup_method`` for the removed rows only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.dedup.clusters import connected_components, pair_edges_within_groups, star_edges
from mmcurate.pipeline.dedup.exact import PIXEL_SHA256
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE
from mmcurate.pipeline.dedup.phash import PHASH, PHASH_MAX_DISTANCE, band_keys, hamming
from mmcurate.pipeline.dedup.policy import (
    DEDUP_RESULT_SCHEMA,
    ORDER,
    PRIORITY,
    KeepPolicy,
    input_order,
    removal_table,
)
from mmcurate.pipeline.dedup.semdedup import (
    SemDeDupConfig,
    cluster_duplicate_edges,
    semantic_duplicate_edges,
    single_threaded_blas,
)
from mmcurate.pipeline.dedup.video_phash import (
    VIDEO_PHASH,
    VIDEO_PHASH_MAX_DISTANCE,
    anchor_band_keys,
    padded_signatures,
    sequences_close,
)
from mmcurate.schemas import sample as S

if TYPE_CHECKING:
    pass

__all__ = [
    "signature_table",
    "exact_duplicates",
    "phash_duplicates",
    "video_phash_duplicates",
    "minhash_duplicates",
    "semantic_duplicates",
]

_KEY, _BAND, _CLUSTER = "dedup_key", "dedup_band", "dedup_cluster"
_EDGE_SCHEMA = pa.schema([("left", pa.string()), ("right", pa.string()),
                          ("left_priority", pa.float64()), ("right_priority", pa.float64()),
                          ("left_order", pa.int64()), ("right_order", pa.int64())])


def signature_table(samples: pa.Table, columns: Sequence[str], policy: KeepPolicy | None = None) -> pa.Table:
    """``sample_id`` + ``columns`` + ``dedup_priority`` + ``dedup_order`` of the ok rows: what the dedup
    functions read."""
    ok = samples.filter(pc.equal(samples.column(S.STATUS), S.STATUS_OK)) if S.STATUS in samples.column_names else samples
    slim = ok.select([S.SAMPLE_ID, *columns])
    return slim.append_column(PRIORITY, (policy or KeepPolicy()).priority(ok)).append_column(ORDER, input_order(ok))


def _prepared(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Non-null signature rows with priority and order columns (zeros when absent: keep by sample_id)."""
    for column in columns:
        table = table.filter(pc.is_valid(table.column(column)))
    if PRIORITY not in table.column_names:
        table = table.append_column(PRIORITY, pa.array(np.zeros(table.num_rows), pa.float64()))
    if ORDER not in table.column_names:
        table = table.append_column(ORDER, pa.array(np.zeros(table.num_rows, np.int64), pa.int64()))
    return table


def _edge_table(group: pa.Table, edges: np.ndarray) -> pa.Table:
    ids = group.column(S.SAMPLE_ID).to_numpy(zero_copy_only=False)
    prio = group.column(PRIORITY).to_numpy(zero_copy_only=False)
    order = group.column(ORDER).to_numpy(zero_copy_only=False)
    left, right = edges[:, 0], edges[:, 1]
    return pa.table([pa.array(ids[left], pa.string()), pa.array(ids[right], pa.string()),
                     pa.array(prio[left], pa.float64()), pa.array(prio[right], pa.float64()),
                     pa.array(order[left], pa.int64()), pa.array(order[right], pa.int64())], schema=_EDGE_SCHEMA)


def _removals(edges: pa.Table, method: str) -> pa.Table:
    """Connected components over string-id edges, then the keep choice per component."""
    if edges.num_rows == 0:
        return DEDUP_RESULT_SCHEMA.empty_table()
    names = np.concatenate([edges.column("left").to_numpy(zero_copy_only=False),
                            edges.column("right").to_numpy(zero_copy_only=False)]).astype(str)
    prio = np.concatenate([edges.column("left_priority").to_numpy(), edges.column("right_priority").to_numpy()])
    order = np.concatenate([edges.column("left_order").to_numpy(), edges.column("right_order").to_numpy()])
    ids, first, inverse = np.unique(names, return_index=True, return_inverse=True)
    labels = connected_components(len(ids), inverse.reshape(2, -1).T)
    return removal_table(ids, labels, prio[first], method, KeepPolicy(), order[first])


# --- per-group edge builders (shared by the library and the Ray paths) -------------------------------

def _key_edges(group: pa.Table) -> pa.Table:
    keys = np.asarray(group.column(_KEY).to_numpy(zero_copy_only=False)).astype(str)
    return _edge_table(group, star_edges(keys))


def _band_edges(group: pa.Table, verify: Callable[[pa.Table, np.ndarray], np.ndarray] | None) -> pa.Table:
    keys = group.column(_KEY).to_numpy(zero_copy_only=False)
    if _BAND in group.column_names:  # pHash band values are only unique per band: key on both
        combined = np.empty(len(keys), dtype=[("band", "<i4"), ("key", "<u8")])
        combined["band"], combined["key"] = group.column(_BAND).to_numpy(), keys
        keys = combined
    keep = None if verify is None else functools.partial(verify, group)  # verified chunk by chunk
    return _edge_table(group, pair_edges_within_groups(np.asarray(keys), keep=keep))


def _hamming_ok(max_distance: int) -> Callable[[pa.Table, np.ndarray], np.ndarray]:
    def ok(group: pa.Table, pairs: np.ndarray) -> np.ndarray:
        h = group.column(PHASH).to_numpy(zero_copy_only=False).astype(np.uint64)
        return hamming(h[pairs[:, 0]], h[pairs[:, 1]]) <= max_distance
    return ok


def _sequence_ok(max_distance: int) -> Callable[[pa.Table, np.ndarray], np.ndarray]:
    def ok(group: pa.Table, pairs: np.ndarray) -> np.ndarray:
        hashes, lengths = padded_signatures(group.column(VIDEO_PHASH))
        return sequences_close(hashes, lengths, pairs, max_distance)
    return ok


def _jaccard_ok(threshold: float) -> Callable[[pa.Table, np.ndarray], np.ndarray]:
    def ok(group: pa.Table, pairs: np.ndarray) -> np.ndarray:
        column = group.column(MINHASH_SIGNATURE).combine_chunks()
        sig = column.flatten().to_numpy().reshape(len(column), -1)
        return (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1) >= threshold
    return ok


def _cluster_edges(group: pa.Table, column: str, eps: float) -> pa.Table:
    emb = group.column(column).combine_chunks()
    x = emb.flatten().to_numpy(zero_copy_only=False).reshape(len(emb), -1)
    with single_threaded_blas():
        return _edge_table(group, cluster_duplicate_edges(x, eps))


# --- explode: one row per (row, key) -----------------------------------------------------------------

def _explode_exact(table: pa.Table, column: str) -> pa.Table:
    return table.append_column(_KEY, table.column(column))


def _explode_phash(table: pa.Table, max_distance: int) -> pa.Table:
    keys = band_keys(table.column(PHASH).to_numpy(zero_copy_only=False).astype(np.uint64), max_distance)
    n, bands = keys.shape
    base = table.take(np.repeat(np.arange(n), bands))
    return base.append_column(_BAND, pa.array(np.tile(np.arange(bands, dtype=np.int32), n))).append_column(
        _KEY, pa.array(keys.ravel(), pa.uint64()))


def _explode_video_phash(table: pa.Table, max_distance: int) -> pa.Table:
    hashes, lengths = padded_signatures(table.column(VIDEO_PHASH))
    rows, bands, keys = anchor_band_keys(hashes, lengths, max_distance)
    return table.take(rows).append_column(_BAND, pa.array(bands, pa.int32())).append_column(
        _KEY, pa.array(keys, pa.uint64()))


def _explode_minhash(table: pa.Table, verify: bool) -> pa.Table:
    bands = table.column(MINHASH_BANDS).combine_chunks()
    per_row = pc.list_value_length(bands).to_numpy()
    keep = [S.SAMPLE_ID, PRIORITY, ORDER, *([MINHASH_SIGNATURE] if verify else [])]
    base = table.select(keep).take(np.repeat(np.arange(table.num_rows), per_row))
    return base.append_column(_KEY, bands.flatten().cast(pa.uint64()))


# --- library functions ---------------------------------------------------------------------------------

def exact_duplicates(table: pa.Table, column: str = PIXEL_SHA256, method: str | None = None) -> pa.Table:
    """Rows whose ``column`` (``pixel_sha256`` or ``bytes_sha256``) equals another row's."""
    table = _prepared(table, [column])
    return _removals(_key_edges(_explode_exact(table, column)), method or f"exact_{column}_v1")


def phash_duplicates(table: pa.Table, max_distance: int = PHASH_MAX_DISTANCE) -> pa.Table:
    """Rows whose 64-bit ``phash`` is within ``max_distance`` bits of another row's."""
    table = _prepared(table, [PHASH])
    return _removals(_band_edges(_explode_phash(table, max_distance), _hamming_ok(max_distance)), "phash_v1")


def video_phash_duplicates(table: pa.Table, max_distance: int = VIDEO_PHASH_MAX_DISTANCE) -> pa.Table:
    """Videos whose frame-pHash sequences are within ``max_distance`` mean bits of another row's."""
    table = _prepared(table, [VIDEO_PHASH])
    return _removals(_band_edges(_explode_video_phash(table, max_distance), _sequence_ok(max_distance)),
                     "video_phash_v1")


def minhash_duplicates(table: pa.Table, threshold: float = 0.7, verify: bool = True) -> pa.Table:
    """Rows sharing a MinHash band with another row whose estimated Jaccard is >= ``threshold``."""
    table = _prepared(table, [MINHASH_SIGNATURE, MINHASH_BANDS])
    check = _jaccard_ok(threshold) if verify else None
    return _removals(_band_edges(_explode_minhash(table, verify), check), "minhash_v1")


def semantic_duplicates(table: pa.Table, column: str = "embedding", config: SemDeDupConfig | None = None) -> pa.Table:
    """SemDeDup on a fixed-size-list embedding column, on one machine."""
    config = config or SemDeDupConfig()
    table = _prepared(table, [column])
    emb = table.column(column).combine_chunks()
    x = emb.flatten().to_numpy(zero_copy_only=False).reshape(len(emb), -1)
    return _removals(_edge_table(table, semantic_duplicate_edges(x, config)), "semdedup_v1")
