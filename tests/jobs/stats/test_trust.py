"""Issue 16 from the user's side: rejects keep the numbers that decided them; stats draws them with the
job's thresholds and exact quantiles; inspect filters rejects by size; exports open in trainers' loaders.

The folder under test is written by the pipeline's own pieces (decode, two filters, the unit writer)
with a ``job.json`` that records its steps as a job file lists them, so it does not depend on the job layer.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmcurate.jobs.cli import main

SIDES = [40, 70, 90, 110, 130, 150, 170, 190, 210, 230, 250, 600, 12]  # 12 px: under image_decode's 16
STEPS = [{"use": "image_decode", "min_side": 16, "max_pixels": 50_000_000},
         {"use": "image_size", "min_side": 100},
         {"use": "word_count", "min_words": 3, "max_words": None}]


def _png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side // 2 if side == 600 else side), (side % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def scored_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mmcurate.filters.basic import ImageSizeFilter, WordCountFilter
    from mmcurate.pipeline.decode_image import ImageDecode
    from mmcurate.pipeline.runner import run_stages
    from mmcurate.pipeline.sinks.unit_writer import UnitWriter
    from mmcurate.schemas import sample as S
    from mmcurate.schemas.table import to_table

    out = tmp_path_factory.mktemp("trust") / "out"
    rows = [{S.SAMPLE_ID: f"{i:032x}", S.SOURCE: "gen", S.LOCATOR: f"{i}.png", S.UNIT_ID: "u0", S.UNIT_INDEX: i,
             S.UNIT_ROWS: len(SIDES), S.STATUS: S.STATUS_OK,
             S.CAPTION: "two words" if i == 9 else f"a square of {side} pixels",
             S.MEDIA: [{"bytes": _png(side), "kind": "image"}]} for i, side in enumerate(SIDES)]
    table = to_table(rows, S.SAMPLE_SCHEMA)
    table = run_stages([ImageDecode(), ImageSizeFilter(min_side=100), WordCountFilter(min_words=3)], table)
    UnitWriter(out_dir=str(out), formats=("parquet",), max_rows=100, max_bytes=1 << 30, config_hash="t")(table)
    (out / "job.json").write_text(json.dumps({"config_hash": "t", "steps": STEPS}))
    return out


def test_rejects_keep_their_scores_typed_like_shards(scored_output: Path) -> None:
    rejects = ds.dataset(scored_output / "rejects").to_table()
    shard_schema = pq.read_schema(next((scored_output / "parquet").glob("*.parquet")))
    by_reason = {}
    for row in rejects.to_pylist():
        by_reason.setdefault(row["reason"], []).append(row)
    assert sorted(len(v) for v in by_reason.values()) == [1, 1, 3]
    # The step that rejected it: its score; steps before it: theirs; steps after: null.
    for row in by_reason["image_size_v1:too_small"]:
        assert row["image_size_v1_min_side"] < 100 and row["word_count_v1_words"] is None
        assert row["media"][0]["width"] == row["image_size_v1_min_side"] and row["media"][0]["bytes"] is None
    (wc,) = by_reason["word_count_v1:too_few_words"]
    assert wc["word_count_v1_words"] == 2 and wc["image_size_v1_min_side"] == 230
    for name in ("image_size_v1_min_side", "word_count_v1_words", "media"):
        assert rejects.schema.field(name).type == shard_schema.field(name).type


def test_inspect_rejects_where_width(scored_output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["inspect", str(scored_output), "--no-progress", "--reason", "image_size_v1", "--where", "width > 50 and caption_len < 40"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("reason:  image_size_v1:too_small") == 2  # 70 and 90 px; 40 px is below the --where
    assert '"image_size_v1_min_side": 70' in out and "70x70" in out
    assert main(["inspect", str(scored_output), "--no-progress", "--reason", "image_decode_v1", "--where", "width > 512"]) == 0
    assert "no matching samples" in capsys.readouterr().out
    assert main(["inspect", str(scored_output), "--no-progress", "--reason", "image_decode_v1", "--where", "width < 16"]) == 0
    out = capsys.readouterr().out  # the decoder measured it before rejecting it: its size is on the reject
    assert "reason:  image_decode_v1:too_small" in out and "12x12" in out


def test_report_stacks_rejects_with_job_thresholds(scored_output: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(scored_output), "--no-progress"]) == 0
    terminal = capsys.readouterr().out
    line = next(t for t in terminal.splitlines() if t.startswith("image_size_v1_min_side"))
    assert "kept=66.7% of 12" in line  # 3 too small, 1 cut later by word_count: 8 of 12 kept
    html = (scored_output / "report.html").read_text()
    plot = html[html.index('data-plot="image_size_v1_min_side"'):]
    plot = plot[: plot.index("</svg>")]
    assert 'class="bar rejected"' in plot and 'class="bar"' in plot
    assert 'class="threshold" data-value="100.0"' in plot and "kept 8 of 12" in plot
    words = html[html.index('data-plot="word_count_v1_words"'):]
    assert 'data-value="3.0"' in words[: words.index("</svg>")]
    cards = html[html.index('id="reason-image_size_v1:too_small"'):html.index('id="reason-word_count_v1:too_few_words"')]
    assert "image_size_v1_min_side=40" in cards and "image_size_v1_min_side=90" in cards  # each card its score


def test_step_thresholds_from_a_job_list() -> None:
    from mmcurate.jobs.stats.thresholds import job_thresholds, step_thresholds

    steps = [{"use": "image_decode", "min_side": 16}, {"use": "ocr", "max_text_area": 0.2, "max_side": 1280},
             {"use": "clip_score", "min_score": 0.28, "reduce": "max"}, {"use": "aspect_ratio", "max_aspect": 3},
             {"use": "caption_length", "min_chars": 6, "max_chars": None, "min_bogus": True}]
    found = [(t.use, t.param, t.value, t.bound) for t in step_thresholds(steps)]
    assert found == [("image_decode", "min_side", 16.0, "min"), ("ocr", "max_text_area", 0.2, "max"),
                     ("ocr", "max_side", 1280.0, "max"), ("clip_score", "min_score", 0.28, "min"),
                     ("aspect_ratio", "max_aspect", 3.0, "max"), ("caption_length", "min_chars", 6.0, "min")]
    columns = ["ocr_v1_text_area", "ocr_v1_words", "ocr_v1_confidence", "clip_score_v1_mean", "clip_score_v1_max",
               "clip_score_v1_n_images", "aspect_ratio_v1_max", "caption_length_v1_chars", "image_size_v1_min_side"]
    assert job_thresholds(steps, columns) == {"ocr_v1_text_area": [0.2], "clip_score_v1_max": [0.28],
                                              "aspect_ratio_v1_max": [3.0], "caption_length_v1_chars": [6.0]}


def test_quantiles_are_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "parquet").mkdir()
    values = [0] * 339 + [900, 1800]
    from mmcurate.schemas import sample as S

    table = pa.table({"sample_id": [f"{i}" for i in range(341)], "caption": ["a clip"] * 341,
                      "media": pa.array([[]] * 341, pa.list_(S.MEDIA_TYPE)), "tokens_video": pa.array(values, pa.int64())})
    pq.write_table(table, tmp_path / "parquet" / "u-0000.parquet")
    assert main(["stats", str(tmp_path), "--no-progress"]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("tokens_video"))
    assert " p50=0 " in line and " p95=0 " in line and "max=1800" in line, line


def _export(scored_output: Path, out: Path, fmt: str) -> None:
    assert main(["export", str(scored_output), "--format", fmt, "--out", str(out), "--no-progress"]) == 0


def test_export_llava_opens_in_llava_loader(scored_output: Path, tmp_path: Path) -> None:
    _export(scored_output, tmp_path, "llava")
    records = json.loads((tmp_path / "llava.json").read_text())
    assert len(records) == 8 and all(r["conversations"][0]["value"].startswith("<image>\n") for r in records)
    for record in records:  # LLaVA's LazySupervisedDataset: Image.open(os.path.join(image_folder, image_file))
        with Image.open(os.path.join(str(tmp_path), record["image"])) as image:
            assert image.convert("RGB").size[0] >= 100
        assert record["conversations"][1]["value"].startswith("a square of")


def test_export_llava_video_record() -> None:
    from mmcurate.jobs.stats.export_formats import llava_records

    row = {"sample_id": "ab", "caption": "a ball rolls", "media": [{"kind": "video", "mime": "video/mp4", "bytes": b"v"}]}
    (record,), files = llava_records(row)
    assert record["video"] == "videos/ab.mp4" and files == [("videos/ab.mp4", b"v")] and "image" not in record
    assert record["conversations"][0]["value"].startswith("<video>\n")


def test_export_hf_loads_images_in_datasets(scored_output: Path, tmp_path: Path) -> None:
    import datasets

    _export(scored_output, tmp_path / "hf", "hf")
    files = sorted(str(p) for p in (tmp_path / "hf" / "hf").glob("*.parquet"))
    data = datasets.load_dataset("parquet", data_files=files, split="train")
    assert isinstance(data.features["image"], datasets.Image) and data.num_rows == 8
    assert isinstance(data[0]["image"], Image.Image) and data[0]["image"].size == (data[0]["width"], data[0]["height"])
    assert data.features["image_size_v1_min_side"].dtype == "int32"

    _export(scored_output, tmp_path / "arrow", "arrow")
    (arrow,) = (tmp_path / "arrow" / "arrow").glob("*.arrow")
    assert datasets.Dataset.from_file(str(arrow)).num_rows == 8


def test_stage_runs_on_own_shards(scored_output: Path) -> None:
    """README: a stage on ``out/parquet`` (its bookkeeping columns are left out of training shards)."""
    from mmcurate.filters import AspectRatioFilter
    from mmcurate.pipeline.runner import run_stage

    shards = pq.read_table(next((scored_output / "parquet").glob("*.parquet")))
    assert "status" not in shards.column_names
    scored = run_stage(AspectRatioFilter(max_aspect=1.5), shards)  # the 600x300 image is cut
    assert scored.num_rows == shards.num_rows and scored.column("aspect_ratio_v1_max").null_count == 0
    assert scored.column("drop_reason").to_pylist().count("aspect_ratio_v1:too_elongated") == 1


@pytest.mark.slow  # starts Ray (~20 s) and a worker
def test_stage_runs_on_own_shards_with_ray(scored_output: Path, ray_session: str) -> None:
    import ray.data

    from mmcurate.filters import WordCountFilter
    from mmcurate.pipeline.ray_adapter import apply_stage

    ds_out = apply_stage(ray.data.read_parquet(str(scored_output / "parquet")), WordCountFilter(min_words=10))
    rows = ds_out.take_all()
    assert len(rows) == 8 and {r["drop_reason"] for r in rows} == {"word_count_v1:too_few_words"}
    assert all(r["word_count_v1_words"] is not None for r in rows)
