"""Job files as plain data: YAML without aliases, without language tags, with bounded nesting.

``yaml.safe_load`` already refuses ``!!python/...`` tags, but with a multi-line traceback, and it
expands aliases, so a few lines of "billion laughs" become gigabytes. A job file has no use for either:
this loader refuses every alias (``*name``) and every non-standard tag, caps the nesting depth and the
input size, and reports each problem as a one-line :class:`YamlError` with the line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent

__all__ = ["YamlError", "load_yaml", "MAX_DEPTH", "MAX_BYTES"]

MAX_DEPTH = 64
MAX_BYTES = 4 * 1024**2
_STANDARD_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_STANDARD_TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


class YamlError(ValueError):
    """A job file that is not plain YAML data; the message is one line."""


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and bounds nesting while composing (before anything is built)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise YamlError(f"line {event.start_mark.line + 1}: YAML aliases (*{str(event.anchor)[:40]}) "
                            "are not allowed in job files; repeat the value instead")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and tag != "!":
            raise YamlError(f"line {event.start_mark.line + 1}: tag {str(tag)[:60]!r} is not allowed in job files")
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YamlError(f"line {event.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            if isinstance(event, CollectionStartEvent):
                self._depth -= 1


def load_yaml(text_or_path: str | Path) -> Any:
    """Parse a job file (a path, or YAML text when given a ``str`` containing a newline or not naming a file)."""
    source = "job file"
    if isinstance(text_or_path, Path) or ("\n" not in text_or_path and Path(text_or_path).is_file()):
        source = str(text_or_path)
        path = Path(text_or_path)
        if path.stat().st_size > MAX_BYTES:
            raise YamlError(f"{source}: larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    else:
        text = str(text_or_path)
        if len(text) > MAX_BYTES:
            raise YamlError(f"{source}: larger than {MAX_BYTES} bytes")
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - _PlainLoader is a SafeLoader
    except YamlError as exc:
        raise YamlError(f"{source}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())[:200]
        raise YamlError(f"{source}: {where}{problem}") from None
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
        raise YamlError(f"{source}: {' '.join(str(exc).split())[:200] or 'invalid YAML'}") from None
