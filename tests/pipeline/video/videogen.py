"""Sandbox fault functions for the video tests, plus the generators they share with the demo.

The generators live in :mod:`mmcurate.pipeline.generate.video`; this module is imported by name (the folder's
conftest puts it on ``sys.path``) so the sandbox child can unpickle the fault functions.
"""

from __future__ import annotations

import os
import signal
import time

from mmcurate.pipeline.generate.video import PALETTE, frame_image, has_encoder, make_audio_only, make_video

__all__ = ["PALETTE", "frame_image", "make_video", "make_audio_only", "has_encoder",
           "crash_always", "hang_forever", "crash_on_marker", "CRASH_MARKER"]

CRASH_MARKER = b"\x00CRASH-ME"


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
