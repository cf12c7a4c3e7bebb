"""``dedup_v1``: the per-row face of the set-level dedup decision.

The global pass (:mod:`.job_pass`) decides, over the whole dataset, which rows duplicate others; this
stage only looks each row up in that decision and marks it rejected as ``dedup_v1:<method>`` with
``duplicate_of`` naming the row it matched, so the rejects table says what each removed row copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.dedup.policy import DEDUP_METHOD, DUPLICATE_OF
from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column

__all__ = ["ApplyDedup"]


@dataclass(kw_only=True)
class ApplyDedup(Stage):
    """``removals``: ``sample_id, duplicate_of, dedup_method`` rows from the global pass."""

    name: ClassVar[str] = "dedup_v1"
    reads: ClassVar[tuple[str, ...]] = (S.SAMPLE_ID,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(DUPLICATE_OF, pa.string(), metadata={"doc": "sample_id of the kept row this one duplicates"}),
    )

    removals: pa.Table = field(repr=False)
    batch_size: int = 100_000

    def process_batch(self, batch: pa.Table) -> pa.Table:
        index = pc.index_in(batch.column(S.SAMPLE_ID), value_set=self.removals.column(S.SAMPLE_ID))
        hit = pc.is_valid(index)
        duplicate_of = pc.take(self.removals.column(DUPLICATE_OF), index)
        methods = pc.take(self.removals.column(DEDUP_METHOD), index)
        out = put_column(batch, self.writes[0], duplicate_of)
        for method in sorted(set(m for m in methods.to_pylist() if m is not None)):
            mask = pc.and_(hit, pc.fill_null(pc.equal(methods, method), False))
            out = mark_rejected(out, mask, self.name, self.reason(method))
        return out
