"""leadkit's configuration: one TOML file, validated once, at start-up.

Precedence, one rule for every key: a Python keyword argument, then the
environment, then the file, then the default. The environment supplies the
two secrets (``LEADKIT_KEY`` for ``network.key``, ``LEADKIT_SECRET`` for
``site.secret``) and the file's path (``LEADKIT_CONFIG``).

Every problem is reported at once, each naming the key, the bad value and the
fix. Secret values are never repeated in an error message.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import phonenumbers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .tags import STANDARD_TAGS

__all__ = [
    "Config",
    "ConfigError",
    "FormConfig",
    "NetworkConfig",
    "OfferConfig",
    "SiteConfig",
    "TagsConfig",
    "JournalConfig",
    "LimitsConfig",
    "CLOUDFLARE_NETWORKS",
    "load_config",
    "OPTIONAL_ORDER_FIELDS",
    "STATIC_FIELDS",
]

ROLES = ("wm", "ext", "comp")
DIALECTS = ("dalead", "moe")
MIN_SECRET_LENGTH = 16

#: Order fields a form may show besides ``name`` and ``phone``.
OPTIONAL_ORDER_FIELDS = ("email", "comment", "last", "index", "addr", "area", "city", "street", "count")

#: Fields ``[offer.fields]`` may fix for every lead, per dialect.
STATIC_FIELDS = {
    "dalead": ("currency", "base", "count", "discount", "more", "index", "addr", "area", "city", "street"),
    "moe": ("currency", "base", "count", "discount", "more", "index", "addr", "area", "city", "street",
            "item", "items", "params"),
}

_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
_HOST_PATTERN = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_ORDER_AND_TAG_NAMES = frozenset(("name", "phone", *OPTIONAL_ORDER_FIELDS, *STANDARD_TAGS))
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloudflare's published edge ranges, copied from https://www.cloudflare.com/ips/ (verify them there), for
#: ``site.trusted_networks = ["cloudflare"]``. Check them against that page when you rely on them.
CLOUDFLARE_NETWORKS = (
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
    "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
    "2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32", "2405:8100::/32",
    "2a06:98c0::/29", "2c0f:f248::/32",
)
_MOUNT = re.compile(r"^(/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+$")


class ConfigError(ValueError):
    """The configuration is unusable. ``problems`` lists one sentence per bad key."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"leadkit configuration{where} has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class NetworkConfig:
    api: str
    key: str = field(repr=False)
    role: str = "wm"
    dialect: str = "dalead"
    timeout: float = 10.0
    redirect_hosts: tuple[str, ...] = ()

    def call_url(self) -> str:
        """The URL of the lead call for this role, without the key."""
        path = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}[self.role]
        return f"{self.api}/{path}.json"


@dataclass(frozen=True)
class OfferConfig:
    offer: int
    country: str
    flow: int | None = None
    countries: tuple[str, ...] = ()
    source: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteConfig:
    secret: str = field(repr=False)
    mount: str = "/leadkit"
    trusted_proxies: int = 0
    pages: Path | None = None
    templates: Path | None = None
    allowed_origins: tuple[str, ...] = ()
    ip_header: str | None = None
    trusted_networks: tuple[IPNetwork, ...] = ()
    honeypot: str = "website"
    min_fill_seconds: float = 3.0
    token_max_age: int = 86400
    max_body: int = 16384
    landing_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitsConfig:
    """Orders allowed per client IP and per phone within a window of seconds (0 orders: no limit)."""

    ip_orders: int = 10
    ip_window: int = 600
    phone_orders: int = 3
    phone_window: int = 86400


@dataclass(frozen=True)
class TagsConfig:
    extra: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    cookie: str = "leadkit_tags"
    days: int = 30

    @property
    def names(self) -> tuple[str, ...]:
        return STANDARD_TAGS + self.extra


@dataclass(frozen=True)
class FormConfig:
    fields: tuple[str, ...] = ()
    title: str = "Order now"
    submit: str = "Order"
    note: str = "Our operator will call you to confirm the order."


