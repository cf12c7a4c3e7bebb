"""The distributions the report plots, as data: which columns a metric reads and how to get its values.

Score columns are found by the naming convention of the stages (dolma-style versioned names): a
numeric column whose name holds a stage version (``video_motion_v1_score``,
``video_duration_v1_seconds``) or ends in ``_score`` — so a new CLIP or OCR filter shows up in the
report without touching this file. Token columns are the integer ``tokens_<modality>`` columns of
the patch-token stage. Media dimensions are read from nested Parquet leaves, never with the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.jobs.stats.columns import MEDIA_LEAF
from mmcurate.schemas import sample as S

__all__ = [
    "Metric",
    "CLUSTER_SIZE",
    "score_columns",
    "token_columns",
    "shard_metrics",
    "clip_metrics",
    "image_dims",
    "audio_metrics",
    "document_metrics",
]

DOC_NODES = "doc_nodes"  # schemas.document.DOC_NODES: the stats read Parquet, not the document module
DOC_CLIP_SCORES = "doc_clip_v1_scores"  # filters.document_clip: per node, an image's similarity to its text

_VERSIONED = re.compile(r"_v\d+_")


@dataclass(frozen=True)
class Metric:
    """One plotted distribution: ``values(batch)`` returns a flat numeric array for a batch."""

    key: str
    title: str
    group: str  # report section: scores, images, captions, video, dedup, tokens
    columns: tuple[str, ...]
    values: Callable[[pa.RecordBatch], pa.Array]

    def available(self, batch: pa.RecordBatch) -> bool:
        return all(c.split(".")[0] in batch.schema.names for c in self.columns)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def score_columns(schema: pa.Schema | None) -> list[str]:
    if schema is None:
        return []
    return [
        f.name
        for f in schema
        if _is_number(f.type)
        and not f.name.startswith("tokens_")
        and (_VERSIONED.search(f.name) or f.name.endswith("_score"))
    ]


def token_columns(schema: pa.Schema | None) -> list[str]:
    if schema is None:
        return []
    return [f.name for f in schema if f.name.startswith("tokens_") and pa.types.is_integer(f.type)]


def image_dims(batch: pa.RecordBatch) -> tuple[pa.Array, pa.Array]:
    """Width and height of every *image* item of the batch (a row may hold several)."""
    items = pc.list_flatten(batch.column(S.MEDIA))
    images = pc.filter(items, pc.equal(pc.struct_field(items, "kind"), "image"))
    return pc.struct_field(images, "width"), pc.struct_field(images, "height")


def _aspect(batch: pa.RecordBatch) -> pa.Array:
    width, height = image_dims(batch)
    height = pc.if_else(pc.equal(height, 0), pa.scalar(None, height.type), height)
    return pc.divide(pc.cast(width, pa.float64()), pc.cast(height, pa.float64()))


def _column(name: str) -> Callable[[pa.RecordBatch], pa.Array]:
    return lambda batch: batch.column(name)


_DIMS = (MEDIA_LEAF("kind"), MEDIA_LEAF("width"), MEDIA_LEAF("height"))

CLUSTER_SIZE = Metric(
    "dedup_cluster_size",
    "dedup cluster size (kept row + duplicates)",
    "dedup",
    ("duplicate_of",),
    _column("duplicate_of"),
)


def shard_metrics(schema: pa.Schema | None, scores: list[str], tokens: list[str]) -> list[Metric]:
    """Metrics over accepted shards that ``schema`` can feed."""
    if schema is None:
        return []
    names = set(schema.names)
    metrics = [Metric(c, c, "scores", (c,), _column(c)) for c in scores]
    if S.MEDIA in names:
        metrics += [
            Metric("image_width", "image width (px)", "images", _DIMS, lambda b: image_dims(b)[0]),
            Metric("image_height", "image height (px)", "images", _DIMS, lambda b: image_dims(b)[1]),
            Metric("image_aspect", "image aspect ratio (width / height)", "images", _DIMS, _aspect),
            Metric(
                "media_per_sample",
                "media items per sample",
                "images",
                (MEDIA_LEAF("kind"),),
                lambda b: pc.list_value_length(b.column(S.MEDIA)),
            ),
        ]
    if S.CAPTION in names:
        metrics.append(
            Metric(
                "caption_len",
                "caption length (characters)",
                "captions",
                (S.CAPTION,),
                lambda b: pc.utf8_length(b.column(S.CAPTION)),
            )
        )
        metrics.append(
            Metric(
                "caption_words",
                "caption length (words)",
                "captions",
                (S.CAPTION,),
                lambda b: pc.list_value_length(pc.utf8_split_whitespace(b.column(S.CAPTION))),
            )
        )
    if "video_probe" in names:
        metrics.append(
            Metric(
                "video_duration_s",
                "video duration (s, decoded)",
                "video",
                ("video_probe.duration_s",),
                lambda b: pc.struct_field(b.column("video_probe"), "duration_s"),
            )
        )
    if "audio_probe" in names:
        metrics += audio_metrics("audio_windows" in names)
    metrics += document_metrics(names)
    metrics += [Metric(c, f"{c} per sample", "tokens", (c,), _column(c)) for c in tokens]
    return metrics


def _per_document(batch: pa.RecordBatch, kind: str, weight: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Sum of ``weight(live node)`` over each document's live nodes of ``kind``; null for rows that are not
    documents. Arrow compute over the flattened nodes, then one bincount: no Python loop per row."""
    import numpy as np

    column = batch.column(DOC_NODES)
    nodes = pc.list_flatten(column)
    live = pc.and_(pc.equal(pc.struct_field(nodes, "kind"), kind), pc.is_null(pc.struct_field(nodes, "removed")))
    parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
    weights = pc.fill_null(pc.if_else(live, weight(nodes), 0), 0).to_numpy(zero_copy_only=False)
    sums = np.bincount(parents, weights=weights, minlength=len(column)).astype(np.int64)
    return pa.array(sums, pa.int64(), mask=pc.is_null(column).to_numpy(zero_copy_only=False))


