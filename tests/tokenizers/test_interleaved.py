"""Interleaved token sequences: reading order, spans, windows that never split an image."""

import pytest

from mmcurate.schemas.document import image_node, text_node
from mmcurate.tokenizers.interleaved import ImageTooLong, interleave, windows
from mmcurate.tokenizers.interleaved_stage import InterleavedTokens
from mmcurate.tokenizers.qwen_vl import qwen_image_plan


def encode(texts):
    return [[len(w) for w in t.split()] for t in texts]  # one id per word: lengths are easy to read


def doc():
    nodes = [text_node("a b c"), image_node("u1", media_index=0), text_node("d e"),
             image_node("u2", media_index=None), text_node("gone"), image_node("u3", media_index=1)]
    nodes[4]["removed"] = "doc_nodes_v1:paragraph_short"
    media = [{"width": 28, "height": 56}, {"width": 28, "height": 28}]
    return nodes, media


def test_order_and_spans():
    nodes, media = doc()
    ids, spans = interleave(nodes, media, encode, lambda h, w: h * w // 196, image_token_id=-1)
    assert [(s["modality"], s["start"], s["length"], s["node"]) for s in spans] == [
        ("text", 0, 3, 0), ("image", 3, 8, 1), ("text", 11, 2, 2), ("image", 13, 4, 5)]
    assert ids[:3] == [1, 1, 1] and ids[3:11] == [-1] * 8 and len(ids) == 17


def test_windows_never_split_images():
    nodes, media = doc()
    _, spans = interleave(nodes, media, encode, lambda h, w: h * w // 196, -1)
    wins = windows(spans, 10)
    assert wins == [(0, 3), (3, 13), (13, 17)]
    for a, b in wins:
        for s in spans:
            if s["modality"] == "image":
                assert s["start"] + s["length"] <= a or s["start"] >= b or (a <= s["start"] and s["start"] + s["length"] <= b)
    with pytest.raises(ImageTooLong):
        windows(spans, 7)
    long_text = [{"modality": "text", "start": 0, "length": 25, "node": 0}]
    assert windows(long_text, 10) == [(0, 10), (10, 20), (20, 25)]


def test_stage_counts_qwen_tokens():
    nodes, media = doc()
    row = {"doc_nodes": nodes, "media": media}
    out = InterleavedTokens(context=4096).process_row(row)
    expected = qwen_image_plan(56, 28).tokens + qwen_image_plan(28, 28).tokens
    assert out["doc_tokens_v1_image"] == expected and out["doc_tokens_v1_text"] > 0
    assert out["doc_tokens_v1_windows"] == [{"start": 0, "end": len(out["doc_tokens_v1_ids"])}]
