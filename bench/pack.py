"""Benchmark (not a test): our FFD packer vs ``binpacking.to_constant_volume``, side by side.

``binpacking.to_constant_volume`` is what Qwen's VL fine-tuning tool packs with. Despite the name
"constant volume" it is a *worst-fit* decreasing greedy (v2.0.1 source: sort decreasing, then put each
item into the least-loaded bin it fits, found by scanning every open bin), so it is O(n * bins) = O(n^2)
in pure Python. Ours (:func:`~mmcurate.pipeline.mixture.packing.ffd_assign`) is first-fit decreasing
with a segment tree, O(n log n). It is called as a packer needs it, on ``(index, length)`` tuples
with ``weight_pos=1``, so the result says which sample lands in which pack.

Lengths are a realistic mixed-modal draw: 70 % image-text (~600 tokens), 20 % instruction (~1,800),
10 % video (~7,000), log-normal (sigma 0.5), clipped to the context. Rows:

* ours on all ``--n`` lengths: the assignment alone, then ``pack_table`` (assignment + cu_seqlens + Arrow);
* on the first ``--baseline-n`` lengths (the same lengths for every row): ours, ``binpacking``, and the
  textbook first-fit loop (``naive_first_fit``), which must give ours' exact assignment: it shows a bin
  count difference to ``binpacking`` comes from the policy (first vs worst fit), not from the tree;
* ``binpacking`` at ``--n``: **extrapolated**, not run: its subsample time x (n / baseline_n) ** 2; the
  exponent measured between baseline_n / 2 and baseline_n is printed to check that assumption.

Efficiency = packed tokens / (bins x context). Usage::

    .venv/bin/python bench/pack.py [--n 1000000] [--context 16384] [--baseline-n 20000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# `python bench/pack.py` puts bench/ first on sys.path, where a sibling script named like a stdlib module
# (bench/tokenize.py) would shadow it for pandas/pyarrow; this script needs nothing from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import binpacking  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from mmcurate.pipeline.mixture.packing import ffd_assign, naive_first_fit, pack_table  # noqa: E402


def realistic_lengths(n: int, context: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    mu = np.array([np.log(600), np.log(1800), np.log(7000)])[kind]
    return np.clip(rng.lognormal(mu, 0.5), 16, context).astype(np.int64)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def binpacking_assign(lengths: np.ndarray, context: int) -> int:
    """Bins used by ``binpacking.to_constant_volume`` on ``(index, length)`` items; checks it kept every item."""
    bins = binpacking.to_constant_volume(list(enumerate(lengths.tolist())), context, weight_pos=1)
    placed = [i for b in bins for i, _ in b]
    assert sorted(placed) == list(range(len(lengths))) and all(sum(w for _, w in b) <= context for b in bins)
    return len(bins)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--context", type=int, default=16384)
    ap.add_argument("--baseline-n", type=int, default=20_000, help="subsample for binpacking and the naive loop")
    args = ap.parse_args()
    n, ctx, sub_n = args.n, args.context, min(args.baseline_n, args.n)

    lengths = realistic_lengths(n, ctx)
    sub = lengths[:sub_n]
    header = f"{'packer':<44}{'n':>11}{'time_s':>11}{'samples/s':>13}{'bins':>10}{'efficiency':>12}"
    print(f"context {ctx:,}; lengths: n={n:,}, mean {lengths.mean():,.0f}, median {np.median(lengths):,.0f}, "
          f"max {lengths.max():,} tokens")
    print(header)
    print("-" * len(header))

    def row(name: str, count: int, seconds: float, bins: int, tokens: int, note: str = "") -> None:
        eff = f"{tokens / (bins * ctx):.4f}" if bins else "n/a"
        print(f"{name:<44}{count:>11,}{seconds:>11.2f}{count / seconds:>13,.0f}{bins or 0:>10,}{eff:>12}{note}")

    (_, bins_all), fast_s = timed(lambda: ffd_assign(lengths, ctx))
    row("mmcurate ffd_assign (segment-tree FFD)", n, fast_s, bins_all, int(lengths.sum()))
    table = pa.table({"sample_id": pa.array([f"s{i}" for i in range(n)]), "tokens_total": lengths})
    result, pack_s = timed(lambda: pack_table(table, ctx))
    row("mmcurate pack_table (+ cu_seqlens, Arrow)", n, pack_s, result.packs.num_rows, int(lengths.sum()))

    (a_fast, bins_fast), sub_fast_s = timed(lambda: ffd_assign(sub, ctx))
    bins_bp, bp_s = timed(lambda: binpacking_assign(sub, ctx))
    (a_naive, bins_naive), naive_s = timed(lambda: naive_first_fit(sub, ctx))
    assert bins_fast == bins_naive and np.array_equal(a_fast, a_naive), "segment-tree FFD differs from the naive loop"
    row("mmcurate ffd_assign (segment-tree FFD)", sub_n, sub_fast_s, bins_fast, int(sub.sum()))
    row("binpacking.to_constant_volume (worst fit)", sub_n, bp_s, bins_bp, int(sub.sum()))
    row("naive first-fit loop (textbook FFD)", sub_n, naive_s, bins_naive, int(sub.sum()), "  same bins as ours")

    half = sub[: sub_n // 2]
    _, bp_half_s = timed(lambda: binpacking_assign(half, ctx))
    exponent = math.log(bp_s / bp_half_s, 2) if bp_half_s > 0 else float("nan")
    bp_full_s = bp_s * (n / sub_n) ** 2
    print(f"{'binpacking at n, EXTRAPOLATED (x (n/sub)^2)':<44}{n:>11,}{bp_full_s:>11,.0f}{n / bp_full_s:>13,.0f}"
          f"{'-':>10}{'-':>12}  measured exponent {exponent:.2f} ({sub_n // 2:,} -> {sub_n:,})")
    print()
    print(f"same {sub_n:,} lengths: ours / binpacking samples/s = {bp_s / sub_fast_s:,.0f}x; "
          f"bins {bins_fast:,} vs {bins_bp:,} ({bins_bp - bins_fast:+,}); "
          f"efficiency {sub.sum() / (bins_fast * ctx):.4f} vs {sub.sum() / (bins_bp * ctx):.4f}")
    print(f"at n={n:,}: ours {fast_s:.2f}s (pack_table {pack_s:.2f}s) vs binpacking ~{bp_full_s:,.0f}s extrapolated "
          f"= {bp_full_s / fast_s:,.0f}x")


if __name__ == "__main__":
    main()
