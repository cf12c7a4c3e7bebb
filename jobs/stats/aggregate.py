"""The numbers behind ``mmcurate stats``: funnel, recount, distributions and token totals of a folder.

Everything comes from the data with Arrow compute over batches of only the needed columns (see
:mod:`.layout`): the funnel from ``stats.parquet`` (the manifest's own counts), a recount from the
shards themselves (Parquet footers for accepted rows, ``value_counts`` of ``rejects/*.reason``), and
one :class:`Distribution` per metric from the two-scan histograms of :mod:`.hist`. Metrics are data
(:class:`Metric`: which table, which columns, how to get values from a batch), so adding one is one
entry, and :func:`aggregate` plans the scans: one range scan and one counting scan per table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.jobs.stats.hist import Histogram, Histogram2D, Range
from mmcurate.jobs.stats.layout import OutputFolder, track
from mmcurate.jobs.stats.metrics import (
    CLUSTER_SIZE,
    Metric,
    clip_metrics,
    image_dims,
    score_columns,
    shard_metrics,
    token_columns,
)
from mmcurate.jobs.stats.quantiles import Quantiles
from mmcurate.jobs.stats.thresholds import job_thresholds
from mmcurate.jobs.stats.tokens import Tokens, TokenTally, budget_targets
from mmcurate.pipeline import fs
from mmcurate.schemas import sample as S

__all__ = ["Distribution", "Funnel", "Summary", "aggregate"]


@dataclass
class Distribution:
    """One metric over the accepted rows (``range``, ``hist``, exact ``quantiles``) and, where the rejects
    carry it, over the rejected rows on the same bin edges, with the job's thresholds for it."""

    metric: Metric
    range: Range
    hist: Histogram
    thresholds: list[float] = field(default_factory=list)
    quantiles: dict[float, float | None] = field(default_factory=dict)
    rejected: Range | None = None
    rejected_hist: Histogram | None = None

    @property
    def kept_share(self) -> float | None:
        """Accepted share of the rows that have a value (None without rejected rows to compare)."""
        if self.rejected is None or self.range.count + self.rejected.count == 0:
            return None
        return self.range.count / (self.range.count + self.rejected.count)


@dataclass
class Funnel:
    """Input -> per-stage rejects -> accepted. Stages are ordered by rows removed (the folder does not
    record the order stages ran in; every rejected row counts once, for the stage that dropped it)."""

    rows_in: int
    accepted: int
    reasons: dict[str, int]
    origin: str  # where the counts come from: 'stats.parquet' or 'recount'

    @property
    def rejected(self) -> int:
        return sum(self.reasons.values())

    def stages(self) -> list[tuple[str, int, dict[str, int]]]:
        by_stage: dict[str, dict[str, int]] = {}
        for reason, n in self.reasons.items():
            by_stage.setdefault(reason.split(":", 1)[0], {})[reason] = n
        rows = [(stage, sum(r.values()), r) for stage, r in by_stage.items()]
        return sorted(rows, key=lambda row: (-row[1], row[0]))


@dataclass
class Summary:
    folder: OutputFolder
    funnel: Funnel
    recount_accepted: int
    recount_reasons: dict[str, int]
    distributions: list[Distribution]
    sizes: Histogram2D | None
    tokens: Tokens | None
    score_columns: list[str]

    @property
    def consistent(self) -> bool:
        """Manifest counts agree with the shards on disk."""
        return self.recount_accepted == self.funnel.accepted and self.recount_reasons == self.funnel.reasons


