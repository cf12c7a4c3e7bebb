"""MMC4 JSONL as documents.

An MMC4 line holds ``text_list`` (sentences) and ``image_info`` (``raw_url``, ``image_name``,
``matched_text_index``, ``matched_sim``). An image is placed immediately before the sentence it was
matched to (the OpenFlamingo convention), images matched to the same sentence in file order; the
similarity goes to the node-level meta. Units are line ranges; lines are read streaming.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOCUMENT_SCHEMA, image_node, text_node
from mmcurate.schemas.table import to_table

__all__ = ["Mmc4Reader", "mmc4_nodes"]


def mmc4_nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    texts = doc.get("text_list")
    infos = doc.get("image_info") or []
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError("text_list must be a list of strings")
    by_sentence: dict[int, list[dict[str, Any]]] = {}
    for info in infos:
        index = info.get("matched_text_index")
        if not isinstance(index, int) or not 0 <= index < len(texts):
            raise ValueError(f"matched_text_index {index!r} outside text_list[{len(texts)}]")
        by_sentence.setdefault(index, []).append(image_node(info.get("raw_url") or info.get("image_name")))
    nodes: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        nodes.extend(by_sentence.get(i, []))
        nodes.append(text_node(text))
    return nodes


@dataclass(kw_only=True)
class Mmc4Reader(Reader):
    name: ClassVar[str] = "mmc4_reader_v1"
    path: str = param(doc="an MMC4 .jsonl file")

    def plan(self) -> list[dict[str, Any]]:
        with open(self.path, "rb") as fh:
            n = sum(1 for _ in fh)
        return [{"start": i, "stop": min(n, i + self.unit_rows)} for i in range(0, n, self.unit_rows)]

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        spec = unit.spec_dict()
        rows: list[dict[str, Any]] = []
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh):
                if number < spec["start"]:
                    continue
                if number >= spec["stop"]:
                    break
                rows.append(self._row(unit, len(rows), number, line))
        for row in rows:
            row[S.UNIT_ROWS] = len(rows)
        return to_table(rows, DOCUMENT_SCHEMA)

    def _row(self, unit: WorkUnit, i: int, number: int, line: bytes) -> dict[str, Any]:
        locator = f"line {number + 1}"
        try:
            doc = json.loads(line)
            nodes = mmc4_nodes(doc)
        except (ValueError, AttributeError, TypeError) as exc:
            return rejected_row(unit, i, 0, source=self.path, locator=locator, stage=self.name,
                                reason=self.reason("bad_record"), error=str(exc))
        sims = [info.get("matched_sim") for info in doc.get("image_info") or []]
        return document_row(unit, i, source=self.path, locator=locator, url=doc.get("url"), nodes=nodes,
                            meta={"matched_sim": sims} if any(s is not None for s in sims) else None)
