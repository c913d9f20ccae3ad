"""What the customer sees for each settled lead; which autologin URLs are followed."""

from __future__ import annotations

from typing import Any

import pytest

from leadkit import LeadKit
from leadkit.journal import Entry
from leadkit.reply import refusal, refused, reply_for, safe_redirect
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.texts import TEXTS
from support import BrowserClient, make_config

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
    pytest.param("https://x.example/" + "\u0436" * 400, False, id="too-long-once-percent-encoded"),
    pytest.param("https://" + "a" * 64 + ".example/", False, id="dns-label-too-long"),
    pytest.param("https://" + "\u044f" * 64 + ".example/", False, id="idna-label-too-long"),
    pytest.param("https://a..example/", False, id="empty-dns-label"),
    pytest.param("https://cab.example/\u2028next", False, id="line-separator"),
    pytest.param("https://cab.example/\u202egnp.exe", False, id="bidi-override"),
    pytest.param("https://cab.example/\u00a0x", False, id="no-break-space"),
    pytest.param("https://cab.example/\x85x", False, id="c1-control"),
    pytest.param("https://cab.example/\x7f", False, id="delete"),
    pytest.param("https://%65vil.example/", False, id="percent-encoded-host"),
    pytest.param("https://[::1/", False, id="broken-ipv6"),
    pytest.param("https://cab.example:port/", False, id="port-not-a-number"),
])
def test_safe_redirect(url: str | None, safe: bool) -> None:
    assert (safe_redirect(url) is not None) is safe
    if safe:
        assert safe_redirect(url) == url


@pytest.mark.parametrize(("url", "location"), [
    pytest.param("https://\u043a\u0430\u0431\u0438\u043d\u0435\u0442.\u0440\u0444/\u0432\u0445\u043e\u0434?t=\u0451",
                 "https://xn--80acmlhv0b.xn--p1ai/%D0%B2%D1%85%D0%BE%D0%B4?t=%D1%91", id="cyrillic-host-and-path"),
    pytest.param("https://cab.example/login?name=\u0410\u0439\u0433\u0435\u0440\u0438\u043c#\u00e9",
                 "https://cab.example/login?name=%D0%90%D0%B9%D0%B3%D0%B5%D1%80%D0%B8%D0%BC#%C3%A9",
                 id="non-ascii-query-and-fragment"),
    pytest.param("https://Cab.Example/a", "https://cab.example/a", id="upper-case-host"),
    pytest.param("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x", id="ipv6-literal"),
    pytest.param('https://cab.example/a"<b>', "https://cab.example/a%22%3Cb%3E", id="quotes-and-brackets-encoded"),
])
def test_a_url_is_followed_in_the_ascii_form_a_location_header_takes(url: str, location: str) -> None:
    assert safe_redirect(url) == location
    assert location.isascii() and safe_redirect(location) == location, "already ASCII: left as it is"


@pytest.mark.parametrize(("hosts", "followed"), [
    pytest.param(["xn--80acmlhv0b.xn--p1ai"], True, id="the-idna-host-listed"),
    pytest.param(["*.xn--p1ai"], True, id="the-idna-domain-listed"),
    pytest.param(["cab.example"], False, id="another-host-listed"),
])
def test_listed_hosts_are_compared_with_the_host_the_browser_visits(hosts: list[str], followed: bool) -> None:
    url = "https://\u043a\u0430\u0431\u0438\u043d\u0435\u0442.\u0440\u0444/"
    assert (safe_redirect(url, hosts) == "https://xn--80acmlhv0b.xn--p1ai/") is followed


@pytest.mark.parametrize(("entry", "redirect"), [
    pytest.param(lead("delivered", network_id="1", redirect="https://cab.example/a"), "https://cab.example/a",
                 id="autologin"),
    pytest.param(lead("delivered", network_id="1"), THANKS, id="thanks"),
    pytest.param(lead("delivered", network_id="1", redirect="javascript:alert(1)"), THANKS, id="hostile-url-thanks"),
    pytest.param(lead("pending", last_error="timeout"), THANKS, id="pending-is-safe-in-the-journal"),
    pytest.param(lead("dead"), THANKS, id="dead"),
    pytest.param(lead("rejected", error_code="duplicate"), THANKS, id="first-duplicate-the-network-has-the-order"),
    pytest.param(lead("rejected", error_code="duplicate", error_message="Already ordered"), THANKS,
                 id="first-duplicate-with-a-message"),
    pytest.param(lead("delivered", network_id="1", redirect="https://" + "a" * 64 + ".example/"), THANKS,
                 id="unencodable-url-thanks"),
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


def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"landing"]


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_first_duplicate_is_a_thank_you_and_the_journal_keeps_the_truth(network: SandboxNetwork,
                                                                          accept: str) -> None:
    order = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}
    # The customer ordered on another landing of the same offer: the network has the order already.
    with LeadKit(landing, make_config(api=network.url)) as other_landing:
        assert BrowserClient(other_landing).post("/leadkit/order", data=order).status_code == 303
    with LeadKit(landing, make_config(api=network.url)) as kit:
        response = BrowserClient(kit).post("/leadkit/order", data=order, headers={"Accept": accept})
        (entry,) = kit.journal.entries()
    if accept == "application/json":
        assert (response.status_code, response.json) == (200, {"status": "ok", "redirect": THANKS})
    else:
        assert (response.status_code, response.headers["Location"]) == (303, THANKS)
    assert [lead.answer.get("error") for lead in network.leads] == [None, "duplicate"]
    assert (entry.state, entry.error_code) == ("rejected", "duplicate")


def test_a_data_refusal_of_leadkits_own_fields_does_not_blame_the_customer() -> None:
    entry = Entry(id="1", call="wm/push", payload={}, state="rejected", error_code="data", bad=("utm_source",))
    assert reply_for(entry, "/leadkit/thanks").status == 503
    entry = Entry(id="1", call="wm/push", payload={}, state="rejected", error_code="data", bad=("phone",))
    assert reply_for(entry, "/leadkit/thanks").status == 422


@pytest.mark.parametrize(("code", "bad", "status"), [
    pytest.param("duplicate", (), 303, id="duplicate-is-thanks"),
    pytest.param("data", ("ip",), 503, id="leadkits-own-fields"),
    pytest.param("data", ("phone",), 422, id="the-customers-field"),
    pytest.param("ban", (), 422, id="ban"),
    pytest.param("key", (), 503, id="site-problem"),
])
def test_refused_is_the_same_for_a_journalled_lead_and_a_direct_send(code: str, bad: tuple[str, ...],
                                                                      status: int) -> None:
    direct = refused(code, None, "/leadkit/thanks", bad)
    journalled = reply_for(Entry(id="1", call="wm/push", payload={}, state="rejected", error_code=code, bad=bad),
                           "/leadkit/thanks")
    assert direct == journalled and direct.status == status
