"""The parent's side of the sandbox zygote: start it, hand it one request, watch the decode it forks.

See :mod:`.sandbox` for why a zygote and why forking there is safe; :mod:`.sandbox_child` is the other
end. One zygote per parent process, started lazily, restarted once if it dies, and given up for
good (one fresh interpreter per call instead) if it cannot start.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from mmcurate.pipeline.video.sandbox_child import CHILD_MODULE, MSG_MAX

__all__ = ["Outcome", "use_zygote", "zygote_attempt", "zygote_pid"]

_ZYGOTE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_ZYGOTE_START_S = 60.0  # start-up and the preload imports
_ZYGOTE_REPLY_S = 30.0  # the zygote's pid reply, or its exit report after a kill
_STDERR_KEEP = 1 << 16  # stderr bytes a zygote request keeps (the tail)

Outcome = tuple[str, Any, "int | None", bytes]  # (answer/timeout/died, message, exit code, stderr)





class _Unavailable(Exception):
    """The zygote did not take the request; nothing of ``fn`` ran. ``declined``: it is alive but
    will not run this function (its module failed to import there), so use a fresh interpreter."""

    def __init__(self, why: str, *, declined: bool = False, unsafe: bool = False) -> None:
        super().__init__(why)
        self.declined = declined
        self.unsafe = unsafe  # importing the function's module started a thread in the zygote


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Zygote:
    """The parent's handle on its zygote process."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.broken = False
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, "--zygote", str(child.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(child.fileno(),), env={**os.environ, **_ZYGOTE_ENV},
            )
        except BaseException:
            self.sock.close()
            raise
        finally:
            child.close()
        try:
            self.sock.send(pickle.dumps(("init", list(sys.path))))
            reply = self._recv(_ZYGOTE_START_S)
            if reply[0] != "ready":
                raise _Unavailable(f"zygote did not start: {reply!r}")
        except BaseException:
            self.close()
            raise
        self.pid = self.proc.pid

    def _recv(self, timeout_s: float) -> tuple[Any, ...]:
        """One message from the zygote; ``EOFError`` if it is gone, ``TimeoutError`` if it is silent."""
        self.sock.settimeout(max(timeout_s, 0.001))
        data = self.sock.recv(MSG_MAX)
        if not data:
            raise EOFError("sandbox zygote closed its socket")
        return pickle.loads(data)

    def close(self) -> None:
        """Stop the zygote: EOF on its socket ends it; kill it if it does not go at once."""
        self.sock.close()
        if os.getpid() != self.owner:
            return  # inherited over a fork: the process is not ours to wait for
        try:
            self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def attempt(self, payload: bytes, module: str | None, timeout_s: float) -> Outcome:
        """Run one request in a forked grandchild; raises :class:`_Unavailable` before any fork."""
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        err_r, err_w = os.pipe()
        mine = [req_w, ans_r, err_r]  # the parent's ends, closed here whatever happens
        try:
            try:
                socket.send_fds(self.sock, [pickle.dumps(("run", module, list(sys.path)))],
                                [req_r, ans_w, err_w])
            except OSError as exc:
                raise _Unavailable(f"zygote unreachable: {exc}") from exc
            finally:
                for fd in (req_r, ans_w, err_w):
                    os.close(fd)
            try:
                reply = self._recv(_ZYGOTE_REPLY_S)
            except (OSError, EOFError) as exc:
                raise _Unavailable(f"zygote did not answer: {exc!r}") from exc
            if reply[0] == "skip":
                raise _Unavailable(str(reply[1]), declined=True)
            if reply[0] == "unsafe":
                raise _Unavailable(f"zygote refused: {reply!r}", unsafe=True)
            if reply[0] != "pid":
                raise _Unavailable(f"zygote refused: {reply!r}")
            mine.remove(req_w)  # the feeder thread owns it now
            return self._exchange(int(reply[1]), payload, timeout_s, req_w, ans_r, err_r)
        finally:
            for fd in mine:
                _close_fd(fd)

    def _exchange(self, gpid: int, payload: bytes, timeout_s: float, req_w: int, ans_r: int,
                  err_r: int) -> Outcome:
        def feed() -> None:
            # Context first (the parent's environment and working directory), then the request as
            # the fallback child would read it on stdin.
            try:
                view = memoryview(pickle.dumps((dict(os.environ), os.getcwd())) + payload)
                while view:
                    view = view[os.write(req_w, view[: 1 << 20]):]
            except OSError:  # the grandchild died before reading it all
                pass
            finally:
                os.close(req_w)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        deadline = time.monotonic() + timeout_s
        answer, err = bytearray(), bytearray()
        bufs = {ans_r: answer, err_r: err}
        code: int | None = None
        reported = gone = timed_out = False
        grace_end = float("inf")
        while bufs:
            now = time.monotonic()
            if now >= min(deadline, grace_end):
                # Past the deadline with the grandchild still running: the watchdog. (Past the grace
                # after its exit report: something it started holds the pipes; stop reading.)
                timed_out = not reported
                break
            if gone:
                break
            watch: list[Any] = list(bufs)
            if not (reported or gone):
                watch.append(self.sock)
            ready, _, _ = select.select(watch, [], [], min(deadline, grace_end) - now)
            for src in ready:
                if src is self.sock:
                    try:
                        msg = self._recv(_ZYGOTE_REPLY_S)
                    except (OSError, EOFError):
                        msg = ("gone",)
                    if msg[0] != "exit":
                        gone = True  # the zygote died (or went wrong) while the grandchild runs
                        break
                    reported, code, grace_end = True, msg[1], time.monotonic() + 2.0
                    continue
                chunk = os.read(src, 1 << 20)
                if not chunk:
                    del bufs[src]
                    continue
                bufs[src] += chunk
                if src == err_r and len(err) > 2 * _STDERR_KEEP:
                    del err[:-_STDERR_KEEP]
        if timed_out:
            _kill(gpid)  # not yet reaped by the zygote (no exit report), so still this grandchild
        if not (reported or gone):
            # The exit report: at once if the grandchild is over (its pipes closed) or was just
            # killed; if it closed its pipes but runs on, it gets until the deadline, then the kill.
            wait = _ZYGOTE_REPLY_S if timed_out else max(deadline - time.monotonic(), 1.0)
            for _ in range(2):
                try:
                    msg = self._recv(wait)
                except TimeoutError:
                    _kill(gpid)
                    wait = _ZYGOTE_REPLY_S
                    continue
                except (OSError, EOFError):
                    msg = ("gone",)
                if msg[0] == "exit":
                    code = msg[1]
                else:
                    gone = True
                break
            else:
                gone = True
        if gone:
            self.broken = True
            code = None
            if ans_r in bufs:  # no whole answer: an orphaned grandchild must not run on unwatched
                _kill(gpid)
                answer.clear()
        feeder.join(5.0)
        stderr = bytes(err[-_STDERR_KEEP:])
        if timed_out:
            return "timeout", None, None, stderr
        if not answer:
            return "died", None, code, stderr
        return "answer", pickle.loads(bytes(answer)), code, stderr


