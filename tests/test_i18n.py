"""The customer's language: every catalog complete, every page in every shipped language, the language
chosen for the customer, country names and phone hints in it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from werkzeug.test import Client

from leadkit import LeadKit
from leadkit.i18n import LANGUAGES, LOCALE_DIR, choose_language, normalize, translations
from leadkit.server import make_app
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.texts import PLURALS, TEXTS, Texts
from support import BrowserClient, make_config

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: A country each shipped language is spoken in (an offer there gets that language by default).
COUNTRY_OF = {"en": "gb", "ru": "ru", "uk": "ua", "kk": "kz", "uz": "uz", "az": "az", "ka": "ge", "pl": "pl",
              "cs": "cz", "sk": "sk", "hu": "hu", "ro": "ro", "bg": "bg", "sr": "rs", "hr": "hr", "sl": "si",
              "el": "gr", "tr": "tr", "de": "de", "fr": "fr", "it": "it", "es": "es", "pt": "pt", "lt": "lt",
              "lv": "lv", "et": "ee", "id": "id", "vi": "vn", "th": "th", "hi": "in", "ar": "sa"}
#: Sentences that may read the same in another language (a borrowed word, a proper name).
SAME_ANYWHERE = {"Email", "Error %(status)s"}
#: Words another language writes as English does.
SAME_IN = {("de", "Region")}


def catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / "leadkit.po").open("rb") as fh:
        return read_po(fh)


def template_messages() -> set[str]:
    with (LOCALE_DIR / "leadkit.pot").open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


# -- the catalogs ---------------------------------------------------------------------------------

def test_the_template_lists_every_sentence_of_the_code() -> None:
    """leadkit/locale/leadkit.pot is what `make catalogs` extracts: every sentence in texts.py is in it."""
    assert template_messages() == set(TEXTS.values()) | {singular for singular, _ in PLURALS.values()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_translates_every_message_and_keeps_its_placeholders(language: str) -> None:
    po = catalog(language)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in po if m.id}
    assert set(translated) == template_messages(), "run `make catalogs` and translate what changed"
    for msgid, message in translated.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, msgid
        if isinstance(message.id, tuple):
            assert len(strings) == po.num_plurals, msgid
        for text in strings:
            assert text.strip(), f"{language}: {msgid!r} is not translated"
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), (language, msgid, text)
            if language != "en" and msgid not in SAME_ANYWHERE and (language, msgid) not in SAME_IN:
                assert text != msgid, f"{language}: {msgid!r} left in English"


def test_a_sentence_with_a_number_takes_the_language_s_plural_form() -> None:
    polish = Texts("pl")
    assert {polish.plural("too_long", n, limit=n) for n in (1, 2, 5)} == {
        polish.plural("too_long", 1, limit=1), polish.plural("too_long", 2, limit=2),
        polish.plural("too_long", 5, limit=5)}
    assert len({polish.plural("too_long", n, limit=0) for n in (1, 2, 5)}) == 3, "one, few, many in Polish"
    assert Texts("en").plural("too_long", 1, limit=1).endswith("1 character.")


def test_the_operator_s_catalog_overrides_a_sentence_and_adds_a_language(tmp_path: Path) -> None:
    (tmp_path / "pl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "pl" / "LC_MESSAGES" / "leadkit.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Thank you! Your order is accepted."\nmsgstr "Dziękujemy, zamówienie przyjęte!"\n', encoding="utf-8")
    (tmp_path / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "nl" / "LC_MESSAGES" / "leadkit.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Please enter your name."\nmsgstr "Vul uw naam in."\n', encoding="utf-8")
    translations.cache_clear()
    polish = Texts("pl", tmp_path)
    assert polish("thanks_title") == "Dziękujemy, zamówienie przyjęte!"
    assert polish("required_name") == Texts("pl")("required_name") != TEXTS["required_name"], "the rest is leadkit's"
    assert Texts("nl", tmp_path)("required_name") == "Vul uw naam in."
    config = make_config(offer={"country": "nl", "language": None}, site={"locale_dir": str(tmp_path)})
    with LeadKit(lambda e, s: [], config) as kit:
        html = Client(kit).get("/leadkit/form").get_data(as_text=True)
    assert '<html lang="nl"' in html


# -- the language chosen for the customer ---------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "expected"), [
    pytest.param({"configured": "pt_BR", "page": "es", "countries": ["ES"]}, "pt", id="configured-first"),
    pytest.param({"page": "pl-PL", "countries": ["CZ"]}, "pl", id="then-the-page"),
    pytest.param({"page": "xx", "countries": ["CZ"]}, "cs", id="an-unknown-page-language-is-passed"),
    pytest.param({"countries": ["KZ"]}, "ru", id="kazakhstan-speaks-russian-first"),
    pytest.param({"countries": ["KZ"], "accept_language": "kk-KZ,ru;q=0.8"}, "kk", id="accept-language-picks-kk"),
    pytest.param({"countries": ["KZ"], "accept_language": "de-DE,de;q=0.9"}, "ru",
                 id="accept-language-only-among-the-countries"),
    pytest.param({"countries": ["ES", "PT"], "accept_language": "pt;q=0.9,es;q=0.1"}, "pt", id="multi-country"),
    pytest.param({"countries": ["KG"]}, "ru", id="kyrgyz-is-not-shipped-russian-is"),
    pytest.param({"countries": ["NL"]}, "en", id="no-catalog-english"),
])
def test_the_language_is_chosen_for_the_customer(kwargs: dict[str, object], expected: str) -> None:
    assert choose_language(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("tag", "language"), [("pt-BR", "pt"), ("sr_Latn", "sr"), ("EN", "en"), ("", None),
                                                ("1x", None), ("pl;q=1", None)])
def test_normalize(tag: str, language: str | None) -> None:
    assert normalize(tag) == language


# -- every page in every language ------------------------------------------------------------------

class _Text(HTMLParser):
    """The text a reader sees: text nodes, placeholders, labels; not scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")
        self.parts += [value for name, value in attrs if name in ("placeholder", "title", "alt", "aria-label")
                       and value]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


