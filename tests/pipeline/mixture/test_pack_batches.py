"""pack_batches: chunked packing numbers packs globally and places every item exactly once."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.mixture.packing import pack_batches, pack_table
from mmcurate.schemas.mixture import TOKENS_TOTAL


def test_chunked_packing_matches_whole_table_packing() -> None:
    rng = np.random.default_rng(0)
    rows = pa.table({"sample_id": [f"s{i:05d}" for i in range(20_000)],
                     TOKENS_TOTAL: rng.integers(1, 3000, 20_000).astype(np.int64)})
    whole = pack_table(rows, 4096)
    chunks = list(pack_batches(rows.to_batches(max_chunksize=5_000), 4096))
    packs = pa.concat_tables([c.packs for c in chunks])
    assert packs.column("pack_id").to_pylist() == list(range(packs.num_rows))
    placed = packs.column("sample_ids").combine_chunks().flatten().to_pylist()
    assert sorted(placed) == sorted(rows.column("sample_id").to_pylist())
    # At most one partly filled pack per chunk more than the global FFD.
    assert whole.packs.num_rows <= packs.num_rows <= whole.packs.num_rows + len(chunks)
