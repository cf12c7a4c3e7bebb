"""The accepted shards as the mixture steps read them: one shard at a time, slim columns, located.

``balance``, ``token_records`` and ``pack`` walk the committed accepted shards in their sorted order and
never hold more than one shard's slim rows (plus one packing chunk), so the driver's memory is set by
the largest shard and the packing chunk, not by the dataset. Each file they write per shard is named by
the shard's index in the list (``mixture/balance/part-00007.parquet`` is ``parquet/…`` shard 7) and names
the shard itself (a ``shard`` column; a token shard's manifest ``source``), so a later step pairs them
shard by shard without a join over the whole output.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from mmcurate.pipeline import fs
from mmcurate.pipeline.mixture.packing import ROW, SHARD
from mmcurate.pipeline.out_files import files_in, parquet_schema, read_parquet
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, TOKENS_SUPERVISED, TOKENS_TOTAL

__all__ = ["ACCEPTED", "SLIM", "accepted_shards", "located", "slim_shards", "part_name"]

ACCEPTED = "parquet"  # the accepted shards' folder under the output
SLIM = [S.SAMPLE_ID, S.SOURCE, MODALITY, TOKENS_TOTAL, TOKENS_SUPERVISED]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def accepted_shards(out_dir: str) -> list[str]:
    return files_in(out_dir, ACCEPTED)


def located(location: str, out_dir: str, columns: list[str]) -> pa.Table:
    """``columns`` of one shard with the ``shard`` (relative to the output) and ``row`` that locate each."""
    table = read_parquet(location, columns)
    where = fs.relative_to(location, out_dir)
    return (table.append_column(SHARD, pa.array([where] * table.num_rows, pa.string()))
            .append_column(ROW, pa.array(range(table.num_rows), pa.int64())))


def slim_shards(out_dir: str) -> Iterator[pa.Table]:
    """The slim columns of each accepted shard in turn, located; a one-line ``KeyError`` when the shards
    have no token counts."""
    shards = accepted_shards(out_dir)
    if shards:
        missing = [c for c in SLIM if c not in parquet_schema(shards[0]).names]
        if missing:
            raise KeyError(f"the accepted shards have no {missing}: put a count_tokens step before balance/pack")
    for location in shards:
        yield located(location, out_dir, SLIM)
