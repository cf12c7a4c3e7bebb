"""Parquet, JSONL, JSON-array, CSV and TSV files whose rows carry image bytes, image paths or URLs, plus a caption.

A row with no image field but a URL (``url_column``) is a URL-list row: it enters with empty media
and the download stage fetches it. Columns other than image, caption and URL are kept verbatim as
``meta_json`` (see :mod:`.values`: captions must be text, binary extras are dropped with a note).
CSV/TSV and JSON-array units are byte or character ranges found once at planning
(:mod:`.table_formats`), so no unit re-parses the whole file; every CSV value is read as text.
Parquet units are row ranges; a file without Parquet magic is one ``unreadable_file`` reject. For JSONL
the plan records the byte offset of each unit's first line, so a unit is read without scanning the
lines before it. Image paths are resolved relative to the file and must stay inside ``allowed_roots``
(the table's folder by default), regular files only: see :mod:`.safe_path` for what a table may name.
JSONL cannot hold raw bytes: an image field there is a path, or base64 when ``image_encoding`` says so.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import InputError, Reader, WorkUnit, rejected_row, sample_row
from mmcurate.pipeline.readers.safe_path import PathRefused, default_roots, read_inside
from mmcurate.pipeline.readers.source_file import open_source, read_beside
from mmcurate.pipeline.readers.table_formats import (
    RaggedRow,
    plan_delimited,
    plan_json_array,
    read_delimited,
    read_json_array,
)
from mmcurate.pipeline.readers.values import ValueReject, caption_text, meta_json, url_text
from mmcurate.schemas.sample import SAMPLE_SCHEMA
from mmcurate.schemas.table import to_table

__all__ = ["TableFileReader"]


TABLE_KINDS = ("parquet", "jsonl", "json", "csv", "tsv")


@dataclass(kw_only=True)
class TableFileReader(Reader):
    """``format`` ``auto`` takes a table extension at its word, else detects the kind from the content."""

    name: ClassVar[str] = "table_reader_v1"
    path: str
    format: str = param("auto", doc="file format; auto: by extension, else by content",
                        choices=("auto", *TABLE_KINDS))
    image_column: str = "image"
    caption_column: str = "caption"
    url_column: str | None = None
    image_encoding: Literal["auto", "path", "base64"] = "auto"
    max_file_bytes: int = param(64 * 1024**2, doc="image files larger than this are rejected too_large", ge=1)
    encoding: str = param("utf-8", doc="text encoding of CSV/TSV/JSON files (ASCII-compatible, e.g. cp1252)")
    caption_join: str | None = param(None, doc="join a list-of-strings caption with this separator; "
                                     "None: such a caption is rejected caption_type")
    allowed_roots: tuple[str, ...] | None = param(
        None, doc="folders image paths in the table may resolve into (symlinks followed); "
        "None: the table's own folder. Anything outside, or not a regular file, is rejected path_outside_root / "
        "not_regular_file")

    def _format(self) -> str:
        if self.format != "auto":
            return self.format
        suffix = Path(self.path).suffix.lower()
        by_ext = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json"}
        if suffix in by_ext:
            return by_ext[suffix]
        from mmcurate.pipeline.readers.detect import detect_input_kind

        kind = detect_input_kind(self.path)
        if kind not in TABLE_KINDS:
            raise InputError(f"{self.path}: looks like {kind} input, not a table file; use kind: {kind}")
        return kind

    def _delimiter(self) -> str:
        return "\t" if self._format() == "tsv" else ","

    def plan(self) -> list[dict[str, Any]]:
        units = self._plan()
        self._check_media_column(units)
        return units

    def _check_media_column(self, units: list[dict[str, Any]]) -> None:
        """No image column but a URL-like one: every row would be ``missing_media``; say how to fix it."""
        if self.url_column is not None or not units or "file_error" in units[0]:
            return
        if self._format() == "parquet":
            with open_source(self.path) as fh:
                columns = pq.read_schema(fh).names
        else:
            columns = list(dict.fromkeys(k for r in self._records(units[0]) if isinstance(r, dict) for k in r))
        if self.image_column in columns:
            return
        urls = [c for c in columns if "url" in c.lower() or c.lower() in ("link", "src", "href")]
        if urls:
            raise InputError(f"{self.path}: no {self.image_column!r} column, but {urls[0]!r} looks like URLs; "
                             f"set url_column: {urls[0]} on this input (or image_column: <the media column>)")

    def _plan(self) -> list[dict[str, Any]]:
        fmt = self._format()
        if fmt in ("csv", "tsv"):
            return plan_delimited(self.path, self.unit_rows, self._delimiter(), self.encoding)
        if fmt == "json":
            return plan_json_array(self.path, self.unit_rows, self.encoding)
        if fmt == "parquet":
            try:
                n = _parquet_rows(self.path)
            except (OSError, pa.ArrowException) as exc:  # one reject for the whole file, other inputs go on
                return [{"file_error": f"not a readable Parquet file: {str(exc)[:300]}"}]
            return [{"start": s, "count": min(self.unit_rows, n - s)} for s in range(0, n, self.unit_rows)]
        units, offset, count, start = [], 0, 0, 0
        with open_source(self.path) as fh:
            for line in fh:
                if count == 0:
                    start = offset
                offset += len(line)
                count += 1
                if count == self.unit_rows:
                    units.append({"offset": start, "count": count})
                    count = 0
        if count:
            units.append({"offset": start, "count": count})
        return units

    def _records(self, spec: dict[str, Any]) -> list[dict[str, Any] | Exception]:
        fmt = self._format()
        if fmt in ("csv", "tsv"):
            return read_delimited(self.path, spec, self._delimiter(), self.encoding)
        if fmt == "json":
            return read_json_array(self.path, spec, self.encoding)
        if fmt == "parquet":
            table = _read_parquet_rows(self.path, spec["start"], spec["count"])
            return table.to_pylist()
        out: list[dict[str, Any] | Exception] = []
        codec = "utf-8-sig" if self.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else self.encoding
        with open_source(self.path) as fh:
            fh.seek(spec["offset"])
            for _ in range(spec["count"]):
                line = fh.readline()
                try:  # a BOM before the first line is not part of the JSON
                    obj = json.loads(line.decode(codec))
                    out.append(obj if isinstance(obj, dict) else ValueError("JSONL line is not an object"))
                except ValueError as exc:
                    out.append(exc)
                except RecursionError:
                    out.append(ValueError("JSON nested too deep"))
        return out

    def _image_bytes(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, dict) and "bytes" in value:  # HF datasets' Image feature layout
            return bytes(value["bytes"]) if value["bytes"] is not None else self._image_bytes(value.get("path"))
        if not isinstance(value, str):
            raise TypeError(f"image field is {type(value).__name__}, expected bytes or str")
        if self.image_encoding == "base64":
            return base64.b64decode(value, validate=True)
        if fs.is_remote(self.path):
            try:
                return read_beside(self.path, value, self.max_file_bytes)
            except ValueError as exc:
                code, _, detail = str(exc).partition(": ")
                raise PathRefused(code, detail) from None
        roots = default_roots(self.path, self.allowed_roots)
        return read_inside(value, Path(self.path).parent, roots, self.max_file_bytes)

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        spec = unit.spec_dict()
        if "file_error" in spec:
            row = rejected_row(unit, 0, 1, source=self.path, locator="(whole file)", stage=self.name,
                               reason=self.reason("unreadable_file"), error=spec["file_error"])
            return to_table([row], SAMPLE_SCHEMA)
        first = spec.get("start", 0) if "start" in spec else None
        records = self._records(spec)
        rows = []
        for i, rec in enumerate(records):
            locator = f"row {first + i}" if first is not None else f"line@{spec['offset']}+{i}"
            rows.append(self._row(unit, i, len(records), locator, rec))
        return to_table(rows, SAMPLE_SCHEMA)

    def _row(self, unit: WorkUnit, i: int, n: int, locator: str, rec: dict[str, Any] | Exception) -> dict[str, Any]:
        common = {"source": self.path, "locator": locator, "stage": self.name}
        if isinstance(rec, RaggedRow):
            return rejected_row(unit, i, n, reason=self.reason("ragged_row"), error=str(rec), **common)
        if isinstance(rec, Exception):
            return rejected_row(unit, i, n, reason=self.reason("bad_record"), error=str(rec), **common)
        try:
            url = url_text(rec.get(self.url_column)) if self.url_column else None
        except ValueReject as exc:
            return rejected_row(unit, i, n, reason=self.reason(exc.code), error=str(exc), **common)
        try:
            caption, flag = caption_text(rec.get(self.caption_column), self.caption_join)
            extra = {k: v for k, v in rec.items() if k not in (self.image_column, self.caption_column, self.url_column)}
            meta, dropped = meta_json(extra)
        except ValueReject as exc:
            return rejected_row(unit, i, n, reason=self.reason(exc.code), error=str(exc), url=url, **common)
        flags = [f for f in (flag, "meta_binary_dropped" if dropped else None) if f]
        if rec.get(self.image_column) is None and url:
            return sample_row(unit, i, n, source=self.path, locator=locator, media=[], caption=caption, url=url,
                              meta_json=meta, flags=flags)
        try:
            data = self._image_bytes(rec.get(self.image_column))
        except (OSError, TypeError, OverflowError, binascii.Error, ValueError) as exc:
            code = exc.code if isinstance(exc, PathRefused) else "missing_media"
            return rejected_row(unit, i, n, reason=self.reason(code), error=f"{type(exc).__name__}: {exc}",
                                caption=caption, url=url, **common)
        return sample_row(unit, i, n, source=self.path, locator=locator, media=[data], caption=caption, url=url,
                          meta_json=meta, flags=flags)


def _parquet_rows(path: str) -> int:
    """Row count from the footer, after checking the ``PAR1`` magic at both ends."""
    with open_source(path) as fh:
        head = fh.read(4)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        raise OSError(f"{path}: no PAR1 magic at both ends")
    return pq.ParquetFile(fs.parquet_source(path)).metadata.num_rows


def _read_parquet_rows(path: str, start: int, count: int) -> pa.Table:
    """Rows [start, start+count) reading only the row groups that overlap them."""
    pf = pq.ParquetFile(fs.parquet_source(path))
    groups, first_row, row = [], None, 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row + n > start and row < start + count:
            groups.append(g)
            first_row = row if first_row is None else first_row
        row += n
    table = pf.read_row_groups(groups)
    return table.slice(start - (first_row or 0), count)