ENGLISH = {text for text in TEXTS.values() if "%(" not in text} | {p for pair in PLURALS.values() for p in pair}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_form_and_thank_you_page_speak_the_language(language: str, network: SandboxNetwork) -> None:
    country = COUNTRY_OF[language]
    config = make_config(api=network.url, offer={"country": country, "language": None},
                         form={"fields": ["email", "comment"]})
    client = BrowserClient(LeadKit(lambda e, s: [], config))
    asks = {"Accept-Language": language}  # kk in Kazakhstan, where Russian comes first
    for path in ("/leadkit/form", "/leadkit/thanks"):
        html = client.get(path, headers=asks).get_data(as_text=True)
        expected_dir = "rtl" if language == "ar" else "ltr"
        assert f'<html lang="{language}" dir="{expected_dir}">' in html, path
        shown = visible_text(html)
        if language != "en":
            left = [text for text in shown if text in ENGLISH - SAME_ANYWHERE and (language, text) not in SAME_IN]
            assert not left, f"{language} {path}: English left: {left}"
        assert not [text for text in shown if "%(" in text or "{{" in text], "placeholders filled"
    form = client.get("/leadkit/form", headers=asks).get_data(as_text=True)
    texts = Texts(language)
    assert f">{texts('label_name')}<" in form and texts("form_note") in form
    errors = client.post("/leadkit/order", data={"name": "", "phone": "12"}, headers=asks).get_data(as_text=True)
    assert texts("required_name") in errors and texts("form_has_errors") in errors


