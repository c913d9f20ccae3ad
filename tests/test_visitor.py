"""Tests for leadkit.visitor: the client IP behind proxies, the mobile flag, the Visitor bundle."""

from __future__ import annotations

import pytest

from leadkit.mobile import is_mobile_agent
from leadkit.visitor import (
    MAX_USER_AGENT_LENGTH,
    Visitor,
    client_ip,
    is_mobile,
    make_visitor,
    normalize_ip,
)

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/124.0.6367.82 Mobile Safari/537.36")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
WINDOWS_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
MACOS_SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/17.4 Safari/605.1.15")


# -- client_ip ---------------------------------------------------------------------


@pytest.mark.parametrize(("remote_addr", "forwarded_for", "trusted_proxies", "expected"), [
    pytest.param("203.0.113.7", None, 0, "203.0.113.7", id="direct"),
    pytest.param("203.0.113.7", "6.6.6.6", 0, "203.0.113.7", id="no-proxies-ignores-spoofed-header"),
    pytest.param("203.0.113.7", "6.6.6.6, 7.7.7.7", 0, "203.0.113.7", id="no-proxies-ignores-chain"),
    pytest.param("10.0.0.1", "198.51.100.9", 1, "198.51.100.9", id="one-proxy-one-hop"),
    pytest.param("10.0.0.1", "6.6.6.6, 198.51.100.9", 1, "198.51.100.9", id="one-proxy-takes-right-most"),
    pytest.param("10.0.0.1", "6.6.6.6, 198.51.100.9, 10.0.0.2", 2, "198.51.100.9",
                 id="two-proxies-take-second-from-right"),
    pytest.param("10.0.0.1", "198.51.100.9", 2, "10.0.0.1", id="fewer-hops-than-proxies"),
    pytest.param("10.0.0.1", "", 1, "10.0.0.1", id="empty-header"),
    pytest.param("10.0.0.1", None, 1, "10.0.0.1", id="no-header"),
    pytest.param("10.0.0.1", "6.6.6.6, unknown", 1, "10.0.0.1", id="invalid-hop"),
    pytest.param("10.0.0.1", "6.6.6.6,", 1, "10.0.0.1", id="empty-hop"),
    pytest.param("10.0.0.1", "6.6.6.6, 999.1.1.1", 1, "10.0.0.1", id="out-of-range-hop"),
    pytest.param("10.0.0.1", "  6.6.6.6  ,   198.51.100.9  ", 2, "6.6.6.6", id="whitespace-around-hops"),
    pytest.param("10.0.0.1", "6.6.6.6,198.51.100.9", 1, "198.51.100.9", id="no-space-after-comma"),
    pytest.param("10.0.0.1", "198.51.100.9:4711", 1, "198.51.100.9", id="hop-with-port"),
    pytest.param("10.0.0.1", "[2001:db8::1]:443", 1, "2001:db8::1", id="hop-bracketed-ipv6-with-port"),
    pytest.param("10.0.0.1", "::ffff:198.51.100.9", 1, "198.51.100.9", id="hop-ipv4-mapped"),
    pytest.param("[::1]", None, 0, "::1", id="bracketed-ipv6"),
    pytest.param("[::1]:8080", None, 0, "::1", id="bracketed-ipv6-with-port"),
    pytest.param("2001:DB8:0:0::1", None, 0, "2001:db8::1", id="ipv6-canonical"),
    pytest.param("203.0.113.7:51234", None, 0, "203.0.113.7", id="ipv4-with-port"),
    pytest.param("::ffff:203.0.113.7", None, 0, "203.0.113.7", id="ipv4-mapped-ipv6"),
    pytest.param("garbage", None, 0, "0.0.0.0", id="garbage-remote-addr"),
    pytest.param("01.2.3.4", None, 0, "0.0.0.0", id="leading-zero-remote-addr"),
    pytest.param("", None, 0, "0.0.0.0", id="empty-remote-addr"),
    pytest.param(None, None, 0, "0.0.0.0", id="no-remote-addr"),
    pytest.param(None, "garbage", 1, "0.0.0.0", id="nothing-usable"),
    pytest.param("10.0.0.1", "6.6.6.6", -1, "10.0.0.1", id="negative-proxies-is-none"),
])
def test_client_ip(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int,
                   expected: str) -> None:
    assert client_ip(remote_addr, forwarded_for, trusted_proxies) == expected


def test_leftmost_hop_is_never_trusted() -> None:
    # The visitor writes the left of the header; with one proxy only the right-most hop counts.
    for spoofed in ("1.1.1.1", "1.1.1.1, 2.2.2.2", "1.1.1.1, 2.2.2.2, 3.3.3.3"):
        assert client_ip("10.0.0.1", f"{spoofed}, 198.51.100.9", 1) == "198.51.100.9"


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(" 198.51.100.9 ", "198.51.100.9", id="surrounding-space"),
    pytest.param("[2001:db8::1]", "2001:db8::1", id="brackets"),
    pytest.param("::ffff:c633:6409", "198.51.100.9", id="mapped-hex"),
    pytest.param("[::1", None, id="unclosed-bracket"),
    pytest.param("1.2.3", None, id="short-ipv4"),
    pytest.param("example.com", None, id="hostname"),
    pytest.param("", None, id="empty"),
    pytest.param(None, None, id="none"),
])
def test_normalize_ip(value: str | None, expected: str | None) -> None:
    assert normalize_ip(value) == expected


