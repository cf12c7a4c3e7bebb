"""``obelics_export``: the accepted documents as OBELICS-format Parquet, an output step.

It runs after every unit is committed, over the accepted ``parquet/`` shards (so the job's output
formats must include ``parquet``), and writes one ``obelics/<shard>.parquet`` per accepted shard that
holds documents, through :func:`.obelics.obelics_table`: ``texts`` / ``images`` aligned by position
(removed nodes left out), ``image_bytes`` aligned the same way, ``metadata`` and ``general_metadata``.
``datasets.load_dataset("parquet", data_files="OUT/obelics/*.parquet")`` reads it. One output file per
input shard keeps memory to one shard and the bytes a function of the shards alone (Ray == local).
Rows that are not documents (caption pairs in a mixed job) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmcurate.pipeline import fs
from mmcurate.pipeline.documents.obelics import obelics_table
from mmcurate.pipeline.mixture.accepted import accepted_shards
from mmcurate.pipeline.out_files import name_of, parquet_schema, read_parquet
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES

__all__ = ["ObelicsExport", "OBELICS_DIR"]

OBELICS_DIR = "obelics"
_COLUMNS = [S.SAMPLE_ID, S.URL, S.META_JSON, S.MEDIA, DOC_NODES]


@dataclass(kw_only=True)
class ObelicsExport(OutputPass):
    """The accepted documents as OBELICS-format Parquet under obelics/ (HF datasets reads it)."""

    name: ClassVar[str] = "obelics_export_v1"

    compression: str = param("zstd", doc="Parquet compression of the OBELICS files",
                             choices=("zstd", "snappy", "gzip", "none"))

    def run(self, context: OutputContext) -> dict[str, Any]:
        documents = images = files = 0
        for shard in accepted_shards(context.out_dir):
            if DOC_NODES not in parquet_schema(shard).names:
                continue  # a shard of caption pairs: nothing to export
            rows = read_parquet(shard, _COLUMNS)
            rows = rows.filter(pc.is_valid(rows.column(DOC_NODES)))
            if rows.num_rows == 0:
                continue
            # Accepted shards carry no status column: every row in them is ok.
            table = obelics_table(rows.append_column(S.STATUS, pa.array([S.STATUS_OK] * rows.num_rows, pa.string())))
            target = fs.join(context.out_dir, OBELICS_DIR, name_of(shard))
            fs.write_atomic(target, lambda fh, t=table: pq.write_table(t, fh, compression=self.compression))
            documents += table.num_rows
            images += sum(sum(m is not None for m in row) for row in table.column("images").to_pylist())
            files += 1
        return {"documents": documents, "images": images, "files": files}
