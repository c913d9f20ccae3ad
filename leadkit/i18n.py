"""The customer's language: leadkit's gettext catalogs, the operator's own, and which language a customer gets.

Every sentence a customer reads is a message of the ``leadkit`` gettext domain (:mod:`leadkit.texts`
lists them), translated in ``leadkit/locale/<lang>/LC_MESSAGES/leadkit.po``, managed with Babel
(``make catalogs`` extracts the template and updates each language). The ``.po`` files are read
and compiled in memory the first time a language is needed, so an edited catalog never goes stale
behind a compiled one. An operator's ``site.locale_dir`` holds ``.po`` files of the same layout:
each of its messages overrides leadkit's, and it may add a language of its own.

:func:`choose_language` decides the language, in this order: the one configured for the offer
(``offer.language``, per ``[[landing]]``); the language of the page the form sits on (a kit's
``<html lang>``); else the languages of the offer's countries (CLDR's, from Babel:
:mod:`leadkit.territories`), between which the visitor's ``Accept-Language`` may choose; else English.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from .logs import logger
from .territories import DE_FACTO, OFFICIAL

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "choose_language", "country_languages", "official_languages",
           "normalize", "translations"]

log = logger("leadkit.i18n")

DOMAIN = "leadkit"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The languages leadkit ships, translated in full.
LANGUAGES = ("en", "ru", "uk", "kk", "uz", "az", "ka", "pl", "cs", "sk", "hu", "ro", "bg", "sr", "hr", "sl", "el",
             "tr", "de", "fr", "it", "es", "pt", "lt", "lv", "et", "id", "vi", "th", "hi", "ar")
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def normalize(tag: str | None) -> str | None:
    """The primary language of a language tag (``pt-BR``: ``pt``, ``sr_Latn``: ``sr``), lower-cased;
    None for anything that is not one."""
    match = _TAG.match((tag or "").strip())
    return match.group(1).lower() if match else None


def available(locale_dir: Path | None = None) -> frozenset[str]:
    """The languages with a catalog: leadkit's, and the operator's ``site.locale_dir``."""
    own = _languages_in(LOCALE_DIR)
    return own | _languages_in(locale_dir) if locale_dir else own


@lru_cache(maxsize=8)
def _languages_in(folder: Path) -> frozenset[str]:
    try:
        return frozenset(p.parent.parent.name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    except OSError:
        return frozenset()


@lru_cache(maxsize=128)
def translations(language: str, locale_dir: Path | None = None) -> NullTranslations:
    """The messages of ``language``: leadkit's catalog with the operator's over it. English (or a
    language without a catalog) reads the messages as they are written."""
    result: NullTranslations = NullTranslations()
    for folder in (LOCALE_DIR, locale_dir):
        if folder is None:
            continue
        loaded = _compiled(folder / language / "LC_MESSAGES" / f"{DOMAIN}.po")
        if loaded is None:
            continue
        if isinstance(result, Translations):
            result.merge(loaded)  # the operator's messages win
        else:
            result = loaded
    return result


def _compiled(path: Path) -> Translations | None:
    """A ``.po`` file compiled in memory; None when it is missing or unreadable (logged)."""
    try:
        with path.open("rb") as fh:
            catalog = read_po(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a broken operator catalog costs its messages, not the page
        log.error("the catalog %s cannot be read (%s): its messages are not used", path, exc)
        return None
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def official_languages(territory: str, de_facto: bool = False) -> tuple[str, ...]:
    """What Babel's ``get_official_languages`` answers, from :mod:`leadkit.territories`: the official
    languages of ``territory`` (a country code, any case), the most spoken first; with ``de_facto``,
    also the languages official in fact."""
    code = territory.upper()
    if de_facto and code in DE_FACTO:
        return DE_FACTO[code]
    return OFFICIAL.get(code, ())


@lru_cache(maxsize=512)
def country_languages(country: str) -> tuple[str, ...]:
    """The official languages of a country, the most spoken first (``ch``: de, fr, it...), as CLDR
    gives them (:mod:`leadkit.territories`); none for a code that is not a country."""
    return tuple(dict.fromkeys(normalize(code) or code for code in official_languages(country, de_facto=True)))


def choose_language(*, configured: str | None = None, page: str | None = None, countries: Sequence[str] = (),
                    accept_language: str | None = None, known: Iterable[str] = LANGUAGES) -> str:
    """The customer's language: ``configured`` (``offer.language``), else the page's own ``<html lang>``,
    else a language of the offer's ``countries`` (the one the visitor's ``Accept-Language`` prefers
    among them, else the first country's main language), else English. Only ``known`` languages (with a
    catalog) are chosen."""
    languages = frozenset(known)
    for given in (configured, page):
        language = normalize(given)
        if language in languages:
            return language
    candidates = [language for country in countries for language in country_languages(country)
                  if language in languages]
    if not candidates:
        return "en"
    for language in _accepted(accept_language):
        if language in candidates:
            return language
    return candidates[0]


def _accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, the most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "")[:1000].split(",")[:30]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = normalize(tag)
        if language and quality > 0:
            ranked.append((-quality, index, language))
    return [language for _, _, language in sorted(ranked)]


@lru_cache(maxsize=1024)
def territory_name(country: str, language: str) -> str:
    """A country's name in ``language`` ("Polska" in pl, "Poland" in en), or its code when unknown."""
    if country.upper() in ("ZZ", "XX", "EU", "UN"):  # "Unknown Region", not a country a customer is in
        return country.upper()
    try:
        return str(Locale.parse(language).territories.get(country.upper()) or country.upper())
    except (UnknownLocaleError, ValueError):
        return country.upper()
