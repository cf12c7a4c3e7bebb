"""OBELICS-format Parquet: read it as documents, write documents back in it.

OBELICS (HuggingFaceM4/OBELICS) stores ``texts`` and ``images`` as lists aligned by position: each
position holds a paragraph or an image URL, the other side ``None``; ``metadata`` is a JSON string (per
node) and ``general_metadata`` a JSON string (per document). The writer emits exactly those columns,
plus ``image_bytes`` aligned the same way (null where not fetched), so ``datasets.load_dataset("parquet")``
reads the output and a trainer that wants bytes need not refetch. Units are row ranges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, DOCUMENT_SCHEMA, image_node, live_nodes, text_node, to_obelics
from mmcurate.schemas.table import to_table

__all__ = ["ObelicsReader", "OBELICS_SCHEMA", "obelics_table", "write_obelics"]

OBELICS_SCHEMA = pa.schema([
    pa.field("texts", pa.list_(pa.string())),
    pa.field("images", pa.list_(pa.string())),
    pa.field("image_bytes", pa.list_(pa.binary())),
    pa.field("metadata", pa.string()),
    pa.field("general_metadata", pa.string()),
])


@dataclass(kw_only=True)
class ObelicsReader(Reader):
    name: ClassVar[str] = "obelics_reader_v1"
    path: str = param(doc="an OBELICS-format .parquet file")

    def plan(self) -> list[dict[str, Any]]:
        n = pq.ParquetFile(self.path).metadata.num_rows
        return [{"start": i, "stop": min(n, i + self.unit_rows)} for i in range(0, n, self.unit_rows)]

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        spec = unit.spec_dict()
        table = pq.read_table(self.path).slice(spec["start"], spec["stop"] - spec["start"])
        rows = [self._row(unit, i, spec["start"] + i, r) for i, r in enumerate(table.to_pylist())]
        for row in rows:
            row[S.UNIT_ROWS] = len(rows)
        return to_table(rows, DOCUMENT_SCHEMA)

    def _row(self, unit: WorkUnit, i: int, absolute: int, rec: dict[str, Any]) -> dict[str, Any]:
        texts, images = rec.get("texts") or [], rec.get("images") or []
        blobs = rec.get("image_bytes") or [None] * len(images)
        locator = f"row {absolute}"
        bad = len(texts) != len(images) or any((t is None) == (m is None) for t, m in zip(texts, images))
        if bad:
            return rejected_row(unit, i, 0, source=self.path, locator=locator, stage=self.name,
                                reason=self.reason("misaligned"),
                                error=f"texts[{len(texts)}] and images[{len(images)}] not one-of per position")
        nodes, found = [], {}
        for t, m, b in zip(texts, images, blobs):
            nodes.append(text_node(t) if t is not None else image_node(m))
            if m is not None and b is not None:
                found[m] = b
        meta = {"general_metadata": rec.get("general_metadata"), "metadata": rec.get("metadata")}
        url = None
        try:
            url = json.loads(rec.get("general_metadata") or "{}").get("url")
        except (ValueError, AttributeError):
            pass
        return document_row(unit, i, source=self.path, locator=locator, url=url, nodes=nodes, images=found,
                            meta=meta)


def obelics_table(documents: pa.Table) -> pa.Table:
    """OK document rows as an OBELICS table (removed nodes left out)."""
    out: dict[str, list[Any]] = {f.name: [] for f in OBELICS_SCHEMA}
    for row in documents.select([S.STATUS, S.URL, S.META_JSON, S.MEDIA, DOC_NODES, S.SAMPLE_ID]).to_pylist():
        if row[S.STATUS] != S.STATUS_OK:
            continue
        texts, images = to_obelics(row[DOC_NODES], row[S.MEDIA])
        out["texts"].append(texts)
        out["images"].append([n["url"] if n["kind"] == "image" else None for n in live_nodes(row[DOC_NODES])])
        out["image_bytes"].append([m if isinstance(m, bytes) else None for m in images])
        meta = json.loads(row[S.META_JSON]) if row[S.META_JSON] else {}
        out["metadata"].append(meta.get("metadata") or json.dumps([None] * len(texts)))
        general = meta.get("general_metadata") or json.dumps({"url": row[S.URL], "sample_id": row[S.SAMPLE_ID]})
        out["general_metadata"].append(general)
    return pa.Table.from_pydict(out, schema=OBELICS_SCHEMA)


def write_obelics(documents: pa.Table, path: str) -> str:
    pq.write_table(obelics_table(documents), path)
    return path
