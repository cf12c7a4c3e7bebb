"""A document's context windows as the sequences the packer places.

``doc_tokens`` cuts a long interleaved document at node boundaries into windows of at most its
``context`` tokens (``doc_tokens_v1_windows``, ``[start, end)`` into its ids); a trainer sees each window
as one sequence. So before packing, each document row becomes one row per window, with the window's
length and its index in ``piece``; the balancer's repeat count and loss weight stay the document's. Rows
without windows (pairs, video, audio) pass unchanged with a null ``piece``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.out_files import parquet_schema, read_parquet
from mmcurate.schemas import sample as S

__all__ = ["PIECE", "DOC_WINDOWS", "document_windows", "split_into_windows"]

PIECE = "piece"
DOC_WINDOWS = "doc_tokens_v1_windows"  # InterleavedTokens' column (tokenizers/interleaved_stage.py)


def document_windows(files: list[str]) -> dict[str, list[int]] | None:
    """Window lengths per document of the accepted shards (their locations); None when none has windows."""
    if not files or DOC_WINDOWS not in parquet_schema(files[0]).names:
        return None
    out: dict[str, list[int]] = {}
    for path in files:
        table = read_parquet(path, [S.SAMPLE_ID, DOC_WINDOWS])
        for sample_id, wins in zip(table.column(S.SAMPLE_ID).to_pylist(), table.column(DOC_WINDOWS).to_pylist()):
            if wins:
                out[sample_id] = [w["end"] - w["start"] for w in wins]
    return out


def split_into_windows(rows: pa.Table, windows: dict[str, list[int]], length_column: str) -> pa.Table:
    """``rows`` with each windowed sample repeated once per window: ``length_column`` its length, ``piece``
    its index; other rows once, ``piece`` null."""
    ids = rows.column(S.SAMPLE_ID).to_pylist()
    counts = np.array([len(windows.get(i, ())) or 1 for i in ids], dtype=np.int64)
    expanded = rows.take(pa.array(np.repeat(np.arange(len(ids)), counts)))
    lengths = expanded.column(length_column).to_pylist()
    pieces: list[int | None] = []
    at = 0
    for sample_id, n in zip(ids, counts.tolist()):
        wins = windows.get(sample_id)
        if wins:
            lengths[at:at + n] = wins
            pieces.extend(range(n))
        else:
            pieces.append(None)
        at += n
    index = expanded.column_names.index(length_column)
    expanded = expanded.set_column(index, expanded.schema.field(index), pa.array(lengths, expanded.schema.field(index).type))
    return expanded.append_column(PIECE, pa.array(pieces, pa.int32()))
