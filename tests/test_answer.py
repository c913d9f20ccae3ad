"""What the network's answer means, for every shape a misbehaving network can give it."""

from __future__ import annotations

import json

import pytest

from leadkit.answer import classify, clean_text, operator_hint


def body(**fields: object) -> str:
    return json.dumps(fields)


def storable(text: str | None) -> bool:
    """Text SQLite (UTF-8) can store and a log line can carry as one line."""
    if text is None:
        return True
    text.encode("utf-8")  # raises for a lone surrogate
    return text.isprintable()


@pytest.mark.parametrize(("status", "text", "outcome", "error"), [
    pytest.param(200, "[" * 100_000 + "]" * 100_000, "retryable", "not-json", id="nested-100000-deep"),
    pytest.param(200, '{"a":' * 100_000 + "1" + "}" * 100_000, "retryable", "not-json", id="objects-100000-deep"),
    pytest.param(200, body(status="ok", id={"x": 1}), "delivered", None, id="id-is-an-object"),
    pytest.param(200, body(status="ok", id=[1, 2], url=["https://x.example/"]), "delivered", None, id="lists"),
    pytest.param(200, body(status="error", error=["key"]), "rejected", "unknown", id="error-is-a-list"),
    pytest.param(200, body(status="error", error=True), "rejected", "unknown", id="error-is-true"),
    pytest.param(200, body(status="error", error="KEY"), "rejected", "key", id="upper-case-code"),
    pytest.param(200, body(status="error", error="bad code\nFAKE LOG LINE"), "rejected", "unknown",
                 id="code-with-newline"),
    pytest.param(200, body(status="error", error_text="offer"), "rejected", "offer", id="old-engine-error-text"),
    pytest.param(200, body(status="error", error="noid"), "rejected", "noid", id="noid"),
    pytest.param(200, body(status="error", error="app"), "rejected", "app", id="app"),
    pytest.param(200, body(status="error", error="func"), "rejected", "func", id="func"),
    pytest.param(404, "<html><h1>Not Found</h1></html>", "rejected", "http-404", id="html-404-from-the-api-host"),
    pytest.param(403, "<html>Forbidden by the firewall</html>", "rejected", "http-403", id="html-403"),
    pytest.param(200, body(status="OK", id=1), "rejected", "unknown", id="status-not-exactly-ok"),
    pytest.param(200, "null", "retryable", "not-json", id="json-null"),
    pytest.param(200, '"ok"', "retryable", "not-json", id="json-string"),
])
def test_nothing_the_network_sends_raises(status: int, text: str, outcome: str, error: str | None) -> None:
    answer = classify(status, {}, text)
    assert (answer.outcome, answer.error) == (outcome, error)
    for value in (answer.network_id, answer.uid, answer.url, answer.error, answer.message, answer.info,
                  answer.detail):
        assert storable(value)


def test_a_lone_surrogate_becomes_storable_text() -> None:
    answer = classify(200, {}, '{"status": "ok", "id": "\\udcff", "url": "https://c.example/\\ud800"}')
    assert answer.delivered
    assert storable(answer.network_id) and storable(answer.url)
    assert "\udcff" not in (answer.network_id or "")


def test_wrong_types_are_dropped_not_stringified() -> None:
    answer = classify(200, {}, body(status="ok", id={"x": 1}, uid=None, url=12.5, message=["a"]))
    assert (answer.network_id, answer.uid, answer.message) == (None, None, None)
    refused = classify(200, {}, body(status="error", error="phone", message={"text": "x"}, bad="phone", info=[1]))
    assert (refused.message, refused.bad, refused.info) == (None, (), None)


def test_text_the_customer_or_the_log_would_read_has_no_control_characters() -> None:
    refused = classify(200, {}, body(status="error", error="ban", message="Blocked.\r\nSet-Cookie: x=1\x00",
                                     bad=["ip\n", "phone"], info="a\tb"))
    assert refused.message == "Blocked. Set-Cookie: x=1"
    assert refused.bad == ("ip", "phone") and refused.info == "a b"
    assert "\n" not in refused.detail and "\r" not in refused.detail


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param("12", 12.0, id="ascii-digits"),
    pytest.param("\u0661\u0662", None, id="arabic-indic-digits"),
    pytest.param("\u00b2", None, id="superscript-two"),
    pytest.param("\uff11\uff12", None, id="fullwidth-digits"),
    pytest.param("1" * 100, None, id="absurdly-long"),
    pytest.param("-5", None, id="negative"),
    pytest.param("1e9", None, id="exponent"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 \u00a0GMT", None, id="non-ascii-date"),
])
def test_retry_after_takes_plain_ascii_digits_only(header: str, expected: float | None) -> None:
    assert classify(503, {"Retry-After": header}, "").retry_after == expected


@pytest.mark.parametrize(("status", "text", "says"), [
    pytest.param(200, body(status="error", error="noid"), "network.dialect", id="noid-names-the-dialect"),
    pytest.param(200, body(status="error", error="app"), "network.api", id="app-names-the-api"),
    pytest.param(200, body(status="error", error="func"), "network.role", id="func-names-the-role"),
    pytest.param(404, "<html>Not Found</html>", "network.api", id="html-4xx-names-the-api"),
    pytest.param(200, body(status="error", error="gremlins"), "does not know", id="unknown-code"),
])
def test_site_problems_are_the_operators_with_the_fix(status: int, text: str, says: str) -> None:
    answer = classify(status, {}, text)
    assert answer.rejected and answer.site_problem
    assert says in operator_hint(answer.error)


