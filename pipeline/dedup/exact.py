"""Exact-duplicate signatures: sha256 of the original bytes and of the decoded pixels.

Two hashes because two kinds of "the same image" occur on the web:

* identical files (mirrors, CDN copies) — same bytes, caught by ``bytes_sha256``;
* identical pixels in a different container — a PNG re-saved by another encoder, metadata stripped,
  a lossless re-encode, EXIF orientation applied vs. stored — caught by ``pixel_sha256``, a sha256
  over the decoded, EXIF-transposed RGB(A) pixels plus their size. Lossy re-encodes change pixels and
  are the perceptual hash's job (:mod:`mmcurate.pipeline.dedup.phash`).

A row may hold several media items; its hash covers all of them in order, so two rows are exact
duplicates only if every item is. Rows without media get null hashes (nothing to compare). An item
that cannot be decoded still has a bytes hash; its pixel hash falls back to the bytes hash so the
row is still comparable, and the decode stage (not this one) is the place that rejects it.

The stage only signs rows; grouping rows by hash across the whole dataset is set-level work done by
:func:`mmcurate.pipeline.dedup.global_dedup.exact_duplicates` (or its Ray twin).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
from PIL import Image

from mmcurate.pipeline.dedup._media import bytes_sha256, iter_images
from mmcurate.pipeline.stage import Resources, RowStage
from mmcurate.schemas import sample as S

__all__ = ["BYTES_SHA256", "PIXEL_SHA256", "pixel_digest", "ExactHash"]

BYTES_SHA256 = "bytes_sha256"
PIXEL_SHA256 = "pixel_sha256"


def pixel_digest(image: Image.Image) -> str:
    """sha256 (hex) of an image's decoded pixels, independent of container and metadata.

    Pixels are normalised to RGB, or RGBA when the image has transparency (dropping alpha would make
    a watermark-on-transparent image equal to its background). Size is hashed too: the same byte
    stream can be reshaped into different images.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    rgb = image if image.mode == mode else image.convert(mode)
    digest = hashlib.sha256(f"{mode}:{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def _combine(parts: list[str]) -> str | None:
    """One hash for a row: the item hash itself for one item, a hash of the list for several."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(kw_only=True)
class ExactHash(RowStage):
    """Write ``bytes_sha256`` and ``pixel_sha256`` (hex strings) for every row with media."""

    name: ClassVar[str] = "exact_hash_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(BYTES_SHA256, pa.string(), metadata={"doc": "sha256 of the row's original media bytes (all items)"}),
        pa.field(PIXEL_SHA256, pa.string(),
                 metadata={"doc": "sha256 of the row's decoded RGB(A) pixels + size (all items); catches lossless re-encodes"}),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)

    batch_size: int = 64

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        items = row.get(S.MEDIA) or []
        byte_parts = [bytes_sha256(item) for item in items]
        pixel_parts: list[str] = []
        images = iter(iter_images(row))
        for item, byte_hash in zip(items, byte_parts, strict=True):
            if item.get("kind") not in (None, "image"):
                pixel_parts.append(byte_hash)  # a video's identity is its bytes
                continue
            image = next(images)
            pixel_parts.append(pixel_digest(image) if image is not None else byte_hash)
        return {BYTES_SHA256: _combine(byte_parts), PIXEL_SHA256: _combine(pixel_parts)}
