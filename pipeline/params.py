"""Step parameters: a dataclass field that carries its own doc and bounds.

A component's dataclass fields *are* its job-file parameters, so each default, doc string and valid
range lives in exactly one place: here, on the field. The job layer reads them to validate a job file
before Ray starts (``steps[3] (image_decode).min_side: must be >= 1, got -5``), and ``mmcurate steps``
reads them to list every parameter; library users get the same checks when they construct the object.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import MISSING
from typing import Any

__all__ = ["ParamError", "param", "param_doc", "check_params", "check_value"]


class ParamError(ValueError):
    """A parameter value out of its declared range; ``key`` names the field."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def param(default: Any = MISSING, *, doc: str, default_factory: Any = MISSING, ge: float | None = None,
          gt: float | None = None, le: float | None = None, lt: float | None = None,
          choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with its documentation and (optional) numeric bounds or choices."""
    metadata = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def param_doc(field: dataclasses.Field) -> str:
    return str(field.metadata.get("doc", ""))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(field: dataclasses.Field, value: Any) -> None:
    """Raise :class:`ParamError` if ``value`` breaks ``field``'s declared bounds (None is never checked)."""
    meta = field.metadata
    if value is None or isinstance(value, bool):
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ParamError(field.name, f"must be one of {list(choices)}, got {_short(value)}")
    if not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(field.name, f"must be a finite number, got {_short(value)}")
    for bound, test, word in (("ge", value.__ge__, ">="), ("gt", value.__gt__, ">"),
                              ("le", value.__le__, "<="), ("lt", value.__lt__, "<")):
        limit = meta.get(bound)
        if limit is not None and not test(limit):
            raise ParamError(field.name, f"must be {word} {limit}, got {_short(value)}")


def check_params(obj: Any) -> None:
    """Check every declared field of dataclass instance ``obj`` against its bounds."""
    for field in dataclasses.fields(obj):
        if field.init and field.metadata:
            check_value(field, getattr(obj, field.name))
