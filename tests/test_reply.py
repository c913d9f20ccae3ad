"""What the customer sees for each network answer; which autologin URLs are followed."""

from __future__ import annotations

import pytest

from leadkit.network import Answer
from leadkit.reply import operator_hint, reply_for, safe_redirect
from leadkit.texts import TEXTS

THANKS = "/leadkit/thanks"


@pytest.mark.parametrize(("url", "safe"), [
    pytest.param("https://cabinet.example/login?t=abc", True, id="https"),
    pytest.param("http://cabinet.example:8080/x", True, id="http-with-port"),
    pytest.param("javascript:alert(1)", False, id="javascript"),
    pytest.param("//evil.example/x", False, id="scheme-relative"),
    pytest.param("/local/path", False, id="relative"),
    pytest.param("https://user@evil.example/", False, id="user-info"),
    pytest.param("https://user:pw@evil.example/", False, id="user-password"),
    pytest.param("https://good.example/\r\nSet-Cookie: x=1", False, id="header-injection"),
    pytest.param("https://good.example/a b", False, id="space"),
    pytest.param("https:\\\\evil.example", False, id="backslashes"),
    pytest.param("ftp://files.example/", False, id="ftp"),
    pytest.param("https://", False, id="no-host"),
    pytest.param("https://good.example:99999/", False, id="bad-port"),
    pytest.param("data:text/html,<script>", False, id="data"),
    pytest.param("", False, id="empty"),
    pytest.param(None, False, id="none"),
    pytest.param("https://x.example/" + "a" * 3000, False, id="too-long"),
])
def test_safe_redirect(url: str | None, safe: bool) -> None:
    assert (safe_redirect(url) is not None) is safe
    if safe:
        assert safe_redirect(url) == url


@pytest.mark.parametrize(("answer", "status", "redirect"), [
    pytest.param(Answer("delivered", network_id="1", url="https://cab.example/a"), 303, "https://cab.example/a",
                 id="autologin"),
    pytest.param(Answer("delivered", network_id="1"), 303, THANKS, id="thanks"),
    pytest.param(Answer("delivered", network_id="1", url="javascript:alert(1)"), 303, THANKS,
                 id="hostile-url-thanks"),
])
def test_delivered_redirects(answer: Answer, status: int, redirect: str) -> None:
    reply = reply_for(answer, THANKS)
    assert (reply.status, reply.redirect, reply.ok) == (status, redirect, True)


@pytest.mark.parametrize(("answer", "status", "message", "errors"), [
    pytest.param(Answer("rejected", error="ban", message="Blacklisted."), 422, "Blacklisted.", {},
                 id="ban-with-message"),
    pytest.param(Answer("rejected", error="ban"), 422, TEXTS["network_ban"], {}, id="ban-friendly"),
    pytest.param(Answer("rejected", error="duplicate"), 422, TEXTS["network_duplicate"], {}, id="duplicate"),
    pytest.param(Answer("rejected", error="phone"), 422, TEXTS["form_has_errors"],
                 {"phone": TEXTS["network_phone"]}, id="phone-points-at-field"),
    pytest.param(Answer("rejected", error="nophone", message="No phone!"), 422, "No phone!",
                 {"phone": "No phone!"}, id="nophone-message"),
    pytest.param(Answer("rejected", error="email"), 422, TEXTS["form_has_errors"],
                 {"email": TEXTS["network_email"]}, id="email"),
    pytest.param(Answer("rejected", error="data"), 422, TEXTS["network_data"], {}, id="data"),
    pytest.param(Answer("rejected", error="key"), 503, TEXTS["network_unavailable"], {}, id="key-not-blamed"),
    pytest.param(Answer("rejected", error="traffic", message="Offer paused"), 503, "Offer paused", {},
                 id="traffic-with-message"),
    pytest.param(Answer("rejected", error="something-new"), 503, TEXTS["network_unavailable"], {},
                 id="unknown-code"),
    pytest.param(Answer("retryable", error="timeout"), 503, TEXTS["network_retry"], {}, id="retryable"),
])
def test_refusals_show_the_form_again(answer: Answer, status: int, message: str, errors: dict[str, str]) -> None:
    reply = reply_for(answer, THANKS)
    assert (reply.status, reply.message, dict(reply.errors), reply.ok) == (status, message, errors, False)


@pytest.mark.parametrize(("code", "says"), [
    ("key", "network.key"), ("badflow", "offer.flow"), ("offer", "offer"), ("no-api", "enable"),
])
def test_operator_hints_say_what_to_fix(code: str, says: str) -> None:
    assert says in operator_hint(code)


def test_customer_errors_need_no_operator() -> None:
    assert operator_hint("phone") == operator_hint("ban") == operator_hint(None) == ""
