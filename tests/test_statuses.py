"""Reading the network's status answers (:mod:`leadkit.statuses`): each role's listing as the documents
show it, every field a hostile network could spell another way, error answers, the delay between two
checks of a lead, and the ``[sync]`` settings.

The documents' examples are not valid JSON (comments, ``1234 : {...}`` inside a list): the bodies here
are what those examples mean, written as JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadkit.errors import ConfigError
from leadkit.statuses import (BATCH, FINAL_STAGES, STAGES, STATUS_CALLS, LeadStatus, StatusError, Statuses, SyncConfig,
                              check_delay, lead_key, read_statuses)

ROLES = ("wm", "ext", "comp")


def body(value: Any) -> bytes:
    """A value as the network would send it (``NaN`` and ``Infinity`` as Python's JSON writes them)."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def read(value: Any, role: str = "wm") -> Statuses:
    return read_statuses(body(value), role)


# -- each role's listing, as the documents show it ---------------------------------------

#: wm/lead.json in the Russian document: a list, ``id`` the network's lead id, ``cash`` the payout.
WM_LEAD = [{"id": 10101, "time": "1498127780", "stage": "trash", "phase": 5, "reason": 1,
            "reason_text": "Некорректный номер", "hold": 0, "comment": None, "cash": 700, "offer": 234,
            "flow": 4838, "ip": "12.34.56.78", "utm_source": "google"}]
#: ext/list.json in the Russian document: an object keyed by the agency's id; ``id`` is the agency's
#: (leadkit's) id, ``uid`` the network's; the second item's stage is spelt "approved".
EXT_LIST_RU = {"1234": {"id": 1234, "uid": 432, "phase": 5, "stage": "trash", "reason": 2, "comment": "Мур-мур"},
               "2345": {"id": 2345, "uid": 543, "phase": 3, "stage": "approved", "count": 2, "cash": "350.00"}}
#: ext/list.json in AlterCPA Moe's affiliate document: its second item has neither stage nor phase.
EXT_LIST_MOE = {"1234": {"id": 1234, "uid": 432, "status": 5, "stage": "cancel", "reason": 2},
                "2345": {"id": 2345, "uid": 543, "status": 6, "count": 2}}
#: comp/list.json in the Russian document: a list, ``id`` the network's order id; a supplier is paid nothing.
COMP_LIST = [{"id": 13131, "ext": 2424, "offer": 15, "wm": 59, "stage": "approve", "phase": 3, "status": 8,
              "reason": 0, "check": 0, "currency": "rub", "price": "4340.00", "cash": 700}]


@pytest.mark.parametrize(("answer", "role", "found", "unreadable"), [
    pytest.param(WM_LEAD, "wm", {"10101": LeadStatus("10101", "trash", None, 1, 700.0)}, 0, id="wm-lead-document"),
    pytest.param(EXT_LIST_RU, "ext", {"1234": LeadStatus("1234", "trash", None, 2, None),
                                      "2345": LeadStatus("2345", "approve", None, None, 350.0)}, 0,
                 id="ext-list-russian-document-approved"),
    pytest.param(EXT_LIST_MOE, "ext", {"1234": LeadStatus("1234", "cancel", 5, 2, None)}, 1,
                 id="ext-list-moe-document-item-without-stage"),
    pytest.param({"170000000000000042": {"uid": 77, "stage": "hold", "cash": 12.5}}, "ext",
                 {"170000000000000042": LeadStatus("170000000000000042", "hold", None, None, 12.5)}, 0,
                 id="ext-keyed-item-without-id-named-by-its-key"),
    pytest.param({"1": {"id": 2, "uid": 3, "stage": "wait"}}, "ext", {"2": LeadStatus("2", "wait")}, 0,
                 id="ext-item-id-before-its-key"),
    pytest.param([{"id": "170000000000000042", "uid": 9, "stage": "hold", "cash": 5}], "ext",
                 {"170000000000000042": LeadStatus("170000000000000042", "hold", payout=5.0)}, 0,
                 id="ext-as-a-list-named-by-our-id-not-uid"),
    pytest.param([{"uid": 9, "stage": "hold"}], "ext", {}, 1, id="ext-list-item-with-only-uid-is-unreadable"),
    pytest.param(COMP_LIST, "comp", {"13131": LeadStatus("13131", "approve", 8, 0, None)}, 0,
                 id="comp-list-document-no-payout-even-with-cash"),
    pytest.param(COMP_LIST, "wm", {"13131": LeadStatus("13131", "approve", 8, 0, 700.0)}, 0,
                 id="the-same-item-for-wm-has-its-payout"),
    pytest.param({"10101": {"stage": "wait"}}, "wm", {"10101": LeadStatus("10101", "wait")}, 0,
                 id="wm-keyed-by-network-id"),
])
def test_each_role_s_listing(answer: Any, role: str, found: dict[str, LeadStatus], unreadable: int) -> None:
    assert read(answer, role) == Statuses(found, unreadable)


# -- stage and phase -------------------------------------------------------------------------

@pytest.mark.parametrize(("item", "stage"), [
    *(pytest.param({"stage": s}, s, id=s) for s in STAGES),
    pytest.param({"stage": "approved"}, "approve", id="approved"),
    pytest.param({"stage": " Approved "}, "approve", id="approved-spaces-and-case"),
    pytest.param({"stage": "HOLD"}, "hold", id="upper-case"),
    pytest.param({"stage": "cancelled"}, "cancel", id="cancelled"),
    pytest.param({"stage": "canceled"}, "cancel", id="canceled"),
    pytest.param({"stage": "declined"}, "cancel", id="declined"),
    pytest.param({"stage": "new"}, "wait", id="new"),
    pytest.param({"stage": "trashed"}, "trash", id="trashed"),
    pytest.param({"phase": 3}, "approve", id="no-stage-phase-3"),
    pytest.param({"phase": "3"}, "approve", id="no-stage-phase-3-as-text"),
    *(pytest.param({"phase": p}, s, id=f"phase-{p}") for p, s in zip(range(1, 6), STAGES)),
    pytest.param({"stage": "unheard-of", "phase": 4}, "cancel", id="unknown-stage-phase-4"),
    pytest.param({"stage": 3, "phase": 2}, "hold", id="stage-a-number-phase-2"),
    pytest.param({"stage": "", "phase": 1}, "wait", id="empty-stage-phase-1"),
])
def test_the_stage_is_read_from_stage_else_phase(item: dict[str, Any], stage: str) -> None:
    assert read([{"id": 7, **item}]) == Statuses({"7": LeadStatus("7", stage)})


@pytest.mark.parametrize("item", [
    pytest.param({}, id="neither"),
    pytest.param({"stage": "unheard-of"}, id="unknown-stage-no-phase"),
    pytest.param({"stage": None, "phase": None}, id="nulls"),
    pytest.param({"phase": 0}, id="phase-0"),
    pytest.param({"phase": 6}, id="phase-6"),
    pytest.param({"phase": -3}, id="phase-negative"),
    pytest.param({"phase": 3.0}, id="phase-a-float"),
    pytest.param({"phase": True}, id="phase-true"),
    pytest.param({"phase": "three"}, id="phase-words"),
    pytest.param({"stage": ["approve"]}, id="stage-a-list"),
    pytest.param({"stage": {"approve": 1}}, id="stage-an-object"),
])
def test_an_item_without_a_stage_is_counted_unreadable(item: dict[str, Any]) -> None:
    assert read([{"id": 7, **item}, {"id": 8, "stage": "wait"}]) == Statuses({"8": LeadStatus("8", "wait")}, 1)


def test_items_that_are_not_objects_are_counted_and_skipped() -> None:
    answer = [1, "x", None, True, [], [{"id": 2, "stage": "wait"}], {"id": 3, "stage": "hold"}]
    assert read(answer) == Statuses({"3": LeadStatus("3", "hold")}, 6)
    assert read({"1": "approve", "2": None, "3": {"stage": "hold"}}) == Statuses({"3": LeadStatus("3", "hold")}, 2)


def test_the_same_id_twice_keeps_the_last() -> None:
    assert read([{"id": 5, "stage": "wait"}, {"id": "5", "stage": "hold"}]) == Statuses({"5": LeadStatus("5", "hold")})


# -- ids ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "key"), [
    pytest.param(b"42", "42", id="int"),
    pytest.param(b'"42"', "42", id="string"),
    pytest.param(b'" 42 "', "42", id="string-with-spaces"),
    pytest.param(b"42.0", "42", id="whole-float"),
    pytest.param(b"0", "0", id="zero"),
    pytest.param(b"170000000000000042", "170000000000000042", id="leadkit-lead-id"),
    pytest.param(b"1" + b"0" * 40, "1" + "0" * 40, id="huge-int"),
    pytest.param(b"1e300", str(int(1e300)), id="huge-whole-float"),
    pytest.param(b'"ab-12_C"', "ab-12_C", id="letters-dash-underscore"),
    pytest.param(b'"' + b"x" * 64 + b'"', "x" * 64, id="64-characters"),
    pytest.param(b"-1", None, id="negative"),
    pytest.param(b"-0.5", None, id="negative-float"),
    pytest.param(b"42.5", None, id="fraction"),
    pytest.param(b"NaN", None, id="nan"),
    pytest.param(b"Infinity", None, id="infinity"),
    pytest.param(b"true", None, id="true"),
    pytest.param(b"null", None, id="null"),
    pytest.param(b'""', None, id="empty"),
    pytest.param(b'"   "', None, id="blank"),
    pytest.param(b'"' + b"x" * 65 + b'"', None, id="65-characters"),
    pytest.param(b'"a b"', None, id="inner-space"),
    pytest.param(b'"12;DROP"', None, id="punctuation"),
    pytest.param('"\u0661\u0662"'.encode(), None, id="non-ascii-digits"),
    pytest.param(b"[42]", None, id="a-list"),
    pytest.param(b'{"id": 42}', None, id="an-object"),
])
def test_ids_as_the_network_may_spell_them(raw: bytes, key: str | None) -> None:
    answer = b'[{"stage": "wait", "id": ' + raw + b"}]"
    expected = Statuses({key: LeadStatus(key, "wait")}) if key is not None else Statuses({}, 1)
    assert read_statuses(answer, "wm") == expected


