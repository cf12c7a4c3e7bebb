"""Test and demo audio whose content is known: tones, noise, silence, espeak-ng speech, broken files.

Signals are numpy arrays (float32, mono, -1..1); :func:`encode` writes them with PyAV in any of the
formats the ingest path must recognise (WAV, FLAC, MP3, Ogg Opus, M4A/AAC), so tests exercise the same
FFmpeg build that decodes them. Speech comes from Debian's ``espeak-ng`` (text known, so ASR and VAD
tests have ground truth); it is the one external program and is skipped cleanly where absent.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import av
import numpy as np

__all__ = ["FORMATS", "tone", "noise", "silence", "speech", "encode", "lying_wav", "lying_flac", "telephone"]

# format name -> (container format, codec, file extension)
FORMATS: dict[str, tuple[str, str, str]] = {
    "wav": ("wav", "pcm_s16le", "wav"),
    "flac": ("flac", "flac", "flac"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "opus": ("ogg", "libopus", "opus"),
    "m4a": ("ipod", "aac", "m4a"),
    "alaw": ("wav", "pcm_alaw", "wav"),  # a real codec outside the default allow-list
}


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, rate: int = 16000, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, amp, int(round(seconds * rate))), -1, 1).astype(np.float32)


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)), dtype=np.float32)


def speech(text: str, speed: int = 160) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of ``text``: (samples, rate). Raises FileNotFoundError without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not installed (apt-get install espeak-ng)")
    wav = subprocess.run([exe, "-s", str(speed), "--stdout", text], check=True, capture_output=True).stdout
    with av.open(io.BytesIO(wav)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    return (np.concatenate(frames).astype(np.float32) / 32768.0), rate


def telephone(x: np.ndarray, rate: int) -> np.ndarray:
    """``x`` band-limited to 8 kHz sampling (telephone) and brought back to ``rate``: real resamplers."""
    down = _resample(x, rate, 8000)
    return _resample(down, 8000, rate)[: len(x)]


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(x.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = src
    res = av.AudioResampler(format="flt", layout="mono", rate=dst)
    out = [f.to_ndarray().reshape(-1) for f in [*res.resample(frame), *res.resample(None)]]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def encode(x: np.ndarray, rate: int, fmt: str = "wav", channels: int = 1, bit_rate: int | None = None) -> bytes:
    """``x`` (mono float) encoded as ``fmt`` (a key of :data:`FORMATS`), duplicated to ``channels``."""
    container_fmt, codec, _ = FORMATS[fmt]
    buf = io.BytesIO()
    layout = "mono" if channels == 1 else "stereo"
    with av.open(buf, "w", format=container_fmt) as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        src = np.repeat(x.reshape(1, -1).astype(np.float32), channels, axis=0)
        frame = av.AudioFrame.from_ndarray(src, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = None
        res = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=stream.rate)
        fifo = av.AudioFifo()
        for f in [*res.resample(frame), *res.resample(None)]:
            fifo.write(f)
        size = stream.codec_context.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(min(size, fifo.samples))
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def lying_wav(x: np.ndarray, rate: int, claimed_s: float) -> bytes:
    """A 16-bit WAV whose RIFF/data sizes claim ``claimed_s`` seconds, whatever ``x`` holds."""
    data = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    claimed = int(claimed_s * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", claimed) + data


def lying_flac(x: np.ndarray, rate: int, claimed_s: float) -> bytes:
    """A FLAC whose STREAMINFO total-samples field claims ``claimed_s`` seconds (FFmpeg trusts it)."""
    data = bytearray(encode(x, rate, "flac"))
    total = int(claimed_s * rate)
    # STREAMINFO follows "fLaC" and a 4-byte block header; the 36-bit total starts at byte 21's low nibble.
    data[21] = (data[21] & 0xF0) | ((total >> 32) & 0x0F)
    data[22:26] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(data)
