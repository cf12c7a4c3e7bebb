"""``clip_keep_top``: keep the top fraction of the whole pool by CLIP score (DataComp's baseline).

A per-batch quantile would keep 30 % of every batch, a different and batch-order-dependent filter; the
cut has to be one threshold over every score of the input, so this is a set-level pass. It reads the
scores a ``clip_score`` step wrote earlier in the job (no model here), takes the exact threshold
(:func:`.clip_quantile.score_threshold`: on Ray by histogram refinement, so only bin counts and the
scores of one bin reach the driver), and its decision is that one threshold, not a row per rejected
sample: with DataComp's 30 % the rejects are 70 % of the pool, and a table of them would grow the
driver and every task that applies it with the data. In the main pass each batch's rows below the
threshold are rejected with their score and the threshold in the reject detail. Rows without a score
(no image) are neither counted nor cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from mmcurate.filters.clip_quantile import score_threshold
from mmcurate.filters.clip_score import NAME as CLIP_NAME
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import ApplyDecision, Pass, decision_table
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S

__all__ = ["ClipKeepTop", "KeepAboveThreshold"]

CODE = "below_top_fraction"
THRESHOLD, SCORED = "threshold", "scored"  # the decision's columns (one row; no threshold: nothing scored)


def _scores(rows: pa.Table, column: str) -> np.ndarray:
    return rows.column(column).to_numpy(zero_copy_only=False).astype(np.float64)


def _count_scored(batch: pa.Table, column: str) -> pa.Table:
    return pa.table({"n": [int((~np.isnan(_scores(batch, column))).sum())]})


def below(rows: pa.Table, column: str, threshold: float) -> np.ndarray:
    """Rows with a score under ``threshold`` (unscored rows never are)."""
    scores = _scores(rows, column)
    return ~np.isnan(scores) & (scores < threshold)


@dataclass(kw_only=True)
class KeepAboveThreshold(Stage):
    """The main pass's side of ``clip_keep_top``: rejects a batch's rows scored under the pool's threshold."""

    name: ClassVar[str] = "keep_above_threshold"
    step: str
    column: str
    threshold: float
    keep_fraction: float
    scored: int
    batch_size: int = param(100_000, doc="rows per batch", ge=1)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        hit = below(batch, self.column, self.threshold)
        if not hit.any():
            return batch
        ids = np.asarray(batch.column(S.SAMPLE_ID).to_pylist(), dtype=object)[hit].tolist()
        details = [f"{self.column} {s:.4f} < {self.threshold:.4f} (top {self.keep_fraction:g} of {self.scored})"
                   for s in _scores(batch, self.column)[hit]]
        decision = decision_table(ids, [CODE] * len(ids), details)
        return ApplyDecision(step=self.step, decision=decision).process_batch(batch)


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
        scored = int((~np.isnan(_scores(rows, self.column()))).sum())
        return self._decision(score_threshold(rows, self.keep_fraction, self.column()) if scored else None, scored)

    def decide_ray(self, rows: Any) -> pa.Table:
        counts = rows.map_batches(_count_scored, fn_kwargs={"column": self.column()}, batch_format="pyarrow",
                                  batch_size=None).take_all()
        scored = sum(c["n"] for c in counts)
        return self._decision(score_threshold(rows, self.keep_fraction, self.column()) if scored else None, scored)

    def _decision(self, threshold: float | None, scored: int) -> pa.Table:
        return decision_table([None], [None], **{THRESHOLD: pa.array([threshold], pa.float64()),
                                                 SCORED: pa.array([scored], pa.int64())})

    def _threshold(self, decision: pa.Table) -> tuple[float | None, int]:
        return decision.column(THRESHOLD)[0].as_py(), int(decision.column(SCORED)[0].as_py())

    def survivors(self, rows: pa.Table, decision: pa.Table) -> pa.Table:
        threshold, _ = self._threshold(decision)
        return rows if threshold is None else rows.filter(pa.array(~below(rows, self.column(), threshold)))

    def describe(self, decision: pa.Table) -> str:
        threshold, scored = self._threshold(decision)
        return ("no scored rows: nothing cut" if threshold is None else
                f"keeps {self.column()} >= {threshold:.4f} (top {self.keep_fraction:g} of {scored} scored rows)")

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        threshold, scored = self._threshold(decision)
        if threshold is None:
            return []
        return [KeepAboveThreshold(step=self.name, column=self.column(), threshold=threshold,
                                   keep_fraction=self.keep_fraction, scored=scored)]
