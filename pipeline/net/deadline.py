"""A wall-clock budget per fetch: every hop, retry and backoff sleep of one URL draws on it.

Socket timeouts bound each *silent* wait, not the whole exchange: a server that drips one byte per
second (in the headers or the body) never trips a 10 s read timeout and would hold a worker for
hours. The requests docs say as much ("timeout is not a time limit on the entire response
download"). Each exchange therefore hands what is left of the budget to libcurl as its
``CURLOPT_TIMEOUT_MS``, which covers connect, headers and body alike
(:mod:`mmcurate.pipeline.net.exchange`), and the retry loop never sleeps past it.
"""

from __future__ import annotations

import time

__all__ = ["Deadline"]


class Deadline:
    """A fetch's time budget, started when the object is made."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()
