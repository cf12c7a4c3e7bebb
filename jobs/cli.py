"""The ``mmcurate`` command line: ``run`` a job, the ``demo``, ``train-vqvae``, ``stats``/``inspect``/``export``.

Without ``--address`` Ray starts locally (the embedded default); with it the same job runs on a
cluster, whose workers import the installed ``mmcurate`` package.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from importlib import resources
from pathlib import Path

from mmcurate.jobs.config import ConfigError, InputConfig, JobConfig, load_config
from mmcurate.jobs.funnel import format_funnel
from mmcurate.jobs.stats import cli as stats_cli
from mmcurate.pipeline.output_state import OutputMismatch

__all__ = ["main", "run_job", "default_config_path"]

log = logging.getLogger("mmcurate")


def default_config_path(name: str = "image_text.yaml") -> Path:
    return Path(str(resources.files("mmcurate.jobs").joinpath("configs", name)))


def _input_for(path: str, template: InputConfig) -> InputConfig:
    p = Path(path)
    suffixes = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".tar": "webdataset", ".jsonl": "jsonl"}
    kind = "folder" if p.is_dir() else suffixes.get(p.suffix.lower(), "jsonl")
    return dataclasses.replace(template, kind=kind, path=path)


def run_job(cfg: JobConfig, *, address: str | None = None, overwrite: bool = False, use_ray: bool = True,
            progress: bool = True) -> dict:
    """Start or join Ray, run the job, return its funnel."""
    from mmcurate.jobs.config import config_hash
    from mmcurate.jobs.image_text import build_pipeline
    from mmcurate.pipeline.execute import run_pipeline

    if use_ray:
        from mmcurate.pipeline.faults import fault_env
        from mmcurate.pipeline.ray_session import init_ray

        init_ray(address=address or cfg.ray.address, num_cpus=cfg.ray.num_cpus,
                 object_store_memory=cfg.ray.object_store_memory, env_vars=fault_env(), progress=progress)
    funnel = run_pipeline(build_pipeline(cfg), config_hash=config_hash(cfg), use_ray=use_ray, overwrite=overwrite,
                          progress=progress)
    if cfg.mixture.enabled:
        from mmcurate.jobs.mixture import run_mixture

        funnel["mixture"] = run_mixture(cfg.mixture, cfg.output, config_hash(cfg))
    return funnel


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcurate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a job config (resumes if the output folder has a partial run)")
    run.add_argument("config", help="job YAML, e.g. jobs/configs/image_text.yaml")
    run.add_argument("--input", action="append", default=[], help="input folder/Parquet/JSONL (repeatable)")
    run.add_argument("--output", help="output folder (overrides the config)")
    run.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    run.add_argument("--overwrite", action="store_true", help="discard output of a different config and start over")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    demo = sub.add_parser("demo", help="generate a realistic input and run the default job end to end")
    demo.add_argument("out", nargs="?", default="mmcurate-demo", help="demo folder (input/ and output/ inside)")
    demo.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    demo.add_argument("--scenes", type=int, default=220, help="generated scene images")
    demo.add_argument("--no-progress", action="store_true")
    sub.add_parser("train-vqvae", help="train the VQ-VAE image tokenizer (see `mmcurate train-vqvae -h`)")
    stats_cli.add_subcommands(sub)
    return parser


def _cmd_run(args: argparse.Namespace) -> dict:
    cfg = load_config(args.config, args.set)
    if args.input:
        cfg = dataclasses.replace(cfg, inputs=[_input_for(p, cfg.inputs[0]) for p in args.input])
    if args.output:
        cfg = dataclasses.replace(cfg, output=args.output)
    return run_job(cfg, address=args.address, overwrite=args.overwrite, progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train-vqvae"]:  # its own parser and job module: jobs/train_vqvae.py
        from mmcurate.jobs.train_vqvae import main as train_vqvae_main

        return train_vqvae_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command in stats_cli.COMMANDS:
        return stats_cli.dispatch(args)
    try:
        if args.command == "run":
            funnel = _cmd_run(args)
        else:
            from mmcurate.jobs.demo import run_demo

            funnel = run_demo(args.out, address=args.address, n_scenes=args.scenes, progress=not args.no_progress)
    except (ConfigError, OutputMismatch, FileNotFoundError) as exc:
        print(f"mmcurate: error: {exc}", file=sys.stderr)
        return 2
    print(format_funnel(funnel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
