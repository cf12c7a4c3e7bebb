"""The token-budget balancer: reach a target mixture by deterministic down- and up-sampling.

Input: slim rows ``sample_id, modality, source, tokens_total`` (:func:`budget_rows`), one per sample.
Output: the same rows with ``repeats`` (0 = dropped, 1 = once, k = k epochs of that sample) and a
report of target vs achieved tokens per modality and per source.

The plan (:class:`BudgetConfig`): ``total_tokens``; ``modality_shares`` (e.g. image_text 0.55, video
0.25, instruction 0.20); optionally ``source_shares``, the split *within* a modality. The target of a
cell (modality m, source s) is::

    target(m, s) = total_tokens * modality_share[m] * within(m, s)
    within(m, s) = source_share[s] / sum(source_share[s'] for listed s' in m)   if any source of m is listed
                 = natural(m, s) / natural(m)                                     otherwise

so unlisted sources of a listed modality get 0, and modalities absent from ``modality_shares`` get 0.
Each row of a cell gets ``r = min(target / natural, max_repeats)`` and::

    repeats = floor(r) + (u < r - floor(r)),   u = blake2b(seed, sample_id) / 2**64

``u`` depends only on the seed and the sample, so the decision is the same on any worker, block split
or rerun, and the expected tokens of a cell are exactly ``r * natural``; with thousands of rows per
cell the achieved share is within a fraction of a percent. ``max_repeats`` (default 4, the
data-constrained-scaling guidance that ~4 epochs cost little) caps up-sampling; a capped cell reports
the shortfall instead of hiding it.

Both modes share :func:`cell_ratios` and :func:`decide`: the library function on an Arrow table, and
:func:`ray_balance`, which aggregates per cell with Ray (``groupby().aggregate``), brings the few cell
totals to the driver, and lets a per-row ``map_batches`` decide.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, REPEATS, TOKENS_TOTAL

if TYPE_CHECKING:
    import ray.data

__all__ = ["BudgetConfig", "budget_rows", "cell_totals", "add_totals", "with_out_tokens", "cell_ratios", "decide",
           "balance", "ray_balance", "balance_report"]

_Cell = tuple[str, str]


@dataclass(kw_only=True)
class BudgetConfig:
    total_tokens: int
    modality_shares: dict[str, float]
    source_shares: dict[str, float] = field(default_factory=dict)
    max_repeats: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.total_tokens < 1 or self.max_repeats < 1:
            raise ValueError("total_tokens and max_repeats must be >= 1")
        for shares in (self.modality_shares, self.source_shares):
            if any(v < 0 for v in shares.values()):
                raise ValueError(f"shares must be >= 0, got {shares}")
        if not math.isclose(sum(self.modality_shares.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"modality_shares must sum to 1, got {sum(self.modality_shares.values())}")


def budget_rows(samples: pa.Table, tokens_column: str = TOKENS_TOTAL) -> pa.Table:
    """The slim rows of the ok samples: ``sample_id, modality, source, tokens_total``."""
    if S.STATUS in samples.column_names:
        samples = samples.filter(pc.equal(samples.column(S.STATUS), S.STATUS_OK))
    slim = samples.select([S.SAMPLE_ID, MODALITY, S.SOURCE, tokens_column])
    return slim.rename_columns([S.SAMPLE_ID, MODALITY, S.SOURCE, TOKENS_TOTAL])


def cell_totals(table: pa.Table, column: str = TOKENS_TOTAL) -> dict[_Cell, float]:
    grouped = table.group_by([MODALITY, S.SOURCE]).aggregate([(column, "sum")])
    return {(m, s): float(t) for m, s, t in zip(grouped.column(MODALITY).to_pylist(), grouped.column(S.SOURCE).to_pylist(),
                                                grouped.column(f"{column}_sum").to_pylist())}


def add_totals(into: dict[_Cell, float], more: dict[_Cell, float]) -> dict[_Cell, float]:
    """``into`` plus ``more``, cell by cell: per-shard totals summed into the dataset's."""
    for cell, tokens in more.items():
        into[cell] = into.get(cell, 0.0) + tokens
    return into


def _targets(natural: dict[_Cell, float], config: BudgetConfig) -> dict[_Cell, float]:
    targets: dict[_Cell, float] = {}
    for m in {m for m, _ in natural}:
        cells = [c for c in natural if c[0] == m]
        listed = {c: config.source_shares[c[1]] for c in cells if c[1] in config.source_shares}
        budget = config.total_tokens * config.modality_shares.get(m, 0.0)
        nat_m = sum(natural[c] for c in cells)
        for c in cells:
            if listed:
                within = listed.get(c, 0.0) / (sum(listed.values()) or 1.0)
            else:
                within = natural[c] / nat_m if nat_m else 0.0
            targets[c] = budget * within
    return targets


