"""``stats``: every number equals a direct recount from the shards, and report.html renders in
headless Chromium with every section and plot present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from mmcurate.jobs.stats.__main__ import main
from mmcurate.jobs.stats.aggregate import Summary, aggregate
from mmcurate.jobs.stats.layout import OutputFolder
from mmcurate.jobs.stats.report import SECTIONS


def _shards(out: Path, columns: list[str]) -> pa.Table:
    return ds.dataset(sorted((out / "parquet").glob("*.parquet"))).to_table(columns=columns)


def _dist(summary: Summary, key: str):  # noqa: ANN202 - test helper
    return next(d for d in summary.distributions if d.metric.key == key)


def test_numbers_equal_recount(job_output: Path) -> None:
    summary = aggregate(OutputFolder.open(job_output), progress=False)
    shards = _shards(job_output, ["caption", "media"])
    rejects = ds.dataset(sorted((job_output / "rejects").glob("*.parquet"))).to_table()
    counts = pc.value_counts(rejects["reason"]).to_pylist()
    assert summary.funnel.accepted == summary.recount_accepted == shards.num_rows
    assert summary.funnel.reasons == summary.recount_reasons == {c["values"]: c["counts"] for c in counts}
    assert summary.funnel.rows_in == shards.num_rows + rejects.num_rows and summary.consistent
    assert sum(n for _, n, _ in summary.funnel.stages()) == rejects.num_rows

    lengths = pc.utf8_length(shards["caption"])
    cap = _dist(summary, "caption_len")
    assert (cap.range.count, cap.range.lo, cap.range.hi) == (
        len(lengths) - lengths.null_count,
        *pc.min_max(lengths).as_py().values(),
    )
    assert sum(cap.hist.counts) == cap.range.count
    items = pc.list_flatten(shards["media"])
    widths = pc.struct_field(pc.filter(items, pc.equal(pc.struct_field(items, "kind"), "image")), "width")
    width = _dist(summary, "image_width")
    assert (width.range.count, width.range.lo, width.range.hi) == (
        len(widths),
        *pc.min_max(widths).as_py().values(),
    )
    assert width.range.mean == pytest.approx(pc.mean(widths).as_py())
    assert sum(map(sum, summary.sizes.counts)) == len(widths)

    removals = pa.concat_tables([pq.read_table(p, columns=["duplicate_of"])  # every dedup step's decision
                                 for p in sorted((job_output / "passes").glob("*_dedup_v1.parquet"))])
    removals = removals.filter(pc.is_valid(removals["duplicate_of"]))
    clusters = _dist(summary, "dedup_cluster_size")
    assert clusters.range.count == len(pc.unique(removals["duplicate_of"]))
    assert clusters.range.total == removals.num_rows + clusters.range.count  # each cluster: kept + removed
    names = pq.read_schema(next((job_output / "parquet").glob("*.parquet"))).names
    if "tokens_total" in names:  # the default job counts tokens and balances a mixture
        assert summary.tokens is not None
        total = pc.sum(_shards(job_output, ["tokens_total"])["tokens_total"]).as_py()
        assert summary.tokens.by_kind["total"] == sum(summary.tokens.by_source.values()) == total
        report = job_output / "mixture" / "report.json"
        if report.exists():
            budget = json.loads(report.read_text())["budget"]
            assert summary.tokens.targets == {f"{r['level']}:{r['key']}": r["target_tokens"] for r in budget}
    else:
        assert summary.tokens is None


def test_tokens_and_thresholds(synthetic_output: Path, untokenized_output: Path) -> None:
    summary = aggregate(
        OutputFolder.open(synthetic_output),
        thresholds={"tokens_text": [10.0]},
        targets={"instruction": 1e6},
        progress=False,
    )
    shards = _shards(synthetic_output, ["source", "modality", "tokens_image", "tokens_text", "tokens_total"])
    t = summary.tokens
    assert t is not None
    assert t.by_kind == {k: pc.sum(shards[f"tokens_{k}"]).as_py() for k in ("image", "text", "total")}
    for key, totals in (("modality", t.by_modality), ("source", t.by_source)):
        grouped = shards.group_by(key).aggregate([("tokens_total", "sum")])
        assert totals == dict(
            zip(grouped[key].to_pylist(), grouped["tokens_total_sum"].to_pylist(), strict=True)
        )
    # Targets: the balancer's mixture/report.json, with --budget overriding one of them.
    assert t.targets == {
        "modality:image_text": 5000 * 600.0,
        "modality:instruction": 1e6,
        "source:/data/laion": 5000 * 300.0,
    }
    assert _dist(summary, "clip_score_v1_score").thresholds == [0.2]  # from job.json
    assert _dist(summary, "tokens_text").thresholds == [10.0]  # from the caller
    motion = _dist(summary, "video_motion_v1_score")
    scores = _shards(synthetic_output, ["video_motion_v1_score"])["video_motion_v1_score"]
    assert (motion.range.count, motion.range.nulls) == (len(scores) - scores.null_count, scores.null_count)
    assert aggregate(OutputFolder.open(untokenized_output), progress=False).tokens is None


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _render(html: Path, tmp: Path) -> tuple[Path, str]:
    browser = _chromium()
    assert browser is not None
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--window-size=1280,4000",
    ]
    shot = tmp / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", html.as_uri()], check=True, capture_output=True, timeout=120
    )
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], check=True, capture_output=True, timeout=120)
    return shot, dom.stdout.decode("utf-8")


@pytest.mark.parametrize("which", ["job_output", "synthetic_output", "untokenized_output"])
def test_report_renders_in_chromium(
    which: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if _chromium() is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")
    from PIL import Image, ImageStat

    out: Path = request.getfixturevalue(which)
    report = tmp_path / "report.html"
    assert (
        main(
            [
                "stats",
                str(out),
                "--report",
                str(report),
                "--no-progress",
                "--threshold",
                "caption_len=30",
                "--budget",
                "source:/data/laion=1e6",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "accepted" in printed and "rows/s" in printed
    html = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), "report must not load anything remote"

    shot, dom = _render(report, tmp_path)
    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        variance = ImageStat.Stat(image.convert("L")).var[0]
    assert variance > 100, f"screenshot looks blank (variance {variance:.1f})"

    for section in SECTIONS:
        assert f'<section id="{section}">' in dom, section
    plots = set(re.findall(r'data-plot="([^"]+)"', dom))
    expected = {
        "funnel",
        "reasons",
        "caption_len",
        "caption_words",
        "image_width",
        "image_height",
        "image_aspect",
        "image_size",
    }
    summary = aggregate(OutputFolder.open(out), progress=False)
    expected |= set(summary.score_columns) | {"dedup_cluster_size"}
    assert expected <= plots, expected - plots
    assert 'class="threshold"' in dom  # caption_len=30 drawn
    accepted_cards = re.search(r'<section id="accepted">(.*?)</section>', dom, re.S).group(1)
    assert accepted_cards.count('class="card"') == min(24, summary.funnel.accepted)
    assert accepted_cards.count("data:image/jpeg;base64,") >= 1
    rejected = re.search(r'<section id="rejected">(.*?)</section>', dom, re.S).group(1)
    for reason in summary.funnel.reasons:
        assert f'id="reason-{reason}"' in rejected
    tokens = re.search(r'<section id="tokens">(.*?)</section>', dom, re.S).group(1)
    if summary.tokens is None:
        assert "not tokenized" in tokens and "<svg" not in tokens
    else:
        assert {"tokens_kind", "tokens_source"} <= plots
    if which == "job_output":
        assert "bad_aspect.png" in rejected  # locator shown; the source file is still there, so a preview too
    if which == "synthetic_output":
        assert {"tokens_modality", "clip_length_s"} <= plots
        assert 'class="target"' in tokens
