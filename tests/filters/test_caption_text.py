"""The caption-only filters: language, boilerplate, caption-is-OCR-text; one sample == batch for each."""

from __future__ import annotations

import pytest
from PIL import Image

from mmcurate.filters.boilerplate import CONTENT, FOUND, BoilerplateCaptionFilter, find_boilerplate
from mmcurate.filters.caption_language import CONFIDENCE, LANG, CaptionLanguageFilter, detect_language
from mmcurate.filters.caption_ocr import CAPTION_IN_OCR, OCR_IN_CAPTION, CaptionIsOcrFilter, word_coverage
from mmcurate.filters.ocr import TEXTS, OcrFilter
from mmcurate.pipeline.runner import StageFailed, apply_to_rows, run_stage
from mmcurate.schemas import sample as S


def _outcome(stage, rows, make_table, schema=None):
    """(score rows, drop reasons) from the single-sample path, asserted equal to the batch path."""
    one = [apply_to_rows(stage, [r], schema=schema)[0] for r in rows]
    batch = run_stage(stage, make_table(rows) if schema is None else _table(rows, schema)).to_pylist()
    cols = [f.name for f in stage.writes] + [S.STATUS, S.DROP_REASON]
    assert [{c: r[c] for c in cols} for r in one] == [{c: r[c] for c in cols} for r in batch]
    return [{c: r[c] for c in cols[:-2]} for r in batch], [r[S.DROP_REASON] for r in batch]


def _table(rows, schema):
    from mmcurate.schemas.table import to_table

    return to_table([{S.SAMPLE_ID: f"s{i}", S.SOURCE: "t", S.LOCATOR: str(i), S.UNIT_ID: "u", S.UNIT_INDEX: i,
                      S.UNIT_ROWS: len(rows), S.STATUS: S.STATUS_OK, **r} for i, r in enumerate(rows)], schema)


LANGUAGE_CASES = [
    ("a brown dog running on the beach at sunset", "en"),
    ("un chien brun qui court sur la plage", "fr"),
    ("ein brauner Hund läuft am Strand entlang", "de"),
    ("un perro marrón corriendo en la playa", "es"),
    ("一只棕色的狗在海滩上奔跑", "zh"),
    ("茶色の犬が浜辺を走っている", "ja"),
    ("коричневая собака бежит по песчаному пляжу", "ru"),
]


def test_language_is_detected():
    for text, lang in LANGUAGE_CASES:
        got, conf = detect_language(text)
        assert got == lang and conf > 0.5, (text, got, conf)
    assert detect_language(None) == (None, None) and detect_language("12345 !!") == (None, None)


def test_language_filter_drops_only_confident_other_languages(make_rows, make_table):
    img = Image.new("RGB", (8, 8))
    caps = [t for t, _ in LANGUAGE_CASES] + ["red car", "12345", None]
    rows = make_rows([([img], c) for c in caps])
    scores, reasons = _outcome(CaptionLanguageFilter(), rows, make_table)
    assert [s[LANG] for s in scores[:7]] == [lang for _, lang in LANGUAGE_CASES]
    assert reasons[0] is None and reasons[1:7] == ["caption_language_v1:other_language"] * 6
    # "red car" is too short to be confidently anything: kept; no letters: no language, kept.
    assert scores[7][CONFIDENCE] < 0.5 and reasons[7:] == [None, None, None]
    assert scores[8][LANG] is None and scores[9][LANG] is None
    _, reasons = _outcome(CaptionLanguageFilter(languages=("en", "fr")), rows, make_table)
    assert reasons[:3] == [None, None, "caption_language_v1:other_language"]
    _, reasons = _outcome(CaptionLanguageFilter(languages=None), rows, make_table)
    assert reasons == [None] * len(rows)
    with pytest.raises(ValueError):
        CaptionLanguageFilter(min_confidence=2.0)


