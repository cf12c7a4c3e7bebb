"""Scale benchmark (not a test): does the driver's memory grow with the data in the set-level passes?

Synthetic signature / metadata tables of N rows are *generated on Ray* (``ray.data.range(N)`` +
``map_batches``), so the driver never holds them; then the job's set-level passes run as they do in
a job, and a thread samples the driver process's own RSS (``/proc/self/statm``, workers excluded):

1. exact dedup — ``ray_exact_duplicates`` (groupby shuffle on Ray; the driver gathers the edges, one per
   duplicate: 1 % of rows here, and runs connected components on them);
2. the mixture balancer — ``ray_balance`` (per-cell totals by Ray aggregate, per-row decision on Ray);
3. packing — ``pack_batches`` over ``iter_batches`` of the balanced rows: one chunk on the driver at a time;
4. stats — the funnel per (modality, repeats > 0) by a Ray ``groupby().count()``.

Printed per size: seconds per pass, driver RSS at start and its peak, and the peak growth ratio
between the largest and smallest size (goal < 1.5x from 1M to 10M rows).

    .venv/bin/python bench/scale.py --sizes 1000000,10000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.dedup.exact import PIXEL_SHA256
from mmcurate.pipeline.dedup.ray_dedup import ray_exact_duplicates
from mmcurate.pipeline.mixture.budget import BudgetConfig, ray_balance
from mmcurate.pipeline.mixture.packing import pack_batches
from mmcurate.pipeline.ray_session import init_ray
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, REPEATS, TOKENS_TOTAL

MIB = 2**20
_PAGE = os.sysconf("SC_PAGE_SIZE")
MODALITIES = ("image_text", "video", "instruction", "text")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


@contextmanager
def peak_rss(every_s: float = 0.05) -> Iterator[dict[str, int]]:
    out = {"start": rss(), "peak": rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            out["peak"] = max(out["peak"], rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak"] = max(out["peak"], rss())


def synthetic(batch: dict[str, np.ndarray]) -> pa.Table:
    """Signature + metadata rows: 1 % exact duplicates of the previous row, 4 modalities, 8 sources."""
    i = batch["id"].astype(np.int64)
    key = np.where(i % 100 == 1, i - 1, i)
    mixed = (i * 2654435761) % (1 << 32)
    return pa.table({
        S.SAMPLE_ID: pa.array(np.char.add("s", i.astype("U12"))),
        PIXEL_SHA256: pa.array(np.char.add("h", key.astype("U12"))),
        MODALITY: pa.array(np.asarray(MODALITIES, dtype=object)[i % 4].astype(str)),
        S.SOURCE: pa.array(np.char.add("src", (i % 8).astype("U1"))),
        TOKENS_TOTAL: pa.array(64 + mixed % 4000, pa.int64()),
    })


def run(n: int, partitions: int, chunk: int) -> dict[str, float]:
    import ray

    ds = ray.data.range(n, override_num_blocks=max(8, n // 250_000)).map_batches(synthetic, batch_format="numpy")
    times: dict[str, float] = {}
    with peak_rss() as mem:
        t = time.perf_counter()
        removals = ray_exact_duplicates(ds.select_columns([S.SAMPLE_ID, PIXEL_SHA256]), num_partitions=partitions)
        times["dedup_s"], t = time.perf_counter() - t, time.perf_counter()
        config = BudgetConfig(total_tokens=int(n * 2000), modality_shares={"image_text": 0.5, "video": 0.2,
                                                                          "instruction": 0.2, "text": 0.1})
        decided, _report = ray_balance(ds, config)
        times["balance_s"], t = time.perf_counter() - t, time.perf_counter()
        packs = tokens = 0
        for result in pack_batches(decided.iter_batches(batch_size=chunk, batch_format="pyarrow"), context=8192):
            packs += result.packs.num_rows
            tokens += int(np.sum(result.packs.column("tokens").to_numpy()))
        times["pack_s"], t = time.perf_counter() - t, time.perf_counter()
        funnel = decided.groupby([MODALITY, REPEATS]).count().take_all()
        times["stats_s"] = time.perf_counter() - t
    assert removals.num_rows == n // 100, removals.num_rows  # every planted duplicate found
    return {**times, "dups": removals.num_rows, "packs": packs, "efficiency": tokens / max(packs * 8192, 1),
            "funnel_rows": len(funnel), "rss_start_mib": mem["start"] / MIB, "rss_peak_mib": mem["peak"] / MIB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per packing chunk on the driver")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size, in a fresh process
    args = parser.parse_args()
    if args.one:
        init_ray(num_cpus=args.num_cpus, object_store_memory=4 * 2**30, progress=False)
        print("RESULT " + json.dumps(run(args.one, args.partitions, args.chunk)), flush=True)
        return
    peaks: list[tuple[int, float]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        # Each size in its own driver process (and Ray instance), so one size's heap never inflates the next.
        cmd = [sys.executable, __file__, "--one", str(n), "--partitions", str(args.partitions),
               "--chunk", str(args.chunk), "--num-cpus", str(args.num_cpus)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        peaks.append((n, r["rss_peak_mib"]))
        print(f"{n:>11,} rows  dedup {r['dedup_s']:6.1f} s  balance {r['balance_s']:6.1f} s  pack {r['pack_s']:6.1f} s  "
              f"stats {r['stats_s']:5.1f} s  dups {r['dups']:,}  packs {r['packs']:,} ({r['efficiency']:.4f})  "
              f"driver RSS start {r['rss_start_mib']:.0f} MiB peak {r['rss_peak_mib']:.0f} MiB", flush=True)
    (n0, p0), (n1, p1) = peaks[0], peaks[-1]
    print(f"driver peak RSS {n1 / n0:.0f}x rows: {p1 / p0:.2f}x ({p0:.0f} -> {p1:.0f} MiB; goal < 1.5x)")


if __name__ == "__main__":
    main()
