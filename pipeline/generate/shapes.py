"""Procedural image-caption scenes: the training and test data of the bundled tiny CLIP.

No pretrained CLIP weights can be downloaded here, so the default model is trained on scenes we can
draw ourselves: coloured shapes with counts and positions, and printed words. Every scene is a pure
function of its integer seed (``random.Random(seed)``), so training data, held-out data and test
fixtures reproduce exactly on any machine.

Printed-word scenes matter beyond training: a caption that only names the printed word is the case
T-MARS exists for (the CLIP score comes from the text in the image), so the tests can build one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

__all__ = ["COLOURS", "SHAPES", "WORDS", "Scene", "draw_shape", "draw_word", "make_scene", "scene_batch"]

# Saturated colours that stay distinct after 8x8 patching; backgrounds are kept dark grey so every one
# of them (and white text) has contrast.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 190, 50),
    "blue": (40, 80, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 50, 200),
    "orange": (245, 140, 20),
    "white": (245, 245, 245),
}
SHAPES = ("circle", "square", "triangle", "star")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars"}
COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
POSITIONS = ("left", "right", "top", "bottom")
POSITION_PHRASE = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}
# Short words so they fit a 64 px image at a readable size.
WORDS = ("cat", "dog", "sun", "car", "tree", "fish", "bird", "boat", "moon", "book", "cake", "lamp", "ball", "shoe")
KINDS = ("count", "position", "pair", "word", "shape_and_word")


@dataclass(frozen=True)
class Scene:
    """One generated image with its caption; ``word`` is the printed word, if any."""

    image: Image.Image
    caption: str
    kind: str
    word: str | None = None


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled scalable font: no system font or download needed.
    return ImageFont.load_default(size=size)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple[int, int, int]) -> None:
    """Draw ``shape`` centred at (cx, cy) with radius ``r``."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=fill)
    elif shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        draw.polygon(pts, fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def draw_word(draw: ImageDraw.ImageDraw, word: str, x: float, y: float, size: int, fill: tuple[int, int, int]) -> None:
    """Print ``word`` with its top-left corner at (x, y)."""
    draw.text((x, y), word, font=_font(size), fill=fill)


def _background(rng: random.Random, size: int) -> tuple[Image.Image, tuple[int, int, int]]:
    base = tuple(rng.randint(25, 85) for _ in range(3))
    img = Image.new("RGB", (size, size), base)  # type: ignore[arg-type]
    return img, base  # type: ignore[return-value]


def _place(rng: random.Random, size: int, r: float, region: str | None = None) -> tuple[float, float]:
    lo, hi = r + 1, size - r - 1
    x, y = rng.uniform(lo, hi), rng.uniform(lo, hi)
    third = size / 3
    if region == "left":
        x = rng.uniform(lo, third)
    elif region == "right":
        x = rng.uniform(size - third, hi)
    elif region == "top":
        y = rng.uniform(lo, third)
    elif region == "bottom":
        y = rng.uniform(size - third, hi)
    return x, y


def _scatter(rng: random.Random, size: int, n: int, r: float) -> list[tuple[float, float]]:
    # Rejection sampling so counted objects do not overlap (a count must be visible to be learnable).
    pts: list[tuple[float, float]] = []
    for _ in range(200):
        if len(pts) == n:
            break
        p = _place(rng, size, r)
        if all(math.dist(p, q) > 2.2 * r for q in pts):
            pts.append(p)
    while len(pts) < n:
        pts.append(_place(rng, size, r))
    return pts


def _object_phrase(rng: random.Random) -> tuple[str, str, str]:
    colour = rng.choice(list(COLOURS))
    shape = rng.choice(SHAPES)
    return colour, shape, f"a {colour} {shape}"


def make_scene(seed: int, size: int = 64, kind: str | None = None) -> Scene:
    """The scene for ``seed``; ``kind`` forces one of :data:`KINDS` (default: drawn from the seed)."""
    rng = random.Random(seed)
    kind = kind or rng.choice(KINDS)
    img, _ = _background(rng, size)
    draw = ImageDraw.Draw(img)
    r = size * rng.uniform(0.09, 0.14)
    word = None
    if kind == "count":
        n = rng.choice((1, 2, 3))
        colour, shape, _ = _object_phrase(rng)
        for cx, cy in _scatter(rng, size, n, r):
            draw_shape(draw, shape, cx, cy, r, COLOURS[colour])
        caption = f"{COUNT_WORDS[n]} {colour} {shape if n == 1 else PLURAL[shape]}"
    elif kind == "position":
        colour, shape, phrase = _object_phrase(rng)
        where = rng.choice(POSITIONS)
        draw_shape(draw, shape, *_place(rng, size, r * 1.2, where), r * 1.2, COLOURS[colour])
        caption = f"{phrase} {POSITION_PHRASE[where]}"
    elif kind == "pair":
        (c1, s1, p1), (c2, s2, p2) = _object_phrase(rng), _object_phrase(rng)
        y1, y2 = rng.uniform(r + 1, size - r - 1), rng.uniform(r + 1, size - r - 1)
        draw_shape(draw, s1, rng.uniform(r + 1, size * 0.4), y1, r, COLOURS[c1])
        draw_shape(draw, s2, rng.uniform(size * 0.6, size - r - 1), y2, r, COLOURS[c2])
        caption = f"{p1} left of {p2}"
    elif kind in ("word", "shape_and_word"):
        word = rng.choice(WORDS)
        fsize = int(size * rng.uniform(0.26, 0.32))
        ink = rng.choice(((255, 255, 255), (250, 230, 60), (120, 220, 255)))
        width = _font(fsize).getlength(word)
        if kind == "word":
            x, y = rng.uniform(1, max(1.0, size - width - 1)), rng.uniform(1, size - fsize - 3)
            draw_word(draw, word, x, y, fsize, ink)
            caption = rng.choice((f"the word {word}", f"a sign that says {word}", f"{word} written in text"))
        else:
            colour, shape, phrase = _object_phrase(rng)
            draw_shape(draw, shape, size * 0.5 + rng.uniform(-6, 6), size * 0.72, r, COLOURS[colour])
            draw_word(draw, word, rng.uniform(1, max(1.0, size - width - 1)), rng.uniform(1, size * 0.2), fsize, ink)
            caption = f"{phrase} and the word {word}"
    else:
        raise ValueError(f"unknown scene kind {kind!r}; expected one of {KINDS}")
    return Scene(image=img, caption=caption, kind=kind, word=word)


def scene_batch(first_seed: int, n: int, size: int = 64) -> list[Scene]:
    """Scenes for seeds ``first_seed .. first_seed + n - 1``."""
    return [make_scene(first_seed + i, size) for i in range(n)]
