"""Several offers on one server: the ``[[landing]]`` tables and their rules.

Each ``[[landing]]`` (``landing=[{...}, ...]`` from Python or Django) is a landing kit served under a
path or on a host of its own, with its own offer; the offer keys it does not give are ``[offer]``'s,
and ``[offer]`` itself may then be left out. Each landing's keys are checked as a section's are, its
problems named ``landing[<name>].<key>``; the rules between settings are checked for each landing with
its own values: :data:`LANDING_CONSTRAINTS`, and those of :data:`leadkit.config.CONSTRAINTS` that
read an offer key it gives (handed in, as this module sits under :mod:`leadkit.config`).

A landing is an offer with its pages, so the rules of those keys are declared here, once: each
landing takes them, and :mod:`leadkit.config` takes them for ``[offer]`` and ``[site]``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, Problem
from .geo import Amount, GeoPrice
from .settings import (FIELD_VALUE, Constraint, Invalid, Rule, Section, check, did_you_mean, identifier, items, label,
                       location, region, setting, table, text, valid)

if TYPE_CHECKING:
    from .config import OfferConfig

__all__ = ["LANDING_CONSTRAINTS", "Landing", "LandingConfig"]

_LANDING_NAME = r"[a-z0-9][a-z0-9_-]{0,39}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PART = r"[^/\\\x00-\x1f\x7f]+"  # a part of a relative path: no slash, backslash or control character


def relative(fix: str) -> Rule[str]:
    """A path (or glob) relative to the pages folder, parts joined by "/": no leading "/", no "." or
    ".." part, no backslash."""
    return valid(fix, str, lambda value: len(value) <= 255 and re.fullmatch(rf"{_PART}(?:/{_PART})*", value)
                 is not None and not {".", ".."} & set(value.split("/")))


# -- an offer and its pages: the rules of their keys, for [offer], [site] and each [[landing]] ----

OFFER_ID = identifier("must be the offer's numeric id, like 217")
COUNTRY = region("must be the offer's two-letter country code, like 'kz'", lower=True)
FLOW = identifier("must be your flow's numeric id, like 42")
COUNTRIES = items(region(), "must be a list of two-letter country codes, like ['kz', 'kg']", nonempty=True)
SOURCE = label("must be your source or webmaster id as text, like '77'")
STATIC = table(text(), FIELD_VALUE, "must be a table of field = value, like { currency = 'kzt', base = 9900 }")
FOLDER = location("must be a folder path", folder=True)
#: The keys of an ``[offer.geo.XX]`` table.
GEO_KEYS = ("price", "old_price", "currency", "base")
@functools.cache
def _currencies() -> frozenset[str]:
    """The currency codes Babel knows, lower-cased (Babel imported when a config is read, not with leadkit)."""
    from babel.numbers import list_currencies

    return frozenset(code.lower() for code in list_currencies())
_MOST = 1_000_000_000
_REGION = region(lower=True)


def _amount(value: object, sub: str) -> Amount:
    """A sum of money from 0 to ``_MOST``; a whole one as ``int`` (``39.0``: ``39``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= _MOST:
        raise Invalid(f"must be a number from 0 to {_MOST} (got {value!r})", value, sub)
    return int(value) if value == int(value) else value


def _geo_price(country: str, entry: object, sub: str) -> GeoPrice:
    """One ``[offer.geo.XX]`` table (or the :class:`GeoPrice` it was made into), checked; problems named
    ``<sub>.<key>``."""
    if isinstance(entry, GeoPrice):
        entry = {key: getattr(entry, key) for key in GEO_KEYS if getattr(entry, key) is not None}
    if not isinstance(entry, Mapping):
        raise Invalid(f"must be a table like {{ price = 39, currency = 'eur' }} (got {entry!r})", entry, sub)
    for key in entry:  # an unknown key's value is not kept, as for a section's
        if key not in GEO_KEYS:
            raise Invalid(f"is an unknown key{did_you_mean(str(key), GEO_KEYS)}", sub=f"{sub}.{key}")
    for key, what in (("price", "the price the page shows, like 39"),
                      ("currency", "the price's currency, an ISO 4217 code like 'eur'")):
        if key not in entry:
            raise Invalid(f"is missing: {what}", sub=f"{sub}.{key}")
    currency = entry["currency"]
    if not isinstance(currency, str) or currency.lower() not in _currencies():
        raise Invalid(f"must be a currency's ISO 4217 code, like 'eur', 'pln' or 'kzt' (got {currency!r})", currency,
                      f"{sub}.currency")
    price = _amount(entry["price"], f"{sub}.price")
    old_price = None if entry.get("old_price") is None else _amount(entry["old_price"], f"{sub}.old_price")
    if old_price is not None and old_price <= price:
        raise Invalid(f"must be more than the price ({price}): it is the old price, shown crossed out", old_price,
                      f"{sub}.old_price")
    base = None if entry.get("base") is None else _amount(entry["base"], f"{sub}.base")
    return GeoPrice(country, price, currency.lower(), old_price, base)


def _geo(value: object, base: Path) -> dict[str, GeoPrice]:
    if not isinstance(value, Mapping):
        raise ValueError
    checked: dict[str, GeoPrice] = {}
    for key, entry in value.items():
        try:
            country = _REGION.check(key, base)
        except ValueError:
            raise Invalid(f"must be a two-letter country code, like 'pt' (got {key!r})", key, str(key)) from None
        if country in checked:
            raise Invalid(f"names {country!r} twice: keep one", sub=str(key))
        checked[country] = _geo_price(country, entry, str(key))
    return checked


#: Each country's price: ``[offer.geo.pt]`` with ``price``, ``old_price``, ``currency`` and ``base``.
GEO = Rule("must be a table of country = { price, old_price, currency, base }, like [offer.geo.pt] with "
           "price = 39 and currency = 'eur'", _geo)


def _language(value: object, base: Path) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2,3}(?:[_-][A-Za-z]{2})?", value):
        raise ValueError
    language, _, country = value.replace("-", "_").partition("_")
    normal = language.lower() + (f"_{country.upper()}" if country else "")
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(normal)
    except (ValueError, UnknownLocaleError):
        raise ValueError from None
    return normal


