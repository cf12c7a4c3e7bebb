"""Parquet, JSONL, CSV and TSV files whose rows carry image bytes, image paths or URLs, plus a caption.

A row with no image field but a URL (``url_column``) is a URL-list row: it enters with empty media
and the download stage fetches it. Columns other than image, caption and URL are kept verbatim as
``meta_json``. Units are row ranges. For JSONL the plan records the byte offset of each unit's first line, so a
unit is read without scanning the lines before it. Image paths are resolved relative to the file.
JSONL cannot hold raw bytes: an image field there is a path, or base64 when ``image_encoding`` says so.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
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
    format: Literal["auto", "parquet", "jsonl", "csv", "tsv"] = "auto"
    image_column: str = "image"
    caption_column: str = "caption"
    url_column: str | None = None
    image_encoding: Literal["auto", "path", "base64"] = "auto"
    max_file_bytes: int = 64 * 1024**2

    def _format(self) -> str:
        if self.format != "auto":
            return self.format
        suffix = Path(self.path).suffix.lower()
        return {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv"}.get(suffix, "jsonl")

    def plan(self) -> list[dict[str, Any]]:
        if self._format() in ("csv", "tsv"):
            n = self._read_delimited().num_rows
            return [{"start": s, "count": min(self.unit_rows, n - s)} for s in range(0, n, self.unit_rows)]
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

    def _read_delimited(self) -> pa.Table:
        # Every column as text: a CSV caption "007" must stay "007", and ids must not become floats.
        delimiter = "\t" if self._format() == "tsv" else ","
        options = pacsv.ParseOptions(delimiter=delimiter)
        with open(self.path, newline="", encoding="utf-8") as fh:
            names = next(csv.reader(fh, delimiter=delimiter), [])
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
        return pacsv.read_csv(self.path, parse_options=options, convert_options=convert)

    def _records(self, spec: dict[str, Any]) -> list[dict[str, Any] | Exception]:
        if self._format() in ("csv", "tsv"):
            return self._read_delimited().slice(spec["start"], spec["count"]).to_pylist()
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
        if rec.get(self.image_column) is None and url:
            return sample_row(unit, i, n, source=self.path, locator=locator, media=[], caption=caption, url=url,
                              meta_json=self._meta(rec), flags=flags)
        try:
            data = self._image_bytes(rec.get(self.image_column))
        except (OSError, TypeError, OverflowError, binascii.Error, ValueError) as exc:
            code = "too_large" if isinstance(exc, OverflowError) else "missing_media"
            return rejected_row(unit, i, n, reason=self.reason(code), error=f"{type(exc).__name__}: {exc}",
                                caption=caption, url=url, **common)
        return sample_row(unit, i, n, source=self.path, locator=locator, media=[data], caption=caption, url=url,
                          meta_json=self._meta(rec), flags=flags)

    def _meta(self, rec: dict[str, Any]) -> str | None:
        """Columns other than image, caption and URL, kept verbatim for the user."""
        extra = {k: v for k, v in rec.items() if k not in (self.image_column, self.caption_column, self.url_column)}
        return json.dumps(extra, sort_keys=True, default=str, ensure_ascii=False) if extra else None


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
