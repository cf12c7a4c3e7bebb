"""The ``stats``, ``inspect`` and ``export`` subcommands, for ``mmcurate`` to mount.

``jobs/cli.py`` calls :func:`add_subcommands` on its subparsers and hands a parsed namespace whose
``command`` is one of :data:`COMMANDS` to :func:`dispatch`. The commands stay thin: parse, call the
library function, print. Expected failures (missing folder, bad ``--where``) print one line and
return 2; progress bars (tqdm, with rows/s) go to stderr unless ``--no-progress``.
"""

from __future__ import annotations

import argparse
import sys
import time

from mmcurate.jobs.terminal import inert

__all__ = ["COMMANDS", "add_subcommands", "dispatch", "parse_pairs"]

COMMANDS = ("stats", "inspect", "export")


def parse_pairs(items: list[str], flag: str) -> dict[str, list[float]]:
    """``name=value`` pairs (repeatable names) to ``{name: [values]}``."""
    out: dict[str, list[float]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out.setdefault(name.strip(), []).append(float(value))
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"{flag} expects name=number, got {item!r}")
    return out


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stats = subparsers.add_parser("stats", help="summarise an output folder and write DIR/report.html")
    stats.add_argument("dir", help="job output folder")
    stats.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="draw a threshold on a histogram (repeatable), e.g. video_motion_v1_score=1.0",
    )
    stats.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="NAME=TOKENS",
        help="token target per modality (image=1e9) or source (source:/data/a=5e8)",
    )
    stats.add_argument("--report", help="where to write the HTML (default DIR/report.html)")
    stats.add_argument("--samples", type=int, default=24, help="accepted sample cards in the report")
    stats.add_argument("--per-reason", type=int, default=4, help="rejected sample cards per reason")
    stats.add_argument("--no-progress", action="store_true")

    inspect = subparsers.add_parser("inspect", help="print samples: caption, scores, reason, path in shard")
    inspect.add_argument("dir", help="job output folder")
    inspect.add_argument("-n", type=int, default=10, help="samples to show")
    inspect.add_argument("--reason", help="show rejects with this reason ('stage:why') or stage")
    inspect.add_argument("--rejects", action="store_true", help="show rejects (any reason)")
    inspect.add_argument("--where", help='filter, e.g. "width > 512 and caption_len < 20"')
    inspect.add_argument("--no-progress", action="store_true")

    export = subparsers.add_parser(
        "export", help="accepted samples as WebDataset, Parquet, Arrow, HF Parquet (hf) or LLaVA JSON + media (llava)")
    export.add_argument("dir", help="job output folder")
    export.add_argument("--format", required=True, choices=["webdataset", "parquet", "arrow", "hf", "llava"],
                        help="hf: Parquet with a datasets.Image column; llava: llava.json with images/ beside it")
    export.add_argument("--out", required=True, help="export folder")
    export.add_argument("--shard-size", type=int, default=1000, help="rows per shard")
    export.add_argument("--where", help='filter, e.g. "width >= 256"')
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    export.add_argument("--no-progress", action="store_true")


def _stats(args: argparse.Namespace) -> int:
    from mmcurate.jobs.stats.aggregate import aggregate
    from mmcurate.jobs.stats.layout import OutputFolder
    from mmcurate.jobs.stats.report import format_summary, render_html, write_report
    from mmcurate.jobs.stats.samples import accepted_cards, rejected_cards

    started = time.monotonic()
    folder = OutputFolder.open(args.dir)
    thresholds = parse_pairs(args.threshold, "--threshold")
    targets = {k: v[-1] for k, v in parse_pairs(args.budget, "--budget").items()}
    summary = aggregate(folder, thresholds=thresholds, targets=targets, progress=not args.no_progress)
    accepted = accepted_cards(folder, summary.score_columns, args.samples)
    rejected = rejected_cards(folder, list(summary.funnel.reasons), args.per_reason)
    path = args.report or folder.path("report.html")  # beside the shards, on disk or in the bucket
    write_report(path, render_html(summary, accepted, rejected))
    seconds = time.monotonic() - started
    rows = summary.recount_accepted + sum(summary.recount_reasons.values())
    print(inert(format_summary(summary), keep_newlines=True))
    rate = rows / max(seconds, 1e-9)
    print(inert(f"\nreport: {path}\n{rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)", keep_newlines=True))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from mmcurate.jobs.stats.inspect import format_row, inspect_rows
    from mmcurate.jobs.stats.layout import OutputFolder

    rows = inspect_rows(
        OutputFolder.open(args.dir),
        n=args.n,
        reason=args.reason,
        where=args.where,
        rejects=args.rejects,
        progress=not args.no_progress,
    )
    for i, row in enumerate(rows):
        print(format_row(i, row))  # inert: format_row escapes every line
    if not rows:
        print("no matching samples")
    return 0


def _export(args: argparse.Namespace) -> int:
    from mmcurate.jobs.stats.export import export
    from mmcurate.jobs.stats.layout import OutputFolder

    started = time.monotonic()
    result = export(
        OutputFolder.open(args.dir),
        args.out,
        args.format,
        shard_size=args.shard_size,
        where=args.where,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    seconds = time.monotonic() - started
    what = f"{result.out / 'llava.json'} (media beside it)" if args.format == "llava" else (
        f"{result.shards} {args.format} shards in {result.out}")
    print(inert(
        f"exported {result.rows:,} rows to {what} "
        f"({seconds:.1f} s, {result.rows / max(seconds, 1e-9):,.0f} rows/s)"
    ))
    return 0


def dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand in ``args.command``; returns the process exit code."""
    from mmcurate.jobs.stats.where import WhereError

    handlers = {"stats": _stats, "inspect": _inspect, "export": _export}
    try:
        return handlers[args.command](args)
    except (FileNotFoundError, FileExistsError, WhereError, ValueError) as exc:
        print(inert(f"mmcurate {args.command}: error: {exc}"), file=sys.stderr)
        return 2
