"""Tests for leadkit.phone (parsing what customers type) and the phone sentences of leadkit.texts."""

from __future__ import annotations

import dataclasses

import pytest

from leadkit.phone import MAX_PHONE_INPUT, Phone, PhoneError, example_number, parse_phone
from leadkit.texts import TEXTS, Texts, english

KZ = ("KZ",)


@pytest.mark.parametrize(("raw", "regions", "digits", "phonecc", "region"), [
    # the inputs from the issue: every way a Kazakh customer writes the same number
    pytest.param("8 (700) 123-45-67", KZ, "77001234567", "+7", "KZ", id="kz-trunk-8-brackets"),
    pytest.param("+7 700 123 4567", KZ, "77001234567", "+7", "KZ", id="kz-international"),
    pytest.param("87001234567", KZ, "77001234567", "+7", "KZ", id="kz-trunk-8-digits"),
    pytest.param("7001234567", KZ, "77001234567", "+7", "KZ", id="kz-ten-digits"),
    pytest.param("77001234567", KZ, "77001234567", "+7", "KZ", id="kz-with-code-no-plus"),
    pytest.param("+7 (700) 123-45-67", KZ, "77001234567", "+7", "KZ", id="kz-international-brackets"),
    pytest.param("  +7.700.123.45.67\n", KZ, "77001234567", "+7", "KZ", id="kz-dots-and-space"),
    pytest.param("+7\u00a0700\u00a0123\u00a04567", KZ, "77001234567", "+7", "KZ", id="kz-no-break-spaces"),
    # neighbours
    pytest.param("+996 700 123 456", ("KZ", "KG"), "996700123456", "+996", "KG", id="kg-international"),
    pytest.param("0700 123 456", ("KZ", "KG"), "996700123456", "+996", "KG", id="kg-local-second-region"),
    pytest.param("+7 700 123 4567", ("KZ", "KG"), "77001234567", "+7", "KZ", id="kz-with-two-regions"),
    pytest.param("+380 67 123 4567", ("UA",), "380671234567", "+380", "UA", id="ua-international"),
    pytest.param("067 123 4567", ("UA",), "380671234567", "+380", "UA", id="ua-local"),
    pytest.param("8 912 345-67-89", ("RU",), "79123456789", "+7", "RU", id="ru-local"),
    pytest.param("+7 912 345 67 89", ("RU",), "79123456789", "+7", "RU", id="ru-international"),
    pytest.param("8 912 345-67-89", ("KZ", "RU"), "79123456789", "+7", "RU", id="ru-local-second-region"),
    pytest.param("+49 1512 3456789", ("DE",), "4915123456789", "+49", "DE", id="de-mobile"),
])
def test_valid_numbers(raw: str, regions: tuple[str, ...], digits: str, phonecc: str, region: str) -> None:
    phone = parse_phone(raw, regions)

    assert (phone.digits, phone.phonecc, phone.region) == (digits, phonecc, region)
    assert phone.digits.isdigit()
    assert phone.calling_code == int(phonecc[1:])


AR = "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"  # Arabic-Indic 0-9
FA = "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9"  # Persian 0-9
WIDE = "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"  # fullwidth 0-9


def typed_on(keyboard: str, text: str) -> str:
    """``text`` with its ASCII digits as another keyboard types them."""
    return text.translate(str.maketrans("0123456789", keyboard))


