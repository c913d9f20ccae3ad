"""Tests for leadkit.testing.sandbox: the stand-in network, through the test Client and over loopback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from leadkit import LeadKit
from leadkit.testing.sandbox import ReceivedLead, SandboxNetwork
from support import BrowserClient, FakeClock, make_config, wait_for

KEY = "7-0f3a9c"  # role wm
EXT_KEY = "8-beef01"
COMP_KEY = "9-c0ffee"
OTHER_EXT_KEY = "10-abba"
KEYS = {KEY: "wm", EXT_KEY: "ext", COMP_KEY: "comp", OTHER_EXT_KEY: "ext"}
KEY_OF = {"wm/push": KEY, "ext/add": EXT_KEY, "comp/add": COMP_KEY, "wm/offers": KEY, "wm/flows": KEY,
          "ext/list": EXT_KEY, "comp/list": COMP_KEY}
CUSTOMER = {"offer": "217", "phone": "77001234567", "ip": "12.34.56.78", "name": "John"}
WM = {**CUSTOMER, "flow": "42"}
EXT = {**CUSTOMER, "extu": "A-1"}
MOE_EXT = {**CUSTOMER, "id": "A-1"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def network() -> SandboxNetwork:
    return SandboxNetwork(keys=KEYS, offers={217: [42, 43], 300: []})


@pytest.fixture
def client(network: SandboxNetwork) -> Client:
    return Client(network.app)


@pytest.fixture
def live(network: SandboxNetwork):
    with network:
        yield network


def push(client: Client, call: str, fields: dict[str, str], key: str | None = "") -> Any:
    """A lead call with the key of the call's role (``key=None``: no key at all)."""
    key = KEY_OF[call] if key == "" else key
    query = {} if key is None else {"id": key}
    return client.post(f"/api/{call}.json", query_string=query, data=fields,
                       headers={"User-Agent": "leadkit-test/1"})


def read(client: Client, call: str, key: str = "", method: str = "GET", **params: str) -> Any:
    return client.open(f"/api/{call}.json", method=method, query_string={"id": key or KEY_OF[call], **params})


def without(fields: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k != name}


# -- what the engine refuses, per role and dialect -------------------------------------------

