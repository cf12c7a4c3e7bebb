"""Parquet and JSONL files whose rows carry image bytes or image paths, plus a caption.

Units are row ranges. For JSONL the plan records the byte offset of each unit's first line, so a
unit is read without scanning the lines before it. Image paths are resolved relative to the file.
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

from mmcurate.pipeline.identity import decode_caption_bytes
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row, sample_row
from mmcurate.schemas.sample import SAMPLE_SCHEMA
from mmcurate.schemas.table import to_table

__all__ = ["TableFileReader"]


@dataclass(kw_only=True)
class TableFileReader(Reader):
    """``format`` is taken from the extension when ``auto`` (.parquet / .jsonl / .json lines)."""

    name: ClassVar[str] = "table_reader_v1"
    path: str
    format: Literal["auto", "parquet", "jsonl"] = "auto"
    image_column: str = "image"
    caption_column: str = "caption"
    url_column: str | None = None
    image_encoding: Literal["auto", "path", "base64"] = "auto"
    max_file_bytes: int = 64 * 1024**2

    def _format(self) -> str:
        if self.format != "auto":
            return self.format
        return "parquet" if self.path.endswith(".parquet") else "jsonl"

    def plan(self) -> list[dict[str, Any]]:
        if self._format() == "parquet":
            n = pq.ParquetFile(self.path).metadata.num_rows
            return [{"start": s, "count": min(self.unit_rows, n - s)} for s in range(0, n, self.unit_rows)]
        units, offset, count, start = [], 0, 0, 0
        with open(self.path, "rb") as fh:
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
        if self._format() == "parquet":
            table = _read_parquet_rows(self.path, spec["start"], spec["count"])
            return table.to_pylist()
        out: list[dict[str, Any] | Exception] = []
        with open(self.path, "rb") as fh:
            fh.seek(spec["offset"])
            for _ in range(spec["count"]):
                line = fh.readline()
                try:
                    obj = json.loads(line.decode("utf-8"))
                    out.append(obj if isinstance(obj, dict) else ValueError("JSONL line is not an object"))
                except ValueError as exc:
                    out.append(exc)
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
        full = Path(self.path).parent / value
        if full.stat().st_size > self.max_file_bytes:
            raise OverflowError(f"{value}: larger than {self.max_file_bytes} bytes")
        return full.read_bytes()

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        spec = unit.spec_dict()
        first = spec.get("start", 0) if "start" in spec else None
        records = self._records(spec)
        rows = []
        for i, rec in enumerate(records):
            locator = f"row {first + i}" if first is not None else f"line@{spec['offset']}+{i}"
            rows.append(self._row(unit, i, len(records), locator, rec))
        return to_table(rows, SAMPLE_SCHEMA)

    def _row(self, unit: WorkUnit, i: int, n: int, locator: str, rec: dict[str, Any] | Exception) -> dict[str, Any]:
        common = {"source": self.path, "locator": locator, "stage": self.name}
        if isinstance(rec, Exception):
            return rejected_row(unit, i, n, reason=self.reason("bad_record"), error=str(rec), **common)
        caption = rec.get(self.caption_column)
        url = rec.get(self.url_column) if self.url_column else None
        flags: list[str] = []
        if isinstance(caption, (bytes, bytearray)):
            try:
                caption, flag = decode_caption_bytes(bytes(caption))
            except UnicodeDecodeError as exc:
                return rejected_row(unit, i, n, reason=self.reason("caption_encoding"), error=str(exc), url=url, **common)
            flags += [flag] if flag else []
        elif caption is not None and not isinstance(caption, str):
            caption = str(caption)
        try:
            data = self._image_bytes(rec.get(self.image_column))
        except (OSError, TypeError, OverflowError, binascii.Error, ValueError) as exc:
            code = "too_large" if isinstance(exc, OverflowError) else "missing_media"
            return rejected_row(unit, i, n, reason=self.reason(code), error=f"{type(exc).__name__}: {exc}",
                                caption=caption, url=url, **common)
        extra = {k: v for k, v in rec.items() if k not in (self.image_column, self.caption_column, self.url_column)}
        meta = json.dumps(extra, sort_keys=True, default=str, ensure_ascii=False) if extra else None
        return sample_row(unit, i, n, source=self.path, locator=locator, media=[data], caption=caption, url=url,
                          meta_json=meta, flags=flags)


def _read_parquet_rows(path: str, start: int, count: int) -> pa.Table:
    """Rows [start, start+count) reading only the row groups that overlap them."""
    pf = pq.ParquetFile(path)
    groups, first_row, row = [], None, 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row + n > start and row < start + count:
            groups.append(g)
            first_row = row if first_row is None else first_row
        row += n
    table = pf.read_row_groups(groups)
    return table.slice(start - (first_row or 0), count)
