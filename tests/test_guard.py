"""The checks that keep abuse out of the order route: origins, bots, CORS, rate-limit buckets and what to
believe of the proxy in front. Pure functions, no client."""

from __future__ import annotations

import pytest

from leadkit.formtoken import IssuedToken
from leadkit.guard import (bot_reason, client_bucket, cors_headers, ignored_proxy_hops, origin_of, origin_problem,
                           visitor_scheme)

HOST = "landing.example"
PROMO = "https://promo.example"
NOW = 1_700_000_000.0


# -- origin_of ------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    pytest.param("https://landing.example", "https://landing.example", id="origin-header"),
    pytest.param("https://Landing.EXAMPLE/page?q=1#top", "https://landing.example", id="url-lower-cased-path-dropped"),
    pytest.param("HTTPS://LANDING.EXAMPLE", "https://landing.example", id="upper-case-scheme"),
    pytest.param("  http://landing.example/  ", "http://landing.example", id="surrounding-space"),
    pytest.param("http://localhost:8000", "http://localhost:8000", id="port-kept"),
    pytest.param("https://landing.example:443", "https://landing.example:443", id="default-port-kept-as-sent"),
    pytest.param("http://[::1]:8000/", "http://[::1]:8000", id="ipv6"),
    pytest.param(None, None, id="absent"),
    pytest.param("", None, id="empty"),
    pytest.param("null", None, id="null-origin"),
    pytest.param("ftp://landing.example", None, id="not-http"),
    pytest.param("javascript:alert(1)", None, id="javascript"),
    pytest.param("//evil.example/x", None, id="scheme-relative"),
    pytest.param("landing.example", None, id="bare-host"),
    pytest.param("http:///path", None, id="no-host"),
    pytest.param("http://user@evil.example/", None, id="user-info"),
    pytest.param("http://landing.example:99999", None, id="port-out-of-range"),
    pytest.param("http://landing.example:abc", None, id="port-not-a-number"),
    pytest.param("http://[zz", None, id="broken-ipv6"),
    pytest.param("not a url at all", None, id="garbage"),
])
def test_origin_of(url: str | None, expected: str | None) -> None:
    assert origin_of(url) == expected


# -- origin_problem -------------------------------------------------------------

@pytest.mark.parametrize("origin, referer, host, allowed, has_token, expected", [
    pytest.param("http://landing.example", None, HOST, (), False, None, id="same-site"),
    pytest.param("https://landing.example", None, HOST, (), False, None, id="same-host-other-scheme"),
    pytest.param("HTTPS://Landing.Example", None, "Landing.Example", (), False, None, id="host-case-ignored"),
    pytest.param("https://evil.example", None, HOST, (), True, "foreign", id="another-host"),
    pytest.param("https://evil.landing.example", None, HOST, (), True, "foreign", id="subdomain-is-another-host"),
    pytest.param("https://landing.example.evil", None, HOST, (), True, "foreign", id="suffix-is-another-host"),
    pytest.param(PROMO, None, HOST, (PROMO,), False, None, id="allowed-origin"),
    pytest.param("http://promo.example", None, HOST, (PROMO,), False, "foreign", id="allowed-host-other-scheme"),
    pytest.param("https://promo.example:8443", None, HOST, (PROMO,), False, "foreign", id="allowed-host-other-port"),
    pytest.param("null", None, HOST, (), True, "foreign", id="null-origin-with-token"),
    pytest.param("null", "https://landing.example/", HOST, (), True, "foreign", id="null-origin-beats-referer"),
    pytest.param(None, "https://landing.example/?utm_source=fb", HOST, (), False, None, id="referer-same-site"),
    pytest.param(None, "https://evil.example/page", HOST, (), True, "foreign", id="referer-another-host"),
    pytest.param(None, "https://promo.example/landing", HOST, (PROMO,), False, None, id="referer-allowed"),
    pytest.param("https://evil.example", "https://landing.example/", HOST, (), True, "foreign",
                 id="origin-beats-referer"),
    pytest.param("https://landing.example", "https://evil.example/", HOST, (), False, None,
                 id="origin-beats-referer-the-other-way"),
    pytest.param(None, None, HOST, (), True, None, id="no-origin-with-token"),
    pytest.param(None, None, HOST, (), False, "no-origin", id="no-origin-without-token"),
    pytest.param("", "", HOST, (), False, "no-origin", id="empty-headers-count-as-absent"),
    pytest.param("garbage", None, HOST, (), True, "foreign", id="garbage-origin"),
    pytest.param(None, "javascript:alert(1)", HOST, (), True, "foreign", id="garbage-referer"),
    pytest.param("http://user@landing.example", None, HOST, (), True, "foreign", id="user-info"),
    pytest.param("http://localhost:8000", None, "localhost:9000", (), True, "foreign", id="port-matters"),
    pytest.param("http://localhost:8000", None, "localhost:8000", (), False, None, id="same-port"),
    pytest.param("http://localhost", None, "localhost:8000", (), True, "foreign", id="port-missing"),
])
def test_origin_problem(origin: str | None, referer: str | None, host: str, allowed: tuple[str, ...],
                        has_token: bool, expected: str | None) -> None:
    assert origin_problem(origin, referer, host, allowed, has_token=has_token) == expected


