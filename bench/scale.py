"""Scale benchmark (not a test): does the driver's memory grow with the data in the set-level passes?

Synthetic signature / metadata tables of N rows are *generated on Ray* (``ray.data.range(N)`` +
``map_batches``), so the driver never holds them; then the job's set-level passes run as they do in
a job, and a thread samples the driver process's RSS and its own heap (``RssAnon`` in
``/proc/self/status``: RSS also counts the pages of Ray's shared object store that the driver's reads
touch, which the store owns), workers excluded:

1. exact dedup — ``ray_exact_duplicates`` (groupby shuffle on Ray; the driver gathers the edges, one per
   duplicate: 1 % of rows here, and runs connected components on them);
2. the mixture balancer — ``ray_balance`` (per-cell totals by Ray aggregate, per-row decision on Ray);
3. packing — ``pack_batches`` over ``iter_batches`` of the balanced rows: one chunk on the driver at a time;
4. stats — the funnel per (modality, repeats > 0) by a Ray ``groupby().count()``;
5. ``clip_keep_top`` (top 30 % of a synthetic CLIP score) — its ``decide_ray``: the exact threshold by
   histogram refinement on Ray; the decision is one row.

Then the job's own output steps, as ``mmcurate run`` runs them after the last unit is committed:
``balance`` and ``pack`` (:mod:`mmcurate.pipeline.mixture.passes`) over an output folder whose accepted
shards hold N synthetic rows (written beforehand by another process, ``--shard-rows`` per shard). They
read the shards one at a time; the driver holds one shard and one packing chunk (``--chunk`` rows).

Printed per size: seconds per pass, driver RSS at start and its peak, and the peak growth ratio
between the largest and smallest size, for the Ray passes and for the output steps (goal < 1.5x from
1M to 10M rows).

    .venv/bin/python bench/scale.py --sizes 1000000,10000000
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.filters.clip_keep_top import ClipKeepTop
from mmcurate.pipeline.dedup.exact import PIXEL_SHA256
from mmcurate.pipeline.dedup.ray_dedup import ray_exact_duplicates
from mmcurate.pipeline.mixture.budget import BudgetConfig, ray_balance
from mmcurate.pipeline.mixture.packing import pack_batches
from mmcurate.pipeline.mixture.passes import Balance, Pack
from mmcurate.pipeline.passes import OutputContext
from mmcurate.pipeline.ray_session import init_ray
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, REPEATS, TOKENS_SUPERVISED, TOKENS_TOTAL

MIB = 2**20
MODALITIES = ("image_text", "video", "instruction", "text")
CLIP_MEAN = "clip_score_v1_mean"


def rss() -> tuple[int, int]:
    """The driver's RSS and its anonymous part (RssAnon: its own heap; the rest is mapped files and the
    Ray object store's shared memory, which the driver's reads of blocks touch but do not own)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "RssAnon:")):
                name, value, _unit = line.split()
                fields[name] = int(value) * 1024
    return fields["VmRSS:"], fields["RssAnon:"]


@contextmanager
def peak_rss(every_s: float = 0.05) -> Iterator[dict[str, int]]:
    total, anon = rss()
    out = {"start": total, "peak": total, "anon_start": anon, "anon_peak": anon}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            total, anon = rss()
            out["peak"], out["anon_peak"] = max(out["peak"], total), max(out["anon_peak"], anon)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        total, anon = rss()
        out["peak"], out["anon_peak"] = max(out["peak"], total), max(out["anon_peak"], anon)


def _lap(mem: dict[str, int], name: str, laps: dict[str, float]) -> float:
    """The driver's own-heap peak during the pass that just ended; the next pass's peak starts from now."""
    laps[name] = mem["anon_peak"] / MIB
    mem["anon_peak"] = rss()[1]
    return time.perf_counter()


def _mib(mem: dict[str, int]) -> dict[str, float]:
    return {"rss_start_mib": mem["start"] / MIB, "rss_peak_mib": mem["peak"] / MIB,
            "anon_start_mib": mem["anon_start"] / MIB, "anon_peak_mib": mem["anon_peak"] / MIB}


