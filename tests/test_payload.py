"""The lead call's fields for every role x dialect, exactly as NOTES.md tables them."""

from __future__ import annotations

import pytest

from leadkit.config import Config
from leadkit.form import Order, chosen_regions
from leadkit.lead import Lead
from leadkit.payload import build_payload, encode_form
from leadkit.phone import parse_phone
from leadkit.visitor import Visitor

from support import make_config

TAGS = {"utm_source": "fb", "utm_medium": "cpc", "utm_campaign": "spring", "utm_content": "ad1", "utm_term": "tea",
        "subid": "s-1", "uuid": "u-1", "sub1": "a", "sub2": "b", "sub3": "c", "sub4": "d", "sub5": "e"}
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"


def make_lead(details: dict[str, str] | None = None, tags: dict[str, str] | None = None, mobile: bool = True) -> Lead:
    order = Order(name="Aigerim", phone=parse_phone("8 (700) 123-45-67", ["KZ"]), details=details or {})
    return Lead(order=order, visitor=Visitor(ip="203.0.113.7", user_agent=UA, mobile=mobile),
                tags=TAGS if tags is None else tags, id="1234567890")


COMMON = {"offer": "217", "ip": "203.0.113.7", "phone": "77001234567", "name": "Aigerim", "country": "kz", "ua": UA}
DALEAD_TAGS = {k: v for k, v in TAGS.items()}
MOE_TAGS = {"us": "fb", "um": "cpc", "uc": "spring", "un": "ad1", "ut": "tea",
            "params[subid]": "s-1", "params[uuid]": "u-1", "params[sub1]": "a", "params[sub2]": "b",
            "params[sub3]": "c", "params[sub4]": "d", "params[sub5]": "e"}
DALEAD_EXTRA = {"phonecc": "+7", "mobile": "1"}


@pytest.mark.parametrize(("role", "dialect", "expected"), [
    pytest.param("wm", "dalead", {**COMMON, **DALEAD_EXTRA, **DALEAD_TAGS, "flow": "42"}, id="wm-dalead"),
    pytest.param("wm", "moe", {**COMMON, **MOE_TAGS, "flow": "42"}, id="wm-moe"),
    pytest.param("ext", "dalead", {**COMMON, **DALEAD_EXTRA, **DALEAD_TAGS, "extu": "1234567890", "exts": "77"},
                 id="ext-dalead"),
    pytest.param("ext", "moe", {**COMMON, **MOE_TAGS, "id": "1234567890", "wm": "77"}, id="ext-moe"),
    pytest.param("comp", "dalead", {**COMMON, **DALEAD_EXTRA, **DALEAD_TAGS}, id="comp-dalead"),
    pytest.param("comp", "moe", {**COMMON, **MOE_TAGS}, id="comp-moe"),
])
def test_fields_per_role_and_dialect(role: str, dialect: str, expected: dict[str, str]) -> None:
    pairs = encode_form(build_payload(make_lead(), make_config(role, dialect)))
    assert dict(pairs) == expected
    assert len(pairs) == len(expected), "no field is sent twice"


@pytest.mark.parametrize(("dialect", "expected"), [
    pytest.param("dalead", {"comment": "call after 6", "last": "Nurlanova", "name": "Aigerim"}, id="dalead"),
    pytest.param("moe", {"comm": "call after 6", "name": "Aigerim Nurlanova"}, id="moe"),
])
def test_comment_and_last_name_per_dialect(dialect: str, expected: dict[str, str]) -> None:
    lead = make_lead({"comment": "call after 6", "last": "Nurlanova"}, tags={})
    payload = dict(encode_form(build_payload(lead, make_config("comp", dialect))))
    assert {k: payload.get(k) for k in expected} == expected
    forbidden = {"dalead": ("comm",), "moe": ("comment", "last", "mobile", "phonecc")}[dialect]
    assert not set(forbidden) & set(payload)


def test_optional_details_are_sent_under_shared_names() -> None:
    details = {"email": "a@example.kz", "index": "050000", "addr": "12-5", "area": "Almaty region",
               "city": "Almaty", "street": "Abay ave", "count": "2"}
    payload = dict(encode_form(build_payload(make_lead(details, tags={}), make_config("comp", "moe"))))
    assert {k: payload[k] for k in details} == details


def test_empty_tags_are_not_sent() -> None:
    payload = build_payload(make_lead(tags={}, mobile=False), make_config("wm", "dalead"))
    assert not {"utm_source", "sub1", "params"} & set(payload)
    assert payload["mobile"] == "0"


def test_static_offer_fields_go_with_every_lead_and_the_customer_cannot_override_them() -> None:
    config = make_config("comp", "dalead", offer={"fields": {"currency": "kzt", "base": 4990, "count": 1}})
    payload = dict(encode_form(build_payload(make_lead({"count": "3", "city": "Almaty"}, tags={}), config)))
    assert (payload["currency"], payload["base"], payload["count"], payload["city"]) == ("kzt", "4990", "1", "Almaty")