def _manifest_funnel(folder: OutputFolder) -> Funnel | None:
    if not fs.exists(folder.stats_path):
        return None
    stats = folder.read_table(folder.stats_path, ["status", "reason", "count"])
    grouped = stats.group_by(["status", "reason"], use_threads=False).aggregate([("count", "sum")])
    accepted = pc.sum(pc.filter(grouped["count_sum"], pc.equal(grouped["status"], S.STATUS_OK))).as_py() or 0
    rejected = grouped.filter(pc.equal(grouped["status"], S.STATUS_REJECTED))
    reasons = dict(zip(rejected["reason"].to_pylist(), rejected["count_sum"].to_pylist(), strict=True))
    reasons = {r: n for r, n in reasons.items() if n}
    return Funnel(
        rows_in=accepted + sum(reasons.values()),
        accepted=accepted,
        reasons=_sorted(reasons),
        origin="stats.parquet",
    )


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _recount_rejects(folder: OutputFolder, progress: bool) -> dict[str, int]:
    files = folder.reject_files()
    counts: Counter[str] = Counter()
    batches = track(folder.scan(files, ["reason"]), folder.count_rows(files), "rejects", progress)
    for batch in batches:
        tally = pc.value_counts(batch.data.column("reason"))
        counts.update(
            dict(zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=True))
        )
    return _sorted(dict(counts))


def _batches(
    folder: OutputFolder, files: list[Path], columns: list[str], desc: str, progress: bool
) -> Iterator[pa.RecordBatch]:
    for batch in track(
        folder.scan(files, list(dict.fromkeys(columns))), folder.count_rows(files), desc, progress
    ):
        yield batch.data


