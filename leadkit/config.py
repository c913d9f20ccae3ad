"""leadkit's configuration: one TOML file, validated once, at start-up.

Precedence, one rule for every key: a Python keyword argument, then the environment, then the
file, then the default. The environment supplies the secrets (``LEADKIT_KEY`` for
``network.key``, ``LEADKIT_SECRET`` for ``site.secret``, ``LEADKIT_HEALTH_TOKEN`` for
``site.health_token``) and the file's path (``LEADKIT_CONFIG``).

Each setting is declared once, as a field of its section below (see :mod:`leadkit.settings`), and
each rule between settings once, after them, each with an id of its own. Every problem is reported
at once, naming the key, the bad value and the fix; secret values are never repeated.

Many offers on one server: each ``[[landing]]`` (``landing=[{...}, ...]`` from Python or Django) is
a landing kit served under a path or on a host of its own, with its own offer; the offer keys it
does not give are ``[offer]``'s, and ``[offer]`` itself may then be left out. Each landing's keys
are checked as a section's are, its problems named ``landing[<name>].<key>``.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .errors import ConfigError, Problem
from .settings import (FIELD_VALUE, FLAG, NEW_SECRET, ORIGIN, Constraint, Invalid, IPNetwork, Rule, Section, check,
                       choice, http_url, identifier, items, label, location, networks, number, region, secret_text,
                       setting, table, text, valid)
from .tags import STANDARD_TAGS

__all__ = ["ALIAS_FIELDS", "CALLS", "CLOUDFLARE_NETWORKS", "CONSTRAINTS", "Config", "ConfigError", "FormConfig",
           "JournalConfig", "LANDING_CONSTRAINTS", "Landing", "LandingConfig", "LimitsConfig", "NetworkConfig",
           "OPTIONAL_ORDER_FIELDS", "OfferConfig", "SETTINGS", "STATIC_FIELDS", "SiteConfig", "TagsConfig",
           "config_from_mapping", "load_config", "load_journal_config"]

ROLES = ("wm", "ext", "comp")
#: The lead call of each role.
CALLS: Mapping[str, str] = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}
DIALECTS = ("dalead", "moe")

#: Order fields a form may show besides ``name`` and ``phone``.
OPTIONAL_ORDER_FIELDS = ("email", "comment", "last", "index", "addr", "area", "city", "street", "count")

#: leadkit's order fields a landing kit's form field may be mapped onto (``site.form_aliases``).
ALIAS_FIELDS = ("name", "phone", "last", "email", "comment", "index", "addr", "area", "city", "street", "count",
                "country")

#: Fields ``[offer.fields]`` may fix for every lead, per dialect.
STATIC_FIELDS = {
    "dalead": ("currency", "base", "count", "discount", "more", "index", "addr", "area", "city", "street"),
    "moe": ("currency", "base", "count", "discount", "more", "index", "addr", "area", "city", "street",
            "item", "items", "params"),
}

#: Cloudflare's published edge ranges, copied from https://www.cloudflare.com/ips/ (verify them there), for
#: ``site.trusted_networks = ["cloudflare"]``. Check them against that page when you rely on them.
CLOUDFLARE_NETWORKS = (
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
    "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
    "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
    "2a06:98c0::/29", "2c0f:f248::/32",
)

_HOSTS = items(text(pattern=r"(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", lower=True),
               "must be a list of host names, like ['cabinet.example.com', '*.example.com']")
_TAG_NAME = r"[A-Za-z][A-Za-z0-9_]{0,39}"
_DAY = 86400
_SECONDS = "must be a number of seconds from {low} to {high}"
_FOLDER = location("must be a folder path", folder=True)
_LANDING_NAME = r"[a-z0-9][a-z0-9_-]{0,39}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PART = r"[^/\\\x00-\x1f\x7f]+"  # a part of a relative path: no slash, backslash or control character


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _relative(fix: str) -> Rule[str]:
    """A path (or glob) relative to the pages folder, parts joined by "/": no leading "/", no "." or
    ".." part, no backslash."""
    return valid(fix, str, lambda value: len(value) <= 255 and re.fullmatch(rf"{_PART}(?:/{_PART})*", value)
                 is not None and not {".", ".."} & set(value.split("/")))


# The rules of the offer's keys, which a [[landing]] takes as well.
_OFFER_ID = identifier("must be the offer's numeric id, like 217")
_COUNTRY = region("must be the offer's two-letter country code, like 'kz'", lower=True)
_FLOW = identifier("must be your flow's numeric id, like 42")
_COUNTRIES = items(region(), "must be a list of two-letter country codes, like ['kz', 'kg']", nonempty=True)
_SOURCE = label("must be your source or webmaster id as text, like '77'")
_STATIC = table(text(), FIELD_VALUE, "must be a table of field = value, like { currency = 'kzt', base = 9900 }")
_THANKS = _relative("must be a page's path relative to the pages folder, like 'ok.php' or 'thanks/index.html' "
                    "(no leading '/', no '..', no backslash)")


# -- the settings, each declared once: rule, id, README line, default --------------------------


class NetworkConfig(Section, section="network"):
    api: str = setting(http_url("must be the network's API base URL, like 'https://lk.dalead.pro/api'"), "leadkit.E010",
                       "the API base URL; leadkit appends `/wm/push.json`, `/ext/add.json` or `/comp/add.json`")
    key: str = setting(secret_text("LEADKIT_KEY", "the id= value of the API URL, like '123-0f3a...'", token=True),
                       "leadkit.E011", "the `?id=` value; never shown in pages, logs or errors")
    role: str = setting(choice(ROLES), "leadkit.E012",
                        "`wm` (webmaster with a flow), `ext` (agency), `comp` (supplier)", default="wm")
    dialect: str = setting(choice(DIALECTS), "leadkit.E013", "`dalead` (`utm_*`, `subid`, `sub1`..`sub5`, `mobile`, "
                           "`phonecc`, `comment`, `last`) or `moe` (`us`/`um`/`uc`/`un`/`ut`, `params[...]`, `comm`)",
                           default="dalead")
    timeout: float = setting(number(float, 0, 120, "must be a number of seconds between {low} and {high}",
                                    above=True), "leadkit.E014", "seconds for one API call (0 to 120)", default=10.0)
    redirect_hosts: tuple[str, ...] = setting(_HOSTS, "leadkit.E015", "when set, autologin redirects only to these "
                                              'hosts (`"*.example.com"` allows subdomains)', default=())
    prefer_thanks: bool = setting(FLAG, "leadkit.E016", "true: send customers to the thank-you page even when the "
                                  "network gives an autologin `url`", default=False)

    def call_url(self) -> str:
        """The URL of the lead call for this role, without the key."""
        return f"{self.api}/{CALLS[self.role]}.json"


class OfferConfig(Section, section="offer"):
    offer: int = setting(_OFFER_ID, "leadkit.E020", "the offer id")
    country: str = setting(_COUNTRY, "leadkit.E021",
                           "the offer's two-letter country: the phone's region and the `country` field")
    flow: int | None = setting(_FLOW, "leadkit.E022", "your flow id; required for role `wm`", default=None)
    countries: tuple[str, ...] | None = setting(
        _COUNTRIES, "leadkit.E023", 'phone countries accepted, e.g. `["kz", "kg"]` (none: `offer.country` alone)',
        default=None)
    source: str | None = setting(_SOURCE, "leadkit.E024",
                                 "role `ext` only: your source id, sent as `exts` (dalead) or `wm` (moe)", default=None)
    fields: Mapping[str, object] = setting(
        _STATIC, "leadkit.E025", f"static fields sent with every lead: {_listed(STATIC_FIELDS['dalead'])}; `moe` also "
        f"{_listed(STATIC_FIELDS['moe'][len(STATIC_FIELDS['dalead']):])}", default={})


class SiteConfig(Section, section="site"):
    secret: str = setting(secret_text("LEADKIT_SECRET", f"a long random text ({NEW_SECRET})", min_length=16),
                          "leadkit.E030", "signs cookies; at least 16 characters")
    mount: str = setting(text("must be a URL path like '/leadkit', with no trailing slash",
                              r"(/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+"),
                         "leadkit.E031", "the prefix of leadkit's own routes", default="/leadkit")
    trusted_proxies: int = setting(
        number(int, 0, 10, "must be the number of reverse proxies in front of leadkit, {low} to {high}"),
        "leadkit.E032", "reverse proxies in front whose `X-Forwarded-For` hop is trusted (0 to 10)", default=0)
    pages: Path | None = setting(_FOLDER, "leadkit.E033", "standalone server: the folder of landing pages",
                                 default=None)
    templates: Path | None = setting(_FOLDER, "leadkit.E034",
                                     "a folder whose templates override the built-in ones by name", default=None)
    allowed_origins: tuple[str, ...] = setting(
        items(ORIGIN, "must be a list of origins like ['https://promo.example']"), "leadkit.E035",
        'other sites that may post the form and frame it (prelandings), like `"https://promo.example"`; '
        "CORS follows this list", default=())
    ip_header: str | None = setting(
        text("must be an HTTP header name like 'CF-Connecting-IP'", r"[A-Za-z0-9-]{1,64}"), "leadkit.E036",
        'a header with the client IP set by a CDN (`"CF-Connecting-IP"`, `"X-Real-IP"`), honoured only from '
        "`site.trusted_networks`", default=None)
    trusted_networks: tuple[IPNetwork, ...] = setting(
        networks("must be a list of CIDRs like ['10.0.0.0/8'], or 'cloudflare'", {"cloudflare": CLOUDFLARE_NETWORKS}),
        "leadkit.E037", 'CIDRs whose `site.ip_header` is believed; `"cloudflare"` adds Cloudflare\'s published ranges',
        default=())
    honeypot: str = setting(
        text("must be a form field name no real field uses, like 'website'", r"[A-Za-z][A-Za-z0-9_-]{0,39}",
             refused=("name", "phone", *OPTIONAL_ORDER_FIELDS, *STANDARD_TAGS)),
        "leadkit.E038", "the name of the hidden trap field bots fill in", default="website")
    min_fill_seconds: float = setting(number(float, 0, 600), "leadkit.E039",
                                      "a form sent sooner after it was shown is a bot's", default=3.0)
    token_max_age: int = setting(number(int, 60, 30 * _DAY), "leadkit.E040", "seconds a rendered form stays valid",
                                 default=_DAY)
    max_body: int = setting(number(int, 1024, 1024 * 1024), "leadkit.E041",
                            "bytes an order post may have; a larger one gets `413` unread", default=16384)
    landing_hosts: tuple[str, ...] = setting(_HOSTS, "leadkit.E042", "standalone server: hosts "
                                             '(`"landing.example.com"`, `"*.example.com"`) whose links on served pages '
                                             "get the visitor's tags, besides the site's own", default=())
    thanks: str | None = setting(_THANKS, "leadkit.E043", 'the kit\'s own thank-you page, relative to `site.pages` '
                                 '(`"ok.php"`, `"thanks/index.html"`); none: leadkit looks for one in the kit',
                                 default=None)
    form_aliases: Mapping[str, str] = setting(
        table(text(pattern=r"[A-Za-z0-9_\-\[\]]{1,64}", lower=True),
              choice(ALIAS_FIELDS), "must be a table of kit field = leadkit field, like { telefon = 'phone' }, "
              "the kit's names of letters, digits, '_', '-', '[' or ']' (at most 64)"),
        "leadkit.E044", 'a landing kit\'s form fields mapped onto leadkit\'s, e.g. `{ telefon = "phone", imie = '
        f'"name" }}` (names compared in lower case); leadkit\'s: {_listed(ALIAS_FIELDS)}', default={})
    jinja: tuple[str, ...] = setting(
        items(_relative("must be a glob"), "must be a list of globs relative to the pages folder, like "
              "['*.html', 'promo/*.html'] (no leading '/', no '..', no backslash)"),
        "leadkit.E045", 'globs relative to the pages folder (`"*.html"`, `"promo/*.html"`) of pages rendered as Jinja '
        "templates, besides `*.jinja` and `*.j2`; other pages are served as they are", default=())
    health_token: str | None = setting(
        secret_text("LEADKIT_HEALTH_TOKEN", f"a long random text ({NEW_SECRET})", min_length=16, token=True),
        "leadkit.E049", "a bearer token (or `LEADKIT_HEALTH_TOKEN`) that shows the counts in `/leadkit/health`; "
        "none: only the status is shown; at least 16 characters, never shown in pages, logs or errors", default=None)


class TagsConfig(Section, section="tags"):
    extra: tuple[str, ...] = setting(
        items(text(pattern=_TAG_NAME, refused=STANDARD_TAGS),
              "must be a list of tag names like ['gclid', 'fbclid'], none of them a standard tag"),
        "leadkit.E050", "more tag names to capture (dialect `moe`: sent as `params[name]`)", default=())
    aliases: Mapping[str, str] = setting(
        table(text(pattern=_TAG_NAME), text("must be a tag name", _TAG_NAME),
              "maps query parameters to tag names, like clickid = 'subid'"),
        "leadkit.E051", 'query parameters mapped onto tags, e.g. `{ clickid = "subid" }`', default={})
    cookie: str = setting(text("must be a cookie name of letters, digits, '_' or '-'", r"[A-Za-z0-9_-]{1,64}"),
                          "leadkit.E052", "the tag cookie's name", default="leadkit_tags")
    days: int = setting(number(int, 1, 400, "must be how many days the tags are kept, {low} to {high}"),
                        "leadkit.E053", "how long the tag cookie lives", default=30)

    @property
    def names(self) -> tuple[str, ...]:
        return STANDARD_TAGS + self.extra


class FormConfig(Section, section="form"):
    fields: tuple[str, ...] = setting(
        items(choice(OPTIONAL_ORDER_FIELDS),
              f"lists the optional fields the form shows, among {', '.join(OPTIONAL_ORDER_FIELDS)}"),
        "leadkit.E060", f"optional fields the form shows: {_listed(OPTIONAL_ORDER_FIELDS)}", default=())
    title: str = setting(text(), "leadkit.E061", "the form's heading", default="Order now")
    submit: str = setting(text(), "leadkit.E062", "the button's label", default="Order")
    note: str = setting(text(), "leadkit.E063", "the small print under the button",
                        default="Our operator will call you to confirm the order.")


class LimitsConfig(Section, section="limits"):
    """Orders allowed per client IP and per phone within a window of seconds (0 orders: no limit)."""

    ip_orders: int = setting(number(int, 0, 100000), "leadkit.E070", "new orders per client IP within "
                             "`limits.ip_window` (0: no limit); generous, as mobile carriers put many customers "
                             "behind one address", default=10)
    ip_window: int = setting(number(int, 1, 30 * _DAY), "leadkit.E071", "seconds", default=600)
    phone_orders: int = setting(number(int, 0, 100000), "leadkit.E072",
                                "new orders per phone within `limits.phone_window` (0: no limit)", default=3)
    phone_window: int = setting(number(int, 1, 30 * _DAY), "leadkit.E073", "seconds", default=_DAY)


class JournalConfig(Section, section="journal"):
    """Where leads are kept, and how they are retried (seconds throughout)."""

    path: Path = setting(location("must be the journal file's path, like 'leadkit.db'"), "leadkit.E080",
                         "the lead journal (SQLite, mode 0600); refused inside `site.pages`",
                         default=Path("leadkit.db"))
    max_age: float = setting(number(float, 60, 30 * _DAY, _SECONDS), "leadkit.E081",
                             "seconds a lead is retried before it is `dead` (logged at ERROR)", default=86400.0)
    lease: float = setting(number(float, 2, 600, _SECONDS), "leadkit.E082",
                           "seconds a sender holds a lead; must exceed twice `network.timeout`", default=60.0)
    double_submit: float = setting(number(float, 0, 3600, _SECONDS), "leadkit.E083",
                                   "seconds within which the same order again is the same lead", default=120.0)
    retry_base: float = setting(number(float, 0.1, 3600, _SECONDS), "leadkit.E084",
                                "first retry delay in seconds; doubles each attempt, jittered", default=5.0)
    retry_cap: float = setting(number(float, 1, _DAY, _SECONDS), "leadkit.E085",
                               "longest retry delay in seconds (a longer `Retry-After` is honoured)", default=900.0)
    poll: float = setting(number(float, 0.05, 300, _SECONDS), "leadkit.E086",
                          "seconds between the relay's looks for due leads", default=2.0)
    relay: bool = setting(FLAG, "leadkit.E087",
                          "run the retry loop in the server process (else: `leadkit journal retry` from cron)",
                          default=True)


class LandingConfig(Section, section="landing"):
    """One ``[[landing]]``: a landing kit with its own offer, under a path or on a host. The offer keys
    it does not give are ``[offer]``'s (see :class:`Landing`, the landing as :class:`Config` has it)."""

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
    pages: Path | None = setting(_FOLDER, "leadkit.E103", "its folder of pages (none: `site.pages`)", default=None)
    offer: int | None = setting(_OFFER_ID, "leadkit.E104", "its offer id (none: `offer.offer`)", default=None)
    flow: int | None = setting(_FLOW, "leadkit.E105", "its flow id (none: `offer.flow`)", default=None)
    country: str | None = setting(_COUNTRY, "leadkit.E106", "its offer's country (none: `offer.country`)",
                                  default=None)
    countries: tuple[str, ...] | None = setting(_COUNTRIES, "leadkit.E107",
                                                "its phone countries (none: `offer.countries`)", default=None)
    source: str | None = setting(_SOURCE, "leadkit.E108", "its source id (none: `offer.source`)", default=None)
    fields: Mapping[str, object] | None = setting(_STATIC, "leadkit.E109",
                                                  "its static fields (none: `offer.fields`)", default=None)
    thanks: str | None = setting(_THANKS, "leadkit.E110", "its own thank-you page, relative to `landing.pages` "
                                 "(none: `site.thanks` when it has no pages of its own, else one found in its kit)",
                                 default=None)


