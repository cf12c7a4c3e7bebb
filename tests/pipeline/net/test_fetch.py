"""fetch_one / fetch_many against a real loopback server: every reject reason, bounded in time."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import replace
from urllib.parse import quote

import pytest

from mmcurate.pipeline.net import reasons as R
from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_many, fetch_one

FAST = FetchPolicy(
    allow_private_networks=True, connect_timeout=0.5, read_timeout=0.5, total_timeout=2.0,
    max_retries=2, backoff_base=0.05, max_bytes=64 * 1024,
)


def test_ok_png_sniffed_and_hashed(http_server, png_bytes: bytes) -> None:
    PNG = png_bytes
    res = fetch_one(http_server.url("/img.png"), FAST)
    assert res.ok and res.reason is None and res.body == PNG
    assert (res.http_status, res.sniffed_mime, res.kind, res.attempts) == (200, "image/png", "image", 1)
    assert res.sha256 == hashlib.sha256(PNG).hexdigest()


def test_lying_content_type_is_accepted_and_recorded(http_server) -> None:
    res = fetch_one(http_server.url("/png-as-jpeg"), FAST)
    assert res.ok and res.content_type == "image/jpeg" and res.sniffed_mime == "image/png"
    video = fetch_one(http_server.url("/video.mp4"), FAST)
    assert video.ok and video.kind == "video" and video.sniffed_mime == "video/mp4"


def test_html_instead_of_image(http_server) -> None:
    res = fetch_one(http_server.url("/html"), FAST)
    assert (res.ok, res.reason, res.sniffed_mime, res.body) == (False, R.CONTENT_TYPE_MISMATCH, "text/html", None)


def test_404_not_retried(http_server) -> None:
    res = fetch_one(http_server.url("/404?id=n1"), FAST)
    assert (res.reason, res.http_status, res.attempts) == (R.HTTP_404, 404, 1)
    assert http_server.hits["/404?id=n1"] == 1


def test_500_then_200_retried(http_server) -> None:
    res = fetch_one(http_server.url("/flaky500?id=n2"), FAST)
    assert res.ok and res.attempts == 2


def test_persistent_5xx_gives_up_after_max_retries(http_server) -> None:
    res = fetch_one(http_server.url("/always500?id=n2b"), FAST)
    assert (res.reason, res.http_status, res.attempts) == (R.HTTP_5XX, 503, 3)


def test_429_retry_after_honoured(http_server) -> None:
    start = time.monotonic()
    res = fetch_one(http_server.url("/429?id=n3&after=1"), FAST)
    assert res.ok and res.attempts == 2
    assert time.monotonic() - start >= 0.95  # waited as told, not the 50 ms backoff


def test_429_retry_after_beyond_cap_gives_up_at_once(http_server) -> None:
    start = time.monotonic()
    res = fetch_one(http_server.url("/429?id=n3b&after=3600"), FAST)
    assert (res.reason, res.attempts) == (R.HTTP_429, 1) and "Retry-After" in res.error
    assert time.monotonic() - start < 0.5


def test_connect_timeout(unanswered_port) -> None:
    policy = FetchPolicy(allow_private_networks=True, connect_timeout=0.3, total_timeout=2.0, max_retries=0)
    start = time.monotonic()
    res = fetch_one(f"http://127.0.0.1:{unanswered_port}/x.jpg", policy)
    assert res.reason == R.TIMEOUT_CONNECT and time.monotonic() - start < 1.0


def test_silent_server_read_timeout(http_server) -> None:
    policy = FetchPolicy(allow_private_networks=True, read_timeout=0.3, total_timeout=2.0, max_retries=0)
    res = fetch_one(http_server.url("/silent"), policy)
    assert res.reason == R.TIMEOUT_READ


def test_slow_drip_hits_total_deadline(http_server) -> None:
    policy = FetchPolicy(allow_private_networks=True, read_timeout=0.5, total_timeout=0.6, max_retries=2)
    start = time.monotonic()
    res = fetch_one(http_server.url("/drip"), policy)
    elapsed = time.monotonic() - start
    assert res.reason == R.TIMEOUT_TOTAL and res.body is None
    assert 0.55 < elapsed < 1.2  # the budget cut it, though bytes kept arriving


@pytest.mark.parametrize("path", ["/huge-cl", "/huge-cl-closed", "/endless"])
def test_oversize_body_rejected_not_truncated(http_server, path: str) -> None:
    res = fetch_one(http_server.url(path), FAST)
    assert (res.reason, res.body) == (R.TOO_LARGE, None)


def test_short_body_is_a_connection_error(http_server) -> None:
    res = fetch_one(http_server.url("/short"), FAST)
    assert (res.reason, res.body) == (R.CONNECTION_ERROR, None)


def test_empty_body(http_server) -> None:
    assert fetch_one(http_server.url("/empty"), FAST).reason == R.EMPTY_BODY


def test_redirect_followed_and_loop_bounded(http_server) -> None:
    res = fetch_one(http_server.url("/redirect?to=/img.png"), FAST)
    assert res.ok and res.redirects == 1 and res.final_url.endswith("/img.png")
    loop = fetch_one(http_server.url("/loop"), FAST)
    assert (loop.reason, loop.redirects) == (R.TOO_MANY_REDIRECTS, FAST.max_redirects + 1)


@pytest.mark.parametrize(
    ("value", "ok"), [("noai", False), ("noimageai, noindex", False), ("mmcurate: noai", False),
                      ("otherbot: noai", True), ("unavailable_after: 25 Jun 2010 15:00:00 PST", True)]
)
def test_x_robots_tag(http_server, value: str, ok: bool) -> None:
    res = fetch_one(http_server.url(f"/noai?v={quote(value)}"), FAST)
    assert res.ok is ok
    if not ok:
        assert res.reason == R.DISALLOWED_BY_HEADER


def test_expected_hash(http_server, png_bytes: bytes) -> None:
    good = hashlib.sha256(png_bytes).hexdigest()
    assert fetch_one(http_server.url("/img.png"), FAST, expected_sha256=good.upper()).ok
    assert fetch_one(http_server.url("/img.png"), FAST, expected_sha256="0" * 64).reason == R.HASH_MISMATCH


def test_loopback_blocked_by_default_without_traffic(http_server, monkeypatch) -> None:
    before = sum(http_server.hits.values())
    res = fetch_one(http_server.url("/img.png"), FetchPolicy())
    assert res.reason == R.SSRF_BLOCKED and res.attempts == 0
    assert sum(http_server.hits.values()) == before


def test_fetch_many_keeps_order_and_limits_per_host(http_server, monkeypatch) -> None:
    import mmcurate.pipeline.net.fetch as fetch_mod

    active, peak, lock = [0], [0], threading.Lock()
    real = fetch_mod.fetch_one

    def counting(url, policy, expected=None, first_hop=None):  # noqa: ANN001, ANN202
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.02)
            return real(url, policy, expected, first_hop)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(fetch_mod, "fetch_one", counting)
    policy = FetchPolicy(allow_private_networks=True, max_workers=8, per_host_limit=2, total_timeout=5.0)
    urls = [http_server.url("/img.png"), http_server.url("/404"), "gopher://x/", http_server.url("/html")] * 5
    results = fetch_many(urls, policy)
    assert [r.url for r in results] == urls
    assert [r.reason for r in results[:4]] == [None, R.HTTP_404, R.SCHEME_NOT_ALLOWED, R.CONTENT_TYPE_MISMATCH]
    assert peak[0] <= 2 + 2  # two slots for 127.0.0.1, two for the URL that fails without traffic


class _CountingResolver:
    """A fake DNS: a fixed answer (or an error) per host, and a count of lookups per host."""

    def __init__(self, answers: dict[str, list[str] | OSError]) -> None:
        self.answers, self.calls, self.lock = answers, Counter(), threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self.lock:
            self.calls[host] += 1
        answer = self.answers[host]
        if isinstance(answer, OSError):
            raise answer
        return answer


def test_fetch_many_looks_each_host_up_once(http_server, png_bytes: bytes) -> None:
    dns = _CountingResolver({"cdn.test": ["127.0.0.1"], "dead.test": OSError("no such host")})
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), per_host_limit=4, total_timeout=5.0, resolver=dns)
    good = [http_server.url(f"/img.png?k={i}", host="cdn.test") for i in range(12)]
    dead = [f"http://dead.test/{i}.jpg" for i in range(5)]
    results = fetch_many(good + dead, policy)
    assert all(r.ok and r.body == png_bytes for r in results[:12])
    assert {r.reason for r in results[12:]} == {R.DNS_ERROR}  # a failed lookup is kept for the batch too
    assert dns.calls == {"cdn.test": 1, "dead.test": 1}  # one lookup per host, however many threads ask
    assert sum(fetch_one(u, policy).ok for u in good[:2]) == 2  # fetch_one alone: no cache, a lookup each
    assert dns.calls["cdn.test"] == 3


def test_fetch_many_dns_cache_still_checks_every_address(http_server) -> None:
    # The cached answer is re-checked for every URL: a host answering with a private address stays
    # blocked for each of its URLs, and a redirect to another host gets that host's own answer.
    dns = _CountingResolver({"cdn.test": ["127.0.0.1"], "inside.test": ["10.1.2.3"]})
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), max_retries=0, total_timeout=5.0, resolver=dns)
    hop = http_server.url("/redirect?to=http://inside.test/a.jpg", host="cdn.test")
    results = fetch_many([hop, hop, "http://inside.test/b.jpg"], policy)
    assert [(r.reason, r.redirects) for r in results] == [(R.SSRF_BLOCKED, 1)] * 2 + [(R.SSRF_BLOCKED, 0)]
    assert dns.calls == {"cdn.test": 1, "inside.test": 1}
    blocked = FetchPolicy(max_retries=0, total_timeout=5.0, resolver=dns)  # 127.0.0.1 not allowed here
    before = sum(http_server.hits.values())
    assert {r.reason for r in fetch_many([http_server.url("/img.png", host="cdn.test")] * 3, blocked)} == {
        R.SSRF_BLOCKED}
    assert sum(http_server.hits.values()) == before


def test_ipv6_target_pinned_literal_and_named(png_bytes: bytes) -> None:
    # libcurl's connect-to entry needs brackets around IPv6 addresses; both URL forms must reach ::1.
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class V6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self.send_response(200)
            self.send_header("Content-Length", str(len(png_bytes)))
            self.end_headers()
            self.wfile.write(png_bytes)

        def log_message(self, *args: object) -> None:
            pass

    try:
        server = V6Server(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        port = server.server_address[1]
        literal = fetch_one(f"http://[::1]:{port}/a.png", FAST)
        named = fetch_one(f"http://v6.test:{port}/a.png", replace(FAST, resolver=lambda host, p: ["::1"]))
        assert literal.ok and literal.body == png_bytes, literal.error
        assert named.ok and named.body == png_bytes, named.error
    finally:
        server.shutdown()
        server.server_close()
