"""Every sentence leadkit shows a customer, in one place, so that it can be translated.

Operator-facing log text lives beside the code that logs it; this module is
only what a customer reads.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder

__all__ = ["TEXTS", "country_name", "phone_error_text"]

TEXTS: dict[str, str] = {
    "required_name": "Please enter your name.",
    "required_phone": "Please enter your phone number.",
    "invalid_phone": "This does not look like a valid phone number. Example: {example}",
    "phone_country": "Please enter a phone number from {country}.",
    "invalid_email": "Please check the email address.",
    "invalid_count": "Please enter a quantity from 1 to {maximum}.",
    "too_long": "This is too long: at most {limit} characters.",
    "form_has_errors": "Please correct the highlighted fields.",
    "network_phone": "The phone number was not accepted. Please check it.",
    "network_email": "The email address was not accepted. Please check it.",
    "network_data": "Some of the details were not accepted. Please check them and try again.",
    "network_ban": "Sorry, we cannot accept this order.",
    "network_duplicate": "We already have your order. Our operator will call you soon.",
    "network_unavailable": "Sorry, we cannot take orders right now. Please try again later.",
    "order_not_taken": "Sorry, we could not take your order just now. Your details are still here: "
                       "please send it again in a minute.",
    "bad_request": "Your browser sent something we could not read. Please try again.",
    "thanks_title": "Thank you! Your order is accepted.",
    "thanks_body": "Our operator will call you shortly to confirm it. Please keep your phone nearby.",
    "not_found": "There is no page here.",
    "origin_foreign": "This order form cannot be sent from another site.",
    "origin_no_origin": "Please send your order from the order form on our site.",
    "token_expired": "The form was open for too long. Please check your details and send it again.",
    "token_forged": "The form could not be verified. Please send it again.",
    "rate_limited": "You have already sent several orders. Please wait a little before ordering again: "
                    "our operator will call you about the orders you sent.",
}


@lru_cache(maxsize=256)
def country_name(region: str, language: str = "en") -> str:
    """The country's name for a customer ("Kazakhstan"), or its code when unknown."""
    number = phonenumbers.example_number(region.upper())
    name = geocoder.country_name_for_number(number, language) if number else ""
    return name or region.upper()


def phone_error_text(reason: str, regions: tuple[str, ...], example: str) -> str:
    """The sentence for a :class:`leadkit.phone.PhoneError` reason."""
    if reason == "empty":
        return TEXTS["required_phone"]
    if reason == "country":
        names = [country_name(r) for r in regions]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return TEXTS["phone_country"].format(country=joined)
    return TEXTS["invalid_phone"].format(example=example)
