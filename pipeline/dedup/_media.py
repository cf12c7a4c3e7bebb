"""Decoding the media items of a sample row for hashing (private helper of the dedup stages).

Both image-hash stages need the same thing: each image item of a row as a Pillow image, oriented as
the decode stage would orient it (EXIF transpose), with undecodable items reported rather than
raised. Videos are skipped here: their exact identity is the bytes hash, and their near-duplicate
signature is a sequence of frame pHashes decoded in the video sandbox (:mod:`.video_phash`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

from PIL import Image, ImageOps

__all__ = ["bytes_sha256", "iter_images"]

# No global Pillow settings here: images reach the hashes only after image_decode_v1 validated them
# (size, bombs), and changing Image.MAX_IMAGE_PIXELS would weaken every other decoder in the process.


def bytes_sha256(item: dict[str, Any]) -> str:
    """The item's ingest sha256 when the reader recorded it, else computed from its bytes."""
    recorded = item.get("sha256")
    if recorded:
        return str(recorded)
    return hashlib.sha256(item.get("bytes") or b"").hexdigest()


def iter_images(row: dict[str, Any], draft: tuple[int, int] | None = None) -> Iterator[Image.Image | None]:
    """Each image item of ``row`` decoded and EXIF-transposed; ``None`` for an item that fails.

    ``draft`` lets JPEG decode at a reduced DCT scale that is still at least this size, which is
    4-8x faster and harmless for a perceptual hash that downsamples to 32x32 anyway.
    """
    for item in row.get("media") or []:
        if item.get("kind") not in (None, "image"):
            continue
        data = item.get("bytes")
        if not data:
            yield None
            continue
        try:
            image = Image.open(io.BytesIO(data))
            if draft is not None and image.format == "JPEG":
                image.draft("RGB", draft)
            image.load()
            yield ImageOps.exif_transpose(image)
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            yield None
