"""Helpers for the dedup tests: planted duplicates from real media and real text that ship with installed packages.

Images: scikit-image's photos, each turned into a *group* of variants (JPEG at several qualities,
resized, cropped by 2%, converted to grey, a small text overlay). Other bundled photos are the
distinct negatives. ``motorcycle_right`` is left out: it is the other half of a stereo pair with
``motorcycle_left`` and genuinely a near-duplicate of it.

Texts: long docstrings from the standard library (plus the Zen of Python), each with variants made
by word substitutions, an inserted sentence, a swapped sentence pair and a deleted word. Bases that
overlap each other (os.stat / os.lstat style twins) are dropped so the ground truth is honest.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import importlib
import inspect
import io
import random
import re
from itertools import combinations
from pathlib import Path

import pyarrow as pa
from PIL import Image, ImageDraw

from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table

GROUP_PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "camera.png"]
DISTINCT_PHOTOS = ["brick.png", "grass.png", "gravel.png", "coins.png", "hubble_deep_field.jpg", "retina.jpg",
                   "page.png", "text.png", "moon.png", "logo.png", "color.png", "cell.png", "ihc.png",
                   "horse.png", "microaneurysms.png", "clock_motion.png"]
DOC_MODULES = ["os", "json", "collections", "functools", "itertools", "textwrap", "argparse", "subprocess",
               "shutil", "dataclasses", "threading", "logging", "tarfile", "zipfile", "csv",
               "datetime", "decimal", "fractions", "statistics", "random", "heapq", "pickle", "socket"]
FILLER = ["value", "object", "result", "module", "default", "method", "string", "number", "system", "option"]


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def image_variants(image: Image.Image) -> dict[str, bytes]:
    """Near-duplicate encodings of one photo (all perceptually the same picture)."""
    w, h = image.size
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    draw.text((w // 20, h - h // 10), "(c) example.com", fill=(255, 255, 255))
    return {
        "png": _encode(image, "PNG"),
        "jpeg95": _encode(image, "JPEG", quality=95),
        "jpeg60": _encode(image, "JPEG", quality=60),
        "jpeg30": _encode(image, "JPEG", quality=30),
        "half": _encode(image.resize((w // 2, h // 2), Image.Resampling.BICUBIC), "JPEG", quality=90),
        "larger": _encode(image.resize((w * 5 // 4, h * 5 // 4), Image.Resampling.BICUBIC), "PNG"),
        "crop2": _encode(image.crop((w // 50, h // 50, w - w // 50, h - h // 50)), "JPEG", quality=90),
        "grey": _encode(image.convert("L"), "PNG"),
        "overlay": _encode(overlay, "JPEG", quality=85),
    }


def media_item(data: bytes) -> dict:
    return {"bytes": data, "kind": "image", "mime": None, "width": None, "height": None, "sha256": None,
            "source_mode": None, "n_frames": None, "ops": []}


def sample_rows(items: list[tuple[str, bytes | None, str | None]]) -> list[dict]:
    """Sample rows ``(sample_id, image bytes, caption)`` with neutral bookkeeping fields."""
    return [{S.SAMPLE_ID: sid, S.SOURCE: "test", S.LOCATOR: sid, S.UNIT_ID: "u", S.UNIT_INDEX: i, S.UNIT_ROWS: len(items),
             S.STATUS: S.STATUS_OK, S.CAPTION: caption, S.MEDIA: [media_item(data)] if data is not None else []}
            for i, (sid, data, caption) in enumerate(items)]


def sample_table(items: list[tuple[str, bytes | None, str | None]]) -> pa.Table:
    return to_table(sample_rows(items), S.SAMPLE_SCHEMA)


def true_pairs(groups: dict[str, str]) -> set[frozenset[str]]:
    """All unordered id pairs that share a group label."""
    by_group: dict[str, list[str]] = {}
    for sid, group in groups.items():
        by_group.setdefault(group, []).append(sid)
    return {frozenset(p) for members in by_group.values() for p in combinations(sorted(members), 2)}


def predicted_pairs(removals: pa.Table, ids: list[str]) -> set[frozenset[str]]:
    """Pairs placed in one cluster by a removal table (removed row -> its kept row)."""
    root = {sid: sid for sid in ids}
    for row in removals.to_pylist():
        root[row["sample_id"]] = row["duplicate_of"]
    return true_pairs(root)


def precision_recall(pred: set[frozenset[str]], truth: set[frozenset[str]]) -> tuple[float, float]:
    hit = len(pred & truth)
    return (hit / len(pred) if pred else 1.0), (hit / len(truth) if truth else 1.0)


def planted_images(skimage_data_dir: Path) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """``([(sample_id, bytes)], {sample_id: group})`` of variant groups plus distinct photos."""
    items: list[tuple[str, bytes]] = []
    groups: dict[str, str] = {}
    for name in GROUP_PHOTOS:
        image = Image.open(skimage_data_dir / name).convert("RGB")
        for variant, data in image_variants(image).items():
            sid = hashlib.blake2b(f"{name}/{variant}".encode(), digest_size=16).hexdigest()
            items.append((sid, data))
            groups[sid] = name
    for name in DISTINCT_PHOTOS:
        data = _encode(Image.open(skimage_data_dir / name).convert("RGB"), "JPEG", quality=90)
        sid = hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
        items.append((sid, data))
        groups[sid] = name
    return items, groups


def _shingle_set(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _base_texts(limit: int) -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):
        this = importlib.import_module("this")
    texts = [codecs.decode(this.s, "rot13")]
    for module_name in DOC_MODULES:
        module = importlib.import_module(module_name)
        for _, obj in sorted(vars(module).items()):
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj)
                if doc and len(doc.split()) >= 60:
                    texts.append(" ".join(doc.split()[:120]))
    kept: list[str] = []
    kept_sets: list[set[str]] = []
    for text in texts:
        shingles = _shingle_set(text)
        if all(len(shingles & o) / len(shingles | o) < 0.3 for o in kept_sets):
            kept.append(text)
            kept_sets.append(shingles)
        if len(kept) == limit:
            break
    return kept


def text_variants(text: str, rng: random.Random) -> list[str]:
    """Four edited copies: substitutions, an insertion, a sentence swap, a deletion + case change."""
    words = text.split()
    subst = list(words)
    for i in rng.sample(range(len(words)), max(1, len(words) // 40)):
        subst[i] = rng.choice(FILLER)
    inserted = list(words)
    at = rng.randrange(len(words))
    inserted[at:at] = "Note that this behaviour may change in a future release.".split()
    sentences = re.split(r"(?<=[.!?])\s+", text)
    if len(sentences) >= 3:
        i = rng.randrange(len(sentences) - 1)
        sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
    deleted = list(words)
    del deleted[rng.randrange(len(deleted))]
    return [" ".join(subst), " ".join(inserted), " ".join(sentences), " ".join(deleted).upper()]


def planted_texts() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``([(sample_id, caption)], {sample_id: group})``: 40 base texts with 4 variants each + 40 singles."""
    rng = random.Random(0)
    bases = _base_texts(80)
    items: list[tuple[str, str]] = []
    groups: dict[str, str] = {}
    for b, text in enumerate(bases):
        versions = [text, *text_variants(text, rng)] if b < 40 else [text]
        for v, version in enumerate(versions):
            sid = f"t{b:03d}v{v}"
            items.append((sid, version))
            groups[sid] = f"base{b}"
    return items, groups
