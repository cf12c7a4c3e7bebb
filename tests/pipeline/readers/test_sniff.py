"""Magic-byte sniffing on real encodes (Pillow) and minimal container headers."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mmcurate.pipeline.readers.sniff import OCTET_STREAM, kind_of, sniff_mime


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp"),
     ("BMP", "image/bmp"), ("TIFF", "image/tiff")],
)
def test_pillow_encodes(fmt: str, mime: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buf, format=fmt)
    assert sniff_mime(buf.getvalue()) == mime
    assert kind_of(mime) == "image"


def _ftyp(major: bytes, *compat: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compat)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "mime"),
    [(_ftyp(b"avif", b"avif", b"mif1"), "image/avif"), (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
     (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"), (_ftyp(b"isom", b"isom", b"avc1"), "video/mp4"),
     (_ftyp(b"qt  ", b"qt  "), "video/quicktime"), (_ftyp(b"M4A ", b"M4A "), "audio/mp4"),
     (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", "video/quicktime"),
     (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
     (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
     (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"), (b"\x00\x00\x01\xba\x44" + b"\x00" * 20, "video/mpeg"),
     ((b"\x47" + b"\x00" * 187) * 3, "video/mp2t"),
     (b"  <!DOCTYPE html><html>", "text/html"), (b"\xef\xbb\xbf<html><body>x", "text/html"),
     (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
     (b"plain words", "text/plain"), (b"", OCTET_STREAM), (b"\x00\x01\x02\x03garbage", OCTET_STREAM)],
)
def test_containers_and_text(data: bytes, mime: str) -> None:
    assert sniff_mime(data) == mime


def test_kinds() -> None:
    assert [kind_of(m) for m in ("video/webm", "image/svg+xml", "text/html", "audio/mp4", OCTET_STREAM, None)] == [
        "video", "text", "text", "audio", None, None,
    ]
