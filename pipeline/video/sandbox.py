"""A crash sandbox for one decode: run a function in a child interpreter under a wall-clock watchdog.

FFmpeg decoders can crash the process (PyAV #2344: a cut H.264 stream with no codec context segfaults,
reliability case V4) or hang on hostile input (V11). In the worker either would take the whole batch,
and on Ray the whole shard, down with it. So the decode of one video runs in a child process:

* a result or a :class:`Reject` raised in the child comes back pickled on a private pipe;
* no answer within ``timeout_s`` -> the child is killed -> ``Reject("decode_timeout")`` (not retried:
  a hang is a property of the input and a retry would only spend the deadline again);
* the child dies without answering (a signal such as SIGSEGV/SIGBUS, or an abort) -> retried once,
  since a crash can be the machine's fault (OOM killer); a second crash -> ``Reject("decoder_crash")``;
* any other exception in the child is a bug, raised in the parent as :class:`SandboxError` so the
  runner's row-by-row retry records it as ``<stage>:exception``.

Why ``subprocess`` running this module (``python -m mmcurate.pipeline.video.sandbox``) rather than
``multiprocessing``: ``fork`` is unsafe in Ray's threaded workers, and ``spawn``/``forkserver`` re-import
the caller's ``__main__``, which breaks (or re-runs) any driver script without a ``__main__`` guard. A
plain child interpreter imports only what the pickled function needs. Start-up costs ~0.2-0.4 s per
video (measured in the tests' timing note), small next to decoding a real one. This is isolation, not
scheduling: one child per call, Ray stays the engine. ``fn`` must pickle by reference; the parent's
``sys.path`` is sent first so the child can import whatever the parent could.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from mmcurate.pipeline.reject import Reject

__all__ = ["SandboxError", "run_sandboxed"]

T = TypeVar("T")

# Bytes of the child's stderr (FFmpeg's own log) kept in a crash report.
_STDERR_TAIL = 600


class SandboxError(RuntimeError):
    """The sandboxed function raised an unexpected exception (a bug, not bad data)."""


def _describe_exit(code: int | None, stderr: bytes) -> str:
    if code is not None and code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"exited with code {code} without a result"
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", "replace").strip()
    return f"{what}; stderr: {tail}" if tail else what


def _attempt(payload: bytes, timeout_s: float) -> tuple[str, Any, int | None, bytes]:
    """One child run: ``(outcome, message, returncode, stderr)``, outcome in answer/timeout/died."""
    # fd 3 in the child carries the answer, so stray prints on stdout can never corrupt it.
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmcurate.pipeline.video.sandbox", str(write_fd)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_fd,),
    )
    os.close(write_fd)
    answer = b""
    try:
        with os.fdopen(read_fd, "rb") as reader:
            def drain() -> None:
                nonlocal answer
                answer = reader.read()

            # The answer pipe is read on a thread while communicate() feeds stdin and reads stderr, so
            # neither side can block the other on a full pipe, whatever the sizes.
            thread = threading.Thread(target=drain, daemon=True)
            thread.start()
            try:
                _, stderr = proc.communicate(payload, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, stderr = proc.communicate()
                thread.join()
                return "timeout", None, None, stderr
            thread.join()
    finally:
        if proc.poll() is None:  # never leave a child behind, whatever happened above
            proc.kill()
            proc.wait()
    if not answer:
        return "died", None, proc.returncode, stderr
    return "answer", pickle.loads(answer), proc.returncode, stderr


def run_sandboxed(
    fn: Callable[..., T],
    *args: Any,
    timeout_s: float = 120.0,
    crash_retries: int = 1,
    max_memory_bytes: int | None = None,
) -> T:
    """Run ``fn(*args)`` in a child interpreter and return its result.

    Raises :class:`Reject` with ``decode_timeout``, ``decoder_crash`` (after ``1 + crash_retries``
    crashes), ``too_large`` (MemoryError under ``max_memory_bytes``, an address-space cap) or whatever
    ``Reject`` ``fn`` raised; :class:`SandboxError` for any other exception in ``fn``.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    payload = pickle.dumps(list(sys.path)) + pickle.dumps((fn, args, max_memory_bytes))
    crashes: list[str] = []
    for _ in range(1 + max(0, crash_retries)):
        outcome, message, code, stderr = _attempt(payload, timeout_s)
        if outcome == "timeout":
            raise Reject("decode_timeout", f"no result after {timeout_s:g} s; child killed")
        if outcome == "died":
            crashes.append(_describe_exit(code, stderr))
            continue
        kind = message[0]
        if kind == "ok":
            return message[1]
        if kind == "reject":
            raise Reject(message[1], message[2])
        raise SandboxError(f"{message[1]}\n--- in the sandbox ---\n{message[2]}")
    raise Reject("decoder_crash", f"{len(crashes)} attempts: " + " | ".join(crashes))


def _child_main(answer_fd: int) -> None:
    """The child: read sys.path, then (fn, args, cap) from stdin; write one pickled answer to fd."""
    stdin = sys.stdin.buffer
    sys.path[:0] = [p for p in pickle.load(stdin) if p not in sys.path]
    try:
        fn, args, max_memory_bytes = pickle.load(stdin)
        if max_memory_bytes is not None:
            # A decoder that tries to allocate a declared 16384^2 frame fails with MemoryError here
            # instead of pushing the node into swap or the OOM killer.
            resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))
        message: tuple[Any, ...] = ("ok", fn(*args))
    except Reject as rej:
        message = ("reject", rej.reason, rej.detail)
    except MemoryError as exc:
        message = ("reject", "too_large", f"MemoryError under the sandbox memory cap: {exc}")
    except BaseException as exc:  # noqa: BLE001 - everything else goes to the parent as a bug
        message = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(answer_fd, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
