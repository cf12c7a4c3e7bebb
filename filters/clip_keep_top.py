"""``clip_keep_top``: keep the top fraction of the whole pool by CLIP score (DataComp's baseline).

A per-batch quantile would keep 30 % of every batch, a different and batch-order-dependent filter; the
cut has to be one threshold over every score of the input, so this is a set-level pass. It reads the
scores a ``clip_score`` step wrote earlier in the job (no model here), takes the exact threshold
(:func:`.clip_quantile.score_threshold`), and rejects the rows below it with their score and the
threshold in the reject detail. Rows without a score (no image) are neither counted nor cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from mmcurate.filters.clip_quantile import score_threshold
from mmcurate.filters.clip_score import NAME as CLIP_NAME
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import Pass, decision_table
from mmcurate.schemas import sample as S

__all__ = ["ClipKeepTop"]


@dataclass(kw_only=True)
class ClipKeepTop(Pass):
    """Keep the ``keep_fraction`` best CLIP scores of the whole input (needs a clip_score step before it)."""

    name: ClassVar[str] = "clip_keep_top_v1"

    keep_fraction: float = param(0.3, doc="fraction of scored rows kept (DataComp: 0.3)", gt=0, le=1)
    reduce: Literal["mean", "max"] = param("mean", doc="which per-sample CLIP score is ranked", choices=("mean", "max"))

    def column(self) -> str:
        return f"{CLIP_NAME}_{self.reduce}"

    def columns(self) -> list[str]:
        return [self.column()]

    def decide(self, rows: pa.Table) -> pa.Table:
        scores = rows.column(self.column()).to_numpy(zero_copy_only=False).astype(np.float64)
        scored = ~np.isnan(scores)
        if not scored.any():
            return decision_table([], [])
        threshold = score_threshold(rows, self.keep_fraction, self.column())
        below = scored & (scores < threshold)
        ids = np.asarray(rows.column(S.SAMPLE_ID).to_pylist(), dtype=object)[below].tolist()
        details = [f"{self.column()} {s:.4f} < {threshold:.4f} (top {self.keep_fraction:g} of {int(scored.sum())})"
                   for s in scores[below]]
        return decision_table(ids, ["below_top_fraction"] * len(ids), details)
