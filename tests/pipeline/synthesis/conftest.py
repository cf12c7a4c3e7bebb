"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the LLM back end's tests.

It speaks ``POST /v1/chat/completions`` request/response JSON, counts requests, tracks the maximum
number in flight, and answers by ``mode``: ``good``, ``invalid_json``, ``bad_shape``, ``429_then_ok``
(first attempt of each distinct request gets 429), ``500`` (always). ``delay_s`` holds every answer back
(concurrency and timeout tests); a client that timed out has hung up, so the late answer is dropped quietly.
Each test gets a fresh server; its teardown wakes any handler still waiting.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

GOOD = {"conversations": [{"from": "human", "value": "What is in the picture?"},
                          {"from": "gpt", "value": "A stop sign on a corner."}]}


class FakeLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "good"
        self.delay_s = 0.0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen: dict[str, int] = {}
        self.auth: list[str | None] = []
        self.bodies: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLM

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        with self.server.lock:  # done before the client can see the answer and send its next request
            self.server.in_flight -= 1
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and hung up
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        srv = self.server
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        body = json.loads(raw)
        with srv.lock:
            srv.requests += 1
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            attempt = srv.seen.get(raw.decode(), 0)
            srv.seen[raw.decode()] = attempt + 1
            srv.auth.append(self.headers.get("Authorization"))
            srv.bodies.append(body)
        srv.stopping.wait(srv.delay_s)  # a sleep that the fixture's teardown cuts short
        if self.path != "/v1/chat/completions" or "messages" not in body:
            return self._send(404, {"error": "not found"})
        if srv.mode == "500":
            return self._send(500, {"error": {"message": "boom"}})
        if srv.mode == "429_then_ok" and attempt == 0:
            return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.01"})
        content = {"good": json.dumps(GOOD), "429_then_ok": json.dumps(GOOD), "invalid_json": "Sure! Here you go:",
                   "bad_shape": json.dumps({"conversations": [{"from": "gpt", "value": "hi"}]})}[srv.mode]
        self._send(200, {"id": "cmpl-1", "object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}]})


@pytest.fixture()
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