@pytest.mark.parametrize(("dialect", "call", "fields", "key", "expected"), [
    pytest.param("dalead", "wm/push", WM, None, {"error": "key"}, id="key-missing"),
    pytest.param("dalead", "comp/add", CUSTOMER, "9-nope", {"error": "key"}, id="key-unknown"),
    pytest.param("dalead", "ext/add", EXT, KEY, {"error": "access"}, id="wm-key-on-ext"),
    pytest.param("dalead", "wm/push", WM, COMP_KEY, {"error": "access"}, id="comp-key-on-wm"),
    pytest.param("dalead", "comp/add", CUSTOMER, EXT_KEY, {"error": "access"}, id="ext-key-on-comp"),
    pytest.param("dalead", "comp/add", without(CUSTOMER, "offer"), "", {"error": "nooffer"}, id="nooffer"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "offer": "999"}, "", {"error": "offer"}, id="offer"),
    pytest.param("dalead", "ext/add", {**EXT, "offer": "x1"}, "", {"error": "offer"}, id="offer-not-num"),
    pytest.param("dalead", "wm/push", CUSTOMER, "", {"error": "noflow"}, id="noflow"),
    pytest.param("dalead", "wm/push", {**WM, "flow": "7"}, "", {"error": "badflow"}, id="badflow"),
    pytest.param("dalead", "wm/push", {**WM, "offer": "300"}, "", {"error": "badflow"},
                 id="badflow-offer-without-flows"),
    pytest.param("dalead", "ext/add", CUSTOMER, "", {"error": "noid"}, id="noid"),
    pytest.param("dalead", "ext/add", MOE_EXT, "", {"error": "noid"}, id="noid-moe-id-on-dalead"),
    pytest.param("moe", "ext/add", EXT, "", {"error": "noid"}, id="noid-dalead-extu-on-moe"),
    pytest.param("dalead", "ext/add", without(EXT, "phone"), "", {"error": "nophone"}, id="nophone"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "phone": "+77001234567"}, "",
                 {"error": "phone", "message": "Check the phone number."}, id="phone-plus"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "phone": "700123"}, "",
                 {"error": "phone", "message": "Check the phone number."}, id="phone-short"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "phone": "7" * 16}, "",
                 {"error": "phone", "message": "Check the phone number."}, id="phone-long"),
    pytest.param("dalead", "comp/add", without(CUSTOMER, "ip"), "", {"error": "data", "bad": ["ip"]},
                 id="ip-missing"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "ip": "12.34.56.789"}, "",
                 {"error": "data", "bad": ["ip"]}, id="ip-invalid"),
    pytest.param("dalead", "wm/push", {**WM, "utm_source": "s" * 256, "sub5": "5" * 300, "sub1": "1" * 255}, "",
                 {"error": "data", "bad": ["utm_source", "sub5"], "info": "tags are at most 255 characters"},
                 id="tags-over-255"),
    pytest.param("moe", "comp/add", {**CUSTOMER, "uc": "c" * 256}, "",
                 {"error": "data", "bad": ["uc"], "info": "tags are at most 255 characters"}, id="moe-tag-over-255"),
    pytest.param("dalead", "wm/push", {**WM, "us": "fb", "params[sub1]": "x", "comm": "hi"}, "",
                 {"error": "data", "bad": ["comm", "params[sub1]", "us"],
                  "info": "fields the dalead dialect does not read for wm"}, id="moe-fields-on-dalead"),
    pytest.param("moe", "wm/push", {**WM, "utm_source": "fb", "mobile": "1", "phonecc": "+7"}, "",
                 {"error": "data", "bad": ["mobile", "phonecc", "utm_source"],
                  "info": "fields the moe dialect does not read for wm"}, id="dalead-fields-on-moe"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "flow": "42"}, "",
                 {"error": "data", "bad": ["flow"], "info": "fields the dalead dialect does not read for comp"},
                 id="flow-on-comp"),
    pytest.param("dalead", "wm/push", {**WM, "phone": "77000000000"}, "",
                 {"error": "ban", "info": "phone",
                  "message": "This phone number is blacklisted by the network."}, id="ban"),
])
def test_refusals(network: SandboxNetwork, client: Client, dialect: str, call: str, fields: dict[str, str],
                  key: str | None, expected: dict) -> None:
    network.reset(dialect=dialect)
    response = push(client, call, fields, key)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {"status": "error", **expected}
    [lead] = network.leads
    assert (lead.call, lead.lead_id) == (call, 0)
    assert network.accepted() == []


@pytest.mark.parametrize(("dialect", "call", "fields", "uid"), [
    pytest.param("dalead", "wm/push", {**WM, "utm_source": "fb", "sub1": "a", "mobile": "1", "phonecc": "+7",
                                       "last": "Doe", "comment": "call me", "currency": "kzt"}, None, id="wm-dalead"),
    pytest.param("moe", "wm/push", {**WM, "us": "fb", "params[sub1]": "a", "comm": "call me"}, None, id="wm-moe"),
    pytest.param("dalead", "comp/add", {**CUSTOMER, "uuid": "u-1"}, None, id="comp-dalead"),
    pytest.param("moe", "comp/add", {**CUSTOMER, "ut": "tea", "item": "1,2", "items[0][id]": "135"}, None,
                 id="comp-moe"),
    pytest.param("dalead", "ext/add", {**EXT, "exts": "5", "sub2": "b"}, "A-1", id="ext-dalead-extu"),
    pytest.param("moe", "ext/add", {**MOE_EXT, "wm": "5", "um": "cpc"}, "A-1", id="ext-moe-id"),
    pytest.param("dalead", "ext/add", {**CUSTOMER, "extu": "auto"}, "sandbox-1001", id="ext-dalead-auto"),
    pytest.param("moe", "ext/add", {**CUSTOMER, "id": "auto"}, "sandbox-1001", id="ext-moe-auto"),
])
def test_accepts_each_call_in_its_dialect(network: SandboxNetwork, client: Client, dialect: str, call: str,
                                         fields: dict[str, str], uid: str | None) -> None:
    network.reset(dialect=dialect)
    response = push(client, call, fields)
    answer = response.json
    assert response.mimetype == "application/json"
    assert (answer["status"], answer["id"], answer.get("uid")) == ("ok", 1001, uid)
    assert network.accepted() == [ReceivedLead(
        call=call, fields=fields, content_type="application/x-www-form-urlencoded",
        user_agent="leadkit-test/1", lead_id=1001, answer=answer)]


