"""bench/gpu.py runs on CPU (the smoke size a device machine's call would scale up) and prints every measure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"
MEASURES = [
    r"\(a\) device JPEG decode alone \(libjpeg",
    r"mmcurate decode_images",
    r"\(b\) naive loop: PIL decode > transform > ViT-B/32 fp32",
    r"\(c\) mmcurate CLIP path from JPEG bytes \(embed_jpeg_bytes, fp32\)",
    r"ratio \(c\)/\(b\)",
    r"\(d\) VQ 256² tokenize from JPEG bytes \(vqvae_small",
    r"VQ encode alone from uint8 host pixels \(32x32 codes",
]


def test_bench_gpu_runs_on_cpu_and_prints_every_measure(tmp_path: Path) -> None:
    # cwd outside the repo: its tokenizers/ folder would shadow HuggingFace's package.
    run = subprocess.run([sys.executable, str(BENCH), "--device", "cpu", "--n", "64"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert re.search(r"^64 JPEG photo crops, \d+-\d+ KB", out, re.M), out
    for measure in MEASURES:
        found = re.search(measure + r".*?\s([\d,.]+) ?(img/s|x)", out)
        assert found, f"{measure!r} missing from:\n{out}"
        assert float(found.group(1).replace(",", "")) > 0
    assert "goal >= 10,000" in out and "goal >= 1.3x" in out and "goal >= 2,000" in out
    sizes = re.search(r"(\d+)-(\d+) KB", out)
    assert 20 <= int(sizes.group(1)) and int(sizes.group(2)) <= 60  # real-photo crops of web-image size
    score_gap = float(re.search(r"max \|score difference\| ([\d.]+)", out).group(1))
    assert score_gap < 0.01  # the two CLIP paths score the same images alike (same fp32 weights on CPU)
