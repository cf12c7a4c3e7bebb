"""rows_with_media_kind reads the kinds chunk by chunk, including sliced chunks, with rows in order."""

from __future__ import annotations

import pyarrow as pa

from mmcurate.pipeline.media_rows import rows_with_media_kind
from mmcurate.schemas import sample as S


def _table(kinds_per_row: list[list[str | None]]) -> pa.Table:
    rows = [[{"kind": k, "bytes": b"x"} for k in kinds] for kinds in kinds_per_row]
    return pa.table({S.MEDIA: pa.array(rows)})


def test_rows_over_several_chunks_and_slices() -> None:
    first = _table([["image"], ["video", "image"], []])
    second = _table([["audio"], [None], ["video"], ["image"]]).slice(1, 3)  # an offset chunk: [None], [video], [image]
    table = pa.concat_tables([first, second])
    assert table.column(S.MEDIA).num_chunks == 2
    assert rows_with_media_kind(table, ("video",)).tolist() == [False, True, False, False, True, False]
    assert rows_with_media_kind(table, ("image", "audio")).tolist() == [True, True, False, False, False, True]
    assert rows_with_media_kind(table.slice(0, 0), ("video",)).tolist() == []
