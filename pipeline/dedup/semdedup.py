"""SemDeDup: semantic near-duplicates from embeddings, by k-means then exact search inside clusters.

Abbas et al. (arXiv 2303.09540): L2-normalise the embeddings, cluster them with spherical k-means,
and inside each cluster call two items duplicates when their cosine similarity is at least
``1 - eps``. Clustering turns an ``N^2`` all-pairs problem into ``sum(m_c^2) ~ N^2 / k`` — for
1M items and k = 1,000 that is 1,000x less work — at the price of missing the rare pair that k-means
puts in two clusters (both points sit near a boundary; at eps <= 0.1 such pairs are nearly
identical and almost always co-assigned).

Pieces, usable without Ray:

* :func:`train_centroids` — FAISS k-means (spherical, on a seeded sample of at most
  ``max_points_per_centroid * k`` points, drawn before the float32 copy, as FAISS would subsample).
* :func:`assign_clusters` — nearest centroid by inner product (FAISS flat index, batched).
* :func:`cluster_duplicate_edges` — one cluster's duplicate graph, reduced to star edges of its
  connected components (``m - 1`` edges however dense the duplicates are), computed with blocked
  float32 GEMMs so a 50k-member cluster never materialises a 50k x 50k matrix.
* :func:`semantic_duplicate_edges` — the whole thing on one machine, cluster after cluster.

The Ray layer (:func:`mmcurate.pipeline.dedup.ray_dedup.ray_semantic_duplicates`) trains on a
sample, assigns in ``map_batches`` and runs :func:`cluster_duplicate_edges` per cluster in
``groupby("cluster").map_groups``, so clusters are processed in parallel across workers.

Unlike the paper, which keeps the member farthest from the centroid, membership is resolved by
connected components and the keep choice is the shared :class:`~.policy.KeepPolicy`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mmcurate.pipeline.dedup.clusters import connected_components

__all__ = [
    "SemDeDupConfig",
    "l2_normalize",
    "train_centroids",
    "assign_clusters",
    "cluster_duplicate_edges",
    "semantic_duplicate_edges",
    "single_threaded_blas",
]


@dataclass(frozen=True, kw_only=True)
class SemDeDupConfig:
    """SemDeDup's knobs; defaults follow NeMo Curator (eps 0.01-0.07) at a small cluster count."""

    n_clusters: int = 1000
    eps: float = 0.05  # duplicates: cosine >= 1 - eps
    niter: int = 20
    seed: int = 0
    max_points_per_centroid: int = 256  # FAISS's own training subsample cap
    min_points_per_centroid: int = 40  # fewer clusters than n / 40 would leave FAISS under-trained
    block_rows: int = 2048  # rows per similarity GEMM block inside a cluster

    def __post_init__(self) -> None:
        if not 0.0 <= self.eps < 1.0:
            raise ValueError(f"eps must be in [0, 1), got {self.eps}")
        if self.n_clusters < 1 or self.niter < 1:
            raise ValueError("n_clusters and niter must be >= 1")

    def clusters_for(self, n: int) -> int:
        """The cluster count actually used for ``n`` points."""
        return max(1, min(self.n_clusters, n // self.min_points_per_centroid))


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block inside with one BLAS/OpenMP thread.

    In-cluster GEMMs are small (a few hundred rows); multi-threaded OpenBLAS spins on them, and on a
    shared or oversubscribed host (two Ray tasks per core, neighbours on a 2-vCPU box) we measured
    200x512 products 37x *slower* with threads than without. Parallelism comes from clusters (Ray
    tasks), not from BLAS. Uses ``threadpoolctl`` when installed, else leaves threads alone.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    """Float32 copy of ``embeddings`` with unit rows (zero rows stay zero)."""
    x = np.array(embeddings, dtype=np.float32)  # always a copy, so dividing in place is safe
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
    return x


def train_centroids(embeddings: np.ndarray, config: SemDeDupConfig) -> np.ndarray:
    """``(k, d)`` unit-norm centroids from spherical FAISS k-means on (a sample of) ``embeddings``."""
    import faiss

    k = config.clusters_for(len(embeddings))
    cap = config.max_points_per_centroid * k
    if len(embeddings) > cap:
        # Sample here rather than let FAISS do it: FAISS would subsample only after we had made a
        # float32 unit copy of every row (2 GB at 1M x 512, 4 GB transient), for 25% of them.
        rows = np.sort(np.random.default_rng(config.seed).choice(len(embeddings), cap, replace=False))
        embeddings = embeddings[rows]
    x = l2_normalize(embeddings)
    if k == 1:
        centroid = x.mean(axis=0, keepdims=True)
        return l2_normalize(centroid)
    kmeans = faiss.Kmeans(
        x.shape[1], k, niter=config.niter, seed=config.seed, spherical=True,
        max_points_per_centroid=config.max_points_per_centroid, verbose=False,
    )
    kmeans.train(x)
    return np.asarray(kmeans.centroids, dtype=np.float32)


def assign_clusters(embeddings: np.ndarray, centroids: np.ndarray, batch: int = 65536) -> np.ndarray:
    """Nearest-centroid (max inner product) cluster id per row, int64."""
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    labels = np.empty(len(embeddings), dtype=np.int64)
    for lo in range(0, len(embeddings), batch):
        _, nearest = index.search(l2_normalize(embeddings[lo : lo + batch]), 1)
        labels[lo : lo + batch] = nearest[:, 0]
    return labels


def cluster_duplicate_edges(embeddings: np.ndarray, eps: float, block_rows: int = 2048) -> np.ndarray:
    """Local ``(root, member)`` index pairs joining each duplicate component of one cluster.

    Every pair with cosine >= ``1 - eps`` is found exactly (blocked ``X_i @ X.T``, upper triangle);
    the resulting graph is collapsed to star edges from each component's smallest index.
    """
    x = l2_normalize(embeddings)
    m = len(x)
    if m < 2:
        return np.zeros((0, 2), dtype=np.int64)
    threshold = np.float32(1.0 - eps)
    found: list[np.ndarray] = []
    for lo in range(0, m, block_rows):
        # Only columns to the right of the block's first row can hold an upper-triangle pair.
        sims = x[lo : lo + block_rows] @ x[lo:].T
        rows, cols = np.nonzero(sims >= threshold)
        rows, cols = rows + lo, cols + lo
        upper = cols > rows
        found.append(np.stack([rows[upper], cols[upper]], axis=1))
    edges = np.concatenate(found)
    if len(edges) == 0:
        return edges.astype(np.int64)
    labels = connected_components(m, edges)
    members = np.flatnonzero(labels != np.arange(m))
    return np.stack([labels[members], members], axis=1).astype(np.int64)


def semantic_duplicate_edges(
    embeddings: np.ndarray, config: SemDeDupConfig, centroids: np.ndarray | None = None,
    labels: np.ndarray | None = None, threads: int | None = None,
) -> np.ndarray:
    """Global ``(i, j)`` row-index edges of all semantic duplicates, on one machine.

    ``centroids`` / ``labels`` skip training / assignment when the caller already has them. Clusters
    are searched on ``threads`` threads (default: one per CPU), each with single-threaded BLAS: the
    GEMMs release the GIL, so this is the one-machine twin of Ray's one-task-per-cluster parallelism.
    The edges come back in cluster order whatever the thread count.
    """
    if labels is None:
        if centroids is None:
            centroids = train_centroids(embeddings, config)
        labels = assign_clusters(embeddings, centroids)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order], prepend=-1, append=-1))

    def search(lo: int, hi: int) -> np.ndarray:
        rows = order[lo:hi]
        local = cluster_duplicate_edges(embeddings[rows], config.eps, config.block_rows)
        return rows[local]

    with single_threaded_blas(), ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        parts = [p for p in pool.map(search, bounds[:-1], bounds[1:]) if len(p)]
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
