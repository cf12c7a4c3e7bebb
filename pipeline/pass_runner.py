"""Running a job's set-level passes: collect what each pass reads, decide once, save, apply.

Consecutive passes form one *group* and share one collection: the rows are read and run through the
steps before the group (earlier passes' decisions applied), then through every pass's signature stages,
and only the slim columns the passes asked for are kept. The passes then decide in order, each on the
rows the previous ones kept (exact dedup before perceptual dedup before the CLIP top-fraction cut).
Each decision is written atomically to ``passes/NN_<step>.parquet``; a resumed job reuses it, so a
duplicate removed before an interruption stays removed after it.

The cost of a group is one more read of the input through the steps before it, which is why a job
should place its passes early (dedup right after decode and caption cleaning) or group them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.passes import OutputPass, Pass
from mmcurate.pipeline.read_units import SPILL_DIR, InputSource, SpillSource, read_unit, units_dataset
from mmcurate.pipeline.readers.base import Reader, WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S

__all__ = ["PASSES_DIR", "Step", "pass_groups", "main_stages", "decide_passes", "decision_path", "spill_point",
           "Decisions", "remove_spill", "source_for"]

log = logging.getLogger(__name__)
PASSES_DIR = "passes"
Step = Stage | Pass | OutputPass


def pass_groups(steps: Sequence[Step]) -> list[list[int]]:
    """Indexes of consecutive :class:`Pass` steps, group by group, in job order (a pass with
    ``own_collection`` starts a new group: it reads the rows with the earlier decisions applied)."""
    groups: list[list[int]] = []
    for i, step in enumerate(steps):
        if isinstance(step, Pass):
            if groups and groups[-1][-1] == i - 1 and not step.own_collection:
                groups[-1].append(i)
            else:
                groups.append([i])
    return groups


def spill_point(steps: Sequence[Step]) -> int | None:
    """Index of the first pass when a step before it must not be repeated (a download); else None.

    Its collection keeps each unit's rows at that point, and the main pass starts from them.
    """
    groups = pass_groups(steps)
    if not groups:
        return None
    first = groups[0][0]
    return first if any(isinstance(s, Stage) and not s.repeatable for s in steps[:first]) else None


def main_stages(steps: Sequence[Step], decisions: dict[int, pa.Table], start: int = 0) -> list[Stage]:
    """The row stages of ``steps[start:]`` with each pass replaced by the stages applying its decision."""
    stages: list[Stage] = []
    for i, step in enumerate(steps):
        if i < start:
            continue
        if isinstance(step, Pass):
            stages.extend(step.apply_stages(decisions[i]))
        elif isinstance(step, Stage):
            stages.append(step)
    return stages


def decision_path(out_dir: str, index: int, step: Pass) -> str:
    return fs.join(out_dir, PASSES_DIR, f"{index:02d}_{step.name}.parquet")


def _slim(table: pa.Table, passes: Sequence[Pass], columns: Sequence[str]) -> pa.Table:
    ok = table.filter(pc.equal(table.column(S.STATUS), S.STATUS_OK))
    for step in passes:
        ok = step.derive(ok)
    missing = [c for c in columns if c not in ok.column_names]
    if missing:
        raise KeyError(f"passes {[p.name for p in passes]} read {missing}, which no step before them writes")
    return ok.select([S.SAMPLE_ID, *columns])


class SpillWriter:
    """Keeps each unit's rows (a whole block is one unit) as ``passes/rows/<unit>.parquet``; passes them on."""

    def __init__(self, out_dir: str) -> None:
        self.spill = SpillSource(out_dir)

    def __call__(self, block: pa.Table) -> pa.Table:
        for unit_id in sorted(set(block.column(S.UNIT_ID).to_pylist())):
            rows = block.filter(pc.equal(block.column(S.UNIT_ID), unit_id))
            fs.write_atomic(self.spill.path(unit_id), lambda fh, t=rows: pq.write_table(t, fh))
        return block


@dataclass
class Collection:
    """What one pass group's collection runs: the steps before it, where to keep rows, the signatures."""

    prefix: list[Stage]
    spill: SpillWriter | None
    signatures: list[Stage]
    passes: list[Pass]
    columns: list[str]


def _collect_local(readers: Sequence[Reader], units: Sequence[WorkUnit], c: Collection) -> pa.Table:
    parts = []
    for unit in units:
        rows = run_stages(c.prefix, read_unit(readers, unit))
        if c.spill is not None:
            c.spill(rows)
        parts.append(_slim(run_stages(c.signatures, rows), c.passes, c.columns))
    return pa.concat_tables(parts) if parts else pa.table({S.SAMPLE_ID: pa.array([], pa.string())})


