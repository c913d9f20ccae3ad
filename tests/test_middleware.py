"""Routing through ``LeadKit`` with werkzeug's test client; the sandbox network is the upstream."""

from __future__ import annotations

import gzip
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from support import BrowserClient as Client
from hypothesis import example, given, settings, strategies as st
from werkzeug.http import dump_cookie, parse_cookie

from failing_journal import FailingJournal
from leadkit import LeadKit
from leadkit.journal import SQLiteJournal
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.formtoken import TOKEN_FIELD
from leadkit.texts import TEXTS
from leadkit.visits import Visits
from support import HEALTH_TOKEN, KEY, SECRET, make_config, wait_for

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}
OPERATOR = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The wrapped app: echoes the tags leadkit found and embeds the form."""
    kit = environ.get("leadkit")
    body = json.dumps({"tags": environ.get("leadkit.tags"), "path": environ["PATH_INFO"]})
    if environ["PATH_INFO"] == "/with-form" and kit:
        body = str(kit.form_html(environ))
    start_response("200 OK", [("Content-Type", "text/html"), ("X-App", "landing")])
    return [body.encode()]


def make_client(sandbox: SandboxNetwork, role: str = "wm", dialect: str = "dalead", **sections: Any) -> Client:
    config = make_config(role, dialect, api=sandbox.url, **sections)
    return Client(LeadKit(landing, config))


@pytest.fixture()
def client(network: SandboxNetwork) -> Client:
    """The middleware without its background relay: a lead a test leaves pending stays pending
    (the relay's own test below starts one)."""
    return make_client(network, journal={"relay": False})


# -- passing through ------------------------------------------------------------

def test_other_paths_reach_the_app_untouched(client: Client) -> None:
    response = client.get("/anything/here")
    assert response.status_code == 200 and response.headers["X-App"] == "landing"
    assert "Set-Cookie" not in response.headers
    assert json.loads(response.get_data())["path"] == "/anything/here"


def test_tags_in_the_query_are_kept_in_a_signed_cookie(client: Client) -> None:
    response = client.get("/?utm_source=fb&sub1=click-1&other=x")
    assert json.loads(response.get_data())["tags"] == {"utm_source": "fb", "sub1": "click-1"}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("leadkit_tags=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie and "Path=/" in cookie and "Max-Age=2592000" in cookie
    again = client.get("/next-page")
    assert json.loads(again.get_data())["tags"] == {"utm_source": "fb", "sub1": "click-1"}


_COOKIE_NAMES = st.sampled_from(["leadkit_tags", "xleadkit_tags", "leadkit_tags2", "sid", "_fbp", "a"])
_COOKIE_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters=";"), max_size=12)


@settings(max_examples=300, deadline=None)
@example(pairs=[("leadkit_tags", '0"'), ("leadkit_tags", "GOOD")], spaces="; ")  # werkzeug skips the first
@given(pairs=st.lists(st.tuples(_COOKIE_NAMES, _COOKIE_VALUES | st.just("GOOD")), max_size=5),
       spaces=st.sampled_from(["; ", ";", ";  ", " ; "]))
def test_the_tag_cookie_is_found_in_a_header_as_werkzeug_finds_it(pairs: list[tuple[str, str]], spaces: str) -> None:
    """leadkit picks its cookie out of the header itself (werkzeug's parse_cookie read every cookie
    of the site on every request): what it finds is what parse_cookie gives."""
    visits = VISITS.setdefault("wm", Visits(make_config("wm", "dalead")))
    good = visits.tag_cookie.dumps({"utm_source": "fb"})
    header = spaces.join(f"{name}={good if value == 'GOOD' else value}" for name, value in pairs)
    expected = visits.tag_cookie.loads(parse_cookie(header).get("leadkit_tags"))
    assert visits.cookie_values({"HTTP_COOKIE": header}) == expected


VISITS: dict[str, Visits] = {}  # made once: hypothesis runs the test's body hundreds of times


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_cookie_header_is_what_werkzeug_would_write(client: Client, scheme: str) -> None:
    """leadkit writes its Set-Cookie itself (werkzeug's dump_cookie cost a fifth of a tagged visit):
    the same bytes, Expires to the second."""
    kit = client.application
    for _ in range(3):  # the same second before and after, or try again
        before = int(time.time())
        header = kit.visits.tag_cookie_header({"wsgi.url_scheme": scheme}, {"utm_source": "fb"}, {})
        if int(time.time()) == before:
            break
    value = header.split(";", 1)[0].split("=", 1)[1]
    expected = dump_cookie("leadkit_tags", value, max_age=2592000, expires=before + 2592000, path="/",
                           httponly=True, samesite="Lax", secure=scheme == "https")
    assert header == expected


