"""Global score threshold for "keep the top fraction" filtering, and the decide-only cut stage.

DataComp's CLIP-score baseline keeps the top 30 % of the *whole pool* by score; a per-batch quantile
would keep 30 % of every batch instead, which is a different (and batch-order-dependent) filter. So the
threshold is a set-level function over all scores: an Arrow table (exact, in memory) or a Ray Dataset
(exact, distributed): histogram passes narrow the score range that holds the cut until at most
``max_collect`` scores are left in it, and only those reach the driver. Scores are cosines, so the
first histogram spans [-1, 1].

Semantics: with ``n`` non-null scores and ``k = ceil(keep_fraction * n)``, the threshold is the k-th
largest score, and ``score >= threshold`` keeps exactly ``k`` rows (more only on ties). Rows with a
null score (no image, no caption) do not count towards ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.filters.clip_score import NAME as CLIP_NAME
from mmcurate.filters.clip_score import clip_decision, score_fields
from mmcurate.pipeline.filter import Filter

__all__ = ["ClipScoreCut", "score_threshold", "threshold_from_array"]

_BINS = 4096


def _k(n: int, keep_fraction: float) -> int:
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    if n == 0:
        raise ValueError("no non-null scores to take a quantile of")
    return max(1, math.ceil(keep_fraction * n))


def threshold_from_array(scores: np.ndarray, keep_fraction: float) -> float:
    """The k-th largest of ``scores`` (NaNs ignored), k = ceil(keep_fraction * n)."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[~np.isnan(scores)]
    k = _k(scores.size, keep_fraction)
    return float(np.partition(scores, scores.size - k)[scores.size - k])


def _values(batch: pa.Table, column: str) -> np.ndarray:
    return pc.drop_null(batch.column(column)).to_numpy().astype(np.float64)


def _ray_threshold(ds: Any, column: str, keep_fraction: float, max_collect: int) -> float:
    ds = ds.select_columns([column])
    lo, hi, above = -1.0 - 1e-6, 1.0 + 1e-6, 0  # `above`: scores >= hi, already known to be kept
    n = None
    while True:
        edges = np.linspace(lo, hi, _BINS + 1)

        def hist(batch: pa.Table, edges: np.ndarray = edges) -> pa.Table:
            v = _values(batch, column)
            counts = np.histogram(v[(v >= edges[0]) & (v < edges[-1])], bins=edges)[0]
            return pa.table({"counts": [counts.tolist()], "n": [int(v.size)], "ge_hi": [int((v >= edges[-1]).sum())]})

        parts = ds.map_batches(hist, batch_format="pyarrow", batch_size=None).take_all()
        counts = np.sum([p["counts"] for p in parts], axis=0)
        if n is None:
            n = int(sum(p["n"] for p in parts))
            k = _k(n, keep_fraction)
            above = int(sum(p["ge_hi"] for p in parts))
        # Walk down from the top bin until the k-th largest is inside bin b.
        cum = above + np.cumsum(counts[::-1])
        b = _BINS - 1 - int(np.searchsorted(cum, k))
        in_bin = int(counts[b])
        above = int(cum[_BINS - 1 - b] - in_bin)
        lo, hi = float(edges[b]), float(edges[b + 1])
        if in_bin <= max_collect or hi - lo < 1e-12:
            break
    picked = ds.map_batches(
        lambda batch: pa.table({"v": (lambda v: v[(v >= lo) & (v < hi)])(_values(batch, column))}),
        batch_format="pyarrow", batch_size=None,
    ).take_all()
    values = np.sort(np.array([r["v"] for r in picked], dtype=np.float64))[::-1]
    return float(values[k - above - 1])


def score_threshold(
    scores: pa.Table | Any, keep_fraction: float, column: str = f"{CLIP_NAME}_mean", max_collect: int = 1_000_000
) -> float:
    """Threshold keeping the top ``keep_fraction`` of ``column`` over a whole Arrow table or Ray Dataset."""
    if isinstance(scores, pa.Table):
        return threshold_from_array(_values(scores, column), keep_fraction)
    return _ray_threshold(scores, column, keep_fraction, max_collect)


@dataclass(kw_only=True)
class ClipScoreCut(Filter):
    """Decide-only: apply a global threshold to ``clip_score_v1`` columns already in the table.

    Its "scores" are the CLIP-score columns, passed through unchanged (declared in ``writes`` so that a
    single sample given as a dict gets them typed); no model is loaded.
    """

    name: ClassVar[str] = "clip_score_cut_v1"
    writes: ClassVar[tuple[pa.Field, ...]] = tuple(
        f for f in score_fields(CLIP_NAME) if f.name != f"{CLIP_NAME}_images"
    )
    reads: ClassVar[tuple[str, ...]] = tuple(f.name for f in writes)

    min_score: float
    reduce: Literal["mean", "max"] = "mean"

    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        missing = [c for c in self.reads if c not in batch.column_names]
        if missing:
            raise KeyError(f"{self.name} needs {missing}; run {CLIP_NAME} first")
        return {c: batch.column(c) for c in self.reads}

    def decide(self, scores: dict[str, Any]) -> str | None:
        return clip_decision(scores, CLIP_NAME, self.reduce, self.min_score)
