"""Derived columns that stats, ``inspect --where`` and ``export --where`` can name like real ones.

``width``, ``height``, ``aspect`` and ``kind`` describe a row's *first* media item, ``n_media`` counts
its items and ``caption_len`` is the caption's length in characters. They are computed per batch with
Arrow compute (never per row in Python) from nested Parquet leaves, so asking for ``width`` reads the
widths and not the image bytes. The first item is taken with a slice/flatten/take instead of
``list_element`` because ``list_element`` fails on an empty media list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S

__all__ = ["VIRTUAL", "source_columns", "add_virtual", "first_media_field", "MEDIA_LEAF"]


def MEDIA_LEAF(name: str) -> str:  # noqa: N802 - reads like a constant path template
    """Dotted Parquet path of one media item field: ``media.list.element.<name>``."""
    return f"{S.MEDIA}.list.element.{name}"


def first_media_field(media: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    """``media[0].<name>`` per row; null where the list is empty or null."""
    if isinstance(media, pa.ChunkedArray):
        media = media.combine_chunks()
    head = pc.list_slice(media, 0, 1)
    lengths = pc.fill_null(pc.list_value_length(head), 0)
    flat = pc.struct_field(pc.list_flatten(head), name)
    position = pc.subtract(pc.cumulative_sum(lengths), 1)
    index = pc.if_else(pc.greater(lengths, 0), position, pa.scalar(None, position.type))
    return pc.take(flat, index)


def _media(name: str) -> Callable[[pa.RecordBatch], pa.Array]:
    return lambda batch: first_media_field(batch.column(S.MEDIA), name)


def _aspect(batch: pa.RecordBatch) -> pa.Array:
    width = pc.cast(first_media_field(batch.column(S.MEDIA), "width"), pa.float64())
    height = pc.cast(first_media_field(batch.column(S.MEDIA), "height"), pa.float64())
    return pc.divide(width, pc.if_else(pc.equal(height, 0), pa.scalar(None, pa.float64()), height))


# name -> (source columns to read, how to compute it from a batch holding them)
VIRTUAL: dict[str, tuple[tuple[str, ...], Callable[[pa.RecordBatch], pa.Array]]] = {
    "caption_len": ((S.CAPTION,), lambda b: pc.utf8_length(b.column(S.CAPTION))),
    "n_media": ((MEDIA_LEAF("kind"),), lambda b: pc.list_value_length(b.column(S.MEDIA))),
    "width": ((MEDIA_LEAF("width"),), _media("width")),
    "height": ((MEDIA_LEAF("height"),), _media("height")),
    "kind": ((MEDIA_LEAF("kind"),), _media("kind")),
    "aspect": ((MEDIA_LEAF("width"), MEDIA_LEAF("height")), _aspect),
}


def source_columns(names: Iterable[str]) -> list[str]:
    """The stored columns (dotted Parquet paths) to read so that ``names`` can be evaluated."""
    out: list[str] = []
    for name in names:
        out.extend(VIRTUAL[name][0] if name in VIRTUAL else (name,))
    return list(dict.fromkeys(out))


def add_virtual(batch: pa.RecordBatch, names: Iterable[str]) -> pa.RecordBatch:
    """``batch`` with the virtual columns among ``names`` appended (real columns win on a clash)."""
    for name in dict.fromkeys(names):
        if name in VIRTUAL and name not in batch.schema.names:
            sources = VIRTUAL[name][0]
            if all(s.split(".")[0] in batch.schema.names for s in sources):
                batch = batch.append_column(name, VIRTUAL[name][1](batch))
    return batch
