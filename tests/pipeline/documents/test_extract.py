"""Extraction order and content on hand-built pages, and the bad-input caps."""

import pytest

from mmcurate.pipeline.documents.extract import ExtractLimits, extract_nodes
from mmcurate.pipeline.documents.html_text import PageError, decode_html

LONG = "with enough ordinary words in it to count as the main content of this article page"
PAGE = f"""<html><head><base href="http://cdn.example/a/"></head><body>
<nav><a href="/">Home</a><img src="logo.png"> About</nav>
<article><h1>Title of the article</h1><p>First paragraph {LONG}.</p>
<img src="one.jpg" alt="the first image">
<p>Second paragraph {LONG}.</p>
<picture><source srcset="two-small.webp 480w, two-big.webp 1200w"><img alt="two"></picture>
<img src="data:image/gif;base64,R0lGOD" data-src="/lazy/three.jpg">
<img src="javascript:alert(1)"><img srcset="four.png 1x, four@2x.png 2x">
<p>Third paragraph {LONG}.</p></article><footer>Copyright 2024</footer></body></html>"""


def test_order_content_and_urls():
    ex = extract_nodes(PAGE, "http://site.example/post/1.html")
    kinds = [n["kind"] for n in ex.nodes]
    assert kinds == ["text", "text", "image", "text", "image", "image", "image", "text"]
    urls = [n["url"] for n in ex.nodes if n["kind"] == "image"]
    assert urls == ["http://cdn.example/a/one.jpg", "http://cdn.example/a/two-big.webp",
                    "http://cdn.example/lazy/three.jpg", "http://cdn.example/a/four@2x.png"]
    assert ex.nodes[2]["alt"] == "the first image"
    assert ex.nodes[1]["text"].startswith("First paragraph")
    assert not any("Copyright" in (n["text"] or "") or "logo" in (n["url"] or "") for n in ex.nodes)
    assert ex.refused == {"scheme_refused": 1}


def test_relative_without_base_refused_and_data_uri_cap():
    page = f"<html><body><article><p>{LONG}</p><img src='x.png'><img src='data:image/png;base64,{'A' * 5000}'>" \
           f"<img src='data:image/png;base64,AAAA'></article></body></html>"
    ex = extract_nodes(page, None, ExtractLimits(max_data_uri_bytes=1000))
    assert ex.refused == {"relative_without_base": 1, "data_uri_too_large": 1}
    assert [n["url"] for n in ex.nodes if n["kind"] == "image"] == ["data:image/png;base64,AAAA"]


def test_image_cap_and_depth_cap():
    page = f"<html><body><article><p>{LONG}</p>" + "<img src='http://a.example/i.png'>" * 30 + "</article></body></html>"
    ex = extract_nodes(page, None, ExtractLimits(max_images=10))
    assert sum(n["kind"] == "image" for n in ex.nodes) == 10 and ex.refused["over_image_cap"] == 20
    with pytest.raises(PageError) as err:
        extract_nodes("<div>" * 12000 + "x" + "</div>" * 12000)
    assert err.value.code == "too_deep"


def test_declared_charset_honoured():
    raw = "<html><head><meta charset='windows-1251'></head><body>Привет</body></html>".encode("cp1251")
    text, flags = decode_html(raw)
    assert "Привет" in text and flags == []
    text, flags = decode_html(b"<p>ok \xff bad</p>", "text/html; charset=utf-8")
    assert "\ufffd" in text and flags == ["charset_replaced"]
