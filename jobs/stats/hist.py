"""Streaming histograms over Arrow arrays: a range pass, then a counting pass, both in batches.

A histogram needs its bin edges before it sees the data, and keeping every value to find them is
exactly what must not happen on a hundred million rows. So each distribution is computed in two scans
of only its columns: :class:`Range` folds ``min_max``/``sum``/``count`` per batch, then
:class:`Histogram` bins each batch with ``floor((x - lo) / width)`` and ``value_counts`` (Arrow
compute) and adds the per-bin counts. Memory is one batch plus ``bins`` integers. Integer columns with
a small range get one bin per value so counts such as "cluster size 2" are exact. Quantiles are never
read off these bins (see :mod:`.quantiles`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Range", "Histogram", "Histogram2D", "DEFAULT_BINS"]

DEFAULT_BINS = 40


def _numeric(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Values as float64 without nulls and NaNs (they are counted apart, never binned)."""
    values = pc.cast(values, pa.float64())
    return pc.drop_null(pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values))


@dataclass
class Range:
    """Count, nulls, min, max and sum of a numeric stream; ``integer`` if every value was integral."""

    count: int = 0
    nulls: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    total: float = 0.0
    integer: bool = True

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        if pa.types.is_floating(values.type):
            self.integer = False
        clean = _numeric(values)
        self.nulls += len(values) - len(clean)
        if len(clean) == 0:
            return
        self.count += len(clean)
        bounds = pc.min_max(clean)
        self.lo = min(self.lo, bounds["min"].as_py())
        self.hi = max(self.hi, bounds["max"].as_py())
        self.total += pc.sum(clean).as_py()

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def merged(self, other: Range) -> Range:
        """The range of both streams (e.g. accepted and rejected rows, so one set of bin edges fits both)."""
        return Range(count=self.count + other.count, nulls=self.nulls + other.nulls, lo=min(self.lo, other.lo),
                     hi=max(self.hi, other.hi), total=self.total + other.total,
                     integer=self.integer and other.integer)


@dataclass
class Histogram:
    """Counts over equal-width bins from ``lo`` to ``hi`` (the last bin includes ``hi``)."""

    lo: float
    hi: float
    bins: int
    counts: list[int] = field(default_factory=list)
    discrete: bool = False  # one bin per integer value

    @classmethod
    def for_range(cls, rng: Range, bins: int = DEFAULT_BINS, include: Sequence[float] = ()) -> Histogram:
        """Edges covering the data and every value of ``include`` (thresholds stay on the axis)."""
        lo, hi = (rng.lo, rng.hi) if rng.count else (min(include, default=0.0), max(include, default=1.0))
        lo, hi = min([lo, *include]), max([hi, *include])
        integer = rng.integer and all(float(v).is_integer() for v in include)
        if integer and rng.count and hi - lo + 1 <= bins:
            # One bin per integer value, centred on it.
            return cls(lo=lo - 0.5, hi=hi + 0.5, bins=int(hi - lo + 1), discrete=True)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return cls(lo=lo, hi=hi, bins=bins)

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * self.bins

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.bins

    @property
    def edges(self) -> list[float]:
        return [self.lo + i * self.width for i in range(self.bins + 1)]

    def bin_index(self, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Bin of each (non-null, non-NaN) value, clamped into ``[0, bins)``."""
        scaled = pc.floor(pc.divide(pc.subtract(_numeric(values), self.lo), self.width))
        return pc.max_element_wise(pc.min_element_wise(pc.cast(scaled, pa.int64()), self.bins - 1), 0)

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.add_index(self.bin_index(values))

    def add_index(self, index: pa.Array | pa.ChunkedArray) -> None:
        tally = pc.value_counts(index)
        # One Python step per occupied bin (at most ``bins``), never per row.
        for b, n in zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=False):
            self.counts[b] += n

@dataclass
class Histogram2D:
    """Joint counts of two streams (e.g. width x height) on an ``x.bins`` x ``y.bins`` grid."""

    x: Histogram
    y: Histogram
    counts: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [[0] * self.y.bins for _ in range(self.x.bins)]

    def add(self, xs: pa.Array, ys: pa.Array) -> None:
        both = pc.and_(pc.is_valid(xs), pc.is_valid(ys))
        xs, ys = pc.filter(xs, both), pc.filter(ys, both)
        cell = pc.add(pc.multiply(self.x.bin_index(xs), self.y.bins), self.y.bin_index(ys))
        tally = pc.value_counts(cell)
        for c, n in zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=False):
            self.counts[c // self.y.bins][c % self.y.bins] += n
