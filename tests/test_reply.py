"""What the customer sees for each settled lead; which autologin URLs are followed."""

from __future__ import annotations

import pytest

from leadkit.journal import Entry
from leadkit.reply import refusal, reply_for, safe_redirect
from leadkit.texts import TEXTS

THANKS = "/leadkit/thanks"


def lead(state: str, **recorded: str) -> Entry:
    return Entry(id="1", call="wm/push", payload={}, state=state, **recorded)  # type: ignore[arg-type]


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


@pytest.mark.parametrize(("entry", "redirect"), [
    pytest.param(lead("delivered", network_id="1", redirect="https://cab.example/a"), "https://cab.example/a",
                 id="autologin"),
    pytest.param(lead("delivered", network_id="1"), THANKS, id="thanks"),
    pytest.param(lead("delivered", network_id="1", redirect="javascript:alert(1)"), THANKS, id="hostile-url-thanks"),
    pytest.param(lead("pending", last_error="timeout"), THANKS, id="pending-is-safe-in-the-journal"),
    pytest.param(lead("dead"), THANKS, id="dead"),
])
def test_settled_and_kept_leads_redirect(entry: Entry, redirect: str) -> None:
    reply = reply_for(entry, THANKS)
    assert (reply.status, reply.redirect, reply.ok) == (303, redirect, True)


def test_autologin_only_to_the_listed_hosts() -> None:
    entry = lead("delivered", redirect="https://cab.example/a")
    assert reply_for(entry, THANKS, ["*.network.example"]).redirect == THANKS
    assert reply_for(entry, THANKS, ["cab.example"]).redirect == "https://cab.example/a"


@pytest.mark.parametrize(("code", "text", "status", "message", "errors"), [
    pytest.param("ban", "Blacklisted.", 422, "Blacklisted.", {},
                 id="ban-with-message"),
    pytest.param("ban", None, 422, TEXTS["network_ban"], {}, id="ban-friendly"),
    pytest.param("duplicate", None, 422, TEXTS["network_duplicate"], {}, id="duplicate"),
    pytest.param("phone", None, 422, TEXTS["form_has_errors"],
                 {"phone": TEXTS["network_phone"]}, id="phone-points-at-field"),
    pytest.param("nophone", "No phone!", 422, "No phone!",
                 {"phone": "No phone!"}, id="nophone-message"),
    pytest.param("email", None, 422, TEXTS["form_has_errors"],
                 {"email": TEXTS["network_email"]}, id="email"),
    pytest.param("data", None, 422, TEXTS["network_data"], {}, id="data"),
    pytest.param("key", None, 503, TEXTS["network_unavailable"], {}, id="key-not-blamed"),
    pytest.param("traffic", "Offer paused", 503, "Offer paused", {},
                 id="traffic-with-message"),
    pytest.param("something-new", None, 503, TEXTS["network_unavailable"], {},
                 id="unknown-code"),
    pytest.param(None, None, 503, TEXTS["network_unavailable"], {}, id="no-code"),
])
def test_refusals_show_the_form_again(code: str | None, text: str | None, status: int, message: str,
                                      errors: dict[str, str]) -> None:
    reply = refusal(code, text)
    assert (reply.status, reply.message, dict(reply.errors), reply.ok) == (status, message, errors, False)
    assert reply_for(lead("rejected", error_code=code, error_message=text), THANKS) == reply  # type: ignore[arg-type]
