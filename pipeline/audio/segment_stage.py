"""``AudioSegments`` (``audio_segments_v1``): each decoded recording -> its training windows, on its row.

Like ``VideoClips``, the stage keeps one row per input row and writes an ``audio_windows`` list (start,
end, speech seconds, why the window starts there, its trainer-exact token count, filled in by ``count_tokens``);
:func:`explode_windows` turns the list into one record per window (schema :data:`WINDOW_RECORD_SCHEMA`),
each with its own 16 kHz mono FLAC cut from the decoded signal; the unit writer stores them in
``windows/<unit>.parquet`` next to ``clips/``. Windows come from :func:`~.windows.plan_windows` over the
VAD spans ``AudioSpeechFilter`` wrote (fixed pieces where there are none). A recording with no window
left (all speech shorter than ``min_s``) is ``no_windows``.

A video's soundtrack (``AudioDecode(soundtracks=True)`` after ``VideoClips``) is cut on the *clip*
boundaries instead (``start_reason`` ``clip``, ``window_index`` = ``clip_index``), so window ``k`` is
the sound of clip ``k``. Clip times count from the first video frame and audio from the first audio
sample; the two starts differ by the container's stream start offset (usually under one frame), which
is not corrected here. Clip windows are not split at ``max_s``: the token count carries the scheme's cut.
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

__all__ = ["AudioSegments", "AUDIO_WINDOWS", "WINDOW_TYPE", "WINDOW_RECORD_SCHEMA", "explode_windows",
           "window_records", "window_samples"]

AUDIO_WINDOWS = "audio_windows"
SPANS = "audio_speech_v1_spans"
CLIPS = "clips"  # VideoClips' column (schemas/video.py); imported by name to keep video out of audio jobs
WINDOW_TYPE = pa.struct([
    pa.field("window_index", pa.int32(), metadata={"doc": "position of the window in the recording, 0-based"}),
    pa.field("start_s", pa.float64(), metadata={"doc": "start, seconds from the recording's start"}),
    pa.field("end_s", pa.float64(), metadata={"doc": "end, seconds"}),
    pa.field("speech_s", pa.float64(), metadata={"doc": "VAD speech inside the window, seconds"}),
    pa.field("start_reason", pa.string(), metadata={"doc": "'start', 'silence', 'max_length' or 'clip'"}),
    pa.field("tokens_audio", pa.int64(),
             metadata={"doc": "placeholder tokens of this window under count_tokens' audio_scheme (null: not counted)"}),
])
WINDOWS_FIELD = pa.field(AUDIO_WINDOWS, pa.list_(WINDOW_TYPE), metadata={"doc": "training windows"})
_PARENT = ("sample_id", "source", "locator", "url", "caption", "meta_json")
WINDOW_RECORD_SCHEMA = pa.schema(
    [
        pa.field("window_id", pa.string(), nullable=False, metadata={"doc": "'<sample_id>-<window_index:04d>'"}),
        *[pa.field(n, pa.string(), nullable=n in ("url", "caption", "meta_json"),
                   metadata={"doc": f"the parent recording's {n}"}) for n in _PARENT],
        *[WINDOW_TYPE.field(i) for i in range(WINDOW_TYPE.num_fields)],
        pa.field("sample_rate", pa.int32(), nullable=False, metadata={"doc": "rate of flac, Hz"}),
        pa.field("n_samples", pa.int64(), nullable=False, metadata={"doc": "samples in the window at sample_rate"}),
        pa.field("flac", pa.binary(), nullable=False, metadata={"doc": "the window, mono FLAC at sample_rate"}),
        pa.field("ops", pa.list_(pa.string()), metadata={"doc": "how flac was made from the original bytes"}),
    ],
    metadata={"mmcurate.schema": "audio_window/v1"},
)


def window_samples(start_s: float, end_s: float, rate: int) -> tuple[int, int]:
    """The sample range a window cuts (the one count_tokens counts, so the two always agree)."""
    return int(round(start_s * rate)), int(round(end_s * rate))


@dataclass(kw_only=True)
class AudioSegments(RowStage):
    """Cut recordings into windows at VAD silences (config: window bounds)."""

    name: ClassVar[str] = "audio_segments_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, SPANS)
    writes: ClassVar[tuple[pa.Field, ...]] = (WINDOWS_FIELD,)
    row_columns: ClassVar[tuple[str, ...] | None] = (AUDIO_PROBE, SPANS, CLIPS)

    max_s: float = param(30.0, doc="longest window, seconds (Whisper-family encoders take 30 s)", gt=0)
    min_s: float = param(1.0, doc="shorter windows are dropped", ge=0)
    pad_s: float = param(0.2, doc="silence kept before and after speech, seconds", ge=0)
    clip_bounds: bool = param(True, doc="a video's soundtrack is cut on its clips' boundaries (needs video_clips)")

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
        clips = row.get(CLIPS) if self.clip_bounds else None
        if clips:
            return {AUDIO_WINDOWS: self._clip_windows(clips, spans, probe)}
        windows = plan_windows(spans or None, probe["duration_s"], self.max_s, self.min_s, self.pad_s)
        if not windows:
            raise Reject("no_windows", f"{probe['duration_s']:.2f} s, speech spans {spans}: none >= {self.min_s} s")
        return {AUDIO_WINDOWS: [self._window(i, w.start_s, w.end_s, w.speech_s, w.start_reason, probe)
                                for i, w in enumerate(windows)]}

    def _window(self, index: int, start: float, end: float, speech: float, reason: str,
                probe: dict[str, Any]) -> dict[str, Any]:
        # tokens_audio is count_tokens' to fill (the tokenizers layer, one scheme for rows and windows).
        return {"window_index": index, "start_s": start, "end_s": end, "speech_s": speech, "start_reason": reason,
                "tokens_audio": None}

    def _clip_windows(self, clips: list[dict[str, Any]], spans: list[tuple[float, float]],
                      probe: dict[str, Any]) -> list[dict[str, Any]]:
        """One window per video clip, clamped to the decoded audio (a clip past its end gets an empty one)."""
        out = []
        for clip in clips:
            start = min(float(clip["start_s"]), probe["duration_s"])
            end = min(float(clip["end_s"]), probe["duration_s"])
            speech = sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)
            out.append(self._window(int(clip["clip_index"]), start, end, speech, "clip", probe))
        return out


def explode_windows(table: pa.Table, *, only_ok: bool = True) -> list[dict[str, Any]]:
    """One record per window (:data:`WINDOW_RECORD_SCHEMA`): parent ids, window fields, the window as FLAC.

    Rejected rows (``only_ok``), rows without windows or without decoded audio give no records; an empty
    window (a clip past the soundtrack's end) gives none either."""
    if only_ok and "status" in table.column_names:
        table = table.filter(ok_mask(table))
    if AUDIO_WINDOWS not in table.column_names or AUDIO_PCM not in table.column_names:
        return []
    out = []
    for row in table.select([c for c in (*_PARENT, AUDIO_PROBE, AUDIO_PCM, AUDIO_WINDOWS)
                             if c in table.column_names]).to_pylist():
        if not row.get(AUDIO_WINDOWS) or row.get(AUDIO_PCM) is None:
            continue
        x, rate = np.frombuffer(row[AUDIO_PCM], dtype="<f4"), row[AUDIO_PROBE]["sample_rate"]
        for w in row[AUDIO_WINDOWS]:
            a, b = window_samples(w["start_s"], w["end_s"], rate)
            piece = x[a:b]
            if piece.size == 0:
                continue
            out.append({"window_id": f"{row['sample_id']}-{w['window_index']:04d}",
                        **{n: row.get(n) for n in _PARENT}, **w, "sample_rate": rate,
                        "n_samples": int(piece.size), "flac": encode(piece, rate, "flac"),
                        "ops": [f"audio_decode:{rate}hz_mono", "window", "flac"]})
    return out


def window_records(table: pa.Table) -> pa.Table:
    """:func:`explode_windows` as an Arrow table (what ``windows/<unit>.parquet`` holds)."""
    return pa.Table.from_pylist(explode_windows(table), schema=WINDOW_RECORD_SCHEMA)
