"""Conversion of Python rows to schema-true Arrow tables.

Every single-sample entry point goes through :func:`to_table`, so a row with a missing or ``None``
field still gets the declared type instead of Arrow's inferred ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

__all__ = ["to_table", "conform", "put_column"]


def to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table with exactly ``schema``'s columns; unknown keys are an error, missing ones null."""
    allowed = set(schema.names)
    for row in rows:
        unknown = set(row) - allowed
        if unknown:
            raise KeyError(f"columns not in schema: {sorted(unknown)}")
    return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder and cast ``table`` to ``schema``; columns absent from the table become nulls.

    Extra columns not in ``schema`` are an error: a stage that writes an undeclared column is a bug.
    """
    extra = set(table.column_names) - set(schema.names)
    if extra:
        raise KeyError(f"undeclared columns {sorted(extra)}; declare them in the stage's `writes`")
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if not column.type.equals(field.type):
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def put_column(table: pa.Table, field: pa.Field, values: Any) -> pa.Table:
    """``table`` with column ``field.name`` set to ``values`` (replaced if present, appended if not).

    Python lists are converted with the field's type, so a column of all ``None`` keeps its type.
    """
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array(values, field.type)
    index = table.schema.get_field_index(field.name)
    if index < 0:
        return table.append_column(field, values)
    return table.set_column(index, field, values)
