"""Text made inert for a terminal: control characters shown as escapes, never sent raw.

File names, captions and error strings in a dataset are attacker-chosen. Printed raw, an OSC sequence
(``ESC ] 0;title BEL``) sets the window title and a CSI sequence (``ESC [ 2J``) clears the screen, and
bidi overrides reorder what is shown. Everything the CLI prints from data goes through :func:`inert`.
"""

from __future__ import annotations

import re

__all__ = ["inert"]

# C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate characters.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_NL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: object, *, keep_newlines: bool = False) -> str:
    """``str(text)`` with every control character written as ``\\xNN`` / ``\\uNNNN`` (newlines kept if asked)."""
    return (_CONTROL_KEEP_NL if keep_newlines else _CONTROL).sub(_escape, str(text))
