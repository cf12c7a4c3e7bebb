"""``--set`` overrides on a job's raw data, before it is typed.

A key walks mappings by name and lists by index: ``--set steps.3.min_side=64``,
``--set inputs.0.url_column=url``, ``--set output.max_rows=500``. A first part that names a step
(``--set image_decode.min_side=64``) means that step when exactly one step uses the name. Values are
parsed as YAML (``--set output.formats=[parquet]``). Every bad path is a one-line ConfigError.
"""

from __future__ import annotations

from typing import Any

from mmcurate.jobs.job_file import TOP_LEVEL
from mmcurate.jobs.typed import ConfigError
from mmcurate.jobs.yaml_safe import YamlError, load_yaml

__all__ = ["apply_overrides"]


def _by_step_name(data: dict[str, Any], parts: list[str], item: str) -> list[str]:
    """``image_decode.min_side`` -> ``steps.<i>.min_side`` when one step uses ``image_decode``."""
    if parts[0] in TOP_LEVEL:
        return parts
    steps = data.get("steps") or []
    hits = [i for i, s in enumerate(steps) if isinstance(s, dict) and s.get("use") == parts[0]]
    if len(hits) == 1:
        return ["steps", str(hits[0]), *parts[1:]]
    if len(hits) > 1:
        raise ConfigError(f"--set {item}: steps {hits} all use {parts[0]!r}; say which: steps.{hits[0]}.{'.'.join(parts[1:])}")
    uses = [s.get("use") for s in steps if isinstance(s, dict)]
    raise ConfigError(f"--set {item}: {parts[0]!r} is neither a job key {list(TOP_LEVEL)} nor a step of this job {uses}")


def _index(node: list[Any], part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {item}: {part!r} is not an index of a {len(node)}-item list")
    return int(part)


def _child(node: Any, part: str, item: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, item)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item}: {part!r} is inside a value, not a section")
    return node.setdefault(part, {})


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``key.sub=value`` pairs (values parsed as YAML) applied to raw job data, in order."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = load_yaml(raw + "\n") if raw.strip() else None  # no aliases, no tags, bounded depth
        except YamlError as exc:
            raise ConfigError(f"--set {key}: the value is not plain YAML ({str(exc)[:120]})") from None
        parts = _by_step_name(data, key.split("."), item)
        if parts[0] == "steps" and len(parts) == 2:
            raise ConfigError(f"--set {item}: name a parameter (steps.{parts[1]}.<param>)")
        node: Any = data
        for part in parts[:-1]:
            node = _child(node, part, item)
        if isinstance(node, list):
            node[_index(node, parts[-1], item)] = value
        elif isinstance(node, dict):
            node[parts[-1]] = value
        else:
            raise ConfigError(f"--set {item}: {parts[-2]!r} is a value, not a section")
    return data
