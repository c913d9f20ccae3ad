"""Phone numbers as customers type them, checked the way the network will.

``parse_phone("8 (700) 123-45-67", ["KZ"])`` gives ``Phone(digits="77001234567",
calling_code=7, region="KZ")``. A number must be *valid* (not merely possible)
and belong to one of the offer's countries: a Russian number on a Kazakh
landing is a wrong-GEO lead the network will trash.

Digits typed on Arabic-Indic (U+0660-0669), Persian (U+06F0-06F9) or
fullwidth (U+FF10-FF19) keyboards count as digits; a fullwidth ``+``,
fullwidth brackets, Unicode dashes and spaces are read as their ASCII
cousins; the invisible direction marks that right-to-left keyboards put
around numbers are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Sequence

import phonenumbers

from .errors import PhoneError

__all__ = ["Phone", "PhoneError", "parse_phone", "example_number", "local_example", "dialling_code", "MAX_PHONE_INPUT"]

MAX_PHONE_INPUT = 40
_ALLOWED = re.compile(r"^[0-9+()\-.\s]+$")
# What other keyboards type for digits, "+", brackets and dashes, read as the ASCII checked above.
_AS_TYPED = str.maketrans({
    **{start + n: str(n) for start in (0x0660, 0x06F0, 0xFF10) for n in range(10)},
    **{ord(wide): plain for wide, plain in zip("\uff0b\uff08\uff09\uff0d\uff0e", "+()-.")},
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"), "-"),
    # Direction marks that right-to-left keyboards put around a number: invisible, and not part of it.
    **dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None),
})


@dataclass(frozen=True)
class Phone:
    """A valid phone number: digits with the country code, as the network wants it."""

    digits: str
    calling_code: int
    region: str

    @property
    def phonecc(self) -> str:
        """The country calling code as the dalead dialect's ``phonecc`` field: ``+7``."""
        return f"+{self.calling_code}"


def parse_phone(raw: str | None, regions: Sequence[str]) -> Phone:
    """Parse what the customer typed, in the first region's local format if there is no ``+``.

    Raises :class:`PhoneError` when it is empty, not a valid number, or from a
    country not in ``regions``.
    """
    regions = tuple(r.upper() for r in regions)
    typed = (raw or "").strip()
    text = " ".join(typed.translate(_AS_TYPED).split())  # any Unicode space is a space
    if not text:
        raise PhoneError("empty")
    if len(typed) > MAX_PHONE_INPUT or not _ALLOWED.match(text):
        raise PhoneError("invalid")
    number = _parse_in_regions(text, regions)
    if number is None:
        raise PhoneError("invalid")
    region = phonenumbers.region_code_for_number(number)
    if region not in regions:
        raise PhoneError("country", region)
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return Phone(digits=digits, calling_code=number.country_code or 0, region=region)


def _parse_in_regions(text: str, regions: Sequence[str]) -> phonenumbers.PhoneNumber | None:
    """The first valid reading of the text, trying each allowed region's local format."""
    fallback = None
    for region in regions or ("ZZ",):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            if phonenumbers.region_code_for_number(number) in regions:
                return number
            fallback = fallback or number
    return fallback


@lru_cache(maxsize=512)
def example_number(region: str) -> str:
    """A sample mobile number of the region in international format, for placeholders."""
    number = phonenumbers.example_number_for_type(region.upper(), phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@lru_cache(maxsize=512)
def local_example(region: str) -> str:
    """A sample mobile number of the region as its people write it ("0912 123 456" in Slovakia), for the
    placeholder beside the dialling code and for error messages."""
    number = phonenumbers.example_number_for_type(region.upper(), phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


@lru_cache(maxsize=512)
def dialling_code(region: str) -> str:
    """The region's international dialling code: ``+421``; empty when unknown."""
    code = phonenumbers.country_code_for_region(region.upper())
    return f"+{code}" if code else ""