def _collect_ray(readers: Sequence[Reader], units: Sequence[WorkUnit], c: Collection) -> Any:
    from mmcurate.pipeline.ray_adapter import actor_cpu_cap, apply_stage

    ds = units_dataset(readers, units)
    cap = actor_cpu_cap(c.prefix + c.signatures)
    for stage in c.prefix:
        ds = apply_stage(ds, stage, cpu_cap=cap)
    if c.spill is not None:
        ds = ds.map_batches(c.spill, batch_format="pyarrow", batch_size=None)
    for stage in c.signatures:
        ds = apply_stage(ds, stage, cpu_cap=cap)
    return ds.map_batches(_slim, fn_kwargs={"passes": c.passes, "columns": c.columns}, batch_format="pyarrow",
                          batch_size=None).materialize()


def _drop(table: pa.Table, step: Pass, decision: pa.Table) -> pa.Table:
    return step.survivors(table, decision)


def _decide_group(passes: list[Pass], rows: Any, use_ray: bool) -> list[pa.Table]:
    decisions = []
    for step in passes:
        decision = step.decide_ray(rows) if use_ray else step.decide(rows)
        decisions.append(decision)
        if use_ray:
            rows = rows.map_batches(_drop, fn_kwargs={"step": step, "decision": decision}, batch_format="pyarrow",
                                    batch_size=None).materialize()
        else:
            rows = step.survivors(rows, decision)
    return decisions


def _save(path: str, table: pa.Table) -> None:
    fs.write_atomic(path, lambda fh: pq.write_table(table, fh))


def _load(path: str) -> pa.Table:
    return pq.read_table(io.BytesIO(fs.read_bytes(path)))


@dataclass
class Decisions:
    """Every pass's decision by step index, and where the main pass starts (``spilled_at``: from the rows
    kept at that step; None: from the inputs)."""

    by_step: dict[int, pa.Table]
    spilled_at: int | None


def _spilled(out_dir: str, units: Sequence[WorkUnit]) -> bool:
    spill = SpillSource(out_dir)
    return all(fs.exists(spill.path(u.unit_id)) for u in units)


def decide_passes(steps: Sequence[Step], readers: Sequence[Reader], units: Sequence[WorkUnit], out_dir: str,
                  use_ray: bool) -> Decisions:
    """Every pass's decision: loaded when saved by an earlier run, else computed."""
    decisions: dict[int, pa.Table] = {}
    spill_at = spill_point(steps)
    for group in pass_groups(steps):
        passes = [steps[i] for i in group]
        for step in passes:
            step.bind_output(out_dir)
        paths = [decision_path(out_dir, i, p) for i, p in zip(group, passes)]
        needs_spill = group[0] == spill_at
        if all(fs.exists(p) for p in paths) and (not needs_spill or _spilled(out_dir, units)):
            decisions.update({i: _load(p) for i, p in zip(group, paths)})
            log.info("passes %s: decisions reused from %s", [p.name for p in passes], PASSES_DIR)
            continue
        collection = Collection(
            prefix=main_stages(steps[: group[0]], decisions),
            spill=SpillWriter(out_dir) if needs_spill else None,
            signatures=[s for p in passes for s in p.signature_stages()],
            passes=passes,
            columns=list(dict.fromkeys(c for p in passes for c in p.columns())),
        )
        log.info("passes %s: collecting %s over %d units%s", [p.name for p in passes], collection.columns,
                 len(units), " (rows kept: the steps before are not repeated)" if needs_spill else "")
        collect = _collect_ray if use_ray else _collect_local
        rows = collect(readers, units, collection)
        for i, path, decision in zip(group, paths, _decide_group(passes, rows, use_ray)):
            _save(path, decision)
            decisions[i] = decision
            log.info("step %d (%s): %s", i, steps[i].name, steps[i].describe(decision))
    return Decisions(decisions, spill_at)


def remove_spill(out_dir: str) -> None:
    """The kept rows are only needed until every unit is committed."""
    for location in fs.list_files(fs.join(out_dir, SPILL_DIR)):
        fs.delete(location)


def source_for(decisions: Decisions, readers: Sequence[Reader], out_dir: str) -> Any:
    """Where the main pass reads units from: the kept rows when a collection kept them, else the inputs."""
    return SpillSource(out_dir) if decisions.spilled_at is not None else InputSource(list(readers))