@pytest.mark.parametrize(("dialect", "has_url"), [
    pytest.param("dalead", True, id="dalead-answers-carry-url"),
    pytest.param("moe", False, id="moe-answers-carry-no-url"),
])
def test_autologin_url_only_where_the_documents_show_it(network: SandboxNetwork, client: Client, dialect: str,
                                                        has_url: bool) -> None:
    network.reset(dialect=dialect)
    order_id = {"dalead": "extu", "moe": "id"}[dialect]
    answers = [push(client, "wm/push", WM).json,
               push(client, "ext/add", {**CUSTOMER, order_id: "auto", "phone": "77001234568"}).json,
               push(client, "comp/add", {**CUSTOMER, "phone": "77001234569"}).json]
    assert [answer["status"] for answer in answers] == ["ok"] * 3
    assert [answer.get("url", "").partition("=")[0] for answer in answers] == [
        f"http://localhost/cabinet/{lead_id}?t" if has_url else "" for lead_id in (1001, 1002, 1003)]


def test_drop_unread_drops_what_the_dialect_does_not_read_as_a_real_engine_does() -> None:
    network = SandboxNetwork(keys=[KEY], dialect="moe", drop_unread=True)
    answer = push(Client(network.app), "wm/push", {**WM, "utm_source": "fb", "us": "fb", "sub1": "x"}).json
    assert answer["status"] == "ok"
    [lead] = network.accepted()
    assert lead.fields == {**WM, "us": "fb"}, "the tags under dalead names were not recorded"
    assert lead.unread == ("sub1", "utm_source")


def test_ids_increase_and_autologin_can_be_off() -> None:
    network = SandboxNetwork(keys={KEY: "comp"}, autologin=False)
    client = Client(network.app)
    answers = [push(client, "comp/add", {**CUSTOMER, "phone": f"7700123456{n}"}, key=KEY).json for n in range(3)]
    assert answers == [{"status": "ok", "id": n} for n in (1001, 1002, 1003)]


def test_json_body_is_flattened_to_bracket_keys(network: SandboxNetwork, client: Client) -> None:
    network.reset(dialect="moe")
    body = {"id": 112358, "offer": 217, "ip": "12.34.56.78", "phone": "79000000000",
            "params": {"sirname": "Doe", "phonecc": "+7"}, "items": [{"id": 135, "price": 9900, "count": 1}]}
    response = client.post("/api/ext/add.json", query_string={"id": EXT_KEY}, json=body)
    assert response.json["status"] == "ok"
    assert response.json["uid"] == "112358"
    [lead] = network.accepted()
    assert lead.content_type == "application/json"
    assert lead.fields == {
        "id": "112358", "offer": "217", "ip": "12.34.56.78", "phone": "79000000000",
        "params[sirname]": "Doe", "params[phonecc]": "+7",
        "items[0][id]": "135", "items[0][price]": "9900", "items[0][count]": "1"}


def test_json_booleans_become_1_and_0(network: SandboxNetwork, client: Client) -> None:
    response = client.post("/api/comp/add.json", query_string={"id": COMP_KEY},
                           json={**CUSTOMER, "mobile": True})
    assert response.json["status"] == "ok"
    assert network.accepted()[0].fields["mobile"] == "1"


def test_broken_json_body_has_no_fields(network: SandboxNetwork, client: Client) -> None:
    response = client.post("/api/comp/add.json", query_string={"id": COMP_KEY}, data="{oops",
                           content_type="application/json")
    assert response.json == {"status": "error", "error": "nooffer"}
    assert network.leads[0].fields == {}


# -- duplicates ----------------------------------------------------------------------------