SECTIONS = (NetworkConfig, OfferConfig, SiteConfig, TagsConfig, FormConfig, LimitsConfig, JournalConfig)
#: The settings of the sections (``[network]``...), which a configuration has once.
SECTION_SETTINGS = tuple(s for section in SECTIONS for s in section.settings)
#: Every setting, in the README's order: the sections', then each ``[[landing]]``'s.
SETTINGS = SECTION_SETTINGS + LandingConfig.settings
#: A landing's keys besides its offer's, and its offer's keys.
_PLACE_KEYS = ("name", "path", "host", "pages", "thanks")
_OFFER_KEYS = tuple(s.key for s in OfferConfig.settings)


# -- the rules between settings: each an id, the settings it reads (a problem is filed under the first),
# and what is wrong given their values; a rule waits until the settings it reads are good --------------

CONSTRAINTS = (
    Constraint("leadkit.E090", ("offer.flow", "network.role"), lambda flow, role: [
        Invalid("is required when network.role = 'wm': set it to your flow's numeric id")
    ] if flow is None and role == "wm" else []),
    Constraint("leadkit.E091", ("offer.source", "network.role"), lambda source, role: [
        Invalid(f"is only sent with network.role = 'ext' (role is {role!r}): remove it", source)
    ] if source is not None and role != "ext" else []),
    Constraint("leadkit.E092", ("offer.fields", "network.dialect"), lambda fields, dialect: [
        Invalid(f"is not a field the {dialect!r} dialect takes with every lead (allowed: "
                f"{', '.join(STATIC_FIELDS[dialect])})", value, sub=name)
        for name, value in fields.items() if name not in STATIC_FIELDS[dialect]]),
    Constraint("leadkit.E093", ("tags.extra", "network.dialect"), lambda extra, dialect: [
        Invalid("needs network.dialect = 'moe' (sent as params[...]); the dalead dialect has no custom fields: map "
                "them onto subid, uuid or sub1..sub5 with [tags.aliases] instead", extra)
    ] if extra and dialect != "moe" else []),
    Constraint("leadkit.E094", ("tags.aliases", "tags.extra"), lambda aliases, extra: [
        Invalid(f"maps {alias!r} to {tag!r}, which is not a tag: use one of {', '.join(STANDARD_TAGS + extra)}",
                tag, sub=alias)
        for alias, tag in aliases.items() if tag not in STANDARD_TAGS + extra]),
    Constraint("leadkit.E095", ("site.ip_header", "site.trusted_networks"), lambda header, networks: [
        Invalid("needs site.trusted_networks: the header is honoured only from those peers (for Cloudflare: "
                "trusted_networks = ['cloudflare'])", header)
    ] if header is not None and not networks else []),
    Constraint("leadkit.E096", ("journal.lease", "network.timeout"), lambda lease, timeout: [
        Invalid(f"({lease:g} s) must be more than twice network.timeout ({timeout:g} s), so that a slow attempt "
                "keeps its lead", lease)
    ] if lease <= 2 * timeout else []),
    Constraint("leadkit.E097", ("journal.path", "site.pages"), lambda path, pages: [
        Invalid(f"{str(path)!r} lies inside site.pages, which is served to the world: the journal holds customers' "
                "names and phones; keep it elsewhere", path)
    ] if pages is not None and path.is_relative_to(pages) else []),
    Constraint("leadkit.E098", ("site.thanks", "site.pages"),
               lambda thanks, pages: _page_in(thanks, pages, "site.pages")),
)

