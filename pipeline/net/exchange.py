"""One HTTP exchange with a pinned, checked address: connect, send GET, read a capped body.

Built on libcurl (through pycurl) rather than a Python HTTP client: with urllib3, ``fetch_many``
spent ~0.9 ms of CPU per image of the ingest benchmark, mostly http.client's header parsing and the
GIL hand-offs between its 32 threads; libcurl parses in C and releases the GIL for the whole
transfer (~0.5 ms per image with all our checks; bench/ingest.py prints it as "download alone").
What the SSRF guard needs, libcurl has:

* ``CURLOPT_CONNECT_TO`` sends the connection to the IP the guard checked while TLS (SNI and the
  certificate's name) and the ``Host`` header use the URL's hostname; nothing is resolved again.
  libcurl gets its sockets from :func:`_pinned_opener`, which refuses any address but that IP, so
  the pin holds even if a libcurl option were to redirect the connection.
* No proxy from the environment, only http and https, no redirects followed (the caller follows
  them by hand and re-validates every hop, :mod:`mmcurate.pipeline.net.fetch`), no cookies, no
  connection reuse: one exchange, one socket, closed at the end.
* Time: ``CURLOPT_TIMEOUT_MS`` is what is left of the fetch's whole budget, so a slow-drip server
  (in the headers or the body) is cut when the budget runs out; ``CONNECTTIMEOUT_MS`` bounds the
  TCP connect and TLS handshake; a silence of ``read_timeout`` trips libcurl's low-speed check
  (under 1 byte/s for that many seconds, which libcurl counts in whole seconds: it is rounded up).

Failures raise :class:`FetchError` with a code from :mod:`mmcurate.pipeline.net.reasons`. A body is
returned only whole: an oversize, truncated or timed-out body raises, it is never kept.
"""

from __future__ import annotations

import math
import os
import socket
import ssl
import threading
from functools import cache
from typing import TYPE_CHECKING

import pycurl

from mmcurate.pipeline.net import reasons as R
from mmcurate.pipeline.net.deadline import Deadline
from mmcurate.pipeline.net.response import FetchError, Response, Transfer, parse_head
from mmcurate.pipeline.net.ssrf import Target

if TYPE_CHECKING:
    from mmcurate.pipeline.net.fetch import FetchPolicy

__all__ = ["FetchError", "Response", "exchange"]

_ACCEPT = "image/*,video/*;q=0.9,*/*;q=0.1"

# libcurl error codes (curl/curl.h), grouped by the reason they become.
_TIMEOUT = 28
_WRITE_ABORTED = 23  # our header/body callback stopped the transfer (a decision, see Transfer)
_TLS = frozenset({35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98})
_PROTOCOL = frozenset({1, 8, 61, 100})  # HTTP/0.9 or not HTTP, bad encoding, oversized header
# Every other code is a connection_error: 7 refused, 18 short body, 52 empty reply, 55/56 reset, ...


@cache
def _default_ca_file() -> str | None:
    """The system's CA bundle (what Python's ssl uses), else certifi's: the wheel's libcurl was
    built on another distribution, so its compiled-in bundle path may not exist here."""
    cafile = ssl.get_default_verify_paths().cafile
    if cafile and os.path.exists(cafile):
        return cafile
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _create_socket(address: tuple, family: int, socktype: int, protocol: int) -> socket.socket:  # noqa: ARG001
    """The socket libcurl connects to ``address`` (a module function, so a test can watch every
    connect attempt)."""
    return socket.socket(family, socktype, protocol)


def _pinned_opener(ip: str, opened: list[socket.socket]):  # noqa: ANN202 - a pycurl callback
    """libcurl's socket factory for one exchange: the checked ``ip`` or nothing.

    pycurl connects a duplicate of the returned socket's descriptor; the originals are kept in
    ``opened`` and closed after the transfer (a socket collected unclosed formats its repr for a
    ResourceWarning, two system calls that were ~0.15 ms per fetch under 32 threads).
    """

    def open_socket(purpose: int, address: tuple) -> socket.socket | int:  # noqa: ARG001 - pycurl's signature
        family, socktype, protocol, addr = address
        if addr[0] != ip:  # never connect anywhere but the checked address
            return pycurl.SOCKET_BAD
        sock = _create_socket(addr, family, socktype, protocol)
        opened.append(sock)
        return sock

    return open_socket


_local = threading.local()


