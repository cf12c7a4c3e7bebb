"""The mixture's set-level steps over the accepted output: ``balance`` and ``pack``.

They read only slim columns of the committed accepted shards (id, modality, source, token counts),
never the media, one shard at a time (:mod:`.accepted`): the driver holds one shard's slim rows and one
packing chunk, whatever the dataset's size. ``balance`` gives each sample a hash-seeded repeat count
that meets the token budget and mixture shares, and a loss weight (√-length by default), in three
reads of the slim columns (cell totals; repeats and loss-weight sums; the weights); ``pack`` places the
repeated samples into fixed-length sequences, first-fit-decreasing within chunks of ``chunk_rows``.
Both write under ``mixture/``: ``balance/part-NNNNN.parquet`` (one per accepted shard) and
``report.json``, then the pack shards with their manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.mixture.accepted import accepted_shards, located, part_name, slim_shards
from mmcurate.pipeline.mixture.budget import (
    BudgetConfig,
    add_totals,
    balance_report,
    budget_rows,
    cell_ratios,
    cell_totals,
    decide,
    with_out_tokens,
)
from mmcurate.pipeline.mixture.loss_weights import add_loss_weights, weight_scale, weight_sums
from mmcurate.pipeline.mixture.pack_shards import PackShardWriter
from mmcurate.pipeline.mixture.packing import ROW, SHARD, pack_batches
from mmcurate.pipeline.mixture.pieces import document_windows, split_into_windows
from mmcurate.pipeline.out_files import files_in, read_parquet
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.pipeline.process_memory import TRIM_MIN_UNIT_BYTES, fix_mmap_threshold, return_freed_memory
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import REPEATS, TOKENS_SUPERVISED, TOKENS_TOTAL

__all__ = ["Balance", "Pack", "BALANCE_DIR", "BalancePlan"]

BALANCE_DIR = "mixture/balance"
TOKENS_MANIFEST = "tokens/manifest.json"


@dataclass(frozen=True)
class BalancePlan:
    """What the whole dataset decides for each row: the repeat ratio per cell, the loss-weight scale."""

    config: BudgetConfig
    ratios: dict[tuple[str, str], float]
    scale: float
    report: pa.Table
    samples: int
    repeated_rows: int


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

    def budget(self, natural: dict[tuple[str, str], float]) -> BudgetConfig:
        total = self.total_tokens or int(sum(natural.values()))
        shares = self.modality_shares
        if not shares:  # no target: keep the natural mixture, so repeats are all 1
            by_modality: dict[str, float] = {}
            for (modality, _source), tokens in natural.items():
                by_modality[modality] = by_modality.get(modality, 0.0) + tokens
            shares = {m: t / max(sum(by_modality.values()), 1) for m, t in by_modality.items()}
        return BudgetConfig(total_tokens=max(total, 1), modality_shares=shares, max_repeats=self.max_repeats,
                            seed=self.seed)

    def plan(self, out_dir: str) -> BalancePlan | None:
        """Two reads of the slim columns: cell totals, then repeats and loss-weight sums (None: no rows)."""
        natural: dict[tuple[str, str], float] = {}
        samples = 0
        for slim in slim_shards(out_dir):
            add_totals(natural, cell_totals(budget_rows(slim)))
            samples += slim.num_rows
        if not samples:
            return None
        config = self.budget(natural)
        ratios = cell_ratios(natural, config)
        achieved: dict[tuple[str, str], float] = {}
        tokens = weighted = 0.0
        repeated = 0
        for slim in slim_shards(out_dir):
            decided = self._decided(slim, ratios)
            add_totals(achieved, cell_totals(with_out_tokens(decided), "_out"))
            part_tokens, part_weighted = weight_sums(decided, self.loss_weighting)
            tokens, weighted = tokens + part_tokens, weighted + part_weighted
            repeated += int(pc.sum(decided.column(REPEATS)).as_py() or 0)
        return BalancePlan(config, ratios, weight_scale(tokens, weighted), balance_report(natural, achieved, config),
                           samples, repeated)

    def _decided(self, slim: pa.Table, ratios: dict[tuple[str, str], float]) -> pa.Table:
        decided = decide(budget_rows(slim), ratios, self.seed)
        for name in (TOKENS_SUPERVISED, SHARD, ROW):  # budget_rows keeps every row in order: same positions
            decided = decided.append_column(slim.schema.field(name), slim.column(name))
        return decided

    def weighted_parts(self, out_dir: str, plan: BalancePlan) -> Iterator[pa.Table]:
        """Per accepted shard, in order: ``(sample_id, tokens_total, repeats, loss_weight, shard, row, ...)``."""
        for slim in slim_shards(out_dir):
            decided = self._decided(slim, plan.ratios)
            yield add_loss_weights(decided, mode=self.loss_weighting, scale=plan.scale)

    def run(self, context: OutputContext) -> dict[str, Any]:
        plan = self.plan(context.out_dir)
        if plan is None:
            return {"samples": 0}
        for index, part in enumerate(self.weighted_parts(context.out_dir, plan)):
            fs.write_atomic(fs.join(context.out_dir, BALANCE_DIR, part_name(index)),
                            lambda fh, t=part: pq.write_table(t, fh))
        body = json.dumps({"budget": plan.report.to_pylist()}, indent=2, sort_keys=True, default=str)
        fs.write_atomic(fs.join(context.out_dir, "mixture", "report.json"), lambda fh: fh.write(body.encode() + b"\n"))
        return {"samples": plan.samples, "repeated_rows": plan.repeated_rows}


@dataclass(kw_only=True)
class Pack(OutputPass):
    """First-fit-decreasing packing of the balanced samples into sequences of ``context`` tokens."""

    name: ClassVar[str] = "pack_v1"

    context: int = param(8192, doc="pack length in tokens; longer samples are rejected (pack_v1:too_long)", ge=1)
    packs_per_shard: int = param(4096, doc="packs per output shard", ge=1)

    chunk_rows: int = param(1_000_000, doc="rows packed together (FFD within a chunk): the driver holds one chunk",
                            ge=1)

    def _parts(self, out_dir: str) -> Iterator[pa.Table]:
        """The balanced rows per accepted shard: ``balance``'s parts, or every sample once, √-length."""
        written = files_in(out_dir, BALANCE_DIR)
        if written:
            for location in written:
                yield read_parquet(location)
            return
        balance = Balance()  # no balance step: every sample once, √-length weights
        plan = balance.plan(out_dir)
        if plan is not None:
            yield from balance.weighted_parts(out_dir, plan)

    def _token_shards(self, out_dir: str) -> dict[str, str] | None:
        """Token shard location per accepted shard (``token_records`` writes one per shard), or None."""
        if not fs.exists(fs.join(out_dir, TOKENS_MANIFEST)):
            return None
        manifest = json.loads(fs.read_bytes(fs.join(out_dir, TOKENS_MANIFEST)))
        return {s["source"]: fs.join(out_dir, "tokens", s["path"]) for s in manifest["shards"] if s.get("source")}

    def _sequences(self, part: pa.Table, shard: str, tokens: dict[str, str] | None, out_dir: str) -> pa.Table:
        """One shard's packable sequences: with token records, their lengths and places; a long document
        as its context windows, each packed on its own."""
        if tokens is not None:
            keep = [c for c in part.column_names if c not in (SHARD, ROW, "n_tokens")]
            if shard not in tokens:
                raise KeyError(f"{shard} has no token records: run token_records before pack")
            records = located(tokens[shard], out_dir, [S.SAMPLE_ID, "n_tokens"])
            part = part.select(keep).join(records, S.SAMPLE_ID).sort_by(S.SAMPLE_ID)
        windows = document_windows([fs.join(out_dir, shard)])
        if windows:
            part = split_into_windows(part, windows, "n_tokens" if tokens is not None else TOKENS_TOTAL)
        return part

    def _chunks(self, out_dir: str, tokens: dict[str, str] | None, counted: list[int]) -> Iterator[pa.Table]:
        buffer: list[pa.Table] = []
        held = 0
        for part in self._parts(out_dir):
            if not part.num_rows:
                continue
            part = self._sequences(part, part.column(SHARD)[0].as_py(), tokens, out_dir)
            counted[0] += part.num_rows
            part = part.filter(pc.greater(part.column(REPEATS), 0))
            buffer.append(part)
            held += part.num_rows
            if held >= self.chunk_rows:
                chunk = pa.concat_tables(buffer, promote_options="default")
                buffer, held = [], 0
                yield chunk
                del chunk
        if buffer:
            yield pa.concat_tables(buffer, promote_options="default")

    def run(self, context: OutputContext) -> dict[str, Any]:
        if not accepted_shards(context.out_dir):
            return {"samples": 0}
        tokens = self._token_shards(context.out_dir)
        counted = [0]
        writer = PackShardWriter(fs.join(context.out_dir, "mixture"), self.context,
                                 packs_per_shard=self.packs_per_shard, config_hash=context.config_hash)
        fix_mmap_threshold()
        for result in pack_batches(self._chunks(context.out_dir, tokens, counted), self.context,
                                   "n_tokens" if tokens is not None else TOKENS_TOTAL):
            writer.add(result)
            del result  # not alive while the next chunk is built
            return_freed_memory(TRIM_MIN_UNIT_BYTES)  # a chunk's temporaries back to the OS before the next
        if not counted[0]:
            return {"samples": 0}
        summary = writer.close()
        return {"samples": counted[0], **{k: summary[k] for k in summary if k in ("packs", "efficiency", "rejected")}}
