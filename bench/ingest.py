"""URL-list ingest benchmark (not a test): mmcurate vs img2dataset, Daft and plain Ray Data, one run.

Every tool downloads the same ``--n`` distinct real-photo JPEGs (``bench/_ingest_data.py``) from one
loopback HTTP server (:class:`mmcurate.jobs.demo_server.DemoServer` in its own process, started before
any clock runs), decodes each image to validate it, and writes WebDataset tars of the original bytes:

* **img2dataset** (its own venv: it pins ``webdataset<0.3``), ``--resize_mode no --skip_reencode True``:
  a full OpenCV decode validates each image and reads its size, then the downloaded bytes are written;
  ``processes_count`` 2 (the cores), 32 threads each, at each shard size of ``--img2dataset-shards``
  (its best one is the peer).
* **Daft** (its own venv): ``download(on_error="null")`` + ``decode_image`` (Rust-native) on its local
  native runner; tars written from the streamed partitions (``bench/peers/daft_ingest.py``).
* **Ray Data** (its own venv: ``ray[data]`` at mmcurate's Ray version, fsspec, aiohttp):
  ``with_column(download("url"))`` + a Pillow decode in ``map_batches`` + ``write_webdataset``
  (``bench/peers/ray_data_ingest.py``).
* **mmcurate run**: the job's download, decode, caption and video steps, webdataset output only
  (no dedup pass: the others have none). ``--s3`` adds a run with the output on an S3 server on
  127.0.0.1 (SeaweedFS); the failure mix (unless ``--skip-mix``) runs a list where 5% answer 404, 3%
  500, 2% are flaky (503 once), 2% are HTML served as ``image/jpeg`` and 1% redirect to a private
  address, and prints every reject reason with its count.

Each clock covers one tool's command line from ``Popen`` to exit (interpreter, Ray or pool start-up and
shutdown included); CPU seconds and peak RSS / PSS cover its whole process tree
(``bench/_ingest_measure.py``). Before the tools run, the floors are measured (``bench/_ingest_floors.py``):
the loopback server's own rate with a bare libcurl client, mmcurate's downloader alone, and Ray's
start + stop. The last lines print each measure's ratio of mmcurate to the best peer and the best
samples/s ratio the floors allow. The box is shared: ``--repeat`` alternates the tools over rounds and
the ratios use medians.

    .venv/bin/python bench/ingest.py --n 20000 --skip-mix --unit-rows 1000 --out /tmp/ingest-bench
    .venv/bin/python bench/ingest.py --n 2000 --out /tmp/ingest-bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _ingest_data import FAULT_MIX, make_photos, write_url_lists
from _ingest_floors import best_allowed, decode_alone, download_alone, ray_start_stop_seconds, server_rate
from _ingest_measure import ROOT, Result, count_stored_tar_images, run_measured

VENV_BIN = Path(sys.executable).parent
PEERS = Path(__file__).resolve().parent / "peers"


# ---------------------------------------------------------------- the tools


def peer_python(cache: Path, name: str, packages: list[str], probe: str) -> Path:
    """A peer's own venv interpreter under ``cache`` (created with ``pip install packages`` if missing)."""
    venv = cache / f"{name}-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / probe).exists():
        print(f"creating {venv} (pip install {' '.join(packages)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def ray_version() -> str:
    import ray

    return ray.__version__


def run_img2dataset(python: Path, urls: Path, out: Path, rows: int, shard_rows: int, threads: int) -> Result:
    cmd = [str(python.with_name("img2dataset")), f"--url_list={urls}", "--input_format=parquet", "--url_col=url",
           "--caption_col=caption", "--output_format=webdataset", f"--output_folder={out}",
           "--processes_count=2", f"--thread_count={threads}", f"--number_sample_per_shard={shard_rows}",
           "--resize_mode=no", "--skip_reencode=True", "--timeout=10", "--retries=0", "--enable_wandb=False"]
    shutil.rmtree(out, ignore_errors=True)  # img2dataset's incremental mode would skip done shards
    # No albumentations update check: it would try the network at import, in every process.
    return run_measured(f"img2dataset {shard_rows}", cmd, out, rows,
                        env=dict(os.environ) | {"NO_ALBUMENTATIONS_UPDATE": "1"})


def run_peer_script(name: str, python: Path, script: str, urls: Path, out: Path, rows: int, shard_rows: int) -> Result:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(python), "-P", str(PEERS / script), str(urls), str(out), str(shard_rows)]
    return run_measured(name, cmd, out, rows, env=dict(os.environ) | {"RAY_DEDUP_LOGS": "1"})


