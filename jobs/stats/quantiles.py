"""Exact quantiles of a numeric stream: the values are kept and ``pyarrow.compute.quantile`` sorts them.

A quantile interpolated inside a histogram bin is invented: with 339 zeros and 2 large values in 341
rows, a 40-bin histogram put p50 at 8.85 (half way into the first bin) where the data says 0. So the
stats scan keeps each metric's values (float64, nulls and NaNs dropped: 8 bytes a value, ~8 MB per
metric per million rows) and asks Arrow for the quantile with linear interpolation *between neighbouring
values*, as ``numpy.quantile`` does; a value that is not in the data can only appear between two that are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Quantiles", "QUANTILES"]

QUANTILES = (0.5, 0.95)


def _clean(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    values = pc.cast(values, pa.float64())
    return pc.drop_null(pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values))


@dataclass
class Quantiles:
    """Collects a stream of numbers; :meth:`result` gives exact quantiles (None when empty)."""

    chunks: list[pa.Array] = field(default_factory=list)

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        clean = _clean(values)
        if len(clean):
            self.chunks.extend(clean.chunks if isinstance(clean, pa.ChunkedArray) else [clean])

    def result(self, qs: Sequence[float] = QUANTILES) -> dict[float, float | None]:
        if not self.chunks:
            return {q: None for q in qs}
        values = pa.chunked_array(self.chunks, pa.float64())
        found = pc.quantile(values, q=list(qs), interpolation="linear").to_pylist()
        return dict(zip(qs, found, strict=True))