def test_ext_duplicates_by_order_id_per_key_and_by_customer(network: SandboxNetwork, client: Client) -> None:
    other = "77001234500"
    statuses = [push(client, "ext/add", fields, key).json.get("error", "ok") for fields, key in [
        (EXT, EXT_KEY),                                              # a new order
        ({**EXT, "phone": other}, EXT_KEY),                          # the same order id again
        ({**EXT, "phone": other}, OTHER_EXT_KEY),                    # another agency's own A-1
        ({**EXT, "extu": "A-2"}, EXT_KEY),                           # another id, the same offer and phone
        ({**EXT, "extu": "A-3", "phone": "77001234501"}, EXT_KEY),   # another id and customer
        ({**EXT, "extu": "auto", "phone": "77001234502"}, EXT_KEY),
        ({**EXT, "extu": "auto", "phone": "77001234503"}, EXT_KEY),  # auto is never a duplicate id
    ]]
    assert statuses == ["ok", "duplicate", "ok", "duplicate", "ok", "ok", "ok"]


def test_duplicates_by_offer_and_phone_last_the_window() -> None:
    clock = FakeClock()
    network = SandboxNetwork(keys=KEYS, offers={217: [42, 43]}, clock=clock)
    client = Client(network.app)
    statuses = [push(client, call, fields).json.get("error", "ok") for call, fields in [
        ("wm/push", WM), ("wm/push", {**WM, "flow": "43"}), ("comp/add", CUSTOMER),
        ("ext/add", {**EXT, "extu": "B-1"}), ("wm/push", {**WM, "phone": "77001234568"})]]
    assert statuses == ["ok", "duplicate", "duplicate", "duplicate", "ok"]
    clock.advance(network.duplicate_window - 1)
    assert push(client, "wm/push", WM).json["error"] == "duplicate"
    clock.advance(1)  # the window has passed
    assert push(client, "wm/push", WM).json["status"] == "ok"


def test_reset_forgets_everything_and_plays_what_it_was_made_as(network: SandboxNetwork, client: Client) -> None:
    push(client, "wm/push", WM)
    network.fail_next(1, "db")
    network.reset(role="ext", dialect="moe")
    assert (network.leads, network.dialect) == ([], "moe")
    assert push(client, "wm/push", WM).json == {"status": "error", "error": "access"}, "every key plays ext now"
    assert push(client, "ext/add", MOE_EXT, key=KEY).json["status"] == "ok"
    network.reset()
    assert network.dialect == "dalead"
    assert push(client, "wm/push", WM).json["id"] == 1001


# -- the read-only calls -------------------------------------------------------------------

@pytest.mark.parametrize(("call", "params", "expected"), [
    pytest.param("wm/offers", {}, ["217", "300"], id="offers"),
    pytest.param("wm/offers", {"offer": "217"}, ["217"], id="offers-one"),
    pytest.param("wm/offers", {"offer": "999"}, [], id="offers-unknown-is-php-empty"),
    pytest.param("wm/flows", {}, ["42", "43"], id="flows"),
    pytest.param("wm/flows", {"offer": "300"}, [], id="flows-of-offer-without"),
])
def test_offers_and_flows_listings(client: Client, call: str, params: dict[str, str], expected: list) -> None:
    for method in ("GET", "POST"):
        answer = read(client, call, method=method, **params).json
        assert (list(answer) if answer else answer) == expected


def test_flows_name_their_offer(client: Client) -> None:
    flows = read(client, "wm/flows", offer="217").json
    assert {k: (v["id"], v["offer"]) for k, v in flows.items()} == {"42": (42, 217), "43": (43, 217)}


@pytest.mark.parametrize("dialect", ["dalead", "moe"])
def test_ext_list_and_comp_list_show_the_keys_own_orders(network: SandboxNetwork, client: Client,
                                                         dialect: str) -> None:
    network.reset(dialect=dialect)
    id_field = {"dalead": "extu", "moe": "id"}[dialect]
    push(client, "ext/add", {**CUSTOMER, id_field: "A-9"})
    push(client, "ext/add", {**CUSTOMER, id_field: "B-9", "phone": "77001234599"}, key=OTHER_EXT_KEY)
    push(client, "comp/add", {**CUSTOMER, "phone": "77001234598"})
    dalead_only = {"phase": 1, "cash": 0} if dialect == "dalead" else {}
    assert read(client, "ext/list", ids="A-9,B-9,0").json == {
        "A-9": {"id": "A-9", "uid": 1001, "stage": "wait", "status": 1, "reason": 0, **dalead_only}}
    assert read(client, "ext/list", ids="0").json == []
    [order] = read(client, "comp/list", oid="1003").json
    assert (order["id"], order["offer"], order["phone"], order["stage"]) == (1003, 217, "77001234598", "wait")
    assert read(client, "comp/list", oid="0").json == []
    assert [call for call, _ in network.reads] == ["ext/list", "ext/list", "comp/list", "comp/list"]
    assert network.reads[0] == ("ext/list", {"ids": "A-9,B-9,0"}), "the key is not kept"


