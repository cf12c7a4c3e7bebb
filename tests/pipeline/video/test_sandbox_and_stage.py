"""The decode sandbox (crash, hang, rejects) and the VideoClips stage end to end, with filters."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
import videogen as g

from mmcurate.filters.video import VideoDurationFilter, VideoMotionFilter, VideoResolutionFilter
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.sinks.explode import explode_clips
from mmcurate.pipeline.stage import Reject
from mmcurate.pipeline.video.clip_stage import REJECT_REASONS, VideoClips
from mmcurate.pipeline.video.extract import ExtractParams
from mmcurate.pipeline.video.sandbox import SandboxError, run_sandboxed
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table
from mmcurate.schemas.video import CLIP_RECORD_SCHEMA


def test_crash_is_retried_once_then_decoder_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("MMCURATE_TEST_CRASH_LOG", str(log))
    with pytest.raises(Reject) as info:
        run_sandboxed(g.crash_always, b"x", None, timeout_s=30)
    assert info.value.reason == "decoder_crash" and "SIGSEGV" in info.value.detail
    assert log.read_text().count("attempt") == 2


def test_hang_is_killed_by_the_watchdog() -> None:
    start = time.monotonic()
    with pytest.raises(Reject) as info:
        run_sandboxed(g.hang_forever, b"x", None, timeout_s=2.0)
    assert info.value.reason == "decode_timeout"
    assert time.monotonic() - start < 10


def test_results_rejects_and_bugs_cross_the_boundary() -> None:
    assert run_sandboxed(os.getpid) != os.getpid()
    with pytest.raises(SandboxError, match="ZeroDivisionError"):
        run_sandboxed(divmod, 1, 0)


def _rows(payloads: list[bytes]) -> list[dict]:
    return [
        {"sample_id": f"s{i}", "source": "test", "locator": str(i), "unit_id": "u0", "unit_index": i,
         "unit_rows": len(payloads), "status": "ok", "caption": f"video {i}",
         "media": [{"bytes": data, "kind": "video", "mime": "video/mp4"}]}
        for i, data in enumerate(payloads)
    ]


def test_stage_isolates_a_crashing_sample_and_types_every_reject() -> None:
    good = g.make_video(n_frames=40, cuts=(20,))
    still = g.make_video(n_frames=40, moving=False, codec="libvpx-vp9", fmt="webm")
    payloads = [good, g.CRASH_MARKER + b"\x00" * 64, b"<html>nope</html>", g.make_audio_only(), b"", still]
    clips = VideoClips(params=ExtractParams(min_clip_s=0.5), extract_fn=g.crash_on_marker, timeout_s=60)
    stages = [clips, VideoDurationFilter(min_s=1.0), VideoResolutionFilter(min_short_side=32), VideoMotionFilter()]
    schema = sample_schema([f for s in stages for f in s.writes])
    out = run_stages(stages, to_table(_rows(payloads), schema)).to_pylist()

    reasons = [r["drop_reason"] for r in out]
    assert reasons == [
        None,
        "video_clips_v1:decoder_crash",
        "video_clips_v1:not_a_video",
        "video_clips_v1:no_video_stream",
        "video_clips_v1:empty",
        "video_motion_v1:static",
    ]
    assert all(r.split(":")[1] in REJECT_REASONS for r in reasons[1:5])
    ok = out[0]
    assert [c["start_frame"] for c in ok["clips"]] == [0, 20]
    assert ok["media"][0]["n_frames"] == 40 and ok["media"][0]["width"] == 64
    assert ok["video_probe"]["codec"] == "h264" and ok["video_motion_v1_score"] > 1.0
    assert out[5]["video_motion_v1_score"] < 1.0  # scored, then dropped: a frozen picture

    records = explode_clips(pa.Table.from_pylist(out, schema=run_schema(stages)))
    assert records.schema.equals(CLIP_RECORD_SCHEMA)
    assert records.column("clip_id").to_pylist() == ["s0-0000", "s0-0001"]
    assert records.column("caption").to_pylist() == ["video 0", "video 0"]
    assert all(len(f) == len(t) > 0 for f, t in zip(records.column("frames").to_pylist(),
                                                    records.column("frame_ts").to_pylist()))


def run_schema(stages: list) -> pa.Schema:
    return sample_schema([f for s in stages for f in s.writes])


def test_stage_pickles_cheaply() -> None:
    import pickle

    stage = VideoClips(params=ExtractParams(fps=1.0))
    again = pickle.loads(pickle.dumps(stage))
    assert again.params.fps == 1.0 and again.extract_fn is stage.extract_fn
