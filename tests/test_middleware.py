"""Routing through ``LeadKit`` with werkzeug's test client; the sandbox network is the upstream."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from support import BrowserClient as Client

from leadkit import LeadKit
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.formtoken import TOKEN_FIELD
from leadkit.texts import TEXTS
from support import KEY, SECRET, make_config, wait_for

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}


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
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert KEY not in response.get_data(as_text=True)


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


def test_health_counts_leads_by_state(client: Client, network: SandboxNetwork) -> None:
    client.post("/leadkit/order", data=ORDER)
    network.fail_next(1, "502")
    client.post("/leadkit/order", data={**ORDER, "phone": "8 (701) 123-45-67"})
    network.fail_next(1, "ban")
    client.post("/leadkit/order", data={**ORDER, "phone": "8 (702) 123-45-67"})
    health = client.get("/leadkit/health").json
    assert health["leads"] == {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}
    assert 0 <= health["oldest_pending_age"] < 10


def test_the_relay_delivers_a_pending_lead_in_the_background(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, journal={"retry_base": 0.1, "poll": 0.05, "relay": True})
    with LeadKit(landing, config) as kit:  # closing it stops its relay
        client = Client(kit)
        network.fail_next(1, "503")
        assert client.post("/leadkit/order", data=ORDER).headers["Location"] == "/leadkit/thanks"
        # The network has the lead a moment before the relay records it: wait for the journal, not the network.
        assert wait_for(lambda: kit.journal.stats()["counts"]["delivered"] == 1), kit.journal.stats()
        assert len(network.accepted()) == 1
        assert client.get("/leadkit/health").json["leads"]["delivered"] == 1


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
