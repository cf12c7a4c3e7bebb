"""A video's perceptual signature: 64-bit pHashes of frames at fixed times from its start.

Frame *indices* say nothing across encodes (another frame rate, dropped frames), and keyframes say
nothing either (each encoder places its own GOP), so the signature samples by *time*: the frame shown
at ``0.5 s, 1.5 s, ...`` (up to ``frames`` of them; fewer for a shorter video, none under 0.5 s).
Each one is found by seeking to the keyframe at or before the target and decoding forward to the first
frame whose time is >= the target, which is the same moment of the video whatever the GOP. Times count
from the first decoded frame, not from zero: muxers disagree on start offsets and edit lists.

Each frame is hashed with :func:`~mmcurate.pipeline.dedup.phash.phash64` after swscale shrinks it to a
small grey square (the hash resizes to 32x32 anyway; converting a full 1080p frame to RGB first would
cost more than the decode) and the display rotation is applied, so a rotated-on-export copy matches.

Untrusted input: run :func:`video_signature` inside :func:`~.sandbox.run_sandboxed`, as the dedup stage
does (:class:`~mmcurate.pipeline.dedup.video_phash.VideoPerceptualHash`).
"""

from __future__ import annotations

from typing import Any

import av
from PIL import Image

from mmcurate.pipeline.dedup.phash import phash64
from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video.frames import upright
from mmcurate.pipeline.video.probe import VideoSource, open_container, stream_info

__all__ = ["SIGNATURE_FRAMES", "FIRST_TARGET_S", "STEP_S", "signature_times", "video_signature"]

SIGNATURE_FRAMES = 8
FIRST_TARGET_S = 0.5  # past the first frame, which is often a fade-in or a black leader
STEP_S = 1.0
_HASH_SIDE = 64  # twice the pHash's 32x32 input, so its Lanczos resize still sees every pixel
# Timestamps are rounded to each container's time base (1/1000 s in some, 1/12800 s in others): a
# frame a millisecond early is still "the frame at t", or two encodes would pick neighbouring frames.
_TIME_SLACK_S = 2e-3


def signature_times(start_s: float, frames: int = SIGNATURE_FRAMES) -> list[float]:
    """The target times (seconds, stream clock) of a video whose first frame is at ``start_s``."""
    return [start_s + FIRST_TARGET_S + STEP_S * k for k in range(frames)]


def _rotation(frame: av.VideoFrame) -> int:
    return int(round(frame.rotation / 90.0)) * 90 % 360


def _frame_hash(frame: av.VideoFrame) -> int:
    grey = frame.reformat(width=_HASH_SIDE, height=_HASH_SIDE, format="gray", interpolation="AREA").to_ndarray()
    return phash64(Image.fromarray(upright(grey, _rotation(frame)), "L"))


def _frame_at(container: av.container.InputContainer, stream: Any, t: float) -> av.VideoFrame | None:
    """The first frame at or after ``t`` (seconds), or None when the video ends before ``t``."""
    try:
        container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        pass  # an unseekable stream (raw elementary video): targets only grow, so decode on from here
    for frame in container.decode(stream):
        if frame.time is not None and frame.time >= t - _TIME_SLACK_S:
            return frame
    return None


def _first_time(container: av.container.InputContainer, stream: Any) -> float:
    for frame in container.decode(stream):
        if frame.time is not None:
            return float(frame.time)
    raise Reject("truncated", "no decodable frame with a timestamp")


def video_signature(source: VideoSource, frames: int = SIGNATURE_FRAMES) -> list[int]:
    """pHashes (unsigned 64-bit ints) of the frames at :func:`signature_times`; ``[]`` if shorter.

    Raises :class:`Reject` when the video does not open or has no decodable frame; a decode error
    after some frames (a cut download) keeps the hashes found before it.
    """
    hashes: list[int] = []
    with open_container(source) as container:
        stream_info(container)  # Reject for audio-only files and non-videos
        stream = container.streams.video[0]
        if stream.codec_context is not None:
            stream.codec_context.thread_count = 1  # one core per sandbox, as the clip extractor
        try:
            for t in signature_times(_first_time(container, stream), frames):
                frame = _frame_at(container, stream, t)
                if frame is None:
                    break
                hashes.append(_frame_hash(frame))
        except av.error.FFmpegError as exc:
            if not hashes:
                raise Reject("truncated", str(exc)[:300]) from exc
    return hashes
