"""Raw page bytes to text: the declared charset honoured, size and nesting caps checked cheaply.

The charset comes from, in order, the HTTP ``Content-Type`` header, a ``<meta charset>`` (or
``http-equiv``) in the first 4 KiB, then resiliparse's detector; bytes that do not fit the declared
codec are replaced (U+FFFD) and the document is flagged, never dropped for one bad byte. An unknown
codec name falls back to detection, flagged too.

Deep nesting is checked before extraction because the extractor's tree walk degrades badly on very deep
DOMs (50,000 nested ``<div>`` did not finish in 60 s in our test; 20,000 took < 1 s). A regex pass
estimates the depth (opening minus closing non-void tags, prefix maximum); only a page whose estimate
passes the cap is rejected, so ordinary pages pay one C-level ``findall``.
"""

from __future__ import annotations

import codecs
import re

import numpy as np

__all__ = ["PageError", "decode_html", "declared_charset", "nesting_depth"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_VOID = "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr|p|li|dt|dd|option|tr|td|th"
# Matches only "<" or "</" (the tag name is a lookahead), so the joined matches are one short string that
# numpy turns into +1/-1 steps without a Python-level loop.
_TAG = re.compile(r"</?(?=(?!(?:" + _VOID + r")\b)[a-zA-Z])")


class PageError(Exception):
    """A page that cannot become a document; ``code`` is the reason code, ``detail`` the numbers."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def declared_charset(data: bytes, content_type: str | None) -> str | None:
    """The charset the server or the page declares, normalised to a Python codec name, or None."""
    candidates = []
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        if m:
            candidates.append(m.group(1))
    m = _META_CHARSET.search(data[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii", "replace"))
    for name in candidates:
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, list[str]]:
    """Page text and flags (``charset_detected``, ``charset_replaced``)."""
    flags: list[str] = []
    codec = declared_charset(data, content_type)
    if codec is None:
        from resiliparse.parse.encoding import detect_encoding

        codec = detect_encoding(data[:65536])
        flags.append("charset_detected")
        try:
            codecs.lookup(codec)
        except LookupError:
            codec = "utf-8"
    if codec.startswith("utf-8"):
        codec = "utf-8-sig"  # a BOM is not text
    text = data.decode(codec, errors="replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
        flags.append("charset_replaced")
    return text, flags


def nesting_depth(html: str, floor: int = 0) -> int:
    """Upper estimate of the element nesting depth (unclosed non-void tags count as open); 0 when the
    page has at most ``floor`` tags, which is then a proof that it is not deeper than ``floor``."""
    if html.count("<") <= floor:  # fewer tags than the cap cannot nest deeper than it: skip the scan
        return 0
    marks = np.frombuffer("".join(_TAG.findall(html)).encode("ascii"), dtype=np.uint8)
    if marks.size == 0:
        return 0
    steps = np.where(marks == ord("<"), 1, -2).astype(np.int32)  # "</" = +1 - 2 = -1
    return int(np.cumsum(steps).max())