def test_a_bad_id_falls_back_to_the_key_of_a_keyed_listing() -> None:
    assert read({"99": {"id": -1, "stage": "wait"}}, "ext") == Statuses({"99": LeadStatus("99", "wait")})
    assert read({"no good": {"stage": "wait"}}, "ext") == Statuses({}, 1), "a key that is no id is not used"


def test_a_key_is_read_as_an_id_is() -> None:
    assert read({" 12 ": {"stage": "wait"}}, "ext") == Statuses({"12": LeadStatus("12", "wait")})


# -- status and reason codes ---------------------------------------------------------------

@pytest.mark.parametrize(("raw", "code"), [
    pytest.param(5, 5, id="int"),
    pytest.param("5", 5, id="string"),
    pytest.param(" 12 ", 12, id="string-with-spaces"),
    pytest.param(0, 0, id="zero"),
    pytest.param(9999, 9999, id="largest"),
    pytest.param("9999", 9999, id="largest-as-text"),
    pytest.param(10000, None, id="too-large"),
    pytest.param("10000", None, id="too-long-as-text"),
    pytest.param(-1, None, id="negative"),
    pytest.param("-1", None, id="negative-as-text"),
    pytest.param(5.0, None, id="float"),
    pytest.param(5.5, None, id="fraction"),
    pytest.param("5.0", None, id="float-as-text"),
    pytest.param("abc", None, id="words"),
    pytest.param("", None, id="empty"),
    pytest.param(True, None, id="true"),
    pytest.param(False, None, id="false"),
    pytest.param(None, None, id="null"),
    pytest.param([5], None, id="a-list"),
    pytest.param({"5": 5}, None, id="an-object"),
    pytest.param(10 ** 30, None, id="huge"),
])
@pytest.mark.parametrize("field", ["status", "reason"])
def test_status_and_reason_codes(field: str, raw: Any, code: int | None) -> None:
    [status] = read([{"id": 1, "stage": "cancel", field: raw}]).found.values()
    assert getattr(status, field) == code
    assert status.stage == "cancel", "a bad code never makes the item unreadable"


