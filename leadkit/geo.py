"""An offer's prices per country: the ``[offer.geo.XX]`` tables, and a price written as a customer reads it.

Pure. With several ``offer.countries``, each country may have its own price (and the old price shown
crossed out), its currency and the engine's ``base`` (the unit price in the lead's currency, sent with
each lead of that country: :mod:`leadkit.payload`). :func:`prices` hands them to the form and the pages,
each one :meth:`GeoPrice.as_dict` for JSON; :func:`format_price` writes an amount in a language's way
(``"39 €"`` in Portuguese, ``"€39.90"`` in English).

The values are checked where the setting is declared (:mod:`leadkit.landings`): country codes and
currency codes lower case, amounts whole numbers as ``int``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

# Babel is imported by the functions that format, when a price is first shown: not with leadkit.

if TYPE_CHECKING:
    from .config import OfferConfig

__all__ = ["GeoPrice", "format_price", "geo_price", "locale_for", "prices"]

Amount = int | float


@dataclass(frozen=True)
class GeoPrice:
    """One ``[offer.geo.XX]`` table: the country (two letters, lower case), the price shown, the old
    price shown crossed out (None: none), the currency (ISO 4217, lower case, like ``"eur"``) and the
    engine's ``base`` sent with the lead (None: not sent)."""

    country: str
    price: Amount
    currency: str
    old_price: Amount | None = None
    base: Amount | None = None

    def as_dict(self, language: str | None = None) -> dict[str, object]:
        """Its values for JSON and templates, with ``price_text`` and ``old_price_text`` written in
        ``language`` (like ``"pt"`` or ``"pt_BR"``; None: the country's own language)."""
        locale = locale_for(self.country, language)
        return {"country": self.country, "price": self.price, "old_price": self.old_price,
                "currency": self.currency, "base": self.base,
                "price_text": format_price(self.price, self.currency, locale),
                "old_price_text": None if self.old_price is None else format_price(self.old_price, self.currency,
                                                                                   locale)}


def geo_price(offer: OfferConfig, country: str) -> GeoPrice | None:
    """The offer's price table for ``country`` (any case, like a phone's region ``"PT"``); None when it
    has none."""
    return offer.geo.get(country.lower())


def prices(offer: OfferConfig) -> dict[str, GeoPrice]:
    """The offer's price tables by country (lower case), in the order they were given."""
    return dict(offer.geo)


def format_price(price: Amount, currency: str, language: str) -> str:
    """``price`` in ``currency`` as ``language`` writes it (``"39 €"`` in ``"pt_PT"``, ``"39,90 €"``):
    a whole amount without decimals, any other with the currency's own (two for the euro)."""
    from babel import Locale
    from babel.numbers import format_currency

    locale = Locale.parse(language)
    amount = Decimal(str(price))
    pattern = copy.copy(locale.currency_formats["standard"])
    if amount == amount.to_integral_value():
        pattern.frac_prec = (0, 0)
        return format_currency(amount, currency.upper(), format=pattern, locale=locale, currency_digits=False)
    return format_currency(amount, currency.upper(), locale=locale)


def locale_for(country: str, language: str | None = None) -> str:
    """The locale prices are written in for a customer in ``country``: ``language`` there (``"pt"`` in
    Portugal: ``"pt_PT"``), else the country's first official language there, else ``language`` alone,
    else English."""
    from babel import Locale, UnknownLocaleError

    from .i18n import official_languages

    region = country.upper()
    languages = [language] if language else list(official_languages(region))
    for code in languages:
        for candidate in ((code,) if "_" in code else (f"{code}_{region}", code)):
            try:
                Locale.parse(candidate)
            except (ValueError, UnknownLocaleError):
                continue
            return candidate
    return "en"