@pytest.mark.parametrize(("raw", "regions", "digits"), [
    pytest.param(typed_on(AR, "87001234567"), KZ, "77001234567", id="arabic-indic-digits"),
    pytest.param(typed_on(AR, "8 (700) 123-45-67"), KZ, "77001234567", id="arabic-indic-with-brackets"),
    pytest.param(typed_on(FA, "87001234567"), KZ, "77001234567", id="persian-digits"),
    pytest.param(typed_on(FA, "+7 700 123 45 67"), KZ, "77001234567", id="persian-with-plus"),
    pytest.param(typed_on(WIDE, "87001234567"), KZ, "77001234567", id="fullwidth-digits"),
    pytest.param("\uff0b" + typed_on(WIDE, "7 700 123 4567"), KZ, "77001234567", id="fullwidth-plus"),
    pytest.param(typed_on(WIDE, "8\uff08700\uff09123\uff0d45\uff0d67"), KZ, "77001234567",
                 id="fullwidth-brackets-and-hyphens"),
    pytest.param(typed_on(WIDE, "7\uff0e700\uff0e123\uff0e45\uff0e67"), KZ, "77001234567", id="fullwidth-dots"),
    pytest.param(typed_on(WIDE, "8\u3000700\u3000123\u30004567"), KZ, "77001234567", id="ideographic-spaces"),
    pytest.param("8\u2012700\u2013123\u201445\u221267", KZ, "77001234567", id="figure-en-em-dash-and-minus"),
    pytest.param("8\u2010700\u2011123\ufe6345\u201567", KZ, "77001234567", id="hyphens-and-bars"),
    pytest.param("+7\u202f700\u2009123\u00a04567", KZ, "77001234567", id="thin-and-no-break-spaces"),
    pytest.param("\u200e+7 700 123 4567\u200f", KZ, "77001234567", id="direction-marks-around"),
    pytest.param("\u2066" + typed_on(AR, "+996 700 123 456") + "\u2069", ("KZ", "KG"), "996700123456",
                 id="isolated-arabic-indic-kyrgyz"),
    pytest.param(typed_on(AR, "0700 ") + typed_on(FA, "123 456"), ("KZ", "KG"), "996700123456",
                 id="arabic-indic-and-persian-mixed"),
])
def test_digits_of_other_keyboards_are_digits(raw: str, regions: tuple[str, ...], digits: str) -> None:
    assert parse_phone(raw, regions).digits == digits


@pytest.mark.parametrize(("raw", "reason"), [
    pytest.param(typed_on(AR, "8700123456"), "invalid", id="arabic-indic-one-digit-short"),
    pytest.param(typed_on(WIDE, "+7 912 345 67 89"), "country", id="fullwidth-russian-number-on-kz"),
    pytest.param("\u0968\u0967" + "7001234567", "invalid", id="devanagari-digits-are-not-read"),
    pytest.param("\u00b2" + "87001234567", "invalid", id="superscript-two"),
    pytest.param("\u200e\u200f", "empty", id="only-direction-marks"),
    pytest.param("+7 700 123 4567" + "\u200b", "invalid", id="zero-width-space"),
])
def test_what_other_keyboards_type_is_still_checked(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError) as info:
        parse_phone(raw, KZ)
    assert info.value.reason == reason


@pytest.mark.parametrize(("raw", "regions", "reason", "region"), [
    pytest.param("8-701-123-45-6", KZ, "invalid", None, id="kz-one-digit-short"),
    pytest.param("8 (700) 123-45-678", KZ, "invalid", None, id="kz-one-digit-long"),
    pytest.param("123", KZ, "invalid", None, id="too-short"),
    pytest.param("+7 912 345 67 89", KZ, "country", "RU", id="russian-number-on-kz"),
    pytest.param("87001234567", ("RU",), "country", "KZ", id="kazakh-number-on-ru"),
    pytest.param("+996 700 123 456", KZ, "country", "KG", id="kyrgyz-number-on-kz-only"),
    pytest.param("+380 67 123 4567", KZ, "country", "UA", id="ukrainian-number-on-kz"),
    pytest.param("", KZ, "empty", None, id="empty"),
    pytest.param(None, KZ, "empty", None, id="none"),
    pytest.param("   \t\n", KZ, "empty", None, id="whitespace"),
    pytest.param("eight seven zero zero", KZ, "invalid", None, id="letters"),
    pytest.param("+7 700 ABC 4567", KZ, "invalid", None, id="letters-inside"),
    pytest.param("8 700 123 45 67 ext 5", KZ, "invalid", None, id="extension-words"),
    pytest.param("1" * (MAX_PHONE_INPUT + 1), KZ, "invalid", None, id="41-characters"),
    pytest.param("<script>alert(1)</script>", KZ, "invalid", None, id="script-tag"),
    pytest.param("<script>", KZ, "invalid", None, id="script-open-tag"),
    pytest.param("+7 700 123 4567; DROP TABLE", KZ, "invalid", None, id="sql-ish"),
    pytest.param("7+7001234567", KZ, "invalid", None, id="plus-inside"),
])
def test_refused_numbers(raw: str | None, regions: tuple[str, ...], reason: str, region: str | None) -> None:
    with pytest.raises(PhoneError) as info:
        parse_phone(raw, regions)

    assert (info.value.reason, info.value.region) == (reason, region)


