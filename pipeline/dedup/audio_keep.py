"""The quality key ``audio_dedup``'s ``keep: best`` ranks a duplicate cluster by: the best-sounding copy stays.

Of two copies of one recording, the one nearer the master is kept: a lossless codec (PCM, FLAC, ALAC,
...) before any lossy one, then the higher bit rate (a 64 kbps MP3 re-encode loses to a 192 kbps one),
then the higher source sample rate (a 44.1 kHz copy before its 16 kHz resample), then the longer
caption. Bit rate comes before sample rate because, for lossy codecs, it is what decides the damage: a
48 kHz 64 kbps MP3 sounds worse than a 44.1 kHz 320 kbps one. Rows without a decoded probe rank last.

The four keys are packed into one float64 (the policy's priority, see :mod:`.policy`), each in its own
bit range so the order is lexicographic and exact: 1 bit lossless, 15 bits kbps (to 32 Mbps), 19 bits
source rate (to 524 kHz), 18 bits caption characters: 53 bits, float64's exact integer range.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas import sample as S
from mmcurate.schemas.audio import AUDIO_PROBE

__all__ = ["LOSSLESS_CODECS", "audio_quality"]

# FFmpeg decoder names of lossless audio codecs.
LOSSLESS_CODECS = ("flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd", "shorten", "tak")
_KBPS_BITS, _RATE_BITS, _CHAR_BITS = 15, 19, 18


def _field(probe: pa.Array, name: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.struct_field(probe, name), 0).to_numpy(zero_copy_only=False), np.float64)


def audio_quality(table: pa.Table) -> np.ndarray:
    """Per-row float64 key (higher is better) from ``audio_probe`` (codec, bit_rate, source_rate) and caption."""
    n = table.num_rows
    if AUDIO_PROBE not in table.column_names:
        return np.zeros(n)
    probe = table.column(AUDIO_PROBE).combine_chunks()
    if "bit_rate" not in {probe.type.field(i).name for i in range(probe.type.num_fields)}:
        probe = pa.StructArray.from_arrays([pc.struct_field(probe, "codec"), pc.struct_field(probe, "source_rate"),
                                            pa.nulls(n, pa.int64())], ["codec", "source_rate", "bit_rate"])
    codec = pc.fill_null(pc.struct_field(probe, "codec"), "")
    lossless = pc.or_(pc.starts_with(codec, "pcm_"), pc.is_in(codec, pa.array(LOSSLESS_CODECS)))
    lossless = np.asarray(pc.and_(pc.is_valid(probe), lossless).to_numpy(zero_copy_only=False), np.float64)
    kbps = np.minimum(np.round(_field(probe, "bit_rate") / 1000.0), 2**_KBPS_BITS - 1)
    rate = np.minimum(_field(probe, "source_rate"), 2**_RATE_BITS - 1)
    chars = np.zeros(n)
    if S.CAPTION in table.column_names:
        chars = np.asarray(pc.fill_null(pc.utf8_length(table.column(S.CAPTION)), 0).to_numpy(), np.float64)
    chars = np.minimum(chars, 2**_CHAR_BITS - 1)
    return ((lossless * 2**_KBPS_BITS + kbps) * 2**_RATE_BITS + rate) * 2**_CHAR_BITS + chars
