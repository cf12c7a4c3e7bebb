"""``mmcurate demo``: build a realistic input and run everything that exists on it, end to end.

Three inputs, as a real crawl would bring: a local folder of image-caption pairs (odd formats and
corrupt files mixed in), a URL list served by a loopback HTTP server with broken links and hostile
URLs, and WebDataset tars with hostile members. The server admits 127.0.0.1 through the SSRF guard by
an explicit ``allowed_networks`` entry; every other private address stays blocked. As stages land
(filters, dedup, video, tokenizers, balancing) they are added to the job, so the demo always exercises
the whole pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmcurate.jobs.demo_server import DemoServer
from mmcurate.jobs.demo_web import make_tars, make_web_files, serve_image_cases, write_url_list
from mmcurate.jobs.job_file import Job, resolve
from mmcurate.jobs.load import default_job_path
from mmcurate.jobs.run import run_job
from mmcurate.jobs.yaml_safe import load_yaml
from mmcurate.pipeline.generate.demo_folder import make_demo_folder

__all__ = ["run_demo", "demo_job", "demo_job_data", "make_demo_inputs"]


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


def demo_job_data(root: Path, out: Path, url_list: Path) -> dict[str, Any]:
    """The packaged demo job (``jobs/configs/demo.yaml``) as data, its input paths under ``root``."""
    data = load_yaml(default_job_path("demo.yaml"))
    for item in data["inputs"]:
        item["path"] = str(url_list if item["kind"] == "parquet" else root / item["path"])
    data["output"]["path"] = str(out)
    return data


def demo_job(root: Path, out: Path, url_list: Path) -> Job:
    return resolve(demo_job_data(root, out, url_list))


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
        job = demo_job(inputs, root / "output", inputs / "urls.parquet")
        funnel = run_job(job, address=address, progress=progress, overwrite=True)
    _stats(root / "output")  # output/report.html
    print(f"\ndemo input:  {inputs} (local/, web/ served at {server.base}, urls.parquet, tars/)"
          f"\ndemo output: {root / 'output'} (webdataset/, parquet/, arrow/, rejects/, clips/, mixture/, "
          f"manifest.jsonl, report.html)")
    _run_other_modalities(root, address, progress)
    return funnel


def _run_other_modalities(root: Path, address: str | None, progress: bool) -> None:
    """The audio job over generated speech, tones, noise and broken files, and the interleaved-document
    job over a crawl of real HTML manuals, each into its own output folder."""
    from mmcurate.jobs.demo_audio import run_audio_demo
    from mmcurate.jobs.demo_docs import run_docs_demo
    from mmcurate.jobs.funnel import format_funnel

    print("\naudio:\n" + format_funnel(run_audio_demo(root, address, progress)))
    _stats(root / "output-audio")
    print("\ninterleaved documents:\n" + format_funnel(run_docs_demo(root, address, progress)))


def _stats(out: Path) -> None:
    """``mmcurate stats OUT``: the report next to the shards."""
    import argparse

    from mmcurate.jobs.stats import cli as stats_cli

    parser = argparse.ArgumentParser(prog="mmcurate")
    stats_cli.add_subcommands(parser.add_subparsers(dest="command"))
    stats_cli.dispatch(parser.parse_args(["stats", str(out), "--no-progress"]))