def cell_ratios(natural: dict[_Cell, float], config: BudgetConfig) -> dict[_Cell, float]:
    """Repeat ratio ``r`` per (modality, source) cell, capped at ``max_repeats``."""
    targets = _targets(natural, config)
    return {c: min(targets[c] / natural[c], float(config.max_repeats)) if natural[c] > 0 else 0.0 for c in natural}


def _uniform(sample_ids: list[str], seed: int) -> np.ndarray:
    prefix = f"{seed}\x1fbudget\x1f".encode()
    raw = [int.from_bytes(hashlib.blake2b(prefix + s.encode(), digest_size=8).digest(), "big") for s in sample_ids]
    return np.array(raw, dtype=np.uint64).astype(np.float64) / 2.0**64


def decide(rows: pa.Table, ratios: dict[_Cell, float], seed: int) -> pa.Table:
    """``rows`` plus ``repeats`` (int32): the per-row decision, the same on every worker."""
    r = np.array([ratios.get((m, s), 0.0) for m, s in zip(rows.column(MODALITY).to_pylist(),
                                                          rows.column(S.SOURCE).to_pylist())], dtype=np.float64)
    base = np.floor(r)
    u = _uniform(rows.column(S.SAMPLE_ID).to_pylist(), seed)
    repeats = (base + (u < r - base)).astype(np.int32)
    return rows.append_column(REPEATS, pa.array(repeats, pa.int32()))


def balance_report(natural: dict[_Cell, float], achieved: dict[_Cell, float], config: BudgetConfig) -> pa.Table:
    """Target vs achieved tokens and shares per modality and per source (``level`` says which)."""
    targets = _targets(natural, config)
    cells = sorted(set(natural) | {(m, "*") for m in config.modality_shares})
    out: dict[str, list] = {k: [] for k in ("level", "key", "natural_tokens", "target_tokens", "achieved_tokens",
                                            "target_share", "achieved_share")}
    total_achieved = sum(achieved.values()) or 1.0
    groups = [("modality", m, lambda c, m=m: c[0] == m) for m in sorted({c[0] for c in cells})]
    groups += [("source", s, lambda c, s=s: c[1] == s) for s in sorted({c[1] for c in natural})]
    for level, key, member in groups:
        nat = sum(v for c, v in natural.items() if member(c))
        tgt = (config.total_tokens * config.modality_shares.get(key, 0.0) if level == "modality"
               else sum(v for c, v in targets.items() if member(c)))
        ach = sum(v for c, v in achieved.items() if member(c))
        for name, value in zip(out, (level, key, nat, tgt, ach, tgt / config.total_tokens, ach / total_achieved)):
            out[name].append(value)
    return pa.table(out)


def balance(rows: pa.Table, config: BudgetConfig) -> tuple[pa.Table, pa.Table]:
    """Library mode: ``(rows with repeats, report)`` for a slim Arrow table."""
    natural = cell_totals(rows)
    decided = decide(rows, cell_ratios(natural, config), config.seed)
    achieved = cell_totals(with_out_tokens(decided), "_out")
    return decided, balance_report(natural, achieved, config)


def _ray_totals(ds: ray.data.Dataset, column: str) -> dict[_Cell, float]:
    from ray.data.aggregate import Sum

    rows = ds.groupby([MODALITY, S.SOURCE]).aggregate(Sum(column, alias_name="t")).take_all()
    return {(r[MODALITY], r[S.SOURCE]): float(r["t"]) for r in rows}


def with_out_tokens(batch: pa.Table) -> pa.Table:
    return batch.append_column("_out", pc.multiply(batch.column(TOKENS_TOTAL).cast(pa.int64()),
                                                   batch.column(REPEATS).cast(pa.int64())))


def ray_balance(ds: ray.data.Dataset, config: BudgetConfig) -> tuple[ray.data.Dataset, pa.Table]:
    """Ray mode: per-cell totals by ``groupby().aggregate``, then a per-row ``map_batches`` decides.

    Returns the materialized dataset of slim rows with ``repeats``, and the report.
    """
    slim = ds.select_columns([S.SAMPLE_ID, MODALITY, S.SOURCE, TOKENS_TOTAL])
    natural = _ray_totals(slim, TOKENS_TOTAL)
    decided = slim.map_batches(decide, batch_format="pyarrow", batch_size=None,
                               fn_kwargs={"ratios": cell_ratios(natural, config), "seed": config.seed}).materialize()
    achieved = _ray_totals(decided.map_batches(with_out_tokens, batch_format="pyarrow", batch_size=None), "_out")
    return decided, balance_report(natural, achieved, config)