def mmcurate_config(path: Path, urls: Path, out: Path, unit_rows: int, max_workers: int, per_host: int) -> Path:
    """A job YAML: the default job's ingest steps on a Parquet URL list, webdataset output only.

    A file rather than ``--input``/``--set``, so the whole config is visible next to the results.
    """
    import yaml

    # Like for like: the peers download, validate by decoding and write tars. They have no dedup pass,
    # no CLIP/OCR scoring and no mixture step, so the job leaves those steps out; the video steps stay
    # (they pass images through), as in the default job.
    policy = {"allowed_networks": ["127.0.0.1/32"], "max_workers": max_workers, "per_host_limit": per_host}
    config = {
        "inputs": [{"kind": "parquet", "path": str(urls), "url_column": "url", "caption_column": "caption",
                    "unit_rows": unit_rows}],
        "steps": [{"use": "download", "policy": policy}, {"use": "image_decode"}, {"use": "caption_clean"},
                  {"use": "video_clips"}, {"use": "video_duration"}, {"use": "video_resolution"},
                  {"use": "video_motion"}],
        "output": {"path": str(out), "formats": ["webdataset"]},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_mmcurate(name: str, config: Path, out: Path, rows: int, store: str | None = None) -> Result:
    """One run into ``out``, or into the ``s3://`` prefix ``store`` when given (its log still goes to ``out``)."""
    cmd = [str(VENV_BIN / "mmcurate"), "run", str(config), "--no-progress", "--overwrite"]
    if store is not None:
        cmd += ["--output", store]
    shutil.rmtree(out, ignore_errors=True)  # same config = resume; start from nothing each time
    result = run_measured(name, cmd, out, rows, env=dict(os.environ))
    if store is not None:
        result.ok, result.image_bytes = count_stored_tar_images(store)
    for line in out.with_suffix(".log").read_text().splitlines():  # the funnel's own timer
        if line.startswith("wall time"):
            result.tool_seconds = float(line.split()[-2])
    return result


def reject_reasons(out: Path) -> Counter[str]:
    """Reject counts by reason (``stage:code``) over the run's reject files."""
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    for path in sorted((out / "rejects").glob("*.parquet")):
        counts.update(pq.read_table(path, columns=["reason"]).column("reason").to_pylist())
    return counts


def start_s3() -> tuple[object, str]:
    """The tests' S3 server (SeaweedFS on 127.0.0.1) and a fresh bucket; the AWS_* variables point at it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from s3_server import S3Server

    server = S3Server().start()
    os.environ.update(server.env())
    return server, server.create_bucket()


# ---------------------------------------------------------------- report


def print_table(results: list[Result], n: int) -> None:
    print(f"\n{'run':<26}{'URLs':>6}{'ok':>6}{'MB':>7}{'wall s':>8}{'ok/s':>7}{'CPU s':>7}{'ok/CPU s':>9}"
          f"{'peak RSS':>10}{'peak PSS':>10}{'procs':>6}{'load 1m':>12}  own timer")
    for r in results:
        own = f"{r.tool_seconds:.1f} s = {r.ok / r.tool_seconds:.0f} ok/s" if r.tool_seconds else "-"
        own = f"FAILED {r.failed}" if r.failed else own
        print(f"{r.name:<26}{r.rows:>6}{r.ok:>6}{r.image_bytes / 1e6:>7.1f}{r.seconds:>8.1f}{r.ok / r.seconds:>7.1f}"
              f"{r.cpu_seconds:>7.1f}{r.ok / r.cpu_seconds:>9.1f}{r.peak_rss / 2**20:>8.0f}MB{r.peak_pss / 2**20:>8.0f}MB"
              f"{r.peak_procs:>6}{r.load[0]:>6.1f}->{r.load[1]:<4.1f}  {own}")
    can = n - sum(round(share * n) for pattern, share in FAULT_MIX.items() if "flaky" not in pattern)
    print(f"ok = image members in the output tars; ok/s = successes / wall of the whole command.\n"
          f"failure mix: {can} of {n} URLs can succeed (404/500/HTML/private-redirect ones cannot).")


def tool_of(name: str) -> str:
    return name.split(" #")[0]


def median(results: list[Result], tool: str, measure: str) -> float:
    """Median over rounds of one tool's ``ok/s``, ``ok/cpu`` or ``-rss`` (negated peak RSS, MiB)."""
    values = []
    for r in results:
        if tool_of(r.name) != tool or r.failed:
            continue
        values.append({"ok/s": r.ok / r.seconds, "ok/cpu": r.ok / max(r.cpu_seconds, 1e-9),
                       "-rss": -r.peak_rss / 2**20}[measure])
    return float(np.median(values)) if values else float("nan")


def print_ratios(results: list[Result], floors: dict[str, float], n: int) -> None:
    """mmcurate / best peer on each measure, and the best ratios the floors allow."""
    # img2dataset's other shard sizes stay in the table, but only its best one is the peer.
    peers = sorted({tool_of(r.name) for r in results if not r.name.startswith("mmcurate")
                    and not tool_of(r.name).startswith("img2dataset ")})
    if not peers:
        return
    goals = {"ok/s": 1.2, "ok/cpu": 1.5, "-rss": None}
    labels = {"ok/s": "samples/s", "ok/cpu": "samples per CPU-second", "-rss": "peak RSS"}
    for measure, goal in goals.items():
        best = max(peers, key=lambda p: median(results, p, measure))
        ours, theirs = median(results, "mmcurate", measure), median(results, best, measure)
        print(f"mmcurate / best peer ({best}) in {labels[measure]}: {ours / theirs:.2f}x"
              + (f" (goal >= {goal}x)" if goal else f" ({-ours:.0f} vs {-theirs:.0f} MiB; lower is better)"))
    rate, per_cpu = best_allowed(n, floors, os.cpu_count() or 1)
    fast = max(peers, key=lambda p: median(results, p, "ok/s"))
    frugal = max(peers, key=lambda p: median(results, p, "ok/cpu"))
    print(f"the floors allow an embedded-Ray `mmcurate run` of {n} URLs at most {rate:.0f} samples/s "
          f"({rate / median(results, fast, 'ok/s'):.2f}x {fast}) and {per_cpu:.0f} samples per CPU-second "
          f"({per_cpu / median(results, frugal, 'ok/cpu'):.2f}x {frugal}): the server's rate and core, the "
          f"downloader's and the decode's CPU per sample, and the fixed cost of a run")


# ---------------------------------------------------------------- main


FIXED_ROWS = 100  # the small run that measures what every embedded-Ray run pays once


def small_list(urls: Path, rows: int) -> Path:
    import pyarrow.parquet as pq

    path = urls.with_name(f"first-{rows}.parquet")
    pq.write_table(pq.read_table(urls).slice(0, rows), path)
    return path


def measure_floors(args: argparse.Namespace, out: Path, pairs: list[tuple[str, str]], clean: Path,
                   small: Path) -> dict[str, float]:
    floors = {"ray": ray_start_stop_seconds()}
    floors["server"], client_cpu = server_rate(clean)
    floors["download"], floors["download_cpu"] = download_alone(clean, args.max_workers, args.per_host_limit)
    floors["decode_cpu"] = decode_alone(out / "photos", [name for name, _ in pairs[:2000]])
    fixed = run_mmcurate(f"mmcurate, {FIXED_ROWS} URLs", small, out / "mmcurate-small", FIXED_ROWS)
    floors["fixed_wall"], floors["fixed_cpu"] = fixed.seconds, fixed.cpu_seconds
    print(f"floors: the server alone answers {floors['server']:.0f}/s (bare libcurl client, {client_cpu * 1e3:.2f} ms "
          f"CPU each); mmcurate's downloader alone {floors['download']:.0f}/s ({floors['download_cpu'] * 1e3:.2f} ms "
          f"CPU each); its validating decode alone {floors['decode_cpu'] * 1e3:.2f} ms CPU each; Ray start+stop "
          f"{floors['ray']:.1f} s; a whole `mmcurate run` of {FIXED_ROWS} URLs {fixed.seconds:.1f} s wall, "
          f"{fixed.cpu_seconds:.1f} CPU-s (its fixed cost)", flush=True)
    return floors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="URLs (distinct photos) per list")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mmcurate-bench-ingest"))
    parser.add_argument("--tools", default="img2dataset,daft,ray_data,mmcurate", help="comma-separated subset")
    parser.add_argument("--img2dataset-shards", default="250,1000,5000", help="shard sizes to try (best is kept)")
    parser.add_argument("--skip-mix", action="store_true", help="no failure-mix run (quicker large-n runs)")
    parser.add_argument("--s3", action="store_true", help="also run mmcurate with its output on a local S3 server")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; tools alternate within each round")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mmcurate-bench")
    parser.add_argument("--unit-rows", type=int, default=1000, help="mmcurate unit_rows = the peers' shard size")
    parser.add_argument("--threads", type=int, default=32, help="img2dataset thread_count per process")
    parser.add_argument("--max-workers", type=int, default=32, help="mmcurate download.max_workers")
    parser.add_argument("--per-host-limit", type=int, default=16, help="mmcurate download.per_host_limit")
    return parser.parse_args()


