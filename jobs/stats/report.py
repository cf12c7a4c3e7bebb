"""The stats report: a terminal summary and one self-contained ``report.html``.

The HTML embeds everything (inline SVG charts, base64 JPEG thumbnails, one ``<style>`` block): it opens
from a file, offline, anywhere. Each section is a ``<section id=...>`` that is always present — a
folder without video or token columns gets the section with a note saying why it is empty — so
readers and tests can rely on the structure.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from mmcurate.jobs.stats.aggregate import Distribution, Summary
from mmcurate.jobs.stats.plots import bar_chart, fmt, heatmap_chart, histogram_chart
from mmcurate.jobs.stats.samples import Card
from mmcurate.pipeline import fs

__all__ = ["SECTIONS", "render_html", "write_report", "format_summary"]

# id -> heading, in page order
SECTIONS = {
    "summary": "Summary",
    "funnel": "Funnel",
    "scores": "Scores",
    "images": "Images",
    "captions": "Captions",
    "video": "Video",
    "audio": "Audio",
    "documents": "Documents",
    "dedup": "Dedup",
    "tokens": "Tokens",
    "accepted": "Accepted samples",
    "rejected": "Rejected samples",
}

_CSS = """body{font-family:sans-serif;margin:16px;color:#222}section{margin-bottom:28px}
h2{border-bottom:1px solid #ccc}figure{margin:4px}figcaption{font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:12px}table{border-collapse:collapse}
td,th{padding:2px 8px;text-align:right;font-size:13px}
td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}
.note{color:#777;font-style:italic}.warn{color:#b00}.grid{display:flex;flex-wrap:wrap;gap:8px}
.card{width:180px;border:1px solid #ddd;padding:4px;font-size:11px;overflow-wrap:anywhere}
.card img{width:160px;height:160px;object-fit:contain;background:#eee;display:block}
.noimg{width:160px;height:40px;background:#f3f3f3;color:#999;text-align:center;line-height:40px}
.err{color:#b00}"""


def _stats_line(d: Distribution) -> str:
    """Count, range and exact p50/p95 of the accepted rows; the kept share where rejects carry the metric."""
    r, q = d.range, d.quantiles
    kept = d.kept_share
    share = "" if kept is None else (
        f" kept={100 * kept:.1f}% of {fmt(r.count + (d.rejected.count if d.rejected else 0))} with a value")
    return (
        f"n={fmt(r.count)} nulls={fmt(r.nulls)} min={fmt(r.lo if r.count else None)} "
        f"p50={fmt(q.get(0.5))} p95={fmt(q.get(0.95))} max={fmt(r.hi if r.count else None)} "
        f"mean={fmt(r.mean)}{share}"
    )


def _plots(summary: Summary, group: str) -> str:
    charts = []
    for d in summary.distributions:
        seen = d.range.count or (d.rejected is not None and d.rejected.count)
        if d.metric.group == group and (seen or group == "scores"):  # an all-null score still shows
            charts.append(
                f"<figure>{histogram_chart(d.metric.key, d.metric.title, d.hist, d.thresholds, d.rejected_hist)}"
                f"<figcaption>{escape(_stats_line(d))}</figcaption></figure>"
            )
    return f'<div class="plots">{"".join(charts)}</div>' if charts else ""


def _funnel_html(summary: Summary) -> str:
    f = summary.funnel
    labels, values, colors = ["input"], [f.rows_in], ["#76b7b2"]
    remaining = f.rows_in
    rows = [f"<tr><td>input</td><td>{f.rows_in:,}</td><td></td></tr>"]
    for stage, removed, reasons in f.stages():
        remaining -= removed
        labels.append(f"after {stage} (−{removed:,})")
        values.append(remaining)
        colors.append("#4e79a7")
        detail = ", ".join(f"{r.split(':', 1)[1]} {n:,}" for r, n in reasons.items())
        rows.append(f"<tr><td>{escape(stage)}</td><td>−{removed:,}</td><td>{escape(detail)}</td></tr>")
    labels.append("accepted")
    values.append(f.accepted)
    colors.append("#59a14f")
    rows.append(f"<tr><td><b>accepted</b></td><td><b>{f.accepted:,}</b></td><td></td></tr>")
    reasons = bar_chart("reasons", "rejected rows by reason", list(f.reasons), list(f.reasons.values()))
    funnel = bar_chart("funnel", "funnel: rows remaining after each stage", labels, values, colors=colors)
    return (
        f'<div class="plots">{funnel}'
        f"{reasons}</div><table><tr><th>stage</th><th>rows</th><th>reasons</th></tr>{''.join(rows)}</table>"
        f'<p class="note">Counts from {escape(f.origin)}. The folder does not record the order stages ran in;'
        " they are listed by rows removed. Each rejected row counts once, for the stage that dropped it.</p>"
    )


def _tokens_html(summary: Summary) -> str:
    t = summary.tokens
    if t is None:
        return '<p class="note">not tokenized: the shards have no tokens_* columns.</p>'
    parts = [
        bar_chart(
            "tokens_kind", "tokens per kind (all accepted rows)", list(t.by_kind), list(t.by_kind.values())
        )
    ]
    for key, title, totals in (
        ("modality", "mixture modality", t.by_modality),
        ("source", "source", t.by_source),
    ):
        if totals:
            targets = [t.targets.get(f"{key}:{k}") for k in totals]
            parts.append(
                bar_chart(
                    f"tokens_{key}",
                    f"tokens per {title} (red: budget target)",
                    list(totals),
                    list(totals.values()),
                    targets=targets,
                )
            )
    note = (
        ""
        if t.targets
        else '<p class="note">no budget targets (no mixture/report.json; give them with --budget).</p>'
    )
    return f'<div class="plots">{"".join(parts)}</div>{note}{_plots(summary, "tokens")}'


def _card_html(card: Card) -> str:
    img = f'<img src="{card.thumb}" alt="">' if card.thumb else '<div class="noimg">no preview</div>'
    scores = "<br>".join(
        f"{escape(k)}={fmt(v) if isinstance(v, (int, float)) else escape(str(v))}"
        for k, v in card.scores.items()
    )
    error = f'<div class="err">{escape(card.error)}</div>' if card.error else ""
    return (
        f'<div class="card">{img}<div>{escape(card.caption or "(no caption)")}</div>'
        f"<div><code>{escape(card.where)}</code></div>{error}<div>{scores}</div></div>"
    )


def render_html(summary: Summary, accepted: list[Card], rejected: dict[str, list[Card]]) -> str:
    f = summary.funnel
    check = (
        "<p>Manifest counts match a recount of the shards.</p>"
        if summary.consistent
        else '<p class="warn">Manifest and shards disagree: shards hold '
        f"{summary.recount_accepted:,} accepted rows "
        f"and {sum(summary.recount_reasons.values()):,} rejects.</p>"
    )
    empty = {
        "scores": "no score columns in the shards.",
        "images": "no image items.",
        "captions": "no captions.",
        "video": "no video samples or clips.",
        "audio": "no decoded audio (the audio filters' scores are under Scores).",
        "documents": "no interleaved documents.",
        "dedup": "no dedup removals.",
    }
    body = {
        "summary": (
            f"<p><b>{escape(str(summary.folder.root))}</b> — input {f.rows_in:,} rows, accepted "
            f"{f.accepted:,} ({100 * f.accepted / max(f.rows_in, 1):.1f} %), rejected {f.rejected:,}. "
            f"config {escape(str(summary.folder.job.get('config_hash', '?')))}</p>{check}"
        ),
        "funnel": _funnel_html(summary),
        "tokens": _tokens_html(summary),
        "accepted": f'<div class="grid">{"".join(map(_card_html, accepted))}</div>'
        if accepted
        else '<p class="note">no accepted samples.</p>',
        "rejected": "".join(
            f'<h3 id="reason-{escape(r)}">{escape(r)} ({f.reasons.get(r, 0):,})</h3>'
            f'<div class="grid">{"".join(map(_card_html, cards))}</div>'
            for r, cards in rejected.items()
        )
        or '<p class="note">no rejects.</p>',
    }
    for group, note in empty.items():
        extra = ""
        if group == "images" and summary.sizes is not None:
            extra = heatmap_chart(
                "image_size", "image width × height", summary.sizes, "width (px)", "height (px)"
            )
        html = _plots(summary, group) + extra
        body[group] = html or f'<p class="note">{note}</p>'
    sections = "".join(
        f'<section id="{key}"><h2>{title}</h2>{body[key]}</section>' for key, title in SECTIONS.items()
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mmcurate stats</title>'
        f"<style>{_CSS}</style></head><body><h1>mmcurate dataset statistics</h1>{sections}</body></html>"
    )


def write_report(path: str | Path, html: str) -> None:
    body = html.encode("utf-8")
    fs.write_atomic(path, lambda fh: fh.write(body))


def format_summary(summary: Summary) -> str:
    """The terminal version: funnel, reasons, and one line per distribution."""
    f = summary.funnel
    lines = [
        f"input rows   {f.rows_in:>12,}",
        f"accepted     {f.accepted:>12,}   {100 * f.accepted / max(f.rows_in, 1):5.1f} %",
        f"rejected     {f.rejected:>12,}",
    ]
    for stage, removed, reasons in f.stages():
        lines.append(f"  {stage:<38} {removed:>10,}")
        lines += [f"    {r.split(':', 1)[1]:<36} {n:>10,}" for r, n in reasons.items()]
    if not summary.consistent:
        lines.append("WARNING: manifest counts differ from a recount of the shards")
    lines.append("")
    for d in summary.distributions:
        if d.range.count or (d.rejected is not None and d.rejected.count):
            lines.append(f"{d.metric.key:<34} {_stats_line(d)}")
    if summary.tokens is not None:
        t = summary.tokens
        lines.append("tokens: " + ", ".join(f"{m}={fmt(n)}" for m, n in t.by_kind.items()))
        for key, totals in (("modality", t.by_modality), ("source", t.by_source)):
            for name, n in totals.items():
                target = t.targets.get(f"{key}:{name}")
                vs = f"   target {fmt(target)} ({100 * n / target:.0f} %)" if target else ""
                lines.append(f"  {key} {name:<30} {fmt(n):>8}{vs}")
    else:
        lines.append("tokens: not tokenized")
    return "\n".join(lines)
