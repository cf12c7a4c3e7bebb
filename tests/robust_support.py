"""Run readers + decode + caption stages in process and read back what the unit writer committed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image

from mmcurate.pipeline.caption_clean import CaptionClean
from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.pipeline.execute import Pipeline, run_pipeline
from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.readers.base import Reader
from mmcurate.pipeline.sinks.unit_writer import UnitWriter
from mmcurate.schemas import sample as S

JPEG = mc.encode(Image.new("RGB", (24, 24), (200, 10, 10)), "JPEG")
PNG = mc.encode(Image.new("RGB", (24, 20), (10, 200, 10)), "PNG")
BOOKKEEPING = (S.UNIT_ID, S.UNIT_INDEX, S.UNIT_ROWS)


def run(readers: list[Reader], out: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(accepted rows by sample_id without unit bookkeeping, reject rows) of an in-process run."""
    writer = UnitWriter(out_dir=str(out), formats=("parquet",), max_rows=1000, max_bytes=64 * 1024**2,
                        config_hash="robust-test")
    pipeline = Pipeline(readers=readers, steps=[ImageDecode(), CaptionClean()], writer=writer)
    run_pipeline(pipeline, config_hash="robust-test", use_ray=False, progress=False)
    accepted: dict[str, dict[str, Any]] = {}
    for shard in sorted((out / "parquet").glob("*.parquet")) if (out / "parquet").exists() else []:
        for row in pq.read_table(shard).to_pylist():
            accepted[row[S.SAMPLE_ID]] = {k: v for k, v in row.items() if k not in BOOKKEEPING}
    rejects = [r for f in sorted((out / "rejects").glob("*.parquet")) for r in pq.read_table(f).to_pylist()] \
        if (out / "rejects").exists() else []
    return accepted, rejects


def write_clean_folder(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.jpg").write_bytes(JPEG)
    (root / "a.txt").write_text("a red square")
    (root / "b.png").write_bytes(PNG)
    (root / "b.json").write_text(json.dumps({"caption": "a green box", "license": "CC0"}))
    (root / "c.jpg").write_bytes(JPEG)
    (root / "c.txt").write_text("another red square")


def write_images(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.jpg").write_bytes(JPEG)
    (root / "b.png").write_bytes(PNG)


CLEAN_RECORDS = [{"image": "a.jpg", "caption": "a red square", "lang": "en"},
                 {"image": "b.png", "caption": "a green box", "lang": "en"},
                 {"image": "a.jpg", "caption": "red again", "lang": "de"}]
CSV_CLEAN = "image,caption,lang\r\n" + "".join(f"{r['image']},{r['caption']},{r['lang']}\r\n" for r in CLEAN_RECORDS)
JSONL_CLEAN = "".join(json.dumps(r) + "\n" for r in CLEAN_RECORDS)
