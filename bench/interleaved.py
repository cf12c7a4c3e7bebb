"""Benchmark: HTML pages -> ordered document nodes, per core, next to the extractor called bare.

``python bench/interleaved.py [--html-dir /usr/share/doc] [--seconds 2] [--rounds 3]`` loads every ``*.html``
under the folder (real pages shipped by Debian packages), decodes them once, then times on one core:

* ``bare``: ``resiliparse.extract.html2text.extract_plain_text(html, main_content=True)``;
* ``nodes``: :func:`mmcurate.pipeline.documents.extract.extract_nodes` (image marking, caps, nodes);
* ``document``: the reader's whole per-page path from bytes (charset decode + nodes + row + ids).

Goal (issue 18): ``nodes`` >= 0.8x ``bare`` documents per second. A folder without pages is an error.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

__all__: list[str] = []


def rate(fn: Callable[[object], object], items: list, seconds: float) -> float:
    """Documents per second of ``fn`` over ``items``, repeated until ``seconds`` have passed."""
    done, start = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--html-dir", default="/usr/share/doc")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from resiliparse.extract.html2text import extract_plain_text

    from mmcurate.pipeline.documents.extract import ExtractLimits, extract_nodes
    from mmcurate.pipeline.documents.html_text import decode_html
    from mmcurate.pipeline.documents.rows import page_row
    from mmcurate.pipeline.readers.base import WorkUnit

    paths = sorted(p for p in Path(args.html_dir).rglob("*.html") if p.is_file())
    if not paths:
        raise SystemExit(f"no *.html under {args.html_dir}")
    raw = [p.read_bytes() for p in paths]
    pages = [decode_html(b)[0] for b in raw]
    unit, limits = WorkUnit("bench", 0, "{}"), ExtractLimits()
    # Alternate the three for ``--rounds`` and keep each one's best: the machine is shared, and a burst
    # of someone else's load would otherwise land on whichever ran at that moment.
    bare = nodes = doc = 0.0
    for _ in range(args.rounds):
        bare = max(bare, rate(lambda h: extract_plain_text(h, main_content=True), pages, args.seconds))
        nodes = max(nodes, rate(lambda h: extract_nodes(h, "http://docs.example/p.html"), pages, args.seconds))
        doc = max(doc, rate(lambda b: page_row(unit, 0, stage="bench", source="bench", locator="p",
                                               url="http://docs.example/p", data=b, content_type=None,
                                               limits=limits), raw, args.seconds))
    n_nodes = sum(len(extract_nodes(h, "http://docs.example/p.html").nodes) for h in pages)
    n_img = sum(n["kind"] == "image" for h in pages for n in extract_nodes(h, "http://docs.example/p.html").nodes)
    mb = sum(map(len, raw)) / 1e6
    print(f"pages {len(pages)} ({mb:.1f} MB, {n_nodes} nodes, {n_img} images) from {args.html_dir}")
    print(f"bare extract_plain_text  {bare:8.1f} docs/s/core")
    print(f"extract_nodes            {nodes:8.1f} docs/s/core  ({nodes / bare:.2f}x bare; goal >= 0.80x)")
    print(f"page -> document row     {doc:8.1f} docs/s/core  ({doc / bare:.2f}x bare)")


if __name__ == "__main__":
    main()
