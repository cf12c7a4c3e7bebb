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
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.passes import OutputPass, Pass, survivors
from mmcurate.pipeline.read_units import read_unit, units_dataset
from mmcurate.pipeline.readers.base import Reader, WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas import sample as S

__all__ = ["PASSES_DIR", "Step", "pass_groups", "main_stages", "decide_passes", "decision_path"]

log = logging.getLogger(__name__)
PASSES_DIR = "passes"
Step = Stage | Pass | OutputPass


def pass_groups(steps: Sequence[Step]) -> list[list[int]]:
    """Indexes of consecutive :class:`Pass` steps, group by group, in job order."""
    groups: list[list[int]] = []
    for i, step in enumerate(steps):
        if isinstance(step, Pass):
            if groups and groups[-1][-1] == i - 1:
                groups[-1].append(i)
            else:
                groups.append([i])
    return groups


def main_stages(steps: Sequence[Step], decisions: dict[int, pa.Table]) -> list[Stage]:
    """The row stages of ``steps`` with each pass replaced by the stages applying its decision."""
    stages: list[Stage] = []
    for i, step in enumerate(steps):
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


def _collect_local(readers: Sequence[Reader], units: Sequence[WorkUnit], stages: list[Stage],
                   passes: list[Pass], columns: list[str]) -> pa.Table:
    parts = [_slim(run_stages(stages, read_unit(readers, u)), passes, columns) for u in units]
    return pa.concat_tables(parts) if parts else pa.table({S.SAMPLE_ID: pa.array([], pa.string())})


def _collect_ray(readers: Sequence[Reader], units: Sequence[WorkUnit], stages: list[Stage],
                 passes: list[Pass], columns: list[str]) -> Any:
    from mmcurate.pipeline.ray_adapter import actor_cpu_cap, apply_stage

    ds = units_dataset(readers, units)
    cap = actor_cpu_cap(stages)
    for stage in stages:
        ds = apply_stage(ds, stage, cpu_cap=cap)
    return ds.map_batches(_slim, fn_kwargs={"passes": passes, "columns": columns}, batch_format="pyarrow",
                          batch_size=None).materialize()


def _drop(table: pa.Table, decision: pa.Table) -> pa.Table:
    return survivors(table, decision)


def _decide_group(passes: list[Pass], rows: Any, use_ray: bool) -> list[pa.Table]:
    decisions = []
    for step in passes:
        decision = step.decide_ray(rows) if use_ray else step.decide(rows)
        decisions.append(decision)
        if use_ray:
            rows = rows.map_batches(_drop, fn_kwargs={"decision": decision}, batch_format="pyarrow",
                                    batch_size=None).materialize()
        else:
            rows = survivors(rows, decision)
    return decisions


def _save(path: str, table: pa.Table) -> None:
    fs.write_atomic(path, lambda fh: pq.write_table(table, fh))


def _load(path: str) -> pa.Table:
    return pq.read_table(io.BytesIO(fs.read_bytes(path)))


def decide_passes(steps: Sequence[Step], readers: Sequence[Reader], units: Sequence[WorkUnit], out_dir: str,
                  use_ray: bool) -> dict[int, pa.Table]:
    """Every pass's decision, by step index: loaded when saved by an earlier run, else computed."""
    decisions: dict[int, pa.Table] = {}
    for group in pass_groups(steps):
        passes = [steps[i] for i in group]
        paths = [decision_path(out_dir, i, p) for i, p in zip(group, passes)]
        if all(fs.exists(p) for p in paths):
            decisions.update({i: _load(p) for i, p in zip(group, paths)})
            log.info("passes %s: decisions reused from %s", [p.name for p in passes], PASSES_DIR)
            continue
        prefix = main_stages(steps[: group[0]], decisions)
        signatures = [s for p in passes for s in p.signature_stages()]
        columns = list(dict.fromkeys(c for p in passes for c in p.columns()))
        log.info("passes %s: collecting %s over %d units", [p.name for p in passes], columns, len(units))
        collect = _collect_ray if use_ray else _collect_local
        rows = collect(readers, units, prefix + signatures, passes, columns)
        for i, path, decision in zip(group, paths, _decide_group(passes, rows, use_ray)):
            _save(path, decision)
            decisions[i] = decision
            rejected = decision.filter(pc.is_valid(decision.column("reject"))).num_rows
            log.info("step %d (%s): %d rows rejected", i, steps[i].name, rejected)
    return decisions
