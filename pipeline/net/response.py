"""What an HTTP response means to the downloader, decided as soon as its headers end.

:class:`Transfer` collects what libcurl hands over during one exchange
(:mod:`mmcurate.pipeline.net.exchange`); when the final response's headers end, :func:`decide` says
whether to read the body or stop there with a redirect to follow or a coded :class:`FetchError`
(an error status, an X-Robots-Tag refusal, a declared size over the cap). A streamed body that
grows past the cap stops the transfer too, so an oversize body is never kept.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmcurate.pipeline.net import reasons as R

if TYPE_CHECKING:
    from mmcurate.pipeline.net.fetch import FetchPolicy

__all__ = ["FetchError", "Response", "Head", "Transfer", "decide", "parse_head", "parse_retry_after",
           "robots_disallow"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


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


@dataclass
class Head:
    """The final response's status line and headers (names lowercased, repeats kept)."""

    status: int
    headers: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[-1] if values else None


def parse_head(lines: list[bytes]) -> Head | None:
    """The last response in ``lines`` (interim 1xx responses come first); ``None`` before a status."""
    start = max((i for i, line in enumerate(lines) if line.startswith(b"HTTP/")), default=None)
    if start is None:
        return None
    parts = lines[start].split(None, 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers: dict[str, list[str]] = {}
    for raw in lines[start + 1 :]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Head(status, headers)


@dataclass
class Transfer:
    """What libcurl hands us during one exchange, and the decision taken when the headers end.

    A redirect, an error status, an X-Robots-Tag refusal or a declared size over the cap stops the
    transfer right after the headers, so their bodies are never read; a streamed body that grows
    past the cap stops it too.
    """

    policy: FetchPolicy
    lines: list[bytes] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    head: Head | None = None  # the final response's head, once its headers ended
    outcome: Response | FetchError | None = None  # set when the transfer was stopped on purpose

    def header(self, line: bytes) -> int | None:
        self.lines.append(line)
        if line.strip() or self.head is not None:
            return None
        head = parse_head(self.lines)  # a blank line ends a header block
        if head is None or 100 <= head.status < 200:
            return None  # an interim response: the real one follows
        self.head, self.outcome = head, decide(head, self.policy)
        return None if self.outcome is None else 0  # != len(line): libcurl stops (CURLE_WRITE_ERROR)

    def write(self, chunk: bytes) -> int | None:
        if self.head is None:  # libcurl refuses HTTP/0.9, so a body always follows headers
            self.outcome = FetchError(R.PROTOCOL_ERROR, "body before the end of the headers")
            return 0
        self.size += len(chunk)
        if self.size > self.policy.max_bytes:
            self.outcome = FetchError(R.TOO_LARGE, f"body exceeds {self.policy.max_bytes} bytes", self.head.status)
            return 0
        self.chunks.append(chunk)
        return None


def decide(head: Head, policy: FetchPolicy) -> Response | FetchError | None:
    """``None`` to read the body; otherwise the redirect to follow or the error to raise."""
    status, ctype = head.status, head.get("content-type")
    if status in _REDIRECTS:
        return Response(status, ctype, location=head.get("location") or "")
    if not 200 <= status < 300:
        reason = R.http_reason(status)
        retry_after = parse_retry_after(head.get("retry-after")) if reason == R.HTTP_429 else None
        return FetchError(reason, f"HTTP {status}", status, retry_after)
    directive = robots_disallow(head.headers.get("x-robots-tag", []), policy.disallowed_robot_directives,
                                policy.robots_token)
    if directive is not None:
        return FetchError(R.DISALLOWED_BY_HEADER, f"X-Robots-Tag {directive}", status)
    declared = head.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
        return FetchError(R.TOO_LARGE, f"Content-Length {declared} > {policy.max_bytes}", status)
    return None