BOILERPLATE_CASES = [
    ("IMG_1234.JPG", ["file_name"], "file_name"),
    ("DSC01234", ["file_name"], "file_name"),
    ("PXL_20230101_123456789", ["file_name"], "file_name"),
    ("https://cdn.example.com/uploads/a.jpg", ["url"], "url"),
    ("www.example.com", ["url"], "url"),
    ("Stock Photo - Royalty Free", ["stock_phrase"], "stock_phrase"),
    ("DSC_0042 stock photo royalty free image", ["file_name", "stock_phrase", "placeholder"], "file_name"),
    ("untitled-1", ["placeholder"], "placeholder"),
    ("no image available", ["placeholder"], "placeholder"),
    ("Stock photo of a woman smiling", ["stock_phrase"], None),  # content remains: kept by default
    ("A dog on the beach. Photo: example.com", ["url"], None),
    ("a brown dog on grass", [], None),
    ("Mr. Smith at the St. Louis zoo, 3.5 miles away", [], None),  # dots are not domains
    ("", [], None),  # empty: the length filter's business
]


def test_boilerplate_kinds_and_decisions(make_rows, make_table):
    img = Image.new("RGB", (8, 8))
    rows = make_rows([([img], c) for c, _, _ in BOILERPLATE_CASES])
    scores, reasons = _outcome(BoilerplateCaptionFilter(), rows, make_table)
    assert [s[FOUND] for s in scores] == [k for _, k, _ in BOILERPLATE_CASES]
    assert reasons == [None if r is None else f"caption_boilerplate_v1:{r}" for _, _, r in BOILERPLATE_CASES]
    assert scores[9][CONTENT] == 2  # "woman smiling"
    _, strict = _outcome(BoilerplateCaptionFilter(drop_kinds=("stock_phrase",)), rows, make_table)
    assert strict[9] == "caption_boilerplate_v1:stock_phrase" and strict[10] is None
    assert find_boilerplate(None) == ([], 0)
    with pytest.raises(ValueError):
        BoilerplateCaptionFilter(drop_kinds=("typo",))


def test_word_coverage():
    assert word_coverage("SALE", ["SALE"]) == (1.0, 1.0)
    assert word_coverage("the sale", ["SALE"]) == (1.0, 1.0)  # articles are ignored
    assert word_coverage("Fresh bread daly", ["Fresh bread daily"]) == (1.0, 1.0)  # OCR-style typo
    assert word_coverage("a bakery sign", ["Fresh bread daily"]) == (0.0, 0.0)
    cap, ocr = word_coverage("fresh bread at the corner bakery", ["Fresh bread daily"])
    assert cap == pytest.approx(2 / 5) and ocr == pytest.approx(2 / 3)
    assert word_coverage("grass", [""]) == (0.0, None)  # images without text
    assert word_coverage("grass", [None]) == (None, None)  # no image was OCR'd
    assert word_coverage("", ["SALE"]) == (None, None)
    assert word_coverage("cat", ["cot"]) == (0.0, 0.0)  # short words match exactly only


def test_caption_is_ocr_after_the_ocr_stage(word_image, make_rows, make_table):
    words = word_image("Fresh bread daily", size=(640, 160), font_size=56)
    poster = word_image("SALE", size=(300, 120), font_size=96, xy=(10, 5))
    blank = Image.new("RGB", (320, 240), (90, 140, 60))
    rows = make_rows([([poster], "SALE"), ([words], "fresh bread daily"), ([words], "a bakery sign"),
                      ([blank], "green grass"), ([poster, blank], "sale!"), ([], "no image")])
    ocr = run_stage(OcrFilter(), make_table(rows))
    schema = ocr.schema.append(CaptionIsOcrFilter.writes[0]).append(CaptionIsOcrFilter.writes[1])
    ocr_rows = [{c: r[c] for c in (S.MEDIA, S.CAPTION, TEXTS)} for r in ocr.to_pylist()]
    scores, reasons = _outcome(CaptionIsOcrFilter(), ocr_rows, make_table, schema=schema)
    assert [s[CAPTION_IN_OCR] for s in scores] == [1.0, 1.0, 0.0, 0.0, 1.0, None]
    assert scores[1][OCR_IN_CAPTION] == 1.0 and scores[3][OCR_IN_CAPTION] is None
    assert reasons == ["caption_ocr_v1:caption_is_ocr"] * 2 + [None, None, "caption_ocr_v1:caption_is_ocr", None]


def test_caption_is_ocr_needs_the_ocr_column(make_rows, make_table):
    # A missing input column fails every row: a pipeline bug, raised rather than recorded as bad data.
    rows = make_rows([([Image.new("RGB", (8, 8))], "x"), ([Image.new("RGB", (8, 8))], "y")])
    with pytest.raises(StageFailed):
        run_stage(CaptionIsOcrFilter(), make_table(rows))
