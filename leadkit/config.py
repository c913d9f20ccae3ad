"""leadkit's settings table: every setting, declared once as a field of its section, the rules between
settings, and :class:`Config`, the whole configuration, checked once, at start-up.

Each setting is declared once, as a field of its section below (see :mod:`leadkit.settings`), and
each rule between settings once, after them, each with an id of its own. Every problem is reported
at once, naming the key, the bad value and the fix; secret values are never repeated.

Where the values come from (the TOML file, the environment, keyword arguments) and how they are
merged: :mod:`leadkit.config_file` (``load_config``). Several offers on one server, each
``[[landing]]`` with the rules of its keys: :mod:`leadkit.landings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from .capi import CAPI_CONSTRAINTS, FacebookConfig, TikTokConfig
from .errors import ConfigError, Problem
from .geo import GeoPrice
from .landings import (COUNTRIES, COUNTRY, FLOW, FOLDER, GEO, LANGUAGE, OFFER_ID, SOURCE, STATIC, THANKS, Landing,
                       LandingConfig, landing_labels, page_in, problems_of_landings, relative)
from .settings import (FLAG, NEW_SECRET, ORIGIN, Constraint, Invalid, IPNetwork, Rule, Section, choice, http_url, items,
                       location, networks, number, secret_text, setting, table, text)
from .pixels import PixelsConfig
from .postbacks import POSTBACK_CONSTRAINTS, PostbackConfig
from .statuses import SyncConfig
from .tags import STANDARD_TAGS

__all__ = ["ALIAS_FIELDS", "CALLS", "CLOUDFLARE_NETWORKS", "CONSTRAINTS", "Config", "FormConfig", "JournalConfig",
           "LimitsConfig", "NetworkConfig", "OPTIONAL_ORDER_FIELDS", "OfferConfig", "SETTINGS", "STATIC_FIELDS",
           "SiteConfig", "TagsConfig"]

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


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _journal_url(value: object, base: Path) -> str:
    """A PostgreSQL URL; its problem never repeats it (it may hold a password)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("is empty: set a URL like 'postgresql://leadkit@db.example/leadkit', or leave it out for "
                      "the SQLite file journal.path")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or "host=" in parts.query):
        raise Invalid(f"must be a PostgreSQL URL like 'postgresql://user:password@host:5432/leadkit' (got a "
                      f"{parts.scheme or 'text'!r} URL of {len(value)} characters, not repeated here)")
    return value.strip()


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
    offer: int = setting(OFFER_ID, "leadkit.E020", "the offer id")
    country: str = setting(COUNTRY, "leadkit.E021",
                           "the offer's two-letter country: the phone's region and the `country` field")
    flow: int | None = setting(FLOW, "leadkit.E022", "your flow id; required for role `wm`", default=None)
    countries: tuple[str, ...] | None = setting(
        COUNTRIES, "leadkit.E023", 'phone countries accepted, e.g. `["kz", "kg"]` (none: `offer.country` alone)',
        default=None)
    source: str | None = setting(SOURCE, "leadkit.E024",
                                 "role `ext` only: your source id, sent as `exts` (dalead) or `wm` (moe)", default=None)
    fields: Mapping[str, object] = setting(
        STATIC, "leadkit.E025", f"static fields sent with every lead: {_listed(STATIC_FIELDS['dalead'])}; `moe` also "
        f"{_listed(STATIC_FIELDS['moe'][len(STATIC_FIELDS['dalead']):])}", default={})
    geo: Mapping[str, GeoPrice] = setting(
        GEO, "leadkit.E026", 'prices per country, `[offer.geo.pt]`: `price`, `old_price` (shown crossed out), '
        '`currency` (ISO 4217, like `"eur"`) and `base`; a lead from that country goes out with that `currency` and '
        "`base` (none given: no `base`), whatever `offer.fields` says", default={})
    language: str | None = setting(LANGUAGE, "leadkit.E027", 'the offer\'s language, like `"pt"` or `"pt_BR"`',
                                   default=None)