@pytest.mark.parametrize("item", [
    pytest.param({"stage": "wait", "status": "\u00b2"}, id="status-superscript-two"),
    pytest.param({"stage": "wait", "reason": "\u2460"}, id="reason-circled-one"),
    pytest.param({"phase": "\u00b3"}, id="phase-superscript-three"),
])
def test_a_digit_that_int_cannot_read_is_no_code(item: dict[str, Any]) -> None:
    statuses = read([{"id": 1, **item}])
    assert statuses.unreadable + len(statuses.found) == 1


# -- payout --------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "payout"), [
    pytest.param(b'"700.00"', 700.0, id="text-with-cents"),
    pytest.param(b"700", 700.0, id="int"),
    pytest.param(b"12.5", 12.5, id="float"),
    pytest.param(b'" 7 "', 7.0, id="text-with-spaces"),
    pytest.param(b"0", 0.0, id="zero"),
    pytest.param(b"999999999.99", 999999999.99, id="just-under-a-billion"),
    pytest.param(b"1e9", None, id="a-billion"),
    pytest.param(b"1e400", None, id="overflows-to-infinity"),
    pytest.param(b"1" + b"0" * 400, None, id="int-too-large-for-a-float"),
    pytest.param(b'"1e400"', None, id="infinity-as-text"),
    pytest.param(b"Infinity", None, id="infinity"),
    pytest.param(b"-5", None, id="negative"),
    pytest.param(b'"-5"', None, id="negative-as-text"),
    pytest.param(b'"nan"', None, id="nan-as-text"),
    pytest.param(b"NaN", None, id="nan"),
    pytest.param(b'"abc"', None, id="words"),
    pytest.param(b'""', None, id="empty"),
    pytest.param(b"true", None, id="true"),
    pytest.param(b"false", None, id="false"),
    pytest.param(b"null", None, id="null"),
    pytest.param(b"[700]", None, id="a-list"),
    pytest.param(b'{"usd": 700}', None, id="an-object"),
])
@pytest.mark.parametrize("role", ["wm", "ext"])
def test_the_payout_of_wm_and_ext(role: str, raw: bytes, payout: float | None) -> None:
    answer = b'[{"id": 1, "stage": "approve", "cash": ' + raw + b"}]"
    assert read_statuses(answer, role) == Statuses({"1": LeadStatus("1", "approve", payout=payout)})