def test_moe_static_params_and_items_use_php_bracket_keys() -> None:
    config = make_config("comp", "moe", offer={"fields": {
        "params": {"landing": "v2"}, "items": [{"id": 135, "price": 9900, "count": 1}]}})
    pairs = encode_form(build_payload(make_lead(tags={"sub1": "a", "landing": "visitor's"}), config))
    as_dict = dict(pairs)
    assert as_dict["params[landing]"] == "v2" and as_dict["params[sub1]"] == "a", "a fixed param wins over a tag"
    assert [p for p in pairs if p[0].startswith("items")] == [
        ("items[0][id]", "135"), ("items[0][price]", "9900"), ("items[0][count]", "1")]


def test_extra_tags_go_to_params_in_moe() -> None:
    config = make_config("wm", "moe", tags={"extra": ["gclid"]})
    payload = dict(encode_form(build_payload(make_lead(tags={"gclid": "G-1", "utm_source": "g"}), config)))
    assert payload["params[gclid]"] == "G-1" and payload["us"] == "g"


def test_ext_without_source_sends_no_source_field() -> None:
    config = make_config("ext", "dalead", offer={"source": None})
    payload = build_payload(make_lead(tags={}), config)
    assert payload["extu"] == "1234567890" and "exts" not in payload


def test_each_lead_gets_its_own_numeric_id() -> None:
    ids = {make_lead().id for _ in range(3)} | {Lead(order=make_lead().order, visitor=make_lead().visitor).id
                                                for _ in range(500)}
    numeric = [i for i in ids if i.isdigit() and int(i) < 2**63]
    assert len(numeric) == len(ids) and len(ids) >= 500


def test_country_follows_the_phone_when_countries_are_widened() -> None:
    config = make_config("comp", "dalead", offer={"countries": ["kz", "kg"]})
    order = Order(name="Aibek", phone=parse_phone("+996 555 123 456", config.phone_regions))
    lead = Lead(order=order, visitor=Visitor("203.0.113.7", "", False))
    payload = build_payload(lead, config)
    assert (payload["country"], payload["phone"], payload["phonecc"]) == ("kg", "996555123456", "+996")
    assert "ua" not in payload, "an empty user agent is not sent"


def test_encode_form_flattens_nested_values_in_order() -> None:
    assert encode_form({"a": 1, "p": {"x": "1", "y": {"z": 2}}, "l": ["u", "v"], "n": None}) == [
        ("a", "1"), ("p[x]", "1"), ("p[y][z]", "2"), ("l[0]", "u"), ("l[1]", "v")]


# -- a country's own prices: [offer.geo.XX] --------------------------------------------------

GEO = {"es": {"price": 49, "currency": "eur", "base": 45},
       "pt": {"price": 39, "old_price": 78, "currency": "eur", "base": 35},
       "it": {"price": 59, "currency": "eur"}}


def geo_config(dialect: str = "dalead", geo: dict[str, object] | None = None) -> Config:
    return make_config("comp", dialect, offer={"country": "es", "countries": ["es", "pt", "it"],
                                               "fields": {"currency": "usd", "base": 50, "count": 1},
                                               "geo": GEO if geo is None else geo})


def chosen_lead(phone: str, country: str, config: Config) -> Lead:
    """The lead of a form sent with ``country`` chosen (the phone read in that country first)."""
    order = Order(name="Joana", phone=parse_phone(phone, chosen_regions(country, config.phone_regions)))
    return Lead(order=order, visitor=Visitor("203.0.113.7", "", False))


@pytest.mark.parametrize("dialect", ["dalead", "moe"])
def test_a_lead_goes_out_with_its_countrys_currency_and_base(dialect: str) -> None:
    config = geo_config(dialect)

    payload = dict(encode_form(build_payload(chosen_lead("912345678", "pt", config), config)))

    assert (payload["phone"], payload["country"], payload["currency"], payload["base"]) == (
        "351912345678", "pt", "eur", "35")
    assert payload["count"] == "1", "offer.fields still gives the other fields"
    assert not {"price", "old_price"} & set(payload), "the prices shown are the pages', not the lead's"


def test_the_same_digits_in_another_chosen_country_are_that_countrys_lead() -> None:
    config = geo_config()

    payload = build_payload(chosen_lead("912345678", "es", config), config)

    assert (payload["phone"], payload["country"], payload["currency"], payload["base"]) == (
        "34912345678", "es", "eur", 45)


def test_a_country_table_without_base_sends_no_base() -> None:
    config = geo_config()

    payload = build_payload(chosen_lead("3123456789", "it", config), config)

    assert (payload["country"], payload["currency"]) == ("it", "eur")
    assert "base" not in payload, "offer.fields' base is another country's price"


def test_a_country_without_a_table_goes_out_with_offer_fields() -> None:
    config = geo_config(geo={"pt": GEO["pt"]})

    payload = build_payload(chosen_lead("3123456789", "it", config), config)

    assert (payload["country"], payload["currency"], payload["base"], payload["count"]) == ("it", "usd", 50, 1)
