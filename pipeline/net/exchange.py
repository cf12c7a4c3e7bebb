"""One HTTP exchange with a pinned, checked address: connect, send GET, read a capped body.

Built on urllib3's connection classes rather than its pool manager, for one reason: the SSRF guard
must connect to the IP it checked while TLS verifies the URL's hostname. ``HTTPSConnection(ip,
server_hostname=host)`` does exactly that (SNI and certificate matching use ``host``); a pool
manager would resolve the hostname again. Redirects and retries are the caller's
(:mod:`mmcurate.pipeline.net.fetch`), so each hop is re-validated. Connections are not reused: one
exchange, one socket, closed at the end, which also makes the watchdog abort trivially safe.

Failures raise :class:`FetchError` with a code from :mod:`mmcurate.pipeline.net.reasons`. A body is
returned only whole: an oversize, truncated or timed-out body raises, it is never kept.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from mmcurate.pipeline.net import reasons as R
from mmcurate.pipeline.net.deadline import Deadline
from mmcurate.pipeline.net.ssrf import Target

if TYPE_CHECKING:
    from mmcurate.pipeline.net.fetch import FetchPolicy

__all__ = ["FetchError", "Response", "exchange", "robots_disallow", "parse_retry_after"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A failed hop: ``reason`` code, ``detail`` text, the HTTP status if one came back."""

    def __init__(
        self, reason: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


@dataclass
class Response:
    status: int
    content_type: str | None
    location: str | None = None  # set for redirects (the body is not read)
    body: bytes | None = None  # set for 2xx


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), ``None`` if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def robots_disallow(values: list[str], directives: tuple[str, ...], token: str) -> str | None:
    """The X-Robots-Tag directive that forbids our use, if any (img2dataset's ``is_disallowed``).

    A value is ``directive[, directive]`` for every crawler, or ``agent: directive[, ...]`` for one.
    """
    wanted = {d.lower() for d in directives}
    for value in values:
        parts = value.split(":", 1)
        agent = parts[0].strip().lower() if len(parts) == 2 else None
        if agent is not None and agent != token.lower():
            continue  # addressed to another crawler (or a field like ``unavailable_after: <date>``)
        for item in parts[-1].split(","):
            if item.strip().lower() in wanted:
                return item.strip().lower()
    return None


def _connect(target: Target, policy: FetchPolicy, deadline: Deadline) -> HTTPConnection:
    timeout = min(policy.connect_timeout, deadline.remaining())
    if timeout <= 0:
        raise FetchError(R.TIMEOUT_TOTAL, "no time left to connect")
    assert target.ip is not None, "connect only to a resolved, checked target"
    if target.scheme == "https":
        conn: HTTPConnection = HTTPSConnection(
            target.ip, target.port, timeout=timeout, server_hostname=target.host,
            cert_reqs="CERT_REQUIRED", ca_certs=policy.ca_file,
        )
    else:
        conn = HTTPConnection(target.ip, target.port, timeout=timeout)
    try:
        conn.connect()
    except (ConnectTimeoutError, TimeoutError) as exc:
        raise FetchError(R.TIMEOUT_CONNECT, f"{target.ip}:{target.port}: {exc}") from None
    except (SSLError, ssl.SSLError, ssl.CertificateError) as exc:
        raise FetchError(R.TLS_ERROR, str(exc)[:300]) from None
    except (NewConnectionError, OSError) as exc:
        raise FetchError(R.CONNECTION_ERROR, str(exc)[:300]) from None
    conn.timeout = policy.read_timeout
    return conn


def _abort(conn: HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)


def _read_body(resp, policy: FetchPolicy) -> bytes:  # noqa: ANN001 - urllib3.response.HTTPResponse
    declared = resp.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(R.TOO_LARGE, f"Content-Length {declared} > {policy.max_bytes}", resp.status)
    buf = bytearray()
    for chunk in resp.stream(_CHUNK):
        buf += chunk
        if len(buf) > policy.max_bytes:
            raise FetchError(R.TOO_LARGE, f"body exceeds {policy.max_bytes} bytes", resp.status)
    return bytes(buf)


def _exchange(conn: HTTPConnection, target: Target, policy: FetchPolicy) -> Response:
    headers = {
        "Host": target.host_header,
        "User-Agent": policy.user_agent,
        "Accept": "image/*,video/*;q=0.9,*/*;q=0.1",
        "Accept-Encoding": "identity",  # media is already compressed; avoids gzip bombs entirely
        "Connection": "close",
    }
    conn.request("GET", target.path, headers=headers, preload_content=False, decode_content=True)
    resp = conn.getresponse()
    status, ctype = resp.status, resp.headers.get("Content-Type")
    if status in _REDIRECTS:
        return Response(status, ctype, location=resp.headers.get("Location") or "")
    if not 200 <= status < 300:
        reason = R.http_reason(status)
        retry_after = parse_retry_after(resp.headers.get("Retry-After")) if reason == R.HTTP_429 else None
        raise FetchError(reason, f"HTTP {status}", status, retry_after)
    directive = robots_disallow(
        resp.headers.getlist("X-Robots-Tag"), policy.disallowed_robot_directives, policy.robots_token
    )
    if directive is not None:
        raise FetchError(R.DISALLOWED_BY_HEADER, f"X-Robots-Tag {directive}", status)
    return Response(status, ctype, body=_read_body(resp, policy))


def exchange(target: Target, policy: FetchPolicy, deadline: Deadline) -> Response:
    """GET ``target`` from its pinned ``ip``; raise :class:`FetchError` on any failure."""
    conn = _connect(target, policy, deadline)
    deadline.bind(lambda: _abort(conn))
    try:
        return _exchange(conn, target, policy)
    except FetchError as exc:
        if deadline.expired:
            detail = f"after {policy.total_timeout}s ({exc.detail})"
            raise FetchError(R.TIMEOUT_TOTAL, detail, exc.status) from None
        raise
    except Exception as exc:  # noqa: BLE001 - every network failure becomes a coded reject below
        if deadline.expired:
            raise FetchError(R.TIMEOUT_TOTAL, f"exceeded {policy.total_timeout}s") from None
        raise _classify(exc) from None
    finally:
        deadline.unbind()
        conn.close()


def _classify(exc: Exception) -> FetchError:
    text = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, (ReadTimeoutError, TimeoutError)):
        return FetchError(R.TIMEOUT_READ, text)
    if isinstance(exc, (SSLError, ssl.SSLError)):
        return FetchError(R.TLS_ERROR, text)
    # A peer that hangs up or cuts the body is a connection failure; anything else that http.client
    # rejects (bad status line, huge header line, too many headers) means the peer does not speak HTTP.
    if isinstance(exc, http.client.HTTPException) and not isinstance(
        exc, (http.client.RemoteDisconnected, http.client.IncompleteRead)
    ):
        return FetchError(R.PROTOCOL_ERROR, text)
    if isinstance(exc, (ProtocolError, HTTPError, OSError, http.client.HTTPException)):
        return FetchError(R.CONNECTION_ERROR, text)
    raise exc  # not a network failure: a bug, let the runner see it
