"""Table values to sample fields without silent type changes.

A caption must be text: a number, struct or NaN in a caption column is a reject (``caption_type``)
rather than a Python repr; a list of strings is joined when the reader says how (``caption_join``).
Text that cannot be written as UTF-8 (a lone surrogate from a JSON ``"\\ud800"``) is rejected, never
passed on to a writer. Extra columns go to ``meta_json``; binary values there are dropped with a note
(``{"$binary_dropped": <bytes>}`` and the flag ``meta_binary_dropped``), never written as a bytes repr.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from typing import Any

from mmcurate.pipeline.identity import decode_caption_bytes
from mmcurate.pipeline.readers.base import unencodable

__all__ = ["ValueReject", "caption_text", "url_text", "meta_json"]


class ValueReject(ValueError):
    """A value that cannot become its field; ``code`` is the reject reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def caption_text(value: Any, join: str | None) -> tuple[str | None, str | None]:
    """(caption, flag) from a caption cell; raise :class:`ValueReject` for anything that is not text."""
    flag = None
    if value is None:
        return None, None
    if isinstance(value, (bytes, bytearray)):
        try:
            value, flag = decode_caption_bytes(bytes(value))
        except UnicodeDecodeError as exc:
            raise ValueReject("caption_encoding", str(exc)) from None
    elif isinstance(value, list) and join is not None and all(isinstance(v, str) for v in value):
        value, flag = join.join(value), "caption_joined"
    if not isinstance(value, str):
        hint = "; set caption_join to join a list of strings" if isinstance(value, list) else ""
        kind = "NaN" if isinstance(value, float) and math.isnan(value) else type(value).__name__
        raise ValueReject("caption_type", f"caption is {kind} ({_short(value)}), expected text{hint}")
    bad = unencodable(value)
    if bad:
        raise ValueReject("caption_encoding", f"caption: {bad}")
    return value, flag


def url_text(value: Any) -> str | None:
    """A URL cell as text; a number or other non-string is a ``bad_url`` reject, not a str() guess."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueReject("bad_url", f"url is {type(value).__name__} ({_short(value)}), expected text")
    bad = unencodable(value)
    if bad:
        raise ValueReject("bad_url", f"url: {bad}")
    return value or None


def meta_json(extra: dict[str, Any]) -> tuple[str | None, bool]:
    """(JSON text of the extra columns, whether binary values were dropped); raise on unencodable text."""
    dropped = False

    def default(obj: Any) -> Any:
        nonlocal dropped
        if isinstance(obj, (bytes, bytearray, memoryview)):
            dropped = True
            return {"$binary_dropped": len(obj)}
        if isinstance(obj, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)):
            return str(obj)
        return repr(obj)[:200]

    if not extra:
        return None, False
    try:
        text = json.dumps(extra, sort_keys=True, default=default, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:  # keys of mixed types, a cycle
        raise ValueReject("bad_meta", f"extra columns: {str(exc)[:200]}") from None
    bad = unencodable(text)
    if bad:
        raise ValueReject("meta_encoding", f"extra columns: {bad}")
    return text, dropped
