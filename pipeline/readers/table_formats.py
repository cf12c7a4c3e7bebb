"""Unit plans for CSV/TSV and JSON-array files that let each unit read only its own bytes.

CSV: the plan scans the file once in binary, line by line, tracking whether a line ends inside a quoted
field the way Python's ``csv`` reads it (a quote opens a field only at the field's start, ``""`` is an
escaped quote, a quote elsewhere is literal, as in ``5" screen``), so quoted newlines of any size stay
inside their record. Each unit records its byte range; a
unit reads that range and parses each record on its own, so one ragged line costs one row. The plan
decodes every line with the configured encoding and stops with a one-line :class:`InputError` naming
the file, the line and the setting to change.

JSON array: the plan decodes the text once and walks the top-level elements with ``raw_decode``,
recording the character offset of each unit's first element; a unit decodes ``count`` elements from
there (it reads the text again, but parses only its own elements).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any

from mmcurate.pipeline.readers.base import InputError
from mmcurate.pipeline.readers.source_file import open_source

__all__ = ["plan_delimited", "read_delimited", "plan_json_array", "read_json_array", "RaggedRow"]

_WS = " \t\r\n"


class RaggedRow(ValueError):
    """A CSV record whose field count differs from the header's."""


def _decode(path: str, raw: bytes, encoding: str, line_no: int) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: line {line_no} is not valid {encoding} (byte 0x{raw[exc.start]:02x}); "
            f"set encoding on this input to the file's encoding (e.g. encoding: cp1252)") from None


def _ends_quoted(text: str, inside: bool, delimiter: str) -> bool:
    """Whether a line leaves its record inside a quoted field; ``inside``: it began inside one."""
    i = 0
    while True:
        j = text.find('"', i)
        if j < 0:
            return inside
        if inside:
            if text.startswith('"', j + 1):
                i = j + 2  # an escaped quote
                continue
            inside = False
        elif j == 0 or text[j - 1] == delimiter:
            inside = True
        i = j + 1


def plan_delimited(path: str, unit_rows: int, delimiter: str, encoding: str) -> list[dict[str, Any]]:
    """Header names and, per unit, the byte range of its records."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding[:40]!r}; set encoding to a codec name") from None
    units: list[dict[str, Any]] = []
    columns: list[str] | None = None
    offset, start, count, record_start, line_no, inside = 0, 0, 0, 0, 0, False
    header = ""
    with open_source(path) as fh:
        for line in fh:
            line_no += 1
            text = _decode(path, line, encoding, line_no)
            if inside or '"' in text:
                inside = _ends_quoted(text, inside, delimiter)
            offset += len(line)
            if columns is None:
                header += text
            if inside:
                continue  # inside a quoted field: the record goes on past this newline
            if columns is None:
                columns = next(csv.reader(io.StringIO(header.removeprefix("\ufeff"), newline=""),
                                          delimiter=delimiter), [])
                if len(set(columns)) != len(columns):
                    raise InputError(f"{path}: the header names a column twice; rename the duplicate column")
                start = record_start = offset
                continue
            if not text.strip("\r\n") and offset - record_start == len(line):
                record_start = offset  # a blank line is no record
                if count == 0:
                    start = offset
                continue
            count += 1
            record_start = offset
            if count == unit_rows:
                units.append({"start_byte": start, "end_byte": offset, "count": count})
                start, count = offset, 0
    if inside:
        raise InputError(f"{path}: a quoted field opened near the end is never closed; fix the file's quoting")
    if count:
        units.append({"start_byte": start, "end_byte": offset, "count": count})
    first_row = 0
    for u in units:
        u["columns"], u["start"] = columns or [], first_row
        first_row += u["count"]
    return units


def read_delimited(path: str, spec: dict[str, Any], delimiter: str, encoding: str) -> list[dict[str, Any] | Exception]:
    """The unit's records as {column: text or None}; a ragged record is a :class:`RaggedRow`."""
    with open_source(path) as fh:
        fh.seek(spec["start_byte"])
        text = fh.read(spec["end_byte"] - spec["start_byte"]).decode(encoding)
    columns: list[str] = spec["columns"]
    out: list[dict[str, Any] | Exception] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    for fields in reader:
        if not fields:
            continue
        if len(fields) != len(columns):
            out.append(RaggedRow(f"{len(fields)} fields, header has {len(columns)}"))
        else:  # every value is text; only an empty field is missing
            out.append({c: (v if v != "" else None) for c, v in zip(columns, fields, strict=True)})
    if len(out) != spec["count"]:
        raise InputError(f"{path}: unit at byte {spec['start_byte']} has {len(out)} records, planned "
                         f"{spec['count']}: the file changed since planning")
    return out


def _elements(text: str, pos: int) -> Any:
    """(start offset, value) of each top-level element of the JSON array whose '[' precedes ``pos``."""
    decoder = json.JSONDecoder()
    n = len(text)
    while True:
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos < n and text[pos] == "]":
            return
        start = pos
        value, pos = decoder.raw_decode(text, pos)
        yield start, value
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos < n and text[pos] == ",":
            pos += 1
        elif pos < n and text[pos] == "]":
            return
        else:
            raise ValueError(f"expected ',' or ']' at character {pos}")


def _read_text(path: str, encoding: str) -> str:
    with open_source(path) as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid {encoding} at byte {exc.start}; set encoding on this input") from None


def plan_json_array(path: str, unit_rows: int, encoding: str) -> list[dict[str, Any]]:
    text = _read_text(path, encoding)
    pos = len(text) - len(text.lstrip(_WS))
    if not text[pos:pos + 1] == "[":
        raise InputError(f"{path}: a json input must be one JSON array of objects; use kind jsonl for one object per line")
    units: list[dict[str, Any]] = []
    row = 0
    try:
        for start, _ in _elements(text, pos + 1):
            if row % unit_rows == 0:
                units.append({"offset": start, "count": 0, "start": row})
            units[-1]["count"] += 1
            row += 1
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a valid JSON array (element {row}: {str(exc)[:120]})") from None
    return units


def read_json_array(path: str, spec: dict[str, Any], encoding: str) -> list[dict[str, Any] | Exception]:
    text = _read_text(path, encoding)
    out: list[dict[str, Any] | Exception] = []
    for _, value in _elements(text, spec["offset"]):
        out.append(value if isinstance(value, dict) else ValueError("array element is not an object"))
        if len(out) == spec["count"]:
            break
    return out
