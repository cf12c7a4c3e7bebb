"""Small builders shared by tests (imported as a plain module: tests/ is on sys.path via rootdir)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mmcurate.pipeline.readers.base import WorkUnit, sample_row
from mmcurate.schemas.sample import SAMPLE_SCHEMA
from mmcurate.schemas.table import to_table


def sample_table(items: list[tuple[bytes | None, str | None]], unit_id: str = "u00-000000") -> pa.Table:
    """A table of ok rows, one per (media bytes, caption); None media means no media item."""
    unit = WorkUnit(unit_id=unit_id, input_index=0, spec="{}")
    rows: list[dict[str, Any]] = []
    for i, (data, caption) in enumerate(items):
        row = sample_row(unit, i, len(items), source="test", locator=f"item{i}", media=[data] if data is not None else [],
                         caption=caption)
        rows.append(row)
    return to_table(rows, SAMPLE_SCHEMA)
