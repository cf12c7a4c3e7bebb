"""Frame sampling by timestamp (Qwen2-VL 2 fps rule), uniform-N, stored JPEGs and clip MP4s."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import videogen as g
from PIL import Image

from mmcurate.pipeline.video.extract import ExtractParams, extract_clips
from mmcurate.pipeline.video.frames import frame_count, nearest_frames, sample_timestamps, storage_size, upright


def test_frame_count_follows_qwen_smart_nframes() -> None:
    assert frame_count(10.0) == 20  # 2 fps
    assert frame_count(1.0) == 4  # min_frames
    assert frame_count(1000.0) == 768  # max_frames
    assert frame_count(5.7) == 10  # 11.4 floored to a multiple of 2
    assert frame_count(1.0, available=3) == 2  # never more than the frames there are
    assert frame_count(0.1, available=1) == 1  # a 1-frame clip still gives its frame


def test_targets_are_a_2fps_grid() -> None:
    ts = sample_timestamps(1.0, 4.0)
    assert np.allclose(np.diff(ts), 0.5) and ts[0] == pytest.approx(1.25)


@pytest.mark.parametrize("fps", [25, 30])
def test_sampled_frames_within_half_a_frame_of_target(fps: int) -> None:
    data = g.make_video(fps=fps, n_frames=fps * 4)
    ex = extract_clips(data, ExtractParams(max_clip_s=None))
    (clip,) = ex.clips
    targets = sample_timestamps(clip.start_s, clip.end_s, available=clip.n_frames)
    assert len(clip.frame_ts) == len(targets) == 8
    assert np.max(np.abs(np.asarray(clip.frame_ts) - targets)) <= 0.5 / fps + 1e-6
    assert clip.sample_fps == pytest.approx(2.0)


def test_vfr_sampling_picks_nearest_frame_in_time() -> None:
    frame_ts = np.array([0.0, 0.1, 0.15, 0.3, 0.32, 0.5, 0.7, 0.71, 0.9, 1.0])
    idx = nearest_frames(frame_ts, np.array([0.12, 0.315, 0.65, 0.95]))
    assert idx.tolist() == [1, 4, 6, 8]  # 0.12 is nearer 0.1 than 0.15; 0.315 nearer 0.32


def test_uniform_n_and_stored_jpegs() -> None:
    data = g.make_video(size=(64, 48), n_frames=30, rotation=90)
    ex = extract_clips(data, ExtractParams(uniform_n=5, max_clip_s=None))
    (clip,) = ex.clips
    assert len(clip.frames) == len(clip.frame_ts) == 5
    assert (clip.width, clip.height) == (48, 64)  # upright: rotation applied to stored frames
    first = Image.open(io.BytesIO(clip.frames[0]))
    assert first.format == "JPEG" and first.size == (48, 64)


def test_upright_matches_display_rotation() -> None:
    a = np.zeros((2, 3, 3), np.uint8)
    a[0, 0] = 255  # top-left marker
    assert upright(a, 90).shape == (3, 2, 3) and upright(a, 90)[2, 0, 0] == 255  # 90 ccw: to bottom-left
    assert upright(a, 270)[0, 1, 0] == 255  # 90 cw: to top-right
    assert upright(a, 180)[1, 2, 0] == 255


def test_storage_size_caps_pixels_and_keeps_aspect() -> None:
    assert storage_size(64, 48) == (64, 48)
    w, h = storage_size(3840, 2160, 768 * 28 * 28)
    assert w * h <= 768 * 28 * 28 and abs(w / h - 16 / 9) < 0.01 and w % 2 == h % 2 == 0


def test_clip_reencoded_to_mp4() -> None:
    data = g.make_video(n_frames=40, cuts=(20,))
    ex = extract_clips(data, ExtractParams(encode_mp4=True, min_clip_s=0.5))
    assert len(ex.clips) == 2
    for clip in ex.clips:
        with av.open(io.BytesIO(clip.mp4)) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == clip.n_frames == 20
        assert frames[-1].time == pytest.approx(1.9, abs=0.01)  # timestamps kept, relative to the clip
