from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pytest
from helpers import sample_table

from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.runner import StageFailed, apply_to_rows, run_stage
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S


@dataclass(kw_only=True)
class CaptionLength(RowStage):
    """Test stage: writes caption length; explodes on a poison caption; rejects 'bad'."""

    name: ClassVar[str] = "caption_length_v1"
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("caption_length", pa.int32()),)
    poison: str = "boom"

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        if row[S.CAPTION] == self.poison:
            raise RuntimeError("unexpected bug on this row")
        if row[S.CAPTION] == "bad":
            raise Reject("bad_caption", "caption says bad")
        return {"caption_length": len(row[S.CAPTION])}


@dataclass(kw_only=True)
class LengthFilter(Filter):
    name: ClassVar[str] = "length_filter_v1"
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("length_filter_chars", pa.int64()),)
    min_chars: int = 3

    def score_batch(self, batch: pa.Table) -> dict[str, Any]:
        return {"length_filter_chars": [len(c or "") for c in batch.column(S.CAPTION).to_pylist()]}

    def decide(self, scores: dict[str, Any]) -> str | None:
        return "too_short" if scores["length_filter_chars"] < self.min_chars else None


def test_poison_row_is_isolated_and_others_untouched() -> None:
    table = sample_table([(b"a", "one"), (b"b", "boom"), (b"c", "three"), (b"d", "bad")])
    out = run_stage(CaptionLength(batch_size=4), table)
    rows = out.to_pylist()
    assert [r[S.STATUS] for r in rows] == ["ok", "rejected", "ok", "rejected"]
    assert rows[1][S.DROP_REASON] == "caption_length_v1:exception" and "unexpected bug" in rows[1][S.ERROR]
    assert rows[3][S.DROP_REASON] == "caption_length_v1:bad_caption"
    assert [r["caption_length"] for r in rows] == [3, None, 5, None]
    assert out.column(S.SAMPLE_ID).to_pylist() == table.column(S.SAMPLE_ID).to_pylist()


def test_every_row_failing_raises() -> None:
    table = sample_table([(b"a", "boom"), (b"b", "boom")])
    with pytest.raises(StageFailed):
        run_stage(CaptionLength(), table)


def test_rejected_rows_pass_through_unprocessed_and_keep_first_reason() -> None:
    table = run_stage(CaptionLength(), sample_table([(b"a", "bad"), (b"b", "hello")]))
    again = run_stage(LengthFilter(min_chars=10), table)
    rows = again.to_pylist()
    assert rows[0][S.DROP_REASON] == "caption_length_v1:bad_caption"
    assert rows[0]["length_filter_chars"] is None  # never scored: it was already rejected
    assert rows[1][S.DROP_REASON] == "length_filter_v1:too_short" and rows[1]["length_filter_chars"] == 5


def test_micro_batches_give_the_same_result_as_one_batch() -> None:
    table = sample_table([(bytes([i]), "x" * (i % 7)) for i in range(23)])
    small = run_stage(LengthFilter(batch_size=3), table)
    large = run_stage(LengthFilter(batch_size=1000), table)
    assert small.equals(large)


def test_filter_on_one_sample_matches_the_batch_result() -> None:
    one = apply_to_rows(LengthFilter(), [{S.CAPTION: "hi", S.MEDIA: []}])
    assert one[0][S.STATUS] == "rejected" and one[0]["length_filter_chars"] == 2


def test_stage_pickles_without_its_heavy_state() -> None:
    import pickle

    stage = CaptionLength()
    stage.ensure_setup()
    stage.__dict__["_model"] = object()  # stands for a loaded model
    clone = pickle.loads(pickle.dumps(stage))
    assert clone._ready is False and "_model" not in clone.__dict__ and clone.poison == "boom"


@dataclass(kw_only=True)
class NullStatus(RowStage):
    """Test stage with a bug: it blanks the status of one row."""

    name: ClassVar[str] = "null_status_v1"

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {S.STATUS: None} if row[S.CAPTION] == "blank" else {}


def test_a_row_can_never_vanish_through_a_null_status() -> None:
    out = run_stage(NullStatus(), sample_table([(b"a", "fine"), (b"b", "blank"), (b"c", "fine")])).to_pylist()
    assert len(out) == 3 and [r[S.STATUS] for r in out] == ["ok", "rejected", "ok"]
    assert out[1][S.DROP_REASON] == "null_status_v1:exception" and "null status" in out[1][S.ERROR]


def test_mark_rejected_treats_null_mask_entries_as_no() -> None:
    import pyarrow as pa

    from mmcurate.pipeline.marking import mark_rejected

    table = sample_table([(b"a", "x"), (b"b", "y")])
    out = mark_rejected(table, pa.array([None, True], pa.bool_()), "s", "s:r")
    assert out.column(S.STATUS).to_pylist() == ["ok", "rejected"]
