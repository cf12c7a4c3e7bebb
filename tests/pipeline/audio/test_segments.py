"""Segmentation: windows cut at VAD silences, bounded by max/min length, each its own record."""

from __future__ import annotations

import io

import av
import pyarrow as pa
import pytest

from mmcurate.pipeline.audio.segment_stage import AUDIO_WINDOWS, AudioSegments, explode_windows
from mmcurate.pipeline.audio.windows import plan_windows
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.stage import Reject


def test_windows_cut_in_silences_and_split_long_speech() -> None:
    spans = [(1.0, 5.0), (6.0, 20.0), (22.0, 40.0), (41.0, 100.0)]
    w = plan_windows(spans, 120.0, max_s=30.0, min_s=1.0)
    assert all(x.duration_s <= 30.0 + 1e-9 for x in w)
    assert [x.start_reason for x in w] == ["start", "silence", "silence", "max_length"]
    assert w[0].end_s == pytest.approx(21.0)  # the middle of the 20.2 .. 21.8 silence
    for a, b in zip(w, w[1:]):  # a silence cut never falls inside speech
        assert b.start_reason == "max_length" or not any(s < a.end_s < e for s, e in spans)
    assert plan_windows([(0.5, 0.9)], 3.0, min_s=1.0) == []
    fixed = plan_windows(None, 65.0, max_s=30.0)
    assert len(fixed) == 3 and fixed[-1].end_s == 65.0


def test_stage_writes_windows_and_explode_gives_one_flac_record_each() -> None:
    x = g.tone(5.0, 16000)
    row = {"sample_id": "a", "source": "t", "locator": "0", "status": "ok",
           "audio_probe": {"duration_s": 5.0, "sample_rate": 16000},
           "audio_speech_v1_spans": [{"start_s": 0.5, "end_s": 2.0}, {"start_s": 3.0, "end_s": 4.5}]}
    out = AudioSegments(max_s=2.5, min_s=0.5).process_row(row)
    assert [(w["start_s"], w["end_s"]) for w in out[AUDIO_WINDOWS]] == [(0.3, 2.5), (2.8, 4.7)]
    table = pa.Table.from_pylist([{**row, **out, "audio_pcm": x.astype("<f4").tobytes()}])
    records = explode_windows(table)
    assert [r["window_id"] for r in records] == ["a-0000", "a-0001"]
    with av.open(io.BytesIO(records[1]["flac"])) as c:
        assert c.streams.audio[0].codec_context.name == "flac" and c.streams.audio[0].rate == 16000
    assert records[1]["n_samples"] == int(round(1.9 * 16000))
    with pytest.raises(Reject, match="none >= 4.5"):  # one 4.4 s window at most
        AudioSegments(max_s=5.0, min_s=4.5).process_row(row)
