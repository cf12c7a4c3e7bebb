"""A crash sandbox for one decode: run a function in a child process under a wall-clock watchdog.

FFmpeg decoders can crash the process (PyAV #2344: a cut H.264 stream with no codec context segfaults,
reliability case V4) or hang on hostile input (V11). In the worker either would take the whole batch,
and on Ray the whole shard, down with it. So the decode of one video runs in a child process:

* a result or a :class:`Reject` raised in the child comes back pickled on a private pipe;
* no answer within ``timeout_s`` -> the child is killed -> ``Reject("decode_timeout")`` (not retried:
  a hang is a property of the input and a retry would only spend the deadline again);
* the child dies without answering (a signal such as SIGSEGV/SIGBUS, or an abort) -> retried once,
  since a crash can be the machine's fault (OOM killer); a second crash -> ``Reject("decoder_crash")``;
* ``MemoryError`` under ``max_memory_bytes`` (an ``RLIMIT_AS`` cap set in the child) -> ``too_large``;
* any other exception in the child is a bug, raised in the parent as :class:`SandboxError` so the
  runner's row-by-row retry records it as ``<stage>:exception``.

Why ``subprocess`` running a module (``python -m mmcurate.pipeline.video.sandbox_child``) rather than
``multiprocessing``: ``fork`` is unsafe in Ray's threaded workers, and ``spawn``/``forkserver`` re-import
the caller's ``__main__``, which breaks (or re-runs) any driver script without a ``__main__`` guard. A
plain child interpreter imports only what the pickled function needs. ``fn`` must pickle by reference;
the parent's ``sys.path`` is sent so the child can import whatever the parent could.

**The zygote.** A fresh interpreter per video costs ~0.3 s of CPU (start-up plus importing numpy, av
and PIL), about a fifth of decoding a 20 s 720p video. So each parent process keeps one long-lived
*zygote*: a child interpreter started lazily, the same way (``python -m ... --zygote``, so nothing of
the parent's ``__main__`` is imported), which imports the heavy modules once (numpy, av, PIL.Image and
the module of each requested function) and then serves requests one at a time by ``os.fork()``-ing a
*grandchild* per decode. Fork is safe there although it is not in the parent: the zygote is
single-threaded (started with ``OPENBLAS_NUM_THREADS=1``/``OMP_NUM_THREADS=1``; it only imports
modules and waits on its socket, and it checks ``/proc/self/task`` after every import, refusing to
fork, and exiting, if anything started a thread). Each decode still runs in its own process, so the
isolation is unchanged: the grandchild applies the memory cap, takes the parent's environment and
working directory, runs ``fn(*args)`` and writes its answer, and a crash or a hang kills only it.

Wiring: a Unix ``SOCK_SEQPACKET`` pair between parent and zygote. Per request the parent makes three
pipes and passes their child ends with ``socket.send_fds`` (request in, answer out, stderr out), so the
request and the answer go straight between parent and grandchild and never through the zygote. The
zygote replies with the grandchild's pid right after the fork and with its exit status when it ends;
the parent keeps the watchdog (on timeout it ``SIGKILL``\\ s that pid, which the zygote has not yet
reaped, so it cannot have been reused). Requests from several threads are serialized by a lock. The
zygote exits when its socket closes (the parent is gone). A zygote that dies is restarted on the next
call (a request it loses in flight counts as a crash); if starting one fails, or the zygote cannot
import ``fn``'s module, the call falls back to one fresh interpreter per call, as before.
``MMCURATE_SANDBOX_ZYGOTE=0`` forces that fallback.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video.sandbox_child import CHILD_MODULE
from mmcurate.pipeline.video.sandbox_zygote import Outcome, use_zygote, zygote_attempt, zygote_pid

__all__ = ["SandboxError", "run_sandboxed", "zygote_pid"]

T = TypeVar("T")

# Bytes of the child's stderr (FFmpeg's own log) kept in a crash report.
_STDERR_TAIL = 600


class SandboxError(RuntimeError):
    """The sandboxed function raised an unexpected exception (a bug, not bad data)."""


def _describe_exit(code: int | None, stderr: bytes) -> str:
    if code is None:
        what = "lost: the sandbox zygote died during the decode"
    elif code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"exited with code {code} without a result"
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", "replace").strip()
    return f"{what}; stderr: {tail}" if tail else what


def _attempt(payload: bytes, timeout_s: float) -> Outcome:
    """One fresh child interpreter (the fallback path): ``(outcome, message, returncode, stderr)``."""
    # fd 3 in the child carries the answer, so stray prints on stdout can never corrupt it.
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE, str(write_fd)],
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
    """Run ``fn(*args)`` in a child process and return its result.

    Raises :class:`Reject` with ``decode_timeout``, ``decoder_crash`` (after ``1 + crash_retries``
    crashes), ``too_large`` (MemoryError under ``max_memory_bytes``, an address-space cap) or whatever
    ``Reject`` ``fn`` raised; :class:`SandboxError` for any other exception in ``fn``.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    payload = pickle.dumps(list(sys.path)) + pickle.dumps((fn, args, max_memory_bytes))
    module = getattr(fn, "__module__", None)
    module = module if isinstance(module, str) and module != "__main__" else None
    zygote = use_zygote(module)
    crashes: list[str] = []
    for _ in range(1 + max(0, crash_retries)):
        result = zygote_attempt(payload, module, timeout_s) if zygote else None
        if result is None:
            zygote = False  # declined or unavailable: the retry goes the same way
            result = _attempt(payload, timeout_s)
        outcome, message, code, stderr = result
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
