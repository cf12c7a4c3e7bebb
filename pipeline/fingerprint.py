"""What the inputs were when a job started: cheap content fingerprints, and one input named twice.

The plan hash only sees unit boundaries, so a Parquet rewritten with the same row count, or a JSONL line
edited in place, resumed silently over the old output, and kill, edit, resume mixed old and new rows.
Each input gets a fingerprint recorded in ``job.json`` and compared on resume
(``pipeline/output_state.py`` refuses a mismatch with :class:`~mmcurate.pipeline.output_state.InputsChanged`):

* a file: size, mtime (ns) and a content hash: the whole file up to 32 MiB (cheap next to reading it),
  else the first and last MiB plus, for Parquet, the footer (row-group offsets and column statistics,
  so a rewrite of the same size is seen);
* a folder (images, tars): every file's relative path, size and mtime, in order;
* an object-store location: its string (listing a bucket here would cost more than it saves).

Image files a table refers to by path are not fingerprinted (that would mean reading every row twice).

:func:`check_distinct_inputs` refuses the same input twice (``--input X --input X`` gave 24 accepted
rows with 12 distinct ``sample_id`` values) and an input inside another input folder, whose files
would be read twice.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from typing import Any

from mmcurate.pipeline import fs
from mmcurate.pipeline.readers.base import InputError

__all__ = ["DuplicateInput", "input_fingerprint", "input_fingerprints", "fingerprints_hash", "check_distinct_inputs"]

_FULL_HASH_BYTES = 32 * 1024**2
_EDGE = 1024**2


class DuplicateInput(InputError):
    """The same input (after resolving symlinks) given twice, or one input inside another."""


def _file_digest(path: str, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= _FULL_HASH_BYTES:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            return h.hexdigest()
        h.update(fh.read(_EDGE))
        fh.seek(size - _EDGE)
        tail = fh.read(_EDGE)
        h.update(tail)
        if tail.endswith(b"PAR1"):  # the footer: 4-byte length before the magic
            (footer_len,) = struct.unpack("<I", tail[-8:-4])
            if 8 + footer_len <= size:
                fh.seek(size - 8 - footer_len)
                h.update(fh.read(footer_len))
    return h.hexdigest()


def _remote_listing(source: str) -> str:
    """Key, size and modification time of every object at or under ``source`` (a store's listing is
    cheap; its bytes are not): a changed, added or removed object changes the fingerprint."""
    import pyarrow.fs as pafs

    try:
        filesystem, path = fs.resolve(source)
        infos = [filesystem.get_file_info(path)]
        if infos[0].type != pafs.FileType.File:
            infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except OSError:  # unreachable now: the reader will say so with its own reason
        return f"location\0{source}"
    rows = sorted(f"{i.path}\0{i.size}\0{i.mtime_ns}" for i in infos if i.type == pafs.FileType.File)
    return f"location\0{source}\n" + "\n".join(rows)


def input_fingerprint(source: str) -> str:
    """A 16-hex fingerprint of one input location's content (see the module docstring)."""
    h = hashlib.sha256()
    if fs.is_remote(source):
        h.update(_remote_listing(source).encode("utf-8", "surrogateescape"))
    elif not os.path.exists(source):
        h.update(f"location\0{source}".encode())
    elif os.path.isdir(source):
        for folder, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                rel = os.path.relpath(path, source)
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    else:
        st = os.stat(source)
        h.update(f"file\0{st.st_size}\0{st.st_mtime_ns}\0{_file_digest(source, st.st_size)}".encode())
    return h.hexdigest()[:16]


def input_fingerprints(sources: Sequence[str]) -> list[dict[str, Any]]:
    return [{"input": s, "fingerprint": input_fingerprint(s)} for s in sources]


def fingerprints_hash(prints: Sequence[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for p in prints:
        h.update(f"{p['input']}\0{p['fingerprint']}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def _key(source: str) -> str:
    return source.rstrip("/") if fs.is_remote(source) else os.path.realpath(source)


def check_distinct_inputs(sources: Sequence[str]) -> None:
    """Refuse one input given twice, or an input inside another input folder (one line, both named)."""
    keys = [_key(s) for s in sources]
    for j, key in enumerate(keys):
        for i in range(j):
            if key == keys[i]:
                raise DuplicateInput(f"input {j + 1} ({sources[j]}) is input {i + 1} again: each input may be given "
                                     f"once (its rows would be read twice)")
            outer, inner = (keys[i], key) if len(keys[i]) < len(key) else (key, keys[i])
            local_dir = not fs.is_remote(outer) and os.path.isdir(outer)
            if (local_dir or fs.is_remote(outer)) and inner.startswith(outer.rstrip(os.sep) + os.sep):
                raise DuplicateInput(f"inputs {i + 1} ({sources[i]}) and {j + 1} ({sources[j]}) overlap: one lies "
                                     f"inside the other, so its files would be read twice")
