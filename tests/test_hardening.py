"""Issue 5, bullet by bullet: bad input gets a clear answer, abuse gets nowhere, secrets never leak."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from typing import Any, Iterator

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from leadkit import LeadKit
from leadkit.formtoken import TOKEN_FIELD, FormTokens
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.texts import TEXTS
from support import SECRET, BrowserClient, make_config

ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"landing"]


def kit_for(network: SandboxNetwork, **sections: Any) -> LeadKit:
    sections.setdefault("site", {}).setdefault("min_fill_seconds", 0)
    return LeadKit(app, make_config(api=network.url, **sections))


def token_from(html: str) -> str:
    match = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', html)
    assert match, "the form carries a token"
    return match.group(1)


def token_issued(seconds_ago: float) -> str:
    """The token of a form rendered ``seconds_ago``: tokens are stateless, any issuer with the site's
    secret makes the same, so a clock set back stands in for the wait."""
    return FormTokens(SECRET, clock=lambda: time.time() - seconds_ago).issue()


# -- the form token -----------------------------------------------------------------------

def test_a_rendered_form_posts_with_its_token(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network))
    token = token_from(client.get("/leadkit/form").get_data(as_text=True))
    response = client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token})
    assert response.status_code == 303 and len(network.accepted()) == 1


@pytest.mark.parametrize("token", ["forged", "eyJhIjoxfQ.bad.sig", "x" * 500])
def test_a_forged_token_is_refused_clearly_and_nothing_is_sent(network: SandboxNetwork, token: str) -> None:
    response = BrowserClient(kit_for(network)).post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and TEXTS["token_forged"] in html
    assert 'value="Aigerim"' in html and token_from(html) != token, "the form again, with a fresh token"
    assert network.leads == []


def test_an_expired_token_is_refused(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, site={"token_max_age": 60}))
    response = client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token_issued(3600)})
    assert response.status_code == 400 and TEXTS["token_expired"] in response.get_data(as_text=True)
    assert network.leads == []


def test_a_plain_static_form_without_token_still_works(network: SandboxNetwork) -> None:
    response = BrowserClient(kit_for(network)).post("/leadkit/order", data=ORDER)
    assert response.status_code == 303 and len(network.accepted()) == 1


def test_without_token_the_post_must_say_where_it_comes_from(network: SandboxNetwork) -> None:
    from werkzeug.test import Client

    response = Client(kit_for(network)).post("/leadkit/order", data=ORDER)  # no Origin, no Referer: a script
    assert response.status_code == 403 and TEXTS["origin_no_origin"] in response.get_data(as_text=True)
    assert network.leads == []


def test_the_token_is_the_double_submit_key(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network))
    token = token_from(client.get("/leadkit/form").get_data(as_text=True))
    first = client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token})
    second = client.post("/leadkit/order", data={**ORDER, "name": "Aigerim N.", TOKEN_FIELD: token})
    assert first.headers["Location"] == second.headers["Location"]
    assert len(network.leads) == 1


# -- bots -----------------------------------------------------------------------------------

def test_honeypot_gets_an_ordinary_thank_you_and_nothing_is_sent(network: SandboxNetwork) -> None:
    kit = kit_for(network)
    client = BrowserClient(kit)
    assert 'name="website"' in client.get("/leadkit/form").get_data(as_text=True)
    response = client.post("/leadkit/order", data={**ORDER, "website": "http://spam.example"})
    assert response.status_code == 303 and response.headers["Location"] == "/leadkit/thanks"
    assert network.leads == [] and list(kit.journal.entries()) == []
    assert kit.journal.stats()["counters"] == {"bots_honeypot": 1}


def test_a_form_sent_too_fast_is_a_bots(network: SandboxNetwork) -> None:
    kit = kit_for(network, site={"min_fill_seconds": 60})  # a minute: even a slow machine posts sooner
    client = BrowserClient(kit)
    token = token_from(client.get("/leadkit/form").get_data(as_text=True))
    response = client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token})
    assert response.status_code == 303 and response.headers["Location"] == "/leadkit/thanks"
    assert network.leads == [] and kit.journal.stats()["counters"] == {"bots_too_fast": 1}


def test_a_person_who_takes_their_time_gets_through(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, site={"min_fill_seconds": 3}))
    assert client.post("/leadkit/order", data={**ORDER, TOKEN_FIELD: token_issued(10)}).status_code == 303
    assert len(network.accepted()) == 1


# -- rate limits -------------------------------------------------------------------------

def test_per_ip_limit_gives_a_polite_refusal(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, limits={"ip_orders": 2}))
    phones = ["8 (700) 123-45-67", "8 (701) 123-45-67", "8 (702) 123-45-67"]
    answers = [client.post("/leadkit/order", data={"name": "A", "phone": p}) for p in phones]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert TEXTS["rate_limited"] in answers[2].get_data(as_text=True) and int(answers[2].headers["Retry-After"]) > 0
    json_answer = client.post("/leadkit/order", data={"name": "A", "phone": "8 (705) 123-45-67"},
                              headers={"Accept": "application/json"})
    assert json_answer.status_code == 429 and json_answer.json["message"] == TEXTS["rate_limited"]
    assert len(network.leads) == 2


def test_per_phone_limit_is_shared_by_every_worker_on_the_journal(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, limits={"phone_orders": 1}, site={"min_fill_seconds": 0})
    worker_a, worker_b = BrowserClient(LeadKit(app, config)), BrowserClient(LeadKit(app, config))
    assert worker_a.post("/leadkit/order", data=ORDER).status_code == 303
    # The same client on another worker (the phone limit counts a phone per client: tests/test_desk.py).
    again = worker_b.post("/leadkit/order", data={**ORDER, "name": "Another name"})
    assert again.status_code == 429 and len(network.leads) == 1


def test_a_double_submit_does_not_count_against_the_limits(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, limits={"ip_orders": 1}))
    assert [client.post("/leadkit/order", data=ORDER).status_code for _ in range(3)] == [303, 303, 303]


# -- origins and CORS -----------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "status"), [
    pytest.param({"Origin": "https://evil.example"}, 403, id="foreign-origin"),
    pytest.param({"Origin": "null"}, 403, id="null-origin"),
    pytest.param({"Origin": "", "Referer": "https://evil.example/page"}, 403, id="foreign-referer"),
    pytest.param({"Origin": "https://promo.example"}, 303, id="allowed-prelanding"),
    pytest.param({"Origin": "https://localhost"}, 303, id="same-host-behind-tls-proxy"),
])
def test_cross_site_posts(network: SandboxNetwork, headers: dict[str, str], status: int) -> None:
    kit = kit_for(network, site={"allowed_origins": ["https://promo.example"]})
    response = BrowserClient(kit).post("/leadkit/order", data=ORDER, headers=headers)
    assert response.status_code == status
    assert len(network.leads) == (1 if status == 303 else 0)


def test_cors_follows_the_allowed_origins(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, site={"allowed_origins": ["https://promo.example"]}))
    preflight = client.options("/leadkit/order", headers={"Origin": "https://promo.example",
                                                          "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://promo.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    refused = client.options("/leadkit/order", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    posted = client.post("/leadkit/order", data=ORDER, headers={"Origin": "https://promo.example",
                                                                "Accept": "application/json"})
    assert posted.json["status"] == "ok" and posted.headers["Access-Control-Allow-Origin"] == "https://promo.example"


# -- limits on input --------------------------------------------------------------------------

class CountingStream(io.BytesIO):
    def __init__(self, size: int) -> None:
        super().__init__(b"a" * size)
        self.read_bytes = 0

    def read(self, n: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(n)
        self.read_bytes += len(data)
        return data


def test_a_one_megabyte_body_gets_413_without_being_read(network: SandboxNetwork) -> None:
    stream = CountingStream(1024 * 1024)
    response = BrowserClient(kit_for(network)).post(
        "/leadkit/order", input_stream=stream, content_length=1024 * 1024,
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and stream.read_bytes == 0 and network.leads == []


@pytest.mark.parametrize(("body", "content_type", "status", "says"), [
    pytest.param(b"name=%FF%FE&phone=87001234567", "application/x-www-form-urlencoded", 400, "UTF-8",
                 id="invalid-utf8"),
    pytest.param(b"name=A%00B&phone=87001234567", "application/x-www-form-urlencoded", 400, "cannot be typed",
                 id="nul"),
    pytest.param(b"name=A&phone=87001234567&phone=87011234567", "application/x-www-form-urlencoded", 400,
                 "more than once", id="repeated-field"),
    pytest.param(b'{"name": "A"}', "application/json", 415, "from the order form", id="json-body"),
    pytest.param(b"name=A", "text/plain", 415, "from the order form", id="text-plain"),
])
def test_odd_bodies_get_a_clear_4xx(network: SandboxNetwork, body: bytes, content_type: str, status: int,
                                    says: str) -> None:
    response = BrowserClient(kit_for(network)).post("/leadkit/order", data=body, content_type=content_type)
    assert response.status_code == status and says in response.get_data(as_text=True)
    assert network.leads == []


def test_field_lengths_are_capped(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network, form={"fields": ["comment"]}))
    long_name = client.post("/leadkit/order", data={**ORDER, "name": "A" * 101})
    long_comment = client.post("/leadkit/order", data={**ORDER, "comment": "c" * 1001})
    assert long_name.status_code == long_comment.status_code == 422
    assert "at most 100 characters" in long_name.get_data(as_text=True)
    assert "at most 1000 characters" in long_comment.get_data(as_text=True)


# -- client IP --------------------------------------------------------------------------------

@pytest.mark.parametrize(("peer", "expected"), [
    pytest.param("173.245.48.10", "203.0.113.50", id="from-cloudflare-honoured"),
    pytest.param("198.51.100.7", "198.51.100.7", id="from-anyone-else-ignored"),
])
def test_cdn_ip_header_only_from_trusted_networks(network: SandboxNetwork, peer: str, expected: str) -> None:
    kit = kit_for(network, site={"ip_header": "CF-Connecting-IP", "trusted_networks": ["cloudflare"]})
    BrowserClient(kit).post("/leadkit/order", data=ORDER, environ_base={"REMOTE_ADDR": peer},
                            headers={"CF-Connecting-IP": "203.0.113.50", "X-Forwarded-For": "6.6.6.6"})
    assert network.accepted()[0].fields["ip"] == expected


# -- redirects --------------------------------------------------------------------------------

@pytest.fixture()
def hostile_network() -> Iterator[tuple[str, list[str]]]:
    """A network stand-in that answers ok with whatever autologin url the test puts in the list."""
    urls: list[str] = []

    @Request.application
    def answer(request: Request) -> Response:
        return Response(json.dumps({"status": "ok", "id": 7, "url": urls[0]}), mimetype="application/json")

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:  # request lines carry the key: a real network logs them, we don't
            pass

    server = make_server("127.0.0.1", 0, answer, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api", urls
    server.shutdown()


THANKS = "/leadkit/thanks"


@pytest.mark.parametrize(("url", "hosts", "location"), [
    pytest.param("javascript:alert(1)", [], THANKS, id="javascript"),
    pytest.param("//evil.example/x", [], THANKS, id="scheme-relative"),
    pytest.param("https://user@evil.example/", [], THANKS, id="user-info"),
    pytest.param("https://cab.example/\r\nSet-Cookie:x=1", [], THANKS, id="control-chars"),
    pytest.param("https://cab.example/login?t=1", [], "https://cab.example/login?t=1", id="plain-https"),
    pytest.param("https://cab.example/login?t=1", ["other.example"], THANKS, id="not-an-allowed-host"),
    pytest.param("https://my.cab.example/login", ["*.cab.example"], "https://my.cab.example/login",
                 id="allowed-subdomain"),
    # What a Location header cannot carry as it is: the thank-you page or the ASCII form, never a 500.
    pytest.param("https://\u043a\u0430\u0431.\u0440\u0444/\u0432\u0445\u043e\u0434", [],
                 "https://xn--80acz.xn--p1ai/%D0%B2%D1%85%D0%BE%D0%B4", id="cyrillic-idna"),
    pytest.param("https://" + "a" * 64 + ".example/", [], THANKS, id="dns-label-too-long"),
    pytest.param("https://" + "\u044f" * 64 + ".example/", [], THANKS, id="idna-label-too-long"),
    pytest.param("https://cab.example/" + "\u0436" * 1000, [], THANKS, id="over-long-once-encoded"),
    pytest.param("https://cab.example/" + "a" * 5000, [], THANKS, id="over-long"),
    pytest.param("https://cab.example/\u2028x", [], THANKS, id="line-separator"),
    pytest.param("https://cab.example/\x85x", [], THANKS, id="c1-control"),
    pytest.param("https://cab.example/a\udc80b", [], THANKS, id="lone-surrogate"),
])
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_autologin_redirects(hostile_network: tuple[str, list[str]], url: str, hosts: list[str],
                             location: str, accept: str) -> None:
    api, urls = hostile_network
    urls.append(url)
    kit = LeadKit(app, make_config(api=api, network={"redirect_hosts": hosts}))
    response = BrowserClient(kit).post("/leadkit/order", data=ORDER, headers={"Accept": accept})
    if accept == "application/json":
        assert (response.status_code, response.json) == (200, {"status": "ok", "redirect": location})
    else:
        assert (response.status_code, response.headers["Location"]) == (303, location)


# -- output and headers -----------------------------------------------------------------------

def test_echoed_tags_and_values_are_escaped(network: SandboxNetwork) -> None:
    client = BrowserClient(kit_for(network))
    client.get('/?utm_source="><script>alert(1)</script>')
    html = client.post("/leadkit/order", data={"name": "<img src=x onerror=alert(1)>", "phone": "1"}
                       ).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&#34;&gt;&lt;script&gt;" in html


def test_own_pages_send_security_headers_with_a_matching_nonce(network: SandboxNetwork) -> None:
    response = BrowserClient(kit_for(network, site={"allowed_origins": ["https://promo.example"]})).get(
        "/leadkit/form")
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'nonce="{nonce.group(1)}"' in response.get_data(as_text=True)
    assert "default-src 'none'" in policy and "frame-ancestors 'self' https://promo.example" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
