"""Dedup benchmark (not a test): MinHash-LSH vs datasketch, SemDeDup vs exact search, one run.

(a) Caption MinHash signatures + LSH candidate grouping, docs/s on one core: mmcurate's vectorised
    ``MinHasher`` + banded grouping vs a plain datasketch loop (``MinHash.update`` per shingle,
    ``MinHashLSH.insert``) over the same texts and shingles; also datasketch's ``update_batch``.
    Signatures are checked equal on the timed texts.
(b) SemDeDup on N x 512 float16 embeddings (planted near-duplicates): k-means + per-cluster search,
    time and embeddings/s, vs exact all-pairs search (FAISS flat inner-product exact
    top-16 search of a query subsample against all N, extrapolated to N queries), plus SemDeDup's recall on that
    subsample and SemDeDup's peak resident memory (sampled RSS during the run; process ru_maxrss after it).
(c) Perceptual near-duplicate search on N 64-bit hashes (uniform random, 5% planted copies with 0..d bits
    flipped): banded-LSH ``near_duplicate_pairs`` on all N vs numpy all-pairs Hamming on a 10k subset,
    extrapolated to N (x N^2 / 10k^2); the two are checked to return the same pairs on the subset.

    .venv/bin/python bench/dedup.py --n 1000000 --hashes 1000000 --docs 20000
"""

from __future__ import annotations

import argparse
import inspect
import os
import random
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

GIB = 2**30


@contextmanager
def peak_rss(every_s: float = 0.02) -> Iterator[dict[str, float]]:
    """Sample this process's RSS in a thread; ``out["peak"]`` / ``out["start"]`` in bytes after the block.

    ru_maxrss alone is the peak of the whole process (data generation included), so the block's own peak
    is sampled; FAISS and numpy release the GIL in their kernels, so the sampler keeps running.
    """
    import psutil

    proc, out, stop = psutil.Process(), {}, threading.Event()
    out["start"] = out["peak"] = float(proc.memory_info().rss)

    def sample() -> None:
        while not stop.wait(every_s):
            out["peak"] = max(out["peak"], float(proc.memory_info().rss))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak"] = max(out["peak"], float(proc.memory_info().rss))


def max_rss_bytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # KiB on Linux


