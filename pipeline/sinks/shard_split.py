"""Cutting one unit's accepted rows into shards by row count and bytes.

Deterministic: the same rows in the same order always give the same cut, which is what lets a rerun
of a unit reproduce its shards byte for byte.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S

__all__ = ["row_bytes", "split_points"]


def row_bytes(table: pa.Table) -> list[int]:
    """Approximate payload bytes per row: media bytes plus caption."""
    # Chunk by chunk: combining the media column would copy every image's bytes to measure them.
    sizes: list[int] = []
    lengths: list[int] = []
    for media in table.column(S.MEDIA).chunks:
        sizes += pc.binary_length(pc.list_flatten(media).field("bytes")).fill_null(0).to_pylist()
        lengths += pc.list_value_length(media).fill_null(0).to_pylist()
    captions = pc.binary_length(table.column(S.CAPTION).cast(pa.binary())).fill_null(0).to_pylist()
    out, pos = [], 0
    for n, cap in zip(lengths, captions):
        out.append(sum(sizes[pos : pos + n]) + cap)
        pos += n
    return out


def split_points(sizes: list[int], max_rows: int, max_bytes: int) -> list[tuple[int, int]]:
    """``(offset, length)`` slices; a single row above ``max_bytes`` still gets a shard of its own."""
    slices: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        rows = i - start
        if rows and (rows >= max_rows or total + size > max_bytes):
            slices.append((start, rows))
            start, total = i, 0
        total += size
    if start < len(sizes):
        slices.append((start, len(sizes) - start))
    return slices
