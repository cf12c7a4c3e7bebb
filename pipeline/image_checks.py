"""Pure helpers for image decoding: format sniffing for reject reasons, and mode conversion to RGB.

Kept apart from the decode stage so the conversions can be tested pixel by pixel and reused (the
video frame path, dedup's pixel hash).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["sniff_foreign_format", "looks_like_text", "to_rgb", "NEEDS_REENCODE_MODES"]

# Formats we recognise so a reject can say "not allowed" rather than "not an image".
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"SIMPLE  =", "FITS"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"icns", "ICNS"),
    (b"\x0a\x05\x01", "PCX"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
)

# Modes whose plain ``convert("RGB")`` in a trainer would be wrong or lossy: we convert and re-encode.
NEEDS_REENCODE_MODES = frozenset({"CMYK", "YCbCr", "LAB", "HSV", "I;16", "I;16B", "I;16L", "I;16N", "I", "F",
                                  "LA", "La", "RGBA", "RGBa", "PA"})


def sniff_foreign_format(data: bytes) -> str | None:
    """Name of a known image/document format by magic bytes, or None."""
    for magic, name in _FOREIGN_MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "AVIF/HEIF"
    return None


def looks_like_text(data: bytes) -> bool:
    """HTML error pages and other text bodies served where an image was expected."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"{", b"[")):
        return True
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return len(head) > 0 and printable / len(head) > 0.95


def _composite_on_white(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _sixteen_bit_to_rgb(im: Image.Image) -> Image.Image:
    # Scale 0..65535 onto 0..255 (divide by 257) instead of clipping, which would blow out everything >255.
    arr = np.asarray(im, dtype=np.float64)
    full_scale = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
    eight = np.clip(np.rint(arr * (255.0 / full_scale)), 0, 255).astype(np.uint8)
    return Image.fromarray(eight, mode="L").convert("RGB")


def to_rgb(im: Image.Image) -> tuple[Image.Image, str | None]:
    """The image in RGB and the op name applied (None when already RGB)."""
    mode = im.mode
    if mode == "RGB":
        return im, None
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in im.info):
        return _composite_on_white(im), "alpha_composite"
    if mode.startswith("I") or mode == "F":
        return _sixteen_bit_to_rgb(im), "high_bit_depth_to_8bit"
    return im.convert("RGB"), "to_rgb"
