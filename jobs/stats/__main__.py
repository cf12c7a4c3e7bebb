"""``python -m mmcurate.jobs.stats stats|inspect|export DIR ...`` until ``mmcurate`` mounts the commands."""

from __future__ import annotations

import argparse
import sys

from mmcurate.jobs.stats.cli import add_subcommands, dispatch

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmcurate.jobs.stats")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
