"""``Reject``: an expected, recorded failure of one row.

Its own module, free of pyarrow, because the video decode sandbox imports it in a fresh child
interpreter per video: importing :mod:`mmcurate.pipeline.stage` there would add pyarrow's ~0.13 CPU-s
to every video. :mod:`mmcurate.pipeline.stage` re-exports it, so both import paths name one class.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Reject"]


class Reject(Exception):
    """An expected, recorded failure of one row: ``reason`` is a short snake_case code.

    ``values`` are column updates recorded with the reject: the measurements that decided it (an image's
    width and height when it is too small), so ``rejects/`` keeps the numbers and not only the reason.
    """

    def __init__(self, reason: str, detail: str = "", values: dict[str, Any] | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.values = dict(values or {})
