"""The output steps' file access, on local disk or an object store alike.

Output steps (``balance``, ``pack``, ``token_records``, ``obelics_export``) read slim columns of the
committed shards and write their own files under the job's output. The output may be a bucket, so they
address files as locations (``fs.join``) and go through :mod:`mmcurate.pipeline.fs`: reads are Parquet
column projections (ranged GETs of the columns asked for, never the media), writes are
:func:`fs.write_atomic` (temp + fsync + rename on disk, one PUT to the final key on a store).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline import fs

__all__ = ["parquet_files", "read_parquet", "parquet_schema", "parquet_leaf_paths", "write_file", "exists", "name_of"]


def parquet_files(root: str, folder: str) -> list[str]:
    """Locations of the ``*.parquet`` files directly in ``root/folder``, sorted (none if it is missing)."""
    where = fs.join(root, folder)
    return [loc for loc in fs.list_files(where, recursive=False) if loc.endswith(".parquet")]


def _opened(location: str) -> tuple[pa.NativeFile | str, bool]:
    if not fs.is_remote(location):
        return location, False
    filesystem, path = fs.resolve(location)
    return filesystem.open_input_file(path), True


def read_parquet(location: str, columns: list[str] | None = None) -> pa.Table:
    """``columns`` of one Parquet file; nested leaves (``media.list.element.kind``) allowed."""
    source, close = _opened(location)
    try:
        return pq.ParquetFile(source).read(columns=columns)
    finally:
        if close:
            source.close()  # type: ignore[union-attr]


def parquet_schema(location: str) -> pa.Schema:
    source, close = _opened(location)
    try:
        return pq.read_schema(source)
    finally:
        if close:
            source.close()  # type: ignore[union-attr]


def parquet_leaf_paths(location: str) -> list[str]:
    """The file's column paths (``a.list.element.b``), for reading one nested leaf."""
    source, close = _opened(location)
    try:
        return [c.path for c in pq.ParquetFile(source).schema]
    finally:
        if close:
            source.close()  # type: ignore[union-attr]


def write_file(location: str, write: Callable[[BinaryIO], None]) -> fs.StoredFile:
    return fs.write_atomic(location, write)


def exists(location: str) -> bool:
    return fs.exists(location)


def name_of(location: str) -> str:
    return posixpath.basename(location.replace("\\", "/"))
