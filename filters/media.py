"""Turning a sample's ``media`` list into PIL images for the image filters.

Image filters score every image of a sample (interleaved documents carry several), so they all need
the same answer to "which items are images, and what are their pixels". Items are decoded from their
encoded bytes (the decode stage stores RGB-normalised PNG/JPEG); a raw ``image/x-raw-rgb`` payload of
``width * height * 3`` bytes is accepted too. Videos and undecodable items come back as ``None`` so the
per-image score lists stay aligned with ``media``.

A model that looks at 64 or 224 pixels does not need a 4000-pixel decode: with ``draft_side`` a JPEG is
decoded by libjpeg at a reduced DCT scale (1/2, 1/4 or 1/8) that keeps both sides >= ``draft_side``,
which is what Pillow's own ``Image.thumbnail`` does (``reducing_gap``): the caller then resizes from
there with its usual filter. Other formats ignore it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

from PIL import Image

__all__ = ["RAW_RGB_MIME", "open_rgb", "decode_image", "media_images", "image_item"]

log = logging.getLogger(__name__)
RAW_RGB_MIME = "image/x-raw-rgb"


def open_rgb(data: bytes, draft_side: int | None = None) -> Image.Image:
    """Encoded image bytes to an RGB image (raises on bad data); see the module doc for ``draft_side``."""
    with Image.open(io.BytesIO(data)) as im:
        if draft_side:
            im.draft("RGB", (draft_side, draft_side))
        return im.convert("RGB")


def decode_image(item: dict[str, Any], draft_side: int | None = None) -> Image.Image | None:
    """The RGB image of one media item, or None if it is not an image or cannot be decoded.

    ``draft_side``: a JPEG may come back smaller than stored, but never below this on either side.
    """
    if item is None or item.get("kind") not in (None, "image") or not item.get("bytes"):
        return None
    data, w, h = item["bytes"], item.get("width"), item.get("height")
    try:
        if item.get("mime") == RAW_RGB_MIME:
            return Image.frombytes("RGB", (int(w), int(h)), data)
        return open_rgb(data, draft_side)
    except Exception as exc:  # noqa: BLE001 - a bad image is data; the row records a null score
        log.debug("undecodable media item: %s", exc)
        return None


def media_images(media: Sequence[dict[str, Any]] | None, draft_side: int | None = None) -> list[Image.Image | None]:
    """Decoded images aligned with ``media`` (None where an item is no usable image)."""
    return [decode_image(item, draft_side) for item in (media or [])]


def image_item(image: Image.Image, fmt: str = "PNG") -> dict[str, Any]:
    """A media struct for ``image`` (tests, generators and library callers)."""
    import hashlib

    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt)
    data = buf.getvalue()
    return {
        "bytes": data,
        "kind": "image",
        "mime": f"image/{fmt.lower()}",
        "width": image.width,
        "height": image.height,
        "sha256": hashlib.sha256(data).hexdigest(),
        "source_mode": image.mode,
        "n_frames": 1,
        "ops": [],
    }
