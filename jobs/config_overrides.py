"""``--set key.sub=value`` overrides, applied to a job's raw YAML mapping before it is typed.

Keys walk mappings by name and lists by index (``inputs.0.url_column=url``); values are parsed as
YAML, so ``--set shards.formats=[parquet]`` and ``--set dedup.enabled=false`` mean what they say.
A path through something that is not a section, or past the end of a list, is a ConfigError.
"""

from __future__ import annotations

from typing import Any

import yaml

from mmcurate.jobs.config import ConfigError

__all__ = ["apply_overrides"]


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``key.sub=value`` pairs (values parsed as YAML) applied to a raw config mapping."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        node: Any = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = _child(node, part, key)
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, key)] = yaml.safe_load(raw)
        else:
            node[last] = yaml.safe_load(raw)
    return data


def _list_index(node: list[Any], part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {key}: {part!r} is not an index of a {len(node)}-item list")
    return int(part)


def _child(node: Any, part: str, key: str) -> Any:
    """One step down a ``--set`` path: a mapping key, or a list index (``inputs.0.url_column``)."""
    if isinstance(node, list):
        return node[_list_index(node, part, key)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {key}: {part!r} is not a section")
    return node.setdefault(part, {})
