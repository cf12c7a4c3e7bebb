"""A loopback HTTP server for the demo and tests: static files plus the web's usual failures.

Binds 127.0.0.1 only, on a free port, in a daemon thread of the calling process. Paths under
``/fault/`` misbehave on purpose: ``404``, ``500``, ``flaky`` (500 on the first request of each path,
then the file), ``429`` with Retry-After, ``loop`` (a redirect loop), ``private`` (a redirect to a
private address, which the SSRF guard must block before connecting), ``html`` (an error page served as
``image/jpeg``), ``huge`` (a Content-Length far beyond the size cap), ``noai`` (``X-Robots-Tag: noai``).
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["DemoServer"]


class _Handler(SimpleHTTPRequestHandler):
    hits: Counter[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.hits[self.path] += 1  # every request, so tests can prove a URL was fetched once
        if not self.path.startswith("/fault/"):
            return super().do_GET()
        kind, _, rest = self.path[len("/fault/"):].partition("/")
        if kind == "404":
            return self._send(404, b"not found")
        if kind == "500":
            return self._send(500, b"server error")
        if kind == "429":
            return self._send(429, b"slow down", {"Retry-After": "60"})
        if kind == "flaky":
            if self.hits[self.path] == 1:
                return self._send(503, b"try again")
            self.path = "/" + rest
            return super().do_GET()
        if kind == "loop":
            return self._send(302, headers={"Location": self.path})
        if kind == "private":
            return self._send(302, headers={"Location": "http://10.0.0.1/internal.jpg"})
        if kind == "html":
            return self._send(200, b"<!DOCTYPE html><html><body>Oops</body></html>", {"Content-Type": "image/jpeg"})
        if kind == "huge":
            return self._send(200, headers={"Content-Type": "image/jpeg", "Content-Length": str(10**10)})
        if kind == "noai":
            data = (Path(self.directory) / rest).read_bytes()
            return self._send(200, data, {"Content-Type": "image/jpeg", "X-Robots-Tag": "noai"})
        return self._send(400, b"unknown fault")


class DemoServer:
    """``with DemoServer(folder) as server: server.url("a.jpg")``."""

    def __init__(self, root: str | Path) -> None:
        handler = type("Handler", (_Handler,), {"hits": Counter()})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def hits(self) -> Counter[str]:
        """Requests per path since the server started."""
        return self._server.RequestHandlerClass.func.hits  # type: ignore[attr-defined]

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def __enter__(self) -> DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