@pytest.mark.parametrize("raw", [b'"700.00"', b"700", b"12.5"])
def test_a_supplier_is_never_given_a_payout(raw: bytes) -> None:
    answer = b'[{"id": 1, "stage": "approve", "cash": ' + raw + b"}]"
    assert read_statuses(answer, "comp") == Statuses({"1": LeadStatus("1", "approve")})


# -- answers that are no listing -------------------------------------------------------------

@pytest.mark.parametrize(("answer", "code"), [
    pytest.param({"status": "error", "error": "key"}, "key", id="error-key"),
    pytest.param({"status": "error", "error": " Access "}, "access", id="error-code-trimmed-lower-case"),
    pytest.param({"error": "func"}, "func", id="error-without-status"),
    pytest.param({"status": "error", "error_text": "app"}, "app", id="error-text"),
    pytest.param({"error_text": "Wrong key"}, "wrong key", id="error-text-without-status"),
    pytest.param({"status": "error", "error": "", "error_text": "access"}, "access", id="empty-error-then-text"),
    pytest.param({"status": "error"}, "error", id="status-error-alone"),
    pytest.param({"status": "error", "error": 403}, "error", id="error-a-number"),
    pytest.param({"status": "error", "error": None}, "error", id="error-null"),
    pytest.param({"status": "error", "error": "x" * 100}, "x" * 40, id="long-code-cut"),
])
def test_an_error_answer_is_a_status_error_with_its_code(answer: dict[str, Any], code: str) -> None:
    for role in ROLES:
        with pytest.raises(StatusError) as info:
            read(answer, role)
        assert info.value.code == code
        assert info.value.detail == str(info.value)


