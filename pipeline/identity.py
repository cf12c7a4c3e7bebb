"""Sample identity: content-derived, stable ids and text decoding of raw caption bytes.

``sample_id`` hashes where a sample came from *and* what it holds, so a rerun (or a Ray retry) of the
same input gives the same id, an edited file gets a new one, and two copies of one photo at two paths
stay two samples (exact dedup decides about them, with a record) instead of colliding silently.
"""

from __future__ import annotations

import hashlib

__all__ = ["sha256_hex", "make_sample_id", "decode_caption_bytes"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_sample_id(source: str, locator: str, content: bytes, caption: str | None) -> str:
    """32 hex chars (blake2b-128) over source, locator, content hash and caption."""
    h = hashlib.blake2b(digest_size=16)
    for part in (source.encode(), locator.encode(), hashlib.sha256(content).digest(), (caption or "").encode()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def decode_caption_bytes(raw: bytes) -> tuple[str, str | None]:
    """Text of a caption file and a flag naming the fallback used, or raise UnicodeDecodeError.

    UTF-8 (with or without BOM) first; then Windows-1252, the usual culprit in web alt text. Latin-1
    is not a fallback: it decodes anything, so it would turn binary junk into a 'caption'.
    """
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    return raw.decode("cp1252"), "caption_cp1252"
