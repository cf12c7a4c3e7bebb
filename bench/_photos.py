"""Distinct real-photo JPEGs for the benchmarks, from scikit-image's bundled photographs.

Each photo is a random 30-80% crop of one of ``SKIMAGE_PHOTOS``, turned by a quarter turn, resized to a
400-640 px long side, maybe mirrored, its brightness changed, and saved as a JPEG steered into 20-60 KB
(a typical web image). Crops of 30-80% a side, a turn and a mirror keep near-duplicates rare (pHash
within 4 bits: ~10 of 2,000 photos, against ~170 with 45-100% crops and no turn). The recipes come from
one seeded generator in order, so photo ``i`` depends only on the seed and ``i``; rendering them runs in
threads (Pillow releases the GIL while it resizes and encodes).
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SKIMAGE_PHOTOS", "Recipe", "recipes", "load_sources", "render", "photo_jpegs"]

SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
                  "retina.jpg", "motorcycle_left.png", "motorcycle_right.png", "ihc.png", "camera.png",
                  "coins.png", "moon.png", "grass.png", "gravel.png", "brick.png")


@dataclass(frozen=True)
class Recipe:
    source: int  # index into SKIMAGE_PHOTOS
    box: tuple[int, int, int, int]
    turns: int
    long_side: int
    flip: bool
    brightness: float
    quality: int

    @property
    def caption(self) -> str:
        subject = SKIMAGE_PHOTOS[self.source].split(".")[0].replace("_", " ")
        return f"a {'mirrored ' if self.flip else ''}crop of the {subject} photo turned {90 * self.turns} degrees"


def load_sources() -> list[Any]:
    """The source photographs as RGB Pillow images, in ``SKIMAGE_PHOTOS`` order."""
    from PIL import Image
    from skimage import data as skdata

    return [Image.open(Path(skdata.__file__).parent / name).convert("RGB") for name in SKIMAGE_PHOTOS]


def recipes(n: int, sizes: list[tuple[int, int]], seed: int = 0) -> list[Recipe]:
    """The first ``n`` recipes for sources of ``sizes`` (width, height)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(len(sizes)))
        width, height = sizes[k]
        fw, fh = rng.uniform(0.3, 0.8, 2)
        w, h = max(64, int(width * fw)), max(64, int(height * fh))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        turns, long_side, flip = int(rng.integers(4)), int(rng.integers(400, 641)), bool(rng.random() < 0.5)
        brightness, quality = float(rng.uniform(0.85, 1.15)), int(rng.integers(78, 93))
        out.append(Recipe(k, (x, y, x + w, y + h), turns, long_side, flip, brightness, quality))
    return out


def render(recipe: Recipe, sources: list[Any]) -> bytes:
    """One recipe's JPEG bytes."""
    from PIL import Image, ImageEnhance, ImageOps

    im = sources[recipe.source].crop(recipe.box).rotate(90 * recipe.turns, expand=True)
    w, h = im.size
    scale = recipe.long_side / max(w, h)
    im = im.resize((max(32, round(w * scale)), max(32, round(h * scale))), Image.BICUBIC)
    im = ImageEnhance.Brightness(ImageOps.mirror(im) if recipe.flip else im).enhance(recipe.brightness)
    quality = recipe.quality
    for _ in range(6):  # steer the size into 20-60 KB, like a typical web JPEG of this size
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        size = buf.tell()
        if size > 60_000 and quality > 40:
            quality -= 8
        elif size < 20_000 and quality < 97:
            quality += 4
        else:
            break
    return buf.getvalue()


def photo_jpegs(n: int, seed: int = 0, sources: list[Any] | None = None) -> list[bytes]:
    """The first ``n`` photos' JPEG bytes, rendered in threads, in order."""
    sources = sources if sources is not None else load_sources()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(lambda r: render(r, sources), recipes(n, [s.size for s in sources], seed)))
