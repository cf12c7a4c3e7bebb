"""Neutralising special tokens and export placeholders in untrusted text (captions, OCR, transcripts, synthesis).

A caption ``&lt;image&gt;`` unescaped to ``<image>`` gave a 1-image LLaVA record nine image placeholders,
and ``<|endoftext|>`` in a caption becomes the real end-of-text token when the trainer encodes the
record. Text from the web, from OCR, from ASR and from an LLM is all untrusted in that sense, so one
function serves them all: :func:`neutralise` finds

* every special token of the target tokenizer (``added_tokens`` marked ``special`` in a local
  ``tokenizer.json``, see :func:`special_tokens`),
* the placeholders the exports write (:data:`EXPORT_PLACEHOLDERS`, any case), and
* anything shaped like a chat/control token, ``<|...|>`` (Qwen, GPT, Phi, and our own markers),

also when written with full-width or small-form brackets (``＜image＞``), which a tokenizer's NFKC
normaliser folds back to ASCII. Each match is *defused*, not deleted: its brackets become look-alikes
that no normaliser folds back (``<`` → ``‹``, ``>`` → ``›``, ``[`` → ``⟦``, ``]`` → ``⟧``), so a human
reader still sees what was written and a tokenizer sees plain text; a token without brackets (rare:
``<eos>``-less vocabularies) is removed. The count is returned so a caller records it or rejects.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPORT_PLACEHOLDERS", "TokenGuard", "special_tokens", "token_guard", "neutralise", "neutralise_all"]

# What our exports write into a record's text (jobs/stats/export_formats.py, pipeline/mixture, tokenizers/).
EXPORT_PLACEHOLDERS: tuple[str, ...] = ("<image>", "<video>", "<audio>")
_CONTROL = r"<\|[^<>|\s]{1,64}\|>"
# Bracket forms that NFKC folds to ASCII: folded before matching, so they cannot smuggle a token past us.
_FOLD = str.maketrans({"\uff1c": "<", "\ufe64": "<", "\uff1e": ">", "\ufe65": ">", "\uff3b": "[", "\uff3d": "]",
                       "\uff5c": "|"})
_DEFUSE = str.maketrans({"<": "\u2039", ">": "\u203a", "[": "\u27e6", "]": "\u27e7"})


def _defuse(token: str) -> str:
    out = token.translate(_DEFUSE)
    return out if out != token else ""


@dataclass(frozen=True)
class TokenGuard:
    """The literal tokens to neutralise (tokenizer specials plus placeholders); build with :func:`token_guard`."""

    literals: tuple[str, ...] = EXPORT_PLACEHOLDERS

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        # Longest first, so "<|im_start|>" wins over a shorter token it contains.
        alternatives = [re.escape(t) for t in sorted(set(self.literals), key=len, reverse=True)]
        return re.compile("|".join([_CONTROL, *alternatives]))

    @functools.cached_property
    def placeholder_pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(re.escape(p) for p in EXPORT_PLACEHOLDERS), re.IGNORECASE)


def special_tokens(tokenizer_json: str | Path) -> tuple[str, ...]:
    """The special tokens of a local HuggingFace ``tokenizer.json`` (a folder holding one also works)."""
    path = Path(tokenizer_json)
    if path.is_dir():
        path = path / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    return tuple(t["content"] for t in spec.get("added_tokens", []) if t.get("special") and t.get("content"))


@functools.lru_cache(maxsize=8)
def token_guard(tokenizer_json: str | None = None, extra: tuple[str, ...] = ()) -> TokenGuard:
    """A guard for the export placeholders, ``extra`` literals and the specials of ``tokenizer_json`` (cached)."""
    tokens = special_tokens(tokenizer_json) if tokenizer_json else ()
    return TokenGuard(literals=(*EXPORT_PLACEHOLDERS, *tokens, *extra))


def neutralise(text: str, guard: TokenGuard | None = None) -> tuple[str, int, list[str]]:
    """(text with every token defused, how many were, the first few found); idempotent on its output."""
    guard = guard or token_guard()
    folded = text.translate(_FOLD)
    found: list[str] = []

    def swap(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return _defuse(match.group(0))

    total = 0
    for _ in range(8):  # a removed bracketless token can join its neighbours into a new one
        before = len(found)
        folded = guard.pattern.sub(swap, folded)
        folded = guard.placeholder_pattern.sub(swap, folded)  # <IMAGE>, <Video>: same placeholder to a reader
        if len(found) == before:
            break
        total = len(found)
    if total == 0:
        return text, 0, []
    return folded, total, found[:5]


def neutralise_all(texts: Iterable[str | None], guard: TokenGuard | None = None) -> tuple[list[str | None], int]:
    """:func:`neutralise` over several texts (OCR lines, transcript segments); None stays None."""
    out, count = [], 0
    for t in texts:
        if t is None:
            out.append(None)
            continue
        clean, n, _ = neutralise(t, guard)
        out.append(clean)
        count += n
    return out, count
