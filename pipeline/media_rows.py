"""Which rows hold a media item of given kinds, read chunk by chunk from the ``media`` column.

Stages ask this in ``applies_to`` over a whole unit. Combining the column's chunks first (as each stage
once did) copied every media byte of the unit just to read the short ``kind`` strings: with a unit
read as 16 MiB chunks that was a full extra copy of the unit per stage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S

__all__ = ["rows_with_media_kind"]


def rows_with_media_kind(table: pa.Table, kinds: Sequence[str]) -> np.ndarray:
    """A boolean per row: does any of its media items have one of ``kinds``."""
    mask = np.zeros(table.num_rows, dtype=bool)
    wanted = pa.array(list(kinds), pa.string())
    offset = 0
    for chunk in table.column(S.MEDIA).chunks:
        hit = pc.fill_null(pc.is_in(pc.list_flatten(chunk).field("kind"), wanted), False)
        rows = pc.filter(pc.list_parent_indices(chunk), hit).to_numpy(zero_copy_only=False)
        mask[offset + rows] = True
        offset += len(chunk)
    return mask
