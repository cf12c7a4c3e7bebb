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

Why ``subprocess`` running this module (``python -m mmcurate.pipeline.video.sandbox``) rather than
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

import atexit
import importlib
import os
import pickle
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from mmcurate.pipeline.reject import Reject

__all__ = ["SandboxError", "run_sandboxed"]

T = TypeVar("T")

# Bytes of the child's stderr (FFmpeg's own log) kept in a crash report.
_STDERR_TAIL = 600

_MODULE = "mmcurate.pipeline.video.sandbox"
# What the zygote imports before its first fork (plus the module of each requested function).
# numpy.ma and PIL's format plugins (``Image.preinit``) are otherwise imported lazily by the first
# decode, in every grandchild again (~20 ms a call, measured with a tiny video).
_PRELOAD = ("numpy", "numpy.ma", "av", "PIL.Image", "mmcurate.pipeline.reject")
_ZYGOTE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_ZYGOTE_START_S = 60.0  # start-up and the preload imports
_ZYGOTE_REPLY_S = 30.0  # the zygote's pid reply, or its exit report after a kill
_MSG_MAX = 1 << 20  # one control message (a small pickle, at most sys.path)
_STDERR_KEEP = 1 << 16  # stderr bytes a zygote request keeps (the tail)

Outcome = tuple[str, Any, "int | None", bytes]  # (answer/timeout/died, message, exit code, stderr)


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
        [sys.executable, "-m", _MODULE, str(write_fd)],
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


# --- the zygote, parent side ----------------------------------------------------------------------


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
                [sys.executable, "-m", _MODULE, "--zygote", str(child.fileno())],
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
        data = self.sock.recv(_MSG_MAX)
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


def _zygote_attempt(payload: bytes, module: str | None, timeout_s: float) -> Outcome | None:
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


@atexit.register
def _stop_zygote() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


def _use_zygote(module: str | None) -> bool:
    return os.environ.get("MMCURATE_SANDBOX_ZYGOTE", "1") != "0" and module not in _unsafe_modules


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
    zygote = _use_zygote(module)
    crashes: list[str] = []
    for _ in range(1 + max(0, crash_retries)):
        result = _zygote_attempt(payload, module, timeout_s) if zygote else None
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


# --- the child side ---------------------------------------------------------------------------------


def _serve(request: BinaryIO, answer_fd: int) -> None:
    """Read sys.path, then (fn, args, cap) from ``request``; write one pickled answer to ``answer_fd``."""
    sys.path[:0] = [p for p in pickle.load(request) if p not in sys.path]
    try:
        fn, args, max_memory_bytes = pickle.load(request)
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


def _child_main(answer_fd: int) -> None:
    """The fallback child: the request on stdin, the answer on ``answer_fd``."""
    _serve(sys.stdin.buffer, answer_fd)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no procfs: trust the interpreter's own count
        return threading.active_count()


def _extend_path(paths: list[str]) -> None:
    sys.path[:0] = [p for p in paths if p not in sys.path]


def _grandchild(sock: socket.socket, req_r: int, ans_w: int, err_w: int) -> None:
    """One decode in a process forked from the zygote; never returns."""
    code = 0
    try:
        sock.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(err_w, 2)  # the decoder's log goes to this request's stderr pipe
        os.close(err_w)
        with os.fdopen(req_r, "rb") as request:
            env, cwd = pickle.load(request)
            os.environ.clear()
            os.environ.update(env)
            try:
                os.chdir(cwd)
            except OSError:
                pass
            _serve(request, ans_w)
    except BaseException:  # noqa: BLE001 - a failure here is reported as a death with its traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)


def _zygote_main(sock_fd: int) -> None:
    """The zygote: preload, then per request fork a grandchild, report its pid and its exit status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's; the zygote ends on EOF
    sock = socket.socket(fileno=sock_fd)
    first = sock.recv(_MSG_MAX)
    if not first:
        return
    _extend_path(pickle.loads(first)[1])
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional module; the grandchild imports what it really needs
    if (image := sys.modules.get("PIL.Image")) is not None:
        image.preinit()  # imports the common format plugins (pure Python, no threads)
    if (threads := _thread_count()) != 1:
        sock.send(pickle.dumps(("unsafe", f"{threads} threads after the preload")))
        return
    sock.send(pickle.dumps(("ready", os.getpid())))
    failed: dict[str, str] = {}  # module -> why it did not import here
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, _MSG_MAX, 3)
        except OSError:
            return
        if not data:
            return  # the parent is gone
        _, module, paths = pickle.loads(data)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            sock.send(pickle.dumps(("bad", f"{len(fds)} fds")))
            continue
        _extend_path(paths)
        if module is not None and module not in sys.modules and module not in failed:
            try:
                importlib.import_module(module)
            except BaseException as exc:  # noqa: BLE001 - the parent falls back to a fresh interpreter
                failed[module] = f"{type(exc).__name__}: {exc}"
                sys.modules.pop(module, None)
            if (threads := _thread_count()) != 1:  # fork would no longer be safe: stop serving
                sock.send(pickle.dumps(("unsafe", module, f"{threads} threads")))
                return
        if module in failed:
            for fd in fds:
                os.close(fd)
            sock.send(pickle.dumps(("skip", f"zygote cannot import {module}: {failed[module]}")))
            continue
        req_r, ans_w, err_w = fds
        pid = os.fork()
        if pid == 0:
            _grandchild(sock, req_r, ans_w, err_w)
        for fd in fds:
            os.close(fd)
        try:
            sock.send(pickle.dumps(("pid", pid)))
        except OSError:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        try:
            sock.send(pickle.dumps(("exit", os.waitstatus_to_exitcode(status))))
        except OSError:
            return


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        _zygote_main(int(sys.argv[2]))
    else:
        _child_main(int(sys.argv[1]))