# The rules checked for each [[landing]], with its values as ``landing.<key>`` and its offer's (given or
# inherited) as ``offer.<key>``; E090, E091 and E092 above are checked for each landing as well.
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
               lambda thanks, pages, site_pages: _page_in(thanks, pages or site_pages, "landing.pages or site.pages")),
    Constraint("leadkit.E117", ("landing.pages", "journal.path"), lambda pages, path: [
        Invalid(f"holds journal.path ({str(path)!r}) and is served to the world: the journal holds customers' names "
                "and phones; keep it elsewhere", pages)
    ] if pages is not None and path.is_relative_to(pages) else []),
)
#: The ids of a section (or landing) that is not a table of keys, and of an unknown key.
_NOT_A_TABLE, _UNKNOWN_KEY = "leadkit.E008", "leadkit.E009"
#: The ids of two landings with one name, path or host (these rules read every landing at once).
_SAME = {"name": "leadkit.E112", "path": "leadkit.E113", "host": "leadkit.E114"}


def _page_in(page: str | None, folder: Path | None, folders: str) -> list[Invalid]:
    """What is wrong with a page (``site.thanks``) that must be a file in ``folder``."""
    if page is None:
        return []
    if folder is None:
        return [Invalid(f"needs {folders}: the page is a file in that folder", page)]
    path = (folder / page).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return [Invalid(f"names {str(folder / page)!r}, which is not a file in {str(folder)!r}", page)]
    return []