def _memory(r: dict[str, Any]) -> str:
    return (f"driver RSS start {r['rss_start_mib']:.0f} MiB peak {r['rss_peak_mib']:.0f} MiB (own heap, RssAnon: "
            f"{r['anon_start_mib']:.0f} -> {r['anon_peak_mib']:.0f} MiB)")


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
        TOKENS_SUPERVISED: pa.array((64 + mixed % 4000) // 4, pa.int64()),
        CLIP_MEAN: pa.array((mixed % 100_000) / 100_000 * 0.6 - 0.2, pa.float64()),
    })


def write_output(n: int, root: str, shard_rows: int) -> None:
    """An output folder whose accepted shards (``parquet/``) hold ``n`` synthetic rows."""
    os.makedirs(os.path.join(root, "parquet"), exist_ok=True)
    for k, start in enumerate(range(0, n, shard_rows)):
        ids = np.arange(start, min(n, start + shard_rows), dtype=np.int64)
        pq.write_table(synthetic({"id": ids}), os.path.join(root, "parquet", f"unit-{k:06d}.parquet"))


def run_outputs(n: int, root: str, chunk: int) -> dict[str, float]:
    """The job's ``balance`` and ``pack`` steps over the output at ``root``, the driver's RSS sampled."""
    context = OutputContext(out_dir=root, config_hash="bench")
    shares = {"image_text": 0.5, "video": 0.2, "instruction": 0.2, "text": 0.1}
    with peak_rss() as mem:
        t = time.perf_counter()
        balanced = Balance(total_tokens=n * 2000, modality_shares=shares).run(context)
        balance_s, t = time.perf_counter() - t, time.perf_counter()
        chunked = "chunk_rows" in {f.name for f in dataclasses.fields(Pack)}  # a baseline's Pack may predate it
        packed = Pack(context=8192, **({"chunk_rows": chunk} if chunked else {})).run(context)
        pack_s = time.perf_counter() - t
    return {"balance_s": balance_s, "pack_s": pack_s, "samples": balanced["samples"], "packs": packed["packs"],
            "efficiency": packed["efficiency"], **_mib(mem),
            "code": os.path.dirname(inspect.getfile(Pack))}


