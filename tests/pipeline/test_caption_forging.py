"""Captions cannot forge training tokens (issue 20, item 3): escaped markup, tokenizer specials, placeholders.

Three target tokenizers are built here with HuggingFace ``tokenizers`` (nothing downloaded), each with
the special-token set of a real family: Llama-2 (``<s>``, ``</s>``, ``<unk>``), Qwen2-VL (``<|...|>``
chat and vision markers) and BERT (``[CLS]``, ``[SEP]``, ``[MASK]``). The assertion is the trainer's
view: encoding the cleaned caption with the target tokenizer yields no special-token id.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from helpers import sample_table
from tokenizers import Tokenizer, models, pre_tokenizers

from mmcurate.pipeline.caption_clean import CaptionClean, safe_caption
from mmcurate.pipeline.html_text import strip_tags
from mmcurate.pipeline.runner import run_stage
from mmcurate.pipeline.text_safety import neutralise, special_tokens, token_guard
from mmcurate.schemas import sample as S

FAMILIES = {
    "llama": ["<s>", "</s>", "<unk>"],
    "qwen2_vl": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"],
    "bert": ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"],
}


def _tokenizer_json(tmp_path: Path, family: str) -> str:
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(FAMILIES[family])
    path = tmp_path / f"{family}.json"
    tok.save(str(path))
    return str(path)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a cat < 3 kg and > 1 kg", "a cat < 3 kg and > 1 kg"),
        ("x<y and y>z", "x<y and y>z"),
        ("I <3 you &amp; me", "I <3 you & me"),
        ("&amp;lt;b&amp;gt; stays text", "&lt;b&gt; stays text"),  # unescaped once, never twice
        ("&lt;b&gt;bold&lt;/b&gt; word", "bold word"),  # escaped markup is markup after one unescape
        ("<p>para</p><!-- note -->", "para"),
    ],
)
def test_markup_is_removed_and_text_is_kept(raw: str, clean: str) -> None:
    assert safe_caption(raw)[0] == clean


@pytest.mark.parametrize(
    "raw",
    ["&lt;image&gt; a dog", "<image> a dog", "&lt;video&gt; a dog", "<VIDEO> a dog", "&lt;|endoftext|&gt; a dog",
     "<|im_start|>system a dog", "\uff1cimage\uff1e a dog", "<ima\u200bge> a dog", "<|endo<b></b>ftext|> a dog",
     "&#60;image&#62; a dog"],
)
def test_placeholders_and_control_tokens_never_survive(raw: str) -> None:
    text, count, found = safe_caption(raw)
    assert count == len(found) >= 1 or "<b>" in raw, raw  # a tag in the middle only splits the token
    assert "<image>" not in text.lower() and "<video>" not in text.lower(), (raw, text)
    assert not re.search(r"<\|[^<>|\s]+\|>", text), (raw, text)
    assert "dog" in text


def test_nine_escaped_placeholders_give_no_placeholder() -> None:
    text, count, _ = safe_caption("&lt;image&gt;" * 9 + " a cat")
    assert count == 9 and "<image>" not in text and text.endswith("a cat")


def _forged(tok: Tokenizer, text: str, specials: list[str]) -> list[str]:
    """Special tokens the tokenizer matched in ``text`` as written (not an unknown word mapped to [UNK])."""
    enc = tok.encode(text)
    return [text[a:b] for (a, b), t in zip(enc.offsets, enc.tokens, strict=True) if t in specials and text[a:b] == t]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_target_tokenizer_sees_no_special_token(tmp_path: Path, family: str) -> None:
    path = _tokenizer_json(tmp_path, family)
    specials = FAMILIES[family]
    assert set(special_tokens(path)) == set(specials)
    tok = Tokenizer.from_file(path)
    guard = token_guard(path)
    for token in specials:
        escaped = token.replace("<", "&lt;").replace(">", "&gt;")
        for raw in (f"a {token} a", f"a {escaped} a", f"a{token}{token}a", f"a {html_numeric(token)} a"):
            assert _forged(tok, html.unescape(raw), specials), "unescaped, the caption does forge the token"
            text, count, _ = safe_caption(raw, guard=guard)
            assert count >= 1 and not _forged(tok, text, specials), (family, raw, text)
            assert "a" in text.split() or text.startswith("a")


def html_numeric(token: str) -> str:
    return "".join(f"&#{ord(c)};" for c in token)


def test_stage_records_the_count_or_rejects(tmp_path: Path) -> None:
    path = _tokenizer_json(tmp_path, "llama")
    table = sample_table([(b"x", "&lt;image&gt; a </s> b"), (b"x", "clean caption")])
    rows = run_stage(CaptionClean(tokenizer_json=path), table).to_pylist()
    assert rows[0][S.STATUS] == S.STATUS_OK and "special_tokens_neutralised:2" in rows[0][S.FLAGS]
    assert "<image>" not in rows[0][S.CAPTION] and "</s>" not in rows[0][S.CAPTION]
    assert rows[1][S.FLAGS] == []
    rows = run_stage(CaptionClean(tokenizer_json=path, on_special_token="reject"), table).to_pylist()
    assert rows[0][S.DROP_REASON] == "caption_clean_v1:caption_special_token"
    assert "2 special tokens" in rows[0][S.ERROR] and rows[1][S.STATUS] == S.STATUS_OK


def test_neutralise_is_idempotent_and_leaves_clean_text_alone() -> None:
    once, n, _ = neutralise("<image> and <|x|>")
    assert n == 2 and neutralise(once) == (once, 0, [])
    assert neutralise("plain \uff1c text") == ("plain \uff1c text", 0, [])
    assert strip_tags("no markup at all") == "no markup at all"


def test_synthesised_turns_are_defused() -> None:
    from mmcurate.pipeline.synthesis.conversation import parse_llm_answer

    answer = '{"conversations": [{"from": "human", "value": "<video> what? <|im_end|>"}, {"from": "gpt", "value": "a dog"}]}'
    conv = parse_llm_answer(answer, "conversation")
    human = conv.turns[0][1]
    assert "<video>" not in human and "<|im_end|>" not in human and "what?" in human


def test_a_missing_tokenizer_json_fails_at_construction(tmp_path: Path) -> None:
    from mmcurate.pipeline.params import ParamError

    with pytest.raises(ParamError, match="tokenizer_json: no tokenizer.json at"):
        CaptionClean(tokenizer_json=str(tmp_path / "nope.json"))
    with pytest.raises(ParamError, match="on_special_token"):
        CaptionClean(on_special_token="ignore")
