"""Before a job writes anything: is the output ours to write, apart from its inputs, and free of other writers?

Three checks, each refused with one line before any work starts (the CLI maps them to exit 2; they are
:class:`~mmcurate.pipeline.output_state.OutputMismatch` subclasses for that reason):

* :func:`check_output_location`: the output must not equal, contain or lie inside an input (the next
  run would read its own output as input, or a folder reader would pick up shards as images).
* :func:`check_output_owned`: an existing, non-empty folder without ``job.json`` is not an mmcurate
  output; mmcurate neither writes into it nor, with ``--overwrite``, deletes anything in it (it deleted
  a user's ``*.tmp-*`` files and ``parquet/*.parquet`` before).
* :func:`output_lock`: an advisory ``fcntl`` lock on ``<output>/.mmcurate.lock`` held for the run's
  lifetime, so a second concurrent writer (with or without ``--overwrite``) is refused instead of
  leaving one manifest over the other's samples. The kernel drops the lock when the process dies, so a
  SIGKILLed run never leaves a stale lock; the file itself stays, emptied when the run ends (deleting a
lock file races: a third job could lock a new file while a second holds the unlinked one). On an
  object store the conditional-write lease of :mod:`mmcurate.pipeline.sinks.lease` plays the same part.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator, Sequence

from mmcurate.pipeline import fs

JOB_FILE = "job.json"


class OutputMismatch(RuntimeError):
    """The output folder holds results of a different config or input plan."""


__all__ = ["LOCK_FILE", "OutputRefused", "OutputBusy", "check_output_location", "check_output_owned",
           "output_lock"]

LOCK_FILE = ".mmcurate.lock"


class OutputRefused(OutputMismatch):
    """The output location overlaps an input, or is a folder mmcurate did not create."""


class OutputBusy(OutputMismatch):
    """Another live job holds the output's lock."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_output_location(out: str, inputs: Sequence[str]) -> None:
    """Refuse an output equal to, inside, or containing an input (local paths, symlinks resolved)."""
    if fs.is_remote(out):
        for source in inputs:
            if fs.is_remote(source) and (_inside(out, source.rstrip("/")) or _inside(source, out.rstrip("/"))):
                raise OutputRefused(f"output {out} overlaps input {source}; choose an output outside every input")
        return
    real_out = os.path.realpath(out)
    for source in inputs:
        if fs.is_remote(source):
            continue
        real_in = os.path.realpath(source)
        if real_out == real_in or (os.path.isdir(real_in) and _inside(real_out, real_in)):
            raise OutputRefused(f"output {out} is inside input {source}: the next run would read its own output; "
                                f"choose an output outside every input")
        if _inside(real_in, real_out):
            raise OutputRefused(f"input {source} is inside output {out}; choose an output outside every input")


def check_output_owned(out: str) -> None:
    """Refuse an existing non-empty local folder that holds no ``job.json`` (not an mmcurate output)."""
    if fs.is_remote(out):
        from mmcurate.pipeline.sinks.lease import LEASE_FILE

        others = [f for f in fs.list_files(out, recursive=False) if not f.endswith("/" + LEASE_FILE)]
        if not fs.exists(fs.join(out, JOB_FILE)) and others:
            raise OutputRefused(f"{out} holds files but no {JOB_FILE}: not an mmcurate output; "
                                f"use a new or empty location (nothing there is written or deleted)")
        return
    if not os.path.isdir(out):
        if os.path.exists(out):
            raise OutputRefused(f"output {out} exists and is not a folder")
        return
    if os.path.exists(os.path.join(out, JOB_FILE)):
        return
    entries = sorted(set(os.listdir(out)) - {LOCK_FILE})
    if entries:
        raise OutputRefused(f"{out} is not an mmcurate output (no {JOB_FILE}) and holds {len(entries)} entries "
                            f"(first {entries[0]!r}); use a new or empty folder: mmcurate writes and deletes only "
                            f"its own files (--overwrite included)")


@contextlib.contextmanager
def _local_lock(out: str) -> Iterator[None]:
    import fcntl

    os.makedirs(out, exist_ok=True)
    fd = os.open(os.path.join(out, LOCK_FILE), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            raise OutputBusy(f"{out} is being written by another mmcurate job ({holder}); wait for it to finish "
                             f"or use another output") from None
        body = json.dumps({"host": socket.gethostname(), "pid": os.getpid()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, body, 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # a finished output holds an empty lock file: byte-identical across runs
    finally:
        os.close(fd)  # closing drops the flock


_HELD: dict[str, int] = {}  # locations this process holds, with nesting depth
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def output_lock(out: str) -> Iterator[None]:
    """Hold the output exclusively while the block runs; :class:`OutputBusy` if another job holds it.

    Re-entrant within one process, so a job layer can hold the output across all its steps while
    ``run_pipeline`` (which takes it too) runs inside; another process is always refused."""
    key = out.rstrip("/") if fs.is_remote(out) else os.path.realpath(out)
    with _HELD_GUARD:
        nested = key in _HELD
        if nested:
            _HELD[key] += 1
    if nested:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    with _held(key, out):
        yield


@contextlib.contextmanager
def _held(key: str, out: str) -> Iterator[None]:
    with _acquire(out):
        with _HELD_GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _HELD_GUARD:
                del _HELD[key]


@contextlib.contextmanager
def _acquire(out: str) -> Iterator[None]:
    if not fs.is_remote(out):
        with _local_lock(out):
            yield
        return
    from mmcurate.pipeline.sinks.lease import LeaseHeld, OutputLease

    try:
        lease = OutputLease(out).acquire()
    except LeaseHeld as exc:
        raise OutputBusy(str(exc)) from None
    try:
        yield
    finally:
        lease.release()
