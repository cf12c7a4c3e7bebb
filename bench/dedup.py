"""Dedup benchmark (not a test): MinHash-LSH vs datasketch, SemDeDup vs exact search, one run.

(a) Caption MinHash signatures + LSH candidate grouping, docs/s on one core: mmcurate's vectorised
    ``MinHasher`` + banded grouping vs a plain datasketch loop (``MinHash.update`` per shingle,
    ``MinHashLSH.insert``) over the same texts and shingles; also datasketch's ``update_batch``.
    Signatures are checked equal on the timed texts.
(b) SemDeDup on N x 512 float16 embeddings (planted near-duplicates): k-means + per-cluster search,
    time and embeddings/s, vs exact all-pairs search (FAISS flat inner-product exact
    top-16 search of a query subsample against all N, extrapolated to N queries), plus SemDeDup's recall on that subsample.

    .venv/bin/python bench/dedup.py --n 200000 --docs 20000
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import time

import numpy as np


def caption_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` caption-length windows (8-40 words) of real English from stdlib docstrings, 5% near copies."""
    import collections, email, json, logging, pathlib, subprocess, tarfile, threading  # noqa: E401

    words: list[str] = []
    for module in (os, json, collections, logging, subprocess, tarfile, threading, pathlib, email, random):
        for _, obj in sorted(vars(module).items()):
            doc = inspect.getdoc(obj) if inspect.isfunction(obj) or inspect.isclass(obj) else None
            words.extend((doc or "").split())
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        if texts and rng.random() < 0.05:
            copy = texts[rng.randrange(len(texts))].split()
            copy[rng.randrange(len(copy))] = "photo"
            texts.append(" ".join(copy))
            continue
        start, length = rng.randrange(len(words) - 40), rng.randint(8, 40)
        texts.append(" ".join(words[start : start + length]))
    return texts


def bench_minhash(n_docs: int, num_perm: int, bands: int, ngram: int) -> None:
    from datasketch import MinHash, MinHashLSH

    from mmcurate.pipeline.dedup.clusters import pair_edges_within_groups
    from mmcurate.pipeline.dedup.minhash import MinHasher, word_shingles

    texts = caption_corpus(n_docs)
    hasher = MinHasher(num_perm=num_perm, bands=bands, ngram=ngram)
    hasher.signatures(texts[:100])  # warm: permutations, allocator
    t0 = time.perf_counter()
    sigs, valid = hasher.signatures(texts)
    keys = hasher.band_keys(sigs)[valid]
    pairs = sum(len(pair_edges_within_groups(keys[:, b])) for b in range(bands))
    ours = time.perf_counter() - t0

    n_ref = min(n_docs, 5000)  # datasketch is slow; time a prefix and report the rate
    t0 = time.perf_counter()
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, num_perm // bands))
    ref = []
    for i, text in enumerate(texts[:n_ref]):
        m = MinHash(num_perm=num_perm)
        for shingle in word_shingles(text, ngram):
            m.update(shingle)
        lsh.insert(str(i), m)
        ref.append(m.hashvalues)
    loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    for text in texts[:n_ref]:
        m = MinHash(num_perm=num_perm)
        m.update_batch(word_shingles(text, ngram))
    batch = time.perf_counter() - t0
    assert np.array_equal(np.asarray(ref, dtype=np.uint32), sigs[:n_ref]), "signatures differ from datasketch"

    words = np.mean([len(t.split()) for t in texts])
    print(f"(a) MinHash+LSH, {n_docs} captions (mean {words:.0f} words), {ngram}-grams, {num_perm} perm, "
          f"{bands} bands, 1 process")
    print(f"    mmcurate        {n_docs / ours:>10,.0f} docs/s   ({pairs} band-candidate pairs)")
    print(f"    datasketch loop {n_ref / loop:>10,.0f} docs/s   (update per shingle + MinHashLSH.insert)")
    print(f"    datasketch batch{n_ref / batch:>10,.0f} docs/s   (update_batch, signatures only)")
    print(f"    ratio vs loop   {loop / n_ref / (ours / n_docs):>10.1f}x   vs update_batch "
          f"{batch / n_ref / (ours / n_docs):.1f}x   (signatures identical)")