def _problems_between(values: Mapping[str, object]) -> list[Problem]:
    return [problem for constraint in CONSTRAINTS for problem in constraint.problems(values)]


def _labels(names: Sequence[object]) -> list[str]:
    """What each landing is called in its problems: its name, else (a bad or repeated name) its index."""
    seen: set[object] = set()
    labels = []
    for index, name in enumerate(names):
        good = isinstance(name, str) and re.fullmatch(_LANDING_NAME, name) is not None and name not in seen
        labels.append(str(name) if good else str(index))
        seen.add(name if good else None)
    return labels


def _problems_of_landings(landings: Sequence[tuple[str, Mapping[str, object], Collection[str]]],
                          values: Mapping[str, object]) -> list[Problem]:
    """The rules between settings for each landing: ``landings`` are its label, its good values (as
    ``landing.<key>`` and ``offer.<key>``) and the offer's keys it inherits, whose rules ``[offer]``'s
    problems already cover; ``values`` are the sections'."""
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
        names = {f"{part}.{key}": f"{where}.{key}" for part in ("landing", "offer")
                 for key in _PLACE_KEYS + _OFFER_KEYS}
        scope = {**{name: value for name, value in values.items() if not name.startswith("offer.")}, **own}
        for constraint in CONSTRAINTS:
            offer_keys = {key for key in constraint.keys if key.startswith("offer.")}
            if offer_keys and not offer_keys <= set(inherited):
                problems += constraint.problems(scope, names)
        problems += [problem for constraint in LANDING_CONSTRAINTS for problem in constraint.problems(scope, names)]
    return problems


