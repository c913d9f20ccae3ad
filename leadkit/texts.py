"""Every sentence leadkit shows a customer, in English, and :class:`Texts`: them in the customer's language.

The English sentences are the messages of leadkit's gettext catalogs (the ``msgid``): ``make catalogs``
extracts them from here (``N_``, ``Nn_``) and from the templates (``_()``) into
``leadkit/locale/leadkit.pot``, and the ``.po`` file of each language translates them
(:mod:`leadkit.i18n`). Code names a sentence by its key (``texts("required_name")``); the
``TRANSLATORS:`` comments go to the translators with it. Operator-facing log text lives beside the
code that logs it; this module is only what a customer reads.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from babel.support import NullTranslations

# leadkit.i18n (and Babel with it) is imported when a language is first used, not with leadkit:
# errors.py names its sentences from here, and ``import leadkit`` must stay light.

__all__ = ["PLURALS", "RTL_LANGUAGES", "TEXTS", "Texts", "english"]

#: The languages written right to left (``<html dir="rtl">``).
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "yi", "dv", "ku", "ug"})


def N_(message: str) -> str:
    """Marks an English sentence as a message of the catalogs (gettext_noop)."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a sentence with a number in it, singular and plural."""
    return singular, plural


TEXTS = {
    # -- the form's fields: labels -----------------------------------------------------------------
    # TRANSLATORS: label of the order form's name field
    "label_name": N_("Your name"),
    # TRANSLATORS: label of the order form's phone field
    "label_phone": N_("Phone"),
    "label_email": N_("Email"),
    "label_last": N_("Last name"),
    "label_index": N_("Postal code"),
    # TRANSLATORS: region / province / oblast of the delivery address
    "label_area": N_("Region"),
    "label_city": N_("City"),
    "label_street": N_("Street"),
    # TRANSLATORS: house number and apartment of the delivery address
    "label_addr": N_("House, apartment"),
    # TRANSLATORS: how many items of the product are ordered
    "label_count": N_("Quantity"),
    "label_comment": N_("Comment"),
    # TRANSLATORS: label of the country choice in the order form
    "label_country": N_("Country"),
    # TRANSLATORS: the first, empty option of the country choice
    "choose_country": N_("Choose your country"),
    # TRANSLATORS: a hint under the phone field; %(example)s is a phone number in the country's own format
    "phone_hint": N_("For example: %(example)s"),
    # TRANSLATORS: read by screen readers before the country's dialling code shown in front of the phone field, e.g. "+48"
    "dialling_code": N_("Dialling code"),
    # TRANSLATORS: a trap field for spam robots, hidden from people; its label
    "honeypot": N_("Leave this field empty"),
    # -- the form's defaults (an operator may set their own) ----------------------------------------
    # TRANSLATORS: the heading of the order form
    "form_title": N_("Order now"),
    # TRANSLATORS: the order form's button
    "form_submit": N_("Order"),
    # TRANSLATORS: small print under the order form's button (cash on delivery offers: an operator calls back)
    "form_note": N_("Our operator will call you to confirm the order."),
    # TRANSLATORS: shown beside the price of the product
    "price": N_("Price"),
    # TRANSLATORS: the crossed-out price before the discount
    "old_price": N_("Old price"),
    # -- what a customer typed that cannot be taken ----------------------------------------------------
    "required_name": N_("Please enter your name."),
    "required_phone": N_("Please enter your phone number."),
    # TRANSLATORS: %(example)s is a valid phone number of the country, in its local format
    "invalid_phone": N_("This does not look like a valid phone number. Example: %(example)s"),
    # TRANSLATORS: %(country)s is a country's name (or a list: "Spain, Portugal or Italy")
    "phone_country": N_("Please enter a phone number from %(country)s."),
    # TRANSLATORS: joins the last two of several country names: "Spain, Portugal or Italy"
    "or": N_("%(first)s or %(last)s"),
    "invalid_email": N_("Please check the email address."),
    # TRANSLATORS: %(maximum)s is a number, like 99
    "invalid_count": N_("Please enter a quantity from 1 to %(maximum)s."),
    "form_has_errors": N_("Please correct the highlighted fields."),
    # -- the network's refusals ----------------------------------------------------------------------
    "network_phone": N_("The phone number was not accepted. Please check it."),
    "network_email": N_("The email address was not accepted. Please check it."),
    "network_data": N_("Some of the details were not accepted. Please check them and try again."),
    "network_ban": N_("Sorry, we cannot accept this order."),
    "network_duplicate": N_("We already have your order. Our operator will call you soon."),
    "network_unavailable": N_("Sorry, we cannot take orders right now. Please try again later."),
    "order_not_taken": N_("Sorry, we could not take your order just now. Your details are still here: "
                          "please send it again in a minute."),
    # -- the thank-you page ---------------------------------------------------------------------------
    "thanks_title": N_("Thank you! Your order is accepted."),
    "thanks_body": N_("Our operator will call you shortly to confirm it. Please keep your phone nearby."),
    # TRANSLATORS: a link from the thank-you page or a message page back to the shop's landing page
    "back": N_("Back to the site"),
    # -- messages ---------------------------------------------------------------------------------------
    "not_found": N_("There is no page here."),
    "something_wrong": N_("Something went wrong."),
    # TRANSLATORS: %(status)s is an HTTP status number like 404
    "error_status": N_("Error %(status)s"),
    # TRANSLATORS: %(method)s is GET or POST
    "use_method": N_("Use %(method)s here."),
    "origin_foreign": N_("This order form cannot be sent from another site."),
    "origin_no_origin": N_("Please send your order from the order form on our site."),
    "token_expired": N_("The form was open for too long. Please check your details and send it again."),
    "token_forged": N_("The form could not be verified. Please send it again."),
    "rate_limited": N_("You have already sent several orders. Please wait a little before ordering again: "
                       "our operator will call you about the orders you sent."),
    "bad_request": N_("Your browser sent something we could not read. Please try again."),
    "too_large": N_("The order is too large to be sent. Please shorten what you typed."),
    # TRANSLATORS: shown by a page that embeds the order form when it cannot reach the server
    "unreachable": N_("We could not reach the order service. Please check your connection and try again."),
    # -- an order the browser sent in a way leadkit does not read (rare: broken browsers, robots) -------------
    # TRANSLATORS: %(type)s is a technical content type such as "application/json"
    "form_type": N_("Please send the order from the order form (it arrived as %(type)s)."),
    "form_encoding": N_("The form was not sent as UTF-8 text."),
    "form_too_many": N_("The form has too many fields."),
    "form_malformed": N_("The form arrived damaged. Please send it again."),
    "form_files": N_("The order form takes no file uploads."),
    # TRANSLATORS: %(name)s is the technical name of a form field, in quotes
    "form_twice": N_("The field %(name)s was sent more than once."),
    "form_control": N_("The field %(name)s contains characters that cannot be typed."),
}

