"""The decoded signal of each row of a batch, for audio filters (None where the row has no audio)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE

__all__ = ["pcm_rows", "probe_field"]


def pcm_rows(batch: pa.Table) -> list[tuple[np.ndarray, int] | None]:
    """``(samples, rate)`` per row, zero-copy views of ``audio_pcm``; None without decoded audio."""
    if AUDIO_PCM not in batch.column_names:
        return [None] * batch.num_rows
    rates = pc.struct_field(batch.column(AUDIO_PROBE), "sample_rate").to_pylist()
    out: list[tuple[np.ndarray, int] | None] = []
    for blob, rate in zip(batch.column(AUDIO_PCM).to_pylist(), rates):
        out.append(None if blob is None or rate is None else (np.frombuffer(blob, dtype="<f4"), int(rate)))
    return out


def probe_field(batch: pa.Table, name: str) -> pa.ChunkedArray:
    if AUDIO_PROBE not in batch.column_names:
        return pa.chunked_array([pa.nulls(batch.num_rows)])
    return pc.struct_field(batch.column(AUDIO_PROBE), name)
