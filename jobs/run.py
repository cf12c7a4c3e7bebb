"""Running a resolved job: preflight checks, Ray (local or a cluster), the engine, and job.json's record."""

from __future__ import annotations

import logging
from importlib.metadata import version as package_version
from typing import Any

from mmcurate.jobs.job_file import Job, OutputSpec, resolved_data
from mmcurate.jobs.preflight import check_output_dir, check_step_paths
from mmcurate.jobs.typed import ConfigError

__all__ = ["mmcurate_version", "preflight", "run_job"]

log = logging.getLogger(__name__)


def mmcurate_version() -> str:
    return package_version("mmcurate")


def preflight(job: Job) -> None:
    """Cheap filesystem checks of the job's own paths, before Ray starts."""
    if "://" not in job.output.path:
        check_output_dir(job.output.path)
    else:
        from mmcurate.pipeline import fs

        fs.check_bucket(job.output.path)  # a missing bucket or bad credentials: one line, before Ray
    check_step_paths(resolved_data(job)["steps"])
    from mmcurate.pipeline.fingerprint import check_distinct_inputs
    from mmcurate.pipeline.output_guard import check_output_location, check_output_owned

    sources = [i.reader.source for i in job.inputs]
    check_distinct_inputs(sources)  # the same input twice: every row would be written twice
    check_output_location(job.output.path, sources)
    check_output_owned(job.output.path)


def run_job(job: Job, *, address: str | None = None, overwrite: bool = False, use_ray: bool = True,
            progress: bool = True, command: list[str] | None = None) -> dict[str, Any]:
    """Start or join Ray, run the job, return its funnel; ``job.json`` records how it was made."""
    from mmcurate.jobs.build import build_pipeline
    from mmcurate.jobs.job_file import config_hash
    from mmcurate.pipeline.execute import nothing_left, run_pipeline
    from mmcurate.pipeline.fingerprint import input_fingerprints
    from mmcurate.pipeline.plan import plan_units

    preflight(job)
    pipeline = build_pipeline(job)
    units = plan_units(pipeline.readers)  # lists the inputs: their mistakes are one line, before Ray starts
    inputs = input_fingerprints([r.source for r in pipeline.readers])  # once: for the check below and the run
    if use_ray and nothing_left(job.output.path, units, config_hash(job), inputs):
        log.info("%s: every unit of this job is committed; nothing to run, Ray not started", job.output.path)
        use_ray = False
    if use_ray:
        from mmcurate.pipeline.faults import fault_env
        from mmcurate.pipeline.ray_session import init_ray

        init_ray(address=address or job.ray.address, num_cpus=job.ray.num_cpus,
                 object_store_memory=job.ray.object_store_memory, env_vars={**fault_env(), **_store_env()},
                 progress=progress)
        check_output_reaches_every_node(job.output)
    record = {**resolved_data(job), "mmcurate_version": mmcurate_version(), "command": command or []}
    # run_pipeline holds the output for the run: a lock file on disk, a lease on a bucket.
    return run_pipeline(pipeline, config_hash=config_hash(job), use_ray=use_ray, overwrite=overwrite,
                        progress=progress, record=record, units=units, inputs=inputs)


def check_output_reaches_every_node(output: OutputSpec) -> None:
    """Unit writers run on every node: a local output path on a multi-node cluster would leave each node's
    shards on its own disk. Refused (one line, before any work) unless the job says every node mounts it."""
    from mmcurate.pipeline import fs
    from mmcurate.pipeline.ray_session import alive_nodes

    if fs.is_remote(output.path) or output.shared_filesystem:
        return
    nodes = alive_nodes()
    if nodes > 1:
        raise ConfigError(f"output.path {output.path}: a local path on a {nodes}-node cluster would scatter the "
                          "shards over the nodes' disks; write to an object store (s3://bucket/prefix) or set "
                          "output.shared_filesystem: true if every node mounts this path")


def _store_env() -> dict[str, str]:
    """The object-store settings of this shell (AWS_*), passed on to every Ray worker."""
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