def planted(n: int, dim: int, dup_fraction: float, seed: int = 0) -> np.ndarray:
    """Unit float16 rows from a 2,000-mode mixture; ``dup_fraction`` of rows are copies at cos ~0.99."""
    rng = np.random.default_rng(seed)
    modes = rng.standard_normal((2000, dim)).astype(np.float32)
    emb = modes[rng.integers(0, len(modes), n)] * 0.5 + rng.standard_normal((n, dim)).astype(np.float32)
    n_dup = int(n * dup_fraction)
    src = rng.integers(0, n - n_dup, n_dup)
    emb[n - n_dup :] = emb[src] + rng.standard_normal((n_dup, dim)).astype(np.float32) * 0.1
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb.astype(np.float16)


def bench_semdedup(n: int, dim: int, n_clusters: int, eps: float, n_queries: int) -> None:
    import faiss

    from mmcurate.pipeline.dedup.semdedup import (
        SemDeDupConfig, assign_clusters, l2_normalize, semantic_duplicate_edges, train_centroids)

    emb = planted(n, dim, 0.05)
    config = SemDeDupConfig(n_clusters=n_clusters, eps=eps, niter=20)
    t0 = time.perf_counter()
    centroids = train_centroids(emb, config)
    t_train = time.perf_counter() - t0
    t1 = time.perf_counter()
    labels = assign_clusters(emb, centroids)
    t_assign = time.perf_counter() - t1
    edges = semantic_duplicate_edges(emb, config, centroids=centroids)
    total = time.perf_counter() - t0
    t_search = total - t_train - 2 * t_assign  # semantic_duplicate_edges re-assigns once
    removed = len(edges)

    x = l2_normalize(emb)
    index = faiss.IndexFlatIP(dim)
    index.add(x)
    rng = np.random.default_rng(1)
    queries = rng.choice(n, n_queries, replace=False)
    t0 = time.perf_counter()
    index.search(x[queries], 16)  # the timed baseline: GEMM-backed exact top-16, then a threshold
    brute = time.perf_counter() - t0
    lims, _, found = index.range_search(x[queries], 1.0 - eps)  # ground truth, untimed
    true_pairs = {(int(q), int(j)) for k, q in enumerate(queries) for j in found[lims[k] : lims[k + 1]] if j != q}
    comp = np.arange(n)
    comp[edges[:, 1]] = edges[:, 0]  # star edges: member -> root of its cluster-local component
    hit = sum(comp[a] == comp[b] for a, b in true_pairs)
    print(f"(b) SemDeDup, {n:,} x {dim} float16, k={centroids.shape[0]}, eps={eps}, "
          f"{faiss.omp_get_max_threads()} FAISS threads, {os.cpu_count()} CPUs")
    print(f"    end-to-end {total:8.1f} s = {n / total:>10,.0f} emb/s  (train {t_train:.1f} s, assign "
          f"{t_assign:.1f} s, in-cluster search ~{t_search:.1f} s); {removed:,} rows marked duplicate "
          f"(planted {int(n * 0.05):,})")
    est = brute / n_queries * n
    print(f"    exact kNN (top-16) {n_queries} queries vs all {n:,}: {brute:.1f} s -> {n_queries / brute:,.0f} q/s; "
          f"all {n:,} queries extrapolated {est:,.0f} s ({est / total:.1f}x SemDeDup)")
    print(f"    SemDeDup recall of the exact pairs on that subsample: {hit}/{len(true_pairs)} "
          f"= {hit / max(1, len(true_pairs)):.3f}")
    _ = labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="embeddings for SemDeDup")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--queries", type=int, default=2000, help="brute-force subsample")
    parser.add_argument("--docs", type=int, default=20_000, help="captions for MinHash")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--bands", type=int, default=16)
    parser.add_argument("--ngram", type=int, default=3)
    args = parser.parse_args()
    bench_minhash(args.docs, args.num_perm, args.bands, args.ngram)
    bench_semdedup(args.n, args.dim, args.clusters, args.eps, args.queries)


if __name__ == "__main__":
    main()
