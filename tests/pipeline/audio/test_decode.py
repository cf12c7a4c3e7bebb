"""Audio ingest: sniffed by content, decoded and resampled in the sandbox, every bad file its reason."""

from __future__ import annotations

import audiofaults as F
import numpy as np
import pytest

from mmcurate.pipeline.audio.decode import DecodeParams, decode_audio
from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.readers.base import media_kind
from mmcurate.pipeline.readers.sniff import kind_of, sniff_mime
from mmcurate.pipeline.runner import run_stages
from mmcurate.pipeline.stage import Reject
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table

TONE = g.tone(1.5, 44100, freq=1000.0)


@pytest.mark.parametrize("fmt,mime", [("wav", "audio/wav"), ("flac", "audio/flac"), ("mp3", "audio/mpeg"),
                                      ("opus", "audio/ogg"), ("m4a", "audio/mp4")])
def test_each_format_is_sniffed_as_audio_and_decodes_to_16k_mono(fmt: str, mime: str) -> None:
    data = g.encode(TONE, 44100, fmt, channels=2)
    assert sniff_mime(data) == mime and kind_of(mime) == "audio" and media_kind(data)[0] == "audio"
    out = decode_audio(data)
    x = out.samples()
    assert out.probe.sample_rate == 16000 and out.probe.channels == 2
    assert abs(out.probe.duration_s - 1.5) < 0.08  # codec priming/padding (AAC, Opus) adds a few ms
    # The resampled tone is still a 1 kHz tone: the spectrum's peak is at 1000 Hz, nothing aliased.
    spectrum = np.abs(np.fft.rfft(x[1600:17600]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 1000) <= 2
    assert 0.45 < out.probe.peak < 0.6 or fmt == "m4a"  # AAC's low default bit rate rings at the start


def test_sniffer_tells_audio_from_lookalikes() -> None:
    assert sniff_mime(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"  # JPEG's 0xFF 0xD8 is no MPEG sync
    assert sniff_mime(b"\xff\xf1\x50\x80\x00\x1f\xfc") == "audio/aac"  # ADTS
    assert sniff_mime(b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora") == "video/ogg"
    assert sniff_mime(b"RIFF\x00\x00\x00\x00AVI LIST") == "video/x-msvideo"


def test_bad_files_each_get_their_reason() -> None:
    wav = g.encode(TONE, 44100, "wav")
    cases = {
        "empty": b"",
        "not_audio": b"<!doctype html><html>404</html>",
        "truncated": wav[:30],
        "unsupported_codec": g.encode(TONE, 44100, "alaw"),
        "too_short": g.encode(g.tone(0.05, 16000), 16000, "wav"),
    }
    for reason, data in cases.items():
        with pytest.raises(Reject) as info:
            decode_audio(data)
        assert info.value.reason == reason, (reason, info.value)
    with pytest.raises(Reject, match="header says 5000"):  # judged before decoding anything
        decode_audio(g.lying_flac(TONE, 44100, 5000.0))
    with pytest.raises(Reject, match="decoded past 1"):  # header says 0.5 s: the decode measures
        decode_audio(g.lying_flac(g.tone(3.0, 44100), 44100, 0.5), DecodeParams(max_duration_s=1.0))


def test_a_lying_header_is_measured_not_trusted() -> None:
    longer = decode_audio(g.lying_flac(TONE, 44100, 100.0)).probe
    assert longer.header_duration_s == 100.0 and abs(longer.duration_s - 1.5) < 1e-3 and longer.truncated
    shorter = decode_audio(g.lying_flac(TONE, 44100, 0.5)).probe
    assert shorter.header_duration_s == 0.5 and abs(shorter.duration_s - 1.5) < 1e-3
    cut = decode_audio(g.encode(g.tone(3.0, 16000), 16000, "mp3")[:4000]).probe  # an MP3 cut mid-way
    assert 0.3 < cut.duration_s < 2.5


def test_clipping_is_measured_on_the_source_samples() -> None:
    loud = np.clip(g.tone(1.0, 16000, amp=2.0), -1, 1)
    probe = decode_audio(g.encode(loud, 16000, "wav")).probe
    assert probe.peak > 0.999 and 0.4 < probe.clip_ratio < 0.8  # a sine at 2x full scale: ~2/3 flat tops


def _rows(payloads: list[bytes]) -> list[dict]:
    return [{"sample_id": f"s{i}", "source": "t", "locator": str(i), "unit_id": "u0", "unit_index": i,
             "unit_rows": len(payloads), "status": "ok", "caption": None,
             "media": [{"bytes": data, "kind": "audio", "mime": sniff_mime(data)}]}
            for i, data in enumerate(payloads)]


def test_stage_isolates_crash_and_hang_to_one_row_each() -> None:
    good = g.encode(TONE, 44100, "flac")
    stage = AudioDecode(decode_fn=F.faulty_decode, timeout_s=3.0)
    payloads = [good, F.CRASH + b"\x00" * 32, F.HANG + b"\x00" * 32, b"<html>x</html>", g.encode(TONE, 44100, "mp3")]
    out = run_stages([stage], to_table(_rows(payloads), sample_schema(list(stage.writes)))).to_pylist()
    assert [r["drop_reason"] for r in out] == [None, "audio_decode_v1:decoder_crash", "audio_decode_v1:decode_timeout",
                                              "audio_decode_v1:not_audio", None]
    assert out[0][AUDIO_PROBE]["codec"] == "flac" and len(out[0][AUDIO_PCM]) == 4 * 24000
    assert out[4][AUDIO_PROBE]["codec"].startswith("mp3")


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        AudioDecode(sample_rate=10)
