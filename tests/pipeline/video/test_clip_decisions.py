"""Per-clip motion decisions: a video keeps its moving clips and loses only its still ones."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from mmcurate.filters.clip_frames import ClipFrameScore
from mmcurate.filters.video import MOTION_DROPPED, VideoMotionFilter, cut_clips, keep_clips
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table
from mmcurate.schemas.video import CLIPS, CLIPS_FIELD

DROPPED = MOTION_DROPPED.name


def _jpeg(grey: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (grey, grey, grey)).save(buf, "JPEG")
    return buf.getvalue()


def _clips(motions: list[float | None], index_from: int = 0) -> list[dict[str, Any]]:
    """One-second clips with the given motion; each clip's frames differ, so a mix-up shows."""
    return [{"clip_index": index_from + i, "start_s": float(i), "end_s": float(i + 1), "motion": m,
             "frames": [_jpeg(10 * i), _jpeg(10 * i + 5)], "frame_ts": [float(i), i + 0.5]}
            for i, m in enumerate(motions)]


def _table(videos: list[list[dict[str, Any]] | None], stage: VideoMotionFilter) -> pa.Table:
    rows = [{"sample_id": f"s{i}", "source": "test", "locator": str(i), "unit_id": "u0", "unit_index": i,
             "unit_rows": len(videos), "status": "ok", "caption": f"video {i}", CLIPS: clips}
            for i, clips in enumerate(videos)]
    return to_table(rows, _schema(stage))


def _schema(stage: VideoMotionFilter) -> pa.Schema:
    return sample_schema([CLIPS_FIELD, *stage.writes])


def test_only_still_clips_are_removed_and_recorded() -> None:
    stage = VideoMotionFilter(min_motion=1.0, min_clip_motion=1.0)
    clips = _clips([5.0, 0.2, None, 3.0])  # None: one sampled frame, counts as no motion
    (row,) = run_stage(stage, _table([clips], stage)).to_pylist()

    assert row["status"] == "ok"
    assert [c["clip_index"] for c in row[CLIPS]] == [0, 3]  # ids stay stable: no renumbering
    assert [{k: c[k] for k in clips[0]} for c in row[CLIPS]] == [clips[0], clips[3]]  # whole clips, frames too
    assert row[DROPPED] == [{"clip_index": 1, "score": 0.2}, {"clip_index": 2, "score": 0.0}]
    assert row["video_motion_v1_score"] == pytest.approx((5.0 + 0.2 + 0.0 + 3.0) / 4)  # over every clip


def test_a_video_with_no_moving_clip_is_rejected_static() -> None:
    # The video-level mean (1.25) passes min_motion; every clip fails min_clip_motion.
    stage = VideoMotionFilter(min_motion=0.1, min_clip_motion=2.0)
    clips = _clips([1.0, 1.5])
    (row,) = run_stage(stage, _table([clips], stage)).to_pylist()

    assert row["status"] == "rejected" and row["drop_reason"] == "video_motion_v1:static"
    assert [c["clip_index"] for c in row[CLIPS]] == [0, 1]  # kept whole for the record
    assert row[DROPPED] == [{"clip_index": 0, "score": 1.0}, {"clip_index": 1, "score": 1.5}]


def test_rows_the_video_rule_rejects_or_without_clips_are_not_judged_per_clip() -> None:
    stage = VideoMotionFilter(min_motion=1.0, min_clip_motion=1.0)
    out = run_stage(stage, _table([_clips([0.1, 0.3]), None, []], stage)).to_pylist()

    assert out[0]["drop_reason"] == "video_motion_v1:static" and out[0][DROPPED] is None
    assert len(out[0][CLIPS]) == 2
    assert [r["status"] for r in out[1:]] == ["ok", "ok"]
    assert out[1][CLIPS] is None and out[1][DROPPED] is None
    assert out[2][CLIPS] == [] and out[2][DROPPED] == []  # judged, nothing to remove, not "all removed"


def test_default_keeps_every_clip_and_writes_no_new_column() -> None:
    default = VideoMotionFilter()
    videos = [_clips([5.0, 0.2, 3.0]), _clips([0.1, 0.2])]
    table = _table(videos, default)
    out = run_stage(default, table)

    assert DROPPED not in out.column_names and out.schema.equals(_schema(default))
    assert out.column(CLIPS).equals(table.column(CLIPS))  # the 0.2 clip stays: clips are not judged
    assert out.column("drop_reason").to_pylist() == [None, "video_motion_v1:static"]


def test_one_sample_equals_a_sliced_batch() -> None:
    # batch_size 2 over 5 rows: the stage sees sliced Arrow arrays (non-zero list offsets).
    stage = VideoMotionFilter(min_motion=0.5, min_clip_motion=1.0, batch_size=2)
    videos = [_clips([5.0, 0.2]), None, _clips([0.4, 2.0, 0.1], index_from=3), _clips([0.9, 0.8]), _clips([7.0])]
    batch = run_stage(stage, _table(videos, stage)).to_pylist()
    one = [apply_to_rows(stage, [r], _schema(stage))[0] for r in _table(videos, stage).to_pylist()]

    for a, b in zip(one, batch):
        assert (a["status"], a["drop_reason"], a[DROPPED], a[CLIPS]) == (b["status"], b["drop_reason"], b[DROPPED],
                                                                          b[CLIPS])
    assert [[c["clip_index"] for c in r[CLIPS] or []] for r in batch] == [[0], [], [4], [0, 1], [0]]
    assert batch[3]["drop_reason"] == "video_motion_v1:static"


def test_cut_and_keep_on_sliced_lists() -> None:
    clips = pa.array([_clips([9.0]), _clips([1.0, 5.0]), None, _clips([0.0, 0.0])], CLIPS_FIELD.type).slice(1)
    scores = pa.array([1.0, 5.0, 0.0, 0.0], pa.float64())
    cut = cut_clips(clips, scores, np.array([True, True, True]), threshold=2.0)

    assert cut.keep.tolist() == [False, True, True, True] and cut.emptied.tolist() == [False, False, True]
    assert cut.dropped.to_pylist() == [[{"clip_index": 0, "score": 1.0}], None,
                                       [{"clip_index": 0, "score": 0.0}, {"clip_index": 1, "score": 0.0}]]
    kept = keep_clips(clips, cut.keep).to_pylist()
    assert [[c["clip_index"] for c in r] if r is not None else None for r in kept] == [[1], None, [0, 1]]


def test_negative_clip_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="min_clip_motion"):
        VideoMotionFilter(min_clip_motion=-1.0)


def test_job_config_wires_both_clip_thresholds(tmp_path: Path) -> None:
    def stages(extra: dict[str, Any]) -> dict[type, Any]:
        steps = [{"use": "video_motion", **extra.get("video_motion", {})},
                 {"use": "clip_frames", **extra.get("clip_frames", {})}]
        job = resolve({"inputs": [{"kind": "folder", "path": str(tmp_path)}], "steps": steps})
        return {type(s.component): s.component for s in job.steps}

    default = stages({})
    assert default[VideoMotionFilter].min_clip_motion is None and default[ClipFrameScore].min_clip_score is None
    set_ = stages({"video_motion": {"min_clip_motion": 2}, "clip_frames": {"min_clip_score": 0.25}})
    assert set_[VideoMotionFilter].min_clip_motion == 2.0 and set_[ClipFrameScore].min_clip_score == 0.25
