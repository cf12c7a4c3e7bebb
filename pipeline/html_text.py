"""Markup out, text kept: the visible text of an HTML fragment, using the standard library's HTML parser.

A regex ``<[^>]*>`` turned ``a cat < 3 kg and > 1 kg`` into ``a cat 1 kg``. The tokenizer in
:class:`html.parser.HTMLParser` only opens a tag at ``<`` followed by a letter, so ``< 3`` is text. Two
more rules keep text that is not markup:

* only tags with an HTML element name are removed (:data:`HTML_ELEMENTS`); ``x<y and y>z`` or a
  ``<image>`` placeholder parse as tags too, but are written back verbatim (and placeholders are then
  the business of :mod:`mmcurate.pipeline.text_safety`);
* entities are *not* decoded here (the parser never sees an ``&``): the caller unescapes exactly once,
  before parsing, so ``&amp;lt;`` stays ``&lt;`` and can never become a tag.

``script``/``style`` content, comments, doctypes and processing instructions are dropped. A removed tag
becomes a space (``a<br>b`` is two words); the caller collapses whitespace.
"""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["HTML_ELEMENTS", "strip_tags"]

HTML_ELEMENTS = frozenset("""
a abbr acronym address area article aside audio b base bdi bdo big blink blockquote body br button canvas
caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt em embed fieldset
figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img
input ins kbd label legend li link main map mark marquee menu meta meter nav nobr noframes noscript object ol
optgroup option output p param picture pre progress q rp rt ruby s samp script section select small source
span strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title tr
track tt u ul var video wbr math
""".split())
_DROP_CONTENT = frozenset({"script", "style", "template", "noscript"})


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.parts: list[str] = []
        self.skip = 0  # depth inside script/style
        self._end_known = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_ELEMENTS:
            self._data(self.get_starttag_text() or "")
            return
        if tag in _DROP_CONTENT:
            self.skip += 1
        self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_ELEMENTS:
            self._data(self.get_starttag_text() or "")
        else:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._end_known = tag in HTML_ELEMENTS
        if self._end_known:
            if tag in _DROP_CONTENT and self.skip:
                self.skip -= 1
            self.parts.append(" ")

    def parse_endtag(self, i: int) -> int:
        # The parser reports only the lowercased name of an end tag; an unknown one goes back verbatim.
        self._end_known = True
        j = super().parse_endtag(i)
        if j > i and not self._end_known:
            self._data(self.rawdata[i:j])
        return j

    def _data(self, text: str) -> None:
        if not self.skip:
            self.parts.append(text)

    def handle_data(self, data: str) -> None:
        self._data(data)


def strip_tags(text: str) -> str:
    """``text`` with HTML element tags, scripts, styles and comments removed; everything else verbatim."""
    if "<" not in text:
        return text
    # '&' is hidden from the parser behind a private-use character absent from the text, so no entity
    # (already unescaped once by the caller) is decoded or mangled here.
    mark = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
    parser = _TextOnly()
    parser.feed(text.replace("&", mark))
    parser.close()
    return "".join(parser.parts).replace(mark, "&")
