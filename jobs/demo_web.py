"""The demo's web and tar inputs: a URL list served from loopback, and WebDataset tars with hostile members.

The URL list mixes good image URLs with the failures a web crawl meets (404, 5xx, 429, a flaky server
that recovers, a redirect loop, a redirect to a private address, HTML served as an image, an oversize
body, ``noai``, ``file:``/``ftp:`` schemes and IP-literal tricks). The tars hold good samples next to
``../`` and absolute names, a symlink, a duplicate member, a sample with no image, a pickle member, and
one tar cut mid-member. Each planted case maps to the reason the pipeline must record.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.generate import cases as mc

__all__ = ["make_web_files", "serve_image_cases", "write_url_list", "make_tars", "URL_FAULTS", "SERVED_IMAGE_CASES"]

# path under the server -> expected reject reason
URL_FAULTS = {
    "fault/404/x.jpg": "download_v1:http_404",
    "fault/500/x.jpg": "download_v1:http_5xx",
    "fault/429/x.jpg": "download_v1:http_429",
    "fault/loop/x.jpg": "download_v1:too_many_redirects",
    "fault/private/x.jpg": "download_v1:ssrf_blocked",
    "fault/html/x.jpg": "download_v1:content_type_mismatch",
    "fault/huge/x.jpg": "download_v1:too_large",
}
RAW_URL_FAULTS = {
    "file:///etc/passwd": "download_v1:scheme_not_allowed",
    "ftp://example.org/cat.jpg": "download_v1:scheme_not_allowed",
    "http://2130706433/cat.jpg": "download_v1:ssrf_blocked",
    "not a url at all": "download_v1:bad_url",
}


def make_web_files(root: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """Write ``n`` scene images under ``root``; returns (file name, caption) pairs."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        im, caption = mc.scene(rng)
        name = f"web_{i:04d}.jpg"
        (root / name).write_bytes(mc.encode(im, "JPEG", quality=88))
        pairs.append((name, caption))
    return pairs


# Image cases of the local folder that are also served over HTTP: the same reason must come out,
# except where the downloader is the first to see the problem.
SERVED_IMAGE_CASES = {
    "bad_truncated.jpg": "image_decode_v1:image_truncated", "bad_header_only.jpg": "image_decode_v1:image_truncated",
    "bad_bomb.png": "image_decode_v1:decompression_bomb", "bad_too_many_pixels.png": "image_decode_v1:too_many_pixels",
    "bad_text_bomb.png": "image_decode_v1:metadata_bomb", "bad_tiny.png": "image_decode_v1:too_small",
    "bad_aspect.png": "image_decode_v1:aspect_ratio", "bad_empty.jpg": "download_v1:empty_body",
    "bad_html.jpg": "download_v1:content_type_mismatch", "odd_cmyk.jpg": None, "odd_16bit.png": None,
    "odd_palette_alpha.png": None, "odd_animated.gif": None, "odd_exif_rotated.jpg": None,
}


def serve_image_cases(local: Path, web: Path) -> list[tuple[str, str, str | None]]:
    """Copy the local image cases under ``web/cases/``; returns (path, caption, expected reason)."""
    (web / "cases").mkdir(parents=True, exist_ok=True)
    served = []
    for name, reason in SERVED_IMAGE_CASES.items():
        if (local / name).exists():
            (web / "cases" / name).write_bytes((local / name).read_bytes())
            served.append((f"cases/{name}", f"served case {name}", reason))
    return served


def write_url_list(path: Path, base_url: str, pairs: list[tuple[str, str]],
                   cases: list[tuple[str, str, str | None]] = ()) -> dict[str, str | None]:
    """Parquet URL list (url, caption, extra metadata); returns {url: expected reason or None}."""
    expected: dict[str, str | None] = {}
    rows = []
    for i, (name, caption) in enumerate(pairs):
        path_ = f"fault/flaky/{name}" if i % 10 == 3 else f"fault/noai/{name}" if i == 5 else name
        url = f"{base_url}/{path_}"
        rows.append({"url": url, "caption": caption, "license": "CC0", "rank": i})
        expected[url] = "download_v1:disallowed_by_header" if i == 5 else None
    for path_, reason in URL_FAULTS.items():
        url = f"{base_url}/{path_}"
        rows.append({"url": url, "caption": "a broken link", "license": None, "rank": -1})
        expected[url] = reason
    for path_, caption, reason in cases:
        url = f"{base_url}/{path_}"
        rows.append({"url": url, "caption": caption, "license": None, "rank": -2})
        expected[url] = reason
    for url, reason in RAW_URL_FAULTS.items():
        rows.append({"url": url, "caption": "a hostile link", "license": None, "rank": -1})
        expected[url] = reason
    pq.write_table(pa.Table.from_pylist(rows), path)
    return expected


def _add(tar: tarfile.TarFile, name: str, data: bytes, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mtime = (len(data) if kind == tarfile.REGTYPE else 0), kind, link, 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def make_tars(root: Path, n_good: int, seed: int) -> dict[str, str | None]:
    """Two tars (one hostile, one truncated); returns {'<tar>:<key>': expected reason or None}."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    expected: dict[str, str | None] = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(n_good):
            im, caption = mc.scene(rng)
            _add(tar, f"{i:06d}.jpg", mc.encode(im, "JPEG", quality=85))
            _add(tar, f"{i:06d}.txt", caption.encode())
            expected[f"hostile.tar:{i:06d}"] = None
        _add(tar, "../escape.jpg", b"x")
        _add(tar, "link.jpg", b"", tarfile.SYMTYPE, "/etc/passwd")
        _add(tar, "dup.jpg", mc.encode(im, "JPEG"))
        _add(tar, "dup.jpg", mc.encode(im, "JPEG"))
        _add(tar, "dup.txt", b"duplicate")
        _add(tar, "nopic.txt", b"a caption without its image")
        _add(tar, "evil.pyd", b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.")
        _add(tar, "evil.txt", b"pickle payload")
    (root / "hostile.tar").write_bytes(buf.getvalue())
    expected |= {"hostile.tar:../escape.jpg": "webdataset_reader_v1:unsafe_member_name",
                 "hostile.tar:link": "webdataset_reader_v1:link_member",
                 "hostile.tar:dup": "webdataset_reader_v1:duplicate_member",
                 "hostile.tar:nopic": "webdataset_reader_v1:missing_image",
                 "hostile.tar:evil": "webdataset_reader_v1:unsafe_member_type"}
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w") as tar:
        for i in range(3):
            im, caption = mc.scene(rng)
            _add(tar, f"t{i:05d}.png", mc.encode(im, "PNG"))
            _add(tar, f"t{i:05d}.txt", caption.encode())
    data = good.getvalue()
    (root / "truncated.tar").write_bytes(data[: len(data) * 2 // 3])
    expected["truncated.tar:<shard>"] = "webdataset_reader_v1:shard_truncated"
    return expected
