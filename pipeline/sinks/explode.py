"""Clip rows from video rows: the writer-side expansion of the ``clips`` column.

Stages keep one row per input row (the runner checks it), so ``VideoClips`` stores clips as a list on
the video's row. A sink that wants one training record per clip calls :func:`explode_clips`: pure
Arrow (``list_parent_indices`` + ``list_flatten``), no Python loop over clips, and each record carries
the parent's ``sample_id`` and identity columns plus a stable ``clip_id`` (``<sample_id>-<index:04d>``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.marking import ok_mask
from mmcurate.schemas import sample as S
from mmcurate.schemas.video import CLIP_ID, CLIP_INDEX, CLIP_RECORD_SCHEMA, CLIP_TYPE, CLIPS, PARENT_COLUMNS

__all__ = ["explode_clips"]


def explode_clips(table: pa.Table, *, only_ok: bool = True) -> pa.Table:
    """One row per clip (schema :data:`.columns.CLIP_RECORD_SCHEMA`), in parent then clip order.

    Rejected rows (``only_ok``) and rows with no ``clips`` give no records.
    """
    if only_ok and S.STATUS in table.column_names:
        table = table.filter(ok_mask(table))
    if CLIPS not in table.column_names or table.num_rows == 0:
        return CLIP_RECORD_SCHEMA.empty_table()
    clips = table.column(CLIPS).combine_chunks()
    parents = pc.list_parent_indices(clips)
    flat = pc.list_flatten(clips)
    columns: dict[str, pa.Array] = {}
    for name in PARENT_COLUMNS:
        type_ = CLIP_RECORD_SCHEMA.field(name).type
        if name in table.column_names:
            columns[name] = table.column(name).combine_chunks().take(parents).cast(type_)
        else:
            columns[name] = pa.nulls(len(flat), type_)
    for i in range(CLIP_TYPE.num_fields):
        columns[CLIP_TYPE.field(i).name] = flat.field(i)
    index_text = pc.utf8_lpad(pc.cast(columns[CLIP_INDEX], pa.string()), 4, "0")
    columns[CLIP_ID] = pc.binary_join_element_wise(columns["sample_id"], index_text, "-")
    return pa.Table.from_arrays([columns[f.name] for f in CLIP_RECORD_SCHEMA], schema=CLIP_RECORD_SCHEMA)
