"""Starting or joining Ray the same way for the CLI, the tests and library users.

Without an address Ray starts locally (the embedded default, for a laptop); with one the driver joins
a cluster. Workers use the installed ``mmcurate`` package: we never ship ``working_dir='.'``, which
would put the repository root first on ``sys.path`` and let ``tokenizers/`` shadow HuggingFace's.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["init_ray", "configure_data_context"]

log = logging.getLogger(__name__)


def configure_data_context(progress: bool = True) -> None:
    """Settings every mmcurate job relies on.

    ``target_max_block_size=None`` keeps each task's output in one block, so the rows of a work unit
    are never split across blocks between the reader and the unit writer (the writer checks it).
    Datasets built before this call keep the context they were built with.
    """
    from ray.data import DataContext
    from ray.data.context import ShuffleStrategy

    ctx = DataContext.get_current()
    ctx.target_max_block_size = None
    # Dedup's groupby: the hash shuffle's map actors aborted here (abseil "Mutex corrupt", SIGABRT,
    # recovered only by Ray's retry) on Ray 2.60 with 2 CPUs; the pull-based sort shuffle ran clean.
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.enable_progress_bars = progress
    ctx.verbose_stats_logs = False
    ctx.print_on_execution_start = False


def init_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    env_vars: dict[str, str] | None = None,
    progress: bool = True,
) -> str:
    """Start (no address) or join (address) Ray; returns the GCS address to hand to other drivers."""
    import ray

    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, "ignore_reinit_error": True}
    runtime_env: dict[str, Any] = {}
    if env_vars:
        runtime_env["env_vars"] = env_vars
    if runtime_env:
        kwargs["runtime_env"] = runtime_env
    if address:
        ctx = ray.init(address=address, **kwargs)
    else:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
        if object_store_memory:
            kwargs["object_store_memory"] = object_store_memory
        ctx = ray.init(**kwargs)
    configure_data_context(progress)
    return str(ctx.address_info["gcs_address"])
