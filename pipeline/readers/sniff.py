"""Magic-byte MIME sniffing: what a body *is*, whatever its ``Content-Type`` header claims.

Servers lie: error pages come back as ``200 text/html`` under an ``.jpg`` URL, PNGs are served as
``image/jpeg``, CDNs send ``application/octet-stream`` for everything. So the downloader trusts only
the first bytes. This is a small, dependency-free table of the formats the pipeline can decode
(images: JPEG, PNG, GIF, WEBP, BMP, TIFF, AVIF, HEIC; video: MP4, MOV, WEBM, MKV, AVI, MPEG-PS, TS;
audio: WAV, FLAC, MP3, Ogg Vorbis/Opus, M4A, ADTS AAC) plus HTML/XML/text detection so an error
page is named as such in the reject detail. It decides the *kind* only; whether the bytes decode is
the decode stage's job.
"""

from __future__ import annotations

__all__ = ["OCTET_STREAM", "sniff_mime", "kind_of"]

OCTET_STREAM = "application/octet-stream"

# ISO base media file format (``ftyp`` box) brands. HEIF brands are image; the rest are video.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_QT_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash",
    b"m4v ", b"M4V ", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"mmp4", b"f4v ", b"MSNV", b"XAVC",
}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
# A QuickTime file may start with any top-level atom instead of ``ftyp``.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# The first Ogg page's packet says which codec the stream carries (RFC 3533 + each codec's header).
_OGG_AUDIO = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")
_OGG_VIDEO = (b"\x80theora", b"\x80kate", b"fishead")
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<title", b"<iframe", b"<!--")


def _iso_bmff(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[0:4], "big")
    end = min(len(head), size if 16 <= size <= 4096 else 64)
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    if any(b in _AVIF_BRANDS for b in brands):  # AVIF files also list the generic 'mif1'
        return "image/avif"
    for brand in brands:  # the major brand decides first, then the compatible brands in order
        for table, mime in ((_HEIC_BRANDS, "image/heic"), (_QT_BRANDS, "video/quicktime"),
                            (_MP4_BRANDS, "video/mp4"), (_AUDIO_BRANDS, "audio/mp4")):
            if brand in table:
                return mime
    return "video/mp4"  # an unknown brand in an ftyp box: ISO BMFF video is by far the common case


def _text(head: bytes) -> str | None:
    sample = head[:1024]
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    lowered = sample.lstrip(b" \t\r\n").lower()
    if lowered.startswith(_HTML_PREFIXES):
        return "text/html"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<svg"):
        return "image/svg+xml" if b"<svg" in lowered else "text/xml"
    if not sample or b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # a multi-byte character cut at the window's end is fine
            return None
    return "text/plain"


def _mpeg_audio(head: bytes) -> str | None:
    """MP3 (with or without an ID3v2 tag) or ADTS AAC: an MPEG audio frame sync at byte 0."""
    if head.startswith(b"ID3") and len(head) >= 10:
        return "audio/mpeg"
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0x3
    if layer == 0:  # ADTS: layer bits are always 00; sampling-frequency index 13-15 is invalid
        return "audio/aac" if head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0xF < 13 else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    version = (head[1] >> 3) & 0x3
    return "audio/mpeg" if version != 1 and bitrate != 0xF and rate != 0x3 else None


def _ogg(head: bytes) -> str:
    first = head[:200]
    if any(tag in first for tag in _OGG_VIDEO):
        return "video/ogg"
    return "audio/ogg" if any(tag in first for tag in _OGG_AUDIO) else "application/ogg"


def sniff_mime(data: bytes) -> str:
    """The MIME type that ``data``'s leading bytes prove, or ``application/octet-stream``."""
    head = bytes(data[:4096])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}.get(head[8:12], OCTET_STREAM)
    if head.startswith((b"RF64", b"BW64")) and head[8:12] == b"WAVE":  # WAV over 4 GiB (EBU Tech 3306)
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return _ogg(head)
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) >= 18 and head[6:10] == b"\x00\x00\x00\x00":
        if int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
            return "image/bmp"
    iso = _iso_bmff(head)
    if iso is not None:
        return iso
    if len(head) >= 8 and head[4:8] in _QT_ATOMS:
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video/mpeg"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47 and (len(head) < 377 or head[376] == 0x47):
        return "video/mp2t"
    return _mpeg_audio(head) or _text(head) or OCTET_STREAM


def kind_of(mime: str | None) -> str | None:
    """'image', 'video' or 'audio' for media the pipeline decodes, 'text' for text and markup, else ``None``."""
    if not mime:
        return None
    if mime == "image/svg+xml":
        return "text"  # markup that can carry script; never an image for training purposes
    major = mime.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major
    if major == "text":
        return "text"
    return None
