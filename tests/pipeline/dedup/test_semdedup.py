"""SemDeDup on synthetic embeddings with planted near-duplicates."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dedup_helpers import precision_recall, predicted_pairs, true_pairs

from mmcurate.pipeline.dedup.global_dedup import semantic_duplicates
from mmcurate.pipeline.dedup.semdedup import (
    SemDeDupConfig,
    assign_clusters,
    cluster_duplicate_edges,
    semantic_duplicate_edges,
    train_centroids,
)


def planted_embeddings(n_base: int = 3000, n_dup_bases: int = 300, dim: int = 64, seed: int = 0):
    """Unit vectors; ``n_dup_bases`` of them get 1-3 copies at cosine ~0.99 (eps 0.05 catches them)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_base, dim)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    rows, groups = [base], [f"g{i}" for i in range(n_base)]
    for i in range(n_dup_bases):
        for _ in range(rng.integers(1, 4)):
            noisy = base[i] + rng.standard_normal(dim).astype(np.float32) * 0.012
            rows.append(noisy[None, :])
            groups.append(f"g{i}")
    emb = np.concatenate(rows).astype(np.float16)
    order = rng.permutation(len(emb))
    ids = [f"e{k:05d}" for k in range(len(emb))]
    return emb[order], ids, {ids[k]: groups[order[k]] for k in range(len(emb))}


def embedding_table(emb: np.ndarray, ids: list[str]) -> pa.Table:
    values = pa.array(emb.ravel(), pa.float16())
    return pa.table({"sample_id": ids, "embedding": pa.FixedSizeListArray.from_arrays(values, emb.shape[1])})


def test_cluster_edges_are_exact_within_a_cluster() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 16)).astype(np.float32)
    x[100] = x[7] * 1.0001
    x[300] = x[100] + 1e-4
    edges = cluster_duplicate_edges(x, eps=0.01, block_rows=64)
    assert sorted(map(tuple, edges.tolist())) == [(7, 100), (7, 300)]


def test_semdedup_precision_recall() -> None:
    emb, ids, groups = planted_embeddings()
    removals = semantic_duplicates(embedding_table(emb, ids), config=SemDeDupConfig(n_clusters=20, eps=0.05))
    precision, recall = precision_recall(predicted_pairs(removals, ids), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert set(removals.column("dedup_method").to_pylist()) == {"semdedup_v1"}


def test_threaded_cluster_search_returns_the_same_edges_in_the_same_order() -> None:
    emb, _, _ = planted_embeddings(n_base=1500, n_dup_bases=200)
    config = SemDeDupConfig(n_clusters=12, eps=0.05)
    centroids = train_centroids(emb, config)
    one = semantic_duplicate_edges(emb, config, centroids=centroids, threads=1)
    labels = assign_clusters(emb, centroids)
    four = semantic_duplicate_edges(emb, config, labels=labels, threads=4)
    assert len(one) >= 200 and np.array_equal(one, four)
