"""A client for OpenAI-compatible ``/v1/audio/transcriptions`` (vLLM's Whisper serving, OpenAI, ...).

Same contract as :mod:`mmcurate.pipeline.synthesis.chat_client`: standard library only, the API key read
from the environment at send time (``api_key_env``), HTTP 408/409/429/5xx, timeouts and connection
errors retried with capped exponential backoff (jitter seeded by the request), other 4xx final, and a
content-addressed cache (sha256 of model, parameters and the audio bytes) written atomically, so a
rerun pays for no transcription twice. The request is ``multipart/form-data`` with the audio as
``file`` (16 kHz mono FLAC, made from the decoded signal), ``model``, ``response_format=json``, and
``language``/``temperature``/``prompt`` when set; the answer is the JSON's ``text``.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from mmcurate.pipeline.atomic import atomic_write
from mmcurate.pipeline.synthesis.chat_client import ChatError, post_json, with_retries

__all__ = ["AsrConfig", "AsrClient", "ChatError"]


@dataclass(kw_only=True)
class AsrConfig:
    """``base_url`` ends before ``/audio/transcriptions`` (e.g. ``http://host:8000/v1``)."""

    base_url: str
    model: str
    api_key_env: str = "MMCURATE_ASR_API_KEY"
    language: str | None = None
    temperature: float = 0.0
    prompt: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s), got {self.base_url!r}")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("max_retries >= 0, timeout_s > 0 and backoff_s >= 0 are required")


class AsrClient:
    """Thread-safe (holds no connection); one per stage."""

    def __init__(self, config: AsrConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + "/audio/transcriptions"
        self.cache = Path(config.cache_dir) if config.cache_dir else None

    def _fields(self) -> dict[str, str]:
        c = self.config
        fields = {"model": c.model, "response_format": "json", "temperature": str(c.temperature)}
        fields.update({k: v for k, v in (("language", c.language), ("prompt", c.prompt)) if v})
        return fields

    def key(self, audio: bytes) -> str:
        meta = json.dumps(self._fields(), sort_keys=True).encode()
        return hashlib.sha256(meta + b"\x00" + hashlib.sha256(audio).digest()).hexdigest()

    def transcribe(self, audio: bytes, filename: str = "audio.flac") -> tuple[str, bool]:
        """The transcript and whether it came from the cache; raises :class:`ChatError` (``llm_*`` codes)."""
        key = self.key(audio)
        path = self.cache / key[:2] / f"{key}.json" if self.cache else None
        if path is not None and path.exists():
            return json.loads(path.read_text(encoding="utf-8"))["text"], True
        text = self._post_with_retries(audio, filename, key)
        if path is not None:
            record = json.dumps({"key": key, "model": self.config.model, "text": text}, ensure_ascii=False)
            atomic_write(path, lambda fh: fh.write(record.encode("utf-8")))
        return text, False

    def _body(self, audio: bytes, filename: str) -> tuple[bytes, str]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in self._fields().items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + audio + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return b"".join(parts), f"multipart/form-data; boundary={boundary}"

    def _post_with_retries(self, audio: bytes, filename: str, key: str) -> str:
        c = self.config
        rng = random.Random(key)
        data, ctype = self._body(audio, filename)
        return with_retries(lambda: self._post(data, ctype), c, rng)

    def _post(self, data: bytes, ctype: str) -> str:
        payload = post_json(self.url, data, ctype, self.config.api_key_env, self.config.timeout_s)
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise ChatError("llm_bad_response", json.dumps(payload)[:300])
        return payload["text"]
