"""Executing a pipeline: plan, skip what is committed, stream units through stages, commit.

One code path, two engines. With Ray (the CLI's default; local or ``--address``), units become a
Ray Dataset: read, every stage (tasks or actor pools), the unit writer, and the driver commits each
unit's record to the manifest as it streams out. Without Ray (library use, GPU checks) the same
reader, stages and writer run in this process. Either way the output is byte-identical.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from mmcurate.pipeline.dedup.apply import ApplyDedup
from mmcurate.pipeline.dedup.job_pass import GlobalDedup
from mmcurate.pipeline.dedup.merge_captions import MergeCaptions
from mmcurate.pipeline.faults import fault_point
from mmcurate.pipeline.fingerprint import check_distinct_inputs, fingerprints_hash, input_fingerprints
from mmcurate.pipeline.manifest import Manifest
from mmcurate.pipeline.output_guard import check_output_location, check_output_owned, output_lock
from mmcurate.pipeline.output_state import prepare_output
from mmcurate.pipeline.plan import plan_hash, plan_units
from mmcurate.pipeline.readers.base import Reader, WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.sinks.unit_writer import UnitWriter
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas.sample import SAMPLE_SCHEMA_VERSION

__all__ = ["Pipeline", "ReadUnits", "run_pipeline"]

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Pipeline:
    """What a job runs: its inputs, its stages in order, and its sink."""

    readers: Sequence[Reader]
    stages: Sequence[Stage]
    writer: UnitWriter
    dedup: GlobalDedup | None = None  # a set-level pass before shards are written; None: no dedup

    def stages_with_dedup(self, removals: pa.Table | None) -> list[Stage]:
        """The main pass's stages, with the dedup decision applied right after the stages it saw."""
        stages = list(self.stages)
        if self.dedup is not None and removals is not None:
            stages.insert(self.dedup.prefix, ApplyDedup(removals=removals))
            if self.dedup.groups is not None:
                stages.insert(self.dedup.prefix + 1, MergeCaptions(groups=self.dedup.groups))
        return stages


class ReadUnits:
    """Ray map: rows of (unit_id, input_index, spec) in, the units' sample rows out."""

    def __init__(self, readers: Sequence[Reader]) -> None:
        self.readers = list(readers)

    def __call__(self, batch: pa.Table) -> pa.Table:
        tables = [
            self.readers[row["input_index"]].read_unit(WorkUnit(**row))
            for row in batch.select(["unit_id", "input_index", "spec"]).to_pylist()
        ]
        return pa.concat_tables(tables)


def _iter_commits_ray(pipeline: Pipeline, stages: list[Stage], units: list[WorkUnit]) -> Any:
    import ray.data

    from mmcurate.pipeline.ray_adapter import actor_cpu_cap, apply_stage

    items = [{"unit_id": u.unit_id, "input_index": u.input_index, "spec": u.spec} for u in units]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(ReadUnits(pipeline.readers), batch_format="pyarrow", batch_size=None)
    cap = actor_cpu_cap(stages)
    for stage in stages:
        ds = apply_stage(ds, stage, cpu_cap=cap)
    ds = ds.map_batches(pipeline.writer, batch_format="pyarrow", batch_size=None)
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        yield from batch.to_pylist()


def _iter_commits_local(pipeline: Pipeline, stages: list[Stage], units: list[WorkUnit]) -> Any:
    for unit in units:
        table = pipeline.readers[unit.input_index].read_unit(unit)
        table = run_stages(stages, table)
        yield from pipeline.writer(table).to_pylist()


def run_pipeline(
    pipeline: Pipeline, *, config_hash: str, use_ray: bool = True, overwrite: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the job into ``pipeline.writer.out_dir``; returns the funnel.

    Refused before any work (see ``pipeline/output_guard.py``): an input given twice, an output that
    overlaps an input or is a folder mmcurate did not create, and an output another job is writing."""
    sources = [r.source for r in pipeline.readers]
    check_distinct_inputs(sources)
    check_output_location(pipeline.writer.out_dir, sources)
    check_output_owned(pipeline.writer.out_dir)
    with output_lock(pipeline.writer.out_dir):
        return _run_locked(pipeline, config_hash=config_hash, use_ray=use_ray, overwrite=overwrite, progress=progress,
                           inputs=input_fingerprints(sources))


def _run_locked(pipeline: Pipeline, *, config_hash: str, use_ray: bool, overwrite: bool, progress: bool,
                inputs: list[dict[str, Any]]) -> dict[str, Any]:
    out_dir = pipeline.writer.out_dir
    units = plan_units(pipeline.readers)
    identity = {"config_hash": config_hash, "plan_hash": plan_hash(units), "schema_version": SAMPLE_SCHEMA_VERSION,
                "units": len(units), "inputs": inputs, "inputs_hash": fingerprints_hash(inputs)}
    removed = prepare_output(out_dir, identity, overwrite)
    manifest = Manifest(out_dir)
    done = manifest.committed()
    pending = [u for u in units if u.unit_id not in done]
    log.info("%d units planned, %d already committed, %d to run (%d stale temp files removed)",
             len(units), len(done), len(pending), removed)
    started = time.monotonic()
    if pending:
        removals = None
        if pipeline.dedup is not None:
            log.info("dedup pass over %d units (signatures, then one decision for the whole input)", len(units))
            removals = pipeline.dedup.load_or_compute(out_dir, pipeline.readers, pipeline.stages, units, use_ray)
            log.info("dedup: %d duplicate rows to remove", removals.num_rows)
        stages = pipeline.stages_with_dedup(removals)
        run = _iter_commits_ray if use_ray else _iter_commits_local
        commits = run(pipeline, stages, pending)
        bar = tqdm(total=len(units), initial=len(done), unit="unit", desc="committed", disable=not progress)
        rows = 0
        for commit in commits:
            record = json.loads(commit["record"])
            fault_point("driver_before_commit", record["unit_id"])
            manifest.commit(record)
            rows += record["rows_in"]
            bar.update(1)
            bar.set_postfix(rows_per_s=f"{rows / max(time.monotonic() - started, 1e-9):.0f}")
        bar.close()
    missing = {u.unit_id for u in units} - manifest.committed()
    if missing:
        raise RuntimeError(f"{len(missing)} units were not committed (first: {sorted(missing)[0]})")
    manifest.finalize()
    funnel = manifest.funnel()
    funnel["seconds"] = round(time.monotonic() - started, 2)
    funnel["resumed_units"] = len(done)
    return funnel