def _handle() -> pycurl.Curl:
    """This thread's libcurl handle, reset for a new exchange (one per thread: handles are not
    thread-safe, and reusing one saves its set-up; ``FORBID_REUSE`` still closes every socket)."""
    curl = getattr(_local, "curl", None)
    if curl is None or _local.pid != os.getpid():  # a forked child gets its own handle
        _local.curl, _local.pid = pycurl.Curl(), os.getpid()
        return _local.curl
    curl.reset()
    return curl


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _configure(curl: pycurl.Curl, target: Target, policy: FetchPolicy, deadline: Deadline,
               transfer: Transfer, sockets: list[socket.socket]) -> None:
    remaining = deadline.remaining()
    assert target.ip is not None, "connect only to a resolved, checked target"
    curl.setopt(pycurl.URL, target.url)
    curl.setopt(pycurl.CONNECT_TO, [f"{_bracket(target.host)}:{target.port}:{_bracket(target.ip)}:{target.port}"])
    curl.setopt(pycurl.OPENSOCKETFUNCTION, _pinned_opener(target.ip, sockets))
    curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    curl.setopt(pycurl.PROXY, "")  # ignore http_proxy & co: the connection goes where it was checked
    curl.setopt(pycurl.FOLLOWLOCATION, 0)
    curl.setopt(pycurl.FORBID_REUSE, 1)
    curl.setopt(pycurl.NOSIGNAL, 1)  # threads: no SIGALRM-based timeouts
    curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    curl.setopt(pycurl.HTTPHEADER, [f"User-Agent: {policy.user_agent}", f"Accept: {_ACCEPT}",
                                    # media is already compressed; identity avoids gzip bombs entirely
                                    "Accept-Encoding: identity", "Connection: close"])
    curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(policy.connect_timeout, remaining) * 1000)))
    curl.setopt(pycurl.TIMEOUT_MS, max(1, math.ceil(remaining * 1000)))
    curl.setopt(pycurl.LOW_SPEED_LIMIT, 1)
    curl.setopt(pycurl.LOW_SPEED_TIME, max(1, math.ceil(policy.read_timeout)))
    if target.scheme == "https":
        ca_file = policy.ca_file or _default_ca_file()
        if ca_file:
            curl.setopt(pycurl.CAINFO, ca_file)
    curl.setopt(pycurl.HEADERFUNCTION, transfer.header)
    curl.setopt(pycurl.WRITEFUNCTION, transfer.write)


def exchange(target: Target, policy: FetchPolicy, deadline: Deadline) -> Response:
    """GET ``target`` from its pinned ``ip``; raise :class:`FetchError` on any failure."""
    if deadline.remaining() <= 0:
        raise FetchError(R.TIMEOUT_TOTAL, f"exceeded {policy.total_timeout}s")
    curl, transfer, sockets = _handle(), Transfer(policy), []
    _configure(curl, target, policy, deadline, transfer, sockets)
    try:
        curl.perform()
    except pycurl.error as exc:
        code, message = exc.args[0], str(exc.args[1] if len(exc.args) > 1 else "")
        head = transfer.head or parse_head(transfer.lines)
        status = head.status if head is not None else None
        if code == _WRITE_ABORTED and transfer.outcome is not None:
            if isinstance(transfer.outcome, FetchError):
                raise transfer.outcome from None
            return transfer.outcome
        raise _classify(code, message, curl, deadline, policy, status, target.scheme == "https") from None
    finally:
        for sock in sockets:
            sock.close()
    head = transfer.head
    if head is None:
        raise FetchError(R.PROTOCOL_ERROR, "the response ended inside its headers")
    return Response(head.status, head.get("content-type"), body=b"".join(transfer.chunks))


def _classify(code: int, message: str, curl: pycurl.Curl, deadline: Deadline, policy: FetchPolicy,
              status: int | None, https: bool) -> FetchError:
    text = f"curl {code}: {message}"[:300]
    if code == _TIMEOUT:
        if deadline.remaining() <= 0.005:
            return FetchError(R.TIMEOUT_TOTAL, f"after {policy.total_timeout}s ({text})", status)
        # Connected means TCP, plus the TLS handshake for https (connect_timeout covers both).
        connected = curl.getinfo(pycurl.APPCONNECT_TIME if https else pycurl.CONNECT_TIME) > 0
        return FetchError(R.TIMEOUT_READ if connected else R.TIMEOUT_CONNECT, text, status)
    if code in _TLS:
        return FetchError(R.TLS_ERROR, text, status)
    if code in _PROTOCOL:
        return FetchError(R.PROTOCOL_ERROR, text, status)
    # refused, reset, short body and the rest of libcurl's network failures (a bug is a Python error)
    return FetchError(R.CONNECTION_ERROR, text, status)
