from __future__ import annotations

import pyarrow as pa
import pytest

from mmcurate.schemas import (
    MANIFEST_SCHEMA,
    REJECT_SCHEMA,
    SAMPLE_SCHEMA,
    STATS_SCHEMA,
    conform,
    sample_schema,
    to_table,
)
from mmcurate.schemas import sample as S


@pytest.mark.parametrize("schema", [SAMPLE_SCHEMA, REJECT_SCHEMA, MANIFEST_SCHEMA, STATS_SCHEMA])
def test_every_column_is_documented_and_versioned(schema: pa.Schema) -> None:
    assert schema.metadata[b"mmcurate.schema"].count(b"/v") == 1
    for field in schema:
        assert field.metadata and field.metadata.get(b"doc"), field.name
    for field in S.MEDIA_TYPE:
        assert field.metadata.get(b"doc"), field.name


def test_single_row_with_nones_keeps_declared_types() -> None:
    row = {S.SAMPLE_ID: "x", S.SOURCE: "s", S.LOCATOR: "l", S.UNIT_ID: "u", S.UNIT_INDEX: 0, S.UNIT_ROWS: 1,
           S.STATUS: S.STATUS_OK, S.CAPTION: None, S.MEDIA: None}
    table = to_table([row], SAMPLE_SCHEMA)
    assert table.schema.field(S.CAPTION).type == pa.string()
    assert table.schema.field(S.MEDIA).type == pa.list_(S.MEDIA_TYPE)
    assert pa.concat_tables([table, table]).num_rows == 2


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(KeyError, match="nope"):
        to_table([{S.SAMPLE_ID: "x", "nope": 1}], SAMPLE_SCHEMA)


def test_conform_fills_missing_and_refuses_undeclared() -> None:
    extra = pa.field("clip_score", pa.float32())
    schema = sample_schema([extra])
    table = to_table([{S.SAMPLE_ID: "x", S.SOURCE: "s", S.LOCATOR: "l", S.UNIT_ID: "u", S.UNIT_INDEX: 0,
                       S.UNIT_ROWS: 1, S.STATUS: "ok"}], SAMPLE_SCHEMA)
    out = conform(table, schema)
    assert out.schema.field("clip_score").type == pa.float32() and out.column("clip_score").null_count == 1
    with pytest.raises(KeyError, match="undeclared"):
        conform(out, SAMPLE_SCHEMA)


def test_conflicting_declarations_are_an_error() -> None:
    with pytest.raises(TypeError):
        sample_schema([pa.field(S.CAPTION, pa.int32())])


def test_media_is_a_list_so_samples_can_hold_several_items() -> None:
    assert pa.types.is_list(SAMPLE_SCHEMA.field(S.MEDIA).type)
