"""Job-file values typed against a component's own dataclass fields, with errors that name the place.

A step's parameters are its component's init fields whose types a YAML value can express (numbers,
strings, booleans, Literal choices, enums by value, lists, tuples, string-keyed mappings, nested
dataclasses such as a download ``policy``); fields of other types (a callable, a model object) are
internal and not settable. Every problem is one :class:`ConfigError` line that names where
(``steps[3] (image_decode).min_side``), what was wrong, the value given, and the valid choices.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import sys
import types
import typing
from typing import Any, Literal

from mmcurate.pipeline.params import ParamError, check_value, param_doc

__all__ = ["ConfigError", "field_types", "settable_fields", "convert", "build", "to_plain", "type_name",
           "describe_params"]


class ConfigError(ValueError):
    """A job that cannot be used; the message is one line naming the offending key."""


_SCALARS = (int, float, str, bool)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Each field's resolved type; a field whose annotation cannot be resolved maps to None."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        pass
    namespace: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # a field declared in a base resolves in the base's module too
        module = sys.modules.get(klass.__module__)
        namespace.update(vars(module) if module else {})
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        try:
            out[f.name] = eval(f.type, namespace) if isinstance(f.type, str) else f.type  # noqa: S307 - annotations
        except Exception:  # noqa: BLE001 - an annotation only a type checker can resolve: not settable
            out[f.name] = None
    return out


def _expressible(tp: Any) -> bool:
    if tp is None:
        return False
    if tp is Any or tp in _SCALARS or tp is type(None):
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return True
    if dataclasses.is_dataclass(tp):
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        return all(_expressible(a) for a in args if a is not Ellipsis)
    return False


def settable_fields(cls: type) -> list[dataclasses.Field]:
    """The init fields of ``cls`` a job file can set, in declaration order."""
    hints = field_types(cls)
    return [f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_") and _expressible(hints.get(f.name))]


def type_name(tp: Any) -> str:
    """A short, readable type: ``int | None``, ``list[str]``, ``one of ['first', 'area']``."""
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return f"one of {[m.value for m in tp]}"
    if isinstance(tp, type):
        return tp.__name__
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return f"one of {list(args)}"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    return str(tp)


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert_union(tp: Any, value: Any, where: str) -> Any:
    args = typing.get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise _fail(where, f"expected {type_name(tp)}, got null")
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return convert(arg, value, where)
        except ConfigError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    raise _fail(where, f"expected {type_name(tp)}, got {_short(value)}")


def _convert_scalar(tp: type, value: Any, where: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        # An infinite timeout or a NaN threshold is never meant: it would fail on every row, at run time.
        raise _fail(where, f"must be a finite number, got {_short(value)}")
    if not isinstance(value, tp) or (tp in (int, float) and isinstance(value, bool)):
        raise _fail(where, f"expected {tp.__name__}, got {_short(value)}")
    return value


def convert(tp: Any, value: Any, where: str) -> Any:
    """``value`` (plain YAML data) as type ``tp``, or a :class:`ConfigError` naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _convert_union(tp, value, where)
    if tp is type(None):
        if value is not None:
            raise _fail(where, f"expected null, got {_short(value)}")
        return None
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        choices = [m.value for m in tp]
        if value not in choices:
            raise _fail(where, f"must be one of {choices}, got {_short(value)}")
        return tp(value)
    if origin is Literal:
        if value not in args:
            raise _fail(where, f"must be one of {list(args)}, got {_short(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _fail(where, f"expected a list, got {_short(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _fail(where, f"expected {len(args)} items, got {len(value)}")
            return tuple(convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, f"expected a mapping, got {_short(value)}")
        key_type, value_type = args or (Any, Any)
        return {convert(key_type, k, where): convert(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if tp in _SCALARS:
        return _convert_scalar(tp, value, where)
    raise _fail(where, f"cannot be set from a job file (type {type_name(tp)})")


def build(cls: type, data: Any, where: str) -> Any:
    """An instance of dataclass ``cls`` from a mapping of its settable fields; bounds checked."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(where, f"expected a mapping of parameters, got {_short(data)}")
    fields = {f.name: f for f in settable_fields(cls)}
    for key in data:
        if key not in fields:
            raise _fail(f"{where}.{key}", f"unknown parameter; valid: {sorted(fields)}")
    hints = field_types(cls)
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = convert(hints[key], value, f"{where}.{key}")
        try:
            check_value(fields[key], kwargs[key])
        except ParamError as exc:
            raise _fail(f"{where}.{key}", exc.message) from None
    missing = [f.name for f in fields.values()
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
    if missing:
        raise _fail(f"{where}.{missing[0]}", "required parameter is missing")
    try:
        return cls(**kwargs)
    except ParamError as exc:
        raise _fail(f"{where}.{exc.key}", exc.message) from None
    except (TypeError, ValueError) as exc:
        raise _fail(where, str(exc).splitlines()[0]) from None


def to_plain(value: Any) -> Any:
    """A component (or value) as plain YAML data: every settable field, defaults included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in settable_fields(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def describe_params(cls: type) -> dict[str, dict[str, Any]]:
    """``{param: {type, default, doc}}`` for ``mmcurate steps``."""
    hints = field_types(cls)
    out = {}
    for f in settable_fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):  # a nested config (a download policy): its own fields, dotted
            out.update({f"{f.name}.{k}": v for k, v in describe_params(hints[f.name]).items()})
            continue
        if f.default is not dataclasses.MISSING:
            default = to_plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = to_plain(f.default_factory())
        else:
            default = "(required)"
        out[f.name] = {"type": type_name(hints[f.name]), "default": default, "doc": param_doc(f)}
    return out
