"""Sample rows turned into Arrow every ``FLUSH_BYTES`` of media, so a unit's bytes are held about once.

Building one table from all of a unit's Python rows holds the media twice (the rows' ``bytes`` and the
Arrow buffers) plus the builder's growth: ~3.5x a tar shard at peak, ~2.4x a folder unit. Flushing
every 16 MiB frees each chunk's Python bytes as soon as they are in Arrow. Readers that learn their row
count only when the stream ends (tars) get ``unit_rows`` filled in by :meth:`RowChunks.table` (a column
swap, no copy of the media).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mmcurate.schemas.sample import SAMPLE_SCHEMA, UNIT_INDEX, UNIT_ROWS
from mmcurate.schemas.table import to_table

__all__ = ["RowChunks"]


class RowChunks:
    FLUSH_BYTES = 16 * 1024**2

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.rows: list[dict[str, Any]] = []
        self.pending = 0
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        row[UNIT_INDEX] = self.count
        self.count += 1
        self.rows.append(row)
        self.pending += sum(len(m["bytes"]) for m in row["media"]) + len(row["caption"] or "")
        if self.pending >= self.FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.tables.append(to_table(self.rows, SAMPLE_SCHEMA))
        self.rows, self.pending = [], 0

    def table(self) -> pa.Table:
        """Every row added, in order, with ``unit_rows`` set to the number added."""
        self._flush()
        table = pa.concat_tables(self.tables) if self.tables else to_table([], SAMPLE_SCHEMA)
        self.tables = []
        index = table.schema.get_field_index(UNIT_ROWS)
        return table.set_column(index, table.schema.field(index), pa.array([self.count] * self.count, pa.int64()))
