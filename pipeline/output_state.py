"""The output folder's identity: which config and which plan wrote it.

``job.json`` is written when a job first starts in a folder. A rerun with the same config hash and
plan hash resumes (committed units are skipped); anything else is refused with both hashes named,
unless the caller asks to start over, which removes mmcurate's own files only. The folder may be an
object-store prefix (``s3://bucket/out``); ``pipeline/fs.py`` resolves it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from mmcurate.pipeline import fs
from mmcurate.pipeline.atomic import remove_temp_files
from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE
from mmcurate.pipeline.sinks.formats import WRITERS
from mmcurate.pipeline.sinks.unit_writer import COMMITS_DIR

__all__ = ["JOB_FILE", "OutputMismatch", "prepare_output"]

JOB_FILE = "job.json"
_OWNED_DIRS = (*WRITERS, "rejects", "clips", "passes", "mixture", "tokens")
_OWNED_FILES = (JOURNAL, MANIFEST_TABLE, STATS_TABLE, JOB_FILE)


class OutputMismatch(RuntimeError):
    """The output folder holds results of a different config or input plan."""


def _start_over(root: str) -> None:
    if fs.is_remote(root):
        for name in (*_OWNED_DIRS, COMMITS_DIR):
            for location in fs.list_files(fs.join(root, name)):
                fs.delete(location)
        for name in _OWNED_FILES:
            fs.delete(fs.join(root, name))
        return
    root = Path(root)
    for name in _OWNED_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)
    for name in _OWNED_FILES:
        (root / name).unlink(missing_ok=True)


def prepare_output(out_dir: str | Path, identity: dict[str, Any], overwrite: bool) -> int:
    """Make ``out_dir`` ready for a job with ``identity`` (config_hash, plan_hash, ...).

    Returns the number of temp files left by an interrupted run that were removed.
    """
    root = os.fspath(out_dir)
    if not fs.is_remote(root):
        Path(root).mkdir(parents=True, exist_ok=True)
    job_file = fs.join(root, JOB_FILE)
    if fs.exists(job_file):
        previous = json.loads(fs.read_bytes(job_file))
        same = all(previous.get(k) == identity[k] for k in ("config_hash", "plan_hash", "schema_version"))
        if not same and not overwrite:
            raise OutputMismatch(
                f"{root} holds output of another job (config {previous.get('config_hash')}, plan "
                f"{previous.get('plan_hash')}); this job is config {identity['config_hash']}, plan "
                f"{identity['plan_hash']}. Use a new output folder, or --overwrite to start over."
            )
        if not same:
            _start_over(root)
    removed = 0 if fs.is_remote(root) else remove_temp_files(Path(root))
    if not fs.exists(job_file):
        body = json.dumps(identity, indent=2, sort_keys=True).encode() + b"\n"
        fs.write_atomic(job_file, lambda fh: fh.write(body))
    return removed