class SiteConfig(Section, section="site"):
    secret: str = setting(secret_text("LEADKIT_SECRET", f"a long random text ({NEW_SECRET})", min_length=16),
                          "leadkit.E030", "signs cookies; at least 16 characters")
    mount: str = setting(text("must be a URL path like '/leadkit', with no trailing slash",
                              r"(/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+"),
                         "leadkit.E031", "the prefix of leadkit's own routes", default="/leadkit")
    trusted_proxies: int = setting(
        number(int, 0, 10, "must be the number of reverse proxies in front of leadkit, {low} to {high}"),
        "leadkit.E032", "reverse proxies in front whose `X-Forwarded-For` hop is trusted (0 to 10)", default=0)
    pages: Path | None = setting(FOLDER, "leadkit.E033", "standalone server: the folder of landing pages",
                                 default=None)
    templates: Path | None = setting(FOLDER, "leadkit.E034",
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
    thanks: str | None = setting(THANKS, "leadkit.E043", 'the kit\'s own thank-you page, relative to `site.pages` '
                                 '(`"ok.php"`, `"thanks/index.html"`); none: leadkit looks for one in the kit',
                                 default=None)
    form_aliases: Mapping[str, str] = setting(
        table(text(pattern=r"[A-Za-z0-9_\-\[\]]{1,64}", lower=True),
              choice(ALIAS_FIELDS), "must be a table of kit field = leadkit field, like { telefon = 'phone' }, "
              "the kit's names of letters, digits, '_', '-', '[' or ']' (at most 64)"),
        "leadkit.E044", 'a landing kit\'s form fields mapped onto leadkit\'s, e.g. `{ telefon = "phone", imie = '
        f'"name" }}` (names compared in lower case); leadkit\'s: {_listed(ALIAS_FIELDS)}', default={})
    jinja: tuple[str, ...] = setting(
        items(relative("must be a glob"), "must be a list of globs relative to the pages folder, like "
              "['*.html', 'promo/*.html'] (no leading '/', no '..', no backslash)"),
        "leadkit.E045", 'globs relative to the pages folder (`"*.html"`, `"promo/*.html"`) of pages rendered as Jinja '
        "templates, besides `*.jinja` and `*.j2`; other pages are served as they are", default=())
    locale_dir: Path | None = setting(
        FOLDER, "leadkit.E046", "a folder of your own gettext catalogs, `<lang>/LC_MESSAGES/leadkit.po`: each "
        "sentence there overrides leadkit's, and a language of your own may be added", default=None)
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
    url: str | None = setting(
        Rule("", _journal_url, "LEADKIT_JOURNAL_URL"),
        "leadkit.E089", "a PostgreSQL database shared by several servers, `postgresql://user:password@host/db` (or "
        "`LEADKIT_JOURNAL_URL`; never shown); none: the SQLite file `journal.path`", default=None)
    keep_days: float | None = setting(number(float, 1, 3650, "must be a number of days from {low} to {high}"),
                                      "leadkit.E088", "days a delivered or rejected lead is kept, then pruned with its "
                                      "postbacks (hourly by the server, or `leadkit journal prune`); none: for ever",
                                      default=None)


SECTIONS = (NetworkConfig, OfferConfig, SiteConfig, TagsConfig, FormConfig, LimitsConfig, JournalConfig, SyncConfig,
            PixelsConfig, FacebookConfig, TikTokConfig)
#: The :class:`Config` field of a section whose name is not one (``[capi.facebook]``: ``facebook``).
FIELD_OF: Mapping[str, str] = {FacebookConfig.section: "facebook", TikTokConfig.section: "tiktok"}
#: The settings of the sections (``[network]``...), which a configuration has once.
SECTION_SETTINGS = tuple(s for section in SECTIONS for s in section.settings)
#: Every setting, in the README's order: the sections', then each ``[[postback]]``'s and ``[[landing]]``'s.
SETTINGS = SECTION_SETTINGS + PostbackConfig.settings + LandingConfig.settings
#: The offer's keys, which each ``[[landing]]`` gives or inherits from ``[offer]``.
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
               lambda thanks, pages: page_in(thanks, pages, "site.pages")),
    Constraint("leadkit.E099", ("offer.geo", "offer.countries", "offer.country"), lambda geo, countries, country: [
        Invalid(f"is not one of the offer's countries ({', '.join(c.lower() for c in countries or (country,))}): "
                "add it to the countries or remove its prices (a landing without a geo of its own has [offer]'s)",
                country_of_prices, sub=country_of_prices)
        for country_of_prices in geo if country_of_prices.upper() not in (countries or (country.upper(),))]),
    Constraint("leadkit.E124", ("offer.source", "tags.extra"), lambda source, extra: [
        Invalid(f"names the tag {{{tag}}}, which is not captured: use one of "
                f"{', '.join('{' + name + '}' for name in STANDARD_TAGS + tuple(extra))}", source)
        for tag in [source_tag(source)] if tag is not None and tag not in STANDARD_TAGS + tuple(extra)]),
    Constraint("leadkit.E125", ("journal.keep_days", "sync.max_age"), lambda keep, checked: [
        Invalid(f"({keep:g} days) must be at least sync.max_age ({checked:g} days): a lead is pruned only once the "
                "network is no longer asked about it", keep)
    ] if keep is not None and keep < checked else []),
    *CAPI_CONSTRAINTS,
)


