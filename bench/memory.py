"""Memory benchmark (not a test): peak PSS of a real reader run per input GB, for images and tars.

Issue 20 measured a 982 KB ``.tar.gz`` driving a job to 19.7 GB PSS. This prints, for each input kind,
the peak PSS growth of one process that plans the input and reads every unit with the real reader
(``FolderReader`` / ``WebDatasetReader.read_unit``), sampled every 5 ms from outside the process
(psutil's ``memory_full_info`` when installed, else ``/proc/<pid>/smaps_rollup``, which psutil reads
too), minus the PSS of the same process after its imports. Cases:

* ``images``: a folder of noise JPEGs (incompressible, ~1 MB each), ``unit_rows`` files per unit;
* ``tar`` / ``tar.gz``: the same images and captions as one WebDataset shard, plain and gzipped;
* ``gzip bomb``: a ~1 MB ``.tar.gz`` inflating to ~1 GB of zero-filled captions (16 MiB each);
* ``junk .jpg``: a plain tar of 8 x 60 MB zero-filled members named ``.jpg``.

Each case also runs a baseline, side by side: with ``--baseline-pythonpath DIR`` (a folder whose
``mmcurate`` package is the code to compare with, e.g. main before issue 20 unpacked from
``git archive`` with a ``mmcurate/`` folder of symlinks to its top-level folders) the same run on that
code; without it, today's code with the limits from before issue 20 (``legacy``: 64 MiB/member,
4 GiB/shard, no inflation ratio, no magic check). The goal column is 2x the largest unit's kept bytes
plus a 64 MiB floor.

    .venv/bin/python bench/memory.py --out /tmp/mem-bench --images-mb 256 [--baseline-pythonpath /tmp/oldpkg]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

MIB = 1024**2
LEGACY = {"max_member_bytes": 64 * MIB, "max_shard_bytes": 4 * 1024**3, "max_inflation_ratio": 1e9,
          "check_magic": False}


def pss_bytes(pid: int) -> int:
    try:
        import psutil

        return int(psutil.Process(pid).memory_full_info().pss)
    except ImportError:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    return 0


def _noise_jpeg(seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def _tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(out, "JPEG")
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_inputs(out: Path, images_mb: int) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    folder = out / "images"
    folder.mkdir(exist_ok=True)
    images, total, i = [], 0, 0
    while total < images_mb * MIB:
        data = _noise_jpeg(i)
        (folder / f"{i:05d}.jpg").write_bytes(data)
        (folder / f"{i:05d}.txt").write_text(f"noise {i}")
        images.append(data)
        total, i = total + len(data), i + 1
    for name, mode in (("shard.tar", "w"), ("shard.tar.gz", "w:gz")):
        with tarfile.open(out / name, mode) as tar:
            for k, data in enumerate(images):
                _add(tar, f"{k:05d}.jpg", data)
                _add(tar, f"{k:05d}.txt", f"noise {k}".encode())
    zeros = b"\0" * (16 * MIB)
    with tarfile.open(out / "bomb.tar.gz", "w:gz") as tar:
        tiny = _tiny_jpeg()
        for k in range(64):  # 1 GiB inflated from ~1 MB
            _add(tar, f"{k:05d}.jpg", tiny)
            _add(tar, f"{k:05d}.txt", zeros)
    junk = b"\0" * (60 * 1000**2)
    with tarfile.open(out / "junk.tar", "w") as tar:
        for k in range(8):
            _add(tar, f"{k:05d}.jpg", junk)
            _add(tar, f"{k:05d}.txt", b"junk")
    return {"images": folder, "tar": out / "shard.tar", "tar.gz": out / "shard.tar.gz",
            "gzip bomb": out / "bomb.tar.gz", "junk .jpg": out / "junk.tar"}


def child(kind: str, path: str, legacy: bool, unit_rows: int) -> None:
    """Plan and read every unit; print the largest unit's kept media+caption bytes and the row count."""
    import pyarrow.compute as pc

    from mmcurate.pipeline.plan import plan_units
    from mmcurate.pipeline.readers.folder import FolderReader
    from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader

    reader = (FolderReader(path=path, unit_rows=unit_rows) if kind == "images"
              else WebDatasetReader(path=path, **(LEGACY if legacy else {})))
    units = plan_units([reader])
    print("ready", flush=True)
    sys.stdin.readline()
    largest, rows = 0, 0
    for unit in units:
        table = reader.read_unit(unit)
        media = table.column("media").combine_chunks().flatten().field("bytes")  # no Python copies
        kept = (pc.sum(pc.binary_length(media)).as_py() or 0) + (pc.sum(pc.utf8_length(table.column("caption"))).as_py() or 0)
        largest, rows = max(largest, kept), rows + table.num_rows
        del table
    print(json.dumps({"largest_unit": largest, "rows": rows}), flush=True)


def measure(kind: str, path: Path, legacy: bool, unit_rows: int, pythonpath: str | None = None) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", kind, str(path), "--unit-rows", str(unit_rows)]
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    proc = subprocess.Popen(cmd + (["--legacy"] if legacy else []), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    base = pss_bytes(proc.pid)
    peak, done = base, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, pss_bytes(proc.pid))
            except (OSError, ValueError):
                return
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    result = json.loads(proc.stdout.readline())
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    proc.wait()
    size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    grow = peak - base
    return {"input": size, "grow": grow, "per_gb": grow / (size / 1024**3), "largest": result["largest_unit"],
            "goal": 2 * result["largest_unit"] + 64 * MIB, "rows": result["rows"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/mmcurate-mem-bench")
    parser.add_argument("--images-mb", type=int, default=256)
    parser.add_argument("--unit-rows", type=int, default=64)
    parser.add_argument("--baseline-pythonpath", help="folder whose mmcurate package is the baseline code")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--legacy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.legacy, args.unit_rows)
        return
    inputs = make_inputs(Path(args.out), args.images_mb)
    print(f"{'case':<12} {'limits':<7} {'input MB':>9} {'rows':>5} {'largest unit MB':>16} {'peak PSS +MB':>13} "
          f"{'PSS MB / input GB':>18} {'goal MB':>8} {'s':>6}")
    base = args.baseline_pythonpath
    for kind, path in inputs.items():
        runs = [("now", False, None), ("base", False, base)] if base else \
            [("now", False, None)] + ([] if kind == "images" else [("legacy", True, None)])
        for label, legacy, pythonpath in runs:
            r = measure(kind, path, legacy, args.unit_rows, pythonpath)
            print(f"{kind:<12} {label:<7} {r['input'] / MIB:>9.1f} {r['rows']:>5} "
                  f"{r['largest'] / MIB:>16.1f} {r['grow'] / MIB:>13.1f} {r['per_gb'] / MIB:>18.0f} "
                  f"{r['goal'] / MIB:>8.0f} {r['seconds']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
