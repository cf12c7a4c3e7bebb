"""Set-level passes: steps that must see the whole dataset before any row of it can be decided.

A row stage decides a row from the row alone. Some decisions cannot: whether a row duplicates another
row in another file, whether a CLIP score is in the top 30 % of the *pool*. A :class:`Pass` states
what it needs (the stages that compute its signature columns, and the columns it reads), gets those
columns for every row still ``ok`` at its place in the job, and returns a *decision table*: one row per
sample it acts on, with a reject code (null: keep) and any columns it sets. The engine
(:mod:`mmcurate.pipeline.pass_runner`) computes the decision once, saves it, and applies it right
after the pass's place in the job with :class:`ApplyDecision` — the pass names no engine internals and
the engine names no pass.

An :class:`OutputPass` works on what the job wrote (balance, packing, token records): it runs after
every unit is committed, over the accepted shards, and writes its own tables next to them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.params import check_params, param
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column

__all__ = ["REJECT", "DETAIL", "Pass", "OutputPass", "OutputContext", "ApplyDecision", "decision_table",
           "survivors"]

REJECT = "reject"  # decision column: the reject code of a row, null to keep it
DETAIL = "detail"  # decision column: what the reject is about, with its numbers


def decision_table(sample_ids: list[str] | pa.Array, codes: list[str | None] | pa.Array,
                   details: list[str | None] | pa.Array | None = None, **columns: pa.Array) -> pa.Table:
    """A decision table: ``sample_id``, ``reject``, ``detail`` and any columns the pass sets."""
    n = len(sample_ids)
    data: dict[str, Any] = {
        S.SAMPLE_ID: pa.array(sample_ids, pa.string()),
        REJECT: pa.array(codes, pa.string()),
        DETAIL: pa.array(details if details is not None else [None] * n, pa.string()),
    }
    return pa.table({**data, **columns})


def survivors(rows: pa.Table, decision: pa.Table) -> pa.Table:
    """``rows`` without the ones ``decision`` rejects (what the next pass of a group sees)."""
    rejected = decision.filter(pc.is_valid(decision.column(REJECT))).column(S.SAMPLE_ID)
    if len(rejected) == 0:
        return rows
    return rows.filter(pc.invert(pc.is_in(rows.column(S.SAMPLE_ID), value_set=rejected.combine_chunks())))


@dataclass(kw_only=True)
class Pass(ABC):
    """A set-level step. Subclasses are ``@dataclass(kw_only=True)``; their fields are their parameters."""

    name: ClassVar[str]  # the stage name its rejects carry: ``<name>:<code>``
    writes: ClassVar[tuple[pa.Field, ...]] = ()  # columns its decision sets on the rows it names
    # True: the pass must see the rows with every earlier pass's decision applied (not only survivors),
    # so it starts a collection of its own instead of sharing the previous pass's.
    own_collection: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_params(self)

    def bind_output(self, out_dir: str) -> None:
        """The job's output folder, given before collecting or applying: a pass that keeps files next to
        its decision (fetched image bodies) stores them there. Most passes need nothing."""

    def signature_stages(self) -> list[Stage]:
        """Stages that compute the columns this pass reads (run only to collect them)."""
        return []

    @abstractmethod
    def columns(self) -> list[str]:
        """Columns of the ok rows this pass reads, besides ``sample_id``."""

    def derive(self, table: pa.Table) -> pa.Table:
        """Columns computed from the ok rows on the workers before the slim columns are kept
        (a keep priority from image sizes, say): heavy columns never leave the worker."""
        return table

    @abstractmethod
    def decide(self, rows: pa.Table) -> pa.Table:
        """The decision over every collected row (see :func:`decision_table`)."""

    def decide_ray(self, rows: Any) -> pa.Table:
        """The same decision over a Ray Dataset of the collected rows; by default the rows come to the
        driver (they are the slim columns the pass asked for). Passes with a distributed method override."""
        import ray

        refs = rows.to_arrow_refs()
        tables = [t for t in ray.get(refs) if t.num_rows]
        return self.decide(pa.concat_tables(tables) if tables else self.empty_rows())

    def empty_rows(self) -> pa.Table:
        return pa.table({S.SAMPLE_ID: pa.array([], pa.string())})

    def survivors(self, rows: pa.Table, decision: pa.Table) -> pa.Table:
        """``rows`` without the ones ``decision`` rejects: what the next pass of its group sees."""
        return survivors(rows, decision)

    def describe(self, decision: pa.Table) -> str:
        """One line for the log: what the decision does."""
        return f"{decision.filter(pc.is_valid(decision.column(REJECT))).num_rows} rows rejected"

    def apply_stages(self, decision: pa.Table) -> list[Stage]:
        """The stages that apply ``decision`` in the main pass."""
        return [ApplyDecision(step=self.name, decision=decision, declared=self.writes)]

    def reason(self, code: str) -> str:
        return f"{self.name}:{code}"


@dataclass(kw_only=True)
class ApplyDecision(Stage):
    """A pass's decision, looked up per row: rejects with the pass's reasons, and the columns it sets."""

    name: ClassVar[str] = "apply_decision"
    step: str
    decision: pa.Table = field(repr=False)
    declared: tuple[pa.Field, ...] = ()
    batch_size: int = param(100_000, doc="rows per lookup", ge=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.writes = self.declared  # the runner types these columns from the stage's writes

    def process_batch(self, batch: pa.Table) -> pa.Table:
        index = pc.index_in(batch.column(S.SAMPLE_ID), value_set=self.decision.column(S.SAMPLE_ID).combine_chunks())
        for field_ in self.declared:
            values = pc.take(self.decision.column(field_.name), index)
            if field_.name in batch.column_names:  # rows the decision does not name keep their value
                values = pc.if_else(pc.is_valid(index), values, batch.column(field_.name))
            batch = put_column(batch, field_, values)
        codes = pc.take(self.decision.column(REJECT), index)
        details = pc.take(self.decision.column(DETAIL), index).to_pylist()
        for code in sorted({c for c in codes.to_pylist() if c is not None}):
            mask = pc.fill_null(pc.equal(codes, code), False).to_pylist()
            batch = _mark(batch, mask, self.step, f"{self.step}:{code}", details)
        return batch


def _mark(batch: pa.Table, mask: list[bool], stage: str, reason: str, details: list[str | None]) -> pa.Table:
    """Reject the masked rows; each keeps its own detail (the numbers behind its decision)."""
    by_detail: dict[str | None, list[bool]] = {}
    for i, hit in enumerate(mask):
        if hit:
            by_detail.setdefault(details[i], [False] * len(mask))[i] = True
    for detail, rows in sorted(by_detail.items(), key=lambda kv: kv[0] or ""):
        batch = mark_rejected(batch, rows, stage, reason, detail)
    return batch


@dataclass(frozen=True)
class OutputContext:
    """What an output pass gets: the committed output (a local folder or an object-store prefix: address
    its files with ``fs.join`` and read and write them through :mod:`mmcurate.pipeline.out_files`) and the
    job's config hash."""

    out_dir: str
    config_hash: str
    results: dict[str, Any] = field(default_factory=dict)  # earlier output passes' summaries, by step name


@dataclass(kw_only=True)
class OutputPass(ABC):
    """A set-level step over the job's accepted output; runs after every unit is committed."""

    name: ClassVar[str]

    def __post_init__(self) -> None:
        check_params(self)

    @abstractmethod
    def run(self, context: OutputContext) -> dict[str, Any]:
        """Do the work, write under ``context.out_dir``, return a small summary for the funnel."""
