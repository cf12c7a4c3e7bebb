"""The output folder's identity: which config and which plan wrote it.

``job.json`` is written when a job first starts in a folder. A rerun with the same config hash and
plan hash resumes (committed units are skipped); anything else is refused with both hashes named,
unless the caller asks to start over. A resume whose inputs changed (``inputs_hash``, see
``pipeline/fingerprint.py``) is refused the same way: kill, edit an input, resume would mix old and
new rows. The folder may be an object-store prefix (``s3://bucket/out``); ``pipeline/fs.py`` resolves it.

What mmcurate may delete, and nothing else: the files its manifest lists, its fixed bookkeeping files,
shard/reject/clip files named like a work unit's (``u00-000000...``: written, then killed before the
commit), its own temp names, and the derived folders other steps write (``dedup/``, ``mixture/``,
``tokens/``). A folder without ``job.json`` is never written into or cleaned (``pipeline/output_guard.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from mmcurate.pipeline import fs
from mmcurate.pipeline.atomic import remove_temp_files
from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE
from mmcurate.pipeline.output_guard import JOB_FILE, OutputMismatch, check_output_owned
from mmcurate.pipeline.sinks.formats import WRITERS
from mmcurate.pipeline.sinks.unit_writer import COMMITS_DIR

__all__ = ["JOB_FILE", "OutputMismatch", "InputsChanged", "prepare_output"]

_UNIT_DIRS = (*WRITERS, "rejects", "clips", "windows")
_DERIVED_DIRS = ("passes", "dedup", "mixture", "tokens", "obelics")
_OWNED_FILES = (JOURNAL, MANIFEST_TABLE, STATS_TABLE, JOB_FILE)
_UNIT_FILE = re.compile(r"u\d{2,}-\d{6}(-\d{4})?\.[a-z]+")


class InputsChanged(OutputMismatch):
    """The output was started from inputs whose content has changed since."""


def _listed_files(root: str) -> set[str]:
    """Relative paths of every file the journal lists (a torn last line is skipped)."""
    listed: set[str] = set()
    journal = fs.join(root, JOURNAL)
    if not fs.exists(journal):
        return listed
    for line in fs.read_bytes(journal).splitlines():
        try:
            listed.update(f["path"] for f in json.loads(line)["files"])
        except (ValueError, KeyError, TypeError):
            continue
    return listed


def _start_over(root: str) -> None:
    listed = _listed_files(root)
    if fs.is_remote(root):
        for name in (*_UNIT_DIRS, *_DERIVED_DIRS, COMMITS_DIR):
            for location in fs.list_files(fs.join(root, name)):
                rel = fs.relative_to(location, root)
                if name in (*_DERIVED_DIRS, COMMITS_DIR) or rel in listed or _UNIT_FILE.fullmatch(rel.rsplit("/", 1)[-1]):
                    fs.delete(location)
        for name in _OWNED_FILES:
            fs.delete(fs.join(root, name))
        return
    base = Path(root)
    for name in _UNIT_DIRS:
        folder = base / name
        for path in sorted(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []:
            rel = path.relative_to(base).as_posix()
            if path.is_file() and not path.is_symlink() and (rel in listed or _UNIT_FILE.fullmatch(path.name)):
                path.unlink()
    for name in _DERIVED_DIRS:
        if not (base / name).is_symlink():
            shutil.rmtree(base / name, ignore_errors=True)
    for name in _OWNED_FILES:
        (base / name).unlink(missing_ok=True)


def _changed(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> str:
    """Which input changed, for the message (by position; the plan hash already pins the input list)."""
    for i, (a, b) in enumerate(zip(before, now, strict=False)):
        if a.get("fingerprint") != b.get("fingerprint"):
            return f"input {i + 1} ({b.get('input')})"
    return "an input"


def prepare_output(out_dir: str | Path, identity: dict[str, Any], overwrite: bool) -> int:
    """Make ``out_dir`` ready for a job with ``identity`` (config_hash, plan_hash, ...).

    Returns the number of temp files left by an interrupted run that were removed.
    """
    root = os.fspath(out_dir)
    check_output_owned(root)  # a folder mmcurate did not create is neither written nor cleaned
    if not fs.is_remote(root):
        Path(root).mkdir(parents=True, exist_ok=True)
    job_file = fs.join(root, JOB_FILE)
    if fs.exists(job_file):
        previous = json.loads(fs.read_bytes(job_file))
        same = all(previous.get(k) == identity[k] for k in ("config_hash", "plan_hash", "schema_version"))
        before, now = previous.get("inputs_hash"), identity.get("inputs_hash")
        if same and before and now and before != now and not overwrite:
            raise InputsChanged(
                f"{root}: {_changed(previous.get('input_fingerprints', []), identity.get('input_fingerprints', []))} "
                f"changed since this output "
                f"was started (inputs {before} then, {now} now); resuming would mix old and new rows. "
                f"Use a new output folder, or --overwrite to start over.")
        same = same and (not before or not now or before == now)
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
