"""OCR on rendered words: Tesseract (C API) and PP-OCRv4 (RapidOCR), filter modes, row == batch."""

from __future__ import annotations

import importlib.util

import pytest
from PIL import Image

from mmcurate.filters.ocr import BOXES, CONFIDENCE, TEXT_AREA, TEXTS, WORDS, OcrFilter
from mmcurate.filters.ocr_engines import find_tessdata, text_area_fraction
from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas import sample as S

COLS = [TEXTS, BOXES, WORDS, CONFIDENCE, TEXT_AREA, S.STATUS, S.DROP_REASON]


def _same_both_ways(stage, rows, make_table):
    one = [apply_to_rows(stage, [r])[0] for r in rows]
    batch = run_stage(stage, make_table(rows)).to_pylist()
    assert [{c: r[c] for c in COLS} for r in one] == [{c: r[c] for c in COLS} for r in batch]
    return batch


def test_tessdata_is_found():
    assert find_tessdata("eng").endswith("tessdata")


def test_text_area_counts_overlap_once():
    assert text_area_fraction([(0, 0, 10, 10), (5, 0, 15, 10)], 20, 10) == pytest.approx(0.75)
    assert text_area_fraction([], 20, 10) == 0.0


@pytest.fixture(scope="module")
def ocr_rows(word_image, make_rows):
    words = word_image("Fresh bread daily", size=(640, 160), font_size=56)
    poster = word_image("SALE", size=(300, 120), font_size=96, xy=(10, 5))
    blank = Image.new("RGB", (320, 240), (90, 140, 60))
    video = {"bytes": b"\x00" * 32, "kind": "video", "mime": "video/mp4"}
    return make_rows([([words], "a bakery sign"), ([poster], "sale"), ([blank], "grass"), ([blank, words, video], "doc")])


def test_tesseract_reads_rendered_words(ocr_rows, make_table):
    out = _same_both_ways(OcrFilter(backend="tesseract"), ocr_rows, make_table)
    assert out[0][TEXTS] == ["Fresh bread daily"] and out[0][WORDS] == 3
    assert out[0][CONFIDENCE] > 0.8 and 0.05 < out[0][TEXT_AREA] < 0.5
    assert out[1][TEXTS] == ["SALE"] and out[1][TEXT_AREA] > 0.4
    assert out[2][TEXTS] == [""] and out[2][WORDS] == 0 and out[2][TEXT_AREA] == 0.0
    # Several media items: per-item lists stay aligned with `media` (the video is null).
    assert out[3][TEXTS] == ["", "Fresh bread daily", None] and out[3][BOXES][2] is None
    assert len(out[3][BOXES][1]) == 3 and out[3][WORDS] == 3


def test_filter_modes(ocr_rows, make_table):
    out = run_stage(OcrFilter(max_text_area=0.3), make_table(ocr_rows)).column(S.DROP_REASON).to_pylist()
    assert out == [None, "ocr_v1:text_dominated", None, None]
    out = run_stage(OcrFilter(min_words=2), make_table(ocr_rows)).column(S.DROP_REASON).to_pylist()
    assert out == [None, "ocr_v1:too_little_text", "ocr_v1:too_little_text", None]


def test_downscaled_ocr_maps_boxes_back(word_image, make_rows, make_table):
    rows = make_rows([([word_image("Fresh bread daily", size=(1280, 320), font_size=112)], "x")])
    full = run_stage(OcrFilter(), make_table(rows)).to_pylist()[0]
    half = run_stage(OcrFilter(max_side=640), make_table(rows)).to_pylist()[0]
    assert half[TEXTS] == full[TEXTS] == ["Fresh bread daily"]
    for a, b in zip(half[BOXES][0], full[BOXES][0]):
        assert max(abs(x - y) for x, y in zip(a, b)) <= 6


@pytest.mark.skipif(importlib.util.find_spec("rapidocr_onnxruntime") is None, reason="rapidocr-onnxruntime missing")
def test_rapidocr_backend_agrees(ocr_rows, make_table):
    out = _same_both_ways(OcrFilter(backend="rapidocr"), ocr_rows[:3], make_table)
    assert out[0][TEXTS][0].replace(" ", "").lower() == "freshbreaddaily" and out[0][WORDS] >= 1
    assert out[1][TEXTS] == ["SALE"] and out[2][WORDS] == 0