# -- is_mobile ---------------------------------------------------------------------


@pytest.mark.parametrize(("user_agent", "expected"), [
    pytest.param(IPHONE, True, id="iphone-safari"),
    pytest.param(ANDROID_PHONE, True, id="android-chrome-phone"),
    pytest.param(IPAD, True, id="ipad"),
    pytest.param(ANDROID_TABLET, True, id="android-tablet"),
    pytest.param(WINDOWS_CHROME, False, id="windows-chrome"),
    pytest.param(MACOS_SAFARI, False, id="macos-safari"),
    pytest.param("curl/8.5.0", False, id="curl"),
    pytest.param("", False, id="empty"),
    pytest.param(None, False, id="none"),
])
def test_is_mobile(user_agent: str | None, expected: bool) -> None:
    assert is_mobile(user_agent) is expected


@pytest.mark.parametrize(("user_agent", "expected"), [
    pytest.param("\x00\xff(((((((((((((((((", False, id="control-and-brackets"),
    pytest.param("Mozilla/5.0 (" * 10_000, False, id="unclosed-brackets-repeated"),
    pytest.param("x" * 100_000, False, id="100-kb"),
    pytest.param("\U0001f642" * 50_000, False, id="100-kb-emoji"),
    pytest.param("".join(chr(c) for c in range(0x20, 0x3000, 7)), False, id="unicode-soup"),
    pytest.param("Mozilla/5.0 (Linux; Android " + "9" * 100_000, True, id="android-huge-version"),
])
def test_is_mobile_never_raises_on_garbage(user_agent: str, expected: bool) -> None:
    assert is_mobile(user_agent) is expected


def test_a_mobile_agent_padded_to_100_kb_is_still_read() -> None:
    assert is_mobile(IPHONE + " " + "x" * 100_000) is True


def test_cache_is_bounded_and_keyed_on_the_capped_text() -> None:
    maxsize = is_mobile_agent.cache_info().maxsize
    assert maxsize is not None and 0 < maxsize <= 100_000

    is_mobile_agent.cache_clear()
    is_mobile("z" * 100_000 + "a")
    is_mobile("z" * 100_000 + "b")  # the same first 512 characters: one cache entry
    info = is_mobile_agent.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 1, 1)


def test_a_parser_failure_reads_as_not_mobile(monkeypatch: pytest.MonkeyPatch) -> None:
    import leadkit.mobile

    def explode(user_agent: str) -> None:
        raise RuntimeError("catastrophic backtracking")

    monkeypatch.setattr(leadkit.mobile, "_operating_system", explode)
    is_mobile_agent.cache_clear()
    try:
        assert is_mobile(ANDROID_PHONE) is False
    finally:
        is_mobile_agent.cache_clear()  # do not leave the poisoned answer for other tests


# -- make_visitor ------------------------------------------------------------------


def test_make_visitor_bundles_the_facts() -> None:
    visitor = make_visitor("10.0.0.1", "6.6.6.6, 198.51.100.9", IPHONE, 1)

    assert visitor == Visitor(ip="198.51.100.9", user_agent=IPHONE, mobile=True)


@pytest.mark.parametrize(("user_agent", "expected"), [
    pytest.param("curl/8.5.0", "curl/8.5.0", id="plain"),
    pytest.param("Mozilla\x00/5.0\r\n(X11)\t\x1b[31m\x7f\x85", "Mozilla/5.0(X11)[31m", id="non-printable-stripped"),
    pytest.param("Браузер/1.0 \u2603", "Браузер/1.0 \u2603", id="printable-unicode-kept"),
    pytest.param("a" * 1000, "a" * MAX_USER_AGENT_LENGTH, id="capped"),
    pytest.param("\x00" * 600 + "b" * 600, "b" * MAX_USER_AGENT_LENGTH, id="capped-after-stripping"),
    pytest.param(None, "", id="none"),
])
def test_make_visitor_cleans_the_user_agent(user_agent: str | None, expected: str) -> None:
    visitor = make_visitor("203.0.113.7", None, user_agent, 0)

    assert visitor.user_agent == expected
    assert visitor.ip == "203.0.113.7"


def test_make_visitor_mobile_flag_uses_the_cleaned_agent() -> None:
    dirty_iphone = IPHONE.replace("iPhone", "iPh\x00one", 1).replace("Mobile", "Mob\nile")

    visitor = make_visitor(None, None, dirty_iphone, 0)

    assert visitor.user_agent == IPHONE
    assert visitor.mobile is True
    assert visitor.ip == "0.0.0.0"


def test_visitor_is_frozen() -> None:
    visitor = make_visitor("203.0.113.7", None, "curl/8.5.0", 0)

    with pytest.raises(AttributeError):
        visitor.ip = "6.6.6.6"  # type: ignore[misc]
