"""Dataset statistics for an output folder: ``mmcurate stats``, ``inspect`` and ``export``.

Everything here reads an output folder (the layout of ``README.md``) with Arrow, in batches of only the
needed columns, so it works on folders of any size with bounded memory. Importing the package is
cheap; the heavy modules load when a command runs.
"""

from mmcurate.jobs.stats.cli import COMMANDS, add_subcommands, dispatch

__all__ = ["COMMANDS", "add_subcommands", "dispatch"]