def source_tag(source: str | None) -> str | None:
    """The tag ``offer.source`` names (``"{sub1}"``: ``sub1``), None for a fixed source id."""
    if source is not None and len(source) > 2 and source[0] == "{" and source[-1] == "}":
        return source[1:-1].strip()
    return None


def postback_problems(index: int, postback: Mapping[str, object], values: Mapping[str, object]) -> list[Problem]:
    """What the rules of a ``[[postback]]`` find wrong with the ``index``-th (its values by key), given
    the sections' ``values``."""
    scope = {**values, **{s.name: postback[s.key] for s in PostbackConfig.settings if s.key in postback}}
    names = {s.name: f"postback[{index}].{s.key}" for s in PostbackConfig.settings}
    return [problem for constraint in POSTBACK_CONSTRAINTS for problem in constraint.problems(scope, names)]


def problems_between(values: Mapping[str, object]) -> list[Problem]:
    """What the rules between settings find wrong with the sections' ``values`` (by dotted name)."""
    return [problem for constraint in CONSTRAINTS for problem in constraint.problems(values)]


# -- the whole configuration ----------------------------------------------------------------


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
    sync: SyncConfig = field(default_factory=SyncConfig)
    pixels: PixelsConfig = field(default_factory=PixelsConfig)
    facebook: FacebookConfig = field(default_factory=FacebookConfig)
    tiktok: TikTokConfig = field(default_factory=TikTokConfig)
    postbacks: tuple[PostbackConfig, ...] = ()
    source: str | None = None
    landings: tuple[Landing, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "landings", tuple(self.landings))
        object.__setattr__(self, "postbacks", tuple(self.postbacks))
        values = {s.name: getattr(getattr(self, FIELD_OF.get(s.section, s.section)), s.key) for s in SECTION_SETTINGS}
        labels = landing_labels([landing.name for landing in self.landings])
        inherited = [{f"offer.{key}" for key in _OFFER_KEYS if getattr(landing.offer, key) == getattr(self.offer, key)}
                     for landing in self.landings]
        problems = problems_between(values) + problems_of_landings(
            [(called, landing.values(), same) for called, landing, same in zip(labels, self.landings, inherited)],
            values, CONSTRAINTS)
        problems += [problem for index, postback in enumerate(self.postbacks)
                     for problem in postback_problems(index, {s.key: getattr(postback, s.key)
                                                              for s in PostbackConfig.settings}, values)]
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
