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


def test_unit_writer_writes_each_window_as_its_own_record(tmp_path) -> None:
    import pyarrow.parquet as pq

    from mmcurate.jobs.build import SIDE_RECORDS
    from mmcurate.pipeline.audio.decode_stage import AudioDecode
    from mmcurate.pipeline.runner import run_stages
    from mmcurate.pipeline.sinks.unit_writer import UnitWriter
    from mmcurate.schemas import sample as S
    from mmcurate.schemas.table import to_table
    from mmcurate.tokenizers.audio import audio_tokens
    from mmcurate.tokenizers.token_count import CountTokens

    x = g.tone(7.0, 44100) * 0.3  # no VAD spans: cut into equal pieces of at most 3 s
    rows = [{S.SAMPLE_ID: "rec", S.SOURCE: "gen", S.LOCATOR: "tone.wav", S.UNIT_ID: "u00-000000", S.UNIT_INDEX: 0,
             S.UNIT_ROWS: 1, S.STATUS: S.STATUS_OK, S.CAPTION: "a tone",
             S.MEDIA: [{"bytes": g.encode(x, 44100, "wav"), "kind": "audio"}]}]
    stages = [AudioDecode(), AudioSegments(max_s=3.0, min_s=0.5), CountTokens()]  # count_tokens counts windows
    table = run_stages(stages, to_table(rows, S.sample_schema([f for s in stages for f in s.writes
                                                               if f.name not in S.SAMPLE_SCHEMA.names])))
    record = UnitWriter(out_dir=str(tmp_path), formats=("parquet",), max_rows=10, max_bytes=1 << 30,
                        config_hash="t", side_records=SIDE_RECORDS).write_unit("u00-000000", table)
    assert {"path": "windows/u00-000000.parquet", "kind": "windows", "rows": 3}.items() <= next(
        f for f in record["files"] if f["kind"] == "windows").items()
    windows = pq.read_table(tmp_path / "windows" / "u00-000000.parquet").to_pylist()
    assert [w["window_id"] for w in windows] == ["rec-0000", "rec-0001", "rec-0002"]
    assert all(w["sample_id"] == "rec" and w["caption"] == "a tone" for w in windows)
    assert [t for w in windows for t in (w["start_s"], w["end_s"])] == pytest.approx([0, 7 / 3, 7 / 3, 14 / 3, 14 / 3, 7])
    for w in windows:
        with av.open(io.BytesIO(w["flac"])) as c:
            stream = c.streams.audio[0]
            assert stream.codec_context.name == "flac" and stream.rate == 16000
            decoded = sum(f.samples for f in c.decode(stream))
        assert decoded == w["n_samples"] == round(w["end_s"] * 16000) - round(w["start_s"] * 16000)
        assert w["tokens_audio"] == audio_tokens(w["n_samples"], "qwen2_5_omni").tokens > 0
    # The sample shard keeps one row per recording; the windows are the only per-window records.
    assert pq.read_table(tmp_path / "parquet").num_rows == 1


def test_a_soundtrack_is_cut_on_its_videos_clip_boundaries() -> None:
    clips = [{"clip_index": 0, "start_s": 0.0, "end_s": 2.4}, {"clip_index": 1, "start_s": 2.4, "end_s": 6.0},
             {"clip_index": 2, "start_s": 6.0, "end_s": 9.5}]
    row = {"audio_probe": {"duration_s": 9.0, "sample_rate": 16000}, "clips": clips,
           "audio_speech_v1_spans": [{"start_s": 1.0, "end_s": 3.0}]}
    windows = AudioSegments(max_s=30.0).process_row(row)[AUDIO_WINDOWS]
    assert [(w["window_index"], w["start_s"], w["end_s"], w["start_reason"]) for w in windows] == [
        (0, 0.0, 2.4, "clip"), (1, 2.4, 6.0, "clip"), (2, 6.0, 9.0, "clip")]  # the last clamped to the audio
    assert [w["speech_s"] for w in windows] == pytest.approx([1.4, 0.6, 0.0])
    # Without clips (or with clip_bounds off) the VAD plan applies.
    assert AudioSegments(clip_bounds=False).process_row(row)[AUDIO_WINDOWS][0]["start_reason"] == "start"


def test_a_real_videos_soundtrack_windows_line_up_with_its_clips(tmp_path) -> None:
    import pyarrow.parquet as pq

    from mmcurate.jobs.build import SIDE_RECORDS
    from mmcurate.pipeline.audio.decode_stage import AudioDecode
    from mmcurate.pipeline.generate.video import has_encoder, make_video
    from mmcurate.pipeline.runner import run_stages
    from mmcurate.pipeline.sinks.unit_writer import UnitWriter
    from mmcurate.pipeline.video.clip_stage import VideoClips
    from mmcurate.schemas import sample as S
    from mmcurate.schemas.table import to_table

    if not has_encoder("libx264"):
        pytest.skip("no libx264 encoder in this PyAV")
    video = make_video(n_frames=60, fps=10, cuts=(25,), audio=True)  # 6 s, a scene cut at 2.5 s, a 440 Hz tone
    rows = [{S.SAMPLE_ID: "vid", S.SOURCE: "gen", S.LOCATOR: "v.mp4", S.UNIT_ID: "u00-000000", S.UNIT_INDEX: 0,
             S.UNIT_ROWS: 1, S.STATUS: S.STATUS_OK, S.MEDIA: [{"bytes": video, "kind": "video"}]}]
    stages = [VideoClips(), AudioDecode(soundtracks=True), AudioSegments()]
    table = run_stages(stages, to_table(rows, S.sample_schema([f for s in stages for f in s.writes])))
    (row,) = table.to_pylist()
    assert row["status"] == "ok" and len(row["clips"]) >= 2
    assert [(w["window_index"], w["start_s"], w["end_s"]) for w in row["audio_windows"]] == [
        (c["clip_index"], c["start_s"], min(c["end_s"], row["audio_probe"]["duration_s"])) for c in row["clips"]]
    UnitWriter(out_dir=str(tmp_path), formats=("parquet",), max_rows=10, max_bytes=1 << 30,
               config_hash="t", side_records=SIDE_RECORDS).write_unit("u00-000000", table)
    clips = pq.read_table(tmp_path / "clips").to_pylist()
    windows = pq.read_table(tmp_path / "windows").to_pylist()
    assert [w["window_id"] for w in windows] == [c["clip_id"] for c in clips]  # window k is the sound of clip k
