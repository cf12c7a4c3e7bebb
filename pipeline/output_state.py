"""The output folder's identity: which config and which plan wrote it.

``job.json`` is written when a job first starts in a folder. A rerun with the same config hash and
plan hash resumes (committed units are skipped); anything else is refused with both hashes named,
unless the caller asks to start over, which removes mmcurate's own files only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE
from mmcurate.pipeline.sinks.atomic import atomic_write, remove_temp_files
from mmcurate.pipeline.sinks.formats import WRITERS

__all__ = ["JOB_FILE", "OutputMismatch", "prepare_output"]

JOB_FILE = "job.json"
_OWNED_DIRS = (*WRITERS, "rejects", "clips", "dedup", "mixture", "tokens")
_OWNED_FILES = (JOURNAL, MANIFEST_TABLE, STATS_TABLE, JOB_FILE)


class OutputMismatch(RuntimeError):
    """The output folder holds results of a different config or input plan."""


def _start_over(root: Path) -> None:
    for name in _OWNED_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)
    for name in _OWNED_FILES:
        (root / name).unlink(missing_ok=True)


def prepare_output(out_dir: str | Path, identity: dict[str, Any], overwrite: bool) -> int:
    """Make ``out_dir`` ready for a job with ``identity`` (config_hash, plan_hash, ...).

    Returns the number of temp files left by an interrupted run that were removed.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    job_file = root / JOB_FILE
    if job_file.exists():
        previous = json.loads(job_file.read_text())
        same = all(previous.get(k) == identity[k] for k in ("config_hash", "plan_hash", "schema_version"))
        if not same and not overwrite:
            raise OutputMismatch(
                f"{root} holds output of another job (config {previous.get('config_hash')}, plan "
                f"{previous.get('plan_hash')}); this job is config {identity['config_hash']}, plan "
                f"{identity['plan_hash']}. Use a new output folder, or --overwrite to start over."
            )
        if not same:
            _start_over(root)
    removed = remove_temp_files(root)
    if not job_file.exists():
        body = json.dumps(identity, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write(job_file, lambda fh: fh.write(body))
    return removed
