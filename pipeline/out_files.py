"""The output steps' file access, on local disk or an object store alike.

Output steps (``balance``, ``pack``, ``token_records``, ``obelics_export``) read slim columns of the
committed shards and write their own files under the job's output. The output may be a bucket, so they
address files as locations (``fs.join``) and go through :mod:`mmcurate.pipeline.fs`: reads are Parquet
column projections (ranged GETs of the columns asked for, never the media), writes are
:func:`fs.write_atomic` (temp + fsync + rename on disk, one PUT to the final key on a store).
"""

from __future__ import annotations

import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.atomic import TMP_MARK

__all__ = ["files_in", "read_parquet", "parquet_schema", "parquet_leaf_paths", "name_of"]


def files_in(root: str, folder: str, ext: str = "parquet") -> list[str]:
    """Locations of the ``*.ext`` files directly in ``root/folder``, sorted, temp files left out (none if
    the folder is missing)."""
    found = fs.list_files(fs.join(root, folder), recursive=False)
    return [loc for loc in found if loc.endswith(f".{ext}") and TMP_MARK not in name_of(loc)]


def read_parquet(location: str, columns: list[str] | None = None) -> pa.Table:
    """``columns`` of one Parquet file; nested leaves (``media.list.element.kind``) allowed."""
    with fs.open_input_file(location) as source:
        return pq.ParquetFile(source).read(columns=columns)


def parquet_schema(location: str) -> pa.Schema:
    with fs.open_input_file(location) as source:
        return pq.read_schema(source)


def parquet_leaf_paths(location: str) -> list[str]:
    """The file's column paths (``a.list.element.b``), for reading one nested leaf."""
    with fs.open_input_file(location) as source:
        return [c.path for c in pq.ParquetFile(source).schema]


def name_of(location: str) -> str:
    return posixpath.basename(location.replace("\\", "/"))
