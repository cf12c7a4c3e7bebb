"""The filter base: score first, then decide.

A filter writes its score columns (named with its ``score_prefix``) for every row it sees and marks
rows that fail with ``<name>:<reason>``; it never deletes rows, so the rejects table can say why. The
decision (:meth:`Filter.decide`) is pure and cheap and sees only scores, so thresholds can change
without rescoring; scoring (:meth:`Filter.score_batch`) is batched and is where the cost is.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas.table import put_column

__all__ = ["Filter"]


@dataclass(kw_only=True)
class Filter(Stage):
    """Subclasses implement ``score_batch`` and ``decide``; ``writes`` lists the score fields."""

    @abstractmethod
    def score_batch(self, batch: pa.Table) -> dict[str, pa.Array]:
        """Score columns for every row of ``batch`` (names must be declared in ``writes``)."""

    @abstractmethod
    def decide(self, scores: dict[str, Any]) -> str | None:
        """None to keep a row, or a short reason code to drop it. Pure: looks only at its scores."""

    def process_batch(self, batch: pa.Table) -> pa.Table:
        scores = self.score_batch(batch)
        for name, values in scores.items():
            field = next((f for f in self.writes if f.name == name), None)
            if field is None:
                raise KeyError(f"{self.name} scored undeclared column {name!r}")
            batch = put_column(batch, field, values)
        names = list(scores)
        rows = pa.table({n: batch.column(n) for n in names}).to_pylist() if names else [{}] * batch.num_rows
        decisions = [self.decide(r) for r in rows]
        for code in sorted({d for d in decisions if d is not None}):
            batch = mark_rejected(batch, [d == code for d in decisions], self.name, self.reason(code))
        return batch
