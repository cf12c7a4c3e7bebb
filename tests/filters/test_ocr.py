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


# --- Word recall on clear rendered text, silence on text-free photos, real text images from scikit-image ---

LINES = ("Fresh bread daily", "Open every weekend", "Garden market today", "Quiet river music", "Summer books sale")
# Pillow's bundled font always; Debian's DejaVu / Liberation faces when installed (fonts-dejavu-core,
# fonts-liberation): a serif, a monospace and a bold face besides the sans.
SYSTEM_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSansMono.ttf",
                "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSans-Bold.ttf",
                "liberation/LiberationMono-Regular.ttf")


def _words(text: str | None) -> list[str]:
    import re

    return re.findall(r"[a-z]+", (text or "").lower())


def _recall(truth: list[str], found: list[str]) -> tuple[int, int]:
    """(truth words found, truth words): multiset matching, so a repeated word must be read twice."""
    pool, hit = list(found), 0
    for w in truth:
        if w in pool:
            pool.remove(w)
            hit += 1
    return hit, len(truth)


def _fonts() -> list[str | None]:
    from pathlib import Path

    root = Path("/usr/share/fonts/truetype")
    return [None] + [str(root / f) for f in SYSTEM_FONTS if (root / f).exists()]


def test_word_recall_over_fonts_and_sizes(make_rows, make_table):
    from PIL import ImageDraw, ImageFont

    images, truth = [], []
    for fi, path in enumerate(_fonts()):
        for si, size in enumerate((14, 28, 56)):  # 14 px is small body text on a web page
            text = LINES[(fi + si) % len(LINES)]
            font = ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)
            bg, ink = ((245, 245, 240), (15, 15, 15)) if (fi + si) % 2 else ((30, 40, 90), (250, 250, 250))
            img = Image.new("RGB", (int(font.getlength(text)) + 2 * size, 3 * size), bg)
            ImageDraw.Draw(img).text((size, size), text, font=font, fill=ink)
            images.append(img)
            truth.append(_words(text))
    out = run_stage(OcrFilter(), make_table(make_rows([([im], "x") for im in images]))).column(TEXTS).to_pylist()
    hits = [_recall(t, _words(o[0])) for t, o in zip(truth, out)]
    recall = sum(h for h, _ in hits) / sum(n for _, n in hits)
    assert recall >= 0.9, f"word recall {recall:.2f} over {len(images)} renders ({len(_fonts())} fonts)"


def test_no_words_on_photos_without_text(skimage_data_dir, make_rows, make_table):
    photos = [Image.open(skimage_data_dir / n).convert("RGB") for n in ("chelsea.png", "coffee.png", "rocket.jpg", "brick.png")]
    out = run_stage(OcrFilter(), make_table(make_rows([([p], "a photo") for p in photos]))).to_pylist()
    assert [r[WORDS] for r in out] == [0, 0, 0, 0]
    assert all(r[TEXT_AREA] == 0.0 for r in out)


# page.png: a photographed textbook page, 384x191 px, ~10 px letters under uneven light (not clear text).
PAGE_TRUTH = ("Region-based segmentation Let us first determine markers of the coins and the background. These "
              "markers are pixels that we can label unambiguously as either object or background. Here, the markers "
              "are found at the two extreme parts of the histogram of grey values:")


def test_real_text_images_from_scikit_image(skimage_data_dir, make_rows, make_table):
    page = Image.open(skimage_data_dir / "page.png").convert("RGB")
    text = Image.open(skimage_data_dir / "text.png").convert("RGB")
    out = _same_both_ways(OcrFilter(), make_rows([([page], "a page"), ([text], "maths")]), make_table)
    hit, n = _recall(_words(PAGE_TRUTH), _words(out[0][TEXTS][0]))
    # Tesseract reads 28 of the 44 words (0.64; PP-OCRv4 0.70): small, unevenly lit text is where OCR
    # degrades, so this is a floor that catches regressions, not the clear-text bar above.
    assert hit / n >= 0.55, f"page.png word recall {hit}/{n}"
    assert out[0][WORDS] >= 20 and out[0][TEXT_AREA] > 0.1
    # text.png is handwritten maths photographed at an angle: beyond Tesseract. It must not invent prose:
    # at most a few symbol fragments, no English word of three or more letters.
    assert out[1][WORDS] <= 3 and not [w for w in _words(out[1][TEXTS][0]) if len(w) >= 3]
