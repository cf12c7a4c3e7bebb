"""Running stages on a Ray Dataset: the only place mmcurate talks to Ray Data's map API.

Stateless stages run as Ray tasks (consecutive ones fuse into a single task chain with the reader
and the writer, so a unit's bytes stay in one process); stateful or GPU stages run in an actor pool
sized from the stage's resources, so ``setup()`` loads the model once per actor. Inside every task or
actor the work is :func:`mmcurate.pipeline.runner.run_stage`, the same code as library use.

Blocks are passed whole (``batch_size=None``) so the rows of one work unit never straddle two batches
on their way to the unit writer. Ray refuses ``batch_size=None`` together with GPUs, so GPU stages get
an integer batch size; their input bundles are still whole blocks and their output is one block per
task (``target_max_block_size=None``, see :mod:`mmcurate.pipeline.ray_session`).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mmcurate.pipeline.ray_session import follow_driver_cwd
from mmcurate.pipeline.runner import run_stage
from mmcurate.pipeline.stage import Stage

__all__ = ["actor_cpu_cap", "apply_stage", "StageActor"]


def _run_stage_task(batch: pa.Table, stage: Stage) -> pa.Table:
    follow_driver_cwd()
    return run_stage(stage, batch)


class StageActor:
    """Actor wrapper: the stage is set up once, in the actor's constructor."""

    def __init__(self, stage: Stage) -> None:
        follow_driver_cwd()
        self.stage = stage
        self.stage.ensure_setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        return run_stage(self.stage, batch)


def actor_cpu_cap(stages: list[Stage]) -> float | None:
    """The CPU request per CPU actor that lets every actor pool of a job hold one actor at once.

    Each pool needs at least one live actor and the task stages need a CPU too; if the requests add up
    to more CPUs than the cluster has, Ray Data waits forever for work that cannot be placed (seen with
    five pools on 2 CPUs). Sharing all but one CPU among the pools keeps the pipeline moving; on a big
    cluster the cap is above every request and changes nothing.
    """
    import ray

    pools = sum(1 for s in stages if s.stateful and s.resources.num_gpus == 0)
    if pools == 0:
        return None
    # One whole CPU stays free for the task stages (read, decode, write ask for one each).
    return max(0.05, (ray.cluster_resources().get("CPU", 1.0) - 1.0) / pools)


def apply_stage(ds: Any, stage: Stage, max_actors: int | None = None, cpu_cap: float | None = None) -> Any:
    """``ds.map_batches`` for ``stage``: tasks if stateless, an actor pool if stateful or on GPU.

    ``cpu_cap`` (see :func:`actor_cpu_cap`) bounds the CPU request of a CPU actor.
    """
    from ray.data import ActorPoolStrategy, TaskPoolStrategy

    res = stage.resources
    num_cpus = res.num_cpus
    if cpu_cap is not None and stage.stateful and res.num_gpus == 0:
        num_cpus = min(num_cpus, cpu_cap)
    common: dict[str, Any] = {"batch_format": "pyarrow", "num_cpus": num_cpus}
    if res.num_gpus > 0:
        common["num_gpus"] = res.num_gpus
    if stage.stateful or res.num_gpus > 0:
        import ray

        cluster = ray.cluster_resources()
        per_actor = res.num_gpus if res.num_gpus > 0 else max(num_cpus, 1e-3)
        available = cluster.get("GPU", 0.0) if res.num_gpus > 0 else cluster.get("CPU", 1.0)
        size = max(1, min(max_actors or 1_000_000, int(available // per_actor)))
        return ds.map_batches(
            StageActor,
            fn_constructor_kwargs={"stage": stage},
            compute=ActorPoolStrategy(min_size=1, max_size=size),
            batch_size=stage.batch_size if res.num_gpus > 0 else None,
            **common,
        )
    return ds.map_batches(
        _run_stage_task, fn_kwargs={"stage": stage}, compute=TaskPoolStrategy(), batch_size=None, **common
    )
