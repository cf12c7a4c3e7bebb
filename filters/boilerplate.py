"""Boilerplate captions: alt text that describes nothing (file names, URLs, stock-site phrases, placeholders).

Web alt text is often filled in by a CMS or a camera rather than a person: ``IMG_1234.JPG``,
``https://cdn.example.com/a.jpg``, "Stock Photo - Royalty Free", "image", "untitled-1". Such captions
pass length and word-count rules ("DSC_0042 stock photo royalty free image" has five words) and teach a
model nothing about the image.

The scorer removes every boilerplate span it recognises (recording which kinds it found) and counts the
*content words* left: words of two or more letters that are not function words. The rule drops a
caption whose boilerplate leaves fewer than ``min_content_words`` content words (default 1: nothing
but boilerplate); "Stock photo of a woman smiling" keeps "woman smiling" and passes unless
``drop_kinds`` names ``stock_phrase``. Captions with no boilerplate are never judged here (empty
captions belong to the length filter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.filter import Filter
from mmcurate.schemas import sample as S

__all__ = ["BoilerplateCaptionFilter", "KINDS", "find_boilerplate"]

NAME = "caption_boilerplate_v1"
FOUND, CONTENT = f"{NAME}_kinds", f"{NAME}_content_words"

_EXT = r"(?:jpe?g|png|gif|webp|bmp|tiff?|heic|avif|svg|jfif)"
_TLD = r"(?:com|net|org|io|co|de|uk|fr|ru|jp|cn|info|biz|us|me|ly)"
# Checked in this order; each pattern's matches are cut out before the next runs.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(rf"(?:https?://|ftp://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.{_TLD}(?:/\S*)?\b", re.I)),
    ("file_name", re.compile(rf"[\w\-.()~%+]+\.{_EXT}\b"
                             r"|\b(?:IMG|DSC[NF]?|DCIM|PXL|MVIMG|GOPR|GH0\d|PICT|IMAG|Screenshot|image|photo|pic)"
                             r"[ _-]?\d{3,}(?:[_-]\d+)*\b", re.I)),
    ("stock_phrase", re.compile(
        r"\b(?:stock\s+(?:photos?|images?|pictures?|vectors?|illustrations?|footage|video)|royalty[\s-]*free"
        r"|free\s+(?:stock|download)|(?:shutterstock|getty\s*images|istock(?:photo)?|alamy|dreamstime|123rf"
        r"|depositphotos|adobe\s+stock|bigstock|pond5|fotolia)(?:\.com)?|all\s+rights\s+reserved)\b", re.I)),
    ("placeholder", re.compile(
        r"^\W*(?:(?:an?\s+|the\s+)?(?:image|photo|picture|pic|img|thumbnail|thumb|untitled|placeholder|default"
        r"|no\s+image(?:\s+available)?|image\s+not\s+(?:found|available)|coming\s+soon|click\s+(?:here|to\s+enlarge)"
        r"|loading|logo|icon|banner|null|none|undefined|n/?a|alt|alt\s+text)(?:[\s_-]*\d+)?)\W*$", re.I)),
)
KINDS: tuple[str, ...] = tuple(k for k, _ in _PATTERNS)
# Function words (and the generic "image" nouns) do not make a caption descriptive on their own.
_STOP = frozenset(
    "a an the of in on at for to and or with by from is are was be this that it its as via my our your "
    "image images photo photos picture pictures pic img id view free download hd high resolution".split())
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def find_boilerplate(caption: str | None) -> tuple[list[str], int]:
    """(kinds of boilerplate found, in :data:`KINDS` order; content words left once it is removed)."""
    text, kinds = caption or "", []
    for kind, pattern in _PATTERNS:
        text, n = pattern.subn(" ", text)
        if n:
            kinds.append(kind)
    return kinds, sum(w.lower() not in _STOP for w in _WORD.findall(text))


@dataclass(kw_only=True)
class BoilerplateCaptionFilter(Filter):
    """Drop captions that are only boilerplate; ``drop_kinds`` drops some kinds wherever they appear."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(FOUND, pa.list_(pa.string()),
                 metadata={"doc": "boilerplate kinds found: url, file_name, stock_phrase, placeholder"}),
        pa.field(CONTENT, pa.int32(), metadata={"doc": "content words left once boilerplate is removed"}),
    )

    min_content_words: int = 1
    drop_kinds: tuple[str, ...] = ()  # e.g. ("stock_phrase",): drop even when content words remain

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.drop_kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown boilerplate kinds {sorted(unknown)}; expected some of {KINDS}")

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        found = [find_boilerplate(c) for c in batch.column(S.CAPTION).to_pylist()]
        return {FOUND: pa.array([f[0] for f in found], pa.list_(pa.string())),
                CONTENT: pa.array([f[1] for f in found], pa.int32())}

    def decide(self, scores: dict[str, Any]) -> str | None:
        kinds = scores[FOUND]
        if not kinds:
            return None
        if scores[CONTENT] < self.min_content_words:
            return kinds[0]  # the reason names the first kind found: "file_name", "url", ...
        return next((k for k in kinds if k in self.drop_kinds), None)
