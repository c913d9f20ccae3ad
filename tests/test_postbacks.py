"""Postbacks: the ``[[postback]]`` settings, the macros, and a postback rendered into an outbox message."""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qsl, urlsplit

import pytest

from leadkit.errors import ConfigError
from leadkit.journal import Entry
from leadkit.postbacks import (CLICK_IDS, EVENTS, FACTS, POSTBACK_CONSTRAINTS, PRESETS, PostbackConfig, macro_problems,
                               macros_known, render, unknown_macros)
from leadkit.tags import STANDARD_TAGS

NOW = 1_700_000_000.75
TAGS = {"utm_source": "fb", "utm_medium": "cpc", "utm_campaign": "spring", "utm_content": "video", "utm_term": "tea",
        "subid": "sub-777", "uuid": "u-1", "sub1": "s1", "sub2": "s2", "sub3": "s3", "sub4": "s4", "sub5": "s5",
        "adset": "as-9"}
CLICKS = {"fbclid": "fb.1", "ttclid": "tt.2", "gclid": "g.3", "fbp": "fb.1.123"}


def entry(**changes: Any) -> Entry:
    values: dict[str, Any] = dict(
        id="lk-1", call="wm/push",
        payload={"offer": 217, "phone": "77001234567", "ip": "1.2.3.4", "country": "kz"},
        tags=TAGS, clicks=CLICKS, network_id="9001", payout=700.0, landing="kz")
    return Entry(**{**values, **changes})


def postback(url: str = "https://t.example/pb", **settings: Any) -> PostbackConfig:
    return PostbackConfig(url=url, **settings)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def rendered(url: str, event: str = "approve", aliases: Mapping[str, str] = {}, **changes: Any) -> str:
    message = render(postback(url, events=list(EVENTS)), 0, entry(**changes), event, currency="kzt", now=NOW,
                     aliases=aliases)
    assert message is not None
    return message.url


# -- the macros -------------------------------------------------------------------------------


@pytest.mark.parametrize("macro, value", [
    *(pytest.param(name, TAGS[name], id=name) for name in STANDARD_TAGS),
    pytest.param("adset", "as-9", id="extra-tag"),
    *(pytest.param(name, CLICKS[name], id=name) for name in CLICK_IDS),
    pytest.param("lead_id", "lk-1", id="lead_id"),
    pytest.param("network_id", "9001", id="network_id"),
    pytest.param("offer", "217", id="offer"),
    pytest.param("landing", "kz", id="landing"),
    pytest.param("country", "kz", id="country"),
    pytest.param("status", "approve", id="status-defaults-to-the-event"),
    pytest.param("stage", "approve", id="stage"),
    pytest.param("payout", "700", id="payout"),
    pytest.param("currency", "kzt", id="currency"),
    pytest.param("time", "1700000000", id="time-whole-seconds"),
    pytest.param("nothing", "", id="unknown-is-empty"),
])
def test_each_macro_is_filled_from_the_lead(macro: str, value: str) -> None:
    assert query(rendered(f"https://t.example/pb?v={{{macro}}}"))["v"] == value


@pytest.mark.parametrize("changes, macro, value", [
    pytest.param({"network_id": None}, "network_id", "", id="no-network-id-yet"),
    pytest.param({"landing": ""}, "landing", "", id="default-landing"),
    pytest.param({"payload": {"offer": 217}}, "country", "", id="no-country"),
    pytest.param({"tags": {}}, "subid", "", id="no-tag"),
    pytest.param({"clicks": {}}, "gclid", "", id="no-click-id"),
    pytest.param({"clicks": {}, "tags": {"gclid": "g-tag"}}, "gclid", "g-tag", id="click-id-captured-as-a-tag"),
    pytest.param({"tags": {"country": "xx"}}, "country", "kz", id="a-fact-beats-a-tag"),
])
def test_missing_values_are_empty_and_facts_come_first(changes: dict[str, Any], macro: str, value: str) -> None:
    assert query(rendered(f"https://t.example/pb?v={{{macro}}}", **changes))["v"] == value


@pytest.mark.parametrize("payout, expected", [
    pytest.param(700.0, "700", id="whole"),
    pytest.param(12.5, "12.5", id="fraction"),
    pytest.param(0.1 + 0.2, "0.3", id="float-noise"),
    pytest.param(0.0, "0", id="zero"),
    pytest.param(-0.0, "0", id="negative-zero"),
    pytest.param(1e-5, "0.00001", id="no-exponent"),
    pytest.param(None, "", id="unknown"),
])
def test_payout_is_written_without_a_trailing_zero(payout: float | None, expected: str) -> None:
    assert query(rendered("https://t.example/pb?p={payout}", payout=payout))["p"] == expected