# -- bot_reason -----------------------------------------------------------------

def _token(age: float) -> IssuedToken:
    return IssuedToken(nonce="n0nce", issued_at=NOW - age)


@pytest.mark.parametrize("fields, token, min_fill, expected", [
    pytest.param({"name": "Aigerim"}, None, 3.0, None, id="person-without-token"),
    pytest.param({"website": ""}, None, 3.0, None, id="honeypot-empty"),
    pytest.param({"website": "   "}, None, 3.0, None, id="honeypot-spaces-only-is-not-filled"),
    pytest.param({"website": "\t\n"}, None, 3.0, None, id="honeypot-whitespace-is-not-filled"),
    pytest.param({"website": "http://spam.example"}, None, 3.0, "honeypot", id="honeypot-filled"),
    pytest.param({"website": " x "}, _token(60), 3.0, "honeypot", id="honeypot-filled-slow"),
    pytest.param({"website": "x"}, _token(0), 3.0, "honeypot", id="honeypot-beats-too-fast"),
    pytest.param({}, _token(1), 3.0, "too-fast", id="too-fast"),
    pytest.param({}, _token(2.999), 3.0, "too-fast", id="just-too-fast"),
    pytest.param({}, _token(3), 3.0, None, id="exactly-slow-enough"),
    pytest.param({}, _token(45), 3.0, None, id="slow-enough"),
    pytest.param({}, _token(0), 0.0, None, id="no-minimum"),
    pytest.param({}, _token(-5), 3.0, "too-fast", id="token-from-the-future"),
    pytest.param({}, None, 600.0, None, id="no-token-no-time-check"),
])
def test_bot_reason(fields: dict[str, str], token: IssuedToken | None, min_fill: float,
                    expected: str | None) -> None:
    assert bot_reason(fields, token, "website", min_fill, NOW) == expected


def test_bot_reason_reads_the_configured_honeypot() -> None:
    assert bot_reason({"website": "x"}, None, "fax", 3.0, NOW) is None
    assert bot_reason({"fax": "x"}, None, "fax", 3.0, NOW) == "honeypot"


# -- cors_headers ---------------------------------------------------------------

SIMPLE = {"Access-Control-Allow-Origin": PROMO, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}
PREFLIGHT = {**SIMPLE, "Access-Control-Allow-Methods": "POST, OPTIONS",
             "Access-Control-Allow-Headers": "Content-Type, Accept", "Access-Control-Max-Age": "600"}


@pytest.mark.parametrize("origin, preflight, expected", [
    pytest.param(PROMO, False, SIMPLE, id="allowed"),
    pytest.param(PROMO, True, PREFLIGHT, id="allowed-preflight"),
    pytest.param("HTTPS://PROMO.EXAMPLE", False, SIMPLE, id="allowed-answered-lower-cased"),
    pytest.param("https://evil.example", False, {}, id="not-allowed"),
    pytest.param("https://evil.example", True, {}, id="not-allowed-preflight"),
    pytest.param("http://promo.example", True, {}, id="allowed-host-other-scheme"),
    pytest.param("https://landing.example", False, {}, id="own-site-needs-no-cors"),
    pytest.param(None, True, {}, id="absent"),
    pytest.param("null", True, {}, id="null"),
    pytest.param("", False, {}, id="empty"),
    pytest.param("https://user@promo.example", True, {}, id="user-info"),
    pytest.param("\x00garbage\n", True, {}, id="garbage"),
])
def test_cors_headers(origin: str | None, preflight: bool, expected: dict[str, str]) -> None:
    assert cors_headers(origin, (PROMO,), preflight=preflight) == expected


