"""Measuring one command of the ingest benchmark: wall, CPU and memory of its whole process tree.

Peak RSS is the maximum over samples every 0.2 s of the summed RSS of the command's process tree
(driver, raylet, GCS, Ray workers / pool processes); PSS, which splits shared pages (Ray's object
store, shared libraries) between processes, is sampled every 1 s: reading ``smaps_rollup`` walks every
page table, and doing that every 0.2 s for a dozen Ray processes took 16% of a core from the tool
under test on a 2-core box (a multi-process tool paid more for being measured than a single-process one). CPU seconds are user +
system over every process seen, the last value per pid (a slight undercount for short-lived ones).
Successes are counted from the output tars, not taken from a tool's log.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class TreeSampler(threading.Thread):
    """Every ``interval`` s: summed RSS and PSS of a process and all its descendants (peaks kept), and
    each process's CPU time (user + system, the last value seen per pid), so the total CPU a tool
    burned can be compared on a box whose other tenants make wall time noisy."""

    def __init__(self, pid: int, interval: float = 0.2, pss_every: int = 5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
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
        tick = 0
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            with_pss = tick % self.pss_every == 0
            rss = pss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        # memory_full_info reads smaps_rollup (rss and pss); memory_info only statm
                        info = proc.memory_full_info() if with_pss else proc.memory_info()
                        times = proc.cpu_times()
                        self.cpu[(proc.pid, proc.create_time())] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                rss, pss = rss + info.rss, pss + getattr(info, "pss", 0)
            self.peak_rss = max(self.peak_rss, rss)
            if with_pss:
                self.peak_pss = max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, len(procs))
            tick += 1
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


def count_tar_images(folder: Path) -> tuple[int, int]:
    """(image members, their total bytes) over every ``.tar`` under ``folder``."""
    count = size = 0
    for path in sorted(folder.rglob("*.tar")):
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and member.name.lower().endswith(IMAGE_EXTS):
                    count, size = count + 1, size + member.size
    return count, size


def run_measured(name: str, cmd: list[str], out: Path, rows: int, env: dict[str, str] | None = None) -> Result:
    """Run one tool's command line into ``out`` (a folder of tars) and measure it; the log is ``out``.log."""
    print("  $ " + " ".join(cmd), flush=True)
    seconds, mem = timed(cmd, out.with_suffix(".log"), env=env)
    ok, size = count_tar_images(out)
    return Result(name, rows, ok, size, seconds, mem.peak_rss, mem.peak_pss, mem.peak_procs, mem.cpu_seconds,
                  mem.load, mem.failed)
