"""A local Whisper-family checkpoint (transformers format) that transcribes in process, never downloaded.

The folder holds what ``save_pretrained`` writes for a ``WhisperForConditionalGeneration`` and its
``WhisperProcessor`` (``config.json``, the weights, the feature extractor's and tokenizer's files). It is
opened with ``local_files_only=True``, so a missing file is an error here, never a download.

Whisper's encoder takes 30 s of 16 kHz audio; its feature extractor pads shorter input and cuts longer
input. Longer recordings are transcribed in consecutive 30 s pieces whose texts are joined: transformers'
own long-form mode needs a checkpoint with timestamp tokens, which not every Whisper-family model has, and
the audio job cuts recordings into <= 30 s windows anyway. Greedy decoding keeps a transcript the same on
every worker and rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LocalWhisper", "check_checkpoint", "WHISPER_RATE", "WHISPER_CHUNK_S"]

WHISPER_RATE = 16_000
WHISPER_CHUNK_S = 30.0
# The model's config, and the feature extractor's (transformers 4 saves it alone, 5 inside the processor's).
_NEEDED = ("config.json", ("preprocessor_config.json", "processor_config.json"))


def check_checkpoint(folder: str) -> None:
    """Raise ``ValueError`` (one line) when ``folder`` is not a saved transformers checkpoint or
    transformers is not installed: said before any worker starts."""
    path = Path(folder)
    model, processor = _NEEDED
    if not (path / model).is_file() or not any((path / name).is_file() for name in processor):
        raise ValueError(f"{folder}: not a local Whisper checkpoint folder (needs {model} and "
                         f"{' or '.join(processor)}; save_pretrained writes them)")
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise ValueError("a local ASR checkpoint needs transformers: pip install 'mmcurate[asr]'") from None


def _to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    if rate == WHISPER_RATE:
        return pcm
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, WHISPER_RATE)
    return resample_poly(pcm, WHISPER_RATE // g, rate // g).astype(np.float32)


class LocalWhisper:
    """``transcribe(pcm, rate) -> text`` with a checkpoint loaded once (per Ray actor)."""

    def __init__(self, folder: str, max_new_tokens: int = 440, language: str | None = None) -> None:
        check_checkpoint(folder)
        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self._torch = torch
        self.processor = WhisperProcessor.from_pretrained(folder, local_files_only=True)
        self.model = WhisperForConditionalGeneration.from_pretrained(folder, local_files_only=True).eval()
        self.max_new_tokens = max_new_tokens
        self.language = language

    def _generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False, "num_beams": 1}
        if self.language and getattr(self.model.generation_config, "lang_to_id", None):
            kwargs["language"] = self.language  # only a multilingual checkpoint knows language tokens
        return kwargs

    def transcribe(self, pcm: np.ndarray, rate: int) -> str:
        audio = _to_16k(np.asarray(pcm, dtype=np.float32), rate)
        step = int(WHISPER_CHUNK_S * WHISPER_RATE)
        pieces = [audio[i:i + step] for i in range(0, max(len(audio), 1), step)]
        features = self.processor(pieces, sampling_rate=WHISPER_RATE, return_tensors="pt").input_features
        with self._torch.inference_mode():
            ids = self.model.generate(features, **self._generate_kwargs())
        texts = self.processor.batch_decode(ids, skip_special_tokens=True)
        return " ".join(t.strip() for t in texts if t.strip())
