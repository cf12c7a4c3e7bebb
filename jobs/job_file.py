"""A job file: ``inputs``, ``steps``, ``output``, ``seed``, ``ray`` — typed and checked before Ray starts.

Each step is ``{use: NAME, <param>: <value>, ...}``; ``NAME`` resolves through :mod:`.catalog` and the
parameters are the component's own dataclass fields (:mod:`.typed`), so the job layer copies no
field and repeats no default. :func:`resolve` turns raw YAML data into a :class:`Job` of constructed
components; :func:`resolved_data` turns it back into plain data with every default filled in, which
is what ``job.json`` records and ``mmcurate config show`` prints. Loading that data again gives the
same components and the same :func:`config_hash`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmcurate.jobs.catalog import INPUTS, STEPS, TABLE_KINDS, input_class, step_class
from mmcurate.jobs.typed import ConfigError, build, convert, to_plain
from mmcurate.pipeline.params import param

__all__ = ["detect_kind", "Job", "OutputSpec", "RaySpec", "InputSpec", "StepSpec", "resolve", "resolved_data", "config_hash",
           "TOP_LEVEL"]

TOP_LEVEL = ("inputs", "steps", "output", "seed", "ray")


@dataclass(kw_only=True)
class OutputSpec:
    """Where shards go and how they are cut."""

    path: str = param("out", doc="output folder or object-store prefix (s3://bucket/prefix)")
    formats: tuple[str, ...] = param(("webdataset", "parquet", "arrow"), doc="shard formats written")
    max_rows: int = param(1000, doc="rows per shard at most", ge=1)
    max_bytes: int = param(512 * 1024**2, doc="bytes per shard at most", ge=1)
    shared_filesystem: bool = param(False, doc="a local path that every node of a cluster mounts (NFS, Lustre); "
                                               "false: a local path on a multi-node cluster is refused")

    def __post_init__(self) -> None:
        from mmcurate.pipeline.sinks.formats import WRITERS

        if not self.formats:
            raise ValueError(f"no shard format: accepted rows would be written nowhere; choose from {sorted(WRITERS)}")
        unknown = [f for f in self.formats if f not in WRITERS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; valid: {sorted(WRITERS)}")


@dataclass(kw_only=True)
class RaySpec:
    """Where and with what the job runs (not part of the config hash)."""

    address: str | None = param(None, doc="null: start Ray locally; or ray://... / host:port of a cluster")
    num_cpus: int | None = param(None, doc="CPUs of a local Ray; null: all", ge=1)
    object_store_memory: int | None = param(None, doc="bytes of a local Ray's object store; null: Ray's default", ge=1)


@dataclass
class InputSpec:
    kind: str
    reader: Any


@dataclass
class StepSpec:
    use: str
    component: Any


@dataclass
class Job:
    inputs: list[InputSpec]
    steps: list[StepSpec]
    output: OutputSpec = field(default_factory=OutputSpec)
    seed: int = 0
    ray: RaySpec = field(default_factory=RaySpec)


def detect_kind(path: str, where: str) -> str:
    from mmcurate.pipeline.readers.base import InputError
    from mmcurate.pipeline.readers.detect import detect_input_kind

    try:
        return detect_input_kind(path)
    except InputError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path} does not exist") from None


def _input(item: Any, i: int) -> InputSpec:
    where = f"inputs[{i}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with kind and path, got {item!r}")
    params = dict(item)
    kind = params.pop("kind", "auto")
    if kind == "auto":
        if "path" not in params:
            raise ConfigError(f"{where}.path: required parameter is missing")
        kind = detect_kind(str(params["path"]), f"{where}.path")
    if kind not in INPUTS:
        raise ConfigError(f"{where}.kind: must be one of {['auto', *INPUTS]}, got {kind!r}")
    if kind in TABLE_KINDS:
        params["format"] = kind
    return InputSpec(kind, build(input_class(kind), params, f"{where} ({kind})"))


def _step(item: Any, i: int) -> StepSpec:
    if not isinstance(item, dict) or "use" not in item:
        raise ConfigError(f"steps[{i}]: expected a mapping with `use: <step name>`, got {item!r}")
    params = dict(item)
    use = params.pop("use")
    if use not in STEPS:
        raise ConfigError(f"steps[{i}].use: unknown step {use!r}; valid: {sorted(STEPS)} (see `mmcurate steps`)")
    return StepSpec(use, build(step_class(use), params, f"steps[{i}] ({use})"))


def _check_order(steps: list[StepSpec], output: OutputSpec) -> None:
    """Output steps work on the written Parquet shards: nothing but other output steps may follow them."""
    from mmcurate.jobs.catalog import kind_of

    kinds = [kind_of(type(s.component)) for s in steps]
    if "output" in kinds and "parquet" not in output.formats:
        i = kinds.index("output")
        raise ConfigError(f"steps[{i}] ({steps[i].use}): reads the accepted Parquet shards; add parquet to "
                          f"output.formats (now {list(output.formats)})")
    for i, kind in enumerate(kinds):
        if kind != "output" and "output" in kinds[:i]:
            first = kinds.index("output")
            raise ConfigError(f"steps[{i}] ({steps[i].use}): must come before steps[{first}] ({steps[first].use}), "
                              "which runs over the written shards")


def resolve(data: Any) -> Job:
    """A :class:`Job` from raw job data; every problem is a one-line :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"job: expected a mapping with {list(TOP_LEVEL)}, got {type(data).__name__}")
    unknown = [k for k in data if k not in TOP_LEVEL]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; valid: {list(TOP_LEVEL)}")
    inputs = data.get("inputs") or []
    if not isinstance(inputs, list) or not inputs:
        raise ConfigError("inputs: expected a non-empty list of {kind, path, ...}")
    steps = data.get("steps") or []
    if not isinstance(steps, list):
        raise ConfigError(f"steps: expected a list of steps, got {type(steps).__name__}")
    job = Job(
        inputs=[_input(item, i) for i, item in enumerate(inputs)],
        steps=[_step(item, i) for i, item in enumerate(steps)],
        output=build(OutputSpec, data.get("output") or {}, "output"),
        seed=convert(int, data.get("seed", 0), "seed"),
        ray=build(RaySpec, data.get("ray") or {}, "ray"),
    )
    _check_order(job.steps, job.output)
    return job


def resolved_data(job: Job) -> dict[str, Any]:
    """The job as plain data, every parameter present (defaults included)."""
    def reader(spec: InputSpec) -> dict[str, Any]:
        params = to_plain(spec.reader)
        if spec.kind in TABLE_KINDS:
            params.pop("format", None)
        return {"kind": spec.kind, **params}

    return {
        "inputs": [reader(i) for i in job.inputs],
        "steps": [{"use": s.use, **to_plain(s.component)} for s in job.steps],
        "output": to_plain(job.output),
        "seed": job.seed,
        "ray": to_plain(job.ray),
    }


def config_hash(job: Job) -> str:
    """Hash of what defines the output bytes: not where it goes, not where Ray runs; inputs by real path."""
    data = resolved_data(job)
    data.pop("ray")
    data["output"].pop("path")
    data["output"].pop("shared_filesystem")
    for item in data["inputs"]:
        if "path" in item and "://" not in str(item["path"]):
            item["path"] = str(Path(item["path"]).resolve())
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
