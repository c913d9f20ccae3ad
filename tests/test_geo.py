"""Tests for leadkit.geo: an offer's prices per country, and prices written as customers read them."""

from __future__ import annotations

import json

import pytest

from leadkit.config import OfferConfig
from leadkit.geo import GeoPrice, format_price, geo_price, locale_for, prices

NBSP = "\xa0"
OFFER = OfferConfig(offer=217, country="es", countries=["es", "pt", "it"], geo={
    "pt": {"price": 39, "old_price": 78, "currency": "eur", "base": 35},
    "es": {"price": 49.9, "currency": "EUR"}})


def test_a_countrys_prices_whatever_the_case_of_its_code() -> None:
    assert geo_price(OFFER, "PT") == geo_price(OFFER, "pt") == GeoPrice("pt", 39, "eur", old_price=78, base=35)
    assert geo_price(OFFER, "es") == GeoPrice("es", 49.9, "eur")


def test_a_country_without_prices_has_none() -> None:
    assert geo_price(OFFER, "IT") is None
    assert geo_price(OfferConfig(offer=217, country="kz"), "KZ") is None


def test_prices_are_by_country_in_the_order_given() -> None:
    assert list(prices(OFFER)) == ["pt", "es"]
    assert prices(OfferConfig(offer=217, country="kz")) == {}


def test_as_dict_is_json_and_written_in_the_countrys_language() -> None:
    values = prices(OFFER)["pt"].as_dict()

    assert json.loads(json.dumps(values)) == values
    assert values == {"country": "pt", "price": 39, "old_price": 78, "currency": "eur", "base": 35,
                      "price_text": f"39{NBSP}€", "old_price_text": f"78{NBSP}€"}
    assert prices(OFFER)["es"].as_dict("en_US")["price_text"] == "€49.90"
    assert prices(OFFER)["es"].as_dict("en")["price_text"] == f"49,90{NBSP}€", "English as written in Spain"
    assert prices(OFFER)["es"].as_dict()["old_price_text"] is None


@pytest.mark.parametrize(("price", "currency", "language", "written"), [
    pytest.param(39, "eur", "pt_PT", f"39{NBSP}€", id="whole-without-decimals"),
    pytest.param(39.9, "eur", "pt_PT", f"39,90{NBSP}€", id="cents-with-the-currencys-decimals"),
    pytest.param(39.0, "EUR", "pt_PT", f"39{NBSP}€", id="whole-float"),
    pytest.param(1990, "pln", "pl_PL", f"1{NBSP}990{NBSP}zł", id="grouped"),
    pytest.param(9900, "kzt", "kk_KZ", f"9{NBSP}900{NBSP}₸", id="tenge"),
    pytest.param(39, "eur", "en", "€39", id="symbol-first"),
    pytest.param(0.1, "eur", "en", "€0.10", id="no-float-noise"),
    pytest.param(39, "brl", "pt_BR", f"R${NBSP}39", id="brazil"),
])
def test_format_price(price: float, currency: str, language: str, written: str) -> None:
    assert format_price(price, currency, language) == written


@pytest.mark.parametrize(("country", "language", "locale"), [
    pytest.param("pt", None, "pt_PT", id="the-countrys-language"),
    pytest.param("PT", "pt", "pt_PT", id="the-language-there"),
    pytest.param("pt", "en", "en_PT", id="english-in-portugal"),
    pytest.param("es", "pt_BR", "pt_BR", id="a-language-with-its-country"),
    pytest.param("kz", None, "ru_KZ", id="the-first-official-language"),
    pytest.param("it", "fil", "fil", id="the-language-alone-when-not-spoken-there"),
])
def test_locale_for(country: str, language: str | None, locale: str) -> None:
    assert locale_for(country, language) == locale
