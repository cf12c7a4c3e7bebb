"""OCR filter: read the text printed in each image, keep it as a column, filter on how much there is.

Two opposite uses share one scorer. Caption-image pretraining data drops *text-dominated* images
(screenshots, slides, memes: ``max_text_area``); OCR / document instruction data keeps only *text-rich*
images (``min_words``). The recognised text stays in ``ocr_v1_texts`` for instruction synthesis and the
boxes in ``ocr_v1_boxes`` for T-MARS masking (:mod:`mmcurate.filters.tmars`).

Per image: text, word count, mean confidence, fraction of the area under text boxes. Per sample (what
``decide`` sees): total words, word-weighted mean confidence, and the largest text-area fraction of
its images. Images larger than ``max_side`` are downscaled for OCR (cost grows with pixels) and the
boxes are mapped back to the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from PIL import Image

from mmcurate.filters.media import media_images
from mmcurate.filters.ocr_engines import OcrEngine, OcrResult, RapidOcrEngine, TesseractEngine, text_area_fraction
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.stage import Resources
from mmcurate.pipeline.text_safety import neutralise
from mmcurate.schemas import sample as S

__all__ = ["OcrFilter", "BOXES", "TEXTS", "WORDS", "CONFIDENCE", "TEXT_AREA", "read_image"]

NAME = "ocr_v1"
TEXTS, BOXES = f"{NAME}_texts", f"{NAME}_boxes"
WORDS, CONFIDENCE, TEXT_AREA = f"{NAME}_words", f"{NAME}_confidence", f"{NAME}_text_area"
BOX_TYPE = pa.list_(pa.list_(pa.list_(pa.int32(), 4)))


def read_image(engine: OcrEngine, image: Image.Image, max_side: int) -> tuple[OcrResult, float]:
    """OCR one image at most ``max_side`` px on its long side; boxes in original pixels, plus area fraction."""
    w, h = image.size
    scale = min(1.0, max_side / max(w, h))
    small = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR) if scale < 1 else image
    res = engine.read(small)
    if scale < 1:
        res.boxes = [
            (int(x0 / scale), int(y0 / scale), min(w, int(np.ceil(x1 / scale))), min(h, int(np.ceil(y1 / scale))))
            for x0, y0, x1, y1 in res.boxes
        ]
    return res, text_area_fraction(res.boxes, w, h)


@dataclass(kw_only=True)
class OcrFilter(Filter):
    """Score text in images; drop text-dominated (``max_text_area``) or text-poor (``min_words``) rows."""

    name: ClassVar[str] = NAME
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(TEXTS, pa.list_(pa.string()), metadata={"doc": "recognised text per media item (null: not an image)"}),
        pa.field(BOXES, BOX_TYPE, metadata={"doc": "text boxes [x0, y0, x1, y1) per media item, original pixels"}),
        pa.field(WORDS, pa.int32(), metadata={"doc": "words recognised over all images"}),
        pa.field(CONFIDENCE, pa.float32(), metadata={"doc": "word-weighted mean OCR confidence in [0, 1]"}),
        pa.field(TEXT_AREA, pa.float32(), metadata={"doc": "largest fraction of one image's area under text boxes"}),
    )
    stateful: ClassVar[bool] = True

    backend: Literal["tesseract", "rapidocr"] = "tesseract"
    lang: str = "eng"  # tesseract only; PP-OCRv4's bundled recogniser reads Chinese and Latin script
    tessdata: str | None = None  # None: found with `find_tessdata`
    psm: int = 11
    min_word_confidence: float = 0.5
    max_side: int = 1280
    threads: int = 1  # onnxruntime threads per actor (rapidocr)
    max_text_area: float | None = None  # drop "text_dominated" rows above this area fraction
    min_words: int | None = None  # drop "too_little_text" rows below this word count
    batch_size: int = 32
    _engine: OcrEngine | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backend not in ("tesseract", "rapidocr"):
            raise ValueError(f"backend must be 'tesseract' or 'rapidocr', got {self.backend!r}")
        if self.max_text_area is not None and not 0.0 <= self.max_text_area <= 1.0:
            raise ValueError(f"max_text_area is an area fraction in [0, 1], got {self.max_text_area}")
        if self.min_words is not None and self.min_words < 1:
            raise ValueError(f"min_words must be >= 1, got {self.min_words}")
        self.resources = Resources(num_cpus=float(self.threads))

    def setup(self) -> None:
        if self.backend == "tesseract":
            self._engine = TesseractEngine(self.lang, self.tessdata, self.psm, self.min_word_confidence)
        else:
            self._engine = RapidOcrEngine(self.threads, min_confidence=self.min_word_confidence)

    def teardown(self) -> None:
        if self._engine is not None:
            self._engine.close()  # type: ignore[attr-defined]
        self._engine = None

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        self.ensure_setup()
        assert self._engine is not None
        texts, boxes, words, confs, areas = [], [], [], [], []
        for media in batch.column(S.MEDIA).to_pylist():
            row_texts, row_boxes, row_words, row_area, weighted = [], [], 0, None, []
            for image in media_images(media):
                if image is None:
                    row_texts.append(None)
                    row_boxes.append(None)
                    continue
                res, area = read_image(self._engine, image, self.max_side)
                row_texts.append(neutralise(res.text)[0] if res.text else res.text)  # printed '<image>' too
                row_boxes.append([list(b) for b in res.boxes])
                row_words += res.words
                row_area = area if row_area is None else max(row_area, area)
                if res.confidence is not None:
                    weighted.append((res.confidence, max(res.words, 1)))
            texts.append(row_texts)
            boxes.append(row_boxes)
            words.append(row_words if row_area is not None else None)
            areas.append(row_area)
            confs.append(float(np.average([c for c, _ in weighted], weights=[n for _, n in weighted])) if weighted else None)
        return {
            TEXTS: pa.array(texts, pa.list_(pa.string())),
            BOXES: pa.array(boxes, BOX_TYPE),
            WORDS: pa.array(words, pa.int32()),
            CONFIDENCE: pa.array(confs, pa.float32()),
            TEXT_AREA: pa.array(areas, pa.float32()),
        }

    def decide(self, scores: dict[str, Any]) -> str | None:
        area, words = scores.get(TEXT_AREA), scores.get(WORDS)
        if area is None:  # no image in the row: OCR has nothing to say about it
            return None
        if self.max_text_area is not None and area > self.max_text_area:
            return "text_dominated"
        if self.min_words is not None and words < self.min_words:
            return "too_little_text"
        return None
