"""Generators for real-world image and caption cases, good and bad.

Used by ``mmcurate demo`` to build a realistic input and by the tests' bad-input matrix, so both
exercise exactly the same files. Each case is small and built in memory with Pillow; real photos
come from scikit-image's bundled data when it is installed.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "encode", "png_header_only", "truncated_jpeg", "cmyk_jpeg", "sixteen_bit_png", "palette_alpha_png",
    "la_png", "animated_gif", "exif_rotated_jpeg", "text_bomb_png", "skimage_photos", "scene",
]


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` with almost no data: a pixel bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


def text_bomb_png(size: int = 8 * 1024**2) -> bytes:
    """A small PNG with a zTXt chunk that inflates to ``size`` bytes (Pillow caps text at 1 MiB)."""
    base = encode(Image.new("RGB", (32, 32), (9, 9, 9)), "PNG")
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * size, 9))
    return base[:-12] + ztxt + base[-12:]


def truncated_jpeg(im: Image.Image, fraction: float = 0.5) -> bytes:
    data = encode(im, "JPEG", quality=90)
    return data[: int(len(data) * fraction)]


def cmyk_jpeg(im: Image.Image) -> bytes:
    return encode(im.convert("CMYK"), "JPEG", quality=95)


def sixteen_bit_png(width: int = 64, height: int = 48) -> bytes:
    ramp = np.tile(np.linspace(0, 65535, width, dtype=np.uint16), (height, 1))
    return encode(Image.fromarray(ramp), "PNG")  # uint16 -> mode I;16


def palette_alpha_png(width: int = 64, height: int = 48) -> bytes:
    im = Image.new("P", (width, height), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(im).rectangle([width // 4, height // 4, 3 * width // 4, 3 * height // 4], fill=1)
    return encode(im, "PNG", transparency=0)  # index 0 (black) is fully transparent


def la_png(width: int = 64, height: int = 48) -> bytes:
    im = Image.new("LA", (width, height), (128, 0))
    ImageDraw.Draw(im).ellipse([8, 8, width - 8, height - 8], fill=(30, 255))
    return encode(im, "PNG")


def animated_gif(frames: int = 4, size: tuple[int, int] = (48, 48)) -> bytes:
    ims = [Image.new("RGB", size, (60 * i % 256, 100, 200 - 40 * i % 256)) for i in range(frames)]
    return encode(ims[0], "GIF", save_all=True, append_images=ims[1:], duration=80, loop=0)


def exif_rotated_jpeg(im: Image.Image, orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(im, "JPEG", quality=92, exif=exif.tobytes())


def skimage_photos() -> dict[str, Image.Image]:
    """Real photographs bundled with scikit-image (empty if it is not installed)."""
    try:
        import skimage
    except ImportError:
        return {}
    root = Path(skimage.__file__).parent / "data"
    names = {"astronaut.png": "an astronaut in a white suit in front of a flag",
             "coffee.png": "a cup of coffee on a saucer", "chelsea.png": "a tabby cat looking up",
             "rocket.jpg": "a rocket on a launch pad", "motorcycle_left.png": "a motorcycle parked indoors",
             "camera.png": "a man with a camera on a tripod", "hubble_deep_field.jpg": "galaxies in deep space",
             "coins.png": "old coins on a dark surface", "page.png": "a page of printed text",
             "horse.png": "the silhouette of a horse", "logo.png": "a colourful logo"}
    photos = {}
    for name in names:
        path = root / name
        if path.exists():
            photos[names[name]] = Image.open(path)
    return photos


_COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220), "yellow": (235, 210, 40),
            "purple": (140, 60, 170), "orange": (240, 140, 30), "white": (245, 245, 245), "black": (15, 15, 15)}
_SHAPES = ("circle", "square", "triangle")


def scene(rng: np.random.Generator, size: int = 160) -> tuple[Image.Image, str]:
    """A procedurally generated picture of shapes and the caption that describes it."""
    names = list(_COLOURS)
    bg, fg = rng.choice(len(names), size=2, replace=False)
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
    count = int(rng.integers(1, 4))
    im = Image.new("RGB", (size, size), _COLOURS[names[bg]])
    draw = ImageDraw.Draw(im)
    for _ in range(count):
        r = int(rng.integers(size // 10, size // 5))
        x, y = (int(v) for v in rng.integers(r, size - r, size=2))
        box = [x - r, y - r, x + r, y + r]
        if shape == "circle":
            draw.ellipse(box, fill=_COLOURS[names[fg]])
        elif shape == "square":
            draw.rectangle(box, fill=_COLOURS[names[fg]])
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=_COLOURS[names[fg]])
    noun = shape if count == 1 else f"{shape}s"
    words = {1: "one", 2: "two", 3: "three"}[count]
    return im, f"{words} {names[fg]} {noun} on a {names[bg]} background"