_lock = threading.Lock()
_zygote: _Zygote | None = None
_start_failed = False  # a zygote failed to start in this process: always use the fallback
_unsafe_modules: set[str] = set()  # importing these started a thread in the zygote


def zygote_attempt(payload: bytes, module: str | None, timeout_s: float) -> Outcome | None:
    """One attempt through the zygote, or ``None``: run this call in a fresh interpreter instead."""
    global _zygote, _start_failed
    with _lock:
        for _ in range(2):  # a dead zygote is restarted once per attempt
            if _zygote is not None and (_zygote.owner != os.getpid() or _zygote.proc.poll() is not None):
                _zygote.close()  # inherited over a fork, or exited since the last call
                _zygote = None
            if _zygote is None:
                if _start_failed:
                    return None
                try:
                    _zygote = _Zygote()
                except Exception:  # noqa: BLE001 - any start failure means the fallback path
                    _start_failed = True
                    return None
            zygote = _zygote
            try:
                result = zygote.attempt(payload, module, timeout_s)
            except _Unavailable as exc:
                if exc.declined:
                    return None
                if exc.unsafe and module is not None:
                    _unsafe_modules.add(module)
                zygote.broken = True
                result = None
            if zygote.broken:
                zygote.close()
                _zygote = None
            if result is not None:
                return result
            if module in _unsafe_modules:
                return None
        return None


def zygote_pid() -> int | None:
    """This process's live zygote, if any (benchmarks read its CPU, which includes reaped decodes)."""
    z = _zygote
    return z.pid if z is not None and z.proc.poll() is None else None


@atexit.register
def _stop_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


def use_zygote(module: str | None) -> bool:
    return os.environ.get("MMCURATE_SANDBOX_ZYGOTE", "1") != "0" and module not in _unsafe_modules
