"""Caption normalisation and validation, as a stage.

Web alt text arrives with HTML tags and entities, control characters, bidi overrides and zero-width
junk; some of it is empty, some is a megabyte. We normalise to NFC, strip markup, drop invisible and
control characters, collapse whitespace, and reject empty or overlong captions with a reason. The
length limit is checked on the raw text first, so a 1 MB caption never reaches the regex engine.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar

from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S

__all__ = ["CaptionClean", "clean_caption"]

_TAG = re.compile(r"<[^>]{0,2000}>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
# Bidi embeddings/overrides/isolates and zero-width characters: invisible, and a known spoofing vector.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD], None
)


def clean_caption(text: str, strip_html: bool = True) -> str:
    """Normalised caption text (may be empty)."""
    if strip_html:
        text = _SCRIPT.sub(" ", text)
        text = _TAG.sub(" ", text)
        text = html.unescape(text)
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r" else " " for ch in text)
    return _SPACE.sub(" ", text).strip()


@dataclass(kw_only=True)
class CaptionClean(RowStage):
    """``require`` rejects samples without a usable caption (``caption_empty``)."""

    name: ClassVar[str] = "caption_clean_v1"
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION, S.FLAGS)
    row_columns: ClassVar[tuple[str, ...] | None] = (S.CAPTION, S.FLAGS)

    max_chars: int = param(4000, doc="longer captions are rejected caption_too_long", ge=1)
    min_chars: int = param(1, doc="shorter captions (after cleaning) are rejected", ge=0)
    require: bool = param(True, doc="a row without a caption is rejected caption_empty")
    strip_html: bool = param(True, doc="remove markup and unescape entities")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        raw = row[S.CAPTION]
        if raw is None or not raw.strip():
            if self.require:
                raise Reject("caption_empty", "no caption")
            return {S.CAPTION: None}
        if len(raw) > 4 * self.max_chars:  # cheap guard before any regex work on huge inputs
            raise Reject("caption_too_long", f"{len(raw)} chars > {self.max_chars}")
        text = clean_caption(raw, self.strip_html)
        if len(text) < self.min_chars:
            if self.require:
                raise Reject("caption_empty", "empty after cleaning")
            return {S.CAPTION: None}
        if len(text) > self.max_chars:
            raise Reject("caption_too_long", f"{len(text)} chars > {self.max_chars}")
        flags = list(row[S.FLAGS] or [])
        if text != raw and "caption_normalized" not in flags:
            flags.append("caption_normalized")
        return {S.CAPTION: text, S.FLAGS: flags}
