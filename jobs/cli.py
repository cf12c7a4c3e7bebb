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


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every job command takes: how much it says, and tracebacks for bug reports."""
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    loud.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    return parser


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: a fraction between 0 and 1")
    return value


def _parser() -> argparse.ArgumentParser:
    helpful = argparse.ArgumentDefaultsHelpFormatter  # --help shows every default
    parser = argparse.ArgumentParser(prog="mmcurate", description=__doc__.splitlines()[0], formatter_class=helpful)
    parser.add_argument("--version", action="version", version=f"mmcurate {mmcurate_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = _common(sub.add_parser("run", help="run a job (resumes if the output folder has a partial run of it)",
                                 formatter_class=helpful))
    _job_arguments(run)
    run.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    run.add_argument("--local", action="store_true", help="run in this process without Ray (small jobs)")
    run.add_argument("--overwrite", action="store_true", help="discard output of a different job and start over")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress bars (logs only); also off when stdout is not a terminal")
    run.add_argument("--fail-under-accepted", type=_fraction, metavar="FRACTION", default=None,
                     help="exit 1 when fewer than this fraction of input rows is accepted (e.g. 0.5)")
    steps = _common(sub.add_parser("steps", help="list every step a job can use, with its parameters",
                                   formatter_class=helpful))
    steps.add_argument("--json", action="store_true", help="a JSON list of {name, kind, class, doc, params}")
    config = sub.add_parser("config", help="job files: `config show` prints the resolved job", formatter_class=helpful)
    config_sub = config.add_subparsers(dest="config_command", required=True)
    _job_arguments(_common(config_sub.add_parser("show", help="print the resolved job as YAML (runs nothing)",
                                                 formatter_class=helpful)))
    demo = _common(sub.add_parser("demo", help="generate a realistic input and run the demo job end to end",
                                  formatter_class=helpful))
    demo.add_argument("out", nargs="?", default="mmcurate-demo", help="demo folder (input/ and output/ inside)")
    demo.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    demo.add_argument("--scenes", type=int, default=220, help="generated scene images")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars; also off when stdout is not a terminal")
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


def _progress(args: argparse.Namespace) -> bool:
    # Bars redraw with carriage returns: into a log file or a pipe they are hundreds of lines of noise.
    return not args.no_progress and sys.stdout.isatty()


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    job = load_job(args.job, args.set, args.input, args.output)
    return run_job(job, address=args.address, overwrite=args.overwrite, use_ray=not args.local,
                   progress=_progress(args), command=["mmcurate", *argv])


def _acceptance_check(funnel: dict[str, Any], fail_under: float | None) -> int:
    """Warn when nothing was accepted (with the top reasons); exit 1 under ``--fail-under-accepted``."""
    rows, accepted = funnel["rows_in"], funnel["accepted"]
    share = accepted / rows if rows else 0.0
    if rows and not accepted:
        top = ", ".join(f"{reason} ({n})" for reason, n in list(funnel["reasons"].items())[:3])
        print(f"mmcurate: warning: every row was rejected ({rows} of {rows}); top reasons: {top}", file=sys.stderr)
    if fail_under is not None and share < fail_under:
        print(f"mmcurate: error: {accepted} of {rows} rows accepted ({100 * share:.1f} %), under "
              f"--fail-under-accepted {fail_under:g}", file=sys.stderr)
        return 1
    return 0


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

        funnel = run_demo(args.out, address=args.address, n_scenes=args.scenes, progress=_progress(args))
    print(format_funnel(funnel))
    return _acceptance_check(funnel, getattr(args, "fail_under_accepted", None))


def _configure_logging(args: argparse.Namespace) -> None:
    """INFO by default; ``-q`` warnings only (Ray's too: see ``init_ray``); ``-v`` mmcurate's debug messages
    (not every library's: PIL and urllib3 at DEBUG would bury them)."""
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # basicConfig does nothing when a handler exists already
    logging.getLogger("mmcurate").setLevel(logging.DEBUG if verbose else logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train-vqvae"]:  # its own parser and job module: jobs/train_vqvae.py
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from mmcurate.jobs.train_vqvae import main as train_vqvae_main

        return train_vqvae_main(argv[1:])
    args = _parser().parse_args(argv)
    _configure_logging(args)
    if args.command in stats_cli.COMMANDS:
        return stats_cli.dispatch(args)
    try:
        return _dispatch(args, argv)
    except USER_ERRORS as exc:
        if args.debug:
            raise
        print(f"mmcurate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
