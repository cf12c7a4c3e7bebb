"""Build small WARC files (``warcio``): test fixtures and the demo crawl.

``write_warc`` writes one ``response`` record per page or image. ``demo_crawl`` turns real HTML pages
(e.g. from Debian documentation packages: ``/usr/share/doc/python3*/html``) into a WARC and appends the
hostile pages the document path must survive (deep nesting, 10,000+ images, broken charset,
``javascript:`` images, boilerplate only).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_warc", "hostile_pages", "demo_crawl"]


def write_warc(path: str | Path, records: Iterable[tuple[str, bytes, str]], gzip: bool = True) -> Path:
    """``records``: (target URL, payload, Content-Type) written as HTTP 200 responses, in order."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = Path(path)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        for url, payload, ctype in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(payload)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload),
                                                          http_headers=headers))
    return path


def hostile_pages() -> list[tuple[str, bytes, str]]:
    p = "<p>Some ordinary sentence so that the page has main content worth keeping here.</p>"
    return [
        ("http://hostile.test/deep.html", ("<html><body>" + "<div>" * 60_000 + p + "</div>" * 60_000
                                           + "</body></html>").encode(), "text/html"),
        ("http://hostile.test/many.html", ("<html><body><article>" + p + '<img src="i.png">' * 10_050 + p
                                           + "</article></body></html>").encode(), "text/html"),
        ("http://hostile.test/latin1.html", ("<html><head><meta charset='iso-8859-1'></head><body><article><p>"
                                             "Caf\xe9 cr\xe8me br\xfbl\xe9e, a p\xe2tisserie page long enough to "
                                             "count.</p></article></body></html>").encode("latin-1"), "text/html"),
        ("http://hostile.test/broken.html", b"<html><body><article><p>bad bytes \xff\xfe\xfa in utf-8 text that "
                                            b"is long enough to count</p></article></body></html>",
         "text/html; charset=utf-8"),
        ("http://hostile.test/js.html", ('<html><body><article>' + p + '<img src="javascript:alert(1)">'
                                         '<img src="file:///etc/passwd">' + p + "</article></body></html>").encode(),
         "text/html"),
        ("http://hostile.test/boiler.html", b"<html><body><nav><a href='/'>Home</a></nav><footer>(c) 2024</footer>"
                                            b"</body></html>", "text/html"),
    ]


def demo_crawl(out: str | Path, html_dirs: Iterable[str | Path], max_pages: int = 200,
               base: str = "http://docs.example/") -> Path:
    """A WARC.gz of up to ``max_pages`` real HTML pages (plus their local images) and the hostile pages."""
    records: list[tuple[str, bytes, str]] = []
    for root in map(Path, html_dirs):
        for page in sorted(root.rglob("*.html"))[:max_pages - len(records)]:
            records.append((base + page.relative_to(root).as_posix(), page.read_bytes(), "text/html"))
        for img in sorted(root.rglob("*.png"))[:50]:
            records.append((base + img.relative_to(root).as_posix(), img.read_bytes(), "image/png"))
    return write_warc(out, records + hostile_pages())
