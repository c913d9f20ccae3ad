"""Tests for the sandbox network's lead statuses: the status calls of each role in each dialect, moving
a lead (the status route, ``set_status`` and the cabinet's buttons), over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import requests

from leadkit.testing.engine import LeadStatus
from leadkit.testing.sandbox import SandboxNetwork

KEY = "7-0f3a9c"  # role wm (not support.KEY: the client's own debug log shows the url, ?id= too)
EXT_KEY = "8-beef01"
COMP_KEY = "9-c0ffee"
OTHER_KEY = "10-abba"  # another agency
KEYS = {KEY: "wm", EXT_KEY: "ext", COMP_KEY: "comp", OTHER_KEY: "ext"}
CUSTOMER = {"offer": "217", "phone": "77001234567", "ip": "12.34.56.78", "name": "John"}
ORDER_ID = {"dalead": "extu", "moe": "id"}
SOURCE = {"dalead": "exts", "moe": "wm"}
LEAD_CALL = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}
STATUS_CALL = {"wm": "wm/lead", "ext": "ext/list", "comp": "comp/list"}
KEY_OF = {"wm": KEY, "ext": EXT_KEY, "comp": COMP_KEY}


@pytest.fixture(scope="module")
def served() -> Iterator[SandboxNetwork]:
    with SandboxNetwork(keys=KEYS, offers={217: [42], 218: [7]}, payouts={218: 1500}) as network:
        yield network


@pytest.fixture
def live(served: SandboxNetwork) -> SandboxNetwork:
    """The module's sandbox over loopback, reset: dalead, no lead, ids from 1001."""
    served.reset()
    return served


def send(network: SandboxNetwork, role: str, phone: str = "77001234567", order_id: str = "A-1",
         **more: str) -> dict[str, Any]:
    """An accepted lead of ``role`` in the network's dialect; its answer."""
    fields = {**CUSTOMER, "phone": phone, **more}
    if role == "wm":
        fields.setdefault("flow", "42")
    if role == "ext":
        fields.setdefault(ORDER_ID[network.dialect], order_id)
    answer = requests.post(f"{network.url}/{LEAD_CALL[role]}.json", params={"id": KEY_OF[role]}, data=fields,
                           timeout=5).json()
    assert answer["status"] == "ok", answer
    return answer


