"""Decode functions that misbehave on purpose (run in the sandbox; imported there by name)."""

from __future__ import annotations

import os
import signal
import time

from mmcurate.pipeline.audio.decode import DecodedAudio, DecodeParams, decode_audio

CRASH = b"\x00CRASH-ME"
HANG = b"\x00HANG-ME"


def faulty_decode(source: bytes, params: DecodeParams) -> DecodedAudio:
    """Segfault on CRASH, hang on HANG, decode everything else for real."""
    if source.startswith(CRASH):
        os.kill(os.getpid(), signal.SIGSEGV)
    if source.startswith(HANG):
        time.sleep(3600)
    return decode_audio(source, params)
