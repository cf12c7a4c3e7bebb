"""Text tokens: HF ``tokenizers`` (not ours), the shipped caption BPE, training one, loading a target's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcurate.tokenizers.text import (
    CAPTION_BPE_PATH,
    SPECIAL_TOKENS,
    default_text_tokenizer,
    encode_texts,
    load_text_tokenizer,
    train_caption_bpe,
)


def test_hf_tokenizers_is_not_shadowed() -> None:
    import tokenizers

    assert hasattr(tokenizers, "Tokenizer") and "site-packages" in tokenizers.__file__


def test_shipped_caption_bpe_round_trips_any_text() -> None:
    tok = default_text_tokenizer()
    assert CAPTION_BPE_PATH.is_file() and tok.get_vocab_size() == 4096
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    caption = "two red circles on a blue background"
    ids = encode_texts(tok, [caption])[0]
    assert len(ids) <= 8  # scene captions are in-domain: about one token per word
    for text in (caption, "Ünïcödé, emoji 🚀 and tabs\tkeep their bytes"):
        assert tok.decode(tok.encode(text).ids) == text
    assert encode_texts(tok, [None, "", "a"])[:2] == [[], []]


def test_train_small_bpe_and_load_a_target_tokenizer_json(tmp_path: Path) -> None:
    tok = train_caption_bpe(["a red square", "a blue square", "two red squares"] * 20, vocab_size=300)
    assert tok.token_to_id("<|image_start|>") == 2
    tok.save(str(tmp_path / "tokenizer.json"))
    again = load_text_tokenizer(tmp_path)
    assert again.encode("a red square").ids == tok.encode("a red square").ids
    with pytest.raises(FileNotFoundError):
        load_text_tokenizer(tmp_path / "missing.json")
