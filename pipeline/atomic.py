"""Atomic file creation: temp name, fsync, rename, fsync the folder.

A reader can never see a half-written shard under its final name, and a crash leaves only temp files
named ``<name>.mmcurate-tmp-<32 hex>``, which the job removes on its next start. Only names of exactly
that shape are ever removed (a user's ``notes.tmp-1`` once was), and the caller removes them only from
a folder proven to be an mmcurate output (``pipeline/output_state.py``). Writing the same content twice (a Ray
retry of a unit that had already finished) replaces the file with identical bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileInfo", "atomic_write", "remove_temp_files", "TMP_MARK"]

TMP_MARK = ".mmcurate-tmp-"
_TMP_NAME = re.compile(r".+\.mmcurate-tmp-[0-9a-f]{32}$")


@dataclass(frozen=True)
class FileInfo:
    path: Path
    bytes: int
    sha256: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[BinaryIO], None], before_rename: Callable[[], None] | None = None) -> FileInfo:
    """Create ``path`` with the bytes ``write`` puts into the file object, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_MARK}{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        info = FileInfo(path=path, bytes=tmp.stat().st_size, sha256=_sha256_file(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return info


def remove_temp_files(root: Path) -> int:
    """Delete leftovers of interrupted writes under ``root`` (our temp names only); returns how many."""
    removed = 0
    for tmp in root.rglob(f"*{TMP_MARK}*"):
        if _TMP_NAME.fullmatch(tmp.name) and tmp.is_file() and not tmp.is_symlink():
            tmp.unlink()
            removed += 1
    return removed
