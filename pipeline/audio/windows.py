"""Training windows from a recording: cut at the VAD's silences, never longer than ``max_s``.

Whisper-family encoders take 30 s at most (Qwen2-Audio cuts the rest, see
:mod:`mmcurate.tokenizers.audio`), so long recordings become windows of at most ``max_s`` seconds.
Greedy over the speech spans, in order: a window opens ``pad_s`` before a span and takes the next span
while the window, closed ``pad_s`` after that span, still fits; otherwise it closes in the middle of the
silence between the two spans (``silence``). A span longer than ``max_s`` on its own is split hard
(``max_length``): there is no silence to cut at. Windows shorter than ``min_s`` are dropped. Without
speech spans (music, sound effects, or no VAD run) the audio is cut into equal ``max_s`` pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Window", "plan_windows"]


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    speech_s: float
    start_reason: str  # 'start', 'silence' or 'max_length'

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _fixed(start: float, end: float, max_s: float, reason: str) -> list[tuple[float, float, str]]:
    n = max(1, math.ceil((end - start) / max_s - 1e-9))
    step = (end - start) / n
    return [(start + i * step, start + (i + 1) * step, reason if i == 0 else "max_length") for i in range(n)]


def plan_windows(spans: list[tuple[float, float]] | None, duration_s: float, max_s: float = 30.0,
                 min_s: float = 1.0, pad_s: float = 0.2) -> list[Window]:
    """Windows over ``[0, duration_s]`` (see the module doc); ``spans`` are sorted speech spans, seconds."""
    if not spans:
        return [Window(s, e, 0.0, r) for s, e, r in _fixed(0.0, duration_s, max_s, "start") if e - s >= min_s]
    raw: list[tuple[float, float, str]] = []
    w_start, w_end, reason = max(0.0, spans[0][0] - pad_s), None, "start"
    for s, e in spans:
        end = min(duration_s, e + pad_s)
        if w_end is not None and end - w_start > max_s:  # close before this span, mid-silence
            cut = (w_end + max(w_end, s - pad_s)) / 2 if s - pad_s > w_end else w_end
            raw.append((w_start, cut, reason))
            w_start, w_end, reason = max(cut, s - pad_s), None, "silence"
        if end - w_start > max_s:  # one span longer than a window: no silence to cut at
            pieces = _fixed(w_start, end, max_s, reason)
            raw.extend(pieces[:-1])
            w_start, reason = pieces[-1][0], "max_length"
        w_end = end
    raw.append((w_start, w_end if w_end is not None else duration_s, reason))
    out = []
    for start, end, why in raw:
        speech = sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)
        if end - start >= min_s:
            out.append(Window(start, end, speech, why))
    return out
