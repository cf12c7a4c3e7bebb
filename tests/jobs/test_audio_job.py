"""The packaged audio job from the command line: known audio in, each file its reason with its numbers,
a re-encode found across work units, audio tokens trainer-exact per window, Ray == in process bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import folder_digest

from mmcurate.jobs.cli import main
from mmcurate.jobs.demo_audio import ONE_OF_PAIR, make_audio_inputs
from mmcurate.jobs.load import default_job_path
from mmcurate.tokenizers.audio import audio_tokens

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

JOB = str(default_job_path("audio.yaml"))
# Small units, so the re-encode (speech_copies/) and its original (speech/) sit in different units;
# 6 s windows, so the talk is cut at its pauses into several.
SETS = ["--set", "inputs.0.unit_rows=4", "--set", "audio_segments.max_s=6.0", "--no-progress"]
# The numbers each reject must carry: the column its filter wrote.
NUMBERS = {"audio_speech_v1:no_speech": "audio_speech_v1_ratio", "audio_loudness_v1:too_quiet": "audio_loudness_v1_lufs",
           "audio_silence_v1:mostly_silent": "audio_silence_v1_ratio",
           "audio_duration_v1:too_short": "audio_duration_v1_seconds"}


@pytest.fixture(scope="module")
def audio_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    root = tmp_path_factory.mktemp("audio_in")
    return root, make_audio_inputs(root, long_repeats=1, scipy_files=False)


@pytest.fixture(scope="module")
def local_out(audio_input: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audio_out") / "local"
    assert main(["run", JOB, "--input", str(audio_input[0]), "--output", str(out), "--local", *SETS]) == 0
    return out


def test_every_file_gets_its_reason_with_its_numbers(audio_input: tuple[Path, dict], local_out: Path) -> None:
    _, expected = audio_input
    rejects = pq.read_table(local_out / "rejects").to_pylist()
    accepted = pq.read_table(local_out / "parquet").to_pylist()
    got = {r["locator"]: r["reason"] for r in rejects} | {r["locator"]: None for r in accepted}
    pair = sorted(name for name, reason in expected.items() if reason == ONE_OF_PAIR)
    assert len(pair) == 2 and sorted(got[name] or "" for name in pair) == ["", "dedup_v1:audio_fp_v1"]
    assert {k: v for k, v in got.items() if k not in pair} == {k: v for k, v in expected.items() if k not in pair}
    for row in rejects:
        column = NUMBERS.get(row["reason"])
        if column:
            assert row[column] is not None, (row["locator"], column)
    quiet = next(r for r in rejects if r["reason"] == "audio_loudness_v1:too_quiet")
    assert quiet["audio_loudness_v1_lufs"] < -45.0
    tone = next(r for r in rejects if r["locator"] == "sounds/tone_440hz.wav")
    assert tone["audio_speech_v1_ratio"] < 0.2
    # Decoded PCM is a working column: neither shards nor rejects carry it.
    assert "audio_pcm" not in pq.read_schema(next((local_out / "parquet").glob("*.parquet"))).names
    assert "audio_pcm" not in pq.read_schema(next((local_out / "rejects").glob("*.parquet"))).names


def test_a_re_encode_is_removed_as_a_duplicate_across_units(local_out: Path) -> None:
    rejects = pq.read_table(local_out / "rejects").to_pylist()
    accepted = pq.read_table(local_out / "parquet").to_pylist()
    rows = {r["locator"]: r for r in rejects + accepted}
    pair = [rows["speech/sentence_0.flac"], rows["speech_copies/sentence_0_64kbps.mp3"]]
    # The job keeps the best-sounding copy (keep: best): the FLAC original, not its 64 kbps MP3 re-encode.
    removed = [r for r in pair if r.get("reason")]
    kept = [r for r in pair if not r.get("reason")]
    assert [r["locator"] for r in kept] == ["speech/sentence_0.flac"] and len(removed) == 1
    assert removed[0]["reason"].startswith("dedup_v1:audio_")
    assert removed[0]["duplicate_of"] == kept[0]["sample_id"]
    assert removed[0]["unit_id"] != kept[0]["unit_id"]
    # A different recording is never its duplicate.
    assert all(not r.get("duplicate_of") for r in accepted)


def test_audio_tokens_are_the_processors_count_per_window(local_out: Path) -> None:
    accepted = pq.read_table(local_out / "parquet").to_pylist()
    talk = next(r for r in accepted if r["locator"] == "speech/talk.flac")
    assert len(talk["audio_windows"]) >= 2 and all(w["end_s"] - w["start_s"] <= 6.0 + 1e-6
                                                  for w in talk["audio_windows"])
    for row in accepted:
        assert row["modality"] == "audio"
        per_window = sum(audio_tokens(int(round(w["end_s"] * 16000)) - int(round(w["start_s"] * 16000)),
                                      "qwen2_5_omni").tokens for w in row["audio_windows"])
        assert row["tokens_audio"] == per_window > 0
        assert row["tokens_total"] == row["tokens_audio"] + row["tokens_text"]
    # Shards keep the original bytes under their own extension.
    names = {n for tar in (local_out / "webdataset").glob("*.tar") for n in _tar_names(tar)}
    assert {n.rsplit(".", 1)[-1] for n in names} >= {"flac", "mp3", "json"}
    assert (local_out / "mixture" / "packs_summary.json").is_file()
    # Each window is its own record too: parent id, times, its FLAC and its own token count.
    windows = pq.read_table(local_out / "windows").to_pylist()
    assert sum(len(r["audio_windows"]) for r in accepted) == len(windows)
    by_id = {r["sample_id"]: r for r in accepted}
    for w in windows:
        parent = by_id[w["sample_id"]]
        assert w["window_id"] == f"{w['sample_id']}-{w['window_index']:04d}" and w["locator"] == parent["locator"]
        assert w["tokens_audio"] == audio_tokens(w["n_samples"], "qwen2_5_omni").tokens
        assert w["flac"][:4] == b"fLaC"
    assert sum(w["tokens_audio"] for w in windows) == sum(r["tokens_audio"] for r in accepted)


def test_token_records_carry_the_audio_windows_and_packs_hold_them(local_out: Path) -> None:
    accepted = {r["sample_id"]: r for r in pq.read_table(local_out / "parquet").to_pylist()}
    records = [r for f in sorted((local_out / "tokens").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    layout = json.loads((local_out / "tokens" / "manifest.json").read_text())["layout"]
    pad, bos, eos = (layout["special_ids"][k] for k in ("audio_pad", "audio_start", "audio_end"))
    assert sorted(r["sample_id"] for r in records) == sorted(accepted)
    for rec in records:
        row = accepted[rec["sample_id"]]
        audio = [s for s in rec["spans"] if s["modality"] == "audio"]
        # One span per window, in time order, as long as the window's own trainer-exact count.
        assert [(s["timestamp"], s["end"], s["length"]) for s in audio] == [
            (w["start_s"], w["end_s"], w["tokens_audio"]) for w in row["audio_windows"]]
        assert rec["n_audio"] == row["tokens_audio"] and all(s["media_index"] == 0 for s in audio)
        ids = rec["input_ids"]
        for s in audio:
            assert ids[s["start"]:s["start"] + s["length"]] == [pad] * s["length"]
            assert (ids[s["start"] - 1], ids[s["start"] + s["length"]]) == (bos, eos)
    # The packs are built from these records: each sample's length is its record's length.
    lengths = {r["sample_id"]: r["n_tokens"] for r in records}
    packs = pq.read_table(next((local_out / "mixture").glob("packs-*.parquet"))).to_pylist()
    placed = {sid: n for p in packs for sid, n in zip(p["sample_ids"], p["lengths"])}
    assert placed == {sid: lengths[sid] for sid in placed} and set(placed) == set(lengths)


def _tar_names(path: Path) -> list[str]:
    import tarfile

    with tarfile.open(path) as tar:
        return tar.getnames()


def test_ray_gives_the_same_bytes(audio_input: tuple[Path, dict], local_out: Path, tmp_path: Path,
                                  ray_session: str) -> None:
    out = tmp_path / "ray"
    assert main(["run", JOB, "--input", str(audio_input[0]), "--output", str(out), "--address", ray_session,
                 *SETS]) == 0
    assert folder_digest(out) == folder_digest(local_out)
