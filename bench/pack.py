"""Benchmark (not a test): FFD packing of 1M samples, segment tree vs the naive O(n * bins) loop.

Lengths are a realistic mixed-modal draw: 70 % image-text (~600 tokens), 20 % instruction (~1,800),
10 % video (~7,000), log-normal (sigma 0.5), clipped to the context. The naive first-fit loop is timed
on a subsample (default 20k) and its 1M time extrapolated quadratically in n, since it scans ~bins
(proportional to n) per item. Usage::

    .venv/bin/python bench/pack.py [--n 1000000] [--context 16384] [--naive-n 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# `python bench/pack.py` puts bench/ first on sys.path, where a sibling script named like a stdlib module
# (bench/tokenize.py) would shadow it for pandas/pyarrow; this script needs nothing from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from mmcurate.pipeline.mixture.packing import ffd_assign, naive_first_fit, pack_table  # noqa: E402


def realistic_lengths(n: int, context: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    mu = np.array([np.log(600), np.log(1800), np.log(7000)])[kind]
    return np.clip(rng.lognormal(mu, 0.5), 16, context).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--context", type=int, default=16384)
    ap.add_argument("--naive-n", type=int, default=20_000)
    args = ap.parse_args()

    lengths = realistic_lengths(args.n, args.context)
    t0 = time.perf_counter()
    _, bins = ffd_assign(lengths, args.context)
    fast_s = time.perf_counter() - t0
    eff = lengths.sum() / (bins * args.context)
    print(f"segment-tree FFD: n={args.n:,} bins={bins:,} {fast_s:.2f}s = {args.n / fast_s:,.0f} samples/s, "
          f"efficiency {eff:.4f}")

    sub = lengths[: args.naive_n]
    t0 = time.perf_counter()
    a_naive, bins_naive = naive_first_fit(sub, args.context)
    naive_s = time.perf_counter() - t0
    a_fast, bins_fast = ffd_assign(sub, args.context)
    assert bins_fast == bins_naive and np.array_equal(a_fast, a_naive), "fast FFD differs from the naive loop"
    naive_full = naive_s * (args.n / args.naive_n) ** 2
    print(f"naive first-fit : n={args.naive_n:,} {naive_s:.2f}s = {args.naive_n / naive_s:,.0f} samples/s "
          f"(same bins: {bins_naive:,}); extrapolated to n={args.n:,}: {naive_full:,.0f}s")
    print(f"speed-up at n={args.n:,}: {naive_full / fast_s:,.0f}x")

    t0 = time.perf_counter()
    table = pa.table({"sample_id": pa.array([f"s{i}" for i in range(args.n)]), "tokens_total": lengths})
    result = pack_table(table, args.context)
    print(f"pack_table (FFD + cu_seqlens + Arrow packs): {time.perf_counter() - t0:.2f}s, "
          f"{result.packs.num_rows:,} packs, efficiency {result.efficiency:.4f}")


if __name__ == "__main__":
    main()
