"""Tests for leadkit.phone (parsing what customers type) and the phone sentences of leadkit.texts."""

from __future__ import annotations

import dataclasses

import pytest

from leadkit.phone import MAX_PHONE_INPUT, Phone, PhoneError, example_number, parse_phone
from leadkit.texts import TEXTS, country_name, phone_error_text

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
    pytest.param("８７００１２３４５６７", KZ, "invalid", None, id="full-width-digits"),
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
    assert country_name(region, language) == expected


@pytest.mark.parametrize(("regions", "expected"), [
    pytest.param(("KZ",), "Please enter a phone number from Kazakhstan.", id="one"),
    pytest.param(("KZ", "KG"), "Please enter a phone number from Kazakhstan or Kyrgyzstan.", id="two"),
    pytest.param(("KZ", "KG", "UZ"), "Please enter a phone number from Kazakhstan, Kyrgyzstan or Uzbekistan.",
                 id="three"),
])
def test_country_error_names_the_countries(regions: tuple[str, ...], expected: str) -> None:
    assert phone_error_text("country", regions, "+7 701 234 5678") == expected


@pytest.mark.parametrize(("reason", "expected"), [
    pytest.param("empty", TEXTS["required_phone"], id="empty"),
    pytest.param("invalid", "This does not look like a valid phone number. Example: +7 771 000 9998",
                 id="invalid-shows-example"),
])
def test_other_phone_errors(reason: str, expected: str) -> None:
    assert phone_error_text(reason, KZ, "+7 771 000 9998") == expected


def test_error_text_for_a_real_refusal() -> None:
    with pytest.raises(PhoneError) as info:
        parse_phone("+7 912 345 67 89", ("KZ", "KG"))

    text = phone_error_text(info.value.reason, ("KZ", "KG"), example_number("KZ"))

    assert text == "Please enter a phone number from Kazakhstan or Kyrgyzstan."