# -- the whole configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """A ``[[landing]]`` as the configuration has it: where it is served (``path``, like ``"/sk/"``,
    or ``host``), its folder of pages (None: ``site.pages``), its own thank-you page and its offer, the
    keys it did not give being ``[offer]``'s. Making one checks its keys (a relative ``pages`` from the
    working folder); :meth:`Config.for_landing` gives the configuration it is served with."""

    name: str
    path: str | None
    host: str | None
    pages: Path | None
    thanks: str | None
    offer: OfferConfig

    def __post_init__(self) -> None:
        own = [s for s in LandingConfig.settings if s.key in _PLACE_KEYS]
        where = f"landing[{self.name}]" if _labels([self.name]) == [self.name] else "landing"
        own = [replace(s, section=where) for s in own]
        values, problems = check(own, {s.name: getattr(self, s.key) for s in own}, Path.cwd())
        if problems:
            raise ConfigError(problems)
        for s in own:
            object.__setattr__(self, s.key, values[s.name])

    def values(self) -> dict[str, object]:
        """Its values by the names the rules between settings read: ``landing.<key>``, ``offer.<key>``."""
        return {**{f"landing.{key}": getattr(self, key) for key in _PLACE_KEYS},
                **{f"offer.{key}": getattr(self.offer, key) for key in _OFFER_KEYS}}


@dataclass(frozen=True)
class Config:
    """Every section, checked, and the landings; making one also checks the rules between settings."""

    network: NetworkConfig
    offer: OfferConfig
    site: SiteConfig
    tags: TagsConfig = field(default_factory=TagsConfig)
    form: FormConfig = field(default_factory=FormConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    source: str | None = None
    landings: tuple[Landing, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "landings", tuple(self.landings))
        values = {s.name: getattr(getattr(self, s.section), s.key) for s in SECTION_SETTINGS}
        labels = _labels([landing.name for landing in self.landings])
        inherited = [{f"offer.{key}" for key in _OFFER_KEYS if getattr(landing.offer, key) == getattr(self.offer, key)}
                     for landing in self.landings]
        problems = _problems_between(values) + _problems_of_landings(
            [(called, landing.values(), same) for called, landing, same in zip(labels, self.landings, inherited)],
            values)
        if problems:
            raise ConfigError(problems, self.source)

    @property
    def phone_regions(self) -> tuple[str, ...]:
        """Regions (upper-case ISO codes) whose phone numbers the offer accepts."""
        return self.offer.countries or (self.offer.country.upper(),)

    def landing(self, name: str) -> Landing:
        """The ``[[landing]]`` named ``name``; KeyError when there is none."""
        for landing in self.landings:
            if landing.name == name:
                return landing
        known = ", ".join(repr(landing.name) for landing in self.landings) or "none"
        raise KeyError(f"no [[landing]] is named {name!r} (the landings: {known})")

    def for_landing(self, landing: Landing | None) -> Config:
        """The configuration ``landing`` is served with (None: this one): its offer, its pages (else
        ``site.pages``) and its thank-you page (else ``site.thanks`` when it has no pages of its own),
        and no landings."""
        if landing is None:
            return self
        thanks = landing.thanks if landing.thanks is not None or landing.pages is not None else self.site.thanks
        site = replace(self.site, pages=landing.pages or self.site.pages, thanks=thanks)
        return replace(self, offer=landing.offer, site=site, landings=())


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None,
                **sections: Mapping[str, object] | Sequence[Mapping[str, object]] | None) -> Config:
    """Read, merge and validate the configuration.

    ``path`` (or ``LEADKIT_CONFIG``) names a TOML file; it may be omitted when
    keyword arguments give every required key. Keyword arguments are sections:
    ``load_config("leadkit.toml", network={"key": "..."}, site={"mount": "/lk"})``, and ``landing``
    a list of landings (``landing=[{"name": "sk", "path": "/sk/", "offer": 402}]``), which replaces
    the file's.
    """
    env = os.environ if environ is None else environ
    data, base_dir, source = _file(path, env)
    return config_from_mapping(data, environ=env, base_dir=base_dir, source=source, **sections)


def load_journal_config(path: str | os.PathLike[str] | None = None, *,
                        environ: Mapping[str, str] | None = None) -> JournalConfig:
    """The ``[journal]`` section alone, for reading the journal (``leadkit journal list``): the file
    is checked as :func:`load_config` checks it, but the network key and the site secret, which
    reading does not use, need not be given."""
    env = os.environ if environ is None else environ
    data, base_dir, source = _file(path, env)
    values, _, _ = _checked(data, {}, env, base_dir or Path.cwd(), source, secrets=False)
    return JournalConfig(**{s.key: values[s.name] for s in JournalConfig.settings})


def config_from_mapping(data: Mapping[str, object], *, environ: Mapping[str, str] | None = None,
                        base_dir: Path | None = None, source: str | None = None,
                        **sections: Mapping[str, object] | Sequence[Mapping[str, object]] | None) -> Config:
    """Validate configuration given as nested mappings (a parsed file, Django settings); ``landing``
    is a list of them."""
    env = os.environ if environ is None else environ
    values, given, offer_given = _checked(data, sections, env, base_dir or Path.cwd(), source)
    landings = tuple(Landing(**{key: own[f"landing.{key}"] for key in _PLACE_KEYS},
                             offer=OfferConfig(**{key: own[f"offer.{key}"] for key in _OFFER_KEYS}))
                     for own in given)
    parts: dict[str, Any] = {cls.section: cls(**{s.key: values[s.name] for s in cls.settings})
                             for cls in SECTIONS if cls is not OfferConfig or offer_given or not landings}
    offer = parts.pop(OfferConfig.section, None) or landings[0].offer  # without [offer]: the first landing's
    return Config(**parts, offer=offer, source=source, landings=landings)


def _checked(data: Mapping[str, object], sections: Mapping[str, object], env: Mapping[str, str], base: Path,
             source: str | None, *, secrets: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """Every setting given checked, and the rules between them: the sections' values by dotted name,
    each landing's (``landing.<key>``, ``offer.<key>``), and whether ``[offer]`` was given; or a
    ConfigError naming every problem. Without ``secrets``, the secrets are neither needed nor checked."""
    raw, given, problems = _merge(data, sections, env)
    offer_given = any(name.startswith(f"{OfferConfig.section}.") for name in raw)
    settings = [s for s in SECTION_SETTINGS if (secrets or s.rule.env is None)
                and (offer_given or not given or s.section != OfferConfig.section)]
    values, bad = check(settings, raw, base)
    problems += bad + _problems_between(values)
    landings, bad = _check_landings(given, values, offer_given, base)
    problems += bad
    if problems:
        raise ConfigError(problems, source)
    return values, landings, offer_given


def _check_landings(given: Sequence[object], values: Mapping[str, Any], offer_given: bool,
                    base: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Each ``[[landing]]`` checked as a section is, its problems named ``landing[<label>].<key>``, the
    offer keys it does not give taken from ``[offer]``, and the rules between settings for each:
    the landings' values (by ``landing.<key>`` and ``offer.<key>``) and the problems."""
    keys = [s.key for s in LandingConfig.settings]
    labels = _labels([each.get("name") if isinstance(each, Mapping) else None for each in given])
    problems: list[Problem] = []
    landings: list[tuple[str, dict[str, Any], set[str]]] = []
    for called, each in zip(labels, given):
        where = f"landing[{called}]"
        if not isinstance(each, Mapping):
            problems.append(Problem(where, f"{where} must be a table of keys (got {type(each).__name__})",
                                    _NOT_A_TABLE))
            continue
        problems += [Problem(f"{where}.{key}", f"unknown key {where}.{key}{_did_you_mean(str(key), keys)}",
                             _UNKNOWN_KEY) for key in each if key not in keys]
        settings = [replace(s, section=where) for s in LandingConfig.settings]
        checked, bad = check(settings, {f"{where}.{key}": value for key, value in each.items() if key in keys}, base)
        problems += bad
        own = {f"landing.{key}": checked[f"{where}.{key}"] for key in _PLACE_KEYS if f"{where}.{key}" in checked}
        inherited = set()
        for s in OfferConfig.settings:
            name, value = f"offer.{s.key}", checked.get(f"{where}.{s.key}", MISSING)
            if value is MISSING:  # refused: a problem already
                continue
            if value is not None:
                own[name] = value
            elif offer_given:
                inherited.add(name)
                if name in values:  # else [offer]'s own is refused, a problem already
                    own[name] = values[name]
            elif s.default is MISSING:
                setting = next(each for each in settings if each.key == s.key)
                problems.append(Problem(setting.name, f"{setting.name} is required: set it in this landing, or in "
                                        f"[offer] for every landing", setting.id))
            else:
                own[name] = s.default
        landings.append((called, own, inherited))
    problems += _problems_of_landings(landings, values)
    return [own for _, own, _ in landings], problems


