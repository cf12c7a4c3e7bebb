"""A media update that keeps every item's bytes rewrites the metadata only, with the same result as a rebuild."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from mmcurate.pipeline.media_rewrite import bytes_kept, media_keeping_bytes
from mmcurate.pipeline.runner import with_bookkeeping
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S

MEDIA = pa.list_(S.MEDIA_TYPE)


def _item(i: int, kind: str = "image") -> dict[str, Any]:
    return {"bytes": bytes([i % 256]) * (1000 + i), "kind": kind, "mime": "image/jpeg", "width": None,
            "height": None, "sha256": f"{i:064x}", "source_mode": None, "n_frames": None, "ops": []}


def _table(rows: list[list[dict[str, Any]]], chunk: int) -> pa.Table:
    """A media column in chunks of ``chunk`` rows, sliced out of a larger array (non-zero offsets)."""
    padded = pa.array([[_item(999)]] + rows + [[_item(998)]], MEDIA)
    chunks = [padded.slice(1 + k, min(chunk, len(rows) - k)) for k in range(0, len(rows), chunk)]
    table = pa.table({S.SAMPLE_ID: [str(i) for i in range(len(rows))], S.MEDIA: pa.chunked_array(chunks, MEDIA)})
    return with_bookkeeping(table)


@dataclass(kw_only=True)
class SizeTagger(RowStage):
    """Fills width/height of every image and adds an op; rejects rows whose first item is a video."""

    name: ClassVar[str] = "size_tagger_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    row_columns: ClassVar[tuple[str, ...] | None] = (S.MEDIA,)
    reencode: bool = False

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = row[S.MEDIA]
        if media[0]["kind"] == "video":
            raise Reject("video", "not for this stage")
        if media[0]["sha256"].endswith("7"):
            return {}  # row left as it is
        out = [dict(m, width=len(m["bytes"]), height=7, ops=[*m["ops"], "tagged"]) for m in media]
        if self.reencode:
            out[0]["bytes"] = out[0]["bytes"][:10]
        return {S.MEDIA: out}


ROWS = [[_item(i)] if i % 3 else [_item(i), _item(100 + i)] for i in range(20)] + [[_item(50, "video")]]


def _bytes_buffers(column: pa.ChunkedArray) -> set[int]:
    return {b.address for c in column.chunks for b in c.flatten().field("bytes").buffers() if b is not None}


@pytest.mark.parametrize("chunk", [1, 4, 64])
def test_metadata_rewrite_equals_the_full_rebuild_and_shares_the_bytes(chunk: int) -> None:
    table = _table(ROWS, chunk)
    out = SizeTagger().process_batch(table)
    expected = []
    for row in ROWS:
        if row[0]["kind"] == "video" or row[0]["sha256"].endswith("7"):
            expected.append(row)
        else:
            expected.append([dict(m, width=len(m["bytes"]), height=7, ops=["tagged"]) for m in row])
    assert out.column(S.MEDIA).to_pylist() == expected
    assert out.column(S.MEDIA).type == MEDIA
    assert _bytes_buffers(out.column(S.MEDIA)) <= _bytes_buffers(table.column(S.MEDIA))  # no image was copied


def test_changed_bytes_take_the_full_rebuild() -> None:
    table = _table(ROWS[:6], 4)
    out = SizeTagger(reencode=True).process_batch(table)
    assert out.column(S.MEDIA).to_pylist()[1][0]["bytes"] == ROWS[1][0]["bytes"][:10]


def test_bytes_kept_rules() -> None:
    row = {S.MEDIA: [_item(1), _item(2)]}
    same = {S.MEDIA: [dict(m, width=1) for m in row[S.MEDIA]]}
    assert bytes_kept([row], [same]) and bytes_kept([row], [{}])
    assert not bytes_kept([row], [{S.MEDIA: same[S.MEDIA][:1]}])  # an item dropped
    assert not bytes_kept([row], [{S.MEDIA: [dict(row[S.MEDIA][0], bytes=b"x"), row[S.MEDIA][1]]}])
    assert not bytes_kept([row], [{S.MEDIA: same[S.MEDIA][::-1]}])  # reordered


def test_null_rows_are_left_to_the_caller() -> None:
    column = pa.chunked_array([pa.array([[_item(1)], None], MEDIA)])
    with pytest.raises(ValueError):
        media_keeping_bytes(column, [None, None], MEDIA)
