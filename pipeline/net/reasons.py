"""The closed set of reasons a download fails, and which of them are worth retrying.

Every failed fetch ends with exactly one of these codes; the download stage records it as
``download_v1:<code>`` in ``drop_reason`` and the stats count them. The set is closed on purpose:
a free-text error message (img2dataset's ``status_dict`` keyed by exception text) cannot be
aggregated across shards, so the human-readable part goes to ``error`` instead.
"""

from __future__ import annotations

__all__ = [
    "BAD_URL",
    "SCHEME_NOT_ALLOWED",
    "SSRF_BLOCKED",
    "DNS_ERROR",
    "CONNECTION_ERROR",
    "TIMEOUT_CONNECT",
    "TIMEOUT_READ",
    "TIMEOUT_TOTAL",
    "TLS_ERROR",
    "PROTOCOL_ERROR",
    "HTTP_403",
    "HTTP_404",
    "HTTP_410",
    "HTTP_429",
    "HTTP_4XX",
    "HTTP_5XX",
    "HTTP_OTHER",
    "BAD_REDIRECT",
    "TOO_MANY_REDIRECTS",
    "DISALLOWED_BY_HEADER",
    "TOO_LARGE",
    "EMPTY_BODY",
    "HASH_MISMATCH",
    "CONTENT_TYPE_MISMATCH",
    "ALL_REASONS",
    "RETRYABLE",
    "http_reason",
]

# -- the URL itself (no traffic was sent) --
BAD_URL = "bad_url"  # unparseable, too long, whitespace/control chars, userinfo, bad port, bad IDNA
SCHEME_NOT_ALLOWED = "scheme_not_allowed"  # file:, ftp:, gopher:, data:, javascript:, ...
SSRF_BLOCKED = "ssrf_blocked"  # resolves to (or is) a non-public address, or an odd IP literal
DNS_ERROR = "dns_error"  # the host does not resolve

# -- the connection --
CONNECTION_ERROR = "connection_error"  # refused, reset, or the body ended before Content-Length
TIMEOUT_CONNECT = "timeout_connect"  # TCP connect or TLS handshake exceeded connect_timeout
TIMEOUT_READ = "timeout_read"  # the server stalled (under 1 byte/s) for read_timeout
TIMEOUT_TOTAL = "timeout_total"  # the whole fetch (all hops and retries) exceeded total_timeout
TLS_ERROR = "tls_error"  # certificate or handshake failure; never downgraded to http
PROTOCOL_ERROR = "protocol_error"  # not HTTP, malformed status line or headers

# -- the HTTP status --
HTTP_403 = "http_403"
HTTP_404 = "http_404"
HTTP_410 = "http_410"
HTTP_429 = "http_429"
HTTP_4XX = "http_4xx"  # any other 4xx
HTTP_5XX = "http_5xx"
HTTP_OTHER = "http_other"  # 1xx, 3xx without a usable Location, or another non-2xx status
BAD_REDIRECT = "bad_redirect"  # a 3xx whose Location is missing
TOO_MANY_REDIRECTS = "too_many_redirects"

# -- the response content --
DISALLOWED_BY_HEADER = "disallowed_by_header"  # X-Robots-Tag: noai / noimageai (as img2dataset)
TOO_LARGE = "too_large"  # Content-Length or streamed bytes over max_bytes; nothing is kept
EMPTY_BODY = "empty_body"
HASH_MISMATCH = "hash_mismatch"  # sha256 differs from the expected one given with the URL
CONTENT_TYPE_MISMATCH = "content_type_mismatch"  # magic bytes are not an allowed media kind

ALL_REASONS: frozenset[str] = frozenset(
    {
        BAD_URL, SCHEME_NOT_ALLOWED, SSRF_BLOCKED, DNS_ERROR, CONNECTION_ERROR, TIMEOUT_CONNECT,
        TIMEOUT_READ, TIMEOUT_TOTAL, TLS_ERROR, PROTOCOL_ERROR, HTTP_403, HTTP_404, HTTP_410, HTTP_429,
        HTTP_4XX, HTTP_5XX, HTTP_OTHER, BAD_REDIRECT, TOO_MANY_REDIRECTS, DISALLOWED_BY_HEADER,
        TOO_LARGE, EMPTY_BODY, HASH_MISMATCH, CONTENT_TYPE_MISMATCH,
    }
)

# Transient by nature: the same request may succeed later. A 4xx other than 429 is the server's
# considered answer about this URL and is never retried. timeout_total is not here because it means
# the fetch's whole budget is spent. A refused or reset connection is not retried either: on the web
# it is almost always a dead host, and retrying it only burns the deadline.
RETRYABLE: frozenset[str] = frozenset({TIMEOUT_CONNECT, TIMEOUT_READ, HTTP_429, HTTP_5XX})


def http_reason(status: int) -> str:
    """The reason code for a final, non-2xx, non-redirect HTTP status."""
    specific = {403: HTTP_403, 404: HTTP_404, 410: HTTP_410, 429: HTTP_429}
    if status in specific:
        return specific[status]
    if 400 <= status < 500:
        return HTTP_4XX
    if 500 <= status < 600:
        return HTTP_5XX
    return HTTP_OTHER
