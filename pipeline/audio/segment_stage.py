"""``AudioSegments`` (``audio_segments_v1``): each decoded recording -> its training windows, on its row.

Like ``VideoClips``, the stage keeps one row per input row and writes an ``audio_windows`` list (start,
end, speech seconds, why the window starts there); :func:`explode_windows` turns the list into one
record per window, each with its own 16 kHz mono FLAC cut from the decoded signal. Windows come from
:func:`~.windows.plan_windows` over the VAD spans ``AudioSpeechFilter`` wrote (fixed pieces where
there are none). A recording with no window left (all speech shorter than ``min_s``) is ``no_windows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.audio.windows import plan_windows
from mmcurate.pipeline.generate.audio import encode
from mmcurate.pipeline.marking import ok_mask
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE

__all__ = ["AudioSegments", "AUDIO_WINDOWS", "WINDOW_TYPE", "explode_windows"]

AUDIO_WINDOWS = "audio_windows"
SPANS = "audio_speech_v1_spans"
WINDOW_TYPE = pa.struct([
    pa.field("window_index", pa.int32(), metadata={"doc": "position of the window in the recording, 0-based"}),
    pa.field("start_s", pa.float64(), metadata={"doc": "start, seconds from the recording's start"}),
    pa.field("end_s", pa.float64(), metadata={"doc": "end, seconds"}),
    pa.field("speech_s", pa.float64(), metadata={"doc": "VAD speech inside the window, seconds"}),
    pa.field("start_reason", pa.string(), metadata={"doc": "'start', 'silence' or 'max_length'"}),
])
WINDOWS_FIELD = pa.field(AUDIO_WINDOWS, pa.list_(WINDOW_TYPE), metadata={"doc": "training windows"})


@dataclass(kw_only=True)
class AudioSegments(RowStage):
    """Cut recordings into windows at VAD silences (config: window bounds)."""

    name: ClassVar[str] = "audio_segments_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, SPANS)
    writes: ClassVar[tuple[pa.Field, ...]] = (WINDOWS_FIELD,)
    row_columns: ClassVar[tuple[str, ...] | None] = (AUDIO_PROBE, SPANS)

    max_s: float = param(30.0, doc="longest window, seconds (Whisper-family encoders take 30 s)", gt=0)
    min_s: float = param(1.0, doc="shorter windows are dropped", ge=0)
    pad_s: float = param(0.2, doc="silence kept before and after speech, seconds", ge=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_s >= self.max_s:
            raise ValueError(f"{self.name}: need min_s < max_s, got {self.min_s}, {self.max_s}")

    def applies_to(self, batch: pa.Table) -> pa.Array:
        return pc.is_valid(batch.column(AUDIO_PROBE)) if AUDIO_PROBE in batch.column_names else pa.array(
            np.zeros(batch.num_rows, dtype=bool))

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        probe = row.get(AUDIO_PROBE)
        if not probe:
            return {}
        spans = [(s["start_s"], s["end_s"]) for s in row.get(SPANS) or []]
        windows = plan_windows(spans or None, probe["duration_s"], self.max_s, self.min_s, self.pad_s)
        if not windows:
            raise Reject("no_windows", f"{probe['duration_s']:.2f} s, speech spans {spans}: none >= {self.min_s} s")
        return {AUDIO_WINDOWS: [{"window_index": i, "start_s": w.start_s, "end_s": w.end_s, "speech_s": w.speech_s,
                                 "start_reason": w.start_reason} for i, w in enumerate(windows)]}


def explode_windows(table: pa.Table, *, only_ok: bool = True) -> list[dict[str, Any]]:
    """One record per window: parent ids, window fields, ``window_id`` and the window as 16 kHz FLAC."""
    if only_ok and "status" in table.column_names:
        table = table.filter(ok_mask(table))
    if AUDIO_WINDOWS not in table.column_names:
        return []
    out = []
    for row in table.select([c for c in ("sample_id", "source", "locator", "caption", AUDIO_PROBE, AUDIO_PCM,
                                         AUDIO_WINDOWS) if c in table.column_names]).to_pylist():
        if not row.get(AUDIO_WINDOWS) or row.get(AUDIO_PCM) is None:
            continue
        x, rate = np.frombuffer(row[AUDIO_PCM], dtype="<f4"), row[AUDIO_PROBE]["sample_rate"]
        for w in row[AUDIO_WINDOWS]:
            piece = x[int(round(w["start_s"] * rate)) : int(round(w["end_s"] * rate))]
            out.append({"window_id": f"{row['sample_id']}-{w['window_index']:04d}", "sample_id": row["sample_id"],
                        "source": row.get("source"), "locator": row.get("locator"), **w,
                        "n_samples": int(piece.size), "flac": encode(piece, rate, "flac"),
                        "ops": [f"audio_decode:{rate}hz_mono", "window", "flac"]})
    return out
