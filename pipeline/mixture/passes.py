"""The mixture's set-level steps over the accepted output: ``balance`` and ``pack``.

They read only slim columns of the committed accepted shards (id, modality, source, token counts:
~50 MB per million rows), never the media. ``balance`` gives each sample a hash-seeded repeat count
that meets the token budget and mixture shares, and a loss weight (√-length by default); ``pack``
places the repeated samples into fixed-length sequences, first-fit-decreasing. Both write under
``mixture/``: ``balance.parquet`` and ``report.json``, then the pack shards with their manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.mixture.budget import BudgetConfig, balance, budget_rows
from mmcurate.pipeline.mixture.loss_weights import add_loss_weights
from mmcurate.pipeline.mixture.pack_shards import write_pack_shards
from mmcurate.pipeline.mixture.packing import ROW, SHARD, pack_table
from mmcurate.pipeline.mixture.pieces import document_windows, split_into_windows
from mmcurate.pipeline.out_files import files_in, parquet_schema, read_parquet
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, REPEATS, TOKENS_SUPERVISED, TOKENS_TOTAL

__all__ = ["Balance", "Pack", "accepted_slim_rows", "BALANCE_TABLE"]

BALANCE_TABLE = "mixture/balance.parquet"
_SLIM = [S.SAMPLE_ID, S.SOURCE, MODALITY, TOKENS_TOTAL, TOKENS_SUPERVISED]


def located_rows(out_dir: str, folder: str, columns: list[str]) -> pa.Table | None:
    """``columns`` of every record under ``out_dir/folder``, with the ``shard`` and ``row`` that locate it
    (None when the folder holds no Parquet shard)."""
    files = files_in(out_dir, folder)
    if not files:
        return None
    parts = []
    for path in files:
        table = read_parquet(path, columns)
        where = fs.relative_to(path, out_dir)
        parts.append(table.append_column(SHARD, pa.array([where] * table.num_rows, pa.string()))
                     .append_column(ROW, pa.array(range(table.num_rows), pa.int64())))
    return pa.concat_tables(parts)


def accepted_slim_rows(out_dir: str) -> pa.Table:
    """The slim columns of every accepted sample, located (empty when no row was accepted)."""
    shards = files_in(out_dir, "parquet")
    if not shards:
        return pa.table({c: pa.array([], pa.string() if c in (S.SAMPLE_ID, S.SOURCE, MODALITY) else pa.int64())
                         for c in _SLIM})
    missing = [c for c in _SLIM if c not in parquet_schema(shards[0]).names]
    if missing:
        raise KeyError(f"the accepted shards have no {missing}: put a count_tokens step before balance/pack")
    return located_rows(out_dir, "parquet", _SLIM)


@dataclass(kw_only=True)
class Balance(OutputPass):
    """Token budget and mixture shares: a repeat count and a loss weight per accepted sample."""

    name: ClassVar[str] = "balance_v1"

    total_tokens: int | None = param(None, doc="token budget; null: the natural total", ge=1)
    modality_shares: dict[str, float] | None = param(
        None, doc="target share per modality, e.g. {image_text: 0.55, video: 0.25, instruction: 0.2}; null: natural")
    max_repeats: int = param(4, doc="no sample repeats more often than this to meet a share", ge=1)
    loss_weighting: Literal["sqrt", "token", "sample"] = param(
        "sqrt", doc="per-sample loss weight: √-length, per token, or per sample", choices=("sqrt", "token", "sample"))
    seed: int = param(0, doc="seeds the hash that picks which samples repeat")

    def budget(self, rows: pa.Table) -> BudgetConfig:
        total = self.total_tokens or int(pc.sum(rows.column(TOKENS_TOTAL)).as_py() or 0)
        shares = self.modality_shares
        if not shares:  # no target: keep the natural mixture, so repeats are all 1
            sums = rows.group_by(MODALITY).aggregate([(TOKENS_TOTAL, "sum")]).to_pylist()
            natural = sum(r[f"{TOKENS_TOTAL}_sum"] or 0 for r in sums)
            shares = {r[MODALITY]: (r[f"{TOKENS_TOTAL}_sum"] or 0) / max(natural, 1) for r in sums}
        return BudgetConfig(total_tokens=max(total, 1), modality_shares=shares, max_repeats=self.max_repeats,
                            seed=self.seed)

    def weighted(self, rows: pa.Table) -> tuple[pa.Table, pa.Table]:
        """``(sample_id, tokens_total, repeats, loss_weight, ...)`` rows and the budget report."""
        balanced, report = balance(budget_rows(rows), self.budget(rows))
        carried = [S.SAMPLE_ID, TOKENS_SUPERVISED, *(c for c in (SHARD, ROW) if c in rows.column_names)]
        weighted = balanced.join(rows.select(carried), S.SAMPLE_ID).sort_by(S.SAMPLE_ID)
        return add_loss_weights(weighted, mode=self.loss_weighting), report

    def run(self, context: OutputContext) -> dict[str, Any]:
        rows = accepted_slim_rows(context.out_dir)
        if rows.num_rows == 0:
            return {"samples": 0}
        weighted, report = self.weighted(rows)
        fs.write_atomic(fs.join(context.out_dir, BALANCE_TABLE), lambda fh: pq.write_table(weighted, fh))
        body = json.dumps({"budget": report.to_pylist()}, indent=2, sort_keys=True, default=str)
        fs.write_atomic(fs.join(context.out_dir, "mixture", "report.json"), lambda fh: fh.write(body.encode() + b"\n"))
        repeats = weighted.column(REPEATS)
        return {"samples": rows.num_rows, "repeated_rows": int(pc.sum(repeats).as_py() or 0)}


@dataclass(kw_only=True)
class Pack(OutputPass):
    """First-fit-decreasing packing of the balanced samples into sequences of ``context`` tokens."""

    name: ClassVar[str] = "pack_v1"

    context: int = param(8192, doc="pack length in tokens; longer samples are rejected (pack_v1:too_long)", ge=1)
    packs_per_shard: int = param(4096, doc="packs per output shard", ge=1)

    def _rows(self, out_dir: str) -> pa.Table:
        if fs.exists(fs.join(out_dir, BALANCE_TABLE)):
            return read_parquet(fs.join(out_dir, BALANCE_TABLE))
        rows = accepted_slim_rows(out_dir)  # no balance step: every sample once, √-length weights
        return Balance().weighted(rows)[0] if rows.num_rows else rows

    def _from_token_records(self, out_dir: str, weighted: pa.Table) -> tuple[pa.Table, str]:
        """One token universe: with token records written (``tokens/``), packs hold those very sequences,
        their lengths and their places; otherwise the counted lengths and the accepted shards' rows."""
        records = located_rows(out_dir, "tokens", [S.SAMPLE_ID, "n_tokens"])
        if records is None:
            return weighted, TOKENS_TOTAL
        keep = [c for c in weighted.column_names if c not in (SHARD, ROW, "n_tokens")]
        return weighted.select(keep).join(records, S.SAMPLE_ID).sort_by(S.SAMPLE_ID), "n_tokens"

    def run(self, context: OutputContext) -> dict[str, Any]:
        weighted = self._rows(context.out_dir)
        if weighted.num_rows == 0:
            return {"samples": 0}
        weighted, lengths = self._from_token_records(context.out_dir, weighted)
        windows = document_windows(files_in(context.out_dir, "parquet"))
        if windows:  # a long document reaches the trainer as its context windows: each packs on its own
            weighted = split_into_windows(weighted, windows, lengths)
        packed = pack_table(weighted.filter(pc.greater(weighted.column(REPEATS), 0)), self.context, lengths)
        summary = write_pack_shards(packed, fs.join(context.out_dir, "mixture"), packs_per_shard=self.packs_per_shard,
                                    config_hash=context.config_hash)
        return {"samples": weighted.num_rows,
                **{k: summary[k] for k in summary if k in ("packs", "efficiency", "rejected")}}