def call(network: SandboxNetwork, name: str, key: str, method: str = "GET", **params: Any) -> Any:
    """A status call's answer, parsed from the raw body: it must be valid JSON."""
    response = requests.request(method, f"{network.url}/{name}.json", params={"id": key, **params}, timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/json")
    return json.loads(response.text)


def status_item(network: SandboxNetwork, role: str, answer: dict[str, Any], method: str = "GET") -> Any:
    """The lead's item in its role's status call (``ext/list`` by the agency id, the others by network id)."""
    if role == "ext":
        listed = call(network, "ext/list", EXT_KEY, method, ids=answer["uid"])
        assert list(listed) == [answer["uid"]]
        return listed[answer["uid"]]
    [item] = call(network, STATUS_CALL[role], KEY_OF[role], method,
                  **{"ids" if role == "wm" else "oid": str(answer["id"])})
    return item


def shown(role: str, dialect: str, state: LeadStatus) -> dict[str, Any]:
    """What the role's status call shows of ``state`` in ``dialect``, as the documents list it."""
    if role == "wm":
        return {"stage": state.stage, "phase": state.phase, "reason": state.reason,
                "reason_text": state.reason_text, "cash": state.cash, "comment": state.comment or None}
    if role == "comp":
        return {"stage": state.stage, "phase": state.phase, "status": state.status, "reason": state.reason}
    dalead = {"phase": state.phase, "cash": state.cash} if dialect == "dalead" else {}
    return {"stage": state.stage, "status": state.status, "reason": state.reason, **dalead,
            **({"comment": state.comment} if state.comment else {})}


def move(network: SandboxNetwork, lead_id: int | str, **fields: str) -> requests.Response:
    return requests.post(f"{network.url}/_sandbox/leads/{lead_id}/status", data=fields, timeout=5,
                         allow_redirects=False)


# -- each role's status call, in each dialect -------------------------------------------------

@pytest.mark.parametrize("dialect", ["dalead", "moe"])
@pytest.mark.parametrize("role", ["wm", "ext", "comp"])
def test_a_lead_moves_and_its_roles_call_follows(live: SandboxNetwork, role: str, dialect: str) -> None:
    live.reset(dialect=dialect)
    answer = send(live, role)
    keys = set(shown(role, dialect, LeadStatus()))

    def seen(method: str = "GET") -> dict[str, Any]:
        item = status_item(live, role, answer, method)
        if role == "ext":  # all of it: no field its dialect's document does not list
            return {k: v for k, v in item.items() if k not in ("id", "uid")}
        return {k: item[k] for k in keys}

    assert seen() == seen("POST") == shown(role, dialect, LeadStatus("wait", 1, 0, 0, ""))

    held = move(live, answer["id"], stage="hold")
    assert (held.status_code, json.loads(held.text)) == (200, {
        "id": answer["id"], "stage": "hold", "phase": 2, "status": 4, "reason": 0, "reason_text": "", "cash": 0,
        "comment": ""})
    assert seen() == shown(role, dialect, LeadStatus("hold", 4))

    approved = live.set_status(answer["id"], "approve", comment="Paid, thanks")
    assert approved == LeadStatus("approve", 6, 0, 700, "Paid, thanks")
    assert seen() == shown(role, dialect, approved)

    trashed = json.loads(move(live, answer["id"], stage="trash", reason="13", status="12").text)
    assert seen() == shown(role, dialect, LeadStatus("trash", 12, 13, 0, ""))
    assert trashed["reason_text"] == "Speaks different language"
    assert live.status_of(answer["id"]) == LeadStatus("trash", 12, 13, 0, "")


def test_ext_list_by_agency_id_or_network_id_only_the_keys_own(live: SandboxNetwork) -> None:
    first = send(live, "ext", exts="5", count="2")
    auto = send(live, "ext", phone="77001234568", order_id="auto")
    theirs = requests.post(f"{live.url}/ext/add.json", params={"id": OTHER_KEY},
                           data={**CUSTOMER, "phone": "77001234569", "extu": "B-1"}, timeout=5).json()
    live.set_status(first["id"], "cancel", comment="Too dear")
    listed = call(live, "ext/list", EXT_KEY, ids=f"A-1,{auto['uid']},B-1,nope", oid=str(theirs["id"]))
    assert listed == {
        "A-1": {"id": "A-1", "uid": first["id"], "src": "5", "stage": "cancel", "phase": 4, "status": 5,
                "reason": 2, "cash": 0, "comment": "Too dear", "count": 2},
        "sandbox-1002": {"id": "sandbox-1002", "uid": auto["id"], "stage": "wait", "phase": 1, "status": 1,
                         "reason": 0, "cash": 0}}
    assert list(call(live, "ext/list", EXT_KEY, oid=f"{auto['id']},{theirs['id']},9999")) == ["sandbox-1002"]
    assert list(call(live, "ext/list", OTHER_KEY, ids="A-1,B-1")) == ["B-1"]


def test_an_empty_listing_is_php_empty_array(live: SandboxNetwork) -> None:
    send(live, "wm")  # a lead, but none of these calls names it
    for name, key, params in [("ext/list", EXT_KEY, {"ids": "A-1"}), ("ext/list", EXT_KEY, {}),
                              ("wm/lead", KEY, {"ids": "9999"}), ("comp/list", COMP_KEY, {})]:
        response = requests.get(f"{live.url}/{name}.json", params={"id": key, **params}, timeout=5)
        assert response.text == "[]", name


def test_moe_ext_list_shows_the_source_sent_as_wm(live: SandboxNetwork) -> None:
    live.reset(dialect="moe")
    answer = send(live, "ext", wm="42")
    assert call(live, "ext/list", EXT_KEY, ids="A-1") == {
        "A-1": {"id": "A-1", "uid": answer["id"], "src": "42", "stage": "wait", "status": 1, "reason": 0}}


@pytest.mark.parametrize(("dialect", "tags", "utm"), [
    pytest.param("dalead", {"utm_source": "google", "utm_medium": "cpc", "utm_term": "neverland"},
                 {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "", "utm_content": "",
                  "utm_term": "neverland"}, id="dalead"),
    pytest.param("moe", {"us": "google", "um": "cpc", "ut": "neverland"},
                 {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "", "utm_content": "",
                  "utm_term": "neverland"}, id="moe-tags-under-utm-names"),
])
def test_wm_lead_as_the_dalead_example(live: SandboxNetwork, dialect: str, tags: dict[str, str],
                                       utm: dict[str, str]) -> None:
    live.reset(dialect=dialect)
    answer = send(live, "wm", **tags)
    live.set_status(answer["id"], "trash")
    [item] = call(live, "wm/lead", KEY, ids=f"{answer['id']},9999")
    assert item == {"id": answer["id"], "time": item["time"], "stage": "trash", "phase": 5, "reason": 1,
                    "reason_text": "Incorrect phone", "hold": 0, "comment": None, "cash": 0, "offer": 217,
                    "offer_name": "Sandbox offer 217", "flow": 42, "ip": "12.34.56.78", **utm}
    assert isinstance(item["time"], str) and item["time"].isdigit(), "a string, as in the example"


def test_wm_lead_without_ids_lists_every_lead_filtered_by_offer_and_flow(live: SandboxNetwork) -> None:
    first, second = send(live, "wm"), send(live, "wm", phone="77001234568", offer="218", flow="7")
    assert [item["id"] for item in call(live, "wm/lead", KEY)] == [first["id"], second["id"]]
    assert [item["id"] for item in call(live, "wm/lead", KEY, offer="218")] == [second["id"]]
    assert [item["id"] for item in call(live, "wm/lead", KEY, flow="42")] == [first["id"]]
    live.set_status(second["id"], "approve")
    assert [item["cash"] for item in call(live, "wm/lead", KEY)] == [0, 1500], "offer 218's own payout"


def test_comp_list_names_filters_and_prices(live: SandboxNetwork) -> None:
    first = send(live, "comp", base="4990", count="2", currency="kzt", city="Almaty", comment="Ring twice")
    second = send(live, "comp", phone="77001234568")
    live.set_status(second["id"], "approve", status=10)
    [order] = call(live, "comp/list", COMP_KEY, oid=str(first["id"]))
    assert {k: order[k] for k in ("id", "offer", "wm", "stage", "phase", "status", "reason", "ip", "name", "phone",
                                  "country", "city", "comment", "count", "currency", "base", "price")} == {
        "id": first["id"], "offer": 217, "wm": 0, "stage": "wait", "phase": 1, "status": 1, "reason": 0,
        "ip": "12.34.56.78", "name": "John", "phone": "77001234567", "country": "", "city": "Almaty",
        "comment": "Ring twice", "count": 2, "currency": "kzt", "base": "4990.00", "price": "9980.00"}
    assert isinstance(order["time"], int)

    def ids(method: str = "GET", **params: Any) -> list[int]:
        return [item["id"] for item in call(live, "comp/list", COMP_KEY, method, **params)]

    assert ids(**{"ids[]": [str(first["id"]), str(second["id"]), "9999"]}) == [first["id"], second["id"]]
    assert ids("POST", oid=f"{second['id']},9999") == [second["id"]]
    assert ids() == [first["id"], second["id"]]
    assert ids(status="3") == [second["id"]], "status filters by phase"
    assert ids(after=str(first["id"])) == [second["id"]]
    assert ids(eid="1001") == [], "comp/add takes no CRM id: eid names no order"
    assert ids(oid="9999") == []


def test_status_calls_are_recorded_and_keep_no_key(live: SandboxNetwork) -> None:
    send(live, "wm")
    call(live, "wm/lead", KEY, ids="1001")
    call(live, "ext/list", EXT_KEY, "POST", oid="1001")
    call(live, "comp/list", COMP_KEY, **{"ids[]": ["1", "2"]})
    assert live.reads == [("wm/lead", {"ids": "1001"}), ("ext/list", {"oid": "1001"}),
                          ("comp/list", {"ids[]": "1,2"})]


@pytest.mark.parametrize(("name", "key"), [("wm/lead", KEY), ("ext/list", EXT_KEY), ("comp/list", COMP_KEY)])
def test_status_calls_check_the_keys_role(live: SandboxNetwork, name: str, key: str) -> None:
    other = {KEY: COMP_KEY, EXT_KEY: KEY, COMP_KEY: EXT_KEY}[key]
    assert call(live, name, other, ids="1") == {"status": "error", "error": "access"}


@pytest.mark.parametrize(("how", "status", "body"), [
    pytest.param("503", 503, "Service Unavailable", id="503"),
    pytest.param("garbage", 200, "<html>oops</html>", id="garbage"),
    pytest.param("db", 200, '{"status": "error", "error": "db"}', id="db"),
])
def test_fail_next_breaks_the_status_calls_too(live: SandboxNetwork, how: str, status: int, body: str) -> None:
    send(live, "wm")
    live.fail_next(3, how)
    failed = [requests.get(f"{live.url}/{name}.json", params={"id": key, "ids": "1001"}, timeout=5)
              for name, key in [("wm/lead", KEY), ("ext/list", EXT_KEY), ("comp/list", COMP_KEY)]]
    assert [(response.status_code, body in response.text) for response in failed] == [(status, True)] * 3
    assert [name for name, _ in live.reads] == ["wm/lead", "ext/list", "comp/list"]
    assert call(live, "wm/lead", KEY, ids="1001")[0]["stage"] == "wait", "service resumes"


# -- moving a lead: the status route and set_status -------------------------------------------

def test_the_status_route_takes_json_and_every_field(live: SandboxNetwork) -> None:
    answer = send(live, "wm")
    response = requests.post(f"{live.url}/_sandbox/leads/{answer['id']}/status", timeout=5,
                             json={"stage": "approve", "status": 10, "cash": 12.5, "comment": "Done"})
    assert json.loads(response.text) == {"id": answer["id"], "stage": "approve", "phase": 3, "status": 10,
                                         "reason": 0, "reason_text": "", "cash": 12.5, "comment": "Done"}
    cancelled = move(live, answer["id"], stage="cancel", reason="9", cash="0")
    assert json.loads(cancelled.text)["reason_text"] == "Expensive"
    assert live.status_of(answer["id"]) == LeadStatus("cancel", 5, 9, 0, "")
    assert json.loads(move(live, answer["id"], stage="wait", status="3").text)["status"] == 3


@pytest.mark.parametrize(("fields", "match"), [
    pytest.param({}, "stage must be one of wait, hold, approve, cancel, trash (got '')", id="no-stage"),
    pytest.param({"stage": "approved"}, "stage must be one of", id="unknown-stage"),
    pytest.param({"stage": "approve", "status": "six"}, "status must be a whole number", id="status-text"),
    pytest.param({"stage": "approve", "status": "5"}, "status of a approve lead must be 6 Packing", id="status-fit"),
    pytest.param({"stage": "hold", "reason": "2"}, "reason is for cancel and trash only", id="reason-on-hold"),
    pytest.param({"stage": "trash", "reason": "2"}, "reason of a trash lead must be one of 1, 3", id="cancel-reason"),
    pytest.param({"stage": "cancel", "reason": "1"}, "reason of a cancel lead must be one of 2, 4", id="trash-reason"),
    pytest.param({"stage": "cancel", "reason": "16"}, "reason of a cancel lead", id="reason-unknown"),
    pytest.param({"stage": "cancel", "reason": "-2"}, "reason must be a whole number", id="reason-negative"),
    pytest.param({"stage": "approve", "cash": "lots"}, "cash must be a number", id="cash-text"),
    pytest.param({"stage": "approve", "cash": "nan"}, "cash must be a number", id="cash-nan"),
    pytest.param({"stage": "approve", "cash": "-1"}, "cash must be a number, 0 or more", id="cash-negative"),
    pytest.param({"stage": "approve", "next": "http://elsewhere.example/"}, "next must be a path", id="next-site"),
    pytest.param({"stage": "approve", "next": "//elsewhere.example/"}, "next must be a path", id="next-scheme-less"),
])
def test_the_status_route_rejects_what_does_not_fit(live: SandboxNetwork, fields: dict[str, str],
                                                    match: str) -> None:
    answer = send(live, "wm")
    response = move(live, answer["id"], **fields)
    body = json.loads(response.text)
    assert (response.status_code, body["status"], body["error"]) == (400, "error", "data")
    assert match in body["message"]
    assert live.status_of(answer["id"]) == LeadStatus(), "the lead did not move"


@pytest.mark.parametrize("lead_id", ["9999", "abc", "0"])
def test_the_status_route_knows_no_such_lead(live: SandboxNetwork, lead_id: str) -> None:
    response = move(live, lead_id, stage="approve")
    assert (response.status_code, response.headers["Content-Type"]) == (404, "application/json")
    assert json.loads(response.text) == {"status": "error", "error": "notfound",
                                         "message": f"the sandbox has no lead {lead_id}"}


def test_the_status_route_is_post_only(live: SandboxNetwork) -> None:
    response = requests.get(f"{live.url}/_sandbox/leads/1001/status", timeout=5)
    assert (response.status_code, json.loads(response.text)["error"]) == (405, "method")


def test_set_status_defaults_payouts_and_refusals(live: SandboxNetwork) -> None:
    first, second = send(live, "comp"), send(live, "comp", phone="77001234568", offer="218")
    assert live.set_status(first["id"], "approve") == LeadStatus("approve", 6, 0, 700)
    assert live.set_status(second["id"], "approve").cash == 1500
    assert live.set_status(second["id"], "approve", cash=0).cash == 0
    assert live.set_status(first["id"], "cancel") == LeadStatus("cancel", 5, 2, 0)
    assert live.set_status(first["id"], "trash") == LeadStatus("trash", 5, 1, 0)
    assert live.set_status(first["id"], "hold", comment="Calls back") == LeadStatus("hold", 4, 0, 0, "Calls back")
    with pytest.raises(KeyError, match="no lead 9999"):
        live.set_status(9999, "approve")
    with pytest.raises(ValueError, match="stage must be one of"):
        live.set_status(first["id"], "paid")
    live.reset()
    with pytest.raises(KeyError):
        live.status_of(first["id"])


# -- the cabinet's buttons --------------------------------------------------------------------

class _Forms(HTMLParser):
    """The forms of a page: action, hidden fields and the stage each button sends."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.forms.append({"method": named["method"], "action": named["action"], "hidden": {}, "stages": []})
        elif tag == "input" and named.get("type") == "hidden":
            self.forms[-1]["hidden"][named["name"]] = named["value"]
        elif tag == "button":
            assert (named["type"], named["name"]) == ("submit", "stage")
            self.forms[-1]["stages"].append(named["value"])


def forms_of(page: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def press(network: SandboxNetwork, page_url: str, form: dict[str, Any], stage: str) -> requests.Response:
    """Submit ``form`` with the ``stage`` button, as a browser does: POST, then GET where it redirects."""
    assert stage in form["stages"]
    root = network.url.removesuffix(network.url.split("/", 3)[3]).rstrip("/")
    assert form["method"] == "post"
    posted = requests.post(root + form["action"], data={**form["hidden"], "stage": stage}, timeout=5,
                           allow_redirects=False)
    assert (posted.status_code, root + posted.headers["Location"]) == (303, page_url)
    return requests.get(page_url, timeout=5)


def test_cabinet_buttons_move_the_lead_and_come_back(live: SandboxNetwork) -> None:
    answer = send(live, "wm", name="<b>Jo</b>")
    page = requests.get(answer["url"], timeout=5).text
    assert "Stage</dt><dd>wait (status 1 New order)</dd>" in page
    assert "&lt;b&gt;Jo&lt;/b&gt;" in page and "<script" not in page
    [form] = forms_of(page)
    assert form["stages"] == ["hold", "approve", "cancel", "trash"]
    assert form["action"] == f"/api/_sandbox/leads/{answer['id']}/status"
    page = press(live, answer["url"], form, "approve").text
    assert "Stage</dt><dd>approve (status 6 Packing), payout 700</dd>" in page
    assert live.status_of(answer["id"]).stage == "approve"
    page = press(live, answer["url"], forms_of(page)[0], "trash").text
    assert "trash (status 5 Cancelled, reason 1 Incorrect phone)" in page
    assert call(live, "wm/lead", KEY, ids=str(answer["id"]))[0]["stage"] == "trash"


def test_cabinet_escapes_the_comment(live: SandboxNetwork) -> None:
    answer = send(live, "wm")
    live.set_status(answer["id"], "hold", comment='<img src=x onerror="alert(1)">')
    page = requests.get(answer["url"], timeout=5).text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<img" not in page


def test_the_page_of_every_lead(live: SandboxNetwork) -> None:
    listing = f"{live.url}/_sandbox/cabinet"
    empty = requests.get(listing, timeout=5)
    assert (empty.status_code, empty.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "No lead yet" in empty.text and forms_of(empty.text) == []
    live.reset(dialect="moe")  # no autologin url in moe: this page is the way to the buttons
    send(live, "wm", name="Ann & Bob")
    send(live, "ext", phone="77001234568")
    page = requests.get(listing, timeout=5).text
    assert "Ann &amp; Bob" in page and "Ann & Bob" not in page
    assert page.count("wait (status 1 New order)") == 2
    forms = forms_of(page)
    assert [form["action"] for form in forms] == ["/api/_sandbox/leads/1001/status", "/api/_sandbox/leads/1002/status"]
    page = press(live, listing, forms[1], "hold").text
    assert "hold (status 4 Hold)" in page
    assert call(live, "ext/list", EXT_KEY, ids="A-1") == {
        "A-1": {"id": "A-1", "uid": 1002, "stage": "hold", "status": 4, "reason": 0}}
    assert KEY not in page and EXT_KEY not in page