#: A language code (``"pt"``), optionally with its country (``"pt_BR"``; ``"pt-BR"`` is read so).
LANGUAGE = Rule("must be a language code Babel knows, like 'pt' or 'pt_BR'", _language)
THANKS = relative("must be a page's path relative to the pages folder, like 'ok.php' or 'thanks/index.html' "
                  "(no leading '/', no '..', no backslash)")


def page_in(page: str | None, folder: Path | None, folders: str) -> list[Invalid]:
    """What is wrong with a page (``site.thanks``) that must be a file in ``folder``."""
    if page is None:
        return []
    if folder is None:
        return [Invalid(f"needs {folders}: the page is a file in that folder", page)]
    path = (folder / page).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return [Invalid(f"names {str(folder / page)!r}, which is not a file in {str(folder)!r}", page)]
    return []


# -- a landing's settings, and the rules between them -------------------------------------------


class LandingConfig(Section, section="landing"):
    """One ``[[landing]]``: a landing kit with its own offer, under a path or on a host. The offer keys
    it does not give are ``[offer]``'s (see :class:`Landing`, the landing as
    :class:`~leadkit.config.Config` has it)."""

    name: str = setting(text("must be a name of lower-case letters, digits, '_' or '-' (at most 40), like 'sk'",
                             _LANDING_NAME), "leadkit.E100",
                        "the landing's name (`a-z`, `0-9`, `_`, `-`), in its problems, logs and journal")
    path: str | None = setting(
        valid("must be a URL path like '/sk/' (no '..', no '//')", str,
              lambda value: re.fullmatch(r"/|(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+/?", value) is not None,
              lambda value: value if value.endswith("/") else f"{value}/"),
        "leadkit.E101", 'the URL path it is served under, like `"/sk/"`; a landing has a path or a host', default=None)
    host: str | None = setting(
        text("must be a host name like 'sk.example.com'", rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*", lower=True),
        "leadkit.E102", 'the host name it is served on, like `"sk.example.com"`', default=None)
    pages: Path | None = setting(FOLDER, "leadkit.E103", "its folder of pages (none: `site.pages`)", default=None)
    offer: int | None = setting(OFFER_ID, "leadkit.E104", "its offer id (none: `offer.offer`)", default=None)
    flow: int | None = setting(FLOW, "leadkit.E105", "its flow id (none: `offer.flow`)", default=None)
    country: str | None = setting(COUNTRY, "leadkit.E106", "its offer's country (none: `offer.country`)",
                                  default=None)
    countries: tuple[str, ...] | None = setting(COUNTRIES, "leadkit.E107",
                                                "its phone countries (none: `offer.countries`)", default=None)
    source: str | None = setting(SOURCE, "leadkit.E108", "its source id (none: `offer.source`)", default=None)
    fields: Mapping[str, object] | None = setting(STATIC, "leadkit.E109",
                                                  "its static fields (none: `offer.fields`)", default=None)
    geo: Mapping[str, GeoPrice] | None = setting(GEO, "leadkit.E118", "its prices per country (none: `offer.geo`)",
                                                 default=None)
    language: str | None = setting(LANGUAGE, "leadkit.E119", "its language (none: `offer.language`)", default=None)
    thanks: str | None = setting(THANKS, "leadkit.E110", "its own thank-you page, relative to `landing.pages` "
                                 "(none: `site.thanks` when it has no pages of its own, else one found in its kit)",
                                 default=None)


#: A landing's keys besides its offer's.
PLACE_KEYS = ("name", "path", "host", "pages", "thanks")

# The rules checked for each [[landing]], with its values as ``landing.<key>`` and its offer's (given or
# inherited) as ``offer.<key>``; E090, E091 and E092 (leadkit.config) are checked for each landing as well.
LANDING_CONSTRAINTS = (
    Constraint("leadkit.E111", ("landing.path", "landing.host"), lambda path, host: [
        Invalid("is missing, and so is the host: give the landing a path (like '/sk/') or a host (like "
                "'sk.example.com')") if path is None else
        Invalid(f"is given, and so is the host ({host!r}): give the landing one of them", path)
    ] if (path is None) == (host is None) else []),
    Constraint("leadkit.E115", ("landing.path", "site.mount"), lambda path, mount: [
        Invalid(f"lies under site.mount ({mount!r}), where leadkit's own routes are: choose another path", path)
    ] if path is not None and path.startswith(f"{mount}/") else []),
    Constraint("leadkit.E116", ("landing.thanks", "landing.pages", "site.pages"),
               lambda thanks, pages, site_pages: page_in(thanks, pages or site_pages, "landing.pages or site.pages")),
    Constraint("leadkit.E117", ("landing.pages", "journal.path"), lambda pages, path: [
        Invalid(f"holds journal.path ({str(path)!r}) and is served to the world: the journal holds customers' names "
                "and phones; keep it elsewhere", pages)
    ] if pages is not None and path.is_relative_to(pages) else []),
)
#: The ids of two landings with one name, path or host (these rules read every landing at once).
_SAME = {"name": "leadkit.E112", "path": "leadkit.E113", "host": "leadkit.E114"}


# -- a landing as the configuration has it ------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """A ``[[landing]]`` as the configuration has it: where it is served (``path``, like ``"/sk/"``,
    or ``host``), its folder of pages (None: ``site.pages``), its own thank-you page and its offer, the
    keys it did not give being ``[offer]``'s. Making one checks its keys (a relative ``pages`` from the
    working folder); :meth:`leadkit.config.Config.for_landing` gives the configuration it is served with."""

    name: str
    path: str | None
    host: str | None
    pages: Path | None
    thanks: str | None
    offer: OfferConfig

    def __post_init__(self) -> None:
        own = [s for s in LandingConfig.settings if s.key in PLACE_KEYS]
        where = f"landing[{self.name}]" if landing_labels([self.name]) == [self.name] else "landing"
        own = [replace(s, section=where) for s in own]
        values, problems = check(own, {s.name: getattr(self, s.key) for s in own}, Path.cwd())
        if problems:
            raise ConfigError(problems)
        for s in own:
            object.__setattr__(self, s.key, values[s.name])

    def values(self) -> dict[str, object]:
        """Its values by the names the rules between settings read: ``landing.<key>``, ``offer.<key>``."""
        return {**{f"landing.{key}": getattr(self, key) for key in PLACE_KEYS},
                **{f"offer.{s.key}": getattr(self.offer, s.key) for s in self.offer.settings}}


def landing_labels(names: Sequence[object]) -> list[str]:
    """What each landing is called in its problems: its name, else (a bad or repeated name) its index."""
    seen: set[object] = set()
    labels = []
    for index, name in enumerate(names):
        good = isinstance(name, str) and re.fullmatch(_LANDING_NAME, name) is not None and name not in seen
        labels.append(str(name) if good else str(index))
        seen.add(name if good else None)
    return labels


def problems_of_landings(landings: Sequence[tuple[str, Mapping[str, object], Collection[str]]],
                         values: Mapping[str, object], constraints: Sequence[Constraint]) -> list[Problem]:
    """The rules between settings for each landing: ``landings`` are its label, its good values (as
    ``landing.<key>`` and ``offer.<key>``) and the offer's keys it inherits, whose rules ``[offer]``'s
    problems already cover; ``values`` are the sections'; ``constraints`` the rules between the
    sections' settings (:data:`leadkit.config.CONSTRAINTS`), each checked for a landing that gives an
    offer key it reads."""
    problems: list[Problem] = []
    first: dict[tuple[str, object], str] = {}
    for called, own, inherited in landings:
        where = f"landing[{called}]"
        for key, id in _SAME.items():
            value = own.get(f"landing.{key}")
            if value is not None and (key, value) in first:
                problems.append(Invalid(f"is {value!r}, as in {first[key, value]}: give each landing its own {key}",
                                        value).problem(f"{where}.{key}", id))
            elif value is not None:
                first[key, value] = where
        names = {f"{part}.{s.key}": f"{where}.{s.key}" for part in ("landing", "offer")
                 for s in LandingConfig.settings}
        scope = {**{name: value for name, value in values.items() if not name.startswith("offer.")}, **own}
        for constraint in constraints:
            offer_keys = {key for key in constraint.keys if key.startswith("offer.")}
            if offer_keys and not offer_keys <= set(inherited):
                problems += constraint.problems(scope, names)
        problems += [problem for constraint in LANDING_CONSTRAINTS for problem in constraint.problems(scope, names)]
    return problems
