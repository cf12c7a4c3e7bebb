"""The ``mmcurate`` command line: ``run`` a job, list its ``steps``, ``config show``, the ``demo``,
``train-vqvae``, and ``stats``/``inspect``/``export`` over an output.

A job is checked whole (names, types, ranges, paths) before Ray starts; a mistake is one line on
stderr and exit code 2. Without ``--address`` Ray starts locally (the embedded default); with it the
same job runs on a cluster, whose workers import the installed ``mmcurate`` package.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import yaml

from mmcurate.jobs.funnel import format_funnel
from mmcurate.jobs.job_file import resolved_data
from mmcurate.jobs.load import default_job_path, load_job
from mmcurate.jobs.preflight import PreflightError
from mmcurate.jobs.run import mmcurate_version, run_job
from mmcurate.jobs.stats import cli as stats_cli
from mmcurate.jobs.typed import ConfigError
from mmcurate.jobs.yaml_safe import YamlError
from mmcurate.pipeline.fs import StoreError
from mmcurate.pipeline.output_state import OutputMismatch
from mmcurate.pipeline.params import ParamError
from mmcurate.pipeline.readers.base import InputError
from mmcurate.pipeline.sinks.lease import LeaseHeld

__all__ = ["main", "run_job", "default_job_path", "USER_ERRORS"]

log = logging.getLogger("mmcurate")
# Mistakes a user makes and can fix from the message: one line, exit 2, never a traceback.
USER_ERRORS = (ConfigError, YamlError, InputError, PreflightError, OutputMismatch, StoreError, LeaseHeld,
               ParamError, FileNotFoundError)


def _job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", nargs="?", help="job file (YAML, or a job.json of an earlier run); "
                                               "default: the packaged image-text job")
    parser.add_argument("--input", action="append", default=[], help="input path, kind judged by content (repeatable)")
    parser.add_argument("--output", help="output folder or s3:// prefix (overrides output.path)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override: steps.3.min_side=64, image_decode.min_side=64, output.max_rows=500")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcurate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mmcurate {mmcurate_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a job (resumes if the output folder has a partial run of it)")
    _job_arguments(run)
    run.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    run.add_argument("--local", action="store_true", help="run in this process without Ray (small jobs)")
    run.add_argument("--overwrite", action="store_true", help="discard output of a different job and start over")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    steps = sub.add_parser("steps", help="list every step a job can use, with its parameters")
    steps.add_argument("--json", action="store_true", help="a JSON list of {name, kind, class, doc, params}")
    config = sub.add_parser("config", help="job files: `config show` prints the resolved job")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    _job_arguments(config_sub.add_parser("show", help="print the resolved job as YAML (runs nothing)"))
    demo = sub.add_parser("demo", help="generate a realistic input and run the demo job end to end")
    demo.add_argument("out", nargs="?", default="mmcurate-demo", help="demo folder (input/ and output/ inside)")
    demo.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    demo.add_argument("--scenes", type=int, default=220, help="generated scene images")
    demo.add_argument("--no-progress", action="store_true")
    sub.add_parser("train-vqvae", help="train the VQ-VAE image tokenizer (see `mmcurate train-vqvae -h`)")
    stats_cli.add_subcommands(sub)
    return parser


def _print_steps(as_json: bool) -> None:
    from dataclasses import asdict

    from mmcurate.jobs.catalog import describe_steps

    steps = describe_steps()
    if as_json:
        print(json.dumps([{**asdict(s), "class": s.cls} for s in steps], indent=2, default=str))
        return
    for s in steps:
        print(f"{s.name:<20} {s.kind:<7} {s.doc}")
        for key, info in s.params.items():
            print(f"    {key:<26} {info['type']:<24} = {info['default']!r:<14} {info['doc']}")


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    job = load_job(args.job, args.set, args.input, args.output)
    return run_job(job, address=args.address, overwrite=args.overwrite, use_ray=not args.local,
                   progress=not args.no_progress, command=["mmcurate", *argv])


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "steps":
        _print_steps(args.json)
        return 0
    if args.command == "config":
        job = load_job(args.job, args.set, args.input, args.output)
        print(yaml.safe_dump(resolved_data(job), sort_keys=False), end="")
        return 0
    if args.command == "run":
        funnel = _cmd_run(args, argv)
    else:
        from mmcurate.jobs.demo import run_demo

        funnel = run_demo(args.out, address=args.address, n_scenes=args.scenes, progress=not args.no_progress)
    print(format_funnel(funnel))
    return 0


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
        return _dispatch(args, argv)
    except USER_ERRORS as exc:
        print(f"mmcurate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
