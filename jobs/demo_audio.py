"""The audio demo: known audio in, the packaged audio job (``jobs/configs/audio.yaml``) run over it.

Inputs whose content is known, so every reject can be checked by eye: espeak-ng speech (its text
written beside it as the caption), a 64 kbps MP3 re-encode of one recording placed in another folder
(another work unit, found by ``audio_dedup``), tones, noise, silence, too quiet / clipped / too short
speech, a long talk cut into windows, the odd WAV files scipy ships in its wheel (float, big-endian,
24-bit multichannel, mu-law, cut-off and broken ones: real files of formats in the wild; no installed
package ships real speech recordings) and broken files (a web page saved as .wav, 0 bytes, a truncated
FLAC, a PNG). ``run_audio_demo`` is what ``mmcurate demo`` calls for its audio part.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mmcurate.jobs.job_file import Job, resolve
from mmcurate.jobs.load import default_job_path
from mmcurate.jobs.run import run_job
from mmcurate.jobs.yaml_safe import load_yaml
from mmcurate.pipeline.generate import audio as g

__all__ = ["SENTENCES", "TALK", "ONE_OF_PAIR", "make_audio_inputs", "audio_job_data", "audio_job", "run_audio_demo"]

SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "A rainbow is a division of white light into many beautiful colors.",
    "When the sunlight strikes raindrops in the air, they act as a prism.",
)
# The long talk says other words: a sentence inside it would rightly be a (trimmed) duplicate of it.
TALK = (
    "Throughout the centuries people have explained the rainbow in various ways.",
    "Some have accepted it as a miracle without physical explanation.",
    "The Greeks used to imagine that it was a sign from the gods to foretell war or heavy rain.",
)
# The keep rule is "first" (lowest sample_id): which of a re-encode and its original survives depends on
# their ids, so both are marked with this and a test checks the pair as a pair.
ONE_OF_PAIR = "one of a duplicate pair"
# scipy's WAV test files: real files in formats met in the wild (a few ms each, so mostly too_short).
_SCIPY_WAVS = ("test-44100Hz-2ch-32bit-float-le.wav", "test-44100Hz-2ch-32bit-float-be.wav",
               "test-48000Hz-2ch-64bit-float-le-wavex.wav", "test-8000Hz-le-1ch-1byte-ulaw.wav",
               "test-44100Hz-le-1ch-4bytes-early-eof.wav", "test-44100Hz-le-1ch-4bytes-incomplete-chunk.wav")


def _write(path: Path, data: bytes, caption: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if caption:
        path.with_suffix(".txt").write_text(caption)


def _long_talk(parts: list[np.ndarray], rate: int, gap_s: float) -> np.ndarray:
    """Recordings joined by ``gap_s`` of silence: the pauses the VAD windows cut at."""
    gap = np.zeros(int(gap_s * rate), dtype=np.float32)
    return np.concatenate([x for p in parts for x in (p, gap)][:-1])


def make_audio_inputs(root: Path, long_repeats: int = 3, scipy_files: bool = True) -> dict[str, str | None]:
    """Audio cases under ``root`` (``speech/``, ``speech_copies/``, ``sounds/``, ``broken/``, ``scipy/``); returns
    each generated file's expected reason (``None``: accepted; :data:`ONE_OF_PAIR`: the re-encode and its
    original, one kept and one ``dedup_v1:audio_fp_v1``, by sample_id order, which depends on the paths);
    scipy's files are left to the run."""
    spoken = [g.speech(text) for text in SENTENCES]
    expected: dict[str, str | None] = {}

    def case(rel: str, data: bytes, reason: str | None, caption: str | None = None) -> None:
        _write(root / rel, data, caption)
        expected[rel] = reason

    for i, ((x, rate), fmt) in enumerate(zip(spoken, ("flac", "mp3", "opus", "wav"))):
        case(f"speech/sentence_{i}.{g.FORMATS[fmt][2]}", g.encode(x, rate, fmt), ONE_OF_PAIR if i == 0 else None,
             SENTENCES[i])
    x0, r0 = spoken[0]
    case("speech_copies/sentence_0_64kbps.mp3", g.encode(x0, r0, "mp3", bit_rate=64000), ONE_OF_PAIR)
    talk = _long_talk([g.speech(text)[0] for text in TALK] * long_repeats, r0, gap_s=0.8)
    case("speech/talk.flac", g.encode(talk, r0, "flac"), None, " ".join(TALK * long_repeats))
    case("speech/too_quiet.wav", g.encode(x0 * 0.01, r0, "wav"), "audio_loudness_v1:too_quiet")
    case("speech/too_short.wav", g.encode(x0[: int(0.3 * r0)], r0, "wav"), "audio_duration_v1:too_short")
    case("sounds/tone_440hz.wav", g.encode(g.tone(3.0), 16000, "wav"), "audio_speech_v1:no_speech")
    case("sounds/chord.flac", g.encode(g.tone(3.0, freq=261.6, amp=0.3) + g.tone(3.0, freq=329.6, amp=0.3), 16000,
                                       "flac"), "audio_speech_v1:no_speech")
    case("sounds/noise.wav", g.encode(g.noise(3.0, amp=0.1), 16000, "wav"), "audio_speech_v1:no_speech")
    case("sounds/silence.wav", g.encode(g.silence(3.0), 16000, "wav"), "audio_silence_v1:mostly_silent")
    flac = g.encode(x0, r0, "flac")
    case("broken/page.wav", b"<html><body>404 Not Found</body></html>", "audio_decode_v1:not_audio")
    case("broken/empty.mp3", b"", "audio_decode_v1:empty")
    case("broken/cut_short.flac", flac[:30], "audio_decode_v1:truncated")
    case("broken/picture.png", _png(), "audio_decode_v1:not_audio")
    if scipy_files:
        _copy_scipy_wavs(root / "scipy")
    return expected


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def _copy_scipy_wavs(dest: Path) -> list[str]:
    try:
        import scipy.io
    except ImportError:
        return []
    data = Path(scipy.io.__file__).parent / "tests" / "data"
    copied = []
    for name in _SCIPY_WAVS:
        if (data / name).is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(data / name, dest / name)
            copied.append(name)
    return copied


def audio_job_data(inputs: Path, out: Path, unit_rows: int = 8) -> dict[str, Any]:
    """The packaged audio job as data, reading ``inputs`` (small units, so duplicates cross units)."""
    data = load_yaml(default_job_path("audio.yaml"))
    data["inputs"] = [{**data["inputs"][0], "path": str(inputs), "unit_rows": unit_rows}]
    data["output"]["path"] = str(out)
    return data


def audio_job(inputs: Path, out: Path, unit_rows: int = 8) -> Job:
    return resolve(audio_job_data(inputs, out, unit_rows))


def run_audio_demo(root: Path, address: str | None, progress: bool) -> dict:
    """Generate the audio demo input under ``root/input/audio`` (once) and run the audio job into
    ``root/output-audio``; returns the funnel."""
    root = Path(root)
    inputs = root / "input" / "audio"
    if not inputs.exists():
        make_audio_inputs(inputs)
    funnel = run_job(audio_job(inputs, root / "output-audio"), address=address, progress=progress, overwrite=True)
    print(f"\naudio demo input:  {inputs} (speech/, speech_copies/, sounds/, broken/, scipy/)"
          f"\naudio demo output: {root / 'output-audio'} (webdataset/, parquet/, arrow/, rejects/, mixture/)")
    return funnel
