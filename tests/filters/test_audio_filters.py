"""Audio filters on generated audio whose content is known: each scores, then decides, with its numbers."""

from __future__ import annotations

import shutil

import numpy as np
import pyloudnorm
import pytest

from mmcurate.filters.audio_level import AudioClippingFilter, AudioDurationFilter, AudioLoudnessFilter, AudioSilenceFilter
from mmcurate.filters.audio_speech import AudioBandwidthFilter, AudioSnrFilter, AudioSpeechFilter
from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
TEXT = "The quick brown fox jumps over the lazy dog. Then it rests for a while."


@pytest.fixture(scope="module")
def out() -> dict[str, dict]:
    speech, rate = g.speech(TEXT)
    cases = {
        "speech": g.encode(speech, rate, "flac"),
        "noisy_speech": g.encode(speech + g.noise(len(speech) / rate, rate, amp=0.1)[: len(speech)], rate, "flac"),
        "phone": g.encode(g.telephone(speech, rate), rate, "wav"),
        "noise": g.encode(g.noise(3.0, 44100, amp=0.2), 44100, "mp3"),
        "tone": g.encode(g.tone(3.0, 44100, amp=0.3), 44100, "opus"),
        "silence": g.encode(g.silence(3.0), 16000, "wav"),
        "clipped": g.encode(np.clip(g.tone(2.0, 16000, amp=3.0), -1, 1), 16000, "wav"),
        "short": g.encode(g.tone(0.3, 16000), 16000, "wav"),
        "quiet": g.encode(g.noise(2.0, 16000, amp=0.004), 16000, "flac"),  # -48 dBFS: quiet, not silent
    }
    stages = [AudioDecode(), AudioDurationFilter(min_s=0.5), AudioClippingFilter(), AudioSilenceFilter(),
              AudioLoudnessFilter(min_lufs=-40.0), AudioSpeechFilter(), AudioSnrFilter(), AudioBandwidthFilter(min_hz=6000)]
    rows = [{"sample_id": k, "source": "t", "locator": k, "unit_id": "u", "unit_index": i, "unit_rows": len(cases),
             "status": "ok", "caption": None, "media": [{"bytes": b, "kind": "audio", "mime": None}]}
            for i, (k, b) in enumerate(cases.items())]
    table = run_stages(stages, to_table(rows, sample_schema([f for s in stages for f in s.writes])))
    return {r["sample_id"]: r for r in table.to_pylist()}


def test_each_bad_file_gets_its_reason_and_keeps_its_numbers(out: dict[str, dict]) -> None:
    reasons = {k: r["drop_reason"] for k, r in out.items()}
    assert reasons == {"speech": None, "noisy_speech": None, "phone": "audio_bandwidth_v1:narrowband",
                       "noise": None, "tone": "audio_bandwidth_v1:narrowband",
                       "silence": "audio_silence_v1:mostly_silent", "clipped": "audio_clipping_v1:clipped",
                       "short": "audio_duration_v1:too_short", "quiet": "audio_loudness_v1:too_quiet"}
    assert 4000 < out["phone"]["audio_bandwidth_v1_hz"] < 5000 and out["speech"]["audio_bandwidth_v1_hz"] > 7000
    assert out["clipped"]["audio_clipping_v1_ratio"] > 0.5 and out["clipped"]["audio_clipping_v1_peak_dbfs"] > -0.01
    assert out["silence"]["audio_silence_v1_ratio"] == 1.0 and out["silence"]["audio_loudness_v1_lufs"] is None
    assert out["short"]["audio_duration_v1_seconds"] == pytest.approx(0.3, abs=1e-3)
    assert -50 < out["quiet"]["audio_loudness_v1_lufs"] < -40


def test_vad_speech_ratio_is_high_on_speech_and_low_on_noise_and_tones(out: dict[str, dict]) -> None:
    ratio = {k: out[k]["audio_speech_v1_ratio"] for k in ("speech", "noisy_speech", "noise", "tone")}
    assert ratio["speech"] > 0.7 and ratio["noisy_speech"] > 0.6, ratio
    assert ratio["noise"] < 0.1 and ratio["tone"] < 0.1, ratio
    spans = out["speech"]["audio_speech_v1_spans"]
    assert len(spans) >= 1 and all(s["start_s"] < s["end_s"] for s in spans)


def test_loudness_equals_pyloudnorm_on_the_same_samples(out: dict[str, dict]) -> None:
    x = np.frombuffer(out["speech"]["audio_pcm"], dtype="<f4").astype(np.float64)
    assert out["speech"]["audio_loudness_v1_lufs"] == pytest.approx(pyloudnorm.Meter(16000).integrated_loudness(x))


def test_snr_orders_clean_over_noisy_speech(out: dict[str, dict]) -> None:
    clean, noisy = out["speech"]["audio_snr_v1_db"], out["noisy_speech"]["audio_snr_v1_db"]
    assert clean > noisy + 10 and noisy < 20 and out["noise"]["audio_snr_v1_db"] < 0
    assert AudioSnrFilter(min_db=5.0).decide({"audio_snr_v1_db": out["noise"]["audio_snr_v1_db"]}) == "noisy"
