"""``AudioTranscribe`` (``audio_asr_v1``): a transcript per decoded recording from an ASR endpoint or a
local Whisper-family checkpoint, plus ``word_error_rate`` for checks against a reference (a caption, or
the text espeak-ng spoke).

With ``checkpoint`` set the stage is stateful: Ray runs it in an actor pool and each actor loads the
model once (:class:`~mmcurate.pipeline.audio.asr_local.LocalWhisper`); nothing is sent anywhere.

The decoded 16 kHz mono signal is sent as FLAC (what the model would resample to anyway, and about
half the bytes of 16-bit WAV). A failed request rejects the row with the client's code
(``audio_asr_v1:llm_http_503``, ``llm_timeout``, ...) after the client's retries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.audio.asr_client import AsrClient, AsrConfig, ChatError
from mmcurate.pipeline.audio.asr_local import LocalWhisper, check_checkpoint
from mmcurate.pipeline.generate.audio import encode
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.pipeline.text_safety import neutralise
from mmcurate.schemas.audio import AUDIO_PCM, AUDIO_PROBE

__all__ = ["AudioTranscribe", "word_error_rate"]

TEXT = "audio_asr_v1_text"


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on lower-cased word tokens."""
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, row = row, np.empty_like(row)
        row[0] = i
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return float(row[-1]) / len(ref)


@dataclass(kw_only=True)
class AudioTranscribe(RowStage):
    """Transcribe each decoded recording through an OpenAI-compatible endpoint (config: the endpoint)."""

    name: ClassVar[str] = "audio_asr_v1"
    reads: ClassVar[tuple[str, ...]] = (AUDIO_PROBE, AUDIO_PCM)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(TEXT, pa.string(), metadata={"doc": "ASR transcript of the decoded audio"}),
        pa.field("audio_asr_v1_cached", pa.bool_(), metadata={"doc": "the transcript came from the cache"}),
    )
    row_columns: ClassVar[tuple[str, ...] | None] = (AUDIO_PROBE, AUDIO_PCM)

    batch_size: int = param(8, doc="rows per call", ge=1)
    base_url: str = param("http://127.0.0.1:8000/v1", doc="endpoint, up to /audio/transcriptions")
    model: str = param("whisper-large-v3", doc="model name the endpoint serves")
    language: str | None = param(None, doc="ISO-639-1 hint; None: the model detects")
    timeout_s: float = param(120.0, doc="per request", gt=0)
    max_retries: int = param(4, doc="retries of 408/429/5xx/timeouts", ge=0)
    backoff_s: float = param(1.0, doc="first retry wait, doubled each time", ge=0)
    cache_dir: str | None = param(None, doc="transcript cache folder; None: no cache")
    checkpoint: str | None = param(None, doc="a local Whisper-family checkpoint folder (transformers' "
                                             "save_pretrained); set, it transcribes in process instead of the "
                                             "endpoint; never downloaded")
    max_new_tokens: int = param(440, doc="local checkpoint: most tokens per 30 s piece", ge=1)
    _client: AsrClient | None = field(default=None, init=False, repr=False, compare=False)
    _local: LocalWhisper | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.checkpoint is not None:
            check_checkpoint(self.checkpoint)

    @property  # type: ignore[override]
    def stateful(self) -> bool:  # a loaded model: one per actor, not one per task
        return self.checkpoint is not None

    def setup(self) -> None:
        if self.checkpoint is not None:
            self._local = LocalWhisper(self.checkpoint, self.max_new_tokens, self.language)
            return
        self._client = AsrClient(AsrConfig(base_url=self.base_url, model=self.model, language=self.language,
                                           timeout_s=self.timeout_s, max_retries=self.max_retries,
                                           backoff_s=self.backoff_s, cache_dir=self.cache_dir))

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get(AUDIO_PCM) is None:
            return {}
        self.ensure_setup()
        if self._local is not None:
            pcm = np.frombuffer(row[AUDIO_PCM], "<f4")
            text = self._local.transcribe(pcm, row[AUDIO_PROBE]["sample_rate"])
            return {TEXT: neutralise(text)[0] if text else text, "audio_asr_v1_cached": False}
        assert self._client is not None
        flac = encode(np.frombuffer(row[AUDIO_PCM], "<f4"), row[AUDIO_PROBE]["sample_rate"], "flac")
        try:
            text, cached = self._client.transcribe(flac)
        except ChatError as err:
            raise Reject(err.reason, err.detail) from None
        return {TEXT: neutralise(text)[0] if text else text, "audio_asr_v1_cached": cached}  # spoken "<|...|>"