@pytest.mark.parametrize(("call", "key", "error"), [
    pytest.param("wm/offers", EXT_KEY, "access", id="ext-key-on-wm-offers"),
    pytest.param("wm/flows", COMP_KEY, "access", id="comp-key-on-wm-flows"),
    pytest.param("ext/list", KEY, "access", id="wm-key-on-ext-list"),
    pytest.param("comp/list", EXT_KEY, "access", id="ext-key-on-comp-list"),
    pytest.param("comp/list", "1-nope", "key", id="unknown-key"),
])
def test_read_only_calls_check_the_key_and_its_role(client: Client, call: str, key: str, error: str) -> None:
    assert read(client, call, key=key).json == {"status": "error", "error": error}


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    pytest.param("POST", "/api/wm/nope.json", 200, {"status": "error", "error": "func"}, id="unknown-call"),
    pytest.param("POST", "/api/cpa/push.json", 200, {"status": "error", "error": "app"}, id="unknown-app"),
    pytest.param("GET", "/api/wm/push.json", 405, {"status": "error", "error": "method"}, id="get-on-push"),
    pytest.param("POST", "/wm/push.json", 404, None, id="no-prefix-is-a-web-page"),
    pytest.param("GET", "/api/wm/push", 404, None, id="no-json-suffix"),
])
def test_unknown_routes(client: Client, method: str, path: str, status: int, body: dict | None) -> None:
    response = client.open(path, method=method, query_string={"id": KEY})
    assert response.status_code == status
    if body is None:
        assert response.mimetype == "text/html" and "Not Found" in response.get_data(as_text=True)
    else:
        assert response.json == body


# -- failures on demand --------------------------------------------------------------------

@pytest.mark.parametrize(("how", "kwargs", "status", "mimetype", "body", "retry_after"), [
    pytest.param("502", {}, 502, "text/html", "Bad Gateway", None, id="502"),
    pytest.param("503", {}, 503, "text/html", "Service Unavailable", None, id="503"),
    pytest.param("503", {"retry_after": 7}, 503, "text/html", "Service", "7", id="503-retry"),
    pytest.param("429", {}, 429, "text/html", "Too Many", "1", id="429"),
    pytest.param("429", {"retry_after": 3}, 429, "text/html", "Too Many", "3", id="429-retry"),
    pytest.param("garbage", {}, 200, "text/html", "<html>oops</html>", None, id="garbage"),
    pytest.param("db", {}, 200, "application/json", {"status": "error", "error": "db"}, None, id="db"),
    pytest.param("ban", {"message": "No.", "info": "ip"}, 200, "application/json",
                 {"status": "error", "error": "ban", "message": "No.", "info": "ip"}, None, id="code-message-info"),
    pytest.param("data", {"bad": ["phone", "ip"]}, 200, "application/json",
                 {"status": "error", "error": "data", "bad": ["phone", "ip"]}, None, id="bad"),
    pytest.param("traffic", {"info": "offer"}, 200, "application/json",
                 {"status": "error", "error": "traffic", "info": "offer"}, None, id="info"),
    pytest.param("app", {}, 200, "application/json", {"status": "error", "error": "app"}, None, id="app"),
    pytest.param("func", {}, 200, "application/json", {"status": "error", "error": "func"}, None, id="func"),
    pytest.param("key", {"error_field": "error_text"}, 200, "application/json",
                 {"status": "error", "error_text": "key"}, None, id="error-text-of-old-engines"),
])
def test_fail_next(network: SandboxNetwork, client: Client, how: str, kwargs: dict, status: int,
                   mimetype: str, body: Any, retry_after: str | None) -> None:
    network.fail_next(2, how, **kwargs)
    failed = [push(client, "comp/add", CUSTOMER), read(client, "wm/offers")]
    assert [(r.status_code, r.mimetype, r.headers.get("Retry-After")) for r in failed] == [
        (status, mimetype, retry_after)] * 2
    for response in failed:
        assert response.json == body if isinstance(body, dict) else body in response.get_data(as_text=True)
    assert [lead.lead_id for lead in network.leads] == [0]
    assert network.reads == [("wm/offers", {})]
    assert push(client, "comp/add", CUSTOMER).json["status"] == "ok"  # service resumes
    assert [lead.lead_id for lead in network.accepted()] == [1001]


