"""The cheap checks: each rule alone, multi-image worst case, and one-sample == batch results."""

from __future__ import annotations

from PIL import Image

from mmcurate.filters.basic import (
    AspectRatioFilter,
    CaptionLengthFilter,
    ImageSizeFilter,
    UniqueWordsFilter,
    WordCountFilter,
    caption_words,
)
from mmcurate.filters.media import image_item
from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas import sample as S


def _outcome(stage, rows, make_table):
    """(score columns, drop reasons) from the single-sample path, asserted equal to the batch path."""
    one = [apply_to_rows(stage, [r])[0] for r in rows]
    batch = run_stage(stage, make_table(rows)).to_pylist()
    cols = [f.name for f in stage.writes] + [S.STATUS, S.DROP_REASON]
    assert [{c: r[c] for c in cols} for r in one] == [{c: r[c] for c in cols} for r in batch]
    return [{c: r[c] for c in cols[:-2]} for r in batch], [r[S.DROP_REASON] for r in batch]


def test_image_size_and_aspect_use_the_worst_image(make_rows, make_table):
    big, small, wide = Image.new("RGB", (300, 260)), Image.new("RGB", (120, 400)), Image.new("RGB", (900, 250))
    no_size = image_item(Image.new("RGB", (250, 210)))
    no_size["width"] = no_size["height"] = None  # read from the header
    video = {"bytes": b"\x00" * 16, "kind": "video", "mime": "video/mp4"}
    rows = make_rows([([big], "x"), ([big, small], "x"), ([wide], "x"), ([no_size, video], "x"), ([], "x")])
    scores, reasons = _outcome(ImageSizeFilter(), rows, make_table)
    assert [s["image_size_v1_min_side"] for s in scores] == [260, 120, 250, 210, None]
    assert reasons == [None, "image_size_v1:too_small", None, None, "image_size_v1:no_image"]
    scores, reasons = _outcome(AspectRatioFilter(max_aspect=3.0), rows, make_table)
    assert abs(scores[1]["aspect_ratio_v1_max"] - 400 / 120) < 1e-5
    assert reasons == [None, "aspect_ratio_v1:too_elongated", "aspect_ratio_v1:too_elongated", None, None]


def test_caption_rules(make_rows, make_table):
    img = Image.new("RGB", (8, 8))
    caps = ["a dog", "a brown dog on grass", "shoes shoes buy shoes cheap shoes shoes", "  ", None, "x " * 40]
    rows = make_rows([([img], c) for c in caps])
    _, reasons = _outcome(CaptionLengthFilter(max_chars=60), rows, make_table)
    assert reasons == ["caption_length_v1:too_short", None, None, "caption_length_v1:too_short",
                       "caption_length_v1:too_short", "caption_length_v1:too_long"]
    scores, reasons = _outcome(WordCountFilter(max_words=20), rows, make_table)
    assert [s["word_count_v1_words"] for s in scores] == [2, 5, 7, 0, 0, 40]
    assert reasons[:2] == ["word_count_v1:too_few_words", None] and reasons[-1] == "word_count_v1:too_many_words"
    scores, reasons = _outcome(UniqueWordsFilter(min_ratio=0.5), rows, make_table)
    assert abs(scores[2]["unique_words_v1_ratio"] - 3 / 7) < 1e-6 and scores[0]["unique_words_v1_ratio"] is None
    assert reasons == [None, None, "unique_words_v1:repetitive", None, None, "unique_words_v1:repetitive"]


def test_caption_words_drop_punctuation():
    assert caption_words("Hello, World! 2 cats.") == ["hello", "world", "2", "cats"]
