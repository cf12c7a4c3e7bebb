"""Named fault-injection points for the resume and retry tests.

``MMCURATE_FAULT=<point>[:<unit_id>]`` makes the process SIGKILL itself the first time it reaches that
point (for that unit). ``MMCURATE_FAULT_MARKER`` names a file created just before the kill so the
fault fires once per run, as a real crash would, and the retry or rerun can proceed. Unset, this is a
dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

__all__ = ["fault_point", "fault_env", "FAULT_ENV", "MARKER_ENV"]

FAULT_ENV = "MMCURATE_FAULT"
MARKER_ENV = "MMCURATE_FAULT_MARKER"


def fault_point(point: str, unit_id: str = "") -> None:
    """SIGKILL this process if the configured fault names ``point`` (and ``unit_id``)."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    name, _, unit = wanted.partition(":")
    if name != point or (unit and unit != unit_id):
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def fault_env() -> dict[str, str]:
    """The fault variables to forward to Ray workers (empty when no fault is configured)."""
    return {k: os.environ[k] for k in (FAULT_ENV, MARKER_ENV) if os.environ.get(k)}

