"""``to_arrow`` builds list-of-struct columns child by child; it must equal ``pa.array`` on every shape."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column, to_arrow

MEDIA = pa.list_(S.MEDIA_TYPE)


def _item(i: int, **extra: object) -> dict:
    return {"bytes": bytes([i]) * (i + 1), "kind": "image", "mime": "image/jpeg", "width": 10 + i, "height": None,
            "sha256": f"{i:064x}", "source_mode": "RGB", "n_frames": 1, "ops": ["exif_transpose"] * (i % 2), **extra}


CASES = {
    "one item per row": [[_item(i)] for i in range(5)],
    "null, empty and several items": [None, [], [_item(1), _item(2)], [_item(3)], None],
    "missing and extra keys": [[{"bytes": b"x", "kind": "video"}], [_item(4, unknown="ignored")]],
    "all null": [None, None],
    "no rows": [],
}


@pytest.mark.parametrize("case", list(CASES))
def test_equals_pyarrow_conversion(case: str) -> None:
    values = CASES[case]
    ours = to_arrow(values, MEDIA)
    assert ours.type == MEDIA
    assert ours.equals(pa.array(values, MEDIA))
    assert ours.to_pylist() == pa.array(values, MEDIA).to_pylist()


def test_unusual_values_fall_back_to_pyarrow() -> None:
    with_null_item = [[_item(1), None]]
    assert to_arrow(with_null_item, MEDIA).equals(pa.array(with_null_item, MEDIA))
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)):
        to_arrow([[{"bytes": "not bytes", "width": "wide"}]], MEDIA)  # pyarrow's own error, as before


def test_put_column_uses_it_and_keeps_the_type() -> None:
    table = pa.table({"x": [1, 2]})
    out = put_column(table, pa.field(S.MEDIA, MEDIA), [[_item(0)], None])
    assert out.schema.field(S.MEDIA).type == MEDIA and out.column(S.MEDIA).null_count == 1