def one_round(args: argparse.Namespace, tools: list[str], pythons: dict[str, Path], clean: Path,
              configs: dict[str, Path], round_: int, bucket: str) -> list[Result]:
    out, results = args.out.resolve(), []
    runs = []
    for tool in tools:
        if tool == "img2dataset":
            runs += [("img2dataset", int(k)) for k in args.img2dataset_shards.split(",")]
        else:
            runs.append((tool, args.unit_rows))
    runs += [("s3", args.unit_rows)] if bucket else []
    for tool, shard in runs if round_ % 2 == 0 else runs[::-1]:  # neither always meets the other's leftovers
        if tool == "img2dataset":
            r = run_img2dataset(pythons[tool], clean, out / "img2dataset", args.n, shard, args.threads)
        elif tool == "daft":
            r = run_peer_script("daft", pythons[tool], "daft_ingest.py", clean, out / "daft", args.n, shard)
        elif tool == "ray_data":
            r = run_peer_script("ray_data", pythons[tool], "ray_data_ingest.py", clean, out / "ray_data", args.n, shard)
        elif tool == "mmcurate":
            r = run_mmcurate("mmcurate", configs["clean"], out / "mmcurate", args.n)
        else:
            r = run_mmcurate("mmcurate, S3 output", configs["clean"], out / "mmcurate-s3", args.n,
                             store=f"s3://{bucket}/round{round_}")
        r.name += f" #{round_ + 1}" if args.repeat > 1 else ""
        results.append(r)
        print(f"    {r.name}: {r.ok} ok in {r.seconds:.1f} s = {r.ok / r.seconds:.1f}/s, "
              f"{r.ok / max(r.cpu_seconds, 1e-9):.0f}/CPU-s", flush=True)
    return results


