"""A small client for any OpenAI-compatible ``/v1/chat/completions`` endpoint, with retries and a cache.

vLLM, SGLang, TGI and hosted APIs all speak this request/response JSON, so one client covers them;
it uses only the standard library (``urllib``), so the pipeline gains no dependency. The API key is
read from the environment (``api_key_env``, default ``MMCURATE_LLM_API_KEY``) when the request is
sent, never stored in the config that Ray pickles and logs; without a key no ``Authorization``
header is sent (a local vLLM needs none).

Retries: HTTP 429, 5xx, timeouts and connection errors are retried up to ``max_retries`` times with
exponential backoff (``backoff_s * 2**attempt``, capped at ``max_backoff_s``, honouring a numeric
``Retry-After``) and jitter from a private RNG seeded by the prompt hash. Other 4xx are final.

Cache: the answer text of every successful response is stored under ``cache_dir`` as
``<key[:2]>/<key>.json``, ``key`` = sha256 of the canonical request body (model, messages, sampling
parameters); written atomically, so concurrent workers and crashed runs never leave a torn file.
A rerun of a job pays for no request twice; invalid answers are cached too, so a rerun rejects the
same rows rather than drawing a new sample.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmcurate.pipeline.atomic import atomic_write

__all__ = ["ChatConfig", "ChatError", "ChatClient", "request_key", "with_retries", "post_json"]

_RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class ChatError(Exception):
    """A request that failed for good; ``reason`` is the reject code (``llm_http_<status>``, ``llm_timeout``)."""

    def __init__(self, reason: str, detail: str, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(kw_only=True)
class ChatConfig:
    """Where and how to ask. ``base_url`` ends before ``/chat/completions`` (e.g. ``http://host:8000/v1``)."""

    base_url: str
    model: str
    api_key_env: str = "MMCURATE_LLM_API_KEY"
    temperature: float = 0.2
    max_tokens: int = 1024
    json_mode: bool = True  # response_format={"type": "json_object"}; vLLM/SGLang/OpenAI support it
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    cache_dir: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s), got {self.base_url!r}")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("max_retries >= 0, timeout_s > 0 and backoff_s >= 0 are required")


def with_retries(call: Any, config: Any, rng: random.Random) -> str:
    """``call()`` until it answers; retryable :class:`ChatError` s wait (Retry-After, else exponential
    backoff with jitter) up to ``config.max_retries`` times. Shared by the chat and transcription clients."""
    for attempt in range(config.max_retries + 1):
        try:
            return call()
        except ChatError as err:
            if not err.retryable or attempt == config.max_retries:
                raise
            wait = err.retry_after if err.retry_after is not None else config.backoff_s * 2**attempt
            time.sleep(min(config.max_backoff_s, wait) * (1 + 0.25 * rng.random()))
    raise AssertionError("unreachable")


def post_json(url: str, data: bytes, content_type: str, api_key_env: str, timeout_s: float) -> Any:
    """POST ``data`` and parse the JSON answer; every failure is a :class:`ChatError` saying if a retry may help.

    Shared by the chat and transcription clients: the key is read from the environment at send time.
    """
    headers = {"Content-Type": content_type}
    key = os.environ.get(api_key_env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        ra = exc.headers.get("Retry-After") if exc.headers else None
        raise ChatError(f"llm_http_{exc.code}", exc.read()[:300].decode("utf-8", "replace"),
                        retryable=exc.code in _RETRY_STATUS,
                        retry_after=float(ra) if ra and ra.replace(".", "", 1).isdigit() else None) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, json.JSONDecodeError) as exc:
        timeout = isinstance(exc, TimeoutError) or "timed out" in str(exc)
        reason = "llm_bad_response" if isinstance(exc, json.JSONDecodeError) else (
            "llm_timeout" if timeout else "llm_connection")
        raise ChatError(reason, str(exc)[:300], retryable=not isinstance(exc, json.JSONDecodeError)) from None


def request_key(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a request body: the cache key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ChatClient:
    """Thread-safe: one client is shared by the stage's worker threads (it holds no connection)."""

    def __init__(self, config: ChatConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.cache = Path(config.cache_dir) if config.cache_dir else None

    def body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {"model": c.model, "messages": messages, "temperature": c.temperature,
                                "max_tokens": c.max_tokens, **c.extra_body}
        if c.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _cache_path(self, key: str) -> Path | None:
        return self.cache / key[:2] / f"{key}.json" if self.cache else None

    def complete(self, messages: list[dict[str, Any]]) -> tuple[str, bool]:
        """The assistant's answer text and whether it came from the cache; raises :class:`ChatError`."""
        body = self.body(messages)
        key = request_key(body)
        path = self._cache_path(key)
        if path is not None and path.exists():
            return json.loads(path.read_text(encoding="utf-8"))["content"], True
        content = self._post_with_retries(body, key)
        if path is not None:
            record = json.dumps({"key": key, "model": self.config.model, "content": content}, ensure_ascii=False)
            atomic_write(path, lambda fh: fh.write(record.encode("utf-8")))
        return content, False

    def _post_with_retries(self, body: dict[str, Any], key: str) -> str:
        c = self.config
        rng = random.Random(key)  # jitter from the prompt, not from a worker-global RNG
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return with_retries(lambda: self._post(data), c, rng)

    def _post(self, data: bytes) -> str:
        payload = post_json(self.url, data, "application/json", self.config.api_key_env, self.config.timeout_s)
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise ChatError("llm_bad_response", json.dumps(payload)[:300]) from None
