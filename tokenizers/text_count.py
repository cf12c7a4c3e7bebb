"""Pluggable text-token counters: a dependency-free heuristic by default, a real tokenizer when given.

Budgets and packing need text lengths for millions of rows; the exact tokenizer is preferable (pass
a local ``tokenizer.json`` — HF ``tokenizers`` is already installed with ``transformers``), but the
pipeline must also run without one. The heuristic, documented so its error is known:

    tokens = ceil(max(utf8_bytes / 4, words * 4 / 3))

Byte-level BPE vocabularies (GPT-2/Llama-3/Qwen) average about 4 UTF-8 bytes per token on English
prose and 0.75 words per token (OpenAI's rule of thumb); taking the larger of the two keeps short
words and digits from being under-counted, and CJK text (3 bytes per character, no spaces) lands at
~0.75 tokens per character, close to Qwen's ~1. Expect +-20 % per sample, less in aggregate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["TextTokenCounter", "HeuristicCounter", "HFTokenizerCounter"]


class TextTokenCounter(Protocol):
    """Anything that counts tokens of many texts at once (picklable, cheap until first use)."""

    def count(self, texts: list[str]) -> list[int]: ...


@dataclass(frozen=True)
class HeuristicCounter:
    """``ceil(max(bytes / bytes_per_token, words / words_per_token))``; see the module docstring."""

    bytes_per_token: float = 4.0
    words_per_token: float = 0.75

    def count(self, texts: list[str]) -> list[int]:
        return [0 if not t else math.ceil(max(len(t.encode("utf-8")) / self.bytes_per_token,
                                              len(t.split()) / self.words_per_token)) for t in texts]


@dataclass
class HFTokenizerCounter:
    """Exact counts from a local HF ``tokenizer.json`` (no network); loaded lazily on first use.

    Special tokens are not added: chat-template overhead is counted separately by the caller.
    """

    path: str
    _tokenizer: Any = field(default=None, init=False, repr=False, compare=False)

    def count(self, texts: list[str]) -> list[int]:
        if self._tokenizer is None:
            from tokenizers import Tokenizer  # HuggingFace's package, never mmcurate.tokenizers

            self._tokenizer = Tokenizer.from_file(self.path)
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._tokenizer = None
