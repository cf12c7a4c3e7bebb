"""ASR from a local Whisper-family checkpoint: loads offline, transcribes exactly as transformers' own
processor + generate do (30 s pieces for long audio), runs in a Ray actor pool, and a bad folder is a
one-line error before Ray starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mmcurate.pipeline.audio.asr_stage import AudioTranscribe
from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.generate.whisper import make_whisper_checkpoint
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table

pytest.importorskip("transformers")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
TOKENS = 12  # per 30 s piece: enough to tell transcripts apart, cheap on one core


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_whisper_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny"))


def _stages(checkpoint: str) -> list:
    return [AudioDecode(), AudioTranscribe(checkpoint=checkpoint, max_new_tokens=TOKENS)]


def _table(checkpoint: str) -> pa.Table:
    s, r = g.speech("The local model hears this sentence.")
    payloads = [g.encode(s, r, "flac"), g.encode(g.noise(2.0, 22050), 22050, "mp3"),
                g.encode(g.noise(65.0, 16000, seed=3), 16000, "flac")]  # 65 s: three 30 s pieces
    rows = [{"sample_id": f"s{i}", "source": "t", "locator": str(i), "unit_id": "u", "unit_index": i,
             "unit_rows": len(payloads), "status": "ok", "caption": None,
             "media": [{"bytes": b, "kind": "audio", "mime": None}]} for i, b in enumerate(payloads)]
    return to_table(rows, sample_schema([f for st in _stages(checkpoint) for f in st.writes]))


def _reference(checkpoint: str, pcm: np.ndarray) -> str:
    """transformers alone: its processor and greedy generate on each 30 s piece, texts joined."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    processor = WhisperProcessor.from_pretrained(checkpoint, local_files_only=True)
    model = WhisperForConditionalGeneration.from_pretrained(checkpoint, local_files_only=True)
    texts = []
    for start in range(0, len(pcm), 30 * 16000):
        features = processor(pcm[start:start + 30 * 16000], sampling_rate=16000, return_tensors="pt").input_features
        ids = model.generate(features, max_new_tokens=TOKENS, do_sample=False, num_beams=1)
        texts.append(processor.batch_decode(ids, skip_special_tokens=True)[0].strip())
    return " ".join(t for t in texts if t)


def test_a_local_checkpoint_transcribes_as_transformers_does(checkpoint: str) -> None:
    table = _table(checkpoint)
    out = run_stages(_stages(checkpoint), table).to_pylist()
    decoded = run_stages([AudioDecode()], table).to_pylist()
    texts = [r["audio_asr_v1_text"] for r in out]
    assert all(r["status"] == "ok" and r["audio_asr_v1_cached"] is False for r in out)
    assert texts == [_reference(checkpoint, np.frombuffer(r["audio_pcm"], "<f4")) for r in decoded]
    assert len(set(texts)) == 3 and all(texts)  # different audio, different text
    assert len(texts[2].split()) >= 3 and len(texts[2]) > len(texts[1])  # 65 s: three pieces joined


def test_a_bad_checkpoint_is_one_line_before_ray(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mmcurate.jobs.cli import main

    job = tmp_path / "job.yaml"
    job.write_text(f"inputs: [{{kind: folder, path: {tmp_path}}}]\n"
                   f"steps: [{{use: audio_decode}}, {{use: audio_transcribe, checkpoint: {tmp_path / 'missing'}}}]\n"
                   f"output: {{path: {tmp_path / 'out'}}}\n")
    assert main(["run", str(job)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a local Whisper checkpoint folder" in err
    assert not (tmp_path / "out").exists()


def test_ray_runs_the_checkpoint_in_actors_with_the_same_text(checkpoint: str, ray_session: str) -> None:
    import ray

    from mmcurate.pipeline.ray_adapter import apply_stage

    table = _table(checkpoint)
    local = run_stages(_stages(checkpoint), table).column("audio_asr_v1_text").to_pylist()
    assert _stages(checkpoint)[1].stateful and not AudioTranscribe().stateful
    ds = ray.data.from_arrow(table).repartition(2)
    for stage in _stages(checkpoint):
        ds = apply_stage(ds, stage)
    remote = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    remote = remote.take(pc.sort_indices(remote.column("sample_id")))
    assert remote.column("audio_asr_v1_text").to_pylist() == local
