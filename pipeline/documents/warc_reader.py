"""WARC / WARC.gz crawls as documents, records streamed one at a time (``warcio``).

One work unit per WARC file: a gzip WARC cannot be split without an index, and the unit is also the
scope in which image ``response`` records are matched to the pages that reference them (bytes taken
from the crawl, no network). Only extracted nodes and image bytes (each capped) are kept while the file
streams; page HTML is dropped as soon as it is extracted.

Bad input: a record whose ``Content-Length`` claims more than ``max_record_bytes`` is rejected
``record_too_large`` without reading its payload; a truncated file or a corrupt gzip member keeps every
record read before the cut, then adds one ``warc_truncated`` row saying where it stopped.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.documents.extract import ExtractLimits
from mmcurate.pipeline.documents.rows import document_row, page_row
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOCUMENT_SCHEMA, KIND_IMAGE
from mmcurate.schemas.table import to_table

__all__ = ["WarcReader"]

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(kw_only=True)
class WarcReader(Reader):
    name: ClassVar[str] = "warc_reader_v1"
    path: str = param(doc="a .warc / .warc.gz file or a folder of them")
    max_record_bytes: int = param(64 * 1024**2, doc="records claiming more are rejected unread", ge=1)
    max_page_bytes: int = param(50 * 1024**2, doc="HTML payload cap (page_too_large)", ge=1)
    max_image_bytes: int = param(20 * 1024**2, doc="image records larger than this are not kept", ge=1)
    max_images: int = param(10_000, doc="images per page; more are dropped and counted", ge=0)

    def _files(self) -> list[str]:
        root = Path(self.path)
        if root.is_file():
            return [str(root)]
        if not root.is_dir():
            raise FileNotFoundError(f"input not found: {root}")
        return sorted(str(p) for p in root.rglob("*") if p.name.endswith((".warc", ".warc.gz")))

    def plan(self) -> list[dict[str, Any]]:
        return [{"file": f} for f in self._files()]

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        from warcio.archiveiterator import ArchiveIterator

        file = unit.spec_dict()["file"]
        limits = ExtractLimits(max_images=self.max_images, max_chars=self.max_page_bytes)
        rows: list[dict[str, Any]] = []
        images: dict[str, bytes] = {}
        number = -1  # record number in the file: the locator (warcio's byte offset would read ahead)
        with open(file, "rb") as fh:
            try:
                for number, record in enumerate(ArchiveIterator(fh)):
                    row = self._record(unit, len(rows), record, f"{Path(file).name}#{number}", limits, images)
                    if row is not None:
                        rows.append(row)
            except (zlib.error, EOFError, OSError, ValueError, Exception) as exc:  # noqa: BLE001 - warcio raises bare Exception subclasses
                rows.append(rejected_row(unit, len(rows), 0, source=file, locator=f"{Path(file).name}#{number + 1}",
                                         stage=self.name, reason=self.reason("warc_truncated"),
                                         error=f"stopped after record {number}: {type(exc).__name__}: {exc}"))
        for row in rows:
            row[S.UNIT_ROWS] = len(rows)
            self._attach(row, images)
        return to_table(rows, DOCUMENT_SCHEMA)

    def _record(self, unit: WorkUnit, index: int, record: Any, locator: str, limits: ExtractLimits,
                images: dict[str, bytes]) -> dict[str, Any] | None:
        if record.rec_type != "response" or record.http_headers is None:
            return None
        url = record.rec_headers.get_header("WARC-Target-URI")
        ctype = (record.http_headers.get_header("Content-Type") or "").lower()
        claimed = int(record.rec_headers.get_header("Content-Length") or 0)
        is_html = ctype.split(";")[0].strip() in HTML_TYPES
        if claimed > self.max_record_bytes:
            if not is_html and not ctype.startswith("image/"):
                return None
            return rejected_row(unit, index, 0, source=self.path, locator=locator, stage=self.name, url=url,
                                reason=self.reason("record_too_large"),
                                error=f"Content-Length {claimed} > {self.max_record_bytes}")
        if ctype.startswith("image/"):
            data = record.content_stream().read(self.max_image_bytes + 1)
            if len(data) <= self.max_image_bytes and url:
                images.setdefault(url, data)
            return None
        if not is_html:
            return None
        data = record.content_stream().read(self.max_page_bytes + 1)
        return page_row(unit, index, stage=self.name, source=self.path, locator=locator, url=url, data=data,
                        content_type=ctype, limits=limits)

    @staticmethod
    def _attach(row: dict[str, Any], images: dict[str, bytes]) -> None:
        nodes = row.get(DOC_NODES)
        if not nodes or not any(n["kind"] == KIND_IMAGE and n["url"] in images for n in nodes):
            return
        fresh = document_row(WorkUnit(row[S.UNIT_ID], 0, "{}"), row[S.UNIT_INDEX], source=row[S.SOURCE],
                             locator=row[S.LOCATOR], url=row[S.URL], nodes=nodes, images=images)
        row.update({S.SAMPLE_ID: fresh[S.SAMPLE_ID], S.MEDIA: fresh[S.MEDIA]})
