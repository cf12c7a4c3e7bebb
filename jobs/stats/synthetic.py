"""A synthetic output folder of any size, in the real layout, for scale tests of the stats commands.

Running the pipeline to get a million rows takes hours on a laptop; this writes the same files
(``parquet/`` shards with the sample schema plus score and ``tokens_*`` columns, ``rejects/``,
``clips/``, ``passes/03_dedup_v1.parquet``, ``manifest.*``, ``stats.parquet``, ``job.json``) from numpy
arrays in seconds. Media items carry their metadata but tiny or no bytes. The manifest is committed
and finalised through the pipeline's own :class:`~mmcurate.pipeline.manifest.Manifest`, so it is exactly
what a job would leave.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline.manifest import Manifest
from mmcurate.schemas import sample as S
from mmcurate.schemas.records import REJECT_SCHEMA
from mmcurate.schemas.video import CLIP_RECORD_SCHEMA

__all__ = ["make_synthetic_output", "SYNTHETIC_REASONS", "SYNTHETIC_SCORES"]

SYNTHETIC_REASONS = (
    "image_decode_v1:too_small",
    "image_decode_v1:image_truncated",
    "caption_clean_v1:caption_empty",
    "dedup_v1:exact_pixels",
    "video_motion_v1:static",
)
SYNTHETIC_SCORES = (
    pa.field("clip_score_v1_score", pa.float32()),
    pa.field("video_motion_v1_score", pa.float64()),
    pa.field("tokens_image", pa.int64()),
    pa.field("tokens_text", pa.int64()),
    pa.field("tokens_total", pa.int64()),
    pa.field("modality", pa.string()),
)
_WORDS = np.array(
    "a the red blue cat dog on in of street photo of with small large green house tree car".split()
)
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2213bc70000000049454e44ae426082"
)


def _captions(rng: np.random.Generator, n: int) -> pa.Array:
    # A pool of captions indexed per row: vectorised, and realistic enough for length statistics.
    pool = pa.array([" ".join(rng.choice(_WORDS, k)) for k in rng.integers(1, 30, 997)], pa.string())
    return pool.take(pa.array(rng.integers(0, len(pool), n)))


def _media(rng: np.random.Generator, n: int, with_bytes: bool) -> pa.Array:
    kinds = np.where(rng.random(n) < 0.02, "video", "image")
    widths = rng.integers(64, 2048, n).astype(np.int32)
    heights = (widths * rng.uniform(0.4, 2.0, n)).astype(np.int32)
    items = pa.StructArray.from_arrays(
        [
            pa.array([_TINY_PNG] * n if with_bytes else [None] * n, pa.binary()),
            pa.array(kinds),
            pa.array(np.where(kinds == "video", "video/mp4", "image/jpeg")),
            pa.array(widths),
            pa.array(heights),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(np.ones(n, np.int32)),
            pa.nulls(n, pa.list_(pa.string())),
        ],
        fields=list(S.MEDIA_TYPE),
    )
    return pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)), items, type=pa.list_(S.MEDIA_TYPE)
    )


def _unit(
    rng: np.random.Generator, unit_id: str, rows_in: int, with_bytes: bool, with_tokens: bool
) -> tuple[pa.Table, pa.Table]:
    rejected = rng.random(rows_in) < 0.1
    n_ok, n_bad = int((~rejected).sum()), int(rejected.sum())
    ids = pa.array([f"{unit_id.replace('-', '')}{i:020d}"[:32] for i in range(rows_in)])
    index = np.arange(rows_in)
    ok_idx, bad_idx = index[~rejected], index[rejected]
    sources = np.array(["/data/laion", "/data/cc12m", "/data/video"])
    schema = S.sample_schema(SYNTHETIC_SCORES)
    columns = {
        S.SAMPLE_ID: ids.take(pa.array(ok_idx)),
        S.SOURCE: pa.array(sources[rng.integers(0, 3, n_ok)]),
        S.LOCATOR: pa.array(ok_idx.astype(str)),
        S.CAPTION: _captions(rng, n_ok),
        S.MEDIA: _media(rng, n_ok, with_bytes),
        S.UNIT_ID: pa.array([unit_id] * n_ok),
        S.UNIT_INDEX: pa.array(ok_idx),
        "clip_score_v1_score": pa.array(rng.normal(0.3, 0.05, n_ok), pa.float32()),
        "video_motion_v1_score": pa.array(
            np.where(rng.random(n_ok) < 0.02, rng.gamma(2.0, 3.0, n_ok), np.nan)
        ),
        "tokens_image": pa.array(rng.integers(64, 1600, n_ok)),
        "tokens_text": pa.array(rng.integers(2, 60, n_ok)),
        "modality": pa.array(np.where(rng.random(n_ok) < 0.8, "image_text", "instruction")),
    }
    columns["tokens_total"] = pc.add(columns["tokens_image"], columns["tokens_text"])
    if not with_tokens:
        for name in ("tokens_image", "tokens_text", "tokens_total", "modality"):
            del columns[name]
    columns["video_motion_v1_score"] = pc.if_else(
        pc.is_nan(columns["video_motion_v1_score"]), None, columns["video_motion_v1_score"]
    )
    names = [
        f.name
        for f in schema
        if f.name not in S.BOOKKEEPING_COLUMNS
        and (with_tokens or f.name in columns or f.name in S.SAMPLE_SCHEMA.names)
    ]
    shard = pa.table(
        {name: columns.get(name, pa.nulls(n_ok, schema.field(name).type)) for name in names},
        schema=pa.schema([schema.field(n) for n in names]),
    )
    reasons = np.array(SYNTHETIC_REASONS)[rng.integers(0, len(SYNTHETIC_REASONS), n_bad)]
    rejects = pa.table(
        {
            "sample_id": ids.take(pa.array(bad_idx)),
            "source": pa.array(["/data/laion"] * n_bad),
            "locator": pa.array(bad_idx.astype(str)),
            "url": pa.nulls(n_bad, pa.string()),
            "caption": _captions(rng, n_bad),
            "stage": pa.array([r.split(":")[0] for r in reasons]),
            "reason": pa.array(reasons),
            "error": pa.array(["synthetic"] * n_bad),
            "duplicate_of": pa.nulls(n_bad, pa.string()),
            "unit_id": pa.array([unit_id] * n_bad),
            "unit_index": pa.array(bad_idx),
        },
        schema=REJECT_SCHEMA,
    )
    return shard, rejects


def make_synthetic_output(
    root: str | Path,
    rows: int = 1_000_000,
    unit_rows: int = 50_000,
    seed: int = 0,
    with_bytes: bool = False,
    with_tokens: bool = True,
) -> Path:
    """Write an output folder with ``rows`` input rows (~90 % accepted) under ``root``; returns it.

    ``with_tokens`` adds token columns and a ``mixture/report.json`` with budget targets.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (root / "job.json").write_text(
        json.dumps(
            {
                "config_hash": "synthetic",
                "plan_hash": "synthetic",
                "schema_version": S.SAMPLE_SCHEMA_VERSION,
                "thresholds": {"clip_score_v1_score": 0.2, "video_motion_v1_score": 1.0},
            }
        )
    )
    manifest = Manifest(root)
    for u in range(-(-rows // unit_rows)):
        unit_id = f"u00-{u:06d}"
        shard, rejects = _unit(rng, unit_id, min(unit_rows, rows - u * unit_rows), with_bytes, with_tokens)
        files = []
        for rel, table, kind, version in (
            (f"parquet/{unit_id}-0000.parquet", shard, "shard", S.SAMPLE_SCHEMA_VERSION),
            (f"rejects/{unit_id}.parquet", rejects, "rejects", "reject/v2"),
        ):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, root / rel, compression="zstd", row_group_size=8192)
            files.append(
                {
                    "path": rel,
                    "kind": kind,
                    "format": "parquet",
                    "rows": table.num_rows,
                    "bytes": (root / rel).stat().st_size,
                    "sha256": "0" * 64,
                    "schema_version": version,
                }
            )
        counts = pc.value_counts(rejects["reason"]).to_pylist()
        manifest.commit(
            {
                "unit_id": unit_id,
                "config_hash": "synthetic",
                "files": files,
                "rows_in": shard.num_rows + rejects.num_rows,
                "rows_out": shard.num_rows + rejects.num_rows,
                "accepted": shard.num_rows,
                "rejected": rejects.num_rows,
                "reasons": {c["values"]: c["counts"] for c in counts},
            }
        )
    manifest.finalize()
    n_clips = max(rows // 100, 1)
    starts = rng.uniform(0, 60, n_clips)
    clips = {
        "clip_id": pa.array([f"c{i}" for i in range(n_clips)]),
        "sample_id": pa.array([f"v{i // 3}" for i in range(n_clips)]),
        "source": pa.array(["/data/video"] * n_clips),
        "locator": pa.array(["v.mp4"] * n_clips),
        "clip_index": pa.array(np.arange(n_clips) % 3, pa.int32()),
        "start_s": pa.array(starts),
        "end_s": pa.array(starts + rng.uniform(1, 10, n_clips)),
    }
    (root / "clips").mkdir(exist_ok=True)
    pq.write_table(
        pa.table(
            {f.name: clips.get(f.name, pa.nulls(n_clips, f.type)) for f in CLIP_RECORD_SCHEMA},
            schema=CLIP_RECORD_SCHEMA,
        ),
        root / "clips" / "u00-000000.parquet",
    )
    n_dup = max(rows // 200, 1)
    (root / "passes").mkdir(exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "sample_id": pa.array([f"d{i}" for i in range(n_dup)]),
                "duplicate_of": pa.array([f"k{int(k)}" for k in rng.zipf(2.0, n_dup) % 1000]),
                "dedup_method": pa.array(["exact_pixels"] * n_dup),
            }
        ),
        root / "passes" / "03_dedup_v1.parquet",
    )
    if with_tokens:
        budget = [
            {"level": "modality", "key": "image_text", "target_tokens": rows * 600.0},
            {"level": "modality", "key": "instruction", "target_tokens": rows * 250.0},
            {"level": "source", "key": "/data/laion", "target_tokens": rows * 300.0},
        ]
        (root / "mixture").mkdir(exist_ok=True)
        (root / "mixture" / "report.json").write_text(json.dumps({"budget": budget}))
    return root
