"""Pixels for the VQ tokenizer: preprocessing, curated-shard reading, and the built-in training set.

Preprocessing follows Chameleon's ``_vqgan_input_from``: transparency is composited onto white, the
shorter side is resized to the tokenizer resolution and the centre is cropped (bicubic here rather than
Lanczos: 2-3x faster in Pillow, indistinguishable after an f=8 tokenizer). The tokenize stage and the
trainer share :func:`to_pixels`, so train and inference inputs match exactly.

Training reads curated shards — Parquet files written by mmcurate with the sample schema — taking
every ``kind == 'image'`` item of ``media``. :func:`builtin_items` draws the shipped checkpoint's data
without any download: random crops/flips/scales of scikit-image's bundled photos plus procedural scenes
(:func:`mmcurate.pipeline.generate.cases.scene`); :func:`write_image_shards` writes them as such shards.
Held-out photos (:data:`HELDOUT_PHOTOS`) never appear in training.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmcurate.pipeline.atomic import atomic_write
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table

__all__ = ["HELDOUT_PHOTOS", "to_pixels", "decode_pixels", "shard_files", "read_shard_pixels",
           "photo_paths", "builtin_items", "write_image_shards"]

# Whole photos kept out of training: the held-out report and the round-trip tests use them.
HELDOUT_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")
_PHOTO_SUFFIXES = (".png", ".jpg", ".gif")
_SKIP_PHOTOS = ("lbpcascade_frontalface_opencv.xml", "no_time_for_that_tiny.gif")


def to_pixels(im: Image.Image, resolution: int) -> np.ndarray:
    """``(resolution, resolution, 3)`` uint8: RGB on white, shorter side resized, centre crop."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    im = im.convert("RGB")
    w, h = im.size
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (nw - resolution) // 2, (nh - resolution) // 2
    return np.asarray(im.crop((left, top, left + resolution, top + resolution)), dtype=np.uint8)


def decode_pixels(data: bytes, resolution: int) -> np.ndarray:
    """Encoded image bytes to :func:`to_pixels` output (first frame of animated images)."""
    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)
        return to_pixels(im, resolution)


def shard_files(paths: Iterable[str | Path]) -> list[Path]:
    """Parquet files named directly or found (recursively, sorted) under folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.parquet")) if p.is_dir() else [p])
    if not out:
        raise FileNotFoundError(f"no Parquet shards in {list(paths)}")
    return out


def read_shard_pixels(paths: Iterable[str | Path], resolution: int, rank: int = 0, world: int = 1,
                      limit: int | None = None, holdout_every: int = 0, heldout: bool = False) -> np.ndarray:
    """All image items of the shards as ``(N, R, R, 3)`` uint8; worker ``rank`` of ``world`` takes every
    ``world``-th image. Rows marked rejected and undecodable items are skipped.

    ``holdout_every = n > 0`` splits by position: every n-th image is held out; ``heldout`` picks which
    side of the split is returned (the rank split then applies to that side)."""
    pixels: list[np.ndarray] = []
    k = 0
    for path in shard_files(paths):
        table = pq.read_table(path)
        status = table.column(S.STATUS).to_pylist() if S.STATUS in table.column_names else None
        for r, media in enumerate(table.column(S.MEDIA).to_pylist()):
            if status is not None and status[r] != S.STATUS_OK:
                continue
            for item in media or []:
                if not item or item.get("kind") != "image" or not item.get("bytes"):
                    continue
                k += 1
                if holdout_every > 0:
                    if ((k - 1) % holdout_every == 0) != heldout:
                        continue
                    side = (k - 1) // holdout_every if heldout else (k - 1) - (k - 1) // holdout_every - 1
                else:
                    side = k - 1
                if side % world != rank:
                    continue
                try:
                    pixels.append(decode_pixels(item["bytes"], resolution))
                except (OSError, ValueError, Image.DecompressionBombError):
                    continue  # curated shards are decoded already; a bad item is not worth a crash
                if limit is not None and len(pixels) >= limit:
                    return np.stack(pixels)
    if not pixels:
        return np.zeros((0, resolution, resolution, 3), np.uint8)
    return np.stack(pixels)


def photo_paths(split: str) -> list[Path]:
    """scikit-image's bundled photos: ``'heldout'`` (:data:`HELDOUT_PHOTOS`) or ``'train'`` (the rest)."""
    import skimage

    root = Path(skimage.__file__).parent / "data"
    if split == "heldout":
        return [root / n for n in HELDOUT_PHOTOS if (root / n).exists()]
    if split != "train":
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return [p for p in sorted(root.iterdir()) if p.suffix in _PHOTO_SUFFIXES
            and p.name not in HELDOUT_PHOTOS and p.name not in _SKIP_PHOTOS]


def _random_crop(im: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    im = im.convert("RGB")
    w, h = im.size
    side = int(rng.integers(max(size // 2, 8), min(w, h) + 1))  # crops from 0.5x to full zoom
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = im.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.BICUBIC)
    return crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


def builtin_items(split: str, n: int, size: int, seed: int = 0,
                  scene_fraction: float = 0.25) -> list[tuple[Image.Image, str]]:
    """``n`` (image, caption) pairs: photo crops of ``split`` and procedural scenes, ``size`` px square."""
    from mmcurate.pipeline.generate.cases import scene

    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    photos = [(p.stem, Image.open(p)) for p in photo_paths(split)]
    items: list[tuple[Image.Image, str]] = []
    for i in range(n):
        if rng.random() < scene_fraction or not photos:
            items.append(scene(rng, size=size))
        else:
            name, im = photos[i % len(photos)]
            items.append((_random_crop(im, rng, size), f"a crop of the photo {name.replace('_', ' ')}"))
    return items


def write_image_shards(out_dir: str | Path, items: Sequence[tuple[Image.Image, str]],
                       rows_per_shard: int = 512, source: str = "builtin") -> list[Path]:
    """Write ``items`` as sample-schema Parquet shards (PNG bytes, decoded sizes filled in)."""
    out = Path(out_dir)
    paths: list[Path] = []
    for s, start in enumerate(range(0, len(items), rows_per_shard)):
        chunk = items[start:start + rows_per_shard]
        unit = f"{source}-{s:05d}"
        rows = []
        for i, (im, caption) in enumerate(chunk):
            buf = io.BytesIO()
            im.save(buf, "PNG")
            data = buf.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            rows.append({
                S.SAMPLE_ID: hashlib.blake2b(f"{source}|{unit}|{i}|{digest}".encode(), digest_size=16).hexdigest(),
                S.SOURCE: source, S.LOCATOR: f"{unit}/{i}", S.CAPTION: caption,
                S.MEDIA: [{"bytes": data, "kind": "image", "mime": "image/png", "width": im.width,
                           "height": im.height, "sha256": digest}],
                S.UNIT_ID: unit, S.UNIT_INDEX: i, S.UNIT_ROWS: len(chunk), S.STATUS: S.STATUS_OK,
            })
        table: pa.Table = to_table(rows, S.SAMPLE_SCHEMA)
        path = out / f"{unit}.parquet"
        atomic_write(path, lambda fh, t=table: pq.write_table(t, fh))
        paths.append(path)
    return paths
