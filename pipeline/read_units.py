"""Where a unit's rows come from: its input (the readers), or the rows a pass group kept of it.

``ReadUnits`` is the first map of every Ray pipeline mmcurate builds; :func:`read_unit` is its local
twin. A *source* is anything with ``read(unit) -> pa.Table``: :class:`InputSource` reads the job's inputs,
:class:`SpillSource` the rows a pass collection saved (``passes/rows/<unit>.parquet``) after steps whose
work must not be repeated (a download): the main pass continues from them instead of fetching again.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.process_memory import fix_mmap_threshold, return_freed_memory
from mmcurate.pipeline.ray_session import follow_driver_cwd
from mmcurate.pipeline.readers.base import Reader, WorkUnit

__all__ = ["UnitSource", "InputSource", "SpillSource", "ReadUnits", "units_dataset", "read_unit", "SPILL_DIR"]

SPILL_DIR = "passes/rows"


class UnitSource(Protocol):
    def read(self, unit: WorkUnit) -> pa.Table: ...


@dataclass
class InputSource:
    readers: Sequence[Reader]

    def read(self, unit: WorkUnit) -> pa.Table:
        return self.readers[unit.input_index].read_unit(unit)


@dataclass
class SpillSource:
    out_dir: str

    def path(self, unit_id: str) -> str:
        return fs.join(self.out_dir, SPILL_DIR, f"{unit_id}.parquet")

    def read(self, unit: WorkUnit) -> pa.Table:
        return pq.read_table(io.BytesIO(fs.read_bytes(self.path(unit.unit_id))))


class ReadUnits:
    """Ray map: rows of (unit_id, input_index, spec) in, the units' sample rows out."""

    def __init__(self, source: UnitSource) -> None:
        self.source = source

    def __call__(self, batch: pa.Table) -> pa.Table:
        follow_driver_cwd()
        tables = [read_unit(self.source, WorkUnit(**row))
                  for row in batch.select(["unit_id", "input_index", "spec"]).to_pylist()]
        return pa.concat_tables(tables)


def _source(source: UnitSource | Sequence[Reader]) -> UnitSource:
    return source if hasattr(source, "read") else InputSource(list(source))  # type: ignore[arg-type]


def units_dataset(source: UnitSource | Sequence[Reader], units: Sequence[WorkUnit]) -> Any:
    """A Ray Dataset of the units' sample rows: one block per unit, so a unit never straddles two."""
    import ray.data

    items = [{"unit_id": u.unit_id, "input_index": u.input_index, "spec": u.spec} for u in units]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    return ds.map_batches(ReadUnits(_source(source)), batch_format="pyarrow", batch_size=None)


def read_unit(source: UnitSource | Sequence[Reader], unit: WorkUnit) -> pa.Table:
    fix_mmap_threshold()  # before the read: its large buffers are then mapped, and unmapped when freed
    table = _source(source).read(unit)
    return_freed_memory(table.nbytes)
    return table
