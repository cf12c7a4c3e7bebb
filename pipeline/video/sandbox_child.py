"""The child side of the decode sandbox: what runs in a fresh interpreter, in the zygote and in the
processes it forks. ``python -m mmcurate.pipeline.video.sandbox_child FD`` serves one request (the
fallback path); ``... --zygote FD`` runs the zygote. See :mod:`.sandbox` for the design.

Kept apart from the parent side so these processes import nothing but this module, ``Reject`` and
what the pickled function needs.
"""

from __future__ import annotations

import importlib
import os
import pickle
import resource
import signal
import socket
import sys
import threading
import traceback
from typing import Any, BinaryIO

from mmcurate.pipeline.reject import Reject

CHILD_MODULE = "mmcurate.pipeline.video.sandbox_child"
MSG_MAX = 1 << 20  # one control message (a small pickle, at most sys.path)
# What the zygote imports before its first fork (plus the module of each requested function).
# numpy.ma and PIL's format plugins (``Image.preinit``) are otherwise imported lazily by the first
# decode, in every grandchild again (~20 ms a call, measured with a tiny video).
_PRELOAD = ("numpy", "numpy.ma", "av", "PIL.Image", "mmcurate.pipeline.reject")

__all__ = ["CHILD_MODULE", "MSG_MAX", "serve_request"]




def serve_request(request: BinaryIO, answer_fd: int) -> None:
    """Read sys.path, then (fn, args, cap) from ``request``; write one pickled answer to ``answer_fd``."""
    _extend_path(pickle.load(request))
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
    serve_request(sys.stdin.buffer, answer_fd)


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
            serve_request(request, ans_w)
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
    first = sock.recv(MSG_MAX)
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
            data, fds, _, _ = socket.recv_fds(sock, MSG_MAX, 3)
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