def test_an_alias_macro_gives_its_tags_value() -> None:
    url = rendered("https://t.example/pb?cnv_id={clickid}", aliases={"clickid": "subid"})
    assert query(url) == {"cnv_id": "sub-777"}
    assert query(rendered("https://t.example/pb?cnv_id={clickid}", aliases={"clickid": "sub9"})) == {"cnv_id": ""}


@pytest.mark.parametrize("value, encoded", [
    pytest.param("a&b=c#d", "a%26b%3Dc%23d", id="query-syntax"),
    pytest.param("two words", "two%20words", id="space"),
    pytest.param("100%", "100%25", id="percent"),
    pytest.param("a/b?c", "a%2Fb%3Fc", id="slash-and-question-mark"),
    pytest.param("a+b", "a%2Bb", id="plus"),
    pytest.param("привет", "%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82", id="unicode"),
    pytest.param("{subid}", "%7Bsubid%7D", id="a-macro-as-a-value-stays-text"),
])
def test_a_value_never_breaks_the_url(value: str, encoded: str) -> None:
    url = rendered("https://t.example/pb/{sub1}?subid={subid}&x=1", tags={"subid": value, "sub1": value})
    assert url == f"https://t.example/pb/{encoded}?subid={encoded}&x=1"
    assert query(url) == {"subid": value, "x": "1"}
    assert urlsplit(url).path == f"/pb/{encoded}" and not urlsplit(url).fragment


# -- GET and POST --------------------------------------------------------------------------------


URL = "https://t.example/pb?subid={subid}&status={status}&payout={payout}&tag%5Ba%5D={utm_term}"


def test_get_fills_the_url_and_sends_no_body() -> None:
    message = render(postback(URL), 3, entry(tags={"subid": "a b&c"}), "lead", currency="kzt", now=NOW)
    assert message is not None
    assert (message.lead_id, message.target, message.event, message.method) == ("lk-1", "postback:3", "lead", "GET")
    assert message.url == "https://t.example/pb?subid=a%20b%26c&status=lead&payout=700&tag%5Ba%5D="
    assert message.body is None and dict(message.headers) == {}
    assert message.state == "pending"


def test_post_moves_the_query_into_a_form_body() -> None:
    message = render(postback(URL, method="post"), 0, entry(tags={"subid": "a b&c"}), "lead", currency="kzt", now=NOW)
    assert message is not None
    assert (message.method, message.url) == ("POST", "https://t.example/pb")
    assert message.body == "subid=a+b%26c&status=lead&payout=700&tag%5Ba%5D="
    assert dict(message.headers) == {"Content-Type": "application/x-www-form-urlencoded"}
    assert dict(parse_qsl(message.body, keep_blank_values=True)) == {
        "subid": "a b&c", "status": "lead", "payout": "700", "tag[a]": ""}


def test_post_keeps_macros_in_the_path_and_may_have_no_body() -> None:
    message = render(postback("https://t.example/{subid}/pb", method="POST"), 0, entry(), "lead",
                     currency="kzt", now=NOW)
    assert message is not None and (message.url, message.body) == ("https://t.example/sub-777/pb", "")


# -- events and statuses ------------------------------------------------------------------------


@pytest.mark.parametrize("events, event, sent", [
    pytest.param(None, "lead", True, id="default-lead"),
    pytest.param(None, "hold", False, id="default-not-hold"),
    pytest.param(None, "trash", True, id="default-trash"),
    pytest.param(["approve"], "approve", True, id="listed"),
    pytest.param(["approve"], "lead", False, id="not-listed"),
    pytest.param(["approve"], "refund", False, id="not-an-event"),
])
def test_a_postback_is_sent_for_its_events_only(events: list[str] | None, event: str, sent: bool) -> None:
    settings: dict[str, Any] = {} if events is None else {"events": events}
    message = render(postback("https://t.example/pb", **settings), 0, entry(), event, currency="kzt", now=NOW)
    assert (message is not None) == sent
    assert message is None or message.event == event


