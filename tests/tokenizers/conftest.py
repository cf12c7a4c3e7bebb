"""Fixtures for token-count parity tests: HF processors built from explicit configs, no hub access.

``transformers`` is a test-only dependency. Processors are constructed from the released config values
(written out here) and a tiny word-level tokenizer that only knows the multimodal special tokens, so
nothing is downloaded and the placeholder expansion is exactly the processor's own.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SPECIAL_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<image>", "<video>"]


@pytest.fixture(scope="session")
def fake_tokenizer():
    """A fast tokenizer whose only real tokens are the multimodal specials (other text -> [UNK])."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    assert Tokenizer.__module__.startswith("tokenizers"), "HF tokenizers must not be shadowed by ours"
    core = Tokenizer(models.WordLevel(vocab={"[UNK]": 0}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", additional_special_tokens=SPECIAL_TOKENS)


@pytest.fixture(scope="session")
def count_id(fake_tokenizer):
    """``count_id(input_ids, token)``: occurrences of a special token in one sequence of ids."""

    def count(input_ids, token: str) -> int:
        tid = fake_tokenizer.convert_tokens_to_ids(token)
        return sum(1 for i in input_ids if int(i) == tid)

    return count
