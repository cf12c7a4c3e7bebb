"""Which reader an input path needs, judged by content and layout rather than by its name.

A file: a WARC (``WARC/`` first, plain or gzip: ``warc``), gzip (a ``.tar.gz`` holding a tar is
``webdataset``), a tar header (``ustar`` at byte 257), the Parquet magic ``PAR1``, a JSON array (``[``)
versus JSON lines (``{``), else delimited text (tabs: ``tsv``, commas: ``csv``). A folder: only tar files
is ``webdataset``; only WARC files is ``warc``; media files and sidecars is ``folder``; only table files,
or tars and media at once, is refused with a message saying how to choose. Anything else raises
:class:`InputError` with one line naming the path and the ``kind`` to set.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator

from mmcurate.pipeline import fs
from mmcurate.pipeline.readers.base import InputError
from mmcurate.pipeline.readers.source_file import is_file, is_folder, list_source_files, open_source, source_name

__all__ = ["INPUT_KINDS", "detect_input_kind"]

INPUT_KINDS = ("folder", "webdataset", "warc", "parquet", "jsonl", "json", "csv", "tsv")
_HEAD = 64 * 1024
_MAX_LISTED = 10_000  # a folder's kind is judged from at most this many entries


def _is_warc(head: bytes) -> bool:
    # Every WARC record starts with its version line; a crawl's first record is no exception.
    return head.startswith(b"WARC/")


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _gunzip_head(path: str) -> bytes:
    try:
        with open_source(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as fh:
            return fh.read(1024)
    except (OSError, EOFError, zlib.error):
        return b""


def _file_kind(path: str) -> str:
    with open_source(path) as fh:
        head = fh.read(_HEAD)
    name = source_name(path)
    if head[:2] == b"\x1f\x8b":
        inner = _gunzip_head(path)
        if _is_warc(inner):
            return "warc"
        if _is_tar(inner):
            return "webdataset"
        raise InputError(f"{path}: gzip-compressed, but not a tar or a WARC; decompress it "
                         "(tables are read uncompressed)")
    if _is_warc(head):
        return "warc"
    if _is_tar(head):
        return "webdataset"
    if head[:4] == b"PAR1":
        return "parquet"
    if not head.strip():
        raise InputError(f"{path}: empty file; nothing to read")
    if b"\x00" in head:
        raise InputError(f"{path}: binary content that is not tar, gzip or Parquet; set kind on this input if it is")
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        return "jsonl"
    first = text.split("\n", 1)[0]
    if first.count("\t") > first.count(","):
        return "tsv"
    if "," in first:
        return "csv"
    raise InputError(f"{path}: cannot tell the kind of {name!r} from its content; set kind "
                     f"(one of {', '.join(INPUT_KINDS)}) on this input")


def _local_names(path: str) -> Iterator[str]:
    """File names under a local folder: no hidden entries, links or special files."""
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            full = os.path.join(dirpath, f)
            if not (f.startswith(".") or os.path.islink(full) or not os.path.isfile(full)):
                yield f


def _remote_names(path: str) -> Iterator[str]:
    for rel in list_source_files(path):
        if not any(part.startswith(".") for part in rel.split("/")):
            yield rel.rsplit("/", 1)[-1]


def _folder_kind(path: str) -> str:
    tars, warcs, media, tables, seen = 0, 0, 0, 0, 0
    for f in (_remote_names(path) if fs.is_remote(path) else _local_names(path)):
        seen += 1
        lower = f.lower()
        if lower.endswith((".tar", ".tar.gz", ".tgz")):
            tars += 1
        elif lower.endswith((".warc", ".warc.gz")):
            warcs += 1
        elif lower.endswith((".parquet", ".jsonl", ".csv", ".tsv")):
            tables += 1
        elif not lower.endswith((".txt", ".json")):
            media += 1
        if seen >= _MAX_LISTED:
            break
    if warcs and not (tars or media or tables):
        return "warc"
    if warcs:
        raise InputError(f"{path}: folder holds {warcs} WARC file(s) and other files; "
                         "give the WARC files as their own input (kind: warc)")
    if tars and media:
        raise InputError(f"{path}: folder holds both {tars} tar file(s) and {media} other file(s); "
                         "set kind: webdataset to read the tars or kind: folder to read each file as media")
    if tables and not (tars or media):
        raise InputError(f"{path}: folder holds only table files ({tables}); give each file as its own input")
    return "webdataset" if tars else "folder"


def detect_input_kind(path: str) -> str:
    """The reader kind for ``path`` (one of :data:`INPUT_KINDS`); raise :class:`InputError` when unclear."""
    if path.startswith("pipe:") or ("://" in path and not fs.is_store_uri(path)):
        raise InputError(f"{path[:200]}: inputs are local paths or s3://, gs://, hf:// locations; set kind on "
                         "this input for anything else")
    try:
        if is_folder(path):
            return _folder_kind(path)
        if not is_file(path):
            if fs.is_remote(path) and list_source_files(path):  # a prefix with objects under it
                return _folder_kind(path)
            raise InputError(f"{path}: no such file or folder")
        return _file_kind(path)
    except (OSError, fs.StoreError) as exc:  # an unreachable store or refused credentials: one line
        raise InputError(f"{path[:200]}: cannot read it: {str(exc).splitlines()[0][:200]}") from None
