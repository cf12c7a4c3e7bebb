"""Bad inputs are typed rejects, decided before or while decoding, in-process (no sandbox needed)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
import videogen as g

from mmcurate.pipeline.stage import Reject
from mmcurate.pipeline.video.extract import ExtractParams, extract_clips


def reason(data: bytes, params: ExtractParams | None = None) -> str:
    params = params or ExtractParams()
    with pytest.raises(Reject) as info:
        extract_clips(data, params)
    return info.value.reason


def faststart(data: bytes, path: Path) -> bytes:
    """Remux to an MP4 with the index (moov) first, as streaming sites serve it.

    The muxer rewrites the file in a second pass by name, so it needs a real path, not a BytesIO.
    """
    with av.open(io.BytesIO(data)) as src, av.open(str(path), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return path.read_bytes()


def test_empty() -> None:
    assert reason(b"") == "empty"


def test_truncated_mp4_without_index() -> None:
    data = g.make_video(n_frames=40)  # moov at the end: cutting it loses the index (case V2)
    assert data.find(b"moov") > len(data) // 2
    assert reason(data[: len(data) // 2]) == "truncated"


def test_truncated_faststart_keeps_partial_or_rejects(tmp_path: Path) -> None:
    data = faststart(g.make_video(n_frames=60, fps=10), tmp_path / "fs.mp4")
    assert data.find(b"moov") < data.find(b"mdat")
    cut = data[: int(len(data) * 0.6)]  # cut inside mdat (case V3)
    ex = extract_clips(cut, ExtractParams(min_clip_s=0.5))
    assert ex.probe.truncated or ex.probe.n_frames < 60
    assert 0 < ex.probe.n_frames < 60
    if ex.probe.truncated:
        assert reason(cut, ExtractParams(keep_partial=False)) == "truncated"


def test_html_named_mp4_is_not_a_video() -> None:
    assert reason(b"<!DOCTYPE html><html><body>404 Not Found</body></html>" * 20) == "not_a_video"


def test_audio_only() -> None:
    assert reason(g.make_audio_only()) == "no_video_stream"


def test_too_large_from_header_before_decode() -> None:
    assert reason(g.make_video(n_frames=3), ExtractParams(max_pixels=64 * 48 - 1)) == "too_large"


def test_too_long_from_decoded_timestamps() -> None:
    assert reason(g.make_video(n_frames=40, fps=10), ExtractParams(max_duration_s=2.0)) == "too_long"


def test_unsupported_codec() -> None:
    data = g.make_video(codec="ffv1", fmt="matroska", n_frames=3)
    assert reason(data) == "unsupported_codec"
    assert extract_clips(data, ExtractParams(codecs=None, min_clip_s=0.1)).probe.codec == "ffv1"


def test_studio_pixel_format_is_unsupported() -> None:
    """Bad-input matrix V12: 10-bit 4:4:4 H.264 is a known codec in a pixel format web video never uses."""
    data = g.make_video(pix_fmt="yuv444p10le", n_frames=12)
    assert reason(data) == "unsupported_codec"
    ok = extract_clips(data, ExtractParams(pix_fmts=None, min_clip_s=0.1))
    assert ok.probe.pix_fmt == "yuv444p10le" and ok.clips
    hdr = extract_clips(g.make_video(pix_fmt="yuv420p10le", n_frames=12), ExtractParams(min_clip_s=0.1))
    assert hdr.probe.pix_fmt == "yuv420p10le" and hdr.clips  # 10-bit 4:2:0 (HDR web video) is accepted
