"""Probe facts and planted-cut detection across codecs, frame rates, sizes and rotations."""

from __future__ import annotations

import numpy as np
import pytest
import videogen as g

from mmcurate.pipeline.video.extract import ExtractParams, extract_clips
from mmcurate.pipeline.video.probe import probe_video
from mmcurate.pipeline.video.scenes import detect_cuts, split_spans

CODECS = [
    ("libx264", "mp4", "h264"),
    ("libvpx-vp9", "webm", "vp9"),
    ("libsvtav1", "mp4", "av1"),
    ("mpeg2video", "mpeg", "mpeg2video"),  # MPEG-2 program stream (case V13)
    ("mpeg4", "avi", "mpeg4"),
]


@pytest.mark.parametrize(("encoder", "fmt", "codec"), CODECS)
def test_cuts_found_within_one_frame_in_every_codec(encoder: str, fmt: str, codec: str) -> None:
    if not g.has_encoder(encoder):
        pytest.skip(f"{encoder} not in this PyAV wheel")
    cuts = (12, 27)
    data = g.make_video(codec=encoder, fmt=fmt, n_frames=40, fps=10, cuts=cuts)
    ex = extract_clips(data, ExtractParams(min_clip_s=0.5))
    assert ex.probe.codec == codec
    assert ex.probe.n_frames == 40
    assert ex.probe.duration_s == pytest.approx(4.0, abs=0.11)
    assert [c.start_frame for c in ex.clips][1:] == pytest.approx(list(cuts), abs=1)
    assert [c.start_reason for c in ex.clips] == ["start", "cut", "cut"]
    assert sum(c.n_frames for c in ex.clips) == 40


@pytest.mark.parametrize(("fps", "size"), [(25, (64, 48)), (30, (96, 64)), (8, (48, 64))])
def test_frame_rates_and_sizes(fps: int, size: tuple[int, int]) -> None:
    n = fps * 3
    data = g.make_video(fps=fps, size=size, n_frames=n, cuts=(fps,))
    probe = probe_video(data)
    assert (probe.width, probe.height, probe.n_frames) == (*size, n)
    assert probe.avg_fps == pytest.approx(fps, rel=0.02)
    assert probe.duration_s == pytest.approx(3.0, abs=1.0 / fps + 1e-6)
    assert not probe.vfr
    ex = extract_clips(data, ExtractParams(min_clip_s=0.5))
    assert ex.clips[1].start_frame == pytest.approx(fps, abs=1)


def test_variable_frame_rate_is_detected_and_timed_from_frames() -> None:
    pts = [0, 100, 150, 300, 320, 500, 700, 710, 900, 1000, 1400, 1450]
    data = g.make_video(pts_ms=pts, n_frames=len(pts), cuts=(6,))
    probe = probe_video(data)
    assert probe.vfr and probe.n_frames == len(pts)
    ex = extract_clips(data, ExtractParams(min_clip_s=0.1, min_scene_frames=2))
    assert ex.clips[1].start_frame == pytest.approx(6, abs=1)
    assert ex.clips[1].start_s == pytest.approx(0.7, abs=0.06)
    # Same input, same clips: nothing depends on a global RNG or on timing (case V9).
    again = extract_clips(data, ExtractParams(min_clip_s=0.1, min_scene_frames=2))
    assert [c.frame_ts for c in again.clips] == [c.frame_ts for c in ex.clips]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_from_display_matrix(rotation: int) -> None:
    probe = probe_video(g.make_video(rotation=rotation, n_frames=5))
    assert probe.rotation == rotation
    swapped = rotation in (90, 270)
    assert (probe.display_width, probe.display_height) == ((48, 64) if swapped else (64, 48))


def test_audio_presence_and_container_duration_not_trusted() -> None:
    assert probe_video(g.make_video(audio=True, n_frames=20)).has_audio
    assert not probe_video(g.make_video(n_frames=20)).has_audio
    # A raw elementary stream has no real container duration; frames are counted (case V8).
    raw = g.make_video(codec="mpeg2video", fmt="mpeg2video", n_frames=30, fps=10)
    probe = probe_video(raw)
    assert probe.n_frames == 30
    assert probe.duration_s == pytest.approx(3.0, abs=0.11)


def test_detect_cuts_ignores_motion_and_flashes() -> None:
    scores = np.zeros(60)
    scores[20] = 80.0  # a hard cut
    scores[35:45] = 40.0  # sustained fast motion: high but not a lone spike
    scores[50], scores[51] = 90.0, 90.0  # a 1-frame flash: in and out; the way back is suppressed
    assert detect_cuts(scores, threshold=30, adaptive_ratio=3, window=2, min_scene_frames=3) == [20, 50]


def test_split_spans_max_length_is_causal_and_drops_slivers() -> None:
    ts = np.arange(100) / 10.0  # 10 s at 10 fps
    spans = split_spans(ts, 10.0, [30, 32], max_clip_s=2.5, min_clip_s=1.0)
    # [0,3.0) -> [0,2.5) + a 0.5 s remainder (sliver); [3.0,3.2) is a sliver; [3.2,10) -> 2.5 + 2.5 + 1.8 s.
    # Each part starts max_clip_s after the previous part's start: no part waits for the scene's end.
    assert [(s.start_frame, s.start_reason) for s in spans] == [
        (0, "start"), (32, "cut"), (57, "max_length"), (82, "max_length")]
    assert [round(s.duration_s, 6) for s in spans] == [2.5, 2.5, 2.5, 1.8]
    assert spans[-1].end_s == 10.0


def test_split_spans_max_length_overshoots_by_less_than_a_frame() -> None:
    ts = np.arange(300) * 1.001 / 30  # 29.97 fps: 10 s is not a whole number of frames
    spans = split_spans(ts, 300 * 1.001 / 30, [], max_clip_s=4.0, min_clip_s=1.0)
    assert [s.start_reason for s in spans] == ["start", "max_length", "max_length"]
    assert all(4.0 <= s.duration_s < 4.0 + 1.001 / 30 for s in spans[:-1])