@pytest.mark.parametrize(("answer", "code"), [
    pytest.param(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "not-json", id="html"),
    pytest.param(b"", "not-json", id="empty"),
    pytest.param(b"   ", "not-json", id="blank"),
    pytest.param(b"\xff\xfe\xfa\x00garbage", "not-json", id="not-utf8"),
    pytest.param(b'[{"id": 1, "stage": "wait"}', "not-json", id="cut-short"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "not-json", id="nested-too-deep"),
    pytest.param(b"42", "not-a-listing", id="a-number"),
    pytest.param(b"-1.5", "not-a-listing", id="a-float"),
    pytest.param(b'"ok"', "not-a-listing", id="a-string"),
    pytest.param(b"null", "not-a-listing", id="null"),
    pytest.param(b"true", "not-a-listing", id="true"),
    pytest.param(b"NaN", "not-a-listing", id="nan"),
])
def test_an_answer_that_is_no_listing(answer: bytes, code: str) -> None:
    with pytest.raises(StatusError) as info:
        read_statuses(answer, "wm")
    assert info.value.code == code
    assert str(len(answer)) in info.value.detail or code == "not-a-listing"


@pytest.mark.parametrize("answer", [
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-object"),
    pytest.param({"status": "ok", "data": []}, id="wrapped-empty"),
])
def test_an_empty_listing_has_no_statuses(answer: Any) -> None:
    assert read(answer) == Statuses({}, 0)


@pytest.mark.parametrize("answer", [
    pytest.param({"status": "ok", "data": [{"id": 3, "stage": "hold"}]}, id="data-list"),
    pytest.param({"status": "ok", "data": {"3": {"stage": "hold"}}}, id="data-object"),
    pytest.param({"status": "ok", "leads": [{"id": 3, "stage": "hold"}]}, id="leads-list"),
])
def test_a_wrapped_listing(answer: Any) -> None:
    assert read(answer) == Statuses({"3": LeadStatus("3", "hold")})


def test_an_answer_with_a_byte_order_mark_is_read() -> None:
    assert read_statuses(b"\xef\xbb\xbf" + body([{"id": 3, "stage": "hold"}]), "wm").found == {
        "3": LeadStatus("3", "hold")}


# -- hostile input never raises anything but StatusError --------------------------------------

# No example database: the suite writes nothing into the checkout (as in test_fuzz.py).
FUZZ = settings(database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


_text = st.text(max_size=20)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-20, 20), st.floats(), _text,
                    st.sampled_from(["approve", "approved", " HOLD ", "3", "nan", "-1", "1e400", "700.00", ""]))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=5)
                           | st.dictionaries(_text, children, max_size=5), max_leaves=30)
#: Items as the network shapes them, each field any value.
FIELDS = ("id", "uid", "stage", "phase", "status", "reason", "cash", "error", "error_text", "data", "leads")
items = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
listings = st.one_of(st.lists(st.one_of(items, json_values), max_size=6),
                     st.dictionaries(st.one_of(_text, st.integers(-5, 10 ** 20).map(str)),
                                     st.one_of(items, json_values), max_size=6),
                     st.fixed_dictionaries({"status": st.sampled_from(["ok", "error", 1]),
                                            "data": st.lists(items, max_size=4)}))


def assert_reads_or_refuses(answer: bytes, role: str) -> None:
    try:
        statuses = read_statuses(answer, role)
    except StatusError as error:
        assert isinstance(error.code, str) and error.code and len(error.code) <= 40
        return
    for key, status in statuses.found.items():
        assert key == status.key and status.stage in STAGES
        assert status.status is None or 0 <= status.status < 10000
        assert status.reason is None or 0 <= status.reason < 10000
        assert status.payout is None or (math.isfinite(status.payout) and status.payout >= 0)
        assert status.payout is None or role != "comp"
    assert statuses.unreadable >= 0


