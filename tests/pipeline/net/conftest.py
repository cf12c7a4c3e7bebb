"""Loopback-only HTTP(S) servers for the downloader tests (img2dataset's pattern: a local test server).

Every server binds 127.0.0.1 and is started and stopped by a fixture; no test sends traffic
anywhere else. Each misbehaviour the downloader must survive is one path on the server.
"""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 90)).save(buf, format="PNG")
    return buf.getvalue()


PNG = _png()
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body>Not found, sorry</body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: Counter[str] = Counter()  # replaced per server

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "image/png", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: C901 - a routing table
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.hits[self.path] += 1
        n = self.hits[self.path]
        try:
            if path == "/img.png":
                self._send(200, PNG)
            elif path == "/png-as-jpeg":
                self._send(200, PNG, "image/jpeg")
            elif path == "/video.mp4":
                self._send(200, MP4, "application/octet-stream")
            elif path == "/html":
                self._send(200, HTML, "image/jpeg")
            elif path == "/empty":
                self._send(200, b"")
            elif path == "/404":
                self._send(404, HTML, "text/html")
            elif path == "/flaky500":
                self._send(500, b"oops", "text/plain") if n == 1 else self._send(200, PNG)
            elif path == "/always500":
                self._send(503, b"down", "text/plain")
            elif path == "/429":
                after = query.get("after", ["1"])[0]
                if n == 1:
                    self._send(429, b"slow down", "text/plain", {"Retry-After": after})
                else:
                    self._send(200, PNG)
            elif path == "/noai":
                self._send(200, PNG, headers={"X-Robots-Tag": query.get("v", ["noai"])[0]})
            elif path == "/redirect":
                self._send(302, b"", "text/plain", {"Location": query["to"][0]})
            elif path == "/loop":
                self._send(302, b"", "text/plain", {"Location": "/loop"})
            elif path == "/huge-cl":
                self.send_response(200)
                self.send_header("Content-Length", str(10**10))
                self.end_headers()
                self.wfile.write(PNG)
            elif path == "/huge-cl-closed":  # the size alone must decide: no body byte ever comes
                self.send_response(200)
                self.send_header("Content-Length", str(10**10))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
            elif path == "/endless":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\xff\xd8\xff" + b"\x00" * 4093
                for _ in range(4096):  # 16 MiB at most, then give up
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif path == "/drip":
                self.send_response(200)
                self.send_header("Content-Length", "10000")
                self.end_headers()
                for _ in range(200):  # 1 byte every 20 ms: never silent for long, never done
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
                    time.sleep(0.02)
            elif path == "/silent":
                time.sleep(1.5)
            elif path == "/short":
                self.send_response(200)
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(PNG)
            else:
                self._send(404, b"", "text/plain")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client aborted, as it should


class _Server:
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        handler = type("Handler", (_Handler,), {"hits": Counter()})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.hits = handler.hits
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    """The PNG the server's ``/img.png`` serves."""
    return PNG


@pytest.fixture(scope="session")
def http_server() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``mmcurate.test``, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=mmcurate.test",
         "-addext", "subjectAltName=DNS:mmcurate.test"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


@pytest.fixture(scope="session")
def https_server(tls_cert: tuple[Path, Path]) -> Iterator[_Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    server = _Server(context)
    yield server
    server.close()


@pytest.fixture()
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so a new SYN gets no answer (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.05)
    yield port
    for s in fillers:
        s.close()
    listener.close()
