"""Audio placeholder-token counts, exactly as transformers' processors compute them.

Every scheme runs a ``WhisperFeatureExtractor`` (16 kHz, hop 160 = 10 ms mel frames) and counts tokens
from the *attention mask* it returns (``feature_attention_mask.sum(-1)``), so the count depends on how
that extractor pads and truncates, which differs per processor (transformers 5.x):

* **Qwen2-Audio** (``Qwen2AudioProcessor``, Whisper-style): the extractor's defaults, ``padding=
  "max_length"``, ``truncation=True``, ``max_length = n_samples`` (``chunk_length`` 30 s in the hub's
  ``preprocessor_config.json``). Audio past 30 s is **cut**; the mask counts ``ceil(n / 160)`` frames
  (the padded length is a multiple of the hop); tokens ``((f - 1)//2 + 1 - 2)//2 + 1`` (~25 per second,
  750 for 30 s).
* **Qwen2.5-Omni** (``Qwen2_5OmniProcessor``): the same padding and formula, but its hub config sets
  ``chunk_length`` 300, so the cut is at **300 s** (30,000 frames, 7,500 tokens).
* **Qwen3-Omni** (``Qwen3OmniMoeProcessor``): ``padding=True`` (longest), ``truncation=False``: nothing
  is cut. One audio is not padded, so the length is not a multiple of the hop and the extractor drops
  the last mask frame: ``floor(n / 160)`` frames. Tokens: 13 per full 100-frame window (``n_window``
  50) plus the conv stack's output on the remainder.

So a trainer on Qwen2-Audio sees only the first 30 s of a 45 s clip: :func:`audio_tokens` reports the
seconds kept, and segmentation (``AudioSegments``, 30 s windows by default) is how long audio is meant to
reach such a trainer whole. Counts are for one audio per processor call (batching Qwen3-Omni audio of
different lengths pads the shorter ones, which can change their counts by the trimmed frame).

The Qwen2.5-Omni **audio-in-video** layout (``use_audio_in_video``): video tokens of temporal grid ``t``
sit at position ``t * second_per_grid * 25`` and audio token ``i`` at position ``i`` (25 per second,
40 ms each); both are cut into ``seconds_per_chunk * 25`` = 50-position chunks and interleaved chunk by
chunk, video first, between ``<|audio_bos|>`` and ``<|audio_eos|>`` (:func:`omni_av_interleave`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCHEMES", "AudioScheme", "AudioTokens", "audio_tokens", "mel_frames", "omni_av_interleave",
           "omni_av_positions"]

HOP = 160
RATE = 16000


@dataclass(frozen=True)
class AudioScheme:
    """How one processor pads, cuts and counts (see the module doc)."""

    name: str
    max_samples: int | None  # the cut (None: never cut)
    padded: bool  # padded to max_samples (mask frames = ceil) or not (floor)
    n_window: int | None = None  # Qwen3-Omni's windowed count; None: the Qwen2-Audio conv formula


SCHEMES: dict[str, AudioScheme] = {
    "qwen2_audio": AudioScheme("qwen2_audio", 30 * RATE, padded=True),
    "qwen2_5_omni": AudioScheme("qwen2_5_omni", 300 * RATE, padded=True),
    "qwen3_omni": AudioScheme("qwen3_omni", None, padded=False, n_window=50),
}


@dataclass(frozen=True)
class AudioTokens:
    tokens: int
    mel_frames: int
    kept_s: float  # seconds of the input the model sees (less than the input where the processor cuts)


def mel_frames(n_samples: int, scheme: AudioScheme) -> int:
    """Frames the processor's attention mask counts for ``n_samples`` of 16 kHz audio."""
    n = n_samples if scheme.max_samples is None else min(n_samples, scheme.max_samples)
    return -(-n // HOP) if scheme.padded else n // HOP


def _conv_tokens(frames: int) -> int:
    return ((frames - 1) // 2 + 1 - 2) // 2 + 1


def _windowed_tokens(frames: int, n_window: int) -> int:
    chunk = n_window * 2
    rest = (frames % chunk - 1) // 2 + 1
    return ((rest - 1) // 2 + 1 - 1) // 2 + 1 + (frames // chunk) * 13


def audio_tokens(n_samples: int, scheme: str | AudioScheme = "qwen2_5_omni") -> AudioTokens:
    """Placeholder tokens for one audio of ``n_samples`` at 16 kHz, and how much of it is kept."""
    s = SCHEMES[scheme] if isinstance(scheme, str) else scheme
    frames = mel_frames(n_samples, s)
    tokens = _windowed_tokens(frames, s.n_window) if s.n_window else _conv_tokens(frames)
    kept = n_samples if s.max_samples is None else min(n_samples, s.max_samples)
    return AudioTokens(int(tokens), frames, kept / RATE)


def _chunks(positions: list[float], per_chunk: int) -> list[tuple[int, int]]:
    """transformers' ``get_chunked_index``: (start, end) runs of ``positions`` per ``per_chunk`` range."""
    out, start, chunk = [], 0, 1
    for i, p in enumerate(positions):
        if p >= chunk * per_chunk:
            out.append((start, i))
            start, chunk = i, chunk + 1
    out.append((start, len(positions)))
    return out


def omni_av_interleave(grid_thw: tuple[int, int, int], second_per_grid: float, n_audio_tokens: int,
                       merge_size: int = 2, seconds_per_chunk: float = 2.0,
                       position_id_per_seconds: float = 25) -> list[tuple[str, int]]:
    """Qwen2.5-Omni's audio-in-video token runs: ``[("video", n), ("audio", m), ...]`` in sequence order
    (between ``<|audio_bos|>`` and ``<|audio_eos|>``), chunk by chunk, video first."""
    t, h, w = grid_thw
    per_frame = (h // merge_size) * (w // merge_size)
    video_pos = [k * second_per_grid * position_id_per_seconds for k in range(t) for _ in range(per_frame)]
    per_chunk = int(position_id_per_seconds * seconds_per_chunk)
    v, a = _chunks(video_pos, per_chunk), _chunks(list(range(n_audio_tokens)), per_chunk)
    runs: list[tuple[str, int]] = []
    for j in range(max(len(v), len(a))):
        if j < len(v):
            runs.append(("video", v[j][1] - v[j][0]))
        if j < len(a):
            runs.append(("audio", a[j][1] - a[j][0]))
    return runs


def omni_av_positions(grid_thw: tuple[int, int, int], second_per_grid: float, audio_mel_frames: int,
                      text_before: int = 0, text_after: int = 0, merge_size: int = 2,
                      seconds_per_chunk: float = 2.0, position_id_per_seconds: float = 25) -> np.ndarray:
    """TMRoPE position ids ``(3, L)`` of ``text_before`` text tokens, one video with its audio
    (``<|vision_bos|><|audio_bos|>`` + interleaved runs + ``<|audio_eos|><|vision_eos|>``) and
    ``text_after`` text tokens, as Qwen2.5-Omni's ``get_rope_index(use_audio_in_video=True)`` gives them.

    Both opening tokens share one position, video and audio then start one later (video token ``k`` of
    temporal grid ``t`` at ``int(t * second_per_grid * 25)``, height/width at their merged grid indices;
    audio token ``i`` at ``i`` on all three axes), the closing pair shares the next free position, and text
    continues from there (see the comment in the body on "next free"). ``audio_mel_frames`` is the
    feature length (the model applies the conv formula).
    """
    t, h, w = grid_thw
    gh, gw = h // merge_size, w // merge_size
    n_audio = _conv_tokens(audio_mel_frames)
    parts: list[np.ndarray] = [np.tile(np.arange(text_before), (3, 1))]
    start = text_before
    parts.append(np.full((3, 2), start))
    start += 1
    t_pos = (np.arange(t) * np.float32(second_per_grid) * position_id_per_seconds).astype(np.int64)
    video = np.stack([np.repeat(t_pos, gh * gw), np.tile(np.repeat(np.arange(gh), gw), t),
                      np.tile(np.arange(gw), t * gh)]) + start
    audio = np.tile(np.arange(n_audio), (3, 1)) + start
    per_chunk = int(position_id_per_seconds * seconds_per_chunk)
    v = _chunks(list(video[0] - start), per_chunk)
    a = _chunks(list(audio[0] - start), per_chunk)
    for j in range(max(len(v), len(a))):
        if j < len(v):
            parts.append(video[:, v[j][0] : v[j][1]])
        if j < len(a):
            parts.append(audio[:, a[j][0] : a[j][1]])
    # transformers takes the next free position from the *last run written*, not the largest so far: when
    # the soundtrack ends before the video, the closing pair sits after the audio, below the video's tail.
    end = int(next(p for p in reversed(parts) if p.size).max()) + 1
    parts.append(np.full((3, 2), end))
    parts.append(np.tile(np.arange(text_after), (3, 1)) + end + 1)
    return np.concatenate(parts, axis=1)