def test_a_visit_whose_tags_the_cookie_holds_already_sets_no_cookie(client: Client) -> None:
    assert "Set-Cookie" in client.get("/?utm_source=fb&sub1=one&fbclid=IwAR-1").headers
    again = client.get("/other?utm_source=fb&sub1=one&fbclid=IwAR-1")
    assert json.loads(again.get_data())["tags"] == {"utm_source": "fb", "sub1": "one"}
    assert "Set-Cookie" not in again.headers, "the same tags and click ids: the cookie is not signed again"
    assert "Set-Cookie" in client.get("/?utm_source=fb&sub1=two").headers, "a new click's tags are kept"
    assert "Set-Cookie" in client.get("/?utm_source=fb&sub1=two&fbclid=IwAR-2").headers, "and a new click id"


def test_last_click_wins(client: Client) -> None:
    client.get("/?utm_source=fb&sub1=one")
    client.get("/?utm_source=google")
    assert json.loads(client.get("/").get_data())["tags"] == {"utm_source": "google", "sub1": "one"}


def test_cookie_is_secure_on_https(client: Client) -> None:
    response = client.get("/?utm_source=fb", base_url="https://landing.example")
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_forged_cookie_is_ignored(client: Client) -> None:
    client.set_cookie("leadkit_tags", '{"utm_source":"forged"}')
    assert json.loads(client.get("/").get_data())["tags"] == {}


def test_the_app_can_embed_the_form_with_the_visit_tags(client: Client) -> None:
    html = client.get("/with-form?utm_campaign=spring").get_data(as_text=True)
    assert 'action="/leadkit/order"' in html
    assert 'name="utm_campaign" value="spring"' in html


# -- leadkit's own routes ---------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status"), [
    pytest.param("GET", "/leadkit/order", 405, id="order-needs-post"),
    pytest.param("POST", "/leadkit/form", 405, id="form-is-get"),
    pytest.param("GET", "/leadkit/nothing", 404, id="unknown"),
    pytest.param("GET", "/leadkit", 404, id="bare-mount"),
])
def test_routes_answer_clearly(client: Client, method: str, path: str, status: int) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "text/html" and "<html" in response.get_data(as_text=True)


