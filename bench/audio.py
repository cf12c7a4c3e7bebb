"""Audio decode + resample benchmark (not a test): mmcurate ``decode_audio`` vs the ``ffmpeg`` CLI.

Issue 17's numbers, per core (CPU time: user+sys of this process, or of the waited-for ffmpeg child):

* **decode + resample to 16 kHz mono**: ``decode_audio(path)`` in-process (PyAV decode, swresample
  through ``av.AudioResampler``, peak/clipping measured on the source) vs ``ffmpeg -threads 1 -i X -ar
  16000 -ac 1 -f f32le -`` on the same files; reported as ffmpeg CPU / mmcurate CPU (goal >= 0.8x) and
  the sample counts of both outputs (they agree to within the codec's priming/padding).
* **whole audio path**: decode + resample, Silero VAD (speech spans), loudness (pyloudnorm), silence,
  WADA-SNR, bandwidth, window planning and fingerprint, in seconds of audio per CPU-second (goal >= 50x).
  The sandboxed decode (a process per file, forked from the zygote) is reported as wall time.

Inputs are generated (``mmcurate.pipeline.generate.audio``): espeak-ng speech with pauses, white noise
and a tone, 44.1 kHz stereo, encoded as MP3, FLAC, Opus, M4A/AAC and WAV, ``--seconds`` each.

    .venv/bin/python bench/audio.py --seconds 30
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from mmcurate.filters.audio_speech import AudioSpeechFilter  # noqa: F401 - imports torch before timing
from mmcurate.pipeline.audio import measure as M
from mmcurate.pipeline.audio.decode import decode_audio
from mmcurate.pipeline.audio.vad import SileroVad
from mmcurate.pipeline.audio.windows import plan_windows
from mmcurate.pipeline.dedup.audio_fp import audio_fingerprint
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.video.sandbox import run_sandboxed


def _signal(kind: str, seconds: float, rate: int) -> np.ndarray:
    if kind == "speech":
        s, r = g.speech("Curating audio for omni models needs speech, pauses and noise. " * 3)
        s = g._resample(s, r, rate)
        reps = int(np.ceil(seconds * rate / (s.size + rate)))
        return np.concatenate([np.concatenate([s, g.silence(1.0, rate)])] * reps)[: int(seconds * rate)]
    return g.noise(seconds, rate, amp=0.1) if kind == "noise" else g.tone(seconds, rate, amp=0.3)


def make_files(folder: Path, seconds: float) -> list[Path]:
    files = []
    for kind, fmt in (("speech", "mp3"), ("speech", "flac"), ("speech", "opus"), ("noise", "m4a"),
                      ("tone", "wav"), ("speech", "m4a")):
        path = folder / f"{kind}.{g.FORMATS[fmt][2]}"
        path = path.with_name(f"{kind}_{fmt}{path.suffix}")
        path.write_bytes(g.encode(_signal(kind, seconds, 44100), 44100, fmt, channels=2))
        files.append(path)
    return files


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ffmpeg_decode(path: Path) -> tuple[float, int]:
    before = _child_cpu()
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", str(path), "-ar", "16000",
                          "-ac", "1", "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return _child_cpu() - before, len(out) // 4


def whole_path(x: np.ndarray, vad: SileroVad) -> None:
    spans = vad.spans(x)
    M.loudness_lufs(x, 16000), M.silence_ratio(x, 16000), M.wada_snr(x), M.bandwidth_hz(x, 16000)
    plan_windows(spans or None, x.size / 16000)
    audio_fingerprint(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    vad = SileroVad()
    vad.load()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.seconds)
        print(f"{'file':<18}{'ffmpeg CPU-s':>13}{'ours CPU-s':>11}{'ratio':>7}{'samples ffmpeg/ours':>22}"
              f"{'path x RT':>10}{'sandboxed wall-s':>17}")
        tot = {"ff": 0.0, "ours": 0.0, "path": 0.0, "audio": 0.0}
        for path in files:
            ff = min(ffmpeg_decode(path)[0] for _ in range(args.repeats))
            n_ff = ffmpeg_decode(path)[1]
            ours, decoded = 1e9, None
            for _ in range(args.repeats):
                t0 = _cpu()
                decoded = decode_audio(str(path))
                ours = min(ours, _cpu() - t0)
            assert decoded is not None
            x = decoded.samples()
            t0 = _cpu()
            whole_path(x, vad)
            path_cpu = ours + _cpu() - t0
            w0 = time.perf_counter()  # the zygote reaps the decode process, so only wall time is ours to read
            run_sandboxed(decode_audio, str(path))
            sandboxed = time.perf_counter() - w0
            secs = x.size / 16000
            tot["ff"] += ff
            tot["ours"] += ours
            tot["path"] += path_cpu
            tot["audio"] += secs
            print(f"{path.name:<18}{ff:>13.3f}{ours:>11.3f}{ff / ours:>7.2f}{f'{n_ff}/{x.size}':>22}"
                  f"{secs / path_cpu:>10.1f}{sandboxed:>17.3f}")
        print(f"\nall files: decode+resample ffmpeg/ours = {tot['ff'] / tot['ours']:.2f}x per core; "
              f"whole path = {tot['audio'] / tot['path']:.1f}x real time per core "
              f"({tot['audio']:.0f} s of audio in {tot['path']:.2f} CPU-s)")


if __name__ == "__main__":
    t = time.time()
    main()
    print(f"wall {time.time() - t:.1f} s")
