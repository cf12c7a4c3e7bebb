"""Token totals of the accepted samples, and the budget targets they are measured against.

The token stages write integer ``tokens_<kind>`` columns (``tokens_image``, ``tokens_video``,
``tokens_text``, ``tokens_supervised``, ``tokens_total``) and the mixture group in ``modality``.
:class:`TokenTally` sums them per batch with an Arrow ``group_by`` (one Python step per *group*, never
per row): by kind, by mixture modality and by source. Targets come from the budget balancer's own
report (``mixture/report.json``: ``target_tokens`` per modality and per source) and can be given or
overridden on the command line (``--budget image_text=1e9``, ``--budget source:/data/a=5e8``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline import fs
from mmcurate.schemas import sample as S

__all__ = ["Tokens", "TokenTally", "budget_targets", "MODALITY", "TOTAL", "MIXTURE_REPORT"]

MODALITY = "modality"  # mmcurate.schemas.mixture.MODALITY (not imported: keeps this light)
TOTAL = "tokens_total"
MIXTURE_REPORT = "mixture/report.json"


@dataclass
class Tokens:
    """Sums over accepted rows. ``by_modality``/``by_source`` hold the sample length (``tokens_total``,
    or the sum of the kind columns when there is no total); targets are keyed ``modality:<m>`` and
    ``source:<s>``."""

    by_kind: dict[str, int]
    by_modality: dict[str, int]
    by_source: dict[str, int]
    targets: dict[str, float] = field(default_factory=dict)


class TokenTally:
    """Accumulates token sums batch by batch."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.by_kind: Counter[str] = Counter()
        self.groups: dict[str, Counter[str]] = {S.SOURCE: Counter(), MODALITY: Counter()}

    @property
    def reads(self) -> list[str]:
        return [*self.columns, S.SOURCE, MODALITY]

    def _length(self, table: pa.Table) -> pa.Array:
        if TOTAL in table.column_names:
            return table[TOTAL].fill_null(0)
        kinds = [c for c in self.columns if c not in ("tokens_supervised", TOTAL)]
        length = pa.array([0] * table.num_rows, pa.int64())
        for c in kinds:
            length = pc.add(length, table[c].fill_null(0))
        return length

    def add(self, batch: pa.RecordBatch) -> None:
        table = pa.Table.from_batches([batch])
        for c in self.columns:
            if c in table.column_names:
                self.by_kind[c.removeprefix("tokens_")] += pc.sum(table[c]).as_py() or 0
        table = table.append_column("_length", self._length(table))
        for key, counter in self.groups.items():
            if key in table.column_names:
                grouped = table.group_by(key, use_threads=False).aggregate([("_length", "sum")])
                for name, total in zip(
                    grouped[key].to_pylist(), grouped["_length_sum"].to_pylist(), strict=True
                ):
                    counter[str(name)] += total or 0

    def result(self, targets: dict[str, float]) -> Tokens:
        return Tokens(
            by_kind=dict(self.by_kind),
            by_modality=dict(sorted(self.groups[MODALITY].items())),
            by_source=dict(sorted(self.groups[S.SOURCE].items())),
            targets=targets,
        )


def budget_targets(root: str, overrides: dict[str, float] | None = None) -> dict[str, float]:
    """``{"modality:<m>" | "source:<s>": target tokens}`` from ``mixture/report.json``, then ``overrides``
    (a bare name means a modality)."""
    targets: dict[str, float] = {}
    report = fs.join(root, MIXTURE_REPORT)
    if fs.exists(report):
        for row in json.loads(fs.read_bytes(report)).get("budget", []):
            if row.get("target_tokens") is not None:
                targets[f"{row['level']}:{row['key']}"] = float(row["target_tokens"])
    for key, value in (overrides or {}).items():
        targets[key if ":" in key else f"modality:{key}"] = value
    return targets
