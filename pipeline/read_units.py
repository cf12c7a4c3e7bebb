"""Reading planned work units: the first map of every Ray pipeline mmcurate builds, and its local twin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mmcurate.pipeline.readers.base import Reader, WorkUnit

__all__ = ["ReadUnits", "units_dataset", "read_unit"]


class ReadUnits:
    """Ray map: rows of (unit_id, input_index, spec) in, the units' sample rows out."""

    def __init__(self, readers: Sequence[Reader]) -> None:
        self.readers = list(readers)

    def __call__(self, batch: pa.Table) -> pa.Table:
        tables = [
            self.readers[row["input_index"]].read_unit(WorkUnit(**row))
            for row in batch.select(["unit_id", "input_index", "spec"]).to_pylist()
        ]
        return pa.concat_tables(tables)


def units_dataset(readers: Sequence[Reader], units: Sequence[WorkUnit]) -> Any:
    """A Ray Dataset of the units' sample rows: one block per unit, so a unit never straddles two."""
    import ray.data

    items = [{"unit_id": u.unit_id, "input_index": u.input_index, "spec": u.spec} for u in units]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    return ds.map_batches(ReadUnits(readers), batch_format="pyarrow", batch_size=None)


def read_unit(readers: Sequence[Reader], unit: WorkUnit) -> pa.Table:
    return readers[unit.input_index].read_unit(unit)
