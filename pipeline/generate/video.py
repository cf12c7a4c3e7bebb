"""Small synthetic videos with planted hard cuts, for the demo and the video tests.

Each scene is a solid colour with a small white square that moves 3 px per frame (so scenes have
motion, unless ``moving=False``), and scenes switch at known frame indices: a cut detector's answers
are known exactly. Encoded with PyAV in any codec/container the wheel has.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

__all__ = ["PALETTE", "frame_image", "make_video", "make_audio_only", "has_encoder"]

PALETTE = [(200, 30, 30), (30, 30, 200), (30, 180, 30), (220, 220, 40), (140, 40, 160), (20, 160, 160)]
def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means "not in this wheel"
        return False
    return True


def frame_image(i: int, scene: int, w: int, h: int, *, moving: bool = True) -> np.ndarray:
    """Scene colour with a white square (8 px on tiny frames, a sixth of the height on larger ones)."""
    a = np.empty((h, w, 3), np.uint8)
    a[:] = PALETTE[scene % len(PALETTE)]
    side = max(8, h // 6)
    x = (i * 3) % max(1, w - side) if moving else 4
    a[4 : 4 + side, x : x + side] = 255
    return a


def make_video(
    *,
    codec: str = "libx264",
    fmt: str = "mp4",
    size: tuple[int, int] = (64, 48),
    fps: int = 10,
    n_frames: int = 40,
    cuts: Sequence[int] = (),
    pts_ms: Sequence[int] | None = None,
    rotation: int = 0,
    moving: bool = True,
    audio: bool = False,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode a synthetic video; ``pts_ms`` gives explicit (variable) timestamps in milliseconds."""
    w, h = size
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if options:
            stream.options = options
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        astream = out.add_stream("aac", rate=16000) if audio else None
        scene = 0
        for i in range(n_frames):
            if i in cuts:
                scene += 1
            frame = av.VideoFrame.from_ndarray(frame_image(i, scene, w, h, moving=moving), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = int(pts_ms[i]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            _encode_tone(out, astream, n_frames / fps)
    return buf.getvalue()


def _encode_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = stream.rate
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    step = 1024
    for start in range(0, samples.size - step + 1, step):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + step], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def make_audio_only(seconds: float = 1.0) -> bytes:
    """An M4A (MP4 container, AAC) with no video stream (reliability case V6)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        _encode_tone(out, out.add_stream("aac", rate=16000), seconds)
    return buf.getvalue()
