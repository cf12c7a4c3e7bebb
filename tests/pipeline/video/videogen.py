"""Tiny generated videos for the video tests, and sandbox fault functions.

Videos are 64x48 and a few seconds long so the whole directory runs in seconds on 2 shared cores. Each
scene is a solid colour with a small white square that moves 3 px per frame (so scenes have motion),
and scenes switch at known frame indices (planted hard cuts). This module is imported by name (the
folder's conftest puts it on ``sys.path``) so the sandbox child can unpickle the fault functions.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

__all__ = ["PALETTE", "frame_image", "make_video", "make_audio_only", "has_encoder",
           "crash_always", "hang_forever", "crash_on_marker", "CRASH_MARKER"]

PALETTE = [(200, 30, 30), (30, 30, 200), (30, 180, 30), (220, 220, 40), (140, 40, 160), (20, 160, 160)]
CRASH_MARKER = b"\x00CRASH-ME"


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means "not in this wheel"
        return False
    return True


def frame_image(i: int, scene: int, w: int, h: int, *, moving: bool = True) -> np.ndarray:
    a = np.empty((h, w, 3), np.uint8)
    a[:] = PALETTE[scene % len(PALETTE)]
    x = (i * 3) % max(1, w - 8) if moving else 4
    a[4:12, x : x + 8] = 255
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


def crash_always(source: object, params: object) -> None:
    """A decode function that dies like a segfaulting decoder; logs each attempt if asked to."""
    log = os.environ.get("MMCURATE_TEST_CRASH_LOG")
    if log:
        with open(log, "a") as f:
            f.write("attempt\n")
    os.kill(os.getpid(), signal.SIGSEGV)


def hang_forever(source: object, params: object) -> None:
    time.sleep(3600)


def crash_on_marker(source: bytes, params: object) -> object:
    """Crash on the marker payload, decode everything else for real."""
    if isinstance(source, bytes) and source.startswith(CRASH_MARKER):
        crash_always(source, params)
    from mmcurate.pipeline.video.extract import extract_clips

    return extract_clips(source, params)