PLURALS = {
    # TRANSLATORS: %(limit)s is a number of characters, like 100
    "too_long": Nn_("This is too long: at most %(limit)s character.",
                    "This is too long: at most %(limit)s characters."),
}


class Texts:
    """What a customer reads, in one language (and the operator's own catalogs in ``locale_dir``)."""

    def __init__(self, language: str = "en", locale_dir: Path | None = None) -> None:
        self.language = language
        #: The writing direction of the language, for ``<html dir>``.
        self.dir = "rtl" if language in RTL_LANGUAGES else "ltr"
        self._locale_dir = locale_dir

    @functools.cached_property
    def _catalog(self) -> NullTranslations:
        """The language's messages, read when first needed (not when leadkit is imported), then kept
        (:func:`leadkit.i18n.translations` caches them too: one catalog per language)."""
        from .i18n import translations

        return translations(self.language, self._locale_dir)

    def __call__(self, key: str, **values: Any) -> str:
        """The sentence ``key`` with its placeholders filled."""
        text = self._catalog.gettext(TEXTS[key])
        return text % values if values else text

    def plural(self, key: str, number: int, **values: Any) -> str:
        """The sentence ``key`` in the form the ``number`` takes in this language."""
        singular, plural = PLURALS[key]
        return self._catalog.ngettext(singular, plural, number) % values

    def ngettext(self, singular: str, plural: str, number: int) -> str:
        """A sentence with a number, as the catalogs have it (templates' ``ngettext``)."""
        return self._catalog.ngettext(singular, plural, number)

    def translate(self, text: str) -> str:
        """An operator's text (``form.title``): its translation when it is one of leadkit's sentences
        (the default title, "Order now"), else as the operator wrote it."""
        return self._catalog.gettext(text) if text else text

    def country(self, code: str) -> str:
        """A country's name in this language ("Polska")."""
        from .i18n import territory_name

        return territory_name(code, self.language)

    def countries(self, codes: Sequence[str]) -> str:
        """Country names joined as this language joins them: "Hiszpania, Portugalia lub Włochy"."""
        names = [self.country(code) for code in codes]
        if len(names) < 2:
            return names[0] if names else ""
        return ", ".join(names[:-2] + [self("or", first=names[-2], last=names[-1])])

    def phone_error(self, reason: str, regions: Sequence[str], example: str) -> str:
        """The sentence for a :class:`leadkit.phone.PhoneError` reason."""
        if reason == "empty":
            return self("required_phone")
        if reason == "country":
            return self("phone_country", country=self.countries(regions))
        return self("invalid_phone", example=example)


#: The sentences in English, for code and tests that need no translation.
english = Texts("en")
