"""Inline SVG charts for the report: horizontal bars, histograms with thresholds, a 2-D heatmap.

Hand-written SVG rather than matplotlib: the report must be self-contained (no external JS/CSS, no
network at view time), the charts are simple, and it keeps a plotting stack out of the install. Every
chart is one ``<svg class="plot" data-plot="KEY">`` element with a ``<title>``, so tests and
screen readers can find each one in the DOM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from mmcurate.jobs.stats.hist import Histogram, Histogram2D

__all__ = ["bar_chart", "histogram_chart", "heatmap_chart", "fmt"]

_W = 560  # chart width in px; two fit side by side at 1280 px
_BAR = "#4e79a7"
_TARGET = "#e15759"
_REJECTED = "#f28e2b"
_FONT = 'font-family="sans-serif" font-size="11"'


def fmt(value: float | int | None) -> str:
    """Compact number: 1234567 -> 1.23M, 0.01234 -> 0.0123."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int) or float(value).is_integer() or abs(value) >= 1000:
        value = round(value)
        value = int(value)
        for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= 10 * div:
                return f"{value / div:.3g}{suffix}"
        return str(value)
    return f"{value:.3g}"


def _open(key: str, title: str, height: int) -> list[str]:
    return [
        f'<svg class="plot" data-plot="{escape(key)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{_W}" height="{height}" viewBox="0 0 {_W} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="14" {_FONT} font-weight="bold">{escape(title)}</text>',
    ]


def bar_chart(
    key: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    targets: Sequence[float | None] | None = None,
    colors: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one per label, value printed at the end; optional target ticks."""
    row, label_w, top = 18, 230, 24
    height = top + row * max(len(labels), 1) + 8
    top_value = max([*values, *[t for t in (targets or []) if t]], default=0) or 1
    scale = (_W - label_w - 70) / top_value
    out = _open(key, title, height)
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        y = top + i * row
        color = colors[i] if colors else _BAR
        short = label if len(label) <= 38 else label[:36] + "…"
        out.append(f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(short)}</text>')
        out.append(
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{max(value * scale, 0.5):.1f}" '
            f'height="{row - 5}" fill="{color}"><title>{escape(label)}: {value:,}</title></rect>'
        )
        out.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + 12}" {_FONT}>{fmt(value)}</text>')
        target = targets[i] if targets else None
        if target:
            x = label_w + target * scale
            out.append(
                f'<line class="target" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + row - 2}" '
                f'stroke="{_TARGET}" stroke-width="2"><title>target {fmt(target)}</title></line>'
            )
    out.append("</svg>")
    return "\n".join(out)


def histogram_chart(key: str, title: str, hist: Histogram, thresholds: Sequence[float] = (),
                    rejected: Histogram | None = None) -> str:
    """Histogram bars with x-axis labels at both ends and the middle; thresholds as red lines.

    With ``rejected`` (same edges), each bin stacks the rejected rows (orange) on the accepted (blue), the
    kept share is printed in the title line, and every threshold says how many rows lie on each side.
    """
    height, left, right, top, bottom = 190, 44, 12, 24, 30
    plot_w, plot_h = _W - left - right, height - top - bottom
    dropped = rejected.counts if rejected is not None else [0] * hist.bins
    totals = [a + r for a, r in zip(hist.counts, dropped)]
    peak = max(totals, default=0) or 1
    bar_w = plot_w / hist.bins
    kept, scored = sum(hist.counts), sum(totals)
    label = title if rejected is None else f"{title} — kept {kept:,} of {scored:,} ({100 * kept / max(scored, 1):.1f} %)"
    out = _open(key, label, height)
    out.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" {_FONT}>{fmt(peak)}</text>')
    out.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {_FONT}>0</text>')
    for i, (n, r) in enumerate(zip(hist.counts, dropped)):
        lo = hist.lo + i * hist.width
        base = top + plot_h
        for cls, count, color, what in (("bar", n, _BAR, "accepted"), ("bar rejected", r, _REJECTED, "rejected")):
            if count:
                h = max(plot_h * count / peak, 1.0)
                base -= h
                out.append(
                    f'<rect class="{cls}" x="{left + i * bar_w:.1f}" y="{base:.1f}" '
                    f'width="{max(bar_w - 1, 0.5):.1f}" height="{h:.1f}" fill="{color}">'
                    f"<title>[{fmt(lo)}, {fmt(lo + hist.width)}): {count:,} {what}</title></rect>"
                )
    if not any(totals):
        middle = f'x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle"'
        out.append(f"<text {middle} {_FONT}>no values</text>")
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>'
    )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        out.append(
            f'<text x="{left + frac * plot_w:.1f}" y="{height - 12}" text-anchor="{anchor}" {_FONT}>'
            f"{fmt(hist.lo + frac * (hist.hi - hist.lo))}</text>"
        )
    for k, t in enumerate(thresholds):
        frac = (t - hist.lo) / (hist.hi - hist.lo)
        x = left + min(max(frac, 0.0), 1.0) * plot_w
        out.append(
            f'<line class="threshold" data-value="{t!r}" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{_TARGET}" stroke-width="2" stroke-dasharray="4 2"/>'
        )
        out.append(
            f'<text x="{x + 3:.1f}" y="{top + 10 + 12 * k}" fill="{_TARGET}" {_FONT}>threshold {fmt(t)}'
            f"{' (off scale)' if not 0 <= frac <= 1 else ''}</text>"
        )
    if rejected is not None:
        out.append(f'<text x="{_W - right}" y="14" text-anchor="end" {_FONT}>'
                   f'<tspan fill="{_BAR}">■ accepted</tspan> <tspan fill="{_REJECTED}">■ rejected</tspan></text>')
    out.append("</svg>")
    return "\n".join(out)


def heatmap_chart(key: str, title: str, grid: Histogram2D, xlabel: str, ylabel: str) -> str:
    """Counts on an x-by-y grid, darker = more (log scale, so rare sizes stay visible)."""
    left, top, bottom = 50, 24, 40
    size = 300
    height = top + size + bottom
    cell_w, cell_h = size / grid.x.bins, size / grid.y.bins
    peak = max((max(col) for col in grid.counts), default=0) or 1
    out = _open(key, title, height)
    for i, column in enumerate(grid.counts):
        for j, n in enumerate(column):
            if n:
                shade = 0.15 + 0.85 * math.log1p(n) / math.log1p(peak)
                out.append(
                    f'<rect class="cell" x="{left + i * cell_w:.1f}" y="{top + size - (j + 1) * cell_h:.1f}" '
                    f'width="{cell_w:.1f}" height="{cell_h:.1f}" fill="{_BAR}" fill-opacity="{shade:.2f}">'
                    f"<title>{n:,}</title></rect>"
                )
    out.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left}" y="{top + size + 14}" {_FONT}>{fmt(grid.x.lo)}</text>')
    out.append(
        f'<text x="{left + size}" y="{top + size + 14}" text-anchor="end" {_FONT}>{fmt(grid.x.hi)}</text>'
    )
    below = f'x="{left + size / 2}" y="{top + size + 30}" text-anchor="middle"'
    out.append(f"<text {below} {_FONT}>{escape(xlabel)}</text>")
    out.append(f'<text x="{left - 4}" y="{top + size}" text-anchor="end" {_FONT}>{fmt(grid.y.lo)}</text>')
    out.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" {_FONT}>{fmt(grid.y.hi)}</text>')
    out.append(f'<text x="{left + size + 8}" y="{top + size / 2}" {_FONT}>{escape(ylabel)} ↑</text>')
    out.append("</svg>")
    return "\n".join(out)
