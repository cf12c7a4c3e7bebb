"""The single decode pass: causal sampling and splitting, short clips, bounded buffering, and that it
agrees with the two-pass path (``encode_mp4``) frame for frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
import videogen as g

from mmcurate.pipeline.video import decode_loop
from mmcurate.pipeline.video import extract as X
from mmcurate.pipeline.video.extract import ExtractParams, extract_clips
from mmcurate.pipeline.video.frames import ClipSampler, frame_count, sample_timestamps, uniform_timestamps


def picks(ts: np.ndarray, end_s: float, **kw: float) -> list[int]:
    sampler = ClipSampler(float(ts[0]), **kw)  # type: ignore[arg-type]
    for k, t in enumerate(ts.tolist()):
        sampler.push(k, t)
    return sampler.finish(end_s)


def test_sampler_matches_nearest_frames_to_the_documented_targets() -> None:
    ts = np.arange(317) / 30.0  # 10.57 s at 30 fps: not a whole number of 1/fps slices
    got = picks(ts, 317 / 30.0)
    targets = sample_timestamps(0.0, 317 / 30.0, available=317)
    assert len(got) == frame_count(317 / 30.0) == 20
    assert np.allclose(targets, (np.arange(20) + 0.5) / 2.0)  # the fixed 2 fps grid from the clip start
    assert np.max(np.abs(ts[got] - targets)) <= 0.5 / 30 + 1e-9


def test_sampler_takes_each_frame_once_when_frames_are_sparser_than_the_grid() -> None:
    ts = np.arange(10.0)  # 1 fps for 10 s, sampled at 2 fps: 20 grid targets, 10 frames
    assert picks(ts, 10.0) == list(range(10))  # every frame once, spread over the whole clip


def test_sampler_stops_at_max_frames() -> None:
    ts = np.arange(600) / 30.0
    # 9 -> 8 (frame_factor); each target sits between two frames and the tie goes to the earlier one.
    assert picks(ts, 20.0, max_frames=9) == [int((k + 0.5) * 15) for k in range(8)]


def test_short_clip_gets_min_frames_over_its_real_length() -> None:
    # Scenes of 1.5 s, 3 s, 1.5 s at 10 fps: 1.5 s x 2 fps = 3 grid targets < min_frames = 4.
    data = g.make_video(n_frames=60, fps=10, cuts=(15, 45))
    ex = extract_clips(data, ExtractParams())
    assert [(c.start_frame, c.n_frames) for c in ex.clips] == [(0, 15), (15, 30), (45, 15)]
    for clip in ex.clips:
        n = 4 if clip.n_frames == 15 else 6
        targets = (uniform_timestamps(clip.start_s, clip.end_s, 4) if n == 4
                   else clip.start_s + (np.arange(6) + 0.5) / 2.0)
        assert len(clip.frames) == len(clip.frame_ts) == n
        assert np.max(np.abs(np.asarray(clip.frame_ts) - targets)) <= 0.05 + 1e-6


def test_long_scene_is_split_causally_and_a_short_remainder_dropped() -> None:
    data = g.make_video(n_frames=75, fps=10)  # one 7.5 s scene
    ex = extract_clips(data, ExtractParams(max_clip_s=3.0))
    assert [(c.start_frame, c.start_reason) for c in ex.clips] == [(0, "start"), (30, "max_length"),
                                                                    (60, "max_length")]
    assert [round(c.end_s - c.start_s, 6) for c in ex.clips] == [3.0, 3.0, 1.5]
    assert [len(c.frames) for c in ex.clips] == [6, 6, 4]  # the 1.5 s tail is a short clip: min_frames
    sliver = extract_clips(g.make_video(n_frames=65, fps=10), ExtractParams(max_clip_s=3.0))
    assert [c.start_frame for c in sliver.clips] == [0, 30]  # [6.0, 6.5) < min_clip_s: dropped


@pytest.mark.parametrize("big_pictures", [False, True])
def test_buffered_pictures_are_bounded_by_min_frames_over_fps(big_pictures: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if big_pictures:  # every buffered picture is then a storage-size copy, not the decoder's frame
        monkeypatch.setattr(decode_loop, "REF_MAX_BYTES", 0)  # FrameStore.hold reads it there
    fps, n = 30, 300  # one 10 s scene, split into 4 s clips: three young phases of 2 s each
    data = g.make_video(n_frames=n, fps=fps, size=(128, 96))
    params = ExtractParams(max_clip_s=4.0, frame_max_pixels=32 * 24)
    ex, stats = X._extract_single_pass(data, params)
    assert [len(c.frames) for c in ex.clips] == [8, 8, 4]
    # Samples taken from buffered pictures (all of the last clip's) are each their own frame's picture.
    assert all(len(set(c.frames)) == len(c.frames) for c in ex.clips)
    bound = math.ceil(params.min_frames / params.fps * fps)  # frames younger than min_frames / fps
    assert 0 < stats.peak_frames <= bound < n // 4
    per_picture = stats.peak_bytes / stats.peak_frames
    assert (per_picture < 128 * 96) if big_pictures else (per_picture >= 128 * 96 * 1.5)


@pytest.mark.parametrize("rotation", [0, 90])
def test_single_pass_equals_two_pass(rotation: int) -> None:
    data = g.make_video(n_frames=95, fps=10, cuts=(17, 60), rotation=rotation)
    params = ExtractParams(max_clip_s=3.0, min_clip_s=0.5)
    one = extract_clips(data, params)  # single pass
    two = extract_clips(data, ExtractParams(max_clip_s=3.0, min_clip_s=0.5, encode_mp4=True))
    assert one.probe == two.probe
    fields = ("clip_index", "start_s", "end_s", "start_frame", "n_frames", "start_reason", "frame_ts",
              "frames", "width", "height", "sample_fps", "motion")
    rows = [{k: c.to_row()[k] for k in fields} for c in one.clips]
    assert rows == [{k: c.to_row()[k] for k in fields} for c in two.clips]
    assert [c.start_reason for c in one.clips] == ["start", "cut", "max_length", "cut", "max_length"]


def test_same_input_same_bytes() -> None:
    data = g.make_video(n_frames=50, fps=10, cuts=(22,))
    first, again = extract_clips(data), extract_clips(data)
    assert [c.to_row() for c in first.clips] == [c.to_row() for c in again.clips]


def test_cut_decisions_arrive_in_order_window_frames_late() -> None:
    from mmcurate.pipeline.video.scenes import CutDetector

    scores = [0.0, 2.0, 1.0, 80.0, 2.0, 1.0, 3.0, 2.0]
    det = CutDetector(window=2)
    decided = []
    for n, s in enumerate(scores, start=1):
        got = det.push(s)
        assert [i for i, _ in got] == ([n - 3] if n >= 3 else [])  # frame n-3 once 2 later scores are in
        decided += got
    decided += det.flush()
    assert decided == [(i, i == 3) for i in range(len(scores))]
