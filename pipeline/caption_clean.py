"""Caption normalisation and validation, as a stage.

Web alt text arrives with HTML tags and entities, control characters, bidi overrides and zero-width
junk; some of it is empty, some is a megabyte. The order matters, and is fixed:

1. HTML entities are unescaped exactly **once**, then a real HTML parser removes element tags
   (:mod:`.html_text`). Stripping first and unescaping after turned ``&lt;image&gt;`` into a live
   ``<image>`` placeholder, and a regex turned ``a cat < 3 kg and > 1 kg`` into ``a cat 1 kg``.
2. NFC, invisible and control characters dropped, whitespace collapsed.
3. Special tokens of the target tokenizer and the export placeholders are neutralised
   (:mod:`.text_safety`) *last*, after every step that could join two harmless pieces into one token
   (``<|endo<b></b>ftext|>``, a zero-width space inside ``<ima\u200bge>``). They are also neutralised
   before the parser, so an HTML-named placeholder (``<video>``) is counted rather than dropped as a tag.

The count goes to the flags (``special_tokens_neutralised:<n>``); ``on_special_token: reject`` rejects
the sample instead (``caption_special_token``, with the count and the first tokens). Empty or overlong
captions are rejected with a reason; the length limit is checked on the raw text first, so a 1 MB
caption never reaches the parser.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar

from mmcurate.pipeline.html_text import strip_tags
from mmcurate.pipeline.params import ParamError, param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.pipeline.text_safety import TokenGuard, neutralise, token_guard
from mmcurate.schemas import sample as S

__all__ = ["CaptionClean", "clean_caption", "safe_caption", "NEUTRALISED_FLAG"]

NEUTRALISED_FLAG = "special_tokens_neutralised"
_SPACE = re.compile(r"\s+")
# Bidi embeddings/overrides/isolates and zero-width characters: invisible, and a known spoofing vector.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD], None
)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r" else " " for ch in text)
    return _SPACE.sub(" ", text).strip()


def clean_caption(text: str, strip_html: bool = True) -> str:
    """Normalised caption text (may be empty); special tokens are left to :func:`safe_caption`."""
    return _normalise(strip_tags(html.unescape(text)) if strip_html else text)


def safe_caption(text: str, strip_html: bool = True, guard: TokenGuard | None = None) -> tuple[str, int, list[str]]:
    """(clean caption, tokens neutralised, the first few of them): :func:`clean_caption` plus :mod:`.text_safety`."""
    first = 0
    found: list[str] = []
    if strip_html:  # before the parser too: an HTML-named placeholder (<video>) is counted, not dropped
        text, first, found = neutralise(html.unescape(text), guard)
        text = strip_tags(text)
    text, second, more = neutralise(_normalise(text), guard)
    return text, first + second, (found + more)[:5]


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
    tokenizer_json: str | None = param(
        None, doc="local tokenizer.json of the target model: its special tokens are neutralised in captions "
        "(the export placeholders <image>/<video>/<audio> and <|...|> always are)")
    on_special_token: str = param("neutralise", doc="a caption holding special tokens or placeholders: "
                                  "neutralise them (counted in flags) or reject the sample",
                                  choices=("neutralise", "reject"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tokenizer_json is not None and not os.path.exists(self.tokenizer_json):
            raise ParamError("tokenizer_json", f"no tokenizer.json at {self.tokenizer_json} (nothing is downloaded)")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        raw = row[S.CAPTION]
        if raw is None or not raw.strip():
            if self.require:
                raise Reject("caption_empty", "no caption")
            return {S.CAPTION: None}
        if len(raw) > 4 * self.max_chars:  # cheap guard before any parsing of huge inputs
            raise Reject("caption_too_long", f"{len(raw)} chars > {self.max_chars}")
        text, n_tokens, found = safe_caption(raw, self.strip_html, token_guard(self.tokenizer_json))
        if n_tokens and self.on_special_token == "reject":
            raise Reject("caption_special_token", f"{n_tokens} special tokens/placeholders, first {found[:3]}")
        if len(text) < self.min_chars:
            if self.require:
                raise Reject("caption_empty", "empty after cleaning")
            return {S.CAPTION: None}
        if len(text) > self.max_chars:
            raise Reject("caption_too_long", f"{len(text)} chars > {self.max_chars}")
        flags = list(row[S.FLAGS] or [])
        if text != raw and "caption_normalized" not in flags:
            flags.append("caption_normalized")
        if n_tokens:
            flags.append(f"{NEUTRALISED_FLAG}:{n_tokens}")
        return {S.CAPTION: text, S.FLAGS: flags}
