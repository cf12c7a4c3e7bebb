"""Media suffix versus first bytes: junk named ``.jpg`` is refused after 512 bytes, not after 60 MB.

Eight 60 MB junk files named ``.jpg`` once cost ~8 GB before decode rejected them, because every
reader loaded a whole file before anything looked at it. Readers (folder, tar) read the first
:data:`HEAD_BYTES` of a member whose suffix names a media kind, ask :func:`mmcurate.pipeline.readers.sniff.sniff_mime`
(magic bytes only, no decoder) and skip the rest when the two disagree. Only files of at least
:data:`MIN_CHECKED_BYTES` are judged here: a small one costs nothing to load, and decode names it more
precisely (``not_an_image`` for an HTML error page, ``format_not_allowed`` for a PDF). A file with a
suffix that names no media kind is not judged here either.
"""

from __future__ import annotations

__all__ = ["HEAD_BYTES", "MIN_CHECKED_BYTES", "MEDIA_SUFFIX_KINDS", "wrong_magic"]

HEAD_BYTES = 512  # enough for every container signature sniff_mime knows
MIN_CHECKED_BYTES = 1024**2
_IMAGE = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "avif", "heic")
_VIDEO = ("mp4", "webm", "mkv", "mov", "avi", "m4v")
_AUDIO = ("wav", "flac", "mp3", "ogg", "opus", "m4a", "aac")
# mp4 and ogg carry audio or video alike, so the two are interchangeable here; decode tells them apart.
MEDIA_SUFFIX_KINDS: dict[str, tuple[str, ...]] = {
    **{s: ("image",) for s in _IMAGE}, **{s: ("video", "audio") for s in (*_VIDEO, *_AUDIO)}}


def wrong_magic(name: str, head: bytes, size: int) -> str | None:
    """Why ``head`` (the first bytes of a ``size``-byte file) contradicts the media kind ``name``'s suffix
    names; None if it fits, or if the file is too small to be worth judging before decode."""
    kinds = MEDIA_SUFFIX_KINDS.get(name.rsplit(".", 1)[-1].lower())
    if kinds is None or size < MIN_CHECKED_BYTES:
        return None
    from mmcurate.pipeline.readers.sniff import kind_of, sniff_mime

    mime = sniff_mime(head)
    if kind_of(mime) in kinds:
        return None
    return f"suffix .{name.rsplit('.', 1)[-1]} but the bytes start as {mime} ({head[:8].hex()})"
