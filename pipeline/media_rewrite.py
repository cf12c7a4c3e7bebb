"""Rewriting the ``media`` column's metadata without copying its bytes.

Row stages return a row's whole ``media`` list even when they only fill in metadata (``image_decode``
sets width, height and mode on a JPEG it keeps; ``video_clips`` sets a video's size and frame count).
Rebuilding the column from those Python lists copies every image and video once more, through a
binary builder that grows by doubling. When every returned item still holds the very ``bytes`` object
it was read with, the new column reuses the old column's bytes child (zero copy) and converts only
the small metadata fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mmcurate.schemas import sample as S
from mmcurate.schemas.table import list_of_structs

__all__ = ["bytes_kept", "media_keeping_bytes"]

_BYTES = "bytes"


def bytes_kept(rows: Sequence[dict[str, Any]], updates: Sequence[dict[str, Any]]) -> bool:
    """True when every update of ``media`` keeps its row's items, in order, each with its own bytes object."""
    for row, update in zip(rows, updates):
        if S.MEDIA not in update:
            continue
        old, new = row.get(S.MEDIA), update[S.MEDIA]
        if old is None or new is None or len(old) != len(new):
            return False
        if any(o is None or n is None or n.get(_BYTES) is not o.get(_BYTES) for o, n in zip(old, new)):
            return False
    return True


def _metadata(flat: pa.StructArray) -> list[dict[str, Any]]:
    """The items' fields other than bytes, as Python dicts (the bytes never leave Arrow)."""
    names = [f.name for f in flat.type if f.name != _BYTES]
    return pa.StructArray.from_arrays([flat.field(n) for n in names], names=names).to_pylist()


def _chunk(old: pa.ListArray, new: Sequence[list[dict[str, Any]] | None], type_: pa.ListType) -> pa.ListArray:
    if old.null_count:
        raise ValueError("null media rows")
    flat = old.flatten()  # this chunk's items only, whatever its offset
    if flat.null_count:
        raise ValueError("null media items")
    items = _metadata(flat)
    merged, offsets = [], [0]
    for length, row in zip(old.value_lengths().to_pylist(), new):
        merged.extend(items[offsets[-1]:offsets[-1] + length] if row is None else row)
        offsets.append(offsets[-1] + length)
    return list_of_structs(offsets, merged, type_, given={_BYTES: flat.field(_BYTES)})


def media_keeping_bytes(old: pa.ChunkedArray, new: Sequence[list[dict[str, Any]] | None], type_: pa.ListType
                        ) -> pa.ChunkedArray:
    """``old`` with each row's items replaced by ``new[row]`` (None: the row is kept), bytes reused.

    Requires :func:`bytes_kept` to hold and no null rows or items (a ``ValueError`` otherwise, for the
    caller to fall back on a full rebuild)."""
    chunks, start = [], 0
    for chunk in old.chunks:
        chunks.append(_chunk(chunk, new[start:start + len(chunk)], type_))
        start += len(chunk)
    return pa.chunked_array(chunks, type_)