@dataclass(frozen=True)
class JournalConfig:
    """Where leads are kept, and how they are retried (seconds throughout)."""

    path: Path = Path("leadkit.db")
    max_age: float = 86400.0
    lease: float = 60.0
    double_submit: float = 120.0
    retry_base: float = 5.0
    retry_cap: float = 900.0
    poll: float = 2.0
    relay: bool = True


@dataclass(frozen=True)
class Config:
    network: NetworkConfig
    offer: OfferConfig
    site: SiteConfig
    tags: TagsConfig = field(default_factory=TagsConfig)
    form: FormConfig = field(default_factory=FormConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    source: str | None = None

    @property
    def phone_regions(self) -> tuple[str, ...]:
        """Regions (upper-case ISO codes) whose phone numbers the offer accepts."""
        return self.offer.countries or (self.offer.country.upper(),)


_SCHEMA: dict[str, dict[str, Any]] = {
    "network": {"api": None, "key": None, "role": "wm", "dialect": "dalead", "timeout": 10, "redirect_hosts": []},
    "offer": {"offer": None, "flow": None, "country": None, "countries": None, "source": None, "fields": {}},
    "site": {"secret": None, "mount": "/leadkit", "trusted_proxies": 0, "pages": None, "templates": None,
             "allowed_origins": [], "ip_header": None, "trusted_networks": [], "honeypot": "website",
             "min_fill_seconds": 3, "token_max_age": 86400, "max_body": 16384, "landing_hosts": []},
    "limits": {"ip_orders": 10, "ip_window": 600, "phone_orders": 3, "phone_window": 86400},
    "tags": {"extra": [], "aliases": {}, "cookie": "leadkit_tags", "days": 30},
    "form": {"fields": [], "title": FormConfig.title, "submit": FormConfig.submit, "note": FormConfig.note},
    "journal": {"path": "leadkit.db", "max_age": 86400, "lease": 60, "double_submit": 120, "retry_base": 5,
                "retry_cap": 900, "poll": 2, "relay": True},
}
_ENVIRONMENT = {("network", "key"): "LEADKIT_KEY", ("site", "secret"): "LEADKIT_SECRET"}


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **sections: Mapping[str, Any] | None,
) -> Config:
    """Read, merge and validate the configuration.

    ``path`` (or ``LEADKIT_CONFIG``) names a TOML file; it may be omitted when
    keyword arguments give every required key. Keyword arguments are sections:
    ``load_config("leadkit.toml", network={"key": "..."}, site={"mount": "/lk"})``.
    """
    env = os.environ if environ is None else environ
    path = path or env.get("LEADKIT_CONFIG") or None
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = None
    if path is not None:
        source = str(path)
        data = _read_toml(Path(path))
        base_dir = Path(path).resolve().parent
    return config_from_mapping(data, environ=env, base_dir=base_dir, source=source, **sections)


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    source: str | None = None,
    **sections: Mapping[str, Any] | None,
) -> Config:
    """Validate configuration given as nested mappings (a parsed file, Django settings)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    merged = _merge(data, sections, env, problems)
    check = _Checker(merged, problems, base_dir or Path.cwd())
    config = check.build(source)
    if problems or config is None:
        raise ConfigError(problems, source)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"the configuration file {str(path)!r} does not exist"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"the file is not valid TOML: {exc}"], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(["the file is not UTF-8 text: save it as UTF-8"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"the configuration file {str(path)!r} cannot be read: {exc.strerror}"], str(path)) from None


def _merge(
    data: Mapping[str, Any], sections: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {name: {} for name in _SCHEMA}
    for layer_name, layer in (("file", data), ("argument", sections)):
        for section, values in layer.items():
            if values is None:
                continue
            if section not in _SCHEMA:
                problems.append(f"unknown section [{section}] ({layer_name}){_did_you_mean(section, _SCHEMA)}")
                continue
            if not isinstance(values, Mapping):
                problems.append(f"[{section}] must be a table of keys (got {type(values).__name__})")
                continue
            for key, value in values.items():
                if key not in _SCHEMA[section]:
                    problems.append(f"unknown key {section}.{key}{_did_you_mean(key, _SCHEMA[section])}")
                else:
                    merged[section][key] = value
    for (section, key), var in _ENVIRONMENT.items():
        # The environment outranks the file but not an explicit argument.
        if env.get(var) and key not in (sections.get(section) or {}):
            merged[section][key] = env[var]
    for section, defaults in _SCHEMA.items():
        for key, default in defaults.items():
            merged[section].setdefault(key, default)
    return merged


def _did_you_mean(word: str, choices: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"


class _Checker:
    """Turns merged raw values into frozen config objects, collecting problems."""

    def __init__(self, raw: dict[str, dict[str, Any]], problems: list[str], base_dir: Path) -> None:
        self.raw = raw
        self.problems = problems
        self.base_dir = base_dir

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def build(self, source: str | None) -> Config | None:
        network = self.network()
        # Check the other sections against the role and dialect asked for, even
        # when another [network] key is wrong, so that every problem shows at once.
        role = self.raw["network"]["role"] if self.raw["network"]["role"] in ROLES else None
        dialect = self.raw["network"]["dialect"] if self.raw["network"]["dialect"] in DIALECTS else None
        offer = self.offer(role)
        site = self.site()
        tags = self.tags(dialect)
        form = self.form()
        journal = self.journal(site, network)
        limits = self.limits()
        if None in (network, offer, site, tags, form, journal, limits):
            return None
        return Config(network=network, offer=offer, site=site, tags=tags, form=form,  # type: ignore[arg-type]
                      journal=journal, limits=limits, source=source)  # type: ignore[arg-type]

    # -- sections ---------------------------------------------------------------

    def network(self) -> NetworkConfig | None:
        raw = self.raw["network"]
        api = raw["api"]
        ok = True
        if not isinstance(api, str) or not _is_http_url(api):
            # A pasted call URL carries the key (?id=) and a URL may carry a password: never echo those.
            shown = repr(api) if not isinstance(api, str) or not re.search(r"[?#@]", api) else \
                "a URL with a query string or user info; the key belongs in network.key"
            self.fail(f"network.api must be the network's API base URL, like 'https://lk.dalead.pro/api' (got {shown})")
            ok = False
        key = raw["key"].strip() if isinstance(raw["key"], str) else raw["key"]
        if not isinstance(key, str) or not key:
            self.fail("network.key is missing: set it in the file or in the environment variable LEADKIT_KEY "
                      "(the id= value of the API URL, like '123-0f3a...')")
            ok = False
        elif any(c.isspace() or ord(c) < 32 for c in key):
            self.fail(f"network.key must not contain spaces or control characters (got a value of {len(key)} characters)")
            ok = False
        role = raw["role"]
        if role not in ROLES:
            self.fail(f"network.role must be one of {', '.join(ROLES)} (got {role!r})")
            ok = False
        dialect = raw["dialect"]
        if dialect not in DIALECTS:
            self.fail(f"network.dialect must be one of {', '.join(DIALECTS)} (got {dialect!r})")
            ok = False
        timeout = raw["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
            self.fail(f"network.timeout must be a number of seconds between 0 and 120 (got {timeout!r})")
            ok = False
        hosts = raw["redirect_hosts"]
        if not isinstance(hosts, list) or not all(isinstance(h, str) and _HOST_PATTERN.match(h) for h in hosts):
            self.fail(f"network.redirect_hosts must be a list of host names for autologin redirects, like "
                      f"['cabinet.example.com', '*.example.com'] (got {hosts!r})")
            ok = False
        if not ok:
            return None
        return NetworkConfig(api=api.rstrip("/"), key=key, role=role, dialect=dialect, timeout=float(timeout),
                             redirect_hosts=tuple(h.lower() for h in hosts))

    def offer(self, role: str | None) -> OfferConfig | None:
        raw = self.raw["offer"]
        ok = True
        offer = _positive_int(raw["offer"])
        if offer is None:
            self.fail(f"offer.offer must be the offer's numeric id, like 217 (got {raw['offer']!r})")
            ok = False
        flow = None
        if raw["flow"] is not None:
            flow = _positive_int(raw["flow"])
            if flow is None:
                self.fail(f"offer.flow must be your flow's numeric id, like 42 (got {raw['flow']!r})")
                ok = False
        elif role == "wm":
            self.fail("offer.flow is required when network.role = 'wm': set it to your flow's numeric id")
            ok = False
        country = _region(raw["country"])
        if country is None:
            self.fail(f"offer.country must be the offer's two-letter country code, like 'kz' (got {raw['country']!r})")
            ok = False
        countries: tuple[str, ...] = ()
        if raw["countries"] is not None:
            regions = [_region(c) for c in raw["countries"]] if isinstance(raw["countries"], list) else [None]
            if not regions or None in regions:
                self.fail(f"offer.countries must be a list of two-letter country codes, like ['kz', 'kg'] "
                          f"(got {raw['countries']!r})")
                ok = False
            else:
                countries = tuple(dict.fromkeys(r for r in regions if r))
        source = raw["source"]
        if source is not None:
            if role is not None and role != "ext":
                self.fail(f"offer.source is only sent with network.role = 'ext' (role is {role!r}): remove it")
                ok = False
            elif not isinstance(source, (str, int)) or isinstance(source, bool) or not str(source).strip():
                self.fail(f"offer.source must be your source or webmaster id as text, like '77' (got {source!r})")
                ok = False
            else:
                source = str(source).strip()
        fields = self.static_fields(raw["fields"])
        if not ok or fields is None:
            return None
        return OfferConfig(offer=offer, country=country.lower(), flow=flow, countries=countries,  # type: ignore[union-attr]
                           source=source, fields=fields)

    def static_fields(self, fields: Any) -> dict[str, Any] | None:
        if not isinstance(fields, Mapping):
            self.fail(f"[offer.fields] must be a table of field = value (got {fields!r})")
            return None
        dialect = self.raw["network"]["dialect"]
        dialect = dialect if isinstance(dialect, str) and dialect in STATIC_FIELDS else "moe"
        allowed = STATIC_FIELDS[dialect]
        ok = True
        for name, value in fields.items():
            if name not in allowed:
                self.fail(f"offer.fields.{name} is not a field the {dialect!r} dialect takes with every lead "
                          f"(allowed: {', '.join(allowed)})")
                ok = False
            elif not _is_field_value(value):
                self.fail(f"offer.fields.{name} must be text, a number, or (moe items/params) a list or table "
                          f"of them (got {value!r})")
                ok = False
        return dict(fields) if ok else None

    def site(self) -> SiteConfig | None:
        raw = self.raw["site"]
        ok = True
        secret = raw["secret"]
        if not isinstance(secret, str) or not secret:
            self.fail("site.secret is missing: set it in the file or in LEADKIT_SECRET to a long random text "
                      "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
            ok = False
        elif len(secret) < MIN_SECRET_LENGTH:
            self.fail(f"site.secret is too short ({len(secret)} characters): use at least {MIN_SECRET_LENGTH} random "
                      "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')")
            ok = False
        mount = raw["mount"]
        if not isinstance(mount, str) or not _MOUNT.match(mount):
            self.fail(f"site.mount must be a URL path like '/leadkit', with no trailing slash (got {mount!r})")
            ok = False
        proxies = raw["trusted_proxies"]
        if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
            self.fail(f"site.trusted_proxies must be the number of reverse proxies in front of leadkit, 0 to 10 "
                      f"(got {proxies!r})")
            ok = False
        pages = self.folder("site.pages", raw["pages"])
        templates = self.folder("site.templates", raw["templates"])
        origins = self.origins(raw["allowed_origins"])
        networks = self.networks(raw["trusted_networks"])
        header = raw["ip_header"]
        if header is not None and (not isinstance(header, str) or not re.match(r"^[A-Za-z0-9-]{1,64}$", header)):
            self.fail(f"site.ip_header must be an HTTP header name like 'CF-Connecting-IP' (got {header!r})")
            ok = False
        elif header is not None and not networks:
            self.fail("site.ip_header needs site.trusted_networks: the header is honoured only from those peers "
                      "(for Cloudflare: trusted_networks = ['cloudflare'])")
            ok = False
        landing_hosts = raw["landing_hosts"]
        if not isinstance(landing_hosts, list) or not all(isinstance(h, str) and _HOST_PATTERN.match(h)
                                                          for h in landing_hosts):
            self.fail(f"site.landing_hosts must be a list of host names whose links get the visitor's tags, like "
                      f"['landing.example.com', '*.example.com'] (got {landing_hosts!r})")
            ok = False
        honeypot = raw["honeypot"]
        if not isinstance(honeypot, str) or not _FIELD_NAME.match(honeypot) or honeypot in _ORDER_AND_TAG_NAMES:
            self.fail(f"site.honeypot must be a form field name no real field uses, like 'website' (got {honeypot!r})")
            ok = False
        numbers = self.numbers("site", raw, {"min_fill_seconds": (0, 600), "token_max_age": (60, 30 * 86400),
                                             "max_body": (1024, 1024 * 1024)})
        if not ok or pages is False or templates is False or origins is None or networks is None or numbers is None:
            return None
        return SiteConfig(secret=secret, mount=mount, trusted_proxies=proxies,  # type: ignore[arg-type]
                          pages=pages or None, templates=templates or None,  # type: ignore[arg-type]
                          allowed_origins=origins, ip_header=header, trusted_networks=networks, honeypot=honeypot,
                          min_fill_seconds=numbers["min_fill_seconds"], token_max_age=int(numbers["token_max_age"]),
                          max_body=int(numbers["max_body"]),
                          landing_hosts=tuple(h.lower() for h in landing_hosts))

    def numbers(self, section: str, raw: Mapping[str, Any], limits: Mapping[str, tuple[float, float]]
                ) -> dict[str, float] | None:
        """Check numeric keys against their ranges; None when any is bad."""
        values: dict[str, float] = {}
        for key, (low, high) in limits.items():
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                self.fail(f"{section}.{key} must be a number from {low:g} to {high:g} (got {value!r})")
            else:
                values[key] = value
        return values if len(values) == len(limits) else None

    def origins(self, value: Any) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
            self.fail(f"site.allowed_origins must be a list of origins like ['https://promo.example'] (got {value!r})")
            return None
        cleaned = []
        for origin in value:
            parts = urlsplit(origin) if _is_http_url(origin) else None
            if parts is None or parts.path not in ("", "/"):
                self.fail(f"site.allowed_origins: {origin!r} is not an origin: write scheme and host, like "
                          "'https://promo.example' (no path)")
                return None
            cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return tuple(cleaned)

    def networks(self, value: Any) -> tuple[IPNetwork, ...] | None:
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            self.fail(f"site.trusted_networks must be a list of CIDRs like ['10.0.0.0/8'], or 'cloudflare' "
                      f"(got {value!r})")
            return None
        networks: list[IPNetwork] = []
        for item in value:
            if item.lower() == "cloudflare":
                networks.extend(ipaddress.ip_network(n) for n in CLOUDFLARE_NETWORKS)
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.fail(f"site.trusted_networks: {item!r} is not a network like '173.245.48.0/20'")
                return None
        return tuple(networks)

    def limits(self) -> LimitsConfig | None:
        numbers = self.numbers("limits", self.raw["limits"], {
            "ip_orders": (0, 100000), "ip_window": (1, 30 * 86400), "phone_orders": (0, 100000),
            "phone_window": (1, 30 * 86400)})
        if numbers is None:
            return None
        return LimitsConfig(**{k: int(v) for k, v in numbers.items()})

    def folder(self, name: str, value: Any) -> Path | None | bool:
        if value is None:
            return None
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            self.fail(f"{name} must be a folder path (got {value!r})")
            return False
        path = (self.base_dir / value).resolve()
        if not path.is_dir():
            self.fail(f"{name} names the folder {str(path)!r}, which does not exist")
            return False
        return path

    def tags(self, dialect: str | None) -> TagsConfig | None:
        raw = self.raw["tags"]
        ok = True
        extra = raw["extra"]
        if not isinstance(extra, list) or not all(isinstance(n, str) and _TAG_NAME.match(n) for n in extra):
            self.fail(f"tags.extra must be a list of tag names like ['gclid', 'fbclid'] (got {extra!r})")
            ok = False
        elif set(extra) & set(STANDARD_TAGS):
            self.fail(f"tags.extra repeats standard tags {sorted(set(extra) & set(STANDARD_TAGS))}: remove them")
            ok = False
        elif extra and dialect == "dalead":
            self.fail("tags.extra needs network.dialect = 'moe' (sent as params[...]); the dalead dialect has no "
                      "custom fields: map them onto subid, uuid or sub1..sub5 with [tags.aliases] instead")
            ok = False
        aliases = raw["aliases"]
        names = STANDARD_TAGS + tuple(extra if isinstance(extra, list) else ())
        if not isinstance(aliases, Mapping) or not all(
            isinstance(k, str) and _TAG_NAME.match(k) and v in names for k, v in aliases.items()
        ):
            self.fail(f"[tags.aliases] maps query parameters to tag names, like clickid = 'subid' "
                      f"(got {aliases!r}; targets must be among {', '.join(names)})")
            ok = False
        cookie = raw["cookie"]
        if not isinstance(cookie, str) or not re.match(r"^[A-Za-z0-9_-]{1,64}$", cookie):
            self.fail(f"tags.cookie must be a cookie name of letters, digits, '_' or '-' (got {cookie!r})")
            ok = False
        days = raw["days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 400:
            self.fail(f"tags.days must be how many days the tags are kept, 1 to 400 (got {days!r})")
            ok = False
        if not ok:
            return None
        return TagsConfig(extra=tuple(extra), aliases=dict(aliases), cookie=cookie, days=days)

    def form(self) -> FormConfig | None:
        raw = self.raw["form"]
        ok = True
        fields = raw["fields"]
        if not isinstance(fields, list) or not all(f in OPTIONAL_ORDER_FIELDS for f in fields):
            self.fail(f"form.fields lists the optional fields the form shows, among "
                      f"{', '.join(OPTIONAL_ORDER_FIELDS)} (got {fields!r})")
            ok = False
        for key in ("title", "submit", "note"):
            if not isinstance(raw[key], str):
                self.fail(f"form.{key} must be text (got {raw[key]!r})")
                ok = False
        if not ok:
            return None
        return FormConfig(fields=tuple(dict.fromkeys(fields)), title=raw["title"], submit=raw["submit"],
                          note=raw["note"])


    def journal(self, site: SiteConfig | None, network: NetworkConfig | None) -> JournalConfig | None:
        raw = self.raw["journal"]
        ok = True
        path = raw["path"]
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            self.fail(f"journal.path must be the journal file's path, like 'leadkit.db' (got {path!r})")
            return None
        resolved = (self.base_dir / path).resolve()
        if site is not None and site.pages is not None and resolved.is_relative_to(site.pages):
            self.fail(f"journal.path {str(resolved)!r} lies inside site.pages, which is served to the world: "
                      "the journal holds customers' names and phones; keep it elsewhere")
            ok = False
        numbers = {}
        limits = {"max_age": (60, 30 * 86400), "lease": (2, 600), "double_submit": (0, 3600),
                  "retry_base": (0.1, 3600), "retry_cap": (1, 86400), "poll": (0.05, 300)}
        for key, (low, high) in limits.items():
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                self.fail(f"journal.{key} must be a number of seconds from {low:g} to {high:g} (got {value!r})")
                ok = False
            else:
                numbers[key] = float(value)
        if not isinstance(raw["relay"], bool):
            self.fail(f"journal.relay must be true or false (got {raw['relay']!r})")
            ok = False
        if ok and network is not None and numbers["lease"] <= 2 * network.timeout:
            self.fail(f"journal.lease ({numbers['lease']:g} s) must be more than twice network.timeout "
                      f"({network.timeout:g} s), so that a slow attempt keeps its lead")
            ok = False
        if not ok:
            return None
        return JournalConfig(path=resolved, relay=raw["relay"], **numbers)


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment \
        and "@" not in parts.netloc


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def _region(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) != 2:
        return None
    region = value.upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _is_field_value(value: Any, depth: int = 0) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (str, int, float)):
        return True
    if depth >= 2:
        return False
    if isinstance(value, list):
        return all(_is_field_value(v, depth + 1) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_field_value(v, depth + 1) for k, v in value.items())
    return False
