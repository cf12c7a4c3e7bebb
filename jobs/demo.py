"""``mmcurate demo``: build a realistic input and run everything that exists on it, end to end.

Three inputs, as a real crawl would bring: a local folder of image-caption pairs (odd formats and
corrupt files mixed in), a URL list served by a loopback HTTP server with broken links and hostile
URLs, and WebDataset tars with hostile members. The server admits 127.0.0.1 through the SSRF guard by
an explicit ``allowed_networks`` entry; every other private address stays blocked. As stages land
(filters, dedup, video, tokenizers, balancing) they are added to the job, so the demo always exercises
the whole pipeline.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mmcurate.jobs.cli import default_config_path, run_job
from mmcurate.jobs.config import InputConfig, JobConfig, load_config
from mmcurate.jobs.demo_server import DemoServer
from mmcurate.jobs.demo_web import make_tars, make_web_files, serve_image_cases, write_url_list
from mmcurate.pipeline.generate.demo_folder import make_demo_folder

__all__ = ["run_demo", "demo_config", "make_demo_inputs"]


def make_demo_inputs(root: Path, n_scenes: int = 220, n_web: int = 40, seed: int = 0,
                     n_crops: int = 60) -> dict[str, dict[str, Any]]:
    """Local folder, web files and tars under ``root``; returns the expected reasons of each."""
    local = make_demo_folder(root / "local", n_scenes=n_scenes, n_crops=n_crops, seed=seed)
    pairs = make_web_files(root / "web", n_web, seed + 1)
    return {
        "local": local,
        "web": {"pairs": pairs, "cases": serve_image_cases(root / "local", root / "web")},
        "tars": make_tars(root / "tars", n_good=12, seed=seed + 2),
    }


def demo_config(root: Path, out: Path, url_list: Path) -> JobConfig:
    cfg = load_config(default_config_path(), ["download.allowed_networks=['127.0.0.1/32']",
                                              "download.total_timeout=8", "download.connect_timeout=2",
                                              "filters.ocr.enabled=true", "filters.ocr.max_text_area=0.5",
                                              "mixture.vq_tokenize=true"])
    inputs = [
        InputConfig(kind="folder", path=str(root / "local"), unit_rows=100),
        InputConfig(kind="parquet", path=str(url_list), url_column="url", unit_rows=25),
        InputConfig(kind="webdataset", path=str(root / "tars")),
    ]
    return dataclasses.replace(cfg, inputs=inputs, output=str(out))


def run_demo(out: str | Path, *, address: str | None = None, n_scenes: int = 220, progress: bool = True) -> dict[str, Any]:
    root = Path(out)
    inputs = root / "input"
    expected = make_demo_inputs(inputs, n_scenes=n_scenes) if not (inputs / "local").exists() else None
    pairs = expected["web"]["pairs"] if expected else sorted(
        (p.name, "a demo picture") for p in (inputs / "web").glob("*.jpg"))
    cases = expected["web"]["cases"] if expected else serve_image_cases(inputs / "local", inputs / "web")
    with DemoServer(inputs / "web") as server:
        # The URL list names this run's port, so each demo run is a fresh job (overwrite), not a resume.
        write_url_list(inputs / "urls.parquet", server.base, pairs, cases)
        cfg = demo_config(inputs, root / "output", inputs / "urls.parquet")
        funnel = run_job(cfg, address=address, progress=progress, overwrite=True)
    from mmcurate.jobs.cli import main as cli_main

    cli_main(["stats", str(root / "output"), "--no-progress"])  # writes output/report.html
    print(f"\ndemo input:  {inputs} (local/, web/ served at {server.base}, urls.parquet, tars/)"
          f"\ndemo output: {root / 'output'} (webdataset/, parquet/, arrow/, rejects/, clips/, mixture/, "
          f"manifest.jsonl, report.html)")
    return funnel