@FUZZ
@given(value=json_values, role=st.sampled_from(ROLES))
@example(value=[{"id": 1, "stage": "wait", "cash": float("nan")}], role="wm")
@example(value={"status": "error", "error": ["key"]}, role="ext")
def test_any_json_value_is_read_or_refused(value: Any, role: str) -> None:
    assert_reads_or_refuses(json.dumps(value).encode(), role)


@FUZZ
@given(value=listings, role=st.sampled_from(ROLES))
@example(value=[{"id": 1e308, "stage": "approve", "cash": 1e308, "status": 1e308}], role="ext")
@example(value={"status": "ok", "leads": None, "data": [{"id": 1, "stage": "wait"}]}, role="wm")
def test_any_listing_of_hostile_items_is_read_or_refused(value: Any, role: str) -> None:
    assert_reads_or_refuses(json.dumps(value).encode(), role)


@FUZZ
@given(answer=st.binary(max_size=200), role=st.sampled_from(ROLES))
@example(answer=b"\x00\x00\x00[", role="wm")
@example(answer=b"\xfe\xff\x00[\x00]", role="comp")
def test_any_bytes_are_read_or_refused(answer: bytes, role: str) -> None:
    assert_reads_or_refuses(answer, role)


# -- when a lead is asked about, and by which id ---------------------------------------------

@pytest.mark.parametrize(("age", "delay"), [
    pytest.param(0, 60, id="new"),
    pytest.param(-30, 60, id="from-the-future"),
    pytest.param(1800, 60, id="half-an-hour"),
    pytest.param(3600, 60, id="an-hour"),
    pytest.param(7200, 120, id="two-hours"),
    pytest.param(5400, 90, id="an-hour-and-a-half"),
    pytest.param(86400, 24 * 60, id="a-day"),
    pytest.param(60 * 3600, 60 * 60, id="sixty-hours-the-cap"),
    pytest.param(30 * 86400, 60 * 60, id="a-month"),
    pytest.param(1e12, 60 * 60, id="forever"),
])
def test_check_delay_grows_with_age_up_to_60_intervals(age: float, delay: float) -> None:
    assert check_delay(age, 60) == pytest.approx(delay)


def test_check_delay_never_shrinks_as_a_lead_ages() -> None:
    ages = [0, 10, 3599, 3600, 3601, 7200, 50000, 86400, 215999, 216000, 216001, 10 ** 9]
    delays = [check_delay(age, 15) for age in ages]
    assert delays == sorted(delays)
    assert (min(delays), max(delays)) == (15, 15 * 60)


@pytest.mark.parametrize(("role", "network_id", "key"), [
    pytest.param("ext", "555", "170000000000000042", id="ext-our-id"),
    pytest.param("ext", None, "170000000000000042", id="ext-without-network-id"),
    pytest.param("wm", "555", "555", id="wm-network-id"),
    pytest.param("comp", "555", "555", id="comp-network-id"),
    pytest.param("wm", None, None, id="wm-without-network-id"),
    pytest.param("comp", "", None, id="comp-empty-network-id"),
])
def test_lead_key_per_role(role: str, network_id: str | None, key: str | None) -> None:
    assert lead_key(role, "170000000000000042", network_id) == key


def test_each_role_has_its_status_call_and_batch() -> None:
    assert dict(STATUS_CALLS) == {"wm": ("wm/lead", "ids"), "ext": ("ext/list", "ids"), "comp": ("comp/list", "oid")}
    assert dict(BATCH) == {"wm": 20, "ext": 50, "comp": 50}
    assert FINAL_STAGES == {"approve", "cancel", "trash"} and set(FINAL_STAGES) < set(STAGES)


# -- [sync] ------------------------------------------------------------------------------------