@pytest.mark.parametrize(("raw", "accepted"), [
    pytest.param("+7" + " " * 28 + "7001234567", True, id="40-characters"),
    pytest.param("+7" + " " * 29 + "7001234567", False, id="41-characters"),
    pytest.param("+7 700 123 4567" + " " * 40, True, id="surrounding-space-not-counted"),
])
def test_length_limit(raw: str, accepted: bool) -> None:
    if accepted:
        assert parse_phone(raw, KZ).digits == "77001234567"
    else:
        with pytest.raises(PhoneError) as info:
            parse_phone(raw, KZ)
        assert info.value.reason == "invalid"


def test_phone_error_message_and_type() -> None:
    error = PhoneError("country", "RU")

    assert isinstance(error, ValueError)
    assert str(error) == "phone number rejected: country (region RU)"
    assert str(PhoneError("empty")) == "phone number rejected: empty"


def test_phone_is_frozen() -> None:
    phone = parse_phone("+7 700 123 4567", KZ)

    with pytest.raises(dataclasses.FrozenInstanceError):
        phone.digits = "79123456789"  # type: ignore[misc]
    assert phone == Phone(digits="77001234567", calling_code=7, region="KZ")


# -- example_number --------------------------------------------------------------


@pytest.mark.parametrize("region", [
    pytest.param("kz", id="kz-lower"),
    pytest.param("KZ", id="kz-upper"),
    pytest.param("KG", id="kg"),
    pytest.param("RU", id="ru"),
    pytest.param("UA", id="ua"),
])
def test_example_number_is_a_valid_number_of_its_region(region: str) -> None:
    example = example_number(region)

    assert example.startswith("+")
    assert parse_phone(example, (region.upper(),)).region == region.upper()


@pytest.mark.parametrize("region", [pytest.param("zz", id="zz"), pytest.param("XX", id="xx")])
def test_example_number_of_an_unknown_region_is_empty(region: str) -> None:
    assert example_number(region) == ""


# -- texts ---------------------------------------------------------------------


@pytest.mark.parametrize(("region", "language", "expected"), [
    pytest.param("kz", "en", "Kazakhstan", id="kz-lower"),
    pytest.param("KZ", "en", "Kazakhstan", id="kz"),
    pytest.param("KG", "en", "Kyrgyzstan", id="kg"),
    pytest.param("KZ", "ru", "Казахстан", id="kz-russian"),
    pytest.param("zz", "en", "ZZ", id="unknown-is-its-code"),
])
def test_country_name(region: str, language: str, expected: str) -> None:
    assert Texts(language).country(region) == expected


@pytest.mark.parametrize(("regions", "expected"), [
    pytest.param(("KZ",), "Please enter a phone number from Kazakhstan.", id="one"),
    pytest.param(("KZ", "KG"), "Please enter a phone number from Kazakhstan or Kyrgyzstan.", id="two"),
    pytest.param(("KZ", "KG", "UZ"), "Please enter a phone number from Kazakhstan, Kyrgyzstan or Uzbekistan.",
                 id="three"),
])
def test_country_error_names_the_countries(regions: tuple[str, ...], expected: str) -> None:
    assert english.phone_error("country", regions, "+7 701 234 5678") == expected


@pytest.mark.parametrize(("reason", "expected"), [
    pytest.param("empty", TEXTS["required_phone"], id="empty"),
    pytest.param("invalid", "This does not look like a valid phone number. Example: +7 771 000 9998",
                 id="invalid-shows-example"),
])
def test_other_phone_errors(reason: str, expected: str) -> None:
    assert english.phone_error(reason, KZ, "+7 771 000 9998") == expected


def test_error_text_for_a_real_refusal() -> None:
    with pytest.raises(PhoneError) as info:
        parse_phone("+7 912 345 67 89", ("KZ", "KG"))

    text = english.phone_error(info.value.reason, ("KZ", "KG"), example_number("KZ"))

    assert text == "Please enter a phone number from Kazakhstan or Kyrgyzstan."