def aggregate(
    folder: OutputFolder,
    *,
    thresholds: dict[str, list[float]] | None = None,
    targets: dict[str, float] | None = None,
    progress: bool = True,
) -> Summary:
    """Scan ``folder`` and return every number the report shows."""
    recount_reasons = _recount_rejects(folder, progress)
    shard_files = folder.shard_files()
    reject_files = folder.reject_files()
    recount_accepted = folder.count_rows(shard_files)
    schema = folder.schema_of(shard_files) or folder.schema_of(reject_files)
    scores = score_columns(schema)
    thresholds = {
        **{
            k: [float(v) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in folder.job.get("thresholds", {}).items()
        },
        **job_thresholds(folder.job.get("steps") or [], scores, stage_name=_stage_name),  # the steps' cuts
        **(thresholds or {}),
    }
    funnel = _manifest_funnel(folder) or Funnel(
        rows_in=recount_accepted + sum(recount_reasons.values()),
        accepted=recount_accepted,
        reasons=recount_reasons,
        origin="recount",
    )
    token_cols = token_columns(schema)
    plans = [
        ("shards", shard_files, shard_metrics(schema, scores, token_cols)),
        ("clips", folder.clip_files(), clip_metrics(folder.schema_of(folder.clip_files()))),
    ]

    tally = TokenTally(token_cols) if token_cols else None
    reject_schema = folder.schema_of(reject_files)

    distributions: list[Distribution] = []
    sizes: Histogram2D | None = None
    for name, files, metrics in plans:
        if not metrics:
            continue
        # Pass 1: ranges (and token sums, which need no second look) and the values for exact quantiles.
        columns = [c for m in metrics for c in m.columns]
        ranges = [Range() for _ in metrics]
        quantiles = [Quantiles() for _ in metrics]
        extra = tally.reads if name == "shards" and tally is not None else []
        for data in _batches(folder, files, columns + extra, f"{name} 1/2", progress):
            for metric, rng, qs in zip(metrics, ranges, quantiles, strict=True):
                if metric.available(data):
                    values = metric.values(data)
                    rng.add(values)
                    qs.add(values)
            if name == "shards" and tally is not None:
                tally.add(data)
        # The rejected rows of the same metrics (reject/v3 rows keep their scores and media sizes).
        stacked = _stacked(metrics, reject_schema) if name == "shards" else []
        rejected = {m.key: Range() for m in stacked}
        for data in _batches(folder, reject_files, [c for m in stacked for c in m.columns], "rejects 1/2",
                             progress) if stacked else ():
            for metric in stacked:
                if metric.available(data):
                    rejected[metric.key].add(metric.values(data))
        # Pass 2: histograms on edges that hold accepted and rejected values and every threshold.
        hists = [
            Histogram.for_range(r.merged(rejected[m.key]) if m.key in rejected else r,
                                include=thresholds.get(m.key, ()))
            for m, r in zip(metrics, ranges, strict=True)
        ]
        dims = {m.key: r for m, r in zip(metrics, ranges, strict=True)}
        grid = None
        if "image_width" in dims and dims["image_width"].count:
            grid = Histogram2D(
                x=Histogram.for_range(dims["image_width"], 24),
                y=Histogram.for_range(dims["image_height"], 24),
            )
        for data in _batches(folder, files, columns, f"{name} 2/2", progress):
            for metric, hist in zip(metrics, hists, strict=True):
                if metric.available(data):
                    hist.add(metric.values(data))
            if grid is not None:
                grid.add(*image_dims(data))
        rejected_hists = {m.key: Histogram(lo=h.lo, hi=h.hi, bins=h.bins, discrete=h.discrete)
                          for m, h in zip(metrics, hists, strict=True) if m.key in rejected}
        for data in _batches(folder, reject_files, [c for m in stacked for c in m.columns], "rejects 2/2",
                             progress) if stacked else ():
            for metric in stacked:
                if metric.available(data):
                    rejected_hists[metric.key].add(metric.values(data))
        sizes = grid or sizes
        distributions += [
            Distribution(m, r, h, thresholds.get(m.key, []), q.result(), rejected.get(m.key),
                         rejected_hists.get(m.key))
            for m, r, h, q in zip(metrics, ranges, hists, quantiles, strict=True)
        ]

    distributions += _dedup_distribution(folder, thresholds)
    tokens = tally.result(budget_targets(folder.root, targets)) if tally is not None else None
    return Summary(
        folder=folder,
        funnel=funnel,
        recount_accepted=recount_accepted,
        recount_reasons=recount_reasons,
        distributions=distributions,
        sizes=sizes,
        tokens=tokens,
        score_columns=scores,
    )


def _stacked(metrics: list[Metric], reject_schema: pa.Schema | None) -> list[Metric]:
    """The metrics the rejects can feed. Not captions: rejects keep only their first 1,000 characters."""
    if reject_schema is None:
        return []
    names = set(reject_schema.names)
    return [m for m in metrics if m.group != "captions" and all(c.split(".")[0] in names for c in m.columns)]


def _stage_name(use: str) -> str | None:
    """The versioned stage name a recorded step writes its columns under (None: not a known step)."""
    from mmcurate.jobs.catalog import STEPS, stage_name

    return stage_name(use) if use in STEPS else None


def _duplicate_of(folder: OutputFolder) -> pa.Table | None:
    """``duplicate_of`` of every row a dedup step removed, over all of the job's pass decisions."""
    parts = []
    for path in folder.removal_files():
        schema = folder.schema_of([path])
        if schema is not None and "duplicate_of" in schema.names:
            table = folder.read_table(path, ["duplicate_of"])
            parts.append(table.filter(pc.is_valid(table.column("duplicate_of"))))
    return pa.concat_tables(parts) if parts else None


def _dedup_distribution(folder: OutputFolder, thresholds: dict[str, list[float]]) -> list[Distribution]:
    """Cluster sizes (kept row + its removed duplicates) from the dedup steps' decisions (``passes/``).

    A decision table is written in one piece by the job, so reading its id column whole is bounded by
    what the job already held in memory.
    """
    removals = _duplicate_of(folder)
    if removals is None or removals.num_rows == 0:
        return []
    grouped = removals.group_by("duplicate_of", use_threads=False).aggregate([("duplicate_of", "count")])
    sizes = pc.add(grouped["duplicate_of_count"], 1)
    rng = Range()
    rng.add(sizes)
    hist = Histogram.for_range(rng, include=thresholds.get(CLUSTER_SIZE.key, ()))
    hist.add(sizes)
    exact = Quantiles()
    exact.add(sizes)
    return [Distribution(CLUSTER_SIZE, rng, hist, thresholds.get(CLUSTER_SIZE.key, []), exact.result())]
