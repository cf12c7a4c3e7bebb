"""Folders of saved HTML pages (``*.html``, ``*.htm``, ``*.xhtml``) as documents.

Files are listed in sorted relative-path order (a fixed unit plan). Relative image URLs resolve against
``<base href>`` or, when ``base_url`` is set, ``base_url + relative path``; with neither they are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.documents.extract import ExtractLimits
from mmcurate.pipeline.documents.rows import page_row
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOCUMENT_SCHEMA
from mmcurate.schemas.table import to_table

__all__ = ["HtmlFolderReader"]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")


@dataclass(kw_only=True)
class HtmlFolderReader(Reader):
    name: ClassVar[str] = "html_folder_reader_v1"
    path: str = param(doc="folder of HTML files (recursive)")
    base_url: str | None = param(None, doc="page URL prefix for resolving relative image URLs")
    max_page_bytes: int = param(50 * 1024**2, doc="larger files are rejected page_too_large", ge=1)
    max_images: int = param(10_000, doc="images per page; more are dropped and counted", ge=0)

    def plan(self) -> list[dict[str, Any]]:
        root = Path(self.path)
        if not root.is_dir():
            raise FileNotFoundError(f"input folder not found: {root}")
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                       if p.is_file() and p.suffix.lower() in HTML_SUFFIXES)
        return [{"files": files[i:i + self.unit_rows]} for i in range(0, len(files), self.unit_rows)]

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        files = unit.spec_dict()["files"]
        limits = ExtractLimits(max_images=self.max_images, max_chars=self.max_page_bytes)
        rows = []
        for i, rel in enumerate(files):
            full = Path(self.path) / rel
            url = self.base_url.rstrip("/") + "/" + rel if self.base_url else None
            if full.stat().st_size > self.max_page_bytes:
                rows.append(rejected_row(unit, i, 0, source=self.path, locator=rel, stage=self.name, url=url,
                                         reason=self.reason("page_too_large"),
                                         error=f"{full.stat().st_size} bytes > {self.max_page_bytes}"))
                continue
            rows.append(page_row(unit, i, stage=self.name, source=self.path, locator=rel, url=url,
                                 data=full.read_bytes(), content_type=None, limits=limits))
        for row in rows:
            row[S.UNIT_ROWS] = len(rows)
        return to_table(rows, DOCUMENT_SCHEMA)