@pytest.mark.parametrize(("count", "how", "kwargs", "match"), [
    pytest.param(1, "refuse", {}, "stop", id="refuse"),
    pytest.param(1, "500", {}, "how must", id="not-a-code"),
    pytest.param(1, "", {}, "how must", id="empty"),
    pytest.param(-1, "db", {}, "count must", id="negative-count"),
    pytest.param(1, "503", {"retry_after": -1}, "retry_after must", id="negative-retry-after"),
    pytest.param(1, "503", {"message": "x"}, "go with an error code", id="message-on-a-page"),
    pytest.param(1, "hang", {"bad": ["ip"]}, "go with an error code", id="bad-on-a-hang"),
    pytest.param(1, "db", {"error_field": "err"}, "error_field must", id="unknown-error-field"),
])
def test_fail_next_rejects_nonsense(network: SandboxNetwork, count: int, how: str, kwargs: dict,
                                    match: str) -> None:
    with pytest.raises(ValueError, match=match):
        network.fail_next(count, how, **kwargs)


def test_drop_without_a_socket_raises(network: SandboxNetwork, client: Client) -> None:
    network.fail_next(1, "drop")
    with pytest.raises(ConnectionAbortedError):
        push(client, "wm/push", WM)
    assert [lead.lead_id for lead in network.accepted()] == [1001]


def test_drop_accepts_then_cuts_the_connection(live: SandboxNetwork) -> None:
    live.fail_next(1, "drop")
    url, query = f"{live.url}/wm/push.json", {"id": KEY}
    with pytest.raises(requests.ConnectionError):
        requests.post(url, params=query, data=WM, timeout=5)
    assert [lead.lead_id for lead in live.accepted()] == [1001]
    retry = requests.post(url, params=query, data=WM, timeout=5)
    assert retry.json() == {"status": "error", "error": "duplicate"}


def test_hang_times_the_client_out_without_blocking_others(live: SandboxNetwork) -> None:
    live.fail_next(1, "hang", retry_after=60)  # longer than the test: stop() wakes it at the end
    url, query = f"{live.url}/comp/add.json", {"id": COMP_KEY}
    with pytest.raises(requests.Timeout):  # a timeout, not the 504 that ends a hang
        requests.post(url, params=query, data=CUSTOMER, timeout=0.3)
    answer = requests.post(url, params=query, data=CUSTOMER, timeout=10).json()
    assert answer["status"] == "ok"  # answered while the first call still hangs
    assert [lead.lead_id for lead in live.leads] == [0, 1001]


def test_hang_ends_with_a_504() -> None:
    network = SandboxNetwork(keys=[KEY], role="comp")
    network.fail_next(1, "hang", retry_after=0)  # 0 means the default 30 s: stop() wakes it
    with ThreadPoolExecutor(1) as pool:
        with network:
            future = pool.submit(requests.post, f"{network.url}/comp/add.json",
                                 params={"id": KEY}, data=CUSTOMER, timeout=5)
            assert wait_for(lambda: network.leads), "the call arrived and hangs"
        assert future.result(timeout=5).status_code == 504
    assert network.accepted() == []


# -- the admin routes ----------------------------------------------------------------------