@pytest.mark.parametrize("event, status", [
    pytest.param("approve", "sale", id="mapped"),
    pytest.param("cancel", "rejected", id="mapped-alike"),
    pytest.param("lead", "lead", id="unmapped-is-the-event"),
])
def test_the_status_map_names_the_event_in_the_trackers_words(event: str, status: str) -> None:
    config = postback("https://t.example/pb?s={status}&e={stage}", events=list(EVENTS),
                      status={"approve": "sale", "cancel": "rejected"})
    message = render(config, 0, entry(), event, currency="kzt", now=NOW)
    assert message is not None and query(message.url) == {"s": status, "e": event}


# -- the settings --------------------------------------------------------------------------------


def test_the_defaults() -> None:
    config = postback()
    assert (config.method, config.events, dict(config.status), config.name) == (
        "GET", ("lead", "approve", "cancel", "trash"), {}, None)
    assert [s.id for s in PostbackConfig.settings] == [f"leadkit.E13{n}" for n in range(5)]
    assert all(s.doc for s in PostbackConfig.settings)


@pytest.mark.parametrize("url", [
    pytest.param("https://t.example/pb", id="plain"),
    pytest.param("http://t.example:8080/{sub1}/pb?a={subid}&b=x{sub2}y", id="path-port-and-query"),
    pytest.param("https://t.example/pb?any={Whatever_1}", id="any-well-formed-name"),
    pytest.param("https://t.example/pb?tag%7Bx%7D=1", id="escaped-braces"),
])
def test_good_urls(url: str) -> None:
    assert postback(url).url == url


