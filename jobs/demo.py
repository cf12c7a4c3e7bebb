"""``mmcurate demo``: build a realistic input and run everything that exists on it, end to end.

As stages land (web ingest, filters, dedup, video, tokenizers, balancing) they are added here, so the
demo always exercises the whole pipeline.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mmcurate.jobs.cli import default_config_path, run_job
from mmcurate.jobs.config import load_config
from mmcurate.jobs.demo_data import make_demo_folder

__all__ = ["run_demo"]


def run_demo(out: str | Path, *, address: str | None = None, n_scenes: int = 220, progress: bool = True) -> dict[str, Any]:
    root = Path(out)
    input_dir = root / "input"
    if not input_dir.exists():
        make_demo_folder(input_dir, n_scenes=n_scenes)
    cfg = load_config(default_config_path())
    template = dataclasses.replace(cfg.inputs[0], kind="folder", path=str(input_dir), unit_rows=100)
    cfg = dataclasses.replace(cfg, inputs=[template], output=str(root / "output"))
    funnel = run_job(cfg, address=address, progress=progress)
    print(f"\ndemo input:  {input_dir}\ndemo output: {root / 'output'} (webdataset/, parquet/, arrow/, rejects/, manifest.jsonl)")
    return funnel