def test_an_invalid_phone_on_a_polish_kit_is_told_in_polish_naming_poland(tmp_path: Path,
                                                                           network: SandboxNetwork) -> None:
    (tmp_path / "index.html").write_text('<!doctype html><html lang="pl"><body><form action="getform.php" id="f">'
                                         '<input name="name"><input name="phone"></form></body></html>',
                                         encoding="utf-8")
    config = make_config(api=network.url, offer={"country": "pl", "language": None},
                         site={"pages": str(tmp_path), "min_fill_seconds": 0})
    client = BrowserClient(make_app(config))
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert hidden["lk_lang"] == "pl"
    answer = client.post("/leadkit/order", data={**hidden, "name": "Anna", "phone": "+7 701 234 5678"},
                         headers={"Accept-Language": "en-US"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Polska" in text
    assert Texts("pl")("phone_country", country="Polska") in text.replace("&#39;", "'")


def test_an_arabic_form_is_right_to_left_and_in_arabic(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, offer={"country": "sa", "language": None})
    client = BrowserClient(LeadKit(lambda e, s: [], config))
    html = client.post("/leadkit/order", data={"name": "", "phone": "+48 512 345 678"}).get_data(as_text=True)
    arabic = Texts("ar")
    assert '<html lang="ar" dir="rtl">' in html
    assert arabic("required_name") in html and arabic.country("SA") in html
    assert '<div class="lk-tel" dir="ltr">' in html, "the phone number itself reads left to right"


# -- several countries -------------------------------------------------------------------------------

def test_a_multi_country_form_offers_the_choice_with_each_country_s_phone_format(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, offer={"country": "es", "countries": ["es", "pt", "it"], "language": "pt"})
    html = BrowserClient(LeadKit(lambda e, s: [], config)).get("/leadkit/form").get_data(as_text=True)
    options = re.findall(r'<option value="(\w\w)" data-code="([^"]+)" data-example="([^"]+)"', html)
    assert [(code, dial) for code, dial, _ in options] == [("es", "+34"), ("pt", "+351"), ("it", "+39")]
    assert ">Espanha</option>" in html and ">Portugal</option>" in html and ">Itália</option>" in html
    assert '<span class="lk-prefix" id="lk-phone-code" aria-hidden="true">+34</span>' in html
    assert 'type="tel"' in html and 'inputmode="tel"' in html and 'autocomplete="tel"' in html


GEO = {"es": {"price": 39, "old_price": 78, "currency": "eur", "base": 20},
       "pt": {"price": 35, "old_price": 70, "currency": "eur", "base": 18},
       "it": {"price": 41.5, "currency": "eur", "base": 22}}


def test_each_country_has_its_price_and_the_lead_its_currency_and_base(network: SandboxNetwork) -> None:
    config = make_config(api=network.url, offer={"country": "es", "countries": ["es", "pt", "it"], "geo": GEO,
                                                 "language": "pt"}, site={"min_fill_seconds": 0})
    client = BrowserClient(LeadKit(lambda e, s: [], config))
    form = client.get("/leadkit/form").get_data(as_text=True)
    prices = dict(re.findall(r'<option value="(\w\w)"[^>]* data-price="([^"]*)"', form))
    written = {code: config.offer.geo[code].as_dict("pt")["price_text"] for code in GEO}
    assert prices == written and written["pt"] == "35\xa0€" and "41,50" in written["it"], "as Portuguese writes them"
    assert f'<strong data-lk-price>{written["es"]}</strong>' in form, "without JavaScript: the first country's price"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    again = client.post("/leadkit/order", data={**hidden, "name": "Ana", "phone": "12", "country": "pt"})
    page = again.get_data(as_text=True)
    assert '<strong data-lk-price>35\xa0€</strong>' in page and '<option value="pt"' in page
    assert re.search(r'<option value="pt"[^>]* selected>', page), "the customer's choice kept"
    client.post("/leadkit/order", data={**hidden, "name": "Ana", "phone": "912345678", "country": "pt"})
    fields = network.accepted()[-1].fields
    assert (fields["phone"], fields["country"], fields["currency"], fields["base"]) == \
        ("351912345678", "pt", "eur", "18")


def test_an_opted_in_page_reads_the_prices(tmp_path: Path, network: SandboxNetwork) -> None:
    (tmp_path / "index.jinja").write_text('<html lang="{{ lang }}">{{ prices.pt.price_text }} '
                                          '{{ prices.it.old_price_text }}</html>')
    config = make_config(api=network.url, offer={"country": "es", "countries": ["es", "pt", "it"], "geo": GEO,
                                                 "language": "es"}, site={"pages": str(tmp_path)})
    html = Client(make_app(config)).get("/").get_data(as_text=True)
    assert html == '<html lang="es">35\xa0€ None</html>'