def document_metrics(names: set[str]) -> list[Metric]:
    """Interleaved documents: live images and words per document, and image-to-text CLIP similarity."""
    out = []
    if DOC_NODES in names:
        out += [
            Metric("doc_images", "images per document", "documents", (DOC_NODES,),
                   lambda b: _per_document(b, "image", lambda n: pa.array([1] * len(n), pa.int64()))),
            Metric("doc_words", "words per document", "documents", (DOC_NODES,),
                   lambda b: _per_document(b, "text", lambda n: pc.list_value_length(
                       pc.utf8_split_whitespace(pc.fill_null(pc.struct_field(n, "text"), ""))))),
        ]
    if DOC_CLIP_SCORES in names:
        out.append(Metric("doc_clip_similarity", "image-text CLIP similarity (per image, doc_clip)", "documents",
                          (DOC_CLIP_SCORES,), lambda b: pc.drop_null(pc.list_flatten(b.column(DOC_CLIP_SCORES)))))
    return out


def _probe(field: str) -> Callable[[pa.RecordBatch], pa.Array]:
    return lambda batch: pc.struct_field(batch.column("audio_probe"), field)


def audio_metrics(windows: bool) -> list[Metric]:
    """What the decode measured (the filters' own scores, loudness, speech ratio, SNR, plot under scores):
    the source sample rate catches upsampled telephone audio next to the bandwidth score."""
    out = [
        Metric("audio_duration_s", "audio duration (s, decoded)", "audio", ("audio_probe.duration_s",),
               _probe("duration_s")),
        Metric("audio_source_rate", "audio sample rate of the source (Hz)", "audio", ("audio_probe.source_rate",),
               _probe("source_rate")),
        Metric("audio_channels", "audio channels of the source", "audio", ("audio_probe.channels",),
               _probe("channels")),
    ]
    if windows:
        out.append(Metric("audio_windows_per_sample", "training windows per recording", "audio",
                          ("audio_windows",), lambda b: pc.list_value_length(b.column("audio_windows"))))
    return out


def clip_metrics(schema: pa.Schema | None) -> list[Metric]:
    """Metrics over ``clips/`` records (one row per video clip)."""
    if schema is None or "start_s" not in schema.names:
        return []
    return [
        Metric(
            "clip_length_s",
            "clip length (s)",
            "video",
            ("start_s", "end_s"),
            lambda b: pc.subtract(b.column("end_s"), b.column("start_s")),
        ),
        Metric(
            "clip_frames",
            "sampled frames per clip",
            "video",
            ("frame_ts",),
            lambda b: pc.list_value_length(b.column("frame_ts")),
        ),
    ]