def test_admin_endpoints_over_http(live: SandboxNetwork) -> None:
    admin = f"{live.url}/_sandbox"
    failed = requests.post(f"{admin}/fail", data={"count": "1", "how": "503", "retry_after": "2"},
                           timeout=5)
    assert failed.json() == {"status": "ok"}
    answer = requests.post(f"{live.url}/ext/add.json", params={"id": EXT_KEY}, data=EXT, timeout=5)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "2")
    requests.post(f"{live.url}/ext/add.json", params={"id": EXT_KEY}, data={**EXT, "us": "x"}, timeout=5)
    leads = requests.get(f"{admin}/leads", timeout=5).json()
    assert [(lead["call"], lead["lead_id"], lead["fields"], lead["unread"]) for lead in leads] == [
        ("ext/add", 0, EXT, []), ("ext/add", 0, EXT, ["us"])]
    assert leads[1]["user_agent"].startswith("python-requests/")
    assert requests.post(f"{admin}/reset", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{admin}/leads", timeout=5).json() == []


def test_admin_fail_injects_each_part_of_an_error(live: SandboxNetwork) -> None:
    form = {"count": "1", "how": "data", "bad": "phone,ip", "info": "why", "message": "Fix it.",
            "error_field": "error_text"}
    assert requests.post(f"{live.url}/_sandbox/fail", data=form, timeout=5).json() == {"status": "ok"}
    answer = requests.post(f"{live.url}/wm/push.json", params={"id": KEY}, data=WM, timeout=5).json()
    assert answer == {"status": "error", "error_text": "data", "bad": ["phone", "ip"], "info": "why",
                      "message": "Fix it."}


def test_admin_reset_plays_a_role_and_dialect(live: SandboxNetwork) -> None:
    reset = requests.post(f"{live.url}/_sandbox/reset", data={"role": "ext", "dialect": "moe"}, timeout=5)
    assert reset.json() == {"status": "ok"}
    answer = requests.post(f"{live.url}/ext/add.json", params={"id": KEY}, data=MOE_EXT, timeout=5).json()
    assert answer["status"] == "ok" and "url" not in answer
    assert live.dialect == "moe"


@pytest.mark.parametrize(("path", "form"), [
    pytest.param("fail", {"count": "two", "how": "db"}, id="fail-count"),
    pytest.param("reset", {"role": "webmaster"}, id="reset-role"),
    pytest.param("reset", {"dialect": "altercpa"}, id="reset-dialect"),
])
def test_admin_rejects_a_bad_form(client: Client, path: str, form: dict[str, str]) -> None:
    response = client.post(f"/api/_sandbox/{path}", data=form)
    assert response.status_code == 400
    assert response.json["error"] == "data"
    assert response.json["message"]


def test_key_is_never_echoed_or_logged(live: SandboxNetwork, caplog: pytest.LogCaptureFixture,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [requests.post(f"{live.url}/{call}.json", params={"id": KEY}, data=WM, timeout=5).text
              for call in ("wm/push", "ext/add", "comp/add", "wm/nope", "nope/nope")]
    bodies += [requests.get(f"{live.url}/{call}.json", params={"id": KEY}, timeout=5).text
               for call in ("wm/offers", "wm/flows", "ext/list")]
    bodies.append(requests.get(f"{live.url}/_sandbox/leads", timeout=5).text)
    page = requests.get(json.loads(bodies[0])["url"], timeout=5).text
    output = capfd.readouterr()
    logged = [record.getMessage() for record in caplog.records
              if not record.name.startswith("urllib3")]  # the client's own log shows its URLs
    assert len(bodies) == 9
    assert "Sandbox cabinet" in page
    assert not [text for text in [*bodies, page, *logged, output.out, output.err] if KEY in text]


# -- the cabinet ---------------------------------------------------------------------------

def test_cabinet_page_escapes_the_name(client: Client) -> None:
    answer = push(client, "wm/push", {**WM, "name": "<script>alert(1)</script>"}).json
    page = client.get(answer["url"].removeprefix("http://localhost"))
    text = page.get_data(as_text=True)
    assert (page.status_code, page.mimetype) == (200, "text/html")
    assert "<title>Sandbox cabinet</title>" in text
    assert 'name="viewport"' in text
    assert "Order #1001" in text
    assert "<dd>217</dd>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text
    assert not any(attribute in text for attribute in ("src=", "href=", "url("))  # self-contained


@pytest.mark.parametrize("path", [
    pytest.param("/cabinet/1001?t=wrong", id="wrong-token"),
    pytest.param("/cabinet/1001", id="no-token"),
    pytest.param("/cabinet/1002?t=", id="unknown-order"),
])
def test_cabinet_needs_the_token(client: Client, path: str) -> None:
    push(client, "wm/push", WM)
    assert client.get(path).status_code == 404


# -- making and running one ------------------------------------------------------------------

def test_url_names_the_bound_port(network: SandboxNetwork) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = network.url
    with network:
        assert network.url.startswith("http://127.0.0.1:")
        assert network.url.endswith("/api")
        assert int(network.url.split(":")[2].split("/")[0]) > 0
    network.stop()  # twice is fine


@pytest.mark.parametrize(("kwargs", "match"), [
    pytest.param({"keys": []}, "keys must", id="no-keys"),
    pytest.param({"keys": "1-abc"}, "keys must", id="one-key-as-text"),
    pytest.param({"keys": {"1-abc": "webmaster"}}, "role must be one of wm, ext, comp", id="key-role"),
    pytest.param({"role": "agency"}, "role must be one of wm, ext, comp", id="role"),
    pytest.param({"dialect": "altercpa"}, "dialect must be one of dalead, moe", id="dialect"),
    pytest.param({"prefix": "api"}, "prefix must", id="relative-prefix"),
])
def test_constructor_rejects_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SandboxNetwork(**kwargs)


def test_reset_rejects_an_unknown_role(network: SandboxNetwork) -> None:
    with pytest.raises(ValueError, match="role must be one of wm, ext, comp"):
        network.reset(role="agency")


def test_command_line_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "leadkit", "sandbox", "--port", "0", "--key", KEY, "--role", "ext",
         "--dialect", "moe", "--offer", "500:1,2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        url = process.stdout.readline().strip()
        answer = requests.post(f"{url}/ext/add.json", params={"id": KEY},
                               data={**MOE_EXT, "offer": "500"}, timeout=5).json()
        assert (answer["status"], answer["id"], answer["uid"]) == ("ok", 1001, "A-1")
        assert "url" not in answer
    finally:
        process.terminate()
        out, err = process.communicate(timeout=5)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/api")
    assert process.returncode == 0
    assert KEY not in out + err


# -- a wrong network.dialect or role fails loudly, for each role ----------------------------

WRONG = {"dalead": "moe", "moe": "dalead"}


def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<h1>Landing</h1>"]


@pytest.mark.parametrize("role", ["wm", "ext", "comp"])
@pytest.mark.parametrize("dialect", ["dalead", "moe"])
def test_a_wrong_dialect_is_refused_not_silently_accepted(sandbox: SandboxNetwork, role: str,
                                                          dialect: str) -> None:
    """leadkit configured with the other dialect than the network's: the lead is refused."""
    sandbox.reset(role=role, dialect=dialect)
    config = make_config(role, WRONG[dialect], api=sandbox.url, journal={"relay": False})
    with LeadKit(landing, config) as kit:
        client = BrowserClient(kit)
        client.get("/?utm_source=fb&sub1=click-1")
        response = client.post("/leadkit/order", data={"name": "Aigerim", "phone": "87001234567"})
        [entry] = kit.journal.entries()
    assert response.status_code != 303, "the customer is not thanked for a lead the network refused"
    assert sandbox.accepted() == []
    [lead] = sandbox.leads
    assert lead.answer["error"] == ("noid" if role == "ext" else "data")
    assert (entry.state, entry.error_code) == ("rejected", lead.answer["error"])


@pytest.mark.parametrize(("role", "key_role"), [
    pytest.param("wm", "ext", id="wm-config-ext-key"),
    pytest.param("ext", "comp", id="ext-config-comp-key"),
    pytest.param("comp", "wm", id="comp-config-wm-key"),
])
def test_a_wrong_role_is_refused_with_access(sandbox: SandboxNetwork, role: str, key_role: str) -> None:
    sandbox.reset(role=key_role)
    config = make_config(role, api=sandbox.url, journal={"relay": False})
    with LeadKit(landing, config) as kit:
        BrowserClient(kit).post("/leadkit/order", data={"name": "Aigerim", "phone": "87001234567"})
        [entry] = kit.journal.entries()
    assert (entry.state, entry.error_code) == ("rejected", "access")
    assert sandbox.accepted() == []
