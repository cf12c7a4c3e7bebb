"""Near-duplicate audio: re-encodes, resamples, gain changes and trims are found; other recordings not."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pytest

from mmcurate.pipeline.audio.decode import decode_audio
from mmcurate.pipeline.dedup.audio_fp import AUDIO_FP, audio_duplicates, audio_fingerprint, bit_error_rate
from mmcurate.pipeline.generate import audio as g

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
TEXT = "The rain in Spain stays mainly in the plain, said the professor to his student."


def _fp(data: bytes) -> list[int]:
    return audio_fingerprint(decode_audio(data).samples()).tolist()


@pytest.fixture(scope="module")
def signatures() -> dict[str, list[int]]:
    s, r = g.speech(TEXT)
    other = subprocess.run(["espeak-ng", "-s", "140", "-v", "en+f3", "--stdout", TEXT], capture_output=True,
                           check=True).stdout
    return {
        "a_original": _fp(g.encode(s, r, "wav")),
        "b_mp3_64k": _fp(g.encode(s, r, "mp3", bit_rate=64000)),
        "c_resampled": _fp(g.encode(g._resample(s, r, 44100), 44100, "flac")),
        "d_quieter": _fp(g.encode(s * 0.5, r, "wav")),
        "e_trimmed": _fp(g.encode(s[int(1.013 * r):], r, "opus")),
        "f_same_words_other_voice": _fp(other),
        "g_other_text": _fp(g.encode(g.speech("A different sentence about the weather in London.")[0], r, "wav")),
        "h_noise": _fp(g.encode(g.noise(4.0), 16000, "wav")),
        "i_silence": _fp(g.encode(g.silence(4.0), 16000, "wav")),
    }


def test_copies_are_duplicates_and_other_recordings_are_not(signatures: dict[str, list[int]]) -> None:
    table = pa.table({"sample_id": list(signatures), AUDIO_FP: pa.array(list(signatures.values()),
                                                                         pa.list_(pa.uint32()))})
    out = audio_duplicates(table).to_pylist()
    removed = {r["sample_id"]: r["duplicate_of"] for r in out}
    assert removed == {k: "a_original" for k in ("b_mp3_64k", "c_resampled", "d_quieter", "e_trimmed")}
    assert {r["dedup_method"] for r in out} == {"audio_fp_v1"}


def test_bit_error_rate_separates_copies_from_other_recordings(signatures: dict[str, list[int]]) -> None:
    a = np.asarray(signatures["a_original"], np.uint32)
    other = np.asarray(signatures["f_same_words_other_voice"], np.uint32)
    best_other = min(bit_error_rate(a, other, o)[0] for o in range(-50, 51))
    assert bit_error_rate(a, np.asarray(signatures["d_quieter"], np.uint32), 0)[0] < 0.05
    assert best_other > 0.35


def test_a_planted_reencode_is_found_across_blocks_on_ray(signatures: dict[str, list[int]], ray_session: str) -> None:
    import ray

    from mmcurate.pipeline.dedup.audio_fp import ray_audio_duplicates

    table = pa.table({"sample_id": list(signatures), AUDIO_FP: pa.array(list(signatures.values()),
                                                                         pa.list_(pa.uint32()))})
    even, odd = table.take(np.arange(0, table.num_rows, 2)), table.take(np.arange(1, table.num_rows, 2))
    ds = ray.data.from_arrow([even, odd]).repartition(2)  # every duplicate pair split across blocks
    ray_out = {(r["sample_id"], r["duplicate_of"]) for r in ray_audio_duplicates(ds, num_partitions=2).to_pylist()}
    local = {(r["sample_id"], r["duplicate_of"]) for r in audio_duplicates(table).to_pylist()}
    assert ray_out == local and ("b_mp3_64k", "a_original") in ray_out


def test_the_stage_writes_the_fingerprint_of_decoded_rows_only() -> None:
    from mmcurate.pipeline.dedup.audio_fp import AudioFingerprint

    x = decode_audio(g.encode(g.noise(1.0), 16000, "wav")).samples()
    table = pa.table({"audio_probe": [{"sample_rate": 16000}, None], "audio_pcm": [x.tobytes(), None]})
    out = AudioFingerprint().process_batch(table).column(AUDIO_FP).to_pylist()
    assert out[0] == audio_fingerprint(x).tolist() and len(out[0]) == (16000 - 2048) // 256 and out[1] is None