def run(n: int, partitions: int, chunk: int) -> dict[str, float]:
    import ray

    ds = ray.data.range(n, override_num_blocks=max(8, n // 250_000)).map_batches(synthetic, batch_format="numpy")
    times: dict[str, float] = {}
    laps: dict[str, float] = {}
    with peak_rss() as mem:
        t = time.perf_counter()
        removals = ray_exact_duplicates(ds.select_columns([S.SAMPLE_ID, PIXEL_SHA256]), num_partitions=partitions)
        times["dedup_s"], t = time.perf_counter() - t, _lap(mem, "dedup", laps)
        config = BudgetConfig(total_tokens=int(n * 2000), modality_shares={"image_text": 0.5, "video": 0.2,
                                                                          "instruction": 0.2, "text": 0.1})
        decided, _report = ray_balance(ds, config)
        times["balance_s"], t = time.perf_counter() - t, _lap(mem, "balance", laps)
        packs = tokens = 0
        for result in pack_batches(decided.iter_batches(batch_size=chunk, batch_format="pyarrow"), context=8192):
            packs += result.packs.num_rows
            tokens += int(np.sum(result.packs.column("tokens").to_numpy()))
        times["pack_s"], t = time.perf_counter() - t, _lap(mem, "pack", laps)
        funnel = decided.groupby([MODALITY, REPEATS]).count().take_all()
        times["stats_s"], t = time.perf_counter() - t, _lap(mem, "stats", laps)
        cut = ClipKeepTop(keep_fraction=0.3).decide_ray(ds.select_columns([S.SAMPLE_ID, CLIP_MEAN]).materialize())
        times["clip_top_s"] = time.perf_counter() - t
        _lap(mem, "clip_keep_top", laps)
    mem["anon_peak"] = int(max(laps.values()) * MIB)
    assert cut.num_rows == 1
    assert removals.num_rows == n // 100, removals.num_rows  # every planted duplicate found
    return {**times, "dups": removals.num_rows, "packs": packs, "efficiency": tokens / max(packs * 8192, 1),
            "funnel_rows": len(funnel), "anon_by_pass": laps, **_mib(mem)}


def _child(*args: str, pythonpath: str | None = None) -> dict[str, Any]:
    """One measurement in a fresh driver process (and Ray instance): one size's heap never inflates the next."""
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def _growth(label: str, peaks: list[tuple[int, float, float]]) -> None:
    (n0, p0, a0), (n1, p1, a1) = peaks[0], peaks[-1]
    print(f"{label}: driver peak at {n1 / n0:.0f}x rows: RSS {p1 / p0:.2f}x ({p0:.0f} -> {p1:.0f} MiB), own heap "
          f"{a1 / a0:.2f}x ({a0:.0f} -> {a1:.0f} MiB); goal < 1.5x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per packing chunk on the driver")
    parser.add_argument("--shard-rows", type=int, default=100_000, help="rows per accepted shard (output steps)")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--skip-ray", action="store_true", help="only the job's output steps")
    parser.add_argument("--skip-outputs", action="store_true", help="only the Ray passes")
    parser.add_argument("--workdir", default="/tmp/mmcurate-scale")
    parser.add_argument("--baseline-pythonpath", help="an older mmcurate (a folder holding mmcurate/): its balance "
                        "and pack run on the same outputs, side by side")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: Ray passes, one size
    parser.add_argument("--outputs", type=int, help=argparse.SUPPRESS)  # internal: output steps, one size
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)  # internal: write one size's output
    args = parser.parse_args()
    root = lambda n: os.path.join(args.workdir, f"out-{n}")  # noqa: E731
    if args.make:
        write_output(args.make, root(args.make), args.shard_rows)
        print("RESULT {}", flush=True)
        return
    if args.outputs:
        print("RESULT " + json.dumps(run_outputs(args.outputs, root(args.outputs), args.chunk)), flush=True)
        return
    if args.one:
        init_ray(num_cpus=args.num_cpus, object_store_memory=4 * 2**30, progress=False)
        print("RESULT " + json.dumps(run(args.one, args.partitions, args.chunk)), flush=True)
        return
    ray_peaks: list[tuple[int, float, float]] = []
    out_peaks: list[tuple[int, float, float]] = []
    base_peaks: list[tuple[int, float, float]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        common = ["--chunk", str(args.chunk), "--workdir", args.workdir, "--shard-rows", str(args.shard_rows)]
        if not args.skip_ray:
            r = _child("--one", str(n), "--partitions", str(args.partitions), "--num-cpus", str(args.num_cpus), *common)
            ray_peaks.append((n, r["rss_peak_mib"], r["anon_peak_mib"]))
            print(f"{n:>11,} rows  Ray passes: dedup {r['dedup_s']:6.1f} s  balance {r['balance_s']:6.1f} s  "
                  f"pack {r['pack_s']:6.1f} s  stats {r['stats_s']:5.1f} s  clip_keep_top {r['clip_top_s']:5.1f} s  "
                  f"dups {r['dups']:,}  packs {r['packs']:,} "
                  f"({r['efficiency']:.4f})  {_memory(r)}", flush=True)
            print("             own-heap peak by pass: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in r["anon_by_pass"].items()),
                  flush=True)
        if args.skip_outputs:
            continue
        shutil.rmtree(root(n), ignore_errors=True)
        _child("--make", str(n), *common)
        runs = [("job output steps", None, out_peaks)]
        if args.baseline_pythonpath:
            runs.append(("baseline output steps", args.baseline_pythonpath, base_peaks))
        for label, path, peaks in runs:
            shutil.rmtree(os.path.join(root(n), "mixture"), ignore_errors=True)
            r = _child("--outputs", str(n), *common, pythonpath=path)
            peaks.append((n, r["rss_peak_mib"], r["anon_peak_mib"]))
            print(f"{n:>11,} rows  {label} ({r['code']}): balance {r['balance_s']:6.1f} s  pack {r['pack_s']:6.1f} s  "
                  f"samples {r['samples']:,}  packs {r['packs']:,} ({r['efficiency']:.4f})  {_memory(r)}", flush=True)
        shutil.rmtree(root(n), ignore_errors=True)
    if ray_peaks:
        _growth("Ray passes", ray_peaks)
    if out_peaks:
        _growth("job output steps (balance, pack)", out_peaks)
    if base_peaks:
        _growth("baseline output steps", base_peaks)
        print(f"driver peak RSS at {out_peaks[-1][0]:,} rows: baseline / now = {base_peaks[-1][1] / out_peaks[-1][1]:.2f}x")


if __name__ == "__main__":
    main()
