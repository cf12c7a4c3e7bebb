"""Running a stage on one Arrow batch, with per-row fault isolation. No Ray here.

This is the whole execution contract; the Ray adapter calls the same :func:`run_stage` inside its
tasks and actors, so a stage behaves identically in a notebook, in a test and on a cluster.

Only rows still ``ok`` (and, if the stage says so with ``applies_to``, only rows it has work for)
reach the stage; the others pass through unchanged. The stage sees them in micro-batches of ``stage.batch_size``.
When a micro-batch raises an unexpected exception, each of its rows is retried alone and only the
rows that fail again are rejected (``<stage>:exception``). If every row of a call fails (and there
were at least two), the stage is broken rather than the data, and the error is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.marking import mark_rejected, ok_mask
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import conform, to_table

__all__ = ["StageFailed", "output_schema", "with_bookkeeping", "run_stage", "run_stages", "apply_to_rows"]

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    """Every row of a batch failed in a stage: a bug in the stage, not bad data."""


def output_schema(stage: Stage, schema: pa.Schema) -> pa.Schema:
    """``schema`` plus the stage's declared ``writes`` fields that it does not have yet."""
    for field in stage.writes:
        if field.name not in schema.names:
            schema = schema.append(field)
    return schema


def _mark_exception(row: pa.Table, stage: Stage, exc: BaseException) -> pa.Table:
    return mark_rejected(row, [True], stage.name, stage.reason("exception"), f"{type(exc).__name__}: {exc}"[:2000])


def _process_rows_alone(stage: Stage, batch: pa.Table, schema: pa.Schema) -> tuple[list[pa.Table], int]:
    parts: list[pa.Table] = []
    failures = 0
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        try:
            out = stage.process_batch(row)
            _check_rows(stage, out, 1)
            parts.append(conform(out, schema))
        except Exception as exc:  # noqa: BLE001 - isolating one bad row is the point
            failures += 1
            log.warning("%s: row %s failed: %s", stage.name, row.column(S.SAMPLE_ID)[0], exc)
            parts.append(conform(_mark_exception(row, stage, exc), schema))
    return parts, failures


def _check_rows(stage: Stage, out: pa.Table, expected: int) -> None:
    if out.num_rows != expected:
        raise RuntimeError(f"{stage.name} returned {out.num_rows} rows for {expected}")
    if out.column(S.STATUS).null_count:
        raise RuntimeError(f"{stage.name} left {out.column(S.STATUS).null_count} rows with a null status")


def with_bookkeeping(table: pa.Table) -> pa.Table:
    """``table`` with the status columns it lacks: every row ``ok``, no stage, reason or error.

    Training shards leave the pipeline's bookkeeping out (``formats.training_columns``), so a stage run
    on mmcurate's own output (``ray.data.read_parquet("out/parquet")``) would find no ``status``.
    """
    for name in (S.STATUS, S.STAGE, S.DROP_REASON, S.ERROR):
        if name not in table.column_names:
            field = S.SAMPLE_SCHEMA.field(name)
            value = S.STATUS_OK if name == S.STATUS else None
            table = table.append_column(field, pa.array([value] * table.num_rows, field.type))
    return table


def _rows_to_process(stage: Stage, table: pa.Table) -> pa.Array:
    mask = ok_mask(table)
    wanted = stage.applies_to(table)
    return mask if wanted is None else pc.and_(mask, pc.fill_null(wanted, False))


def _process(stage: Stage, todo: pa.Table, schema: pa.Schema) -> pa.Table:
    """The stage over ``todo`` in micro-batches, a failing batch retried row by row; rows in order."""
    parts: list[pa.Table] = []
    failures = 0
    for start in range(0, todo.num_rows, stage.batch_size):
        batch = todo.slice(start, stage.batch_size)
        try:
            out = stage.process_batch(batch)
            _check_rows(stage, out, batch.num_rows)
            parts.append(conform(out, schema))
        except Exception:  # noqa: BLE001 - retried row by row below
            log.warning("%s: batch of %d failed; retrying row by row", stage.name, batch.num_rows, exc_info=True)
            row_parts, row_failures = _process_rows_alone(stage, batch, schema)
            parts.extend(row_parts)
            failures += row_failures
    if todo.num_rows >= 2 and failures == todo.num_rows:
        raise StageFailed(f"{stage.name}: all {failures} rows failed; see the log for the first error")
    return pa.concat_tables(parts) if parts else conform(todo.slice(0, 0), schema)


def run_stage(stage: Stage, table: pa.Table) -> pa.Table:
    """Apply ``stage`` to the ok rows of ``table``; rejected rows pass through unchanged.

    Every filter or take here copies the media column, which dominates a unit's bytes: when every row
    goes to the stage (the common case) nothing is filtered or reordered; otherwise the rows are split
    once and put back in order with one ``take``."""
    stage.ensure_setup()
    table = with_bookkeeping(table)
    schema = output_schema(stage, table.schema)
    mask = _rows_to_process(stage, table)
    if table.num_rows == 0 or pc.all(mask).as_py():
        merged = _process(stage, table, schema)
    else:
        chosen = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
        processed = _process(stage, table.filter(pa.array(chosen)), schema)
        rest = conform(table.filter(pa.array(~chosen)), schema)
        positions = np.arange(table.num_rows)
        order = np.concatenate([positions[chosen], positions[~chosen]])  # where each merged row came from
        merged = pa.concat_tables([processed, rest]).take(pa.array(np.argsort(order)))
    if merged.num_rows != table.num_rows or merged.column(S.STATUS).null_count:  # rows never vanish
        raise StageFailed(f"{stage.name}: {merged.num_rows} rows out for {table.num_rows} in, "
                          f"{merged.column(S.STATUS).null_count} with a null status: rows must never vanish")
    return merged.combine_chunks()


def run_stages(stages: Sequence[Stage], table: pa.Table) -> pa.Table:
    """Apply stages in order (library use and GPU checks without Ray)."""
    for stage in stages:
        table = run_stage(stage, table)
    return table


def apply_to_rows(stage: Stage, rows: Sequence[Mapping[str, Any]], schema: pa.Schema | None = None) -> list[dict]:
    """One or a few samples as dicts in, dicts out: the library entry point for a single sample.

    Missing bookkeeping fields get neutral defaults so a caller only supplies content columns.
    """
    defaults = {S.STATUS: S.STATUS_OK, S.SOURCE: "library", S.UNIT_ID: "library", S.UNIT_ROWS: len(rows)}
    filled = []
    for i, row in enumerate(rows):
        r = {**defaults, S.LOCATOR: str(i), S.UNIT_INDEX: i, S.SAMPLE_ID: f"row{i}", **row}
        filled.append(r)
    base = schema or S.sample_schema([f for f in stage.writes if f.name not in S.SAMPLE_SCHEMA.names])
    return run_stage(stage, to_table(filled, base)).to_pylist()
