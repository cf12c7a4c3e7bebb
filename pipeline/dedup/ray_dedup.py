"""The dedup methods of :mod:`.global_dedup` over a Ray Dataset: the same keys, edges and decision.

Each row's signature is exploded into keys in ``map_batches``, ``groupby(key).map_groups`` brings every
row with one key to one worker wherever the rows started, and the per-group edge functions are the
library's own; only the edges (one per duplicate) come back to the driver. SemDeDup trains its
centroids on a bounded sample first, then assigns and searches clusters in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.dedup.exact import PIXEL_SHA256
from mmcurate.pipeline.dedup.global_dedup import (
    _BAND,
    _CLUSTER,
    _EDGE_SCHEMA,
    _KEY,
    _band_edges,
    _cluster_edges,
    _explode_exact,
    _explode_minhash,
    _explode_phash,
    _explode_video_phash,
    _hamming_ok,
    _jaccard_ok,
    _key_edges,
    _prepared,
    _removals,
    _sequence_ok,
)
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE
from mmcurate.pipeline.dedup.phash import PHASH, PHASH_MAX_DISTANCE
from mmcurate.pipeline.dedup.semdedup import SemDeDupConfig, assign_clusters, train_centroids
from mmcurate.pipeline.dedup.video_phash import VIDEO_PHASH, VIDEO_PHASH_MAX_DISTANCE

if TYPE_CHECKING:
    import ray.data

__all__ = ["ray_exact_duplicates", "ray_phash_duplicates", "ray_video_phash_duplicates", "ray_minhash_duplicates",
           "ray_semantic_duplicates", "ray_grouped"]


def _gather(edges: ray.data.Dataset) -> pa.Table:
    tables = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
              for b in edges.iter_batches(batch_format="pyarrow", batch_size=None)]
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables).select(_EDGE_SCHEMA.names) if tables else _EDGE_SCHEMA.empty_table()


def ray_grouped(ds: ray.data.Dataset, columns: Sequence[str], explode: Callable[..., pa.Table],
                 explode_kwargs: dict[str, Any], keys: list[str], edges: Callable[..., pa.Table],
                 edges_kwargs: dict[str, Any], num_partitions: int | None) -> pa.Table:
    prepared = ds.map_batches(_prepared, batch_format="pyarrow", fn_kwargs={"columns": list(columns)})
    exploded = prepared.map_batches(explode, batch_format="pyarrow", fn_kwargs=explode_kwargs)
    grouped = exploded.groupby(keys, num_partitions=num_partitions).map_groups(
        edges, batch_format="pyarrow", fn_kwargs=edges_kwargs)
    return _gather(grouped.map_batches(_compacted, batch_format="pyarrow", batch_size=None))


def _compacted(block: pa.Table) -> pa.Table:
    """One chunk per column, on the worker: ``map_groups`` concatenates one (mostly empty) edge table per
    group, so its blocks carry a chunk per key; deserialised on the driver, that metadata alone grew
    with the rows (measured: +90 MiB of driver heap per million rows)."""
    return block.combine_chunks()


def ray_exact_duplicates(ds: ray.data.Dataset, column: str = PIXEL_SHA256, method: str | None = None,
                         num_partitions: int | None = None) -> pa.Table:
    """:func:`exact_duplicates` over a Ray Dataset of signature rows.

    ``num_partitions`` (all Ray functions here) is the shuffle's partition count; None lets Ray
    choose (its default suits clusters; small jobs and tests run faster with a few).
    """
    edges = ray_grouped(ds, [column], _explode_exact, {"column": column}, [_KEY], _key_edges, {}, num_partitions)
    return _removals(edges, method or f"exact_{column}_v1")


def ray_phash_duplicates(ds: ray.data.Dataset, max_distance: int = PHASH_MAX_DISTANCE,
                         num_partitions: int | None = None) -> pa.Table:
    """:func:`phash_duplicates` over a Ray Dataset: ``groupby([band, band value])`` finds candidates."""
    edges = ray_grouped(ds, [PHASH], _explode_phash, {"max_distance": max_distance}, [_BAND, _KEY],
                         _band_edges, {"verify": _hamming_ok(max_distance)}, num_partitions)
    return _removals(edges, "phash_v1")


def ray_video_phash_duplicates(ds: ray.data.Dataset, max_distance: int = VIDEO_PHASH_MAX_DISTANCE,
                               num_partitions: int | None = None) -> pa.Table:
    """:func:`video_phash_duplicates` over a Ray Dataset: ``groupby([anchor band, band value])``."""
    edges = ray_grouped(ds, [VIDEO_PHASH], _explode_video_phash, {"max_distance": max_distance}, [_BAND, _KEY],
                         _band_edges, {"verify": _sequence_ok(max_distance)}, num_partitions)
    return _removals(edges, "video_phash_v1")


def ray_minhash_duplicates(ds: ray.data.Dataset, threshold: float = 0.7, verify: bool = True,
                           num_partitions: int | None = None) -> pa.Table:
    """:func:`minhash_duplicates` over a Ray Dataset: ``groupby(band key)`` finds candidates.

    With ``verify`` every exploded row carries its signature (``bands`` copies: 8 KB per caption at
    128 perms x 16 bands); without it, any shared band is an edge, as in datatrove and NeMo Curator.
    """
    edges = ray_grouped(ds, [MINHASH_SIGNATURE, MINHASH_BANDS], _explode_minhash, {"verify": verify}, [_KEY],
                         _band_edges, {"verify": _jaccard_ok(threshold) if verify else None}, num_partitions)
    return _removals(edges, "minhash_v1")


def _with_cluster(table: pa.Table, column: str, centroids: np.ndarray) -> pa.Table:
    emb = table.column(column).combine_chunks()
    x = emb.flatten().to_numpy(zero_copy_only=False).reshape(len(emb), -1)
    return table.append_column(_CLUSTER, pa.array(assign_clusters(x, centroids), pa.int64()))


def ray_semantic_duplicates(ds: ray.data.Dataset, column: str = "embedding", config: SemDeDupConfig | None = None,
                            train_rows: int = 256_000, num_partitions: int | None = None) -> pa.Table:
    """SemDeDup on Ray: k-means on a sample of at most ``train_rows``, clusters in parallel.

    ``train_rows`` bounds the driver-side training set (FAISS subsamples to 256 points per centroid
    anyway); assignment runs in ``map_batches`` and each cluster's exact search in ``map_groups``.
    """
    config = config or SemDeDupConfig()
    n = ds.count()
    sample = ds.select_columns([column])
    if n > train_rows:
        sample = sample.random_sample(train_rows / n, seed=config.seed)
    parts = [b.column(column).combine_chunks() for b in sample.iter_batches(batch_format="pyarrow", batch_size=None)]
    x = np.concatenate([p.flatten().to_numpy(zero_copy_only=False).reshape(len(p), -1) for p in parts if len(p)])
    centroids = train_centroids(x, config)
    prepared = ds.map_batches(_prepared, batch_format="pyarrow", fn_kwargs={"columns": [column]})
    clustered = prepared.map_batches(_with_cluster, batch_format="pyarrow",
                                     fn_kwargs={"column": column, "centroids": centroids})
    edges = clustered.groupby(_CLUSTER, num_partitions=num_partitions).map_groups(_cluster_edges, batch_format="pyarrow",
                                                   fn_kwargs={"column": column, "eps": config.eps})
    return _removals(_gather(edges), "semdedup_v1")
