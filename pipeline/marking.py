"""Marking rows rejected, in Arrow, without touching the other rows."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S

__all__ = ["mark_rejected", "ok_mask"]


def ok_mask(table: pa.Table) -> pa.ChunkedArray:
    """Boolean mask of rows whose status is still ``ok``."""
    return pc.equal(table.column(S.STATUS), S.STATUS_OK)


def _set_where(table: pa.Table, name: str, mask: pa.Array, value: str | None) -> pa.Table:
    column = table.column(name)
    new = pc.if_else(mask, pa.scalar(value, column.type), column)
    return table.set_column(table.schema.get_field_index(name), table.schema.field(name), new)


def mark_rejected(
    table: pa.Table, mask: pa.Array | list[bool], stage: str, reason: str, error: str | None = None
) -> pa.Table:
    """Reject the rows where ``mask`` is true (and that are still ok) with ``reason``.

    ``reason`` is the full ``<stage>:<code>`` string. Rows already rejected keep their first reason:
    the funnel attributes each drop to the first stage that made it.
    """
    mask = pa.array(mask, pa.bool_()) if isinstance(mask, list) else mask
    # A null in the mask means "no": left as null, if_else below would null out the status itself.
    mask = pc.and_(pc.fill_null(mask, False), ok_mask(table))
    for name, value in ((S.STAGE, stage), (S.DROP_REASON, reason), (S.ERROR, error), (S.STATUS, S.STATUS_REJECTED)):
        table = _set_where(table, name, mask, value)
    return table
