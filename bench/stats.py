"""Stats-command benchmark (not a test): ``stats``, ``inspect`` and ``export`` on a synthetic folder.

Writes a synthetic output folder of ``--rows`` input rows in the real layout
(:func:`mmcurate.jobs.stats.synthetic.make_synthetic_output`: Parquet shards with score and token
columns, rejects, clips, dedup removals, manifest and stats; media metadata with no bytes), then times
each command in its own process, interpreter start included. Peak memory is that process's max RSS
(``os.wait4`` returns the child's own ``rusage``, as ``/usr/bin/time -v`` reports it).

    .venv/bin/python bench/stats.py --rows 1000000 --out /tmp/stats-bench
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _run(label: str, args: list[str]) -> None:
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "mmcurate.jobs.stats", *args, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: its peak RSS, not the max so far
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{stderr}")
    print(f"{label:<44} {seconds:7.1f} s   peak RSS {usage.ru_maxrss / 1024:.0f} MiB")
    print("    " + stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="/tmp/stats-bench")
    args = parser.parse_args()
    from mmcurate.jobs.stats.synthetic import make_synthetic_output

    root = Path(args.out)
    folder = root / "output"
    if not (folder / "manifest.parquet").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.monotonic()
        make_synthetic_output(folder, rows=args.rows)
        print(f"generated {args.rows:,} rows in {time.monotonic() - started:.1f} s -> {folder}")
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    _run("stats (report.html + summary)", ["stats", str(folder)])
    _run(
        "inspect -n 20 --where (late matches)",
        ["inspect", str(folder), "-n", "20", "--where", "width > 2000 and caption_len < 10"],
    )
    _run(
        "export parquet --where width >= 1024",
        [
            "export",
            str(folder),
            "--format",
            "parquet",
            "--out",
            str(root / "export"),
            "--shard-size",
            "100000",
            "--where",
            "width >= 1024",
            "--overwrite",
        ],
    )


if __name__ == "__main__":
    main()
