"""The SSRF guard: unit tests with no traffic, and redirects that must be stopped before connecting.

Nothing here sends a packet off 127.0.0.0/8: private and link-local targets are asserted to be
refused before any socket is created (the downloader's socket factory records every connect and
fails the test for anything but 127.0.0.1).
"""

from __future__ import annotations

import pytest

from mmcurate.pipeline.net import exchange
from mmcurate.pipeline.net import reasons as R
from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_one
from mmcurate.pipeline.net.ssrf import UrlRejected, parse_url, resolve


def _reason(url: str, **kw: object) -> str | None:
    try:
        resolve(parse_url(url), **kw)  # type: ignore[arg-type]
    except UrlRejected as exc:
        return exc.reason
    return None


@pytest.fixture()
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record every connect; fail the test at once for anything but 127.0.0.1."""
    calls: list[tuple[str, int]] = []
    real = exchange._create_socket

    def guarded(address, *args):  # noqa: ANN001, ANN002, ANN202
        calls.append(tuple(address[:2]))
        assert address[0] == "127.0.0.1", f"connect attempted to {address}"
        return real(address, *args)

    monkeypatch.setattr(exchange, "_create_socket", guarded)
    return calls


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/", "http://0x7f000001/",
     "http://127.0.0.1./", "http://[::ffff:127.0.0.1]/", "http://10.0.0.1/", "http://169.254.169.254/latest",
     "http://[::1]/", "http://[fe80::1]/", "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/",
     "http://[64:ff9b::a00:1]/", "http://[2002:a00:1::]/", "http://192.168.1.1:8080/", "http://[fc00::1]/"],
)
def test_blocked_literals_no_traffic(url: str, no_connect: list) -> None:
    assert _reason(url) == R.SSRF_BLOCKED
    assert fetch_one(url, FetchPolicy()).reason == R.SSRF_BLOCKED
    assert no_connect == []


def test_odd_literals_stay_blocked_even_with_private_allowed() -> None:
    for url in ("http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/"):
        assert _reason(url, allow_private=True) == R.SSRF_BLOCKED
    assert _reason("http://10.0.0.1/", allow_private=True) is None  # the flag lifts the range check


@pytest.mark.parametrize(
    ("url", "reason"),
    [("file:///etc/passwd", R.SCHEME_NOT_ALLOWED), ("ftp://example.com/a.jpg", R.SCHEME_NOT_ALLOWED),
     ("gopher://example.com:70/_x", R.SCHEME_NOT_ALLOWED), ("data:image/png;base64,AAAA", R.SCHEME_NOT_ALLOWED),
     ("javascript:alert(1)", R.SCHEME_NOT_ALLOWED), ("example.com/a.jpg", R.BAD_URL), ("", R.BAD_URL),
     ("http://exa mple.com/", R.BAD_URL), ("http://example.com/a b.jpg", R.BAD_URL), (" http://e.com/", R.BAD_URL),
     ("http://e.com/" + "a" * 10_000, R.BAD_URL), ("http://user@10.0.0.1/", R.BAD_URL),
     ("http://e.com\\@10.0.0.1/", R.BAD_URL), ("http://e.com:99999/", R.BAD_URL), ("http://[fe80::1%25eth0]/", R.BAD_URL),
     ("http:///path", R.BAD_URL), ("http://-\u0000.com/", R.BAD_URL),
     # urlsplit drops tabs and newlines silently, so the guard must see them first; DEL and "\\" too
     ("http://e.com/a\tb.jpg", R.BAD_URL), ("http://e.com/a\nb.jpg", R.BAD_URL),
     ("http://e.com/a\x7f.jpg", R.BAD_URL), ("http://e.com/a\\b.jpg", R.BAD_URL)],
)
def test_bad_urls_and_schemes(url: str, reason: str) -> None:
    with pytest.raises(UrlRejected) as info:
        parse_url(url)
    assert info.value.reason == reason


def test_idn_and_path_encoding() -> None:
    target = parse_url("https://Bücher.example/ä.jpg?q=1#frag")
    assert (target.host, target.path, target.port) == ("xn--bcher-kva.example", "/%C3%A4.jpg?q=1", 443)


def test_resolver_pins_checked_address_and_blocks_rebinding() -> None:
    pinned = resolve(parse_url("http://cdn.test/a.jpg"), resolver=lambda h, p: ["93.184.216.34"])
    assert pinned.ip == "93.184.216.34" and pinned.host == "cdn.test"
    # A rebinding answer that mixes a public and a private address is refused as a whole.
    assert _reason("http://cdn.test/", resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"]) == R.SSRF_BLOCKED
    assert _reason("http://cdn.test/", resolver=lambda h, p: ["::ffff:10.0.0.7"]) == R.SSRF_BLOCKED
    assert _reason("http://cdn.test/", resolver=lambda h, p: []) == R.DNS_ERROR


def test_redirects_to_blocked_targets_never_connect(http_server, no_connect: list) -> None:
    # Only the test server's exact address is exempt; everything else private stays blocked.
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), total_timeout=2.0, max_retries=0,
                         resolver=lambda host, port: {"internal.test": ["10.1.2.3"]}[host])
    for blocked in ("http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "http://127.0.0.2/",
                    f"http://[::ffff:127.0.0.1]:{http_server.port}/", "http://0x7f.1/", "http://internal.test/a.jpg"):
        no_connect.clear()
        res = fetch_one(http_server.url(f"/redirect?to={blocked}"), policy)
        assert (res.reason, res.redirects) == (R.SSRF_BLOCKED, 1), blocked
        assert no_connect == [("127.0.0.1", http_server.port)]  # the first hop only
    ok = fetch_one(http_server.url("/redirect?to=/img.png"), policy)
    assert ok.ok and len(no_connect) == 3


def test_tls_verifies_real_hostname_while_connecting_to_pinned_ip(https_server, tls_cert) -> None:
    cert, _ = tls_cert
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), total_timeout=3.0, max_retries=0,
                         ca_file=str(cert), resolver=lambda host, port: ["127.0.0.1"])
    url = https_server.url("/img.png", scheme="https", host="mmcurate.test")
    assert fetch_one(url, policy).ok  # SNI + certificate check used "mmcurate.test", not the IP
    wrong_host = fetch_one(https_server.url("/img.png", scheme="https", host="other.test"), policy)
    assert wrong_host.reason == R.TLS_ERROR
    untrusted = FetchPolicy(allowed_networks=("127.0.0.1/32",), total_timeout=3.0, max_retries=0,
                            resolver=lambda host, port: ["127.0.0.1"])
    res = fetch_one(url, untrusted)
    assert res.reason == R.TLS_ERROR and res.final_url.startswith("https://")  # never downgraded


def test_environment_proxy_is_ignored(http_server, unanswered_port: int, monkeypatch) -> None:
    # A proxy would receive (and could re-route) the request: the connection must go where it was checked.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{unanswered_port}")
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), connect_timeout=0.3, total_timeout=2.0, max_retries=0)
    res = fetch_one(http_server.url("/img.png"), policy)
    assert res.ok, res.reason


def test_socket_opener_refuses_every_address_but_the_pinned_one(monkeypatch) -> None:
    import pycurl

    opened: list[tuple] = []
    monkeypatch.setattr(exchange, "_create_socket", lambda address, *args: opened.append(address) or 42)
    kept: list = []
    opener = exchange._pinned_opener("93.184.216.34", kept)
    assert opener(0, (2, 1, 6, ("10.0.0.7", 80))) == pycurl.SOCKET_BAD
    assert opener(0, (10, 1, 6, ("::1", 80, 0, 0))) == pycurl.SOCKET_BAD
    assert opened == [] and kept == []
    assert opener(0, (2, 1, 6, ("93.184.216.34", 80))) == 42 and opened == [("93.184.216.34", 80)] and kept == [42]
