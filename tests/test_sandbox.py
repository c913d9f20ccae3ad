"""Tests for leadkit.testing.sandbox: the stand-in network, through the test Client and over loopback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from leadkit.testing.sandbox import ReceivedLead, SandboxNetwork
from support import wait_for

KEY = "7-0f3a9c"
OTHER_KEY = "8-beef01"
CUSTOMER = {"offer": "217", "phone": "77001234567", "ip": "12.34.56.78", "name": "John"}
WM = {**CUSTOMER, "flow": "42"}
EXT = {**CUSTOMER, "extu": "A-1"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def network() -> SandboxNetwork:
    return SandboxNetwork(keys=[KEY, OTHER_KEY], offers={217: [42, 43], 300: []})


@pytest.fixture
def client(network: SandboxNetwork) -> Client:
    return Client(network.app)


@pytest.fixture
def live(network: SandboxNetwork):
    with network:
        yield network


def push(client: Client, call: str, fields: dict[str, str], key: str | None = KEY):
    query = {} if key is None else {"id": key}
    return client.post(f"/api/{call}.json", query_string=query, data=fields,
                       headers={"User-Agent": "leadkit-test/1"})


def without(fields: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k != name}


@pytest.mark.parametrize(("call", "fields", "key", "expected"), [
    pytest.param("wm/push", WM, None, {"error": "key"}, id="key-missing"),
    pytest.param("comp/add", CUSTOMER, "9-nope", {"error": "key"}, id="key-unknown"),
    pytest.param("comp/add", without(CUSTOMER, "offer"), KEY, {"error": "nooffer"}, id="nooffer"),
    pytest.param("comp/add", {**CUSTOMER, "offer": "999"}, KEY, {"error": "offer"}, id="offer"),
    pytest.param("ext/add", {**EXT, "offer": "x1"}, KEY, {"error": "offer"}, id="offer-not-num"),
    pytest.param("wm/push", CUSTOMER, KEY, {"error": "noflow"}, id="noflow"),
    pytest.param("wm/push", {**WM, "flow": "7"}, KEY, {"error": "badflow"}, id="badflow"),
    pytest.param("wm/push", {**WM, "offer": "300"}, KEY, {"error": "badflow"},
                 id="badflow-offer-without-flows"),
    pytest.param("ext/add", CUSTOMER, KEY, {"error": "noid"}, id="noid"),
    pytest.param("ext/add", without(EXT, "phone"), KEY, {"error": "nophone"}, id="nophone"),
    pytest.param("comp/add", {**CUSTOMER, "phone": "+77001234567"}, KEY,
                 {"error": "phone", "message": "Check the phone number."}, id="phone-plus"),
    pytest.param("comp/add", {**CUSTOMER, "phone": "700123"}, KEY,
                 {"error": "phone", "message": "Check the phone number."}, id="phone-short"),
    pytest.param("comp/add", {**CUSTOMER, "phone": "7" * 16}, KEY,
                 {"error": "phone", "message": "Check the phone number."}, id="phone-long"),
    pytest.param("comp/add", without(CUSTOMER, "ip"), KEY, {"error": "data", "bad": ["ip"]},
                 id="ip-missing"),
    pytest.param("comp/add", {**CUSTOMER, "ip": "12.34.56.789"}, KEY,
                 {"error": "data", "bad": ["ip"]}, id="ip-invalid"),
    pytest.param("wm/push", {**WM, "phone": "77000000000"}, KEY,
                 {"error": "ban", "info": "phone",
                  "message": "This phone number is blacklisted by the network."}, id="ban"),
])
def test_refusals(network: SandboxNetwork, client: Client, call: str, fields: dict[str, str],
                  key: str | None, expected: dict) -> None:
    response = push(client, call, fields, key)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {"status": "error", **expected}
    [lead] = network.leads
    assert (lead.call, lead.fields, lead.lead_id) == (call, fields, 0)
    assert network.accepted() == []


@pytest.mark.parametrize(("call", "fields", "uid"), [
    pytest.param("wm/push", WM, None, id="wm"),
    pytest.param("comp/add", CUSTOMER, None, id="comp"),
    pytest.param("ext/add", EXT, "A-1", id="ext-dalead-extu"),
    pytest.param("ext/add", {**CUSTOMER, "id": "112358", "wm": "5"}, "112358", id="ext-moe-id"),
    pytest.param("ext/add", {**CUSTOMER, "extu": "auto"}, "sandbox-1001", id="ext-auto"),
])
def test_accepts_each_call(network: SandboxNetwork, client: Client, call: str,
                           fields: dict[str, str], uid: str | None) -> None:
    response = push(client, call, fields)
    answer = response.json
    assert response.mimetype == "application/json"
    assert (answer["status"], answer["id"], answer.get("uid")) == ("ok", 1001, uid)
    assert answer["url"].startswith("http://localhost/cabinet/1001?t=")
    assert network.accepted() == [ReceivedLead(
        call=call, fields=fields, content_type="application/x-www-form-urlencoded",
        user_agent="leadkit-test/1", lead_id=1001, answer=answer)]


def test_ids_increase_and_autologin_can_be_off() -> None:
    network = SandboxNetwork(keys=[KEY], autologin=False)
    client = Client(network.app)
    answers = [push(client, "comp/add", {**CUSTOMER, "phone": f"7700123456{n}"}).json
               for n in range(3)]
    assert answers == [{"status": "ok", "id": n} for n in (1001, 1002, 1003)]


def test_json_body_is_flattened_to_bracket_keys(network: SandboxNetwork, client: Client) -> None:
    body = {"id": 112358, "offer": 217, "ip": "12.34.56.78", "phone": "79000000000",
            "mobile": True, "params": {"sirname": "Doe", "phonecc": "+7"},
            "items": [{"id": 135, "price": 9900, "count": 1}]}
    response = client.post("/api/ext/add.json", query_string={"id": KEY}, json=body)
    assert response.json["status"] == "ok"
    assert response.json["uid"] == "112358"
    [lead] = network.accepted()
    assert lead.content_type == "application/json"
    assert lead.fields == {
        "id": "112358", "offer": "217", "ip": "12.34.56.78", "phone": "79000000000",
        "mobile": "1", "params[sirname]": "Doe", "params[phonecc]": "+7",
        "items[0][id]": "135", "items[0][price]": "9900", "items[0][count]": "1"}


def test_broken_json_body_has_no_fields(network: SandboxNetwork, client: Client) -> None:
    response = client.post("/api/comp/add.json", query_string={"id": KEY}, data="{oops",
                           content_type="application/json")
    assert response.json == {"status": "error", "error": "nooffer"}
    assert network.leads[0].fields == {}


def test_ext_duplicates_are_per_order_id_and_key(network: SandboxNetwork, client: Client) -> None:
    statuses = [push(client, "ext/add", fields, key).json.get("error", "ok") for fields, key in [
        (EXT, KEY), (EXT, KEY), ({**EXT, "extu": "A-2"}, KEY), (EXT, OTHER_KEY),
        ({**CUSTOMER, "id": "A-1"}, KEY), ({**EXT, "extu": "auto"}, KEY),
        ({**EXT, "extu": "auto"}, KEY)]]
    assert statuses == ["ok", "duplicate", "ok", "ok", "duplicate", "ok", "ok"]


def test_wm_and_comp_duplicates_are_offer_and_phone(network: SandboxNetwork,
                                                    client: Client) -> None:
    statuses = [push(client, call, fields).json.get("error", "ok") for call, fields in [
        ("wm/push", WM), ("wm/push", {**WM, "flow": "43"}), ("comp/add", CUSTOMER),
        ("wm/push", {**WM, "phone": "77001234568"})]]
    assert statuses == ["ok", "duplicate", "duplicate", "ok"]
    network.duplicate_window = 0  # the ten minutes have passed
    assert push(client, "wm/push", WM).json["status"] == "ok"


def test_reset_forgets_everything(network: SandboxNetwork, client: Client) -> None:
    push(client, "wm/push", WM)
    network.fail_next(1, "db")
    network.reset()
    assert network.leads == []
    assert push(client, "wm/push", WM).json["id"] == 1001


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    pytest.param("POST", "/api/wm/lead.json", 404, "notfound", id="unknown-call"),
    pytest.param("POST", "/wm/push.json", 404, "notfound", id="no-prefix"),
    pytest.param("GET", "/api/wm/push.json", 405, "method", id="get-on-push"),
])
def test_unknown_routes_answer_json(client: Client, method: str, path: str, status: int,
                                    error: str) -> None:
    response = client.open(path, method=method, query_string={"id": KEY})
    assert response.status_code == status
    assert response.json == {"status": "error", "error": error}


@pytest.mark.parametrize(("how", "kwargs", "status", "mimetype", "body", "retry_after"), [
    pytest.param("502", {}, 502, "text/html", "Bad Gateway", None, id="502"),
    pytest.param("503", {}, 503, "text/html", "Service Unavailable", None, id="503"),
    pytest.param("503", {"retry_after": 7}, 503, "text/html", "Service", "7", id="503-retry"),
    pytest.param("429", {}, 429, "text/html", "Too Many", "1", id="429"),
    pytest.param("429", {"retry_after": 3}, 429, "text/html", "Too Many", "3", id="429-retry"),
    pytest.param("garbage", {}, 200, "text/html", "<html>oops</html>", None, id="garbage"),
    pytest.param("db", {}, 200, "application/json", '{"status": "error", "error": "db"}', None,
                 id="db"),
    pytest.param("ban", {"message": "No."}, 200, "application/json",
                 '{"status": "error", "error": "ban", "message": "No."}', None, id="code-message"),
    pytest.param("traffic", {}, 200, "application/json",
                 '{"status": "error", "error": "traffic"}', None, id="code"),
])
def test_fail_next(network: SandboxNetwork, client: Client, how: str, kwargs: dict, status: int,
                   mimetype: str, body: str, retry_after: str | None) -> None:
    network.fail_next(2, how, **kwargs)
    failed = [push(client, "comp/add", CUSTOMER) for _ in range(2)]
    assert [(r.status_code, r.mimetype, r.headers.get("Retry-After")) for r in failed] == [
        (status, mimetype, retry_after)] * 2
    assert body in failed[0].get_data(as_text=True)
    assert [lead.lead_id for lead in network.leads] == [0, 0]
    assert push(client, "comp/add", CUSTOMER).json["status"] == "ok"  # service resumes
    assert [lead.lead_id for lead in network.accepted()] == [1001]


@pytest.mark.parametrize(("count", "how", "kwargs"), [
    pytest.param(1, "refuse", {}, id="refuse"),
    pytest.param(1, "500", {}, id="not-a-code"),
    pytest.param(1, "", {}, id="empty"),
    pytest.param(-1, "db", {}, id="negative-count"),
    pytest.param(1, "503", {"retry_after": -1}, id="negative-retry-after"),
])
def test_fail_next_rejects_nonsense(network: SandboxNetwork, count: int, how: str,
                                    kwargs: dict) -> None:
    with pytest.raises(ValueError, match="refuse|how must|count must|retry_after must"):
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
    url, query = f"{live.url}/comp/add.json", {"id": KEY}
    with pytest.raises(requests.Timeout):  # a timeout, not the 504 that ends a hang
        requests.post(url, params=query, data=CUSTOMER, timeout=0.3)
    answer = requests.post(url, params=query, data=CUSTOMER, timeout=10).json()
    assert answer["status"] == "ok"  # answered while the first call still hangs
    assert [lead.lead_id for lead in live.leads] == [0, 1001]


def test_hang_ends_with_a_504() -> None:
    network = SandboxNetwork(keys=[KEY])
    network.fail_next(1, "hang", retry_after=0)  # 0 means the default 30 s: stop() wakes it
    with ThreadPoolExecutor(1) as pool:
        with network:
            future = pool.submit(requests.post, f"{network.url}/comp/add.json",
                                 params={"id": KEY}, data=CUSTOMER, timeout=5)
            assert wait_for(lambda: network.leads), "the call arrived and hangs"
        assert future.result(timeout=5).status_code == 504
    assert network.accepted() == []


def test_admin_endpoints_over_http(live: SandboxNetwork) -> None:
    admin = f"{live.url}/_sandbox"
    failed = requests.post(f"{admin}/fail", data={"count": "1", "how": "503", "retry_after": "2"},
                           timeout=5)
    assert failed.json() == {"status": "ok"}
    answer = requests.post(f"{live.url}/ext/add.json", params={"id": KEY}, data=EXT, timeout=5)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "2")
    requests.post(f"{live.url}/ext/add.json", params={"id": KEY}, data=EXT, timeout=5)
    leads = requests.get(f"{admin}/leads", timeout=5).json()
    assert [(lead["call"], lead["lead_id"], lead["fields"]) for lead in leads] == [
        ("ext/add", 0, EXT), ("ext/add", 1001, EXT)]
    assert leads[1]["user_agent"].startswith("python-requests/")
    assert requests.post(f"{admin}/reset", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{admin}/leads", timeout=5).json() == []


def test_admin_fail_rejects_a_bad_form(client: Client) -> None:
    response = client.post("/api/_sandbox/fail", data={"count": "two", "how": "db"})
    assert response.status_code == 400
    assert response.json["error"] == "data"


def test_key_is_never_echoed_or_logged(live: SandboxNetwork, caplog: pytest.LogCaptureFixture,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [requests.post(f"{live.url}/{call}.json", params={"id": KEY}, data=WM, timeout=5).text
              for call in ("wm/push", "ext/add", "comp/add", "nope")]
    bodies.append(requests.get(f"{live.url}/_sandbox/leads", timeout=5).text)
    page = requests.get(json.loads(bodies[0])["url"], timeout=5).text
    output = capfd.readouterr()
    logged = [record.getMessage() for record in caplog.records
              if not record.name.startswith("urllib3")]  # the client's own log shows its URLs
    assert len(bodies) == 5
    assert "Sandbox cabinet" in page
    assert not [text for text in [*bodies, page, *logged, output.out, output.err] if KEY in text]


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
    pytest.param({"prefix": "api"}, "prefix must", id="relative-prefix"),
])
def test_constructor_rejects_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SandboxNetwork(**kwargs)


def test_command_line_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "leadkit", "sandbox", "--port", "0", "--key", KEY,
         "--offer", "500:1,2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().strip()
        answer = requests.post(f"{url}/wm/push.json", params={"id": KEY},
                               data={**WM, "offer": "500", "flow": "2"}, timeout=5).json()
        assert (answer["status"], answer["id"]) == ("ok", 1001)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=5)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/api")
    assert process.returncode == 0
    assert KEY not in out + err