def best_img2dataset(results: list[Result]) -> list[Result]:
    """Keep img2dataset's best shard size (median samples/s) under the name ``img2dataset``."""
    sizes = {tool_of(r.name) for r in results if r.name.startswith("img2dataset ")}
    if not sizes:
        return results
    best = max(sizes, key=lambda s: median(results, s, "ok/s"))
    print(f"img2dataset's best shard size here: {best.split()[-1]} "
          + ", ".join(f"{s.split()[-1]}: {median(results, s, 'ok/s'):.0f}/s" for s in sorted(sizes)))
    for r in results:
        if tool_of(r.name) == best:
            r.name = r.name.replace(best, "img2dataset")
    return results


def main() -> None:
    args = parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    pythons = {}
    if "img2dataset" in tools:
        pythons["img2dataset"] = peer_python(args.cache, "img2dataset", ["img2dataset"], "img2dataset")
    if "daft" in tools:
        pythons["daft"] = peer_python(args.cache, "daft", ["daft", "pillow", "pyarrow"], "daft")
    if "ray_data" in tools:
        pythons["ray_data"] = peer_python(args.cache, "raydata", [f"ray[data]=={ray_version()}", "fsspec", "aiohttp",
                                                                  "pillow"], "ray")
    t0 = time.perf_counter()
    pairs = make_photos(out / "photos", args.n)
    sizes = [(out / "photos" / name).stat().st_size for name, _ in pairs]
    print(f"{args.n} distinct photos ready in {time.perf_counter() - t0:.1f} s: JPEG {min(sizes) / 1e3:.0f}-"
          f"{max(sizes) / 1e3:.0f} KB, mean {np.mean(sizes) / 1e3:.1f} KB, {sum(sizes) / 1e6:.1f} MB", flush=True)

    serve = Path(__file__).with_name("_serve.py")  # -P: keep bench/ off its sys.path
    server = subprocess.Popen([sys.executable, "-P", str(serve), str(out / "photos")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    results: list[Result] = []
    s3, bucket = start_s3() if args.s3 else (None, "")
    try:
        base = server.stdout.readline().strip()
        clean, mix = write_url_lists(out, base, pairs)
        print(f"server {base} (own process, pid {server.pid}); {os.cpu_count()} CPUs", flush=True)
        knobs = (args.unit_rows, args.max_workers, args.per_host_limit)
        configs = {"clean": mmcurate_config(out / "mmcurate.yaml", clean, out / "mmcurate", *knobs),
                   "mix": mmcurate_config(out / "mmcurate-mix.yaml", mix, out / "mmcurate-mix", *knobs),
                   "small": mmcurate_config(out / "mmcurate-small.yaml", small_list(clean, FIXED_ROWS),
                                            out / "mmcurate-small", *knobs)}
        floors = measure_floors(args, out, pairs, clean, configs["small"])
        for round_ in range(args.repeat):
            results += one_round(args, tools, pythons, clean, configs, round_, bucket)
        if not args.skip_mix and "mmcurate" in tools:
            r = run_mmcurate("mmcurate, failure mix", configs["mix"], out / "mmcurate-mix", args.n)
            results.append(r)
            print(f"    {r.name}: {r.ok} ok in {r.seconds:.1f} s; reject reasons: "
                  + json.dumps(dict(sorted(reject_reasons(out / "mmcurate-mix").items()))), flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        if s3 is not None:
            s3.stop()  # type: ignore[attr-defined]

    results = best_img2dataset(results)
    print(f"  (mmcurate: unit_rows {args.unit_rows}, download max_workers {args.max_workers}, per_host_limit "
          f"{args.per_host_limit}; the peers' shards hold {args.unit_rows} rows)")
    print_table(results, args.n)
    if s3 is not None:
        print(f"S3 output / local output: {median(results, 'mmcurate, S3 output', 'ok/s') / median(results, 'mmcurate', 'ok/s'):.2f}x "
              "samples/s (the S3 server's own CPU is outside the timed process tree)")
    print_ratios(results, floors, args.n)


if __name__ == "__main__":
    main()