@pytest.mark.parametrize("code", ["phone", "nophone", "email", "data", "ban", "duplicate"])
def test_the_customers_own_errors_are_not_site_problems(code: str) -> None:
    answer = classify(200, {}, body(status="error", error=code))
    assert answer.rejected and not answer.site_problem and operator_hint(code) == ""


def test_bad_keeps_the_fields_the_network_missed() -> None:
    answer = classify(200, {}, body(status="error", error="data", bad=["ip", "phone"]))
    assert answer.bad == ("ip", "phone") and "['ip', 'phone']" in answer.detail


@pytest.mark.parametrize(("value", "cleaned"), [
    ("plain", "plain"), (42, "42"), (1.5, "1.5"), (True, None), (None, None), ({"a": 1}, None), ("", None),
    ("  two\n\nlines  ", "two lines"), ("\u2028sep\u2029", "sep"), ("x" * 5000, "x" * 2000),
])
def test_clean_text(value: object, cleaned: str | None) -> None:
    assert clean_text(value) == cleaned


@pytest.mark.parametrize(("status", "headers", "text", "outcome", "error"), [
    pytest.param(200, {}, body(status="ok", id=1234), "delivered", None, id="ok"),
    pytest.param(200, {}, body(status="ok", id=1, uid="9", url="https://cab.example/x"), "delivered", None,
                 id="ok-ext-autologin"),
    pytest.param(200, {}, body(status="error", error="db"), "retryable", "db", id="db"),
    pytest.param(200, {}, body(status="error", error="request-error"), "retryable", "request-error",
                 id="request-error"),
    pytest.param(200, {}, body(status="error", error="ban", message="Banned"), "rejected", "ban", id="ban"),
    pytest.param(200, {}, body(status="error", error="duplicate"), "rejected", "duplicate", id="duplicate"),
    pytest.param(200, {}, body(status="error", error="key"), "rejected", "key", id="bad-key"),
    pytest.param(200, {}, body(status="error", error="nophone", bad=["phone"]), "rejected", "nophone",
                 id="nophone"),
    pytest.param(400, {}, body(status="error"), "rejected", "http-400", id="4xx-json-without-code"),
    pytest.param(200, {}, body(status="weird"), "rejected", "unknown", id="unknown-status"),
    pytest.param(502, {}, "<html>bad gateway</html>", "retryable", "http-502", id="502"),
    pytest.param(500, {}, body(status="ok", id=1), "retryable", "http-500", id="500-even-with-ok-body"),
    pytest.param(429, {"Retry-After": "7"}, "", "retryable", "http-429", id="429"),
    pytest.param(200, {}, "<html>oops</html>", "retryable", "not-json", id="html-body"),
    pytest.param(200, {}, b"\xff\xfe garbage", "retryable", "not-json", id="binary-body"),
    pytest.param(200, {}, "[1, 2]", "retryable", "not-json", id="json-list"),
    pytest.param(200, {}, "", "retryable", "not-json", id="empty"),
])
def test_classify(status: int, headers: dict[str, str], text: str | bytes, outcome: str, error: str | None) -> None:
    answer = classify(status, headers, text)
    assert (answer.outcome, answer.error) == (outcome, error)


def test_classify_keeps_what_the_customer_and_operator_need() -> None:
    ok = classify(200, {}, body(status="ok", id=77, uid="u-5", url="https://cab.example/a?t=1"))
    assert (ok.network_id, ok.uid, ok.url) == ("77", "u-5", "https://cab.example/a?t=1")
    refused = classify(200, {}, body(status="error", error="data", bad=["ip"], info="x", message="Fix it"))
    assert (refused.message, refused.bad, refused.info) == ("Fix it", ("ip",), "x")
    assert "['ip']" in refused.detail


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param("30", 30.0, id="seconds"),
    pytest.param("999999", 3600.0, id="capped"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-in-the-past"),
    pytest.param("soon", None, id="garbage"),
])
def test_retry_after(header: str, expected: float | None) -> None:
    assert classify(503, {"Retry-After": header}, "").retry_after == expected


@pytest.mark.parametrize(("code", "says"), [
    ("key", "network.key"), ("badflow", "offer.flow"), ("offer", "offer"), ("no-api", "enable"),
])
def test_operator_hints_say_what_to_fix(code: str, says: str) -> None:
    assert says in operator_hint(code)


def test_customer_errors_need_no_operator() -> None:
    assert operator_hint("phone") == operator_hint("ban") == operator_hint(None) == ""


@pytest.mark.parametrize(("bad", "site"), [
    pytest.param(["ip"], True, id="ip-is-leadkits"),
    pytest.param(["us", "sub1"], True, id="tags-under-names-the-network-does-not-read"),
    pytest.param(["phone"], False, id="the-customers-phone"),
    pytest.param(["ip", "name"], False, id="one-of-them-the-customers"),
    pytest.param([], False, id="no-list"),
])
def test_a_data_refusal_naming_only_leadkits_fields_is_a_site_problem(bad: list[str], site: bool) -> None:
    answer = classify(200, {}, body(status="error", error="data", bad=bad))
    assert answer.site_problem is site
    assert ("network.dialect" in operator_hint(answer.error, answer.bad)) is site