def test_cors_headers_without_allowed_origins_are_empty() -> None:
    assert cors_headers(PROMO, (), preflight=True) == {}


# -- client_bucket ----------------------------------------------------------------

@pytest.mark.parametrize("ip, expected", [
    pytest.param("198.51.100.7", "198.51.100.7", id="ipv4-as-it-is"),
    pytest.param("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64", id="ipv6-its-64"),
    pytest.param("2001:db8:1:2::1", "2001:db8:1:2::/64", id="ipv6-same-64-other-host"),
    pytest.param("2001:db8:1:3::1", "2001:db8:1:3::/64", id="ipv6-next-64-is-another-client"),
    pytest.param("2001:0DB8:0001:0002:0000:0000:0000:0001", "2001:db8:1:2::/64", id="ipv6-long-form"),
    pytest.param("::1", "::/64", id="ipv6-loopback"),
    pytest.param("0.0.0.0", "0.0.0.0", id="unknown-address"),
    pytest.param("not-an-ip", "not-an-ip", id="not-an-address"),
])
def test_client_bucket(ip: str, expected: str) -> None:
    assert client_bucket(ip) == expected


# -- ignored_proxy_hops -------------------------------------------------------------

@pytest.mark.parametrize("client_ip, forwarded_for, proxies, expected", [
    pytest.param("127.0.0.1", "203.0.113.9", 0, 1, id="nginx-on-loopback-proxies-forgotten"),
    pytest.param("10.0.0.2", "6.6.6.6, 203.0.113.9", 0, 2, id="private-peer-two-hops-ignored"),
    pytest.param("::1", "2001:db8::9", 0, 1, id="ipv6-loopback-peer"),
    pytest.param("fe80::1", "203.0.113.9", 0, 1, id="link-local-peer"),
    pytest.param("10.0.0.5", "203.0.113.9, 10.0.0.5", 1, 1, id="a-second-proxy-in-front-not-counted"),
    pytest.param("203.0.113.9", "203.0.113.9", 1, 0, id="proxy-trusted-client-public"),
    pytest.param("10.1.2.3", "10.1.2.3", 1, 0, id="customer-on-the-lan-behind-a-trusted-proxy"),
    pytest.param("127.0.0.1", None, 0, 0, id="no-header-local-visit"),
    pytest.param("127.0.0.1", "", 0, 0, id="empty-header"),
    pytest.param("127.0.0.1", " , ", 0, 0, id="header-without-hops"),
    pytest.param("8.8.8.8", "6.6.6.6", 0, 0, id="public-peer-may-send-anything"),
    pytest.param("2a00:1450:4001::1", "6.6.6.6", 0, 0, id="public-ipv6-peer"),
    pytest.param("0.0.0.0", "203.0.113.9", 0, 1, id="unknown-peer-behind-a-unix-socket"),
    pytest.param("garbage", "203.0.113.9", 0, 0, id="not-an-address"),
])
def test_ignored_proxy_hops(client_ip: str, forwarded_for: str | None, proxies: int, expected: int) -> None:
    assert ignored_proxy_hops(client_ip, forwarded_for, proxies) == expected


# -- visitor_scheme -------------------------------------------------------------

@pytest.mark.parametrize("url_scheme, proto, proxies, expected", [
    pytest.param("http", "https", 1, "https", id="tls-ends-at-the-trusted-proxy"),
    pytest.param("http", "HTTPS", 1, "https", id="case-ignored"),
    pytest.param("http", "https", 0, "http", id="never-without-a-trusted-proxy"),
    pytest.param("http", "http", 1, "http", id="proxy-says-http"),
    pytest.param("http", None, 1, "http", id="no-header"),
    pytest.param("http", "", 1, "http", id="empty-header"),
    pytest.param("http", "https, http", 1, "http", id="the-trusted-hop-is-the-right-most"),
    pytest.param("http", "https, http", 2, "https", id="two-proxies-the-second-from-the-right"),
    pytest.param("http", "https", 2, "http", id="fewer-values-than-proxies"),
    pytest.param("http", "gopher", 1, "http", id="not-a-web-scheme"),
    pytest.param("https", None, 0, "https", id="tls-to-leadkit-itself"),
    pytest.param("https", "http", 0, "https", id="header-ignored-either-way"),
])
def test_visitor_scheme(url_scheme: str, proto: str | None, proxies: int, expected: str) -> None:
    assert visitor_scheme(url_scheme, proto, proxies) == expected
