"""Memory benchmark (not a test): peak PSS of real reader runs per input GB: images, tars, videos.

Issue 20 measured a 982 KB ``.tar.gz`` driving a job to 19.7 GB PSS. This prints, for each input kind,
the peak PSS growth of one process (and its children: the video sandbox) that plans the input and
reads every unit through ``read_unit``, the entry a Ray worker and ``--local`` use, sampled every 5 ms
from outside from ``/proc/<pid>/smaps_rollup``, minus the PSS after its imports. Cases:

* ``images``: a folder of noise JPEGs (incompressible, ~1 MB each), ``unit_rows`` files per unit;
* ``tar`` / ``tar.gz``: the same images and captions as one WebDataset shard, plain and gzipped;
* ``gzip bomb``: a ~1 MB ``.tar.gz`` inflating to ~1 GB of zero-filled captions (16 MiB each);
* ``junk .jpg``: a plain tar of 8 x 60 MB zero-filled members named ``.jpg``;
* ``videos``: a folder of 10 s 640x360 H.264 noise videos, read and then cut into clips by the real
  ``video_clips`` stage (its decode runs in the sandbox child, counted).

Each case also runs a baseline, side by side: with ``--baseline-pythonpath DIR`` (a folder whose
``mmcurate`` package is the code to compare with, e.g. an earlier commit unpacked from ``git archive``
with a ``mmcurate/`` folder of symlinks to its top-level folders) the same run on that code; without
it, today's code with the tar limits from before issue 20 (``legacy``: 64 MiB/member, 4 GiB/shard, no
inflation ratio, no magic check). The goal column is 2x the largest unit's kept bytes plus a 64 MiB floor.

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
from typing import Any

MIB = 1024**2
LEGACY = {"max_member_bytes": 64 * MIB, "max_shard_bytes": 4 * 1024**3, "max_inflation_ratio": 1e9,
          "check_magic": False}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return found


def _pss_one(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # it exited between the listing and the read
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """PSS of ``pid`` and all its descendants (the video decode runs in a sandbox child)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _pss_one(p)
        todo += _children(p)
    return total


def _noise_jpeg(seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def _noise_video(seed: int, seconds: int = 10, fps: int = 25, size: tuple[int, int] = (640, 360)) -> bytes:
    """H.264 of coarse noise (16 px blocks, new every frame): a few MB that decode to 250 full frames."""
    import av
    import numpy as np

    w, h = size
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for _ in range(seconds * fps):
            blocks = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
            pixels = np.ascontiguousarray(blocks.repeat(16, 0).repeat(16, 1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
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


def make_inputs(out: Path, images_mb: int, video_count: int) -> dict[str, Path]:
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
    videos = out / "videos"
    videos.mkdir(exist_ok=True)
    for k in range(video_count):
        (videos / f"{k:02d}.mp4").write_bytes(_noise_video(k))
        (videos / f"{k:02d}.txt").write_text(f"noise video {k}")
    return {"images": folder, "tar": out / "shard.tar", "tar.gz": out / "shard.tar.gz",
            "gzip bomb": out / "bomb.tar.gz", "junk .jpg": out / "junk.tar", "videos": videos}


def _kept_bytes(table: Any) -> int:
    """Media plus caption bytes of a unit's rows, chunk by chunk (combining chunks would copy them)."""
    import pyarrow.compute as pc

    kept = 0
    for chunk in table.column("media").chunks:
        kept += pc.sum(pc.binary_length(chunk.flatten().field("bytes"))).as_py() or 0
    return kept + (pc.sum(pc.utf8_length(table.column("caption"))).as_py() or 0)


def child(kind: str, path: str, legacy: bool, unit_rows: int) -> None:
    """Plan and read every unit the way a worker does (``read_unit``), videos also cut into clips by the
    real ``video_clips`` stage; print the largest unit's kept media+caption bytes and the row count."""
    from mmcurate.pipeline.plan import plan_units
    from mmcurate.pipeline.readers.folder import FolderReader
    from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader

    try:  # the shared entry of Ray workers and --local (it sets the process's allocators)
        from mmcurate.pipeline.read_units import read_unit
    except ImportError:  # a baseline from before pipeline v2
        def read_unit(readers, unit):  # type: ignore[no-untyped-def]
            return readers[unit.input_index].read_unit(unit)

    reader = (FolderReader(path=path, unit_rows=unit_rows) if kind in ("images", "videos")
              else WebDatasetReader(path=path, **(LEGACY if legacy else {})))
    stages = _video_stages() if kind == "videos" else []
    units = plan_units([reader])
    print("ready", flush=True)
    sys.stdin.readline()
    largest, rows = 0, 0
    for unit in units:
        table = read_unit([reader], unit)
        largest, rows = max(largest, _kept_bytes(table)), rows + table.num_rows
        if stages:
            from mmcurate.pipeline.runner import run_stages

            table = run_stages(stages, table)
        del table
    print(json.dumps({"largest_unit": largest, "rows": rows}), flush=True)


def _video_stages() -> list[Any]:
    """``video_clips`` with its sandbox started (on a tiny video) before measuring, as in a warm worker."""
    from mmcurate.pipeline.generate.video import make_video
    from mmcurate.pipeline.video.clip_stage import VideoClips

    stage = VideoClips()
    stage.extract(make_video(n_frames=20))
    return [stage]


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
    parser.add_argument("--videos", type=int, default=4, help="10 s 640x360 noise videos in the video case")
    parser.add_argument("--baseline-pythonpath", help="folder whose mmcurate package is the baseline code")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--legacy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.legacy, args.unit_rows)
        return
    inputs = make_inputs(Path(args.out), args.images_mb, args.videos)
    print(f"{'case':<12} {'limits':<7} {'input MB':>9} {'rows':>5} {'largest unit MB':>16} {'peak PSS +MB':>13} "
          f"{'PSS MB / input GB':>18} {'goal MB':>8} {'s':>6}")
    base = args.baseline_pythonpath
    for kind, path in inputs.items():
        runs = [("now", False, None), ("base", False, base)] if base else \
            [("now", False, None)] + ([] if kind in ("images", "videos") else [("legacy", True, None)])
        for label, legacy, pythonpath in runs:
            _report(kind, label, measure(kind, path, legacy, args.unit_rows, pythonpath))
    video_slope(inputs["videos"], args.unit_rows)


def _report(kind: str, label: str, r: dict[str, float]) -> None:
    print(f"{kind:<12} {label:<7} {r['input'] / MIB:>9.1f} {r['rows']:>5} "
          f"{r['largest'] / MIB:>16.1f} {r['grow'] / MIB:>13.1f} {r['per_gb'] / MIB:>18.0f} "
          f"{r['goal'] / MIB:>8.0f} {r['seconds']:>6.1f}", flush=True)


def video_slope(path: Path, unit_rows: int) -> None:
    """A video's decode has a working set set by its resolution, not its file size (the sandbox child,
    the frames of a clip that may still end short), and a worker's first read imports lazily: a fixed
    cost. The same videos one per unit and all in one unit separate it from the cost per unit byte."""
    one, many = measure("videos", path, False, 1), measure("videos", path, False, unit_rows)
    _report("videos", "1/unit", one)
    slope = (many["grow"] - one["grow"]) / max(1.0, many["largest"] - one["largest"])
    floor = one["grow"] - slope * one["largest"]
    print(f"videos: peak PSS = {slope:.2f} x the largest unit's bytes + {floor / MIB:.0f} MB fixed "
          f"(the decode sandbox and first-read imports)", flush=True)

if __name__ == "__main__":
    main()
