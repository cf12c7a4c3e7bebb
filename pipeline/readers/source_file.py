"""Input files wherever they live: a local path or an ``s3://`` / ``gs://`` / ``hf://`` object.

Readers plan on the driver and read units on workers; both open their input through here, so a
folder, table or tar on an object store reads like one on disk. A local file is opened as before (the
folder reader's ``fstat`` size check, the table readers' seeks). An object is opened with pyarrow's
filesystem as a random-access file behind a 1 MiB ``io.BufferedReader``: pyarrow's files seek but have
no ``readline``, and a CSV byte range or a JSONL line then costs one ranged GET, not a download of the
whole object.
"""

from __future__ import annotations

import io
import os
import posixpath
from typing import BinaryIO

import pyarrow.fs as pafs

from mmcurate.pipeline import fs

__all__ = ["open_source", "read_beside", "source_size", "list_source_files", "is_folder",
           "is_file", "source_name", "join_relative"]

_BUFFER = 1 << 20


def open_source(location: str) -> BinaryIO:
    """A seekable binary file for ``location``; raises ``FileNotFoundError`` / ``OSError`` like ``open``."""
    if not fs.is_remote(location):
        return open(location, "rb")
    return io.BufferedReader(fs.open_input_file(location), _BUFFER)  # type: ignore[arg-type]


def read_beside(table: str, value: str, max_bytes: int) -> bytes:
    """The object ``value`` names relative to the folder of the table ``table`` on a store: no absolute
    keys, no ``..``, no scheme (the store-side form of the local ``read_inside`` rule), at most
    ``max_bytes``. Raises ``ValueError`` with the reason code as its first word."""
    parts = value.split("/")
    if not value or value.startswith("/") or "://" in value or "\0" in value or ".." in parts:
        raise ValueError(f"path_outside_root: {value[:200]!r} must be a key relative to the table's folder")
    location = fs.join(table.rsplit("/", 1)[0], value)
    with open_source(location) as fh:
        size = fh.raw.size()  # type: ignore[attr-defined]
        if size > max_bytes:
            raise ValueError(f"too_large: {value!r}: {size} bytes > max_file_bytes {max_bytes}")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"too_large: {value!r}: grew past max_file_bytes {max_bytes} while read")
    return data


def _info(location: str) -> pafs.FileInfo:
    filesystem, path = fs.resolve(location)
    return filesystem.get_file_info(path)


def source_size(location: str) -> int:
    return os.stat(location).st_size if not fs.is_remote(location) else int(_info(location).size or 0)


def is_folder(location: str) -> bool:
    return os.path.isdir(location) if not fs.is_remote(location) else _info(location).type == pafs.FileType.Directory


def is_file(location: str) -> bool:
    return os.path.isfile(location) if not fs.is_remote(location) else _info(location).type == pafs.FileType.File


def list_source_files(location: str) -> list[str]:
    """Relative ``/``-separated paths of every object under a remote folder, sorted (object stores have no
    links, devices or permissions, so every object is a regular file)."""
    return sorted(fs.relative_to(loc, location) for loc in fs.list_files(location))


def source_name(location: str) -> str:
    """The last path component (a file name) of a local path or URI."""
    return posixpath.basename(location.rstrip("/")) if fs.is_remote(location) else os.path.basename(location)


def join_relative(folder: str, rel: str) -> str:
    return fs.join(folder, rel) if fs.is_remote(folder) else os.path.join(folder, rel)