def test_health_is_json(client: Client) -> None:
    response = client.get("/leadkit/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert response.mimetype == "application/json" and response.headers["Cache-Control"] == "no-store"


def test_form_page_carries_tags_and_sets_the_cookie(client: Client) -> None:
    response = client.get("/leadkit/form?utm_source=iframe&sub2=x")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="phone"' in html and 'name="sub2" value="x"' in html
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "leadkit_tags=" in response.headers["Set-Cookie"]


def test_thanks_page(client: Client) -> None:
    response = client.get("/leadkit/thanks")
    assert response.status_code == 200 and TEXTS["thanks_title"] in response.get_data(as_text=True)


# -- orders -------------------------------------------------------------------------

def test_valid_order_goes_to_the_network_and_the_customer_to_autologin(client: Client,
                                                                       network: SandboxNetwork) -> None:
    client.get("/?utm_source=fb&sub1=click-1")
    response = client.post("/leadkit/order", data=ORDER, headers={"User-Agent": IPHONE},
                           environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert response.status_code == 303
    received = network.accepted()[0]
    assert response.headers["Location"] == json.loads(json.dumps(received.answer))["url"]
    assert received.fields["phone"] == "77001234567" and received.fields["phonecc"] == "+7"
    assert (received.fields["utm_source"], received.fields["sub1"]) == ("fb", "click-1")
    assert (received.fields["ip"], received.fields["mobile"], received.fields["ua"]) == ("198.51.100.20", "1", IPHONE)


def test_without_autologin_the_customer_sees_thanks() -> None:
    with SandboxNetwork(keys=[KEY], autologin=False) as network:
        response = make_client(network).post("/leadkit/order", data=ORDER)
    assert response.status_code == 303 and response.headers["Location"] == "/leadkit/thanks"


def test_invalid_input_gets_422_with_values_kept_and_no_call(client: Client, network: SandboxNetwork) -> None:
    response = client.post("/leadkit/order", data={"name": "Aigerim", "phone": "8-701-123-45-6"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Aigerim"' in html and 'value="8-701-123-45-6"' in html
    assert 'aria-invalid="true"' in html and "does not look like a valid phone number" in html
    assert network.leads == []


def test_wrong_country_phone_is_refused_before_the_network(client: Client, network: SandboxNetwork) -> None:
    response = client.post("/leadkit/order", data={"name": "Ivan", "phone": "+7 912 345 67 89"})
    assert response.status_code == 422 and "from Kazakhstan" in response.get_data(as_text=True)
    assert network.leads == []


def test_network_message_is_shown_escaped(client: Client, network: SandboxNetwork) -> None:
    network.fail_next(1, "ban", message="<b>Blocked</b> & gone")
    response = client.post("/leadkit/order", data=ORDER)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "&lt;b&gt;Blocked&lt;/b&gt; &amp; gone" in html and "<b>Blocked" not in html
    assert 'value="Aigerim"' in html


def test_config_errors_are_not_blamed_on_the_customer(network: SandboxNetwork,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(network, network={"key": "1-wrong"})
    response = client.post("/leadkit/order", data=ORDER)
    assert response.status_code == 503 and TEXTS["network_unavailable"] in response.get_data(as_text=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("network.key" in e for e in errors), errors


def test_network_down_still_thanks_the_customer_as_the_lead_is_journalled(
        client: Client, network: SandboxNetwork, caplog: pytest.LogCaptureFixture) -> None:
    network.fail_next(1, "502")
    response = client.post("/leadkit/order", data=ORDER)
    assert response.status_code == 303 and response.headers["Location"] == "/leadkit/thanks"
    kit: LeadKit = client.application  # type: ignore[assignment]
    (entry,) = kit.journal.entries()
    assert (entry.state, entry.attempts, entry.uncertain) == ("pending", 1, True)
    assert entry.payload["phone"] == "77001234567" and "HTTP 502" in (entry.last_error or "")
    assert any("kept in the journal" in r.getMessage() for r in caplog.records)
    assert all("7001234567" not in r.getMessage() for r in caplog.records), "no phone in the log"


@pytest.mark.parametrize(("how", "status", "body"), [
    pytest.param(None, 200, {"status": "ok"}, id="ok"),
    pytest.param("ban", 422, {"status": "error", "errors": {}, "message": TEXTS["network_ban"]}, id="ban"),
    pytest.param("503", 200, {"status": "ok", "redirect": "/leadkit/thanks"}, id="down-but-journalled"),
])
def test_json_mode(client: Client, network: SandboxNetwork, how: str | None, status: int,
                   body: dict[str, Any]) -> None:
    if how:
        network.fail_next(1, how)
    response = client.post("/leadkit/order", data=ORDER, headers={"Accept": "application/json"})
    assert response.status_code == status and response.mimetype == "application/json"
    data = response.json
    if how is None:
        assert data["status"] == "ok" and data["redirect"].startswith("http://127.0.0.1:")
    elif how == "503":
        assert data == body and network.accepted() == []
    else:
        assert data == body


def test_json_mode_validation_errors(client: Client) -> None:
    response = client.post("/leadkit/order", data={"phone": ""}, headers={"Accept": "application/json"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "phone"} and response.json["status"] == "error"


def test_hidden_fields_beat_the_cookie(client: Client, network: SandboxNetwork) -> None:
    client.get("/?utm_source=cookie&sub2=kept")
    client.post("/leadkit/order", data={**ORDER, "utm_source": "hidden", "sub3": "<x>"})
    fields = network.accepted()[0].fields
    assert (fields["utm_source"], fields["sub2"], fields["sub3"]) == ("hidden", "kept", "<x>")


def test_referer_tags_when_nothing_else(client: Client, network: SandboxNetwork) -> None:
    client.post("/leadkit/order", data=ORDER, headers={"Referer": "http://localhost/promo?utm_source=static&sub1=r"})
    assert network.accepted()[0].fields["utm_source"] == "static"


def test_referer_from_another_site_is_ignored(client: Client, network: SandboxNetwork) -> None:
    client.post("/leadkit/order", data=ORDER, headers={"Referer": "https://other.example/?utm_source=theirs"})
    assert "utm_source" not in network.accepted()[0].fields


def test_long_tag_values_are_cut_to_255(client: Client, network: SandboxNetwork) -> None:
    client.post("/leadkit/order", data={**ORDER, "sub1": "x" * 1000})
    assert len(network.accepted()[0].fields["sub1"]) == 255


@pytest.mark.parametrize(("proxies", "expected"), [
    pytest.param(0, "10.0.0.2", id="no-proxy-ignores-xff"),
    pytest.param(1, "198.51.100.7", id="one-proxy"),
    pytest.param(2, "6.6.6.6", id="two-proxies"),
])
def test_client_ip(network: SandboxNetwork, proxies: int, expected: str) -> None:
    client = make_client(network, site={"trusted_proxies": proxies})
    client.post("/leadkit/order", data=ORDER, environ_base={"REMOTE_ADDR": "10.0.0.2"},
                headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7", "User-Agent": DESKTOP})
    fields = network.accepted()[0].fields
    assert fields["ip"] == expected and fields["mobile"] == "0"


def test_oversized_body_gets_413(client: Client, network: SandboxNetwork) -> None:
    response = client.post("/leadkit/order", data={**ORDER, "comment": "x" * 100_000})
    assert response.status_code == 413 and network.leads == []


def test_user_templates_override_by_name(network: SandboxNetwork, tmp_path: Path) -> None:
    (tmp_path / "thanks.html").write_text("<p>Rahmet!</p>")
    client = make_client(network, site={"templates": str(tmp_path)})
    assert client.get("/leadkit/thanks").get_data(as_text=True) == "<p>Rahmet!</p>"


def test_optional_fields_shown_and_sent(network: SandboxNetwork) -> None:
    network.reset(role="comp", dialect="moe")
    client = make_client(network, "comp", "moe", form={"fields": ["email", "comment", "count"]})
    html = client.get("/leadkit/form").get_data(as_text=True)
    assert 'name="email"' in html and 'name="comment"' in html and 'name="count"' in html
    client.post("/leadkit/order", data={**ORDER, "email": "a@b.kz", "comment": "evening", "count": "2"})
    fields = network.accepted()[0].fields
    assert (fields["email"], fields["comm"], fields["count"]) == ("a@b.kz", "evening", "2")


def test_mount_is_configurable(network: SandboxNetwork) -> None:
    client = make_client(network, site={"mount": "/lk"})
    assert client.get("/lk/health").status_code == 200
    assert client.get("/leadkit/health").headers["X-App"] == "landing"
    response = client.post("/lk/order", data=ORDER)
    assert response.status_code == 303


def test_secret_and_key_never_reach_a_page(client: Client, network: SandboxNetwork) -> None:
    pages = [client.get("/leadkit/form"), client.get("/leadkit/thanks"), client.post("/leadkit/order", data={}),
             client.post("/leadkit/order", data=ORDER)]
    network.fail_next(1, "502")
    pages.append(client.post("/leadkit/order", data=ORDER))
    for page in pages:
        text = page.get_data(as_text=True) + str(page.headers)
        assert KEY not in text and SECRET not in text


# -- the journal behind the orders ------------------------------------------------------

def test_double_submit_is_one_lead_and_both_answers_agree(client: Client, network: SandboxNetwork) -> None:
    first = client.post("/leadkit/order", data=ORDER)
    second = client.post("/leadkit/order", data={**ORDER, "name": " aigerim "})  # the same person, typed again
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(network.leads) == 1
    kit: LeadKit = client.application  # type: ignore[assignment]
    assert len(list(kit.journal.entries())) == 1


def test_double_click_while_the_first_is_still_sending(network: SandboxNetwork) -> None:
    import threading

    config = make_config(api=network.url, network={"timeout": 3}, journal={"relay": False})
    kit = LeadKit(landing, config)
    network.fail_next(1, "hang", retry_after=1)  # the first attempt waits 1 s, then fails with 504
    answers: list[Any] = []

    def click() -> None:
        answers.append(Client(kit).post("/leadkit/order", data=ORDER))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [303, 303]
    assert {a.headers["Location"] for a in answers} == {"/leadkit/thanks"}
    assert len(network.leads) == 1 and len(list(kit.journal.entries())) == 1


def test_a_refused_order_posted_again_gets_the_same_refusal(client: Client, network: SandboxNetwork) -> None:
    network.fail_next(1, "ban", message="Not for you.")
    first = client.post("/leadkit/order", data=ORDER)
    second = client.post("/leadkit/order", data=ORDER)
    assert first.status_code == second.status_code == 422
    assert "Not for you." in first.get_data(as_text=True) and "Not for you." in second.get_data(as_text=True)
    assert len(network.leads) == 1


def test_different_customers_are_different_leads(client: Client, network: SandboxNetwork) -> None:
    client.post("/leadkit/order", data=ORDER)
    client.post("/leadkit/order", data={**ORDER, "phone": "8 (701) 123-45-67"})
    assert len(network.accepted()) == 2


def test_health_counts_leads_by_state(network: SandboxNetwork) -> None:
    client = make_client(network, site={"health_token": HEALTH_TOKEN})
    client.post("/leadkit/order", data=ORDER)
    network.fail_next(1, "502")
    client.post("/leadkit/order", data={**ORDER, "phone": "8 (701) 123-45-67"})
    network.fail_next(1, "ban")
    client.post("/leadkit/order", data={**ORDER, "phone": "8 (702) 123-45-67"})
    health = client.get("/leadkit/health", headers=OPERATOR).json
    assert health["leads"] == {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}
    assert 0 <= health["oldest_pending_age"] < 10


def test_the_relay_delivers_a_pending_lead_in_the_background(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, journal={"retry_base": 0.1, "poll": 0.05, "relay": True},
                         site={"health_token": HEALTH_TOKEN})
    with LeadKit(landing, config) as kit:  # closing it stops its relay
        client = Client(kit)
        network.fail_next(1, "503")
        assert client.post("/leadkit/order", data=ORDER).headers["Location"] == "/leadkit/thanks"
        # The network has the lead a moment before the relay records it: wait for the journal, not the network.
        assert wait_for(lambda: kit.journal.stats()["counts"]["delivered"] == 1), kit.journal.stats()
        assert len(network.accepted()) == 1
        assert client.get("/leadkit/health", headers=OPERATOR).json["leads"]["delivered"] == 1


def test_the_journal_file_is_private(client: Client) -> None:
    import stat

    kit: LeadKit = client.application  # type: ignore[assignment]
    client.post("/leadkit/order", data=ORDER)
    assert stat.S_IMODE(kit.config.journal.path.stat().st_mode) == 0o600


# -- embedding the form in another site's page --------------------------------------------------

def test_embed_js_is_served_as_a_script(client: Client) -> None:
    response = client.get("/leadkit/embed.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript" and response.headers["X-Content-Type-Options"] == "nosniff"
    script = response.get_data(as_text=True)
    assert "data-leadkit-form" in script and "document.currentScript" in script
    assert SECRET not in script and KEY not in script


def test_the_form_as_json_for_embed_js_carries_the_page_s_tags(network: SandboxNetwork) -> None:
    client = make_client(network, site={"allowed_origins": ["https://promo.example"]})
    response = client.get("/leadkit/form?utm_source=promo&sub2=%22%3E", headers={
        "Accept": "application/json", "Origin": "https://promo.example"})
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "https://promo.example"
    body = response.get_json()
    assert body["status"] == "ok" and '<form class="lk-form"' in body["html"]
    assert '<input type="hidden" name="utm_source" value="promo">' in body["html"]
    assert '<input type="hidden" name="sub2" value="&#34;&gt;">' in body["html"], "tags escaped"
    assert f'name="{TOKEN_FIELD}"' in body["html"], "a fresh form token"


def test_the_form_as_json_gets_no_cors_for_an_unlisted_origin(client: Client,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leadkit"):
        response = client.get("/leadkit/form", headers={"Accept": "application/json",
                                                        "Origin": "https://evil.example"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
    assert [r.getMessage() for r in caplog.records] == [
        "a page on https://evil.example asked for the order form (embed.js), but site.allowed_origins does not "
        "list that origin: the browser will not show the form there"]


def test_the_form_as_json_from_the_site_itself_needs_no_cors(client: Client,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leadkit"):
        response = client.get("/leadkit/form", headers={"Accept": "application/json", "Origin": "http://localhost"})
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    assert caplog.records == []


def test_a_framed_form_sends_the_order_on_in_the_whole_window(client: Client) -> None:
    framed = client.get("/leadkit/form", headers={"Sec-Fetch-Dest": "iframe"}).get_data(as_text=True)
    assert 'action="/leadkit/order" target="_top"' in framed
    alone = client.get("/leadkit/form", headers={"Sec-Fetch-Dest": "document"}).get_data(as_text=True)
    assert 'action="/leadkit/order" accept-charset' in alone


# -- /leadkit/health: the status for everyone, the counts for the operator --------------------------

@pytest.mark.parametrize(("token", "headers", "status", "keys"), [
    pytest.param(HEALTH_TOKEN, {}, 200, {"status"}, id="public"),
    pytest.param(HEALTH_TOKEN, OPERATOR, 200,
                 {"status", "version", "role", "leads", "oldest_pending_age", "counters", "stages", "outbox"}, id="operator"),
    pytest.param(HEALTH_TOKEN, {"Authorization": "Bearer not-the-token-0123"}, 401, {"status", "message"},
                 id="wrong-token"),
    pytest.param(None, OPERATOR, 200, {"status"}, id="no-token-set-nobody-sees-counts"),
])
def test_health_shows_the_counts_only_with_the_token(network: SandboxNetwork, token: str | None,
                                                     headers: dict[str, str], status: int, keys: set[str]) -> None:
    client = make_client(network, site={"health_token": token} if token else {})
    client.post("/leadkit/order", data=ORDER)
    response = client.get("/leadkit/health", headers=headers)
    assert response.status_code == status and set(response.json) == keys
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer") and "site.health_token" in response.json[
            "message"]
    if "leads" in keys:
        assert (response.json["role"], response.json["leads"]["delivered"]) == ("wm", 1)


def test_health_is_degraded_while_the_network_refuses_the_site_s_key(network: SandboxNetwork,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(network, network={"key": "1-wrong"}, site={"health_token": HEALTH_TOKEN})
    assert client.get("/leadkit/health").json == {"status": "ok"}
    client.post("/leadkit/order", data=ORDER)
    public = client.get("/leadkit/health")
    assert public.status_code == 200 and public.json == {"status": "degraded"}
    assert client.get("/leadkit/health", headers=OPERATOR).json["counters"] == {"site_problem_key": 1}


# -- a journal that cannot be written ---------------------------------------------------------------

def failing_kit(network: SandboxNetwork, *failing: str, **sections: Any) -> tuple[LeadKit, FailingJournal]:
    config = make_config(api=network.url, **sections)
    journal = FailingJournal(SQLiteJournal(config.journal.path), *failing)
    return LeadKit(landing, config, journal=journal), journal


def test_an_order_the_journal_cannot_take_goes_straight_to_the_network(network: SandboxNetwork,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    kit, journal = failing_kit(network, "add")
    response = Client(kit).post("/leadkit/order", data=ORDER)
    (lead,) = network.accepted()
    assert response.status_code == 303 and response.headers["Location"] == lead.answer["url"]
    assert lead.fields["phone"] == "77001234567"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and journal.path in errors[0] and "disk full" in errors[0]
    assert all("7001234567" not in r.getMessage() for r in caplog.records), "no phone in the log"


def test_a_delivered_lead_stays_delivered_when_its_outcome_cannot_be_recorded(network: SandboxNetwork) -> None:
    kit, journal = failing_kit(network, "record", "get")
    response = Client(kit).post("/leadkit/order", data=ORDER)
    (lead,) = network.accepted()
    assert response.status_code == 303 and response.headers["Location"] == lead.answer["url"]
    assert "record" in journal.calls


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_an_order_neither_journalled_nor_delivered_is_not_thanked(network: SandboxNetwork, accept: str) -> None:
    kit, _ = failing_kit(network, "add")
    network.fail_next(1, "502")
    response = Client(kit).post("/leadkit/order", data=ORDER, headers={"Accept": accept})
    assert response.status_code == 503 and "Location" not in response.headers
    assert int(response.headers["Retry-After"]) > 0
    if accept == "application/json":
        assert response.json["status"] == "error" and response.json["message"] == TEXTS["order_not_taken"]
    else:
        html = response.get_data(as_text=True)
        assert TEXTS["order_not_taken"].split(":")[0] in html
        assert 'value="Aigerim"' in html and 'value="8 (700) 123-45-67"' in html, "values kept"


def test_a_bot_and_a_health_check_with_a_journal_that_cannot_be_written(network: SandboxNetwork) -> None:
    kit, journal = failing_kit(network, "add", "count", site={"health_token": HEALTH_TOKEN})
    client = Client(kit)
    bot = client.post("/leadkit/order", data={**ORDER, "website": "http://spam.example"})
    assert bot.status_code == 303 and network.leads == []
    health = client.get("/leadkit/health")
    assert health.status_code == 503 and health.json == {"status": "unavailable"}
    assert "cannot be written" in client.get("/leadkit/health", headers=OPERATOR).json["problem"]
    journal.failing.clear()
    assert client.get("/leadkit/health").json == {"status": "ok"}


def test_end_to_end_a_locked_journal(network: SandboxNetwork, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Over real sockets, with a real SQLite journal that another process holds locked for writing."""
    import sqlite3
    import threading

    import requests
    from werkzeug.serving import WSGIRequestHandler, make_server

    config = make_config(api=network.url)
    journal = SQLiteJournal(tmp_path / "leadkit.db", busy_timeout=0.2)
    kit = LeadKit(landing, config, journal=journal)
    server = make_server("127.0.0.1", 0, kit, threaded=True, request_handler=type(
        "Quiet", (WSGIRequestHandler,), {"log_request": lambda *args: None}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    locker = sqlite3.connect(journal.path, isolation_level=None)
    browser = requests.Session()
    browser.headers["Origin"] = base

    def order(phone: str) -> requests.Response:
        return browser.post(base + "/leadkit/order", data={"name": "Aigerim", "phone": phone},
                            allow_redirects=False, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        assert requests.get(base + "/leadkit/health", timeout=10).status_code == 503
        delivered = order("8 (700) 123-45-67")
        assert delivered.status_code == 303 and delivered.headers["Location"] == network.accepted()[0].answer["url"]
        network.fail_next(1, "502")
        refused = order("8 (701) 123-45-67")
        assert refused.status_code == 503 and 'value="8 (701) 123-45-67"' in refused.text
        assert any("locked" in r.getMessage() and str(journal.path) in r.getMessage()
                   for r in caplog.records if r.levelno == logging.ERROR)
        locker.execute("ROLLBACK")
        assert requests.get(base + "/leadkit/health", timeout=10).status_code == 200
        assert order("8 (702) 123-45-67").status_code == 303
        assert journal.stats()["counts"]["delivered"] == 1, "once the lock is gone, leads are journalled again"
    finally:
        locker.close()
        server.shutdown()
        kit.close()


# -- behind a TLS-terminating proxy -----------------------------------------------------------------

@pytest.mark.parametrize(("proxies", "proto", "secure"), [
    pytest.param(1, "https", True, id="trusted-proxy-says-https"),
    pytest.param(1, "http", False, id="trusted-proxy-says-http"),
    pytest.param(1, None, False, id="trusted-proxy-says-nothing"),
    pytest.param(0, "https", False, id="no-trusted-proxy-anyone-can-say-https"),
])
def test_the_tag_cookie_is_secure_behind_a_tls_proxy(network: SandboxNetwork, proxies: int, proto: str | None,
                                                      secure: bool) -> None:
    client = make_client(network, site={"trusted_proxies": proxies})
    headers = {"X-Forwarded-For": "203.0.113.9", **({"X-Forwarded-Proto": proto} if proto else {})}
    for path in ("/?utm_source=fb", "/leadkit/form?utm_source=fb"):
        cookie = client.get(path, headers=headers).headers["Set-Cookie"]
        assert ("; Secure" in cookie) is secure, cookie


def test_behind_a_tls_proxy_the_origin_check_and_the_thanks_url_keep_working(network: SandboxNetwork) -> None:
    client = make_client(network, site={"trusted_proxies": 1})
    network.fail_next(1, "502")  # pending: the customer goes to the thank-you page
    response = client.post("/leadkit/order", data=ORDER, base_url="http://landing.example",
                           environ_base={"REMOTE_ADDR": "127.0.0.1"},
                           headers={"Origin": "https://landing.example", "X-Forwarded-Proto": "https",
                                    "X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 303 and response.headers["Location"] == "/leadkit/thanks"
    assert network.leads[0].fields["ip"] == "203.0.113.9"


# -- a forgotten site.trusted_proxies -----------------------------------------------------------------

@pytest.mark.parametrize(("proxies", "warnings"), [
    pytest.param(0, 1, id="forgotten-warned-once"),
    pytest.param(1, 0, id="set"),
])
def test_a_forgotten_trusted_proxies_is_warned_about_once(network: SandboxNetwork, caplog: pytest.LogCaptureFixture,
                                                          proxies: int, warnings: int) -> None:
    client = make_client(network, site={"trusted_proxies": proxies})
    for n, customer in enumerate(("203.0.113.9", "198.51.100.20", "192.0.2.4")):
        client.post("/leadkit/order", data={**ORDER, "phone": f"8 (70{n}) 123-45-67"},
                    environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": customer})
    said = [r.getMessage() for r in caplog.records if "site.trusted_proxies" in r.getMessage()]
    assert len(said) == warnings and all(r.levelno == logging.WARNING for r in caplog.records if r.getMessage() in said)
    if said:
        assert "127.0.0.1" in said[0] and "limits.ip_orders" in said[0] and "203.0.113.9" not in said[0]


_GEO = {"country": "es", "countries": ["es", "pt", "it"],
        "geo": {"pt": {"price": 39, "old_price": 59.5, "currency": "eur"}, "es": {"price": 49, "currency": "eur"}}}


@pytest.mark.parametrize("offer", [pytest.param({}, id="one-country"), pytest.param(_GEO, id="three-countries-priced")])
def test_the_form_page_rendered_once_is_the_page_rendered_each_time(network: SandboxNetwork,
                                                                  offer: dict[str, Any]) -> None:
    """GET {mount}/form without tags is rendered once (per language, script root, framed or not) and
    given a fresh nonce and token each time: byte for byte the page rendered anew with that nonce and
    token, headers included, whichever kind of request came before."""
    client = make_client(network, journal={"relay": False}, offer=offer)
    kit = client.application
    seen: list[tuple[str, str]] = []
    kinds = [{}, {"HTTP_SEC_FETCH_DEST": "iframe"}, {"SCRIPT_NAME": "/shop"}, {"HTTP_SEC_FETCH_DEST": "iframe",
                                                                             "SCRIPT_NAME": "/shop"}]
    for environ in kinds * 2:
        response = client.get("/leadkit/form", environ_overrides=environ)
        html = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        token = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', html)
        assert response.status_code == 200 and nonce and token
        texts = kit.texts_for({}, kit.landings[""])
        form = kit.pages.form(tags={}, script_root=environ.get("SCRIPT_NAME", ""), texts=texts, token=token[1],
                              target="_top" if environ.get("HTTP_SEC_FETCH_DEST") == "iframe" else None)
        fresh = kit.pages.page("order.html", {"form": form}, 200, texts, nonce=nonce[1])
        assert html == fresh.get_data(as_text=True)
        assert dict(response.headers) == {**dict(fresh.headers), "Vary": "Accept-Encoding",  # leadkit's gzip's
                                          "Content-Length": str(len(response.get_data()))}
        kit.desk.tokens.read(token[1])  # a genuine token
        seen.append((nonce[1], token[1]))
    assert len({n for n, _ in seen}) == len({t for _, t in seen}) == 8, "each page its own nonce and token"


_BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("environ", [
    pytest.param({}, id="no-headers"),
    pytest.param({"HTTP_ACCEPT": _BROWSER, "HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}, id="browser-gzip"),
    pytest.param({"HTTP_ACCEPT": _BROWSER, "HTTP_ACCEPT_ENCODING": "gzip;q=0"}, id="gzip-refused"),
    pytest.param({"REQUEST_METHOD": "HEAD", "HTTP_ACCEPT_ENCODING": "gzip"}, id="head"),
    pytest.param({"HTTP_ACCEPT_LANGUAGE": "kk-KZ,kk;q=0.9", "HTTP_SEC_FETCH_DEST": "iframe"}, id="kazakh-framed"),
    pytest.param({"SCRIPT_NAME": "/магазин/".encode().decode("latin-1")}, id="utf8-script-name"),
    pytest.param({"QUERY_STRING": "page=2&utm_source="}, id="query-without-tags"),
    pytest.param({"HTTP_COOKIE": "leadkit_tags=forged.value.here; theme=dark"}, id="forged-tag-cookie"),
])
def test_the_plain_form_page_is_werkzeugs_answer_header_for_header(network: SandboxNetwork,
                                                                    environ: dict[str, str]) -> None:
    """A plain visit's form page goes out without werkzeug's Request and Response: the same status,
    headers (in order) and body as the view answers through werkzeug and leadkit's gzip, nonce and
    token aside."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request
    from leadkit.compress import gzip_response

    kit = make_client(network, journal={"relay": False}).application
    base = EnvironBuilder(path="/leadkit/form").get_environ()

    def answer(through_werkzeug: bool) -> tuple[str, list[tuple[str, str]], bytes]:
        given = {**base, **environ}
        if through_werkzeug:
            request = Request(given)
            app: Any = gzip_response(request, kit.form_page(request))
        else:
            app = kit._plain_form_page(given)
            assert app is not None, "a plain visit takes the plain way"
        seen: list[Any] = []
        body = b"".join(app(given, lambda status, headers, exc_info=None: seen.extend([status, headers])))
        if dict(seen[1]).get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        nonce = re.search(r"'nonce-([^']+)'", dict(seen[1])["Content-Security-Policy"])
        assert nonce
        token = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', body.decode())
        text = body.decode().replace(nonce[1], "NONCE").replace(token[1], "TOKEN") if token else body.decode()
        headers = [(k, v.replace(nonce[1], "NONCE")) for k, v in seen[1]]
        return seen[0], [h for h in headers if h[0] != "Content-Length"], text.encode()

    plain, werkzeug = answer(False), answer(True)
    assert plain == werkzeug
    assert (plain[2] == b"") is (environ.get("REQUEST_METHOD") == "HEAD")


@pytest.mark.parametrize(("environ", "plain"), [
    pytest.param({"HTTP_ACCEPT": "application/json"}, False, id="json"),
    pytest.param({"HTTP_ACCEPT": "application/*"}, False, id="json-by-wildcard"),
    pytest.param({"HTTP_ACCEPT": "application/json;q=0.5, text/html"}, True, id="html-preferred"),
    pytest.param({"QUERY_STRING": "utm_source=fb"}, False, id="tags-in-the-link"),
    pytest.param({"QUERY_STRING": "fbclid=IwAR123"}, False, id="a-click-id-to-keep"),
    pytest.param({"QUERY_STRING": "fbclid="}, True, id="an-empty-click-id"),
])
def test_only_the_plain_visit_takes_the_plain_way(network: SandboxNetwork, environ: dict[str, str],
                                                 plain: bool) -> None:
    from werkzeug.test import EnvironBuilder

    kit = make_client(network, journal={"relay": False}).application
    given = {**EnvironBuilder(path="/leadkit/form").get_environ(), **environ}
    assert (kit._plain_form_page(given) is not None) is plain


def test_the_tag_cookie_makes_the_form_page_werkzeugs(network: SandboxNetwork) -> None:
    client = make_client(network, journal={"relay": False})
    cookie = client.get("/?utm_source=fb").headers["Set-Cookie"].split(";")[0]
    kit = client.application
    from werkzeug.test import EnvironBuilder
    given = EnvironBuilder(path="/leadkit/form", headers={"Cookie": cookie}).get_environ()
    assert kit._plain_form_page(given) is None
    assert 'value="fb"' in client.get("/leadkit/form", headers={"Cookie": cookie}).get_data(as_text=True)


def test_an_order_sent_from_the_form_page_rendered_once_is_taken(network: SandboxNetwork) -> None:
    client = make_client(network, journal={"relay": False}, site={"min_fill_seconds": 0})
    html = client.get("/leadkit/form").get_data(as_text=True)
    token = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', html)
    assert token
    response = client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token[1]})
    assert response.status_code == 303 and network.leads
