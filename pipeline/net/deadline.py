"""A wall-clock budget per fetch, enforced by one watchdog thread that aborts the live socket.

Socket timeouts bound each *silent* wait, not the whole exchange: a server that drips one byte per
second (in the headers or the body) never trips a 10 s read timeout and would hold a worker for
hours. The requests docs say as much ("timeout is not a time limit on the entire response
download"). datatrove bounds the body with a streaming deadline; that still misses slow headers.
Here each fetch gets a :class:`Deadline`; while a connection is open the fetcher binds an abort
callback (``socket.shutdown``) to it, and a single per-process daemon thread fires the callbacks
whose time has come. A blocked ``recv`` then returns at once, whichever phase it was in.

One thread serves all fetches (a ``threading.Timer`` per request would cost a thread each). It is
started lazily on first use and restarted after a fork, so importing this module starts nothing.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable

__all__ = ["Deadline", "watch"]


class Deadline:
    """A fetch's time budget. ``expired`` turns true when the watchdog has fired it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._abort: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def bind(self, abort: Callable[[], None]) -> None:
        """Call ``abort`` when the budget runs out (at once if it already has)."""
        with self._lock:
            self._abort = abort
            fire = self.expired
        if fire:
            abort()

    def unbind(self) -> None:
        with self._lock:
            self._abort = None

    def cancel(self) -> None:
        """The fetch is over; the watchdog will drop this deadline when it comes up."""
        with self._lock:
            self.done = True
            self._abort = None

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            abort = self._abort
        if abort is not None:
            try:
                abort()
            except OSError:
                pass  # the socket closed on its own meanwhile


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        thread = threading.Thread(target=self._run, name="mmcurate-fetch-watchdog", daemon=True)
        thread.start()

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._heap[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            deadline.fire()


_lock = threading.Lock()
_watchdog: _Watchdog | None = None
_pid = -1


def watch(seconds: float) -> Deadline:
    """A new deadline ``seconds`` from now, armed with the process's watchdog."""
    global _watchdog, _pid
    with _lock:
        if _watchdog is None or _pid != os.getpid():
            _watchdog, _pid = _Watchdog(), os.getpid()
        dog = _watchdog
    deadline = Deadline(seconds)
    dog.add(deadline)
    return deadline