def test_sync_defaults() -> None:
    config = SyncConfig()
    assert (config.interval, config.max_age, config.enabled, config.currency) == (60.0, 30.0, True, "USD")
    assert isinstance(config.interval, float)


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param({"interval": 1}, {"interval": 1.0}, id="interval-lowest"),
    pytest.param({"interval": 86400}, {"interval": 86400.0}, id="interval-highest"),
    pytest.param({"interval": 2.5}, {"interval": 2.5}, id="interval-fraction"),
    pytest.param({"max_age": 1}, {"max_age": 1.0}, id="max-age-lowest"),
    pytest.param({"max_age": 365}, {"max_age": 365.0}, id="max-age-highest"),
    pytest.param({"enabled": False}, {"enabled": False}, id="disabled"),
    pytest.param({"currency": "eur"}, {"currency": "EUR"}, id="currency-upper-cased"),
    pytest.param({"currency": "Kzt"}, {"currency": "KZT"}, id="currency-mixed-case"),
])
def test_sync_accepted_values(given: dict[str, Any], expected: dict[str, Any]) -> None:
    config = SyncConfig(**given)
    assert {key: getattr(config, key) for key in expected} == expected


@pytest.mark.parametrize(("given", "key", "fragments", "check_id"), [
    pytest.param({"interval": 0}, "sync.interval", ("from 1 to 86400", "(got 0)"), "leadkit.E120", id="interval-0"),
    pytest.param({"interval": 0.5}, "sync.interval", ("(got 0.5)",), "leadkit.E120", id="interval-under-a-second"),
    pytest.param({"interval": 86401}, "sync.interval", ("(got 86401)",), "leadkit.E120", id="interval-over-a-day"),
    pytest.param({"interval": -60}, "sync.interval", ("(got -60)",), "leadkit.E120", id="interval-negative"),
    pytest.param({"interval": "60"}, "sync.interval", ("(got '60')",), "leadkit.E120", id="interval-text"),
    pytest.param({"interval": True}, "sync.interval", ("(got True)",), "leadkit.E120", id="interval-bool"),
    pytest.param({"interval": float("nan")}, "sync.interval", ("seconds",), "leadkit.E120", id="interval-nan"),
    pytest.param({"max_age": 0}, "sync.max_age", ("from 1 to 365", "(got 0)"), "leadkit.E121", id="max-age-0"),
    pytest.param({"max_age": 366}, "sync.max_age", ("days", "(got 366)"), "leadkit.E121", id="max-age-over-a-year"),
    pytest.param({"enabled": "yes"}, "sync.enabled", ("true or false", "(got 'yes')"), "leadkit.E122",
                 id="enabled-text"),
    pytest.param({"enabled": 1}, "sync.enabled", ("(got 1)",), "leadkit.E122", id="enabled-a-number"),
    pytest.param({"currency": "us"}, "sync.currency", ("three-letter", "(got 'us')"), "leadkit.E123",
                 id="currency-two-letters"),
    pytest.param({"currency": "usdt"}, "sync.currency", ("(got 'usdt')",), "leadkit.E123", id="currency-four"),
    pytest.param({"currency": "U$D"}, "sync.currency", ("(got 'U$D')",), "leadkit.E123", id="currency-symbol"),
    pytest.param({"currency": "руб"}, "sync.currency", ("(got 'руб')",), "leadkit.E123", id="currency-cyrillic"),
    pytest.param({"currency": 840}, "sync.currency", ("(got 840)",), "leadkit.E123", id="currency-a-number"),
])
def test_a_bad_sync_setting_is_refused_naming_the_key(given: dict[str, Any], key: str, fragments: tuple[str, ...],
                                                      check_id: str) -> None:
    with pytest.raises(ConfigError) as info:
        SyncConfig(**given)
    [problem] = info.value.problems
    assert (problem.key, problem.id) == (key, check_id)
    assert problem.message.startswith(key)
    for fragment in fragments:
        assert fragment in problem.message


def test_every_bad_sync_setting_is_refused_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        SyncConfig(interval=0, max_age=0, enabled="no", currency="x")  # type: ignore[arg-type]
    assert info.value.keys == ("sync.interval", "sync.max_age", "sync.enabled", "sync.currency")
