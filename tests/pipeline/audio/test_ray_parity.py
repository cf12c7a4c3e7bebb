"""One sample == one batch == Ray for the audio stages (decode in the sandbox, then filters)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mmcurate.filters.audio_level import AudioLoudnessFilter, AudioSilenceFilter
from mmcurate.filters.audio_speech import AudioSpeechFilter
from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas import sample as S
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
COLUMNS = [S.SAMPLE_ID, S.DROP_REASON, "audio_silence_v1_ratio", "audio_loudness_v1_lufs", "audio_speech_v1_ratio"]


def _stages() -> list:
    return [AudioDecode(), AudioSilenceFilter(), AudioLoudnessFilter(), AudioSpeechFilter(min_ratio=0.3)]


def _table() -> pa.Table:
    s, r = g.speech("Numbers from one place must equal numbers from another.")
    payloads = [g.encode(s, r, "flac"), g.encode(g.noise(2.0, 22050), 22050, "mp3"), g.encode(g.silence(2.0), 16000, "wav"),
                b"<html>404</html>", g.encode(s, r, "opus")]
    rows = [{"sample_id": f"s{i}", "source": "t", "locator": str(i), "unit_id": "u", "unit_index": i,
             "unit_rows": len(payloads), "status": "ok", "caption": None,
             "media": [{"bytes": b, "kind": "audio", "mime": None}]} for i, b in enumerate(payloads)]
    return to_table(rows, sample_schema([f for st in _stages() for f in st.writes]))


def test_one_sample_equals_batch_equals_ray(ray_session: str) -> None:
    import ray

    from mmcurate.pipeline.ray_adapter import apply_stage

    table = _table()
    batch = run_stages(_stages(), table).select(COLUMNS).to_pylist()
    single = [run_stages(_stages(), table.slice(i, 1)).select(COLUMNS).to_pylist()[0] for i in range(table.num_rows)]
    ds = ray.data.from_arrow(table).repartition(2)
    for stage in _stages():
        ds = apply_stage(ds, stage)
    remote = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    remote = remote.take(pc.sort_indices(remote.column(S.SAMPLE_ID))).select(COLUMNS).to_pylist()
    assert single == batch
    assert [r[S.DROP_REASON] for r in remote] == [r[S.DROP_REASON] for r in batch]
    for a, b in zip(remote, batch):
        for key in COLUMNS[2:]:
            assert a[key] == pytest.approx(b[key], abs=1e-6)
    assert [r[S.DROP_REASON] for r in batch] == [None, "audio_speech_v1:no_speech", "audio_silence_v1:mostly_silent",
                                                 "audio_decode_v1:not_audio", None]