@pytest.mark.parametrize("url, words", [
    pytest.param("ftp://t.example/pb", "http:// or https://", id="scheme"),
    pytest.param("https:///pb?subid={subid}", "host", id="no-host"),
    pytest.param("t.example/pb", "http:// or https://", id="relative"),
    pytest.param("https://t.example/pb?subid={subid", "'{' or '}'", id="unclosed"),
    pytest.param("https://t.example/pb?subid=subid}", "'{' or '}'", id="unopened"),
    pytest.param("https://t.example/pb?subid={{subid}}", "'{' or '}'", id="doubled"),
    pytest.param("https://t.example/pb?subid={sub id}", "'{sub id}', which is not a macro", id="space-in-macro"),
    pytest.param("https://t.example/pb?subid={1st}", "'{1st}', which is not a macro", id="digit-first"),
    pytest.param("https://t.example/pb?subid={}", "'{}', which is not a macro", id="empty-macro"),
    pytest.param("https://{subid}.t.example/pb", "macro in its host", id="macro-in-host"),
    pytest.param("https://user:pw@t.example/pb", "user name or password", id="user-info"),
    pytest.param("https://t.example/pb#{subid}", "fragment", id="fragment"),
    pytest.param("https://t.example:99999/pb", "host or port", id="bad-port"),
    pytest.param("https://t.example/pb?a= b", "spaces", id="space"),
    pytest.param("", "must be the tracker's", id="empty"),
    pytest.param(42, "must be the tracker's", id="not-text"),
])
def test_bad_urls_are_refused_naming_the_fault(url: object, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        PostbackConfig(url=url)  # type: ignore[arg-type]
    [problem] = info.value.problems
    assert (problem.key, problem.id) == ("postback.url", "leadkit.E130")
    assert words in problem.message


@pytest.mark.parametrize("settings, key, id, words", [
    pytest.param({"method": "PUT"}, "postback.method", "leadkit.E131", "GET or POST", id="method"),
    pytest.param({"events": []}, "postback.events", "leadkit.E132", "non-empty", id="no-events"),
    pytest.param({"events": ["sale"]}, "postback.events", "leadkit.E132", "among lead, hold", id="unknown-event"),
    pytest.param({"status": {"aprove": "sale"}}, "postback.status.aprove", "leadkit.E133", "did you mean 'approve'",
                 id="status-of-no-event"),
    pytest.param({"status": {"approve": ""}}, "postback.status.approve", "leadkit.E133", "tracker's status",
                 id="empty-status"),
    pytest.param({"name": "-x"}, "postback.name", "leadkit.E134", "label", id="name"),
])
def test_bad_settings_are_refused(settings: dict[str, Any], key: str, id: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        postback(**settings)
    [problem] = info.value.problems
    assert (problem.key, problem.id) == (key, id)
    assert words in problem.message


def test_method_is_upper_cased_and_events_kept_once() -> None:
    config = postback(method="post", events=["approve", "lead", "approve"], name="keitaro main")
    assert (config.method, config.events, config.name) == ("POST", ("approve", "lead"), "keitaro main")


# -- macros the tags do not give: the rules read with [tags] ---------------------------------------


def test_the_known_macros() -> None:
    known = macros_known(STANDARD_TAGS + ("adset",), {"clickid": "subid"})
    assert known == {*STANDARD_TAGS, "adset", "clickid", *CLICK_IDS, *FACTS}
    assert unknown_macros("https://t.example/{x}?a={subid}&b={x}&c={clickid}&d={y}", known) == ["x", "y"]


def _problems(url: str, status: Mapping[str, str] | None = None, extra: tuple[str, ...] = (),
              aliases: Mapping[str, str] | None = None) -> list[Any]:
    config = postback(url, status=status or {})
    values = {"postback.url": config.url, "postback.status": config.status, "tags.extra": extra,
              "tags.aliases": aliases or {}}
    names = {"postback.url": "postback[0].url", "postback.status": "postback[0].status"}
    return [problem for constraint in POSTBACK_CONSTRAINTS for problem in constraint.problems(values, names)]


def test_an_unknown_macro_is_refused_naming_it_and_the_known_ones() -> None:
    [problem] = _problems("https://t.example/pb?subid={subidd}&s={status}")
    assert (problem.key, problem.id, problem.value) == ("postback[0].url", "leadkit.E136", "subidd")
    assert "{subidd}" in problem.message and "did you mean {subid}?" in problem.message
    assert all(f"{{{name}}}" in problem.message for name in (*STANDARD_TAGS, *CLICK_IDS, *FACTS))


@pytest.mark.parametrize("url, extra, aliases", [
    pytest.param("https://t.example/pb?a={adset}", ("adset",), None, id="extra-tag"),
    pytest.param("https://t.example/pb?a={clickid}", (), {"clickid": "subid"}, id="alias"),
    pytest.param("https://t.example/pb?a={gclid}&b={lead_id}&c={time}", (), None, id="click-id-and-facts"),
])
def test_macros_the_tags_give_are_known(url: str, extra: tuple[str, ...], aliases: Mapping[str, str] | None) -> None:
    assert _problems(url, extra=extra, aliases=aliases) == []
    assert macro_problems(url, STANDARD_TAGS + extra, aliases or {}) == []


def test_a_status_map_without_a_status_macro_is_refused() -> None:
    [problem] = _problems("https://t.example/pb?subid={subid}", status={"approve": "sale"})
    assert (problem.key, problem.id) == ("postback[0].url", "leadkit.E135")
    assert "{status}" in problem.message
    assert _problems("https://t.example/pb?subid={subid}&s={status}", status={"approve": "sale"}) == []


# -- presets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset, event, expected", [
    pytest.param("keitaro", "lead", "https://keitaro.example/postback?subid=sub-777&status=lead&payout=700", id="k-lead"),
    pytest.param("keitaro", "hold", "https://keitaro.example/postback?subid=sub-777&status=lead&payout=700", id="k-hold"),
    pytest.param("keitaro", "approve", "https://keitaro.example/postback?subid=sub-777&status=sale&payout=700",
                 id="k-approve"),
    pytest.param("keitaro", "trash", "https://keitaro.example/postback?subid=sub-777&status=rejected&payout=700",
                 id="k-trash"),
    pytest.param("binom", "approve", "https://binom.example/click.php?cnv_id=sub-777&payout=700&cnv_status=approve",
                 id="b-approve"),
    pytest.param("binom", "cancel", "https://binom.example/click.php?cnv_id=sub-777&payout=700&cnv_status=reject",
                 id="b-cancel"),
])
def test_presets_render(preset: str, event: str, expected: str) -> None:
    url, status = PRESETS[preset]
    config = PostbackConfig(url=url, status=status, events=EVENTS, name=preset)
    aliases = {"clickid": "subid"}
    assert _problems(url, status=status, aliases=aliases) == []
    message = render(config, 1, entry(), event, currency="kzt", now=NOW, aliases=aliases)
    assert message is not None and message.url == expected
    assert set(status) == set(EVENTS)


def test_clickid_is_the_subid_when_no_alias_or_tag_names_it() -> None:
    assert query(rendered("https://t.example/pb?cnv_id={clickid}")) == {"cnv_id": "sub-777"}
    assert query(rendered("https://t.example/pb?cnv_id={clickid}", tags={"clickid": "c-1", "subid": "s"})) == {
        "cnv_id": "c-1"}
