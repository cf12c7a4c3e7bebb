"""From a job file (or the packaged default), ``--set`` and ``--input``/``--output`` to a checked job."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

from mmcurate.jobs.job_file import TOP_LEVEL, Job, detect_kind, resolve
from mmcurate.jobs.overrides import apply_overrides
from mmcurate.jobs.typed import ConfigError
from mmcurate.jobs.yaml_safe import load_yaml

__all__ = ["default_job_path", "load_job_data", "load_job"]


def default_job_path(name: str = "image_text.yaml") -> Path:
    return Path(str(resources.files("mmcurate.jobs").joinpath("configs", name)))


def _inputs_from_paths(paths: list[str], template: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``--input`` paths: kind detected from content; the job's first input lends its column names."""
    keep = ("caption_column", "image_column", "url_column", "unit_rows", "image_encoding", "encoding", "caption_join")
    shared = {k: v for k, v in (template or {}).items() if k in keep}
    out = []
    for path in paths:
        kind = detect_kind(path, "--input")
        allowed = {"unit_rows"} if kind in ("folder", "webdataset") else set(keep)
        out.append({"kind": kind, "path": path, **{k: v for k, v in shared.items() if k in allowed}})
    return out


def load_job_data(path: str | Path | None, sets: list[str] | None = None, inputs: list[str] | None = None,
                  output: str | None = None) -> dict[str, Any]:
    """Raw job data with the command line's changes applied (not yet typed)."""
    source = Path(path) if path else default_job_path()
    if not source.is_file():
        raise ConfigError(f"{source}: no such job file")
    data = load_yaml(source)
    if isinstance(data, dict) and "config_hash" in data and "steps" in data:
        data = {k: v for k, v in data.items() if k in TOP_LEVEL}  # a job.json of an earlier run: its resolved job
    data = copy.deepcopy(data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a job file is a mapping with inputs, steps, output")
    if inputs:
        first = (data.get("inputs") or [None])[0]
        data["inputs"] = _inputs_from_paths(inputs, first if isinstance(first, dict) else None)
    if output:
        data.setdefault("output", {})
        data["output"]["path"] = output
    return apply_overrides(data, sets or [])


def load_job(path: str | Path | None, sets: list[str] | None = None, inputs: list[str] | None = None,
             output: str | None = None) -> Job:
    return resolve(load_job_data(path, sets, inputs, output))
