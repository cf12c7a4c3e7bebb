"""A resolved job as the engine's :class:`~mmcurate.pipeline.execute.Pipeline`: readers, steps, sink."""

from __future__ import annotations

from mmcurate.jobs.job_file import Job, config_hash
from mmcurate.pipeline.audio.segment_stage import window_records
from mmcurate.pipeline.execute import Pipeline
from mmcurate.pipeline.sinks.unit_writer import SideRecords, UnitWriter

__all__ = ["build_pipeline", "SIDE_RECORDS"]

# Records written beside each unit's shards: one per audio window (AudioSegments), with its FLAC.
SIDE_RECORDS = (SideRecords(folder="windows", column="audio_windows", build=window_records),)


def build_pipeline(job: Job) -> Pipeline:
    writer = UnitWriter(out_dir=job.output.path, formats=tuple(job.output.formats), max_rows=job.output.max_rows,
                        max_bytes=job.output.max_bytes, config_hash=config_hash(job), side_records=SIDE_RECORDS)
    return Pipeline(readers=[i.reader for i in job.inputs], steps=[s.component for s in job.steps], writer=writer)
