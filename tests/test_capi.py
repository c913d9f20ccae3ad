"""Tests for leadkit.capi: the conversion events for Facebook's Conversions API and TikTok's Events API."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from leadkit.capi import (CAPI_CONSTRAINTS, FacebookConfig, TikTokConfig, facebook_message, phone_e164, sha256_hex,
                          tiktok_message)
from leadkit.errors import ConfigError
from leadkit.journal import Entry
from leadkit.journal_outbox import Message

LEAD_ID = "1750000000000000042"
CREATED = 1750000000.75
NOW = 1750086400.9
FB_PIXEL = "123456789012345"
TT_PIXEL = "C4ABCDEFGHIJKLMNOPQR"
FB_TOKEN = "EAAB-facebook-token-0123456789"
TT_TOKEN = "tiktok-token-abcdef0123456789"
UA = "Mozilla/5.0 (Linux; Android 14) Mobile"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry(payload: dict[str, Any] | None = None, clicks: dict[str, str] | None = None,
          payout: float | None = 12.5) -> Entry:
    return Entry(id=LEAD_ID, call="wm/push", created=CREATED, payout=payout,
                 payload={"phone": "77001234567", "ip": "203.0.113.7", "ua": UA, "country": "kz",
                          "name": "Aigerim"} if payload is None else payload,
                 clicks={"fbclid": "IwAR2F4-dbP0l7Mn", "fbp": "fb.1.1749999999000.1098115397",
                         "ttclid": "E.C.P.abc123", "ttp": "2Ab3cD4eF5"} if clicks is None else clicks)


FACEBOOK = FacebookConfig(pixel=FB_PIXEL, token=FB_TOKEN)
TIKTOK = TikTokConfig(pixel=TT_PIXEL, token=TT_TOKEN)
FB_USER = {"ph": [sha("77001234567")], "country": [sha("kz")], "external_id": [sha(LEAD_ID)],
           "client_ip_address": "203.0.113.7", "client_user_agent": UA,
           "fbc": "fb.1.1750000000750.IwAR2F4-dbP0l7Mn", "fbp": "fb.1.1749999999000.1098115397"}
TT_USER = {"phone": sha("+77001234567"), "external_id": sha(LEAD_ID), "ip": "203.0.113.7", "user_agent": UA,
           "ttclid": "E.C.P.abc123", "ttp": "2Ab3cD4eF5"}


def facebook(event: str, **changes: Any) -> Message:
    return facebook_message(replace(FACEBOOK, **changes), entry(), event, currency="kzt", now=NOW)


def tiktok(event: str, **changes: Any) -> Message:
    return tiktok_message(replace(TIKTOK, **changes), entry(), event, currency="kzt", now=NOW)


def body(message: Message) -> Any:
    assert message.body is not None
    return json.loads(message.body)


# -- the exact requests ------------------------------------------------------------------------


@pytest.mark.parametrize("message, target, url, expected", [
    pytest.param(facebook("lead"), "facebook", f"https://graph.facebook.com/v21.0/{FB_PIXEL}/events", {"data": [{
        "event_name": "Lead", "event_time": 1750000000, "event_id": LEAD_ID, "action_source": "website",
        "user_data": FB_USER}]}, id="facebook-lead"),
    pytest.param(facebook("approve"), "facebook", f"https://graph.facebook.com/v21.0/{FB_PIXEL}/events", {"data": [{
        "event_name": "Purchase", "event_time": 1750086400, "event_id": LEAD_ID, "action_source": "website",
        "user_data": FB_USER, "custom_data": {"currency": "KZT", "value": 12.5}}]}, id="facebook-approve"),
    pytest.param(tiktok("lead"), "tiktok", "https://business-api.tiktok.com/open_api/v1.3/event/track/", {
        "event_source": "web", "event_source_id": TT_PIXEL, "data": [{
            "event": "SubmitForm", "event_time": 1750000000, "event_id": LEAD_ID, "user": TT_USER}]},
        id="tiktok-lead"),
    pytest.param(tiktok("approve"), "tiktok", "https://business-api.tiktok.com/open_api/v1.3/event/track/", {
        "event_source": "web", "event_source_id": TT_PIXEL, "data": [{
            "event": "CompletePayment", "event_time": 1750086400, "event_id": LEAD_ID, "user": TT_USER,
            "properties": {"currency": "KZT", "value": 12.5}}]}, id="tiktok-approve"),
])
def test_the_request_is_exactly(message: Message, target: str, url: str, expected: dict[str, Any]) -> None:
    assert (message.lead_id, message.target, message.method, message.url) == (LEAD_ID, target, "POST", url)
    assert message.event in ("lead", "approve")
    assert message.headers == {"Content-Type": "application/json"}
    assert message.body == json.dumps(expected, separators=(",", ":"))  # compact, in this order


@pytest.mark.parametrize("build, event", [
    pytest.param(facebook, "lead", id="facebook-lead"), pytest.param(facebook, "approve", id="facebook-approve"),
    pytest.param(tiktok, "lead", id="tiktok-lead"), pytest.param(tiktok, "approve", id="tiktok-approve"),
])
def test_the_event_id_is_the_lead_id_and_the_message_names_the_event(build: Any, event: str) -> None:
    message = build(event)
    assert message.event == event
    assert body(message)["data"][0]["event_id"] == LEAD_ID


@pytest.mark.parametrize("message, path", [
    pytest.param(facebook("approve", test_event_code="TEST12345"), ("test_event_code",), id="facebook"),
    pytest.param(tiktok("approve", test_event_code="TEST12345"), ("test_event_code",), id="tiktok"),
])
def test_a_test_event_code_is_sent_at_the_top(message: Message, path: tuple[str, ...]) -> None:
    assert body(message)["test_event_code"] == "TEST12345"


def test_settings_shape_the_url_and_the_event_names() -> None:
    config = FacebookConfig(pixel=FB_PIXEL, token=FB_TOKEN, base_url="http://127.0.0.1:8080/", version="v22.0",
                            lead_event="CompleteRegistration", purchase_event="Approved")
    message = facebook_message(config, entry(), "approve", currency="eur", now=NOW)
    assert message.url == f"http://127.0.0.1:8080/v22.0/{FB_PIXEL}/events"
    assert body(message)["data"][0]["event_name"] == "Approved"
    assert body(facebook_message(config, entry(), "lead", currency="eur", now=NOW))["data"][0]["event_name"] \
        == "CompleteRegistration"


@pytest.mark.parametrize("build, key", [
    pytest.param(facebook_message, "custom_data", id="facebook"),
    pytest.param(tiktok_message, "properties", id="tiktok"),
])
def test_an_approved_lead_without_a_payout_is_worth_zero(build: Any, key: str) -> None:
    config = FACEBOOK if build is facebook_message else TIKTOK
    message = build(config, entry(payout=None), "approve", currency=" usd ", now=NOW)
    assert body(message)["data"][0][key] == {"currency": "USD", "value": 0}


# -- hashing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["77001234567", "+7 (700) 123-45-67", "007 700 123 45 67", " 77001234567 "])
def test_the_phone_is_hashed_as_each_platform_asks(typed: str) -> None:
    fb = body(facebook_message(FACEBOOK, entry({"phone": typed}), "lead", currency="kzt", now=NOW))
    tt = body(tiktok_message(TIKTOK, entry({"phone": typed}), "lead", currency="kzt", now=NOW))
    assert fb["data"][0]["user_data"]["ph"] == [hashlib.sha256(b"77001234567").hexdigest()]
    assert tt["data"][0]["user"]["phone"] == hashlib.sha256(b"+77001234567").hexdigest()


@pytest.mark.parametrize("digits, e164", [
    pytest.param("77001234567", "+77001234567", id="digits"),
    pytest.param("+7 (700) 123-45-67", "+77001234567", id="written"),
    pytest.param("0048512345678", "+48512345678", id="dialling-prefix"),
])
def test_phone_e164(digits: str, e164: str) -> None:
    assert phone_e164(digits) == e164


@pytest.mark.parametrize("text, normal", [
    pytest.param("kz", "kz", id="country"), pytest.param(" KZ ", "kz", id="country-upper"),
    pytest.param(" Aigerim@Example.COM\n", "aigerim@example.com", id="email"),
])
def test_sha256_hex_trims_and_lower_cases(text: str, normal: str) -> None:
    assert sha256_hex(text) == hashlib.sha256(normal.encode()).hexdigest()


@pytest.mark.parametrize("text", ["", "   "])
def test_nothing_is_never_hashed(text: str) -> None:
    with pytest.raises(ValueError):
        sha256_hex(text)
    with pytest.raises(ValueError):
        phone_e164(text)


def test_an_email_is_hashed_on_both_platforms() -> None:
    payload = {"phone": "77001234567", "email": " Aigerim@Example.com "}
    fb = body(facebook_message(FACEBOOK, entry(payload), "lead", currency="kzt", now=NOW))
    tt = body(tiktok_message(TIKTOK, entry(payload), "lead", currency="kzt", now=NOW))
    assert fb["data"][0]["user_data"]["em"] == [sha("aigerim@example.com")]
    assert tt["data"][0]["user"]["email"] == sha("aigerim@example.com")


# -- fbc -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("clicks, expected", [
    pytest.param({"fbclid": "IwAR2F4-dbP0l7Mn"}, "fb.1.1750000000750.IwAR2F4-dbP0l7Mn", id="built-from-fbclid"),
    pytest.param({"fbclid": "IwAR2F4-dbP0l7Mn", "fbc": "fb.1.1749990000000.IwAR2F4-dbP0l7Mn"},
                 "fb.1.1749990000000.IwAR2F4-dbP0l7Mn", id="the-cookie-first"),
    pytest.param({"fbc": "fb.2.1749990000000.AbC"}, "fb.2.1749990000000.AbC", id="the-cookie-alone"),
    pytest.param({"fbclid": "", "fbc": ""}, None, id="empty"),
    pytest.param({"gclid": "Cj0KCQ"}, None, id="none"),
])
def test_fbc(clicks: dict[str, str], expected: str | None) -> None:
    user = body(facebook_message(FACEBOOK, entry(clicks=clicks), "lead", currency="kzt", now=NOW))["data"][0]
    assert user["user_data"].get("fbc") == expected


# -- missing facts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("payload, clicks", [
    pytest.param({"phone": "77001234567"}, {}, id="absent"),
    pytest.param({"phone": "77001234567", "ip": "", "ua": "  ", "country": "", "email": ""},
                 {"fbclid": "", "fbc": "", "fbp": "", "ttclid": "", "ttp": " "}, id="empty"),
    pytest.param({"phone": "77001234567", "ip": None, "ua": None, "country": None}, {}, id="none"),
])
def test_missing_facts_are_left_out(payload: dict[str, Any], clicks: dict[str, str]) -> None:
    fb = body(facebook_message(FACEBOOK, entry(payload, clicks), "lead", currency="kzt", now=NOW))
    tt = body(tiktok_message(TIKTOK, entry(payload, clicks), "lead", currency="kzt", now=NOW))
    assert fb["data"][0]["user_data"] == {"ph": [sha("77001234567")], "external_id": [sha(LEAD_ID)]}
    assert tt["data"][0]["user"] == {"phone": sha("+77001234567"), "external_id": sha(LEAD_ID)}
    assert "custom_data" not in fb["data"][0] and "properties" not in tt["data"][0]


@pytest.mark.parametrize("phone", ["", "  ", "+", "000"])
def test_a_missing_phone_is_left_out_not_hashed(phone: str) -> None:
    fb = body(facebook_message(FACEBOOK, entry({"phone": phone}, {}), "lead", currency="kzt", now=NOW))
    tt = body(tiktok_message(TIKTOK, entry({"phone": phone}, {}), "lead", currency="kzt", now=NOW))
    assert "ph" not in fb["data"][0]["user_data"] and "phone" not in tt["data"][0]["user"]
    assert sha("") not in json.dumps([fb, tt])


def test_an_approve_without_a_currency_leaves_it_out() -> None:
    assert body(facebook("approve"))["data"][0]["custom_data"]["currency"] == "KZT"
    message = facebook_message(FACEBOOK, entry(), "approve", currency="  ", now=NOW)
    assert body(message)["data"][0]["custom_data"] == {"value": 12.5}


# -- the token ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("message, token", [
    pytest.param(facebook("lead"), FB_TOKEN, id="facebook-lead"),
    pytest.param(facebook("approve", test_event_code="TEST1"), FB_TOKEN, id="facebook-approve"),
    pytest.param(tiktok("lead"), TT_TOKEN, id="tiktok-lead"),
    pytest.param(tiktok("approve", test_event_code="TEST1"), TT_TOKEN, id="tiktok-approve"),
])
def test_the_token_is_never_in_a_message(message: Message, token: str) -> None:
    assert token not in message.url
    assert token not in (message.body or "")
    assert not any(token in key or token in value for key, value in message.headers.items())
    assert "access_token" not in message.url and "Access-Token" not in message.headers
    assert token not in repr(message)


def test_the_token_is_not_in_the_configs_repr() -> None:
    assert FB_TOKEN not in repr(FACEBOOK) and TT_TOKEN not in repr(TIKTOK)


# -- refused events ------------------------------------------------------------------------------------


@pytest.mark.parametrize("build, config", [
    pytest.param(facebook_message, FACEBOOK, id="facebook"), pytest.param(tiktok_message, TIKTOK, id="tiktok"),
])
def test_an_unknown_event_is_refused(build: Any, config: Any) -> None:
    with pytest.raises(ValueError, match="'cancel'"):
        build(config, entry(), "cancel", currency="kzt", now=NOW)


@pytest.mark.parametrize("build, config", [
    pytest.param(facebook_message, FacebookConfig(), id="facebook"),
    pytest.param(tiktok_message, TikTokConfig(), id="tiktok"),
])
def test_no_message_without_a_pixel(build: Any, config: Any) -> None:
    with pytest.raises(ValueError, match=r"capi\.\w+\.pixel"):
        build(config, entry(), "lead", currency="kzt", now=NOW)


# -- the settings ------------------------------------------------------------------------------------------


def test_defaults() -> None:
    facebook, tiktok = FacebookConfig(), TikTokConfig()
    assert (facebook.pixel, facebook.token, facebook.base_url, facebook.version, facebook.lead_event,
            facebook.purchase_event, facebook.test_event_code) == (
        None, None, "https://graph.facebook.com", "v21.0", "Lead", "Purchase", None)
    assert (tiktok.pixel, tiktok.token, tiktok.base_url, tiktok.lead_event, tiktok.purchase_event,
            tiktok.test_event_code) == (None, None, "https://business-api.tiktok.com", "SubmitForm",
                                        "CompletePayment", None)


@pytest.mark.parametrize("config, enabled", [
    pytest.param(FacebookConfig(), False, id="facebook-off"),
    pytest.param(FacebookConfig(pixel=FB_PIXEL), False, id="facebook-no-token"),
    pytest.param(FacebookConfig(token=FB_TOKEN), False, id="facebook-no-pixel"),
    pytest.param(FACEBOOK, True, id="facebook-on"),
    pytest.param(TikTokConfig(pixel=TT_PIXEL), False, id="tiktok-no-token"),
    pytest.param(TIKTOK, True, id="tiktok-on"),
])
def test_enabled(config: Any, enabled: bool) -> None:
    assert config.enabled is enabled


@pytest.mark.parametrize("section, values, key, words", [
    pytest.param(FacebookConfig, {"pixel": "12345"}, "capi.facebook.pixel", "15 or 16 digits", id="fb-short"),
    pytest.param(FacebookConfig, {"pixel": "12345678901234567"}, "capi.facebook.pixel", "15 or 16 digits",
                 id="fb-long"),
    pytest.param(FacebookConfig, {"pixel": "12345678901234a"}, "capi.facebook.pixel", "15 or 16 digits",
                 id="fb-letter"),
    pytest.param(FacebookConfig, {"pixel": True}, "capi.facebook.pixel", "15 or 16 digits", id="fb-bool"),
    pytest.param(FacebookConfig, {"version": "21.0"}, "capi.facebook.version", "'v21.0'", id="fb-version"),
    pytest.param(FacebookConfig, {"base_url": "graph.facebook.com"}, "capi.facebook.base_url", "base URL",
                 id="fb-url"),
    pytest.param(FacebookConfig, {"lead_event": "My Lead"}, "capi.facebook.lead_event", "event name",
                 id="fb-event"),
    pytest.param(FacebookConfig, {"token": "two words"}, "capi.facebook.token", "spaces", id="fb-token"),
    pytest.param(TikTokConfig, {"pixel": "c4abcdefghijklmnopqr"}, "capi.tiktok.pixel", "upper-case",
                 id="tt-lower"),
    pytest.param(TikTokConfig, {"pixel": "C4ABCDEFGHIJKLMNOPQ"}, "capi.tiktok.pixel", "20 upper-case",
                 id="tt-short"),
    pytest.param(TikTokConfig, {"pixel": "C4ABCDEFGHIJKLMNOPQ-"}, "capi.tiktok.pixel", "20 upper-case",
                 id="tt-symbol"),
    pytest.param(TikTokConfig, {"test_event_code": "TEST 1"}, "capi.tiktok.test_event_code", "test code",
                 id="tt-test-code"),
])
def test_bad_settings_are_refused_naming_the_key(section: Any, values: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        section(**values)
    (problem,) = refused.value.problems
    assert problem.key == key and problem.message.startswith(key) and words in problem.message


def test_a_refused_token_is_never_repeated() -> None:
    with pytest.raises(ConfigError) as refused:
        FacebookConfig(token="secret with spaces")
    assert "secret with spaces" not in str(refused.value) and refused.value.problems[0].value is None


@pytest.mark.parametrize("given, kept", [
    pytest.param("123456789012345", "123456789012345", id="15-digits"),
    pytest.param(" 1234567890123456 ", "1234567890123456", id="16-digits-spaced"),
    pytest.param(123456789012345, "123456789012345", id="a-toml-number"),
])
def test_a_facebook_pixel_is_kept_as_text(given: object, kept: str) -> None:
    assert FacebookConfig(pixel=given).pixel == kept  # type: ignore[arg-type]


def test_the_tokens_are_read_from_the_environment_by_their_names() -> None:
    assert {s.key: s.rule.env for s in FacebookConfig.settings if s.rule.env} == {"token": "LEADKIT_FACEBOOK_TOKEN"}
    assert {s.key: s.rule.env for s in TikTokConfig.settings if s.rule.env} == {"token": "LEADKIT_TIKTOK_TOKEN"}
    assert FacebookConfig(pixel=FB_PIXEL, token=f"  {FB_TOKEN}\n").token == FB_TOKEN


def test_each_setting_has_its_own_id_and_a_one_line_doc() -> None:
    settings = FacebookConfig.settings + TikTokConfig.settings
    ids = [s.id for s in settings]
    assert len(set(ids)) == len(ids)
    assert all("leadkit.E150" <= s.id <= "leadkit.E158" for s in FacebookConfig.settings)
    assert all("leadkit.E160" <= s.id <= "leadkit.E168" for s in TikTokConfig.settings)
    assert all(s.doc and "\n" not in s.doc for s in settings)
    assert [c.id for c in CAPI_CONSTRAINTS] == ["leadkit.E159", "leadkit.E169"]


@pytest.mark.parametrize("values, id, env", [
    pytest.param({"capi.facebook.pixel": FB_PIXEL, "capi.facebook.token": None}, "leadkit.E159",
                 "LEADKIT_FACEBOOK_TOKEN", id="facebook-pixel-without-token"),
    pytest.param({"capi.facebook.pixel": None, "capi.facebook.token": FB_TOKEN}, "leadkit.E159",
                 "LEADKIT_FACEBOOK_TOKEN", id="facebook-token-without-pixel"),
    pytest.param({"capi.tiktok.pixel": TT_PIXEL, "capi.tiktok.token": None}, "leadkit.E169",
                 "LEADKIT_TIKTOK_TOKEN", id="tiktok-pixel-without-token"),
    pytest.param({"capi.tiktok.pixel": None, "capi.tiktok.token": TT_TOKEN}, "leadkit.E169",
                 "LEADKIT_TIKTOK_TOKEN", id="tiktok-token-without-pixel"),
])
def test_a_pixel_and_its_token_come_together(values: dict[str, object], id: str, env: str) -> None:
    problems = [p for constraint in CAPI_CONSTRAINTS for p in constraint.problems(values)]
    (problem,) = problems
    assert problem.id == id and env in problem.message and problem.key is not None
    assert problem.message.startswith(problem.key) and problem.key.endswith(".pixel")
    assert FB_TOKEN not in problem.message and TT_TOKEN not in problem.message and problem.value not in (FB_TOKEN,
                                                                                                          TT_TOKEN)


@pytest.mark.parametrize("values", [
    pytest.param({"capi.facebook.pixel": None, "capi.facebook.token": None, "capi.tiktok.pixel": None,
                  "capi.tiktok.token": None}, id="both-off"),
    pytest.param({"capi.facebook.pixel": FB_PIXEL, "capi.facebook.token": FB_TOKEN, "capi.tiktok.pixel": TT_PIXEL,
                  "capi.tiktok.token": TT_TOKEN}, id="both-on"),
    pytest.param({}, id="not-checked-yet"),
])
def test_no_problem_when_pixel_and_token_agree(values: dict[str, object]) -> None:
    assert [p for constraint in CAPI_CONSTRAINTS for p in constraint.problems(values)] == []
