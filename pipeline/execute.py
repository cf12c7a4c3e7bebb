"""Executing a pipeline: plan, skip what is committed, stream units through stages, commit.

One code path, two engines. With Ray (the CLI's default; local or ``--address``), units become a
Ray Dataset: read, every stage (tasks or actor pools), the unit writer, and the driver commits each
unit's record to the manifest as it streams out. Without Ray (library use, GPU checks) the same
reader, stages and writer run in this process. Either way the output is byte-identical.

Set-level passes are decided before the first unit is written (:mod:`.pass_runner`) and applied in
the stream as ordinary stages; output passes run last, over the committed accepted shards. The
executor names no domain component: it knows row stages, passes and output passes, nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from mmcurate.pipeline.faults import fault_point
from mmcurate.pipeline.fingerprint import check_distinct_inputs, fingerprints_hash, input_fingerprints
from mmcurate.pipeline.manifest import Manifest
from mmcurate.pipeline.output_guard import check_output_location, check_output_owned, output_lock
from mmcurate.pipeline.output_state import prepare_output
from mmcurate.pipeline.pass_runner import Step, decide_passes, main_stages, remove_spill, source_for
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.pipeline.plan import plan_hash, plan_units
from mmcurate.pipeline.read_units import read_unit, units_dataset
from mmcurate.pipeline.readers.base import Reader, WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.sinks.unit_writer import UnitWriter
from mmcurate.pipeline.stage import Stage
from mmcurate.schemas.sample import SAMPLE_SCHEMA_VERSION

__all__ = ["Pipeline", "run_pipeline", "nothing_left"]

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Pipeline:
    """What a job runs: its inputs, its steps in order (row stages, passes, output passes), its sink."""

    readers: Sequence[Reader]
    steps: Sequence[Step]
    writer: UnitWriter

    @property
    def stages(self) -> list[Stage]:
        """The row stages alone (what a job without passes runs)."""
        return [s for s in self.steps if isinstance(s, Stage)]

    def output_passes(self) -> list[OutputPass]:
        return [s for s in self.steps if isinstance(s, OutputPass)]


def _iter_commits_ray(pipeline: Pipeline, source: Any, stages: list[Stage], units: list[WorkUnit]) -> Any:
    from mmcurate.pipeline.ray_adapter import actor_cpu_cap, apply_stage

    ds = units_dataset(source, units)
    cap = actor_cpu_cap(stages)
    for stage in stages:
        ds = apply_stage(ds, stage, cpu_cap=cap)
    ds = ds.map_batches(pipeline.writer, batch_format="pyarrow", batch_size=None)
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        yield from batch.to_pylist()


def _iter_commits_local(pipeline: Pipeline, source: Any, stages: list[Stage], units: list[WorkUnit]) -> Any:
    for unit in units:
        table = run_stages(stages, read_unit(source, unit))
        yield from pipeline.writer(table).to_pylist()


def _run_output_passes(pipeline: Pipeline, out_dir: str, config_hash: str) -> dict[str, Any]:
    context = OutputContext(out_dir=str(out_dir), config_hash=config_hash)
    for step in pipeline.output_passes():
        log.info("output pass %s over the accepted shards", step.name)
        context.results[step.name] = step.run(context)
    return context.results


def nothing_left(out_dir: str, units: Sequence[WorkUnit], config_hash: str, inputs: list[dict[str, Any]]) -> bool:
    """True when ``out_dir`` holds this very job (config, plan, schema, input contents) with every unit
    committed: a rerun only re-finalizes and reruns the output steps, which need no Ray (so the caller
    need not start it). Changed inputs are a different job: refused, or redone whole with --overwrite.
    ``inputs``: the inputs' fingerprints (``input_fingerprints``), as ``run_pipeline`` then takes them."""
    from mmcurate.pipeline import fs
    from mmcurate.pipeline.output_state import JOB_FILE

    job_file = fs.join(str(out_dir), JOB_FILE)
    if not fs.exists(job_file):
        return False
    previous = json.loads(fs.read_bytes(job_file))
    same = (previous.get("config_hash"), previous.get("plan_hash"), previous.get("schema_version")) == (
        config_hash, plan_hash(units), SAMPLE_SCHEMA_VERSION)
    same = same and previous.get("inputs_hash") == fingerprints_hash(inputs)
    return same and {u.unit_id for u in units} <= Manifest(out_dir).committed()


def run_pipeline(
    pipeline: Pipeline, *, config_hash: str, use_ray: bool = True, overwrite: bool = False, progress: bool = True,
    record: dict[str, Any] | None = None, units: Sequence[WorkUnit] | None = None,
    inputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the job into ``pipeline.writer.out_dir``; returns the funnel.

    ``record`` (the resolved job, version, command line) is stored in ``job.json`` with the identity;
    ``units`` and ``inputs`` are the plan and the inputs' fingerprints when the caller has made them
    already (they must be ``plan_units`` and ``input_fingerprints`` of the readers).
    Refused before any work (see ``pipeline/output_guard.py``): an input given twice, an output that
    overlaps an input or is a folder mmcurate did not create, and an output another job is writing."""
    sources = [r.source for r in pipeline.readers]
    check_distinct_inputs(sources)
    check_output_location(pipeline.writer.out_dir, sources)
    check_output_owned(pipeline.writer.out_dir)
    with output_lock(pipeline.writer.out_dir):
        return _run_locked(pipeline, config_hash=config_hash, use_ray=use_ray, overwrite=overwrite, progress=progress,
                           inputs=inputs if inputs is not None else input_fingerprints(sources), record=record or {},
                           units=units)


def _run_locked(pipeline: Pipeline, *, config_hash: str, use_ray: bool, overwrite: bool, progress: bool,
                inputs: list[dict[str, Any]], record: dict[str, Any],
                units: Sequence[WorkUnit] | None) -> dict[str, Any]:
    out_dir = pipeline.writer.out_dir
    units = list(units) if units is not None else plan_units(pipeline.readers)
    identity = {"config_hash": config_hash, "plan_hash": plan_hash(units), "schema_version": SAMPLE_SCHEMA_VERSION,
                "units": len(units), "input_fingerprints": inputs, "inputs_hash": fingerprints_hash(inputs), **record}
    removed = prepare_output(out_dir, identity, overwrite)
    manifest = Manifest(out_dir)
    done = manifest.committed()
    pending = [u for u in units if u.unit_id not in done]
    log.info("%d units planned, %d already committed, %d to run (%d stale temp files removed)",
             len(units), len(done), len(pending), removed)
    started = time.monotonic()
    if pending:
        decisions = decide_passes(pipeline.steps, pipeline.readers, units, str(out_dir), use_ray)
        stages = main_stages(pipeline.steps, decisions.by_step, start=decisions.spilled_at or 0)
        run = _iter_commits_ray if use_ray else _iter_commits_local
        commits = run(pipeline, source_for(decisions, pipeline.readers, str(out_dir)), stages, pending)
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
    remove_spill(str(out_dir))
    funnel = manifest.funnel()
    funnel["seconds"] = round(time.monotonic() - started, 2)
    funnel["resumed_units"] = len(done)
    funnel["outputs"] = _run_output_passes(pipeline, str(out_dir), config_hash)
    return funnel
