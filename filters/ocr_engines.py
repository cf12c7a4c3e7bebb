"""OCR engines behind one small interface: Tesseract (C API via tesserocr) and PP-OCRv4 (RapidOCR).

Both are in-process libraries held for the life of a stage actor: no subprocess per image (a
``tesseract`` CLI call costs a process start and a model load every time). An engine turns one RGB PIL
image into an :class:`OcrResult`: text, word count, mean confidence in [0, 1] and text boxes in the
image's own pixel coordinates (word boxes for Tesseract, line boxes for PP-OCR).

Tesseract needs ``<lang>.traineddata``; :func:`find_tessdata` looks where distributions put it (Debian's
``tesseract-ocr-eng`` installs ``/usr/share/tesseract-ocr/5/tessdata``) so no path is hard-coded.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

__all__ = ["OcrResult", "OcrEngine", "TesseractEngine", "RapidOcrEngine", "find_tessdata", "text_area_fraction"]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


@dataclass
class OcrResult:
    text: str = ""
    words: int = 0
    confidence: float | None = None  # word-weighted mean in [0, 1]; None when nothing was read
    boxes: list[Box] = field(default_factory=list)


class OcrEngine(Protocol):
    def read(self, image: Image.Image) -> OcrResult: ...


def text_area_fraction(boxes: list[Box], width: int, height: int) -> float:
    """Fraction of the image covered by the union of ``boxes`` (overlaps counted once)."""
    if not boxes or width <= 0 or height <= 0:
        return 0.0
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)] = True
    return float(mask.mean())


def find_tessdata(lang: str = "eng") -> str:
    """A directory holding ``<lang>.traineddata``: $TESSDATA_PREFIX, the wheel's default, then system paths."""
    candidates = [os.environ.get("TESSDATA_PREFIX", "")]
    try:
        import tesserocr

        candidates.append(tesserocr.get_languages()[0])
    except Exception:  # noqa: BLE001 - the probe is optional; the system paths follow
        pass
    candidates += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    candidates += ["/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata",
                   "/usr/local/share/tesseract-ocr/tessdata"]
    for c in candidates:
        for d in (Path(c), Path(c) / "tessdata"):
            if c and (d / f"{lang}.traineddata").is_file():
                return str(d)
    raise FileNotFoundError(
        f"no {lang}.traineddata found (looked in {[c for c in candidates if c]}); "
        f"install tesseract-ocr-{lang} or set TESSDATA_PREFIX"
    )


class TesseractEngine:
    """One ``PyTessBaseAPI`` reused for every image; words below ``min_confidence`` are ignored.

    ``psm=11`` (sparse text) suits text scattered over photos better than page segmentation; Tesseract's
    confidences on non-text texture are low, and the floor drops that noise.
    """

    def __init__(self, lang: str = "eng", tessdata: str | None = None, psm: int = 11, min_confidence: float = 0.5) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self.min_confidence = min_confidence
        self.api = tesserocr.PyTessBaseAPI(path=tessdata or find_tessdata(lang), lang=lang, psm=psm)

    def read(self, image: Image.Image) -> OcrResult:
        tr = self._tesserocr
        self.api.SetImage(image)
        self.api.Recognize()
        words, confs, boxes = [], [], []
        level = tr.RIL.WORD
        iterator = self.api.GetIterator()
        if iterator is not None:
            for r in tr.iterate_level(iterator, level):
                try:
                    text = (r.GetUTF8Text(level) or "").strip()
                except RuntimeError:  # tesserocr raises "No text returned" for an empty page
                    break
                conf = r.Confidence(level) / 100.0
                box = r.BoundingBox(level)
                if text and conf >= self.min_confidence and box is not None:
                    words.append(text)
                    confs.append(conf)
                    boxes.append(tuple(int(v) for v in box))
        self.api.Clear()
        return OcrResult(" ".join(words), len(words), float(np.mean(confs)) if confs else None, boxes)

    def close(self) -> None:
        self.api.End()


class RapidOcrEngine:
    """PP-OCRv4 detection + recognition on onnxruntime, models from the ``rapidocr-onnxruntime`` wheel.

    Angle classification is off by default: it is a third network per line and web images are rarely
    upside down. Detection input is capped at ``det_side`` px on the *long* side (PaddleOCR's own
    default); RapidOCR's shipped config instead raises the *short* side to 736 px, which turns a 480x160
    banner into a 2208x736 detection input.
    """

    def __init__(self, threads: int = 1, use_cls: bool = False, min_confidence: float = 0.5, det_side: int = 960) -> None:
        from rapidocr_onnxruntime import RapidOCR

        t = {f"{p}_{k}": threads for p in ("det", "cls", "rec") for k in ("intra_op_num_threads", "inter_op_num_threads")}
        self.engine = RapidOCR(det_limit_type="max", det_limit_side_len=det_side, **t)
        self.use_cls = use_cls
        self.min_confidence = min_confidence

    def read(self, image: Image.Image) -> OcrResult:
        result, _ = self.engine(image, use_cls=self.use_cls)
        texts, weights, confs, boxes = [], [], [], []
        for quad, text, score in result or []:
            score = float(score)
            if not text.strip() or score < self.min_confidence:
                continue
            pts = np.asarray(quad, dtype=np.float64)
            x0, y0 = np.floor(pts.min(axis=0)).astype(int)
            x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
            texts.append(text.strip())
            weights.append(len(text.split()))
            confs.append(score)
            boxes.append((int(x0), int(y0), int(x1), int(y1)))
        words = int(sum(weights))
        conf = float(np.average(confs, weights=weights)) if confs else None
        return OcrResult("\n".join(texts), words, conf, boxes)

    def close(self) -> None:
        self.engine = None
