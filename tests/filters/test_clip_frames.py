"""Per-clip CLIP decisions on video clips, with the bundled tiny CLIP and generated scenes as frames."""

from __future__ import annotations

import io
import math
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image

from mmcurate.filters.clip_frames import DROPPED, SCORES, ClipFrameScore
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table
from mmcurate.schemas.video import CLIPS, CLIPS_FIELD

FRESH = 2_000_100_000  # seeds the tiny model never trained on
THRESHOLD = 0.5  # the tiny model scores these matched scenes ~0.8-0.9 and mismatched ones under 0.4


@pytest.fixture(scope="module")
def scenes() -> dict[str, Any]:
    # Different kinds, so the captions share no structure: the model separates them reliably.
    return {"a": make_scene(FRESH, kind="word"), "b": make_scene(FRESH + 1, kind="pair"),
            "c": make_scene(FRESH + 2, kind="count")}


@pytest.fixture(scope="module")
def scorer() -> ClipFrameScore:
    stage = ClipFrameScore()
    stage.ensure_setup()
    return stage


def _stage(scorer: ClipFrameScore, **config: Any) -> ClipFrameScore:
    """A stage with ``config`` that reuses the loaded model (loading one per test would double the time)."""
    stage = ClipFrameScore(**config)
    stage._embedder, stage._ready = scorer._embedder, True
    return stage


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _clips(scenes: dict[str, Any], names: str) -> list[dict[str, Any]]:
    """One clip per letter, two frames of that scene each (two JPEG qualities); '-' is a clip without frames."""
    return [{"clip_index": i, "frames": [] if n == "-" else [_jpeg(scenes[n].image, q) for q in (90, 70)]}
            for i, n in enumerate(names)]


def _table(rows: list[tuple[list[dict[str, Any]] | None, str | None]], stage: ClipFrameScore) -> pa.Table:
    full = [{"sample_id": f"s{i}", "source": "test", "locator": str(i), "unit_id": "u0", "unit_index": i,
             "unit_rows": len(rows), "status": "ok", "caption": caption, CLIPS: clips}
            for i, (clips, caption) in enumerate(rows)]
    return to_table(full, _schema(stage))


def _schema(stage: ClipFrameScore) -> pa.Schema:
    return sample_schema([CLIPS_FIELD, *stage.writes])


def test_model_separates_the_scenes(scorer, scenes):
    (row,) = run_stage(scorer, _table([(_clips(scenes, "abc"), scenes["a"].caption)], scorer)).to_pylist()
    matched, *mismatched = row[SCORES]
    assert matched > THRESHOLD + 0.2 and max(mismatched) < THRESHOLD - 0.1, row[SCORES]


def test_only_mismatched_clips_are_removed_and_recorded(scorer, scenes):
    rows = [(_clips(scenes, "aba"), scenes["a"].caption)]
    (plain,) = run_stage(scorer, _table(rows, scorer)).to_pylist()
    stage = _stage(scorer, min_clip_score=THRESHOLD)
    (row,) = run_stage(stage, _table(rows, stage)).to_pylist()

    assert row["status"] == "ok"
    assert [c["clip_index"] for c in row[CLIPS]] == [0, 2]
    assert [c["frames"] for c in row[CLIPS]] == [c["frames"] for c in rows[0][0][::2]]
    assert row[SCORES] == pytest.approx([plain[SCORES][0], plain[SCORES][2]])  # aligned with the kept clips
    assert [d["clip_index"] for d in row[DROPPED.name]] == [1]
    assert row[DROPPED.name][0]["score"] == pytest.approx(plain[SCORES][1], abs=1e-6)
    assert row[f"{stage.name}_mean"] == pytest.approx(plain[f"{stage.name}_mean"])  # the mean over every clip


def test_a_video_with_no_matching_clip_is_rejected_low_score(scorer, scenes):
    stage = _stage(scorer, min_clip_score=THRESHOLD)
    (row,) = run_stage(stage, _table([(_clips(scenes, "bc"), scenes["a"].caption)], stage)).to_pylist()

    assert row["status"] == "rejected" and row["drop_reason"] == "clip_frames_v1:low_score"
    assert [c["clip_index"] for c in row[CLIPS]] == [0, 1] and len(row[SCORES]) == 2  # kept whole, for the record
    assert [d["clip_index"] for d in row[DROPPED.name]] == [0, 1]


def test_default_keeps_every_clip_and_writes_no_new_column(scorer, scenes):
    table = _table([(_clips(scenes, "ab"), scenes["a"].caption)], scorer)
    out = run_stage(scorer, table)

    assert DROPPED.name not in out.column_names and out.schema.equals(_schema(scorer))
    assert out.column(CLIPS).equals(table.column(CLIPS)) and len(out.column(SCORES)[0]) == 2
    assert out.column("status").to_pylist() == ["ok"]


def test_one_sample_equals_a_sliced_batch(scorer, scenes):
    stage = _stage(scorer, min_clip_score=THRESHOLD, batch_size=2)
    a = scenes["a"].caption
    rows = [(_clips(scenes, "ab"), a), (_clips(scenes, "ab"), None), (_clips(scenes, "b-a"), a),
            (None, a), (_clips(scenes, "cb"), a)]
    batch = run_stage(stage, _table(rows, stage)).to_pylist()
    one = [apply_to_rows(stage, [r], _schema(stage))[0] for r in _table(rows, stage).to_pylist()]

    def essentials(r: dict[str, Any]) -> tuple:
        scores = [None if s is None or math.isnan(s) else round(s, 4) for s in r[SCORES] or []]
        return (r["drop_reason"], [c["clip_index"] for c in r[CLIPS] or []], scores,
                [d["clip_index"] for d in r[DROPPED.name]] if r[DROPPED.name] is not None else None)

    assert [essentials(r) for r in one] == [essentials(r) for r in batch]
    assert [essentials(r)[1] for r in batch] == [[0], [0, 1], [1, 2], [], [0, 1]]
    assert batch[1][DROPPED.name] is None  # no caption: nothing measured, nothing judged
    assert math.isnan(batch[2][SCORES][0])  # the clip without frames is kept, unjudged
    assert batch[4]["drop_reason"] == "clip_frames_v1:low_score"
