"""A landing kit's field names: which order field each holds, the operator's aliases, and tracker macros."""

from __future__ import annotations

from typing import Mapping

import pytest

from leadkit.kitfields import FIELD_NAMES, LEAD_FIELDS, PHONE_NAMES, canonical_field, is_macro, map_fields

# -- field names --------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    pytest.param("name", "name", id="leadkit-name"),
    pytest.param("fio", "name", id="fio"),
    pytest.param("First_Name", "name", id="first-name-any-case"),
    pytest.param("imya", "name", id="imya"),
    pytest.param("lname", "last", id="lname"),
    pytest.param("familiya", "last", id="familiya"),
    pytest.param("tel", "phone", id="tel"),
    pytest.param("phone-number", "phone", id="dash-is-underscore"),
    pytest.param("order[phone]", "phone", id="php-bracket"),
    pytest.param("data[client][name]", "name", id="nested-brackets"),
    pytest.param("phone[0]", "phone", id="numeric-bracket"),
    pytest.param("e-mail", "email", id="e-mail"),
    pytest.param("msg", "comment", id="msg"),
    pytest.param("kommentariy", "comment", id="kommentariy"),
    pytest.param("zip", "index", id="zip"),
    pytest.param("address1", "addr", id="address1"),
    pytest.param("adres", "addr", id="adres"),
    pytest.param("gorod", "city", id="gorod"),
    pytest.param("region", "area", id="region"),
    pytest.param("kol-vo", "count", id="kol-vo"),
    pytest.param("qty", "count", id="qty"),
    pytest.param("geo", "country", id="geo"),
    pytest.param("amount", None, id="amount-is-money"),
    pytest.param("username", None, id="username"),
    pytest.param("utm_source", None, id="tag"),
    pytest.param("", None, id="empty"),
])
def test_kit_field_names_mean_order_fields(name: str, expected: str | None) -> None:
    assert canonical_field(name) == expected


def test_the_tables_name_only_order_fields() -> None:
    assert set(FIELD_NAMES.values()) == set(LEAD_FIELDS)
    assert all(FIELD_NAMES[field] == field for field in LEAD_FIELDS), "leadkit's own names pass through"
    assert all(FIELD_NAMES[name] == "phone" for name in PHONE_NAMES)
    assert all(name == name.lower() and "-" not in name for name in FIELD_NAMES)


@pytest.mark.parametrize("name, aliases, expected", [
    pytest.param("F3", {"f3": "phone"}, "phone", id="case-insensitive"),
    pytest.param("order[f3]", {"f3": "phone"}, "phone", id="bracketed"),
    pytest.param("order[f3]", {"ORDER[F3]": "email"}, "email", id="whole-name"),
    pytest.param("name", {"name": "last"}, "last", id="alias-beats-table"),
    pytest.param("tel", {"tel": "mobile"}, "phone", id="alias-to-no-order-field-is-ignored"),
    pytest.param("x", {"y": "name"}, None, id="other-alias"),
])
def test_the_operators_aliases_come_first(name: str, aliases: Mapping[str, str], expected: str | None) -> None:
    assert canonical_field(name, aliases) == expected


@pytest.mark.parametrize("posted, aliases, expected", [
    pytest.param({"first_name": "Ann", "last_name": "Nowak", "tel": "+48 600"}, {},
                 {"name": "Ann", "last": "Nowak", "phone": "+48 600"}, id="first-and-last"),
    pytest.param({"name": "Ann", "phone": "1"}, {}, {"name": "Ann", "phone": "1"}, id="leadkit-names"),
    pytest.param({"phone": " ", "tel": "2", "mobile": "3"}, {}, {"phone": "2"}, id="first-non-empty-wins"),
    pytest.param({"q1": "yes", "utm_source": "fb", "order[fio]": "Jan"}, {}, {"name": "Jan"}, id="unknown-dropped"),
    pytest.param({"f1": "Jan", "f2": "600"}, {"f1": "name", "F2": "phone"}, {"name": "Jan", "phone": "600"},
                 id="aliases"),
])
def test_posted_kit_fields_become_order_fields(posted: Mapping[str, str], aliases: Mapping[str, str],
                                               expected: dict[str, str]) -> None:
    assert map_fields(posted, aliases) == expected


# -- macros -------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "{clickid}", "{{sub1}}", "{{ad.name}}", "[subid]", "[[subid]]", "%sub1%", "$subid", "${x}", "{t2}",
    " {clickid} ", "__CALLBACK_PARAM__", "{ sub1 }",
])
def test_unfilled_macros(value: str) -> None:
    assert is_macro(value)


@pytest.mark.parametrize("value", [
    "", "abc", "fb_ads", "50%off", "$5", "{1}", "{}", "[1]", "%20", "a{b}", "{clickid", "1f3a-9c", "${}", "__",
])
def test_ordinary_values_are_not_macros(value: str) -> None:
    assert not is_macro(value)