def _file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[Mapping[str, object], Path | None,
                                                                                 str | None]:
    """The file's settings (``path``, else ``LEADKIT_CONFIG``, else none), its folder and its name."""
    path = path or env.get("LEADKIT_CONFIG") or None
    if path is None:
        return {}, None, None
    return _read_toml(Path(path)), Path(path).resolve().parent, str(path)


def _read_toml(path: Path) -> Mapping[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problem = Problem(None, f"the configuration file {str(path)!r} does not exist", "leadkit.E003")
    except OSError as exc:
        problem = Problem(None, f"the configuration file {str(path)!r} cannot be read: {exc.strerror}", "leadkit.E004")
    except UnicodeDecodeError:
        problem = Problem(None, "the file is not UTF-8 text: save it as UTF-8", "leadkit.E005")
    except tomllib.TOMLDecodeError as exc:
        problem = Problem(None, f"the file is not valid TOML: {exc}", "leadkit.E006")
    raise ConfigError([problem], str(path))


def _merge(data: Mapping[str, object], sections: Mapping[str, object],
           env: Mapping[str, str]) -> tuple[dict[str, object], list[object], list[Problem]]:
    """The values given, by dotted name (an argument over the environment over the file), the
    landings given (an argument's list replaces the file's), and the problems of unknown sections
    and keys."""
    known = {cls.section: [s.key for s in cls.settings] for cls in SECTIONS}
    raw: dict[str, object] = {}
    landings: list[object] = []
    problems = []
    for origin, layer in (("file", data), ("argument", sections)):
        for section, values in ((section, values) for section, values in layer.items() if values is not None):
            if section == LandingConfig.section:
                if isinstance(values, (list, tuple)):
                    landings = list(values)
                else:
                    problems.append(Problem(f"[{section}]", f"[{section}] must be a list of tables, one per landing: "
                                            f"[[{section}]] in the file, {section}=[{{...}}] in Python (got "
                                            f"{type(values).__name__})", _NOT_A_TABLE))
            elif section not in known:
                problems.append(Problem(f"[{section}]", f"unknown section [{section}] ({origin})"
                                        f"{_did_you_mean(section, [*known, LandingConfig.section])}", "leadkit.E007"))
            elif not isinstance(values, Mapping):
                problems.append(Problem(f"[{section}]", f"[{section}] must be a table of keys "
                                        f"(got {type(values).__name__})", _NOT_A_TABLE))
            else:  # an unknown key's value is not kept: it may be a secret under a misspelt key
                raw.update((f"{section}.{key}", value) for key, value in values.items() if key in known[section])
                problems += [Problem(f"{section}.{key}", f"unknown key {section}.{key}"
                                     f"{_did_you_mean(key, known[section])}", _UNKNOWN_KEY)
                             for key in values if key not in known[section]]
    for s in SETTINGS:
        given = sections.get(s.section)
        if s.rule.env and env.get(s.rule.env) and not (isinstance(given, Mapping) and s.key in given):
            raw[s.name] = env[s.rule.env]
    return raw, landings, problems


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"
