"""leadkit's configuration: one TOML file, validated once, at start-up.

Precedence, one rule for every key: a Python keyword argument, then the environment, then the
file, then the default. The environment supplies the secrets (``LEADKIT_KEY`` for
``network.key``, ``LEADKIT_SECRET`` for ``site.secret``, ``LEADKIT_HEALTH_TOKEN`` for
``site.health_token``) and the file's path (``LEADKIT_CONFIG``).

Each setting is declared once, as a field of its section below (see :mod:`leadkit.settings`), and
each rule between settings once, after them, each with an id of its own. Every problem is reported
at once, naming the key, the bad value and the fix; secret values are never repeated.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .errors import ConfigError, Problem
from .settings import (FIELD_VALUE, FLAG, NEW_SECRET, ORIGIN, Constraint, Invalid, IPNetwork, Section, check, choice,
                       http_url, identifier, items, label, location, networks, number, region, secret_text, setting,
                       table, text)
from .tags import STANDARD_TAGS

__all__ = ["CALLS", "CLOUDFLARE_NETWORKS", "CONSTRAINTS", "Config", "ConfigError", "FormConfig", "JournalConfig", "LimitsConfig",
           "NetworkConfig", "OPTIONAL_ORDER_FIELDS", "OfferConfig", "SETTINGS", "STATIC_FIELDS", "SiteConfig",
           "TagsConfig", "config_from_mapping", "load_config", "load_journal_config"]

ROLES = ("wm", "ext", "comp")
#: The lead call of each role.
CALLS: Mapping[str, str] = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}
DIALECTS = ("dalead", "moe")

#: Order fields a form may show besides ``name`` and ``phone``.
OPTIONAL_ORDER_FIELDS = ("email", "comment", "last", "index", "addr", "area", "city", "street", "count")

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


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


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

    def call_url(self) -> str:
        """The URL of the lead call for this role, without the key."""
        return f"{self.api}/{CALLS[self.role]}.json"


class OfferConfig(Section, section="offer"):
    offer: int = setting(identifier("must be the offer's numeric id, like 217"), "leadkit.E020", "the offer id")
    country: str = setting(region("must be the offer's two-letter country code, like 'kz'", lower=True),
                           "leadkit.E021", "the offer's two-letter country: the phone's region and the `country` field")
    flow: int | None = setting(identifier("must be your flow's numeric id, like 42"), "leadkit.E022",
                               "your flow id; required for role `wm`", default=None)
    countries: tuple[str, ...] | None = setting(
        items(region(), "must be a list of two-letter country codes, like ['kz', 'kg']", nonempty=True),
        "leadkit.E023", 'phone countries accepted, e.g. `["kz", "kg"]` (none: `offer.country` alone)', default=None)
    source: str | None = setting(label("must be your source or webmaster id as text, like '77'"), "leadkit.E024",
                                 "role `ext` only: your source id, sent as `exts` (dalead) or `wm` (moe)", default=None)
    fields: Mapping[str, object] = setting(
        table(text(), FIELD_VALUE, "must be a table of field = value, like { currency = 'kzt', base = 9900 }"),
        "leadkit.E025", f"static fields sent with every lead: {_listed(STATIC_FIELDS['dalead'])}; `moe` also "
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


SECTIONS = (NetworkConfig, OfferConfig, SiteConfig, TagsConfig, FormConfig, LimitsConfig, JournalConfig)
#: Every setting, in the README's order.
SETTINGS = tuple(s for section in SECTIONS for s in section.settings)


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
)


def _problems_between(values: Mapping[str, object]) -> list[Problem]:
    return [problem for constraint in CONSTRAINTS for problem in constraint.problems(values)]


# -- the whole configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Every section, checked; making one also checks the rules between settings."""

    network: NetworkConfig
    offer: OfferConfig
    site: SiteConfig
    tags: TagsConfig = field(default_factory=TagsConfig)
    form: FormConfig = field(default_factory=FormConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    source: str | None = None

    def __post_init__(self) -> None:
        problems = _problems_between({s.name: getattr(getattr(self, s.section), s.key) for s in SETTINGS})
        if problems:
            raise ConfigError(problems, self.source)

    @property
    def phone_regions(self) -> tuple[str, ...]:
        """Regions (upper-case ISO codes) whose phone numbers the offer accepts."""
        return self.offer.countries or (self.offer.country.upper(),)


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None,
                **sections: Mapping[str, object] | None) -> Config:
    """Read, merge and validate the configuration.

    ``path`` (or ``LEADKIT_CONFIG``) names a TOML file; it may be omitted when
    keyword arguments give every required key. Keyword arguments are sections:
    ``load_config("leadkit.toml", network={"key": "..."}, site={"mount": "/lk"})``.
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
    raw, problems = _merge(data, {}, env)
    values, bad = check([s for s in SETTINGS if s.rule.env is None], raw, base_dir or Path.cwd())
    problems += bad + _problems_between(values)
    if problems:
        raise ConfigError(problems, source)
    return JournalConfig(**{s.key: values[s.name] for s in JournalConfig.settings})


def config_from_mapping(data: Mapping[str, object], *, environ: Mapping[str, str] | None = None,
                        base_dir: Path | None = None, source: str | None = None,
                        **sections: Mapping[str, object] | None) -> Config:
    """Validate configuration given as nested mappings (a parsed file, Django settings)."""
    raw, problems = _merge(data, sections, os.environ if environ is None else environ)
    values, bad = check(SETTINGS, raw, base_dir or Path.cwd())
    problems += bad + _problems_between(values)
    if problems:
        raise ConfigError(problems, source)
    parts: dict[str, Any] = {cls.name: cls(**{s.key: values[s.name] for s in cls.settings}) for cls in SECTIONS}
    return Config(**parts, source=source)


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
           env: Mapping[str, str]) -> tuple[dict[str, object], list[Problem]]:
    """The values given, by dotted name (an argument over the environment over the file), and the
    problems of unknown sections and keys."""
    known = {cls.name: [s.key for s in cls.settings] for cls in SECTIONS}
    raw: dict[str, object] = {}
    problems = []
    for origin, layer in (("file", data), ("argument", sections)):
        for section, values in ((section, values) for section, values in layer.items() if values is not None):
            if section not in known:
                problems.append(Problem(f"[{section}]", f"unknown section [{section}] ({origin})"
                                        f"{_did_you_mean(section, known)}", "leadkit.E007"))
            elif not isinstance(values, Mapping):
                problems.append(Problem(f"[{section}]", f"[{section}] must be a table of keys "
                                        f"(got {type(values).__name__})", "leadkit.E008"))
            else:  # an unknown key's value is not kept: it may be a secret under a misspelt key
                raw.update((f"{section}.{key}", value) for key, value in values.items() if key in known[section])
                problems += [Problem(f"{section}.{key}", f"unknown key {section}.{key}"
                                     f"{_did_you_mean(key, known[section])}", "leadkit.E009")
                             for key in values if key not in known[section]]
    for s in SETTINGS:
        given = sections.get(s.section)
        if s.rule.env and env.get(s.rule.env) and not (isinstance(given, Mapping) and s.key in given):
            raw[s.name] = env[s.rule.env]
    return raw, problems


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"