def caption_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` caption-length windows (8-40 words) of real English from stdlib docstrings, 5% near copies."""
    import collections  # noqa: E401
    import email
    import json
    import logging
    import pathlib
    import subprocess
    import tarfile
    import threading

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
        SemDeDupConfig,
        assign_clusters,
        l2_normalize,
        semantic_duplicate_edges,
        train_centroids,
    )

    emb = planted(n, dim, 0.05)
    config = SemDeDupConfig(n_clusters=n_clusters, eps=eps, niter=20)
    clock: dict[str, tuple[float, float]] = {}  # phase -> (wall s, CPU s of this process)

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        yield
        clock[name] = (time.perf_counter() - w, time.process_time() - c)

    with peak_rss() as mem:
        with phase("train"):
            centroids = train_centroids(emb, config)
        with phase("assign"):
            labels = assign_clusters(emb, centroids)
        with phase("search"):
            edges = semantic_duplicate_edges(emb, config, labels=labels)
    maxrss = max_rss_bytes()
    total, cpu = sum(w for w, _ in clock.values()), sum(c for _, c in clock.values())
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
    print(f"    end-to-end {total:8.1f} s wall = {n / total:>10,.0f} emb/s; {removed:,} rows marked duplicate "
          f"(planted {int(n * 0.05):,})")
    print("    phases (wall / CPU of this process; CPU ~ wall x cores used on an idle box): " + ", ".join(
        f"{name} {w:.1f} s / {c:.1f} s" for name, (w, c) in clock.items()) + f"; total CPU {cpu:.1f} s")
    print(f"    peak RSS during SemDeDup {mem['peak'] / GIB:.2f} GiB (input {emb.nbytes / GIB:.2f} GiB float16; "
          f"RSS at start {mem['start'] / GIB:.2f} GiB, +{(mem['peak'] - mem['start']) / GIB:.2f} GiB); "
          f"process ru_maxrss so far {maxrss / GIB:.2f} GiB (incl. data generation)")
    est = brute / n_queries * n
    print(f"    exact kNN (top-16) {n_queries} queries vs all {n:,}: {brute:.1f} s -> {n_queries / brute:,.0f} q/s; "
          f"all {n:,} queries extrapolated {est:,.0f} s ({est / total:.1f}x SemDeDup)")
    print(f"    SemDeDup recall of the exact pairs on that subsample: {hit}/{len(true_pairs)} "
          f"= {hit / max(1, len(true_pairs)):.3f}")


def planted_hashes(n: int, max_distance: int, dup_fraction: float = 0.05,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform 64-bit hashes, the last ``dup_fraction`` copies with 0..d bits flipped; also their sources."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    n_dup = int(n * dup_fraction)
    src = rng.integers(0, n - n_dup, n_dup)
    flips = np.zeros(n_dup, np.uint64)
    n_flips = rng.integers(0, max_distance + 1, n_dup)
    for k in range(1, max_distance + 1):  # k distinct random bits for the rows with n_flips >= k
        rows = np.flatnonzero(n_flips >= k)
        while len(rows):
            bit = np.uint64(1) << rng.integers(0, 64, len(rows)).astype(np.uint64)
            fresh = (flips[rows] & bit) == 0
            flips[rows[fresh]] |= bit[fresh]
            rows = rows[~fresh]
    hashes[n - n_dup :] = hashes[src] ^ flips
    return hashes, src


def brute_force_pairs(hashes: np.ndarray, max_distance: int, block: int = 1024) -> np.ndarray:
    """All ``(i, j)``, ``i < j``, within ``max_distance`` bits: numpy XOR + popcount over every pair."""
    found = []
    for lo in range(0, len(hashes), block):
        dist = np.bitwise_count(hashes[lo : lo + block, None] ^ hashes[None, :])
        i, j = np.nonzero(dist <= max_distance)
        i += lo
        found.append(np.stack([i[j > i], j[j > i]], axis=1))
    return np.concatenate(found).astype(np.int64)


def bench_phash(n: int, max_distance: int, n_brute: int) -> None:
    from mmcurate.pipeline.dedup.phash import near_duplicate_pairs

    hashes, src = planted_hashes(n, max_distance)
    with peak_rss() as mem:
        t0 = time.perf_counter()
        pairs = near_duplicate_pairs(hashes, max_distance)
        ours = time.perf_counter() - t0
    # The subset: random rows plus 5% planted copies with their sources, so the check has pairs to compare
    # (a uniform 10k sample of 1M would hold almost no copy together with its source).
    rng = np.random.default_rng(2)
    copies = rng.choice(len(src), n_brute // 40, replace=False)
    subset = np.unique(np.concatenate([n - len(src) + copies, src[copies]]))
    rest = np.setdiff1d(rng.choice(n, n_brute, replace=False), subset)[: n_brute - len(subset)]
    subset = np.sort(np.concatenate([subset, rest]))
    t0 = time.perf_counter()
    brute = brute_force_pairs(hashes[subset], max_distance)
    t_brute = time.perf_counter() - t0
    banded_subset = near_duplicate_pairs(hashes[subset], max_distance)
    same = {tuple(p) for p in brute.tolist()} == {tuple(p) for p in banded_subset.tolist()}
    est = t_brute * (n / n_brute) ** 2
    print(f"(c) pHash near-duplicate search, {n:,} 64-bit hashes (uniform, {int(n * 0.05):,} planted copies "
          f"with 0..{max_distance} flipped bits), max_distance={max_distance} ({max_distance + 1} bands), 1 process")
    print(f"    mmcurate banded LSH on all {n:,}: {ours:.1f} s = {n / ours:>10,.0f} hashes/s, {len(pairs):,} pairs, "
          f"peak RSS +{(mem['peak'] - mem['start']) / GIB:.2f} GiB")
    print(f"    numpy brute force on {n_brute:,}: {t_brute:.2f} s ({len(brute):,} pairs; banded gives the same set "
          f"on it: {same}); EXTRAPOLATED to {n:,}: ~{est:,.0f} s ({est / ours:,.0f}x banded)")


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
    parser.add_argument("--hashes", type=int, default=1_000_000, help="pHashes for near-duplicate search")
    parser.add_argument("--phash-distance", type=int, default=4, help="Hamming radius (the job default is 4)")
    parser.add_argument("--brute", type=int, default=10_000, help="brute-force pHash subset")
    parser.add_argument("--sections", default="abc", help="which of a, b, c to run (all by default)")
    args = parser.parse_args()
    if "a" in args.sections:
        bench_minhash(args.docs, args.num_perm, args.bands, args.ngram)
    if "b" in args.sections:
        bench_semdedup(args.n, args.dim, args.clusters, args.eps, args.queries)
    if "c" in args.sections:
        bench_phash(args.hashes, args.phash_distance, args.brute)


if __name__ == "__main__":
    main()
