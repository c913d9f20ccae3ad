"""Tests for leadkit.config: loading, precedence and validation of the TOML configuration."""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections import Counter
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

from leadkit.postbacks import POSTBACK_CONSTRAINTS
from leadkit.config import CONSTRAINTS, SETTINGS, Config, JournalConfig, NetworkConfig, OfferConfig, SiteConfig
from leadkit.config_file import config_from_mapping, load_config, load_journal_config
from leadkit.errors import ConfigError, Problem
from leadkit.geo import GeoPrice
from leadkit.landings import LANDING_CONSTRAINTS, Landing, LandingConfig
from leadkit.settings import Setting

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

KEY = "123-0f3a9c7ed41d8cd9"
SECRET = "s3cret-0f3a9c7e-d41d8cd98f00b204"
DROP = object()  # an override value that removes the key

COMPLETE_TOML = """\
[network]
api = "https://lk.dalead.pro/api/"
key = "123-0f3a9c7ed41d8cd9"
role = "wm"
dialect = "dalead"
timeout = 5

[offer]
offer = 217
flow = 42
country = "kz"
countries = ["kz", "kg", "KZ"]
fields = { currency = "kzt", base = 9900 }

[site]
secret = "s3cret-0f3a9c7e-d41d8cd98f00b204"
mount = "/lk"
trusted_proxies = 1
pages = "site"

[tags]
aliases = { clickid = "subid" }
cookie = "lk_tags"
days = 7

[form]
fields = ["email", "comment", "email"]
title = "Buy now"
submit = "Buy"
note = "We call back."
"""

# The smallest file that loads: every required key, nothing else.
MINIMAL_TOML = """\
[network]
api = "https://lk.dalead.pro/api"
key = "file-key-1"

[offer]
offer = 217
flow = 42
country = "kz"

[site]
secret = "file-secret-0123456789"
"""


def write(folder: Path, text: str, name: str = "leadkit.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sections(overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """A valid configuration as keyword sections, with ``{"section.key": value}`` overrides."""
    result: dict[str, dict[str, Any]] = {
        "network": {"api": "https://lk.dalead.pro/api", "key": KEY},
        "offer": {"offer": 217, "flow": 42, "country": "kz"},
        "site": {"secret": SECRET},
    }
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        if value is DROP:
            result.setdefault(section, {}).pop(key, None)
        else:
            result.setdefault(section, {})[key] = value
    return result


def load(overrides: dict[str, Any] | None = None) -> Config:
    return load_config(environ={}, **sections(overrides))


def problems_of(overrides: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(overrides)
    return [problem.message for problem in info.value.problems]


# -- a complete file ----------------------------------------------------------


def test_complete_file_loads(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    path = write(tmp_path, COMPLETE_TOML)

    config = load_config(path, environ={})

    assert config.source == str(path)
    network = config.network
    assert (network.api, network.key, network.role, network.dialect, network.timeout) == (
        "https://lk.dalead.pro/api", KEY, "wm", "dalead", 5.0)
    offer = config.offer
    assert (offer.offer, offer.flow, offer.country, offer.countries, offer.source) == (
        217, 42, "kz", ("KZ", "KG"), None)
    assert offer.fields == {"currency": "kzt", "base": 9900}
    site = config.site
    assert (site.secret, site.mount, site.trusted_proxies, site.pages, site.templates) == (
        SECRET, "/lk", 1, (tmp_path / "site").resolve(), None)
    assert (config.tags.aliases, config.tags.cookie, config.tags.days) == ({"clickid": "subid"}, "lk_tags", 7)
    assert config.tags.names[:2] == ("utm_source", "utm_medium")
    assert (config.form.fields, config.form.title, config.form.submit, config.form.note) == (
        ("email", "comment"), "Buy now", "Buy", "We call back.")
    assert config.phone_regions == ("KZ", "KG")


def test_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL_TOML), environ={})

    assert (config.network.role, config.network.dialect, config.network.timeout) == ("wm", "dalead", 10.0)
    assert (config.site.mount, config.site.trusted_proxies, config.site.pages) == ("/leadkit", 0, None)
    assert (config.tags.extra, config.tags.aliases, config.tags.cookie, config.tags.days) == (
        (), {}, "leadkit_tags", 30)
    assert config.form.fields == ()
    assert config.offer.countries is None
    assert config.phone_regions == ("KZ",)


def test_repr_hides_the_key_and_the_secret(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL_TOML), environ={})

    assert config.network.key == "file-key-1"
    assert "file-key-1" not in repr(config)
    assert "file-secret-0123456789" not in repr(config)


# -- one bad key at a time ----------------------------------------------------


@pytest.mark.parametrize(("overrides", "fragments"), [
    pytest.param({"network.role": "webmaster"}, ("network.role", "'webmaster'", "wm, ext, comp"), id="role"),
    pytest.param({"network.dialect": "altercpa"}, ("network.dialect", "'altercpa'", "dalead, moe"),
                 id="dialect"),
    pytest.param({"network.timeout": 0}, ("network.timeout", "(got 0)"), id="timeout-zero"),
    pytest.param({"network.timeout": -1.5}, ("network.timeout", "(got -1.5)"), id="timeout-negative"),
    pytest.param({"network.timeout": "ten"}, ("network.timeout", "'ten'"), id="timeout-text"),
    pytest.param({"network.timeout": True}, ("network.timeout", "(got True)"), id="timeout-bool"),
    pytest.param({"network.timeout": 121}, ("network.timeout", "(got 121)"), id="timeout-too-long"),
    pytest.param({"network.api": DROP}, ("network.api", "(got None)"), id="api-missing"),
    pytest.param({"network.key": DROP}, ("network.key", "LEADKIT_KEY"), id="key-missing"),
    pytest.param({"network.key": "   "}, ("network.key", "LEADKIT_KEY"), id="key-blank"),
    pytest.param({"network.key": "123-0f3a 9c7e"}, ("network.key", "spaces"), id="key-with-space"),
    pytest.param({"offer.offer": "two-one-seven"}, ("offer.offer", "'two-one-seven'"), id="offer-text"),
    pytest.param({"offer.offer": 0}, ("offer.offer", "(got 0)"), id="offer-zero"),
    pytest.param({"offer.offer": 217.5}, ("offer.offer", "(got 217.5)"), id="offer-float"),
    pytest.param({"offer.offer": True}, ("offer.offer", "(got True)"), id="offer-bool"),
    pytest.param({"offer.offer": DROP}, ("offer.offer", "(got None)"), id="offer-missing"),
    pytest.param({"offer.flow": DROP}, ("offer.flow", "required", "'wm'"), id="flow-missing-wm"),
    pytest.param({"offer.flow": "forty-two"}, ("offer.flow", "'forty-two'"), id="flow-text"),
    pytest.param({"offer.country": "zz"}, ("offer.country", "'zz'"), id="country-zz"),
    pytest.param({"offer.country": "kaz"}, ("offer.country", "'kaz'"), id="country-three-letters"),
    pytest.param({"offer.country": DROP}, ("offer.country", "(got None)"), id="country-missing"),
    pytest.param({"offer.countries": ["kz", "zz"]}, ("offer.countries", "['kz', 'zz']"), id="countries-zz"),
    pytest.param({"offer.countries": "kz"}, ("offer.countries", "(got 'kz')"), id="countries-not-list"),
    pytest.param({"offer.countries": []}, ("offer.countries", "(got [])"), id="countries-empty"),
    pytest.param({"offer.source": "77"}, ("offer.source", "'ext'", "'wm'"), id="source-with-wm"),
    pytest.param({"network.role": "ext", "offer.source": "  "}, ("offer.source", "(got '  ')"),
                 id="source-blank-with-ext"),
    pytest.param({"offer.fields": {"colour": "red"}}, ("offer.fields.colour", "'dalead'"),
                 id="fields-unknown"),
    pytest.param({"offer.fields": {"params": {"sirname": "Doe"}}}, ("offer.fields.params", "'dalead'"),
                 id="fields-params-dalead"),
    pytest.param({"offer.fields": {"base": True}}, ("offer.fields.base", "(got True)"), id="fields-bool-value"),
    pytest.param({"offer.fields": ["currency"]}, ("offer.fields must be a table", "['currency']"),
                 id="fields-not-table"),
    pytest.param({"site.secret": DROP}, ("site.secret", "LEADKIT_SECRET"), id="secret-missing"),
    pytest.param({"site.secret": "tiny-secret"}, ("site.secret", "too short", "11 characters", "16"),
                 id="secret-too-short"),
    pytest.param({"site.mount": "leadkit"}, ("site.mount", "'leadkit'"), id="mount-no-slash"),
    pytest.param({"site.mount": "/leadkit/"}, ("site.mount", "'/leadkit/'", "trailing slash"),
                 id="mount-trailing-slash"),
    pytest.param({"site.mount": "/"}, ("site.mount", "(got '/')"), id="mount-root"),
    pytest.param({"site.trusted_proxies": -1}, ("site.trusted_proxies", "(got -1)"), id="proxies-negative"),
    pytest.param({"site.trusted_proxies": 11}, ("site.trusted_proxies", "(got 11)"), id="proxies-eleven"),
    pytest.param({"site.trusted_proxies": True}, ("site.trusted_proxies", "(got True)"), id="proxies-bool"),
    pytest.param({"site.pages": "/nonexistent/leadkit-pages"}, ("site.pages", "/nonexistent/leadkit-pages",
                                                               "does not exist"), id="pages-missing"),
    pytest.param({"site.templates": 42}, ("site.templates", "(got 42)"), id="templates-not-path"),
    pytest.param({"site.landing_hosts": "landing.example"}, ("site.landing_hosts", "(got 'landing.example')"),
                 id="landing-hosts-not-list"),
    pytest.param({"site.landing_hosts": ["https://landing.example/"]},
                 ("site.landing_hosts", "'https://landing.example/'"), id="landing-hosts-url-not-host"),
    pytest.param({"tags.extra": ["gclid"]}, ("tags.extra", "moe", "[tags.aliases]"), id="extra-with-dalead"),
    pytest.param({"network.dialect": "moe", "tags.extra": ["subid"]}, ("tags.extra", "['subid']"),
                 id="extra-repeats-standard"),
    pytest.param({"network.dialect": "moe", "tags.extra": ["bad name"]}, ("tags.extra", "['bad name']"),
                 id="extra-bad-name"),
    pytest.param({"tags.aliases": {"clickid": "click"}}, ("tags.aliases", "'click'"), id="alias-unknown-tag"),
    pytest.param({"tags.aliases": {"clickid": "bad tag"}}, ("tags.aliases.clickid", "'bad tag'"),
                 id="alias-bad-name"),
    pytest.param({"tags.cookie": "my tags"}, ("tags.cookie", "'my tags'"), id="cookie-name"),
    pytest.param({"tags.days": 0}, ("tags.days", "(got 0)"), id="days-zero"),
    pytest.param({"tags.days": 401}, ("tags.days", "(got 401)"), id="days-too-many"),
    pytest.param({"form.fields": ["email", "phone2"]}, ("form.fields", "'phone2'"), id="form-field-unknown"),
    pytest.param({"form.title": 7}, ("form.title", "(got 7)"), id="form-title-not-text"),
])
def test_each_bad_key_is_named_with_its_value(overrides: dict[str, Any], fragments: tuple[str, ...]) -> None:
    problems = problems_of(overrides)

    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0]


@pytest.mark.parametrize("api", [
    pytest.param("https://lk.dalead.pro/api?x=1", id="query-string"),
    pytest.param("https://user:pass@lk.dalead.pro/api", id="user-info"),
    pytest.param("https://user@lk.dalead.pro/api", id="user-only"),
    pytest.param("ftp://lk.dalead.pro/api", id="ftp"),
    pytest.param("https://lk.dalead.pro/api#top", id="fragment"),
    pytest.param("https:///api", id="no-host"),
    pytest.param("lk.dalead.pro/api", id="no-scheme"),
    pytest.param("http://[::1/api", id="broken-ipv6"),
    pytest.param(42, id="not-text"),
])
def test_api_must_be_a_plain_http_base_url(api: Any) -> None:
    [problem] = problems_of({"network.api": api})

    assert problem.startswith("network.api must be")
    if isinstance(api, str) and any(c in api for c in "?#@"):
        # It may carry the key (?id=) or a password: named, not echoed.
        assert "query string or user info" in problem and api not in problem
    else:
        assert f"(got {api!r})" in problem


@pytest.mark.parametrize("api", [
    pytest.param("https://lk.dalead.pro:99999/api", id="port-out-of-range"),
    pytest.param("https://lk.dalead.pro:abc/api", id="port-not-number"),
])
def test_api_with_an_invalid_port_is_refused(api: str) -> None:
    [problem] = problems_of({"network.api": api})

    assert "network.api" in problem


# -- values that are fine -----------------------------------------------------


@pytest.mark.parametrize(("overrides", "read", "expected"), [
    pytest.param({"network.role": "comp", "offer.flow": DROP}, lambda c: c.offer.flow, None,
                 id="flow-optional-for-comp"),
    pytest.param({"network.role": "ext", "offer.flow": DROP}, lambda c: c.offer.flow, None,
                 id="flow-optional-for-ext"),
    pytest.param({"network.role": "ext", "offer.source": 77}, lambda c: c.offer.source, "77",
                 id="source-number-becomes-text"),
    pytest.param({"network.role": "ext", "offer.source": " w-77 "}, lambda c: c.offer.source, "w-77",
                 id="source-text-stripped"),
    pytest.param({"offer.offer": "217", "offer.flow": " 42 "}, lambda c: (c.offer.offer, c.offer.flow),
                 (217, 42), id="ids-as-digit-text"),
    pytest.param({"offer.country": "KZ"}, lambda c: c.offer.country, "kz", id="country-upper-case"),
    pytest.param({"offer.countries": ["kg", "KZ", "kg"]}, lambda c: c.phone_regions, ("KG", "KZ"),
                 id="countries-upper-and-unique"),
    pytest.param({"network.dialect": "moe", "offer.fields": {"params": {"sirname": "Doe"}, "items": [1, 2]}},
                 lambda c: c.offer.fields, {"params": {"sirname": "Doe"}, "items": [1, 2]},
                 id="fields-params-moe"),
    pytest.param({"network.dialect": "moe", "tags.extra": ["gclid", "fbclid"]}, lambda c: c.tags.names[-2:],
                 ("gclid", "fbclid"), id="extra-with-moe"),
    pytest.param({"network.dialect": "moe", "tags.extra": ["gclid"], "tags.aliases": {"g": "gclid"}},
                 lambda c: c.tags.aliases, {"g": "gclid"}, id="alias-to-extra-tag"),
    pytest.param({"network.timeout": 120, "journal.lease": 300}, lambda c: c.network.timeout, 120.0,
                 id="timeout-max-with-a-longer-lease"),
    pytest.param({"network.timeout": 0.5}, lambda c: c.network.timeout, 0.5, id="timeout-float"),
    pytest.param({"site.trusted_proxies": 10}, lambda c: c.site.trusted_proxies, 10, id="proxies-ten"),
    pytest.param({"site.mount": "/shop/order-form"}, lambda c: c.site.mount, "/shop/order-form",
                 id="mount-two-segments"),
])
def test_accepted_values(overrides: dict[str, Any], read: Any, expected: Any) -> None:
    assert read(load(overrides)) == expected


@pytest.mark.parametrize(("api", "expected"), [
    pytest.param("https://lk.dalead.pro/api/", "https://lk.dalead.pro/api", id="one-slash"),
    pytest.param("https://api.network.test//", "https://api.network.test", id="host-only-two-slashes"),
    pytest.param("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api", id="loopback-with-port"),
])
def test_api_trailing_slash_is_stripped(api: str, expected: str) -> None:
    assert load({"network.api": api}).network.api == expected


@pytest.mark.parametrize(("role", "url"), [
    pytest.param("wm", "https://lk.dalead.pro/api/wm/push.json", id="wm"),
    pytest.param("ext", "https://lk.dalead.pro/api/ext/add.json", id="ext"),
    pytest.param("comp", "https://lk.dalead.pro/api/comp/add.json", id="comp"),
])
def test_call_url_per_role(role: str, url: str) -> None:
    network = load({"network.role": role, "network.api": "https://lk.dalead.pro/api/"}).network

    assert network.call_url() == url
    assert KEY not in network.call_url()


# -- many problems, unknown keys ----------------------------------------------


def test_all_problems_are_reported_together() -> None:
    overrides = {"network.role": "webmaster", "network.timeout": "ten", "offer.country": "zz",
                 "site.mount": "leadkit/", "form.fields": ["fax"]}
    with pytest.raises(ConfigError) as info:
        load(overrides)

    problems = [problem.message for problem in info.value.problems]
    assert len(problems) == 5, problems
    for key in ("network.role", "network.timeout", "offer.country", "site.mount", "form.fields"):
        assert sum(key in p for p in problems) == 1, key
    assert "5 problem(s)" in str(info.value)


def test_all_problems_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML.replace('country = "kz"', 'country = "kaz"')
                 + 'mount = "/leadkit/"\ntrusted_proxies = 11\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert len(info.value.problems) == 3
    assert info.value.source == str(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("overrides", "fragment"), [
    pytest.param({"network.kye": "x"}, "unknown key network.kye; did you mean 'key'?", id="typo-key"),
    pytest.param({"site.trusted_proxy": 1}, "unknown key site.trusted_proxy; did you mean 'trusted_proxies'?",
                 id="typo-proxies"),
    pytest.param({"offer.flows": 42}, "unknown key offer.flows; did you mean 'flow'?", id="typo-flow"),
    pytest.param({"netwrok.api": "x"}, "unknown section [netwrok] (argument); did you mean 'network'?",
                 id="typo-section"),
    pytest.param({"network.zzzzzz": 1}, "unknown key network.zzzzzz; known: api, key, role, dialect, timeout",
                 id="no-close-match-lists-known"),
])
def test_unknown_key_suggests_the_known_one(overrides: dict[str, Any], fragment: str) -> None:
    problems = problems_of(overrides)

    assert len(problems) == 1, problems
    assert fragment in problems[0]


def test_unknown_key_in_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML + "mout = '/lk'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert [(p.key, p.message, p.id) for p in info.value.problems] == [
        ("site.mout", "unknown key site.mout; did you mean 'mount'?", "leadkit.E009")]


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'form = "big"\n' + MINIMAL_TOML)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert [(p.key, p.message, p.id) for p in info.value.problems] == [
        ("[form]", "[form] must be a table of keys (got str)", "leadkit.E008")]


# -- precedence: argument > environment > file > default ------------------------


@pytest.mark.parametrize(("environ", "argument", "expected"), [
    pytest.param({}, None, "file-key-1", id="file"),
    pytest.param({"LEADKIT_KEY": "env-key-2"}, None, "env-key-2", id="environment-beats-file"),
    pytest.param({"LEADKIT_KEY": "env-key-2"}, "arg-key-3", "arg-key-3", id="argument-beats-environment"),
    pytest.param({}, "arg-key-3", "arg-key-3", id="argument-beats-file"),
    pytest.param({"LEADKIT_KEY": ""}, None, "file-key-1", id="empty-environment-ignored"),
])
def test_key_precedence(tmp_path: Path, environ: dict[str, str], argument: str | None, expected: str) -> None:
    network = {"key": argument} if argument else None
    config = load_config(write(tmp_path, MINIMAL_TOML), environ=environ, network=network)

    assert config.network.key == expected


@pytest.mark.parametrize(("environ", "argument", "expected"), [
    pytest.param({}, None, "file-secret-0123456789", id="file"),
    pytest.param({"LEADKIT_SECRET": "env-secret-0123456789"}, None, "env-secret-0123456789",
                 id="environment-beats-file"),
    pytest.param({"LEADKIT_SECRET": "env-secret-0123456789"}, "arg-secret-0123456789", "arg-secret-0123456789",
                 id="argument-beats-environment"),
])
def test_secret_precedence(tmp_path: Path, environ: dict[str, str], argument: str | None, expected: str) -> None:
    site = {"secret": argument} if argument else None
    config = load_config(write(tmp_path, MINIMAL_TOML), environ=environ, site=site)

    assert config.site.secret == expected


def test_secrets_from_the_environment_alone_complete_a_file(tmp_path: Path) -> None:
    text = MINIMAL_TOML.replace('key = "file-key-1"\n', "").replace('secret = "file-secret-0123456789"\n', "")
    environ = {"LEADKIT_KEY": "env-key-2", "LEADKIT_SECRET": "env-secret-0123456789"}

    config = load_config(write(tmp_path, text), environ=environ)

    assert (config.network.key, config.site.secret) == ("env-key-2", "env-secret-0123456789")


@pytest.mark.parametrize(("file_line", "argument", "expected"), [
    pytest.param("", None, 10.0, id="default"),
    pytest.param("timeout = 5\n", None, 5.0, id="file-beats-default"),
    pytest.param("timeout = 5\n", 7, 7.0, id="argument-beats-file"),
])
def test_ordinary_key_precedence(tmp_path: Path, file_line: str, argument: int | None, expected: float) -> None:
    text = MINIMAL_TOML.replace('key = "file-key-1"\n', 'key = "file-key-1"\n' + file_line)
    network = {"timeout": argument} if argument else None

    config = load_config(write(tmp_path, text), environ={}, network=network)

    assert config.network.timeout == expected


def test_environment_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)

    config = load_config(environ={"LEADKIT_CONFIG": str(path)})

    assert (config.source, config.network.key) == (str(path), "file-key-1")


def test_path_argument_beats_leadkit_config(tmp_path: Path) -> None:
    chosen = write(tmp_path / "chosen", MINIMAL_TOML.replace("offer = 217", "offer = 300"))
    other = write(tmp_path / "other", MINIMAL_TOML)

    config = load_config(chosen, environ={"LEADKIT_CONFIG": str(other)})

    assert (config.source, config.offer.offer) == (str(chosen), 300)


def test_leadkit_config_from_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    monkeypatch.setenv("LEADKIT_CONFIG", str(path))
    monkeypatch.delenv("LEADKIT_KEY", raising=False)
    monkeypatch.setenv("LEADKIT_SECRET", "process-secret-0123456789")

    config = load_config()

    assert config.source == str(path)
    assert config.network.key == "file-key-1"
    assert config.site.secret == "process-secret-0123456789"


def test_no_file_and_no_arguments_reports_every_required_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={})

    text = "\n".join(problem.message for problem in info.value.problems)
    for key in ("network.api", "network.key", "offer.offer", "offer.flow", "offer.country", "site.secret"):
        assert key in text
    assert info.value.source is None


# -- folders -------------------------------------------------------------------


def test_relative_pages_are_found_beside_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    (conf / "site").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(conf, MINIMAL_TOML + 'pages = "site"\ntemplates = "./site/../site"\n')

    config = load_config(path, environ={})

    assert config.site.pages == (conf / "site").resolve()
    assert config.site.templates == (conf / "site").resolve()


def test_relative_pages_are_not_looked_up_in_the_working_folder(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "site").mkdir()
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "conf", MINIMAL_TOML + 'pages = "site"\n')

    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    [problem] = info.value.problems
    assert problem.key == "site.pages"
    assert str((tmp_path / "conf" / "site").resolve()) in problem.message


def test_absolute_pages_are_used_as_is(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()

    config = load({"site.pages": str(pages)})

    assert config.site.pages == pages.resolve()


# -- secrets never echoed ----------------------------------------------------------


@pytest.mark.parametrize(("overrides", "environ", "secret", "key_named"), [
    pytest.param({"network.key": "123-0f3a9c7e d41d8cd9"}, {}, "123-0f3a9c7e d41d8cd9", "network.key",
                 id="key-with-space"),
    pytest.param({"network.key": "123-0f3a9c7e\td41d8cd9"}, {}, "0f3a9c7e", "network.key", id="key-with-tab"),
    pytest.param({"network.key": DROP}, {"LEADKIT_KEY": "123-0f3a9c7e d41d8cd9"}, "0f3a9c7e", "network.key",
                 id="key-with-space-from-environment"),
    pytest.param({"site.secret": "tiny-secret"}, {}, "tiny-secret", "site.secret", id="short-secret"),
    pytest.param({"site.secret": DROP}, {"LEADKIT_SECRET": "tiny-secret"}, "tiny-secret", "site.secret",
                 id="short-secret-from-environment"),
    pytest.param({"site.secrte": SECRET}, {}, SECRET, "site.secrte", id="secret-under-a-misspelt-key"),
    pytest.param({"network.id": KEY}, {}, KEY, "network.id", id="key-under-an-unknown-key"),
    pytest.param({"network.api": f"https://lk.dalead.pro/api/wm/push.json?id={KEY}"}, {}, KEY, "network.api",
                 id="key-pasted-with-the-api-url"),
])
def test_secret_values_never_appear_in_errors(overrides: dict[str, Any], environ: dict[str, str], secret: str,
                                              key_named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, **sections(overrides))

    assert key_named in info.value.keys
    assert secret not in str(info.value)
    assert all(secret not in p.message and secret not in repr(p.value) for p in info.value.problems)


# -- files that cannot be read ---------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), [
    pytest.param("[network\n", "line 1", id="unclosed-table"),
    pytest.param('[network]\nkey = 123-0f3a\n', "line 2", id="unquoted-value"),
    pytest.param('[site]\nsecret = "abc\n', "line 2", id="unterminated-string"),
    pytest.param("[offer]\noffer = 1\noffer = 2\n", "line 3", id="duplicate-key"),
])
def test_invalid_toml_names_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    [problem] = info.value.problems
    assert problem.message.startswith("the file is not valid TOML: ") and problem.id == "leadkit.E006"
    assert fragment in problem.message
    assert info.value.source == str(path)


def test_invalid_toml_does_not_echo_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path, f'[site]\nsecret = "{SECRET}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert "not valid TOML" in str(info.value)
    assert SECRET not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert [(p.key, p.message, p.id) for p in info.value.problems] == [
        (None, f"the configuration file {str(path)!r} does not exist", "leadkit.E003")]
    assert info.value.source == str(path)


def test_missing_file_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(environ={"LEADKIT_CONFIG": str(path)})

    assert str(path) in info.value.problems[0].message


def _directory(tmp_path: Path) -> Path:
    return tmp_path


def _latin1_file(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL_TOML.replace("/api", "/api-caf\xe9").encode("latin-1"))
    return path


@pytest.mark.parametrize(("make", "id"), [
    pytest.param(_directory, "leadkit.E004", id="path-is-a-folder"),
    pytest.param(_latin1_file, "leadkit.E005", id="not-utf8"),
])
def test_unreadable_file_is_a_config_error(tmp_path: Path, make: Any, id: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    assert str(path) in str(info.value)
    assert [p.id for p in info.value.problems] == [id]


@pytest.mark.parametrize("overrides", [
    pytest.param({"offer.offer": "\u00b2"}, id="offer-superscript-two"),
    pytest.param({"offer.flow": "\u2460"}, id="flow-circled-one"),
    pytest.param({"network.dialect": ["moe"]}, id="dialect-list"),
    pytest.param({"network.dialect": "altercpa"}, id="dialect-text-control"),
])
def test_odd_values_give_a_config_error_not_a_crash(overrides: dict[str, Any]) -> None:
    try:
        load(overrides)
    except ConfigError as exc:
        [key] = overrides
        assert key in str(exc)
    else:  # pragma: no cover - the value must be refused
        pytest.fail("the value was accepted")


def test_config_error_is_a_value_error() -> None:
    error = ConfigError([Problem("a.b", "a", "leadkit.E010"), Problem(None, "b", "leadkit.E003")], "x.toml")

    assert isinstance(error, ValueError)
    assert str(error) == "leadkit configuration in x.toml has 2 problem(s):\n  - a [leadkit.E010]\n  - b [leadkit.E003]"


def test_given_environ_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADKIT_KEY", "process-key-9")

    with pytest.raises(ConfigError) as info:
        load_config(environ={}, **sections({"network.key": DROP}))

    assert [p for p in info.value.problems if p.message.startswith("network.key is missing")]
    assert load_config(**sections({"network.key": DROP})).network.key == "process-key-9"


# -- [journal] ----------------------------------------------------------------


def test_journal_inside_the_pages_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, **sections({"site.pages": str(tmp_path / "landing"),
                                            "journal.path": str(tmp_path / "landing" / "leads.db")}))
    assert "journal.path" in str(info.value) and "site.pages" in str(info.value)


def test_journal_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "site").mkdir(parents=True)
    path = write(tmp_path / "conf", COMPLETE_TOML + '\n[journal]\npath = "data/leads.db"\n')
    assert load_config(path, environ={}).journal.path == (tmp_path / "conf" / "data" / "leads.db").resolve()


@pytest.mark.parametrize(("overrides", "fragment"), [
    pytest.param({"journal.lease": 10, "network.timeout": 10}, "must be more than twice network.timeout", id="lease"),
    pytest.param({"journal.max_age": 0}, "journal.max_age", id="max-age"),
    pytest.param({"journal.poll": "fast"}, "journal.poll", id="poll-text"),
    pytest.param({"journal.relay": "yes"}, "journal.relay must be true or false", id="relay-text"),
    pytest.param({"journal.path": ""}, "journal.path", id="empty-path"),
])
def test_journal_settings_are_checked(overrides: dict[str, Any], fragment: str) -> None:
    problems = problems_of(overrides)
    assert len(problems) == 1 and fragment in problems[0]


# -- [site] ip_header -----------------------------------------------------------


def test_ip_header_needs_trusted_networks() -> None:
    with pytest.raises(ConfigError) as info:
        load({"site.ip_header": "CF-Connecting-IP"})

    [problem] = info.value.problems
    assert (problem.key, problem.id, problem.value) == ("site.ip_header", "leadkit.E095", "CF-Connecting-IP")
    assert problem.message.startswith("site.ip_header needs site.trusted_networks")
    assert "trusted_networks = ['cloudflare']" in problem.message


def test_ip_header_with_trusted_networks() -> None:
    site = load({"site.ip_header": "CF-Connecting-IP", "site.trusted_networks": ["cloudflare", "10.0.0.0/8"]}).site

    assert site.ip_header == "CF-Connecting-IP"
    assert ipaddress.ip_network("10.0.0.0/8") in site.trusted_networks
    assert ipaddress.ip_network("2400:cb00::/32") in site.trusted_networks


# -- problems carry their key, id and value ----------------------------------------


@pytest.mark.parametrize(("overrides", "key", "id", "value"), [
    pytest.param({"network.role": "webmaster"}, "network.role", "leadkit.E012", "webmaster", id="setting"),
    pytest.param({"network.key": "1 2"}, "network.key", "leadkit.E011", None, id="secret-not-kept"),
    pytest.param({"offer.fields": {"base": True}}, "offer.fields.base", "leadkit.E025", True, id="nested-key"),
    pytest.param({"offer.flow": DROP}, "offer.flow", "leadkit.E090", None, id="between-settings"),
    pytest.param({"offer.fields": {"colour": "red"}}, "offer.fields.colour", "leadkit.E092", "red",
                 id="between-settings-nested"),
    pytest.param({"site.secrte": SECRET}, "site.secrte", "leadkit.E009", None, id="unknown-key-not-kept"),
    pytest.param({"netwrok.api": "x"}, "[netwrok]", "leadkit.E007", None, id="unknown-section"),
])
def test_a_problem_carries_its_key_id_and_value(overrides: dict[str, Any], key: str, id: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load(overrides)

    [problem] = info.value.problems
    assert (problem.key, problem.id, problem.value) == (key, id, value)


#: The modules that declare settings and rules, and Django's checks.
SETTINGS_MODULES = ("config.py", "landings.py", "config_file.py", "django.py", "statuses.py", "postbacks.py",
                    "pixels.py", "capi.py")


def test_each_id_is_declared_once_and_leaves_django_its_own() -> None:
    ids = [s.id for s in SETTINGS] + [c.id for c in CONSTRAINTS + LANDING_CONSTRAINTS + POSTBACK_CONSTRAINTS]
    assert len(ids) == len(set(ids))
    source = "".join((ROOT / "leadkit" / name).read_text()
                     for name in SETTINGS_MODULES)
    written = Counter(re.findall(r'"(leadkit\.[EW]\d{3})"', source))
    assert [id for id, count in written.items() if count > 1] == []
    assert set(ids) <= set(written) and "leadkit.E001" in written


# -- sections made in Python ------------------------------------------------------------


def test_a_section_made_in_python_is_checked() -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfig(api="https://lk.dalead.pro/api", key=KEY, role="webmaster", timeout=0)

    assert [(p.key, p.id) for p in info.value.problems] == [("network.role", "leadkit.E012"),
                                                            ("network.timeout", "leadkit.E014")]


def test_a_section_made_in_python_is_normalized_and_gets_the_defaults() -> None:
    network = NetworkConfig(api="https://lk.dalead.pro/api/", key=f" {KEY} ", redirect_hosts=["Cab.Example"])

    assert (network.api, network.key, network.role, network.redirect_hosts) == (
        "https://lk.dalead.pro/api", KEY, "wm", ("cab.example",))
    assert JournalConfig().path == (Path.cwd() / "leadkit.db").resolve()


def test_a_config_made_in_python_checks_the_rules_between_settings() -> None:
    network = NetworkConfig(api="https://lk.dalead.pro/api", key=KEY)
    with pytest.raises(ConfigError) as info:
        Config(network=network, offer=OfferConfig(offer=217, country="kz"), site=SiteConfig(secret=SECRET))

    assert [(p.key, p.id) for p in info.value.problems] == [("offer.flow", "leadkit.E090")]


def test_a_loaded_config_made_again_from_its_values_is_the_same(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    config = load_config(write(tmp_path, COMPLETE_TOML), environ={}, site={
        "secret": SECRET, "pages": "site", "ip_header": "X-Real-IP", "trusted_networks": ["cloudflare"],
        "allowed_origins": ["https://Promo.example/"]})
    sections = {f.name: getattr(config, f.name) for f in fields(Config)
                if f.name not in ("source", "landings", "postbacks")}

    again = Config(**{name: type(part)(**{f.name: getattr(part, f.name) for f in fields(part)})
                      for name, part in sections.items()}, source=config.source, postbacks=config.postbacks)

    assert again == config


def test_a_loaded_config_with_landings_made_again_from_its_values_is_the_same(tmp_path: Path) -> None:
    config = load_landings([{"name": "sk", "path": "/sk", "pages": str(kit(tmp_path / "sk")), "offer": 402,
                             "thanks": "ok.php"}, {"name": "ua", "host": "UA.example", "fields": {"base": 1}}])

    again = Config(**{f.name: getattr(config, f.name) for f in fields(Config) if f.name != "landings"},
                   landings=[Landing(**{f.name: getattr(landing, f.name) for f in fields(Landing)})
                             for landing in config.landings])

    assert again == config and again.landings == config.landings


# -- the README's table is this table -----------------------------------------------


def readme_row(setting: Setting) -> str:
    """The setting's row in the README: key, default, meaning, id."""
    default = setting.default
    if default is MISSING:
        shown = f"required (or `{setting.rule.env}`)" if setting.rule.env else "required"
    elif default is None:
        shown = "none"
    elif isinstance(default, bool):
        shown = f"`{str(default).lower()}`"
    elif isinstance(default, (int, float)):
        shown = f"`{default:g}`"
    else:
        shown = f"`{json.dumps(str(default) if isinstance(default, Path) else default)}`"
    return f"| `{setting.name}` | {shown} | {setting.doc} | `{setting.id}` |"


def test_the_readme_table_has_every_setting_with_its_default_and_only_those() -> None:
    documented = set(re.findall(r"^\| `\w+(?:\.\w+)+` \|.*$", README, flags=re.M))
    expected = {readme_row(setting) for setting in SETTINGS}

    assert sorted(expected - documented) == [], "rows missing from the README, or different there"
    assert sorted(documented - expected) == [], "README rows that are not settings"


def test_the_readme_documents_every_check_id() -> None:
    source = "".join((ROOT / "leadkit" / name).read_text()
                     for name in SETTINGS_MODULES)
    in_code = set(re.findall(r"leadkit\.[EW]\d{3}", source))
    documented = set(re.findall(r"`(leadkit\.[EW]\d{3})`", README))

    assert in_code - documented == set()
    assert documented - in_code == set()
    rules = in_code - {s.id for s in SETTINGS} - {"leadkit.E001", "leadkit.W001"}  # Django's: a line of their own
    assert {c.id for c in CONSTRAINTS + LANDING_CONSTRAINTS + POSTBACK_CONSTRAINTS} <= rules
    for id in rules:
        assert re.search(rf"^- `{id}`: ", README, flags=re.M), id


# -- landing kits: network.prefer_thanks, site.thanks, site.form_aliases, site.jinja --------------


def kit(folder: Path, *pages: str) -> Path:
    """A landing kit's folder with its pages (``ok.php`` when none is named), each an empty file."""
    for page in pages or ("ok.php",):
        (folder / page).parent.mkdir(parents=True, exist_ok=True)
        (folder / page).write_text("<p>ok</p>", encoding="utf-8")
    return folder


def the_problem(overrides: dict[str, Any] | None = None, **sections_: Any) -> Problem:
    """The one problem of a configuration (``sections_`` are more keyword sections, like ``landing``)."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, **sections(overrides), **sections_)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_the_kit_settings_default_to_leadkits_own_ways() -> None:
    config = load()

    assert config.network.prefer_thanks is False
    assert (config.site.thanks, config.site.form_aliases, config.site.jinja) == (None, {}, ())
    assert config.landings == ()


def test_prefer_thanks() -> None:
    assert load({"network.prefer_thanks": True}).network.prefer_thanks is True

    problem = the_problem({"network.prefer_thanks": "yes"})

    assert (problem.key, problem.id, problem.value) == ("network.prefer_thanks", "leadkit.E016", "yes")


@pytest.mark.parametrize("page", ["ok.php", "success.html", "thanks/index.html", "Danke schön.html"])
def test_site_thanks_is_a_page_of_the_kit(tmp_path: Path, page: str) -> None:
    pages = kit(tmp_path, page)

    assert load({"site.pages": str(pages), "site.thanks": page}).site.thanks == page


@pytest.mark.parametrize("page", ["/ok.php", "../ok.php", "thanks/../ok.php", "./ok.php", "thanks\\ok.php",
                                  "thanks//ok.php", "thanks/", "", "ok\x00.php", 5, ["ok.php"]])
def test_site_thanks_must_be_a_path_inside_the_pages_folder(tmp_path: Path, page: Any) -> None:
    problem = the_problem({"site.pages": str(kit(tmp_path)), "site.thanks": page})

    assert (problem.key, problem.id, problem.value) == ("site.thanks", "leadkit.E043", page)
    assert "relative to the pages folder" in problem.message


def test_site_thanks_needs_site_pages() -> None:
    problem = the_problem({"site.thanks": "ok.php"})

    assert (problem.key, problem.id, problem.value) == ("site.thanks", "leadkit.E098", "ok.php")
    assert problem.message == "site.thanks needs site.pages: the page is a file in that folder"


@pytest.mark.parametrize("page", ["missing.php", "thanks"])
def test_site_thanks_must_be_a_file_in_site_pages(tmp_path: Path, page: str) -> None:
    pages = kit(tmp_path / "kit", "ok.php", "thanks/index.html")

    problem = the_problem({"site.pages": str(pages), "site.thanks": page})

    assert (problem.key, problem.id) == ("site.thanks", "leadkit.E098")
    assert problem.message == (f"site.thanks names {str(pages.resolve() / page)!r}, which is not a file in "
                               f"{str(pages.resolve())!r}")


def test_site_thanks_may_not_lead_out_of_site_pages(tmp_path: Path) -> None:
    kit(tmp_path, "secret.php")
    pages = kit(tmp_path / "kit")
    (pages / "ok.php").unlink()
    (pages / "ok.php").symlink_to(tmp_path / "secret.php")

    problem = the_problem({"site.pages": str(pages), "site.thanks": "ok.php"})

    assert (problem.key, problem.id) == ("site.thanks", "leadkit.E098")


def test_form_aliases_map_a_kits_fields_onto_leadkits() -> None:
    aliases = {"Telefon": "phone", "imie": "name", "order[Phone]": "phone", "e-mail_2": "email", "Kraj": "country"}

    assert load({"site.form_aliases": aliases}).site.form_aliases == {
        "telefon": "phone", "imie": "name", "order[phone]": "phone", "e-mail_2": "email", "kraj": "country"}


def test_form_aliases_may_name_a_field_twice_for_one_field() -> None:
    assert load({"site.form_aliases": {"Tel": "phone", "tel": "phone"}}).site.form_aliases == {"tel": "phone"}


@pytest.mark.parametrize(("aliases", "key", "value"), [
    pytest.param({"telefon": "fax"}, "site.form_aliases.telefon", "fax", id="not-a-leadkit-field"),
    pytest.param({"telefon": "Phone"}, "site.form_aliases.telefon", "Phone", id="leadkit-field-upper-case"),
    pytest.param({"telefon": 1}, "site.form_aliases.telefon", 1, id="not-text"),
    pytest.param({"tele fon": "phone"}, "site.form_aliases", {"tele fon": "phone"}, id="space-in-name"),
    pytest.param({"x" * 65: "phone"}, "site.form_aliases", {"x" * 65: "phone"}, id="name-too-long"),
    pytest.param({"": "phone"}, "site.form_aliases", {"": "phone"}, id="empty-name"),
    pytest.param({"Tel": "phone", "tel": "name"}, "site.form_aliases.tel", "name", id="two-cases-two-fields"),
    pytest.param(["telefon"], "site.form_aliases", ["telefon"], id="not-a-table"),
])
def test_bad_form_aliases(aliases: Any, key: str, value: Any) -> None:
    problem = the_problem({"site.form_aliases": aliases})

    assert (problem.key, problem.id, problem.value) == (key, "leadkit.E044", value)


def test_jinja_globs() -> None:
    assert load({"site.jinja": ["*.html", "promo/*.html", "*.html"]}).site.jinja == ("*.html", "promo/*.html")


@pytest.mark.parametrize("globs", [["/index.html"], ["../*.html"], ["promo\\*.html"], ["promo//*.html"], [""], [3],
                                   "*.html"])
def test_bad_jinja_globs(globs: Any) -> None:
    problem = the_problem({"site.jinja": globs})

    assert (problem.key, problem.id, problem.value) == ("site.jinja", "leadkit.E045", globs)


# -- [[landing]] -------------------------------------------------------------------------------

SK = {"name": "sk", "path": "/sk/", "offer": 402, "country": "sk"}


def load_landings(landings: list[Any], overrides: dict[str, Any] | None = None, *, offer: bool = True) -> Config:
    given = sections(overrides)
    if not offer:
        del given["offer"]
    return load_config(environ={}, landing=landings, **given)


def landing_problems(landings: list[Any], overrides: dict[str, Any] | None = None, *,
                     offer: bool = True) -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_landings(landings, overrides, offer=offer)
    return [(p.key, p.id) for p in info.value.problems]


def test_a_landing_is_read_with_its_own_offer(tmp_path: Path) -> None:
    pages = kit(tmp_path / "quiz-sk")

    config = load_landings([{**SK, "path": "/sk", "pages": str(pages), "flow": 43, "countries": ["sk", "cz"],
                             "fields": {"currency": "eur"}, "thanks": "ok.php"}])

    [landing] = config.landings
    assert (landing.name, landing.path, landing.host, landing.pages, landing.thanks) == (
        "sk", "/sk/", None, pages.resolve(), "ok.php")
    offer = landing.offer
    assert (offer.offer, offer.flow, offer.country, offer.countries, offer.source, offer.fields) == (
        402, 43, "sk", ("SK", "CZ"), None, {"currency": "eur"})
    assert config.offer.offer == 217


def test_a_landing_inherits_the_offer_keys_it_does_not_give() -> None:
    config = load_landings([{"name": "ua", "host": "UA.Example.com", "offer": 403}],
                           {"network.role": "ext", "offer.flow": 42, "offer.countries": ["kz", "kg"],
                            "offer.source": "77", "offer.fields": {"base": 9900}})

    [landing] = config.landings
    assert landing.host == "ua.example.com"
    assert landing.offer == OfferConfig(offer=403, flow=42, country="kz", countries=("KZ", "KG"), source="77",
                                        fields={"base": 9900})


def test_a_landings_fields_replace_the_offers() -> None:
    config = load_landings([{**SK, "fields": {"currency": "eur"}}], {"offer.fields": {"base": 9900}})

    assert config.landings[0].offer.fields == {"currency": "eur"}


def test_with_landings_offer_may_be_left_out() -> None:
    config = load_landings([{**SK, "flow": 43}, {"name": "ua", "path": "/ua/", "offer": 403, "country": "ua",
                                                  "flow": 44}], offer=False)

    assert config.offer == config.landings[0].offer
    assert (config.offer.offer, config.offer.country, config.offer.flow) == (402, "sk", 43)
    assert config.landings[1].offer.offer == 403


def test_without_offer_each_landing_needs_its_offer_and_country() -> None:
    assert landing_problems([{"name": "sk", "path": "/sk/", "flow": 43}], offer=False) == [
        ("landing[sk].offer", "leadkit.E104"), ("landing[sk].country", "leadkit.E106")]
    with pytest.raises(ConfigError) as info:
        load_landings([{"name": "sk", "path": "/sk/", "flow": 43}], offer=False)
    assert info.value.problems[0].message == ("landing[sk].offer is required: set it in this landing, or in [offer] "
                                              "for every landing")


def test_without_offer_the_offer_rules_are_the_landings() -> None:
    assert landing_problems([SK], offer=False) == [("landing[sk].flow", "leadkit.E090")]


def test_an_offer_section_given_is_still_a_whole_offer() -> None:
    # [offer] with some keys is the default landing's offer: it needs its own id, as without landings.
    assert landing_problems([{**SK, "flow": 43}], {"offer.offer": DROP}) == [("offer.offer", "leadkit.E020")]


@pytest.mark.parametrize("landings", [[], None], ids=["empty-list", "none"])
def test_without_landings_offer_stays_required(landings: Any) -> None:
    given = sections()
    del given["offer"]
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, landing=landings, **given)

    assert [(p.key, p.id) for p in info.value.problems] == [("offer.offer", "leadkit.E020"),
                                                            ("offer.country", "leadkit.E021"),
                                                            ("offer.flow", "leadkit.E090")]


@pytest.mark.parametrize(("landing", "key", "id", "value"), [
    pytest.param({"name": "SK"}, "landing[0].name", "leadkit.E100", "SK", id="name-upper-case"),
    pytest.param({"name": "-sk"}, "landing[0].name", "leadkit.E100", "-sk", id="name-starts-with-dash"),
    pytest.param({"name": "s" * 41}, "landing[0].name", "leadkit.E100", None, id="name-too-long"),
    pytest.param({"name": 5}, "landing[0].name", "leadkit.E100", 5, id="name-number"),
    pytest.param({"name": None}, "landing[0].name", "leadkit.E100", None, id="name-missing"),
    pytest.param({"path": "sk/"}, "landing[sk].path", "leadkit.E101", "sk/", id="path-relative"),
    pytest.param({"path": "/a//b/"}, "landing[sk].path", "leadkit.E101", "/a//b/", id="path-double-slash"),
    pytest.param({"path": "/../sk/"}, "landing[sk].path", "leadkit.E101", "/../sk/", id="path-dot-dot"),
    pytest.param({"path": "/a/./b/"}, "landing[sk].path", "leadkit.E101", "/a/./b/", id="path-dot"),
    pytest.param({"path": "/sk/?x=1"}, "landing[sk].path", "leadkit.E101", "/sk/?x=1", id="path-query"),
    pytest.param({"path": None, "host": "sk.example.com:8080"}, "landing[sk].host", "leadkit.E102",
                 "sk.example.com:8080", id="host-with-port"),
    pytest.param({"path": None, "host": "https://sk.example.com"}, "landing[sk].host", "leadkit.E102",
                 "https://sk.example.com", id="host-url"),
    pytest.param({"path": None, "host": "*.example.com"}, "landing[sk].host", "leadkit.E102", "*.example.com",
                 id="host-wildcard"),
    pytest.param({"path": None, "host": "-sk.example.com"}, "landing[sk].host", "leadkit.E102", "-sk.example.com",
                 id="host-label-dash"),
    pytest.param({"pages": "/nonexistent/quiz-sk"}, "landing[sk].pages", "leadkit.E103", "/nonexistent/quiz-sk",
                 id="pages-missing"),
    pytest.param({"offer": "four"}, "landing[sk].offer", "leadkit.E104", "four", id="offer-text"),
    pytest.param({"offer": 0}, "landing[sk].offer", "leadkit.E104", 0, id="offer-zero"),
    pytest.param({"flow": -1}, "landing[sk].flow", "leadkit.E105", -1, id="flow-negative"),
    pytest.param({"country": "zz"}, "landing[sk].country", "leadkit.E106", "zz", id="country-unknown"),
    pytest.param({"countries": []}, "landing[sk].countries", "leadkit.E107", [], id="countries-empty"),
    pytest.param({"source": " "}, "landing[sk].source", "leadkit.E108", " ", id="source-blank"),
    pytest.param({"fields": {"base": True}}, "landing[sk].fields.base", "leadkit.E109", True, id="fields-bool"),
    pytest.param({"thanks": "/ok.php"}, "landing[sk].thanks", "leadkit.E110", "/ok.php", id="thanks-absolute"),
    pytest.param({"thanks": "../ok.php"}, "landing[sk].thanks", "leadkit.E110", "../ok.php", id="thanks-dot-dot"),
])
def test_each_bad_landing_key_is_named_by_the_landing(landing: dict[str, Any], key: str, id: str,
                                                       value: Any) -> None:
    given = {key: value for key, value in {**SK, **landing}.items() if value is not None}

    problem = the_problem(landing=[given])

    assert (problem.key, problem.id, problem.value) == (key, id, value)
    assert problem.message.startswith(f"{key} ")


@pytest.mark.parametrize(("path", "expected"), [("/sk", "/sk/"), ("/sk/", "/sk/"), ("/promo/sk-2/", "/promo/sk-2/"),
                                                ("/", "/"), ("/leadkitx/", "/leadkitx/")])
def test_landing_paths_end_with_a_slash(path: str, expected: str) -> None:
    assert load_landings([{**SK, "path": path}]).landings[0].path == expected


def test_an_unknown_landing_key_suggests_the_known_one() -> None:
    problem = the_problem(landing=[{**SK, "pagse": "kits/sk"}])

    assert (problem.key, problem.id, problem.value) == ("landing[sk].pagse", "leadkit.E009", None)
    assert problem.message == "unknown key landing[sk].pagse; did you mean 'pages'?"


def test_a_landing_with_a_bad_name_is_named_by_its_index() -> None:
    assert landing_problems([SK, {**SK, "name": "Bad Name", "path": "/b/", "pgaes": 1}]) == [
        ("landing[1].pgaes", "leadkit.E009"), ("landing[1].name", "leadkit.E100")]


@pytest.mark.parametrize("given", [{"name": "sk"}, "sk", ("sk",)], ids=["table", "text", "tuple"])
def test_landing_must_be_a_list_of_tables(given: Any) -> None:
    problem = the_problem(landing=given if isinstance(given, dict) else [given])

    assert problem.id == "leadkit.E008"
    assert problem.key == ("[landing]" if isinstance(given, dict) else "landing[0]")


def test_a_single_landing_table_in_a_file_says_to_write_double_brackets(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML + '\n[landing]\nname = "sk"\npath = "/sk/"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})

    [problem] = info.value.problems
    assert (problem.key, problem.id) == ("[landing]", "leadkit.E008")
    assert "[[landing]] in the file" in problem.message


def test_a_misspelt_landing_section_suggests_landing() -> None:
    problem = the_problem(landings=[SK])

    assert (problem.key, problem.id) == ("[landings]", "leadkit.E007")
    assert "did you mean 'landing'?" in problem.message


# -- the rules of [[landing]] ---------------------------------------------------------------------


@pytest.mark.parametrize(("landing", "fragment"), [
    pytest.param({"path": None}, "is missing, and so is the host", id="neither"),
    pytest.param({"host": "sk.example.com"}, "is given, and so is the host ('sk.example.com')", id="both"),
])
def test_a_landing_has_a_path_or_a_host(landing: dict[str, Any], fragment: str) -> None:
    problem = the_problem(landing=[{key: value for key, value in {**SK, **landing}.items() if value is not None}])

    assert (problem.key, problem.id) == ("landing[sk].path", "leadkit.E111")
    assert fragment in problem.message


def test_landing_names_paths_and_hosts_are_unique() -> None:
    landings = [SK, {**SK, "path": "/sk"}, {**SK, "name": "ua", "path": None, "host": "ua.example"},
                {**SK, "name": "ua2", "path": None, "host": "UA.example"}]
    landings = [{key: value for key, value in each.items() if value is not None} for each in landings]

    with pytest.raises(ConfigError) as info:
        load_landings(landings)

    assert [(p.key, p.id, p.value) for p in info.value.problems] == [
        ("landing[1].name", "leadkit.E112", "sk"), ("landing[1].path", "leadkit.E113", "/sk/"),
        ("landing[ua2].host", "leadkit.E114", "ua.example")]
    assert info.value.problems[0].message == ("landing[1].name is 'sk', as in landing[sk]: give each landing its "
                                              "own name")


@pytest.mark.parametrize(("mount", "path"), [("/leadkit", "/leadkit/"), ("/leadkit", "/leadkit/sk/"),
                                             ("/shop/lk", "/shop/lk")])
def test_a_landing_path_may_not_lie_under_the_mount(mount: str, path: str) -> None:
    problem = the_problem({"site.mount": mount}, landing=[{**SK, "path": path}])

    assert (problem.key, problem.id) == ("landing[sk].path", "leadkit.E115")
    assert f"lies under site.mount ({mount!r})" in problem.message


def test_a_landing_path_may_hold_the_mount() -> None:
    assert load_landings([{**SK, "path": "/shop/"}], {"site.mount": "/shop/lk"}).landings[0].path == "/shop/"


@pytest.mark.parametrize(("landing", "overrides", "key", "id"), [
    pytest.param({"flow": None}, {"network.role": "comp", "offer.flow": DROP}, None, None, id="comp-no-flow"),
    pytest.param({"source": "7"}, {}, "landing[sk].source", "leadkit.E091", id="source-with-wm"),
    pytest.param({"source": "7"}, {"network.role": "ext"}, None, None, id="source-with-ext"),
    pytest.param({"fields": {"colour": "red"}}, {}, "landing[sk].fields.colour", "leadkit.E092",
                 id="field-dalead"),
    pytest.param({"fields": {"params": {"a": 1}}}, {"network.dialect": "moe"}, None, None, id="field-moe"),
])
def test_the_offer_rules_hold_for_each_landing(landing: dict[str, Any], overrides: dict[str, Any],
                                               key: str | None, id: str | None) -> None:
    given = [{key: value for key, value in {**SK, **landing}.items() if value is not None}]
    if key is None:
        load_landings(given, overrides)
    else:
        assert landing_problems(given, overrides) == [(key, id)]


def test_a_landing_with_its_own_flow_mends_a_missing_one() -> None:
    assert landing_problems([{**SK, "flow": 43}, {**SK, "name": "ua", "path": "/ua/"}], {"offer.flow": DROP}) == [
        ("offer.flow", "leadkit.E090")]  # the landing without a flow inherits offer's problem, told once


def test_an_inherited_offer_problem_is_told_once() -> None:
    assert landing_problems([SK, {**SK, "name": "ua", "path": "/ua/"}], {"offer.fields": {"colour": "red"}}) == [
        ("offer.fields.colour", "leadkit.E092")]


def test_a_landings_thanks_is_in_its_own_pages(tmp_path: Path) -> None:
    own = kit(tmp_path / "quiz-sk", "ok.php")
    site = kit(tmp_path / "zdrowie-pl", "dziekujemy.html")

    config = load_landings([{**SK, "pages": str(own), "thanks": "ok.php"}], {"site.pages": str(site)})
    assert config.landings[0].thanks == "ok.php"
    assert landing_problems([{**SK, "pages": str(own), "thanks": "dziekujemy.html"}], {"site.pages": str(site)}) == [
        ("landing[sk].thanks", "leadkit.E116")]


def test_a_landing_without_pages_has_its_thanks_in_site_pages(tmp_path: Path) -> None:
    site = kit(tmp_path / "zdrowie-pl", "dziekujemy.html")

    config = load_landings([{**SK, "thanks": "dziekujemy.html"}], {"site.pages": str(site)})

    assert config.for_landing(config.landings[0]).site.thanks == "dziekujemy.html"
    assert landing_problems([{**SK, "thanks": "ok.php"}], {"site.pages": str(site)}) == [
        ("landing[sk].thanks", "leadkit.E116")]


def test_a_landings_thanks_needs_pages() -> None:
    problem = the_problem(landing=[{**SK, "thanks": "ok.php"}])

    assert (problem.key, problem.id, problem.value) == ("landing[sk].thanks", "leadkit.E116", "ok.php")
    assert "needs landing.pages or site.pages" in problem.message


def test_the_journal_may_not_lie_in_a_landings_pages(tmp_path: Path) -> None:
    pages = kit(tmp_path / "quiz-sk")

    problem = the_problem({"journal.path": str(pages / "data" / "leads.db")},
                          landing=[{**SK, "pages": str(pages)}])

    assert (problem.key, problem.id, problem.value) == ("landing[sk].pages", "leadkit.E117", pages.resolve())
    assert "holds journal.path" in problem.message


def test_every_landing_problem_is_reported_at_once() -> None:
    landings = [{"name": "sk", "offer": "x"}, {"name": "sk", "path": "/leadkit/"}, {"path": "/b/", "colour": 1}]

    problems = landing_problems(landings, {"network.role": "webmaster"}, offer=False)

    assert problems == [
        ("network.role", "leadkit.E012"),
        ("landing[sk].offer", "leadkit.E104"), ("landing[sk].country", "leadkit.E106"),
        ("landing[1].offer", "leadkit.E104"), ("landing[1].country", "leadkit.E106"),
        ("landing[2].colour", "leadkit.E009"), ("landing[2].name", "leadkit.E100"),
        ("landing[2].offer", "leadkit.E104"), ("landing[2].country", "leadkit.E106"),
        ("landing[sk].path", "leadkit.E111"),
        ("landing[1].name", "leadkit.E112"), ("landing[1].path", "leadkit.E115")]


# -- a landing's configuration -------------------------------------------------------------------


def test_for_landing(tmp_path: Path) -> None:
    site, own = kit(tmp_path / "site", "ok.php"), kit(tmp_path / "own", "ok.php")
    config = load_landings([{**SK, "pages": str(own), "thanks": "ok.php"},
                            {**SK, "name": "own", "path": "/own/", "pages": str(own)},
                            {**SK, "name": "bare", "path": "/bare/", "offer": 404}],
                           {"site.pages": str(site), "site.thanks": "ok.php", "site.mount": "/lk"})
    sk, own_pages, bare = config.landings

    assert config.for_landing(None) is config
    served = config.for_landing(sk)
    assert (served.offer, served.site.pages, served.site.thanks, served.landings) == (
        sk.offer, own.resolve(), "ok.php", ())
    assert (served.network, served.journal, served.site.mount, served.site.secret) == (
        config.network, config.journal, "/lk", SECRET)
    assert config.for_landing(own_pages).site.thanks is None  # its kit's own page, found in it
    served = config.for_landing(bare)
    assert (served.offer.offer, served.site.pages, served.site.thanks) == (404, site.resolve(), "ok.php")
    assert config.landings == (sk, own_pages, bare)


def test_a_landing_by_name() -> None:
    config = load_landings([SK, {**SK, "name": "ua", "path": "/ua/"}])

    assert config.landing("ua") is config.landings[1]
    with pytest.raises(KeyError) as info:
        config.landing("cz")
    assert info.value.args[0] == "no [[landing]] is named 'cz' (the landings: 'sk', 'ua')"
    with pytest.raises(KeyError, match=r"the landings: none"):
        load().landing("sk")


# -- landings from a file, from Django, from Python ------------------------------------------------

README_EXAMPLE = "[site]" + README.split("```toml\n[site]", 1)[1].split("```", 1)[0]


def test_the_readmes_landing_example_loads(tmp_path: Path) -> None:
    kit(tmp_path / "kits" / "zdrowie-pl"), kit(tmp_path / "kits" / "quiz-sk")
    data = tomllib.loads(README_EXAMPLE)
    assert [landing["name"] for landing in data["landing"]] == ["sk"]
    data["network"].update(api="https://lk.dalead.pro/api", key=KEY)
    data["site"]["secret"] = SECRET
    data["offer"] = {"offer": 217, "flow": 42, "country": "pl"}

    config = config_from_mapping(data, environ={}, base_dir=tmp_path)

    assert (config.site.pages, config.site.thanks) == ((tmp_path / "kits" / "zdrowie-pl").resolve(), "ok.php")
    assert config.site.form_aliases == {"telefon": "phone", "imie": "name"}
    assert config.network.prefer_thanks is False
    [sk] = config.landings
    assert (sk.name, sk.path, sk.pages, sk.thanks) == ("sk", "/sk/", (tmp_path / "kits" / "quiz-sk").resolve(),
                                                       "ok.php")
    assert (sk.offer.offer, sk.offer.flow, sk.offer.country) == (402, 42, "sk")


def test_landings_in_a_file_without_offer(tmp_path: Path) -> None:
    text = MINIMAL_TOML.split("[offer]")[0] + MINIMAL_TOML.split('country = "kz"\n')[1] + (
        '\n[[landing]]\nname = "sk"\nhost = "sk.example.com"\noffer = 402\nflow = 42\ncountry = "sk"\n'
        '\n[[landing]]\nname = "ua"\npath = "/ua"\noffer = 403\nflow = 43\ncountry = "ua"\npages = "ua"\n')
    (tmp_path / "conf" / "ua").mkdir(parents=True)
    path = write(tmp_path / "conf", text)

    config = load_config(path, environ={})

    assert [(landing.name, landing.offer.offer) for landing in config.landings] == [("sk", 402), ("ua", 403)]
    assert config.landings[1].pages == (tmp_path / "conf" / "ua").resolve()
    assert config.offer.offer == 402


def test_landings_from_an_argument_replace_the_files(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML + '\n[[landing]]\nname = "sk"\npath = "/sk/"\noffer = 402\n')

    config = load_config(path, environ={}, landing=({"name": "ua", "path": "/ua/", "offer": 403},))

    assert [landing.name for landing in config.landings] == ["ua"]


def test_landings_from_a_django_style_mapping(tmp_path: Path) -> None:
    (tmp_path / "kits" / "sk").mkdir(parents=True)
    data = {"network": {"api": "https://lk.dalead.pro/api", "key": KEY}, "site": {"secret": SECRET},
            "landing": [{"name": "sk", "path": "/sk/", "pages": "kits/sk", "offer": 402, "flow": 42,
                         "country": "sk"}]}

    config = config_from_mapping(data, environ={}, base_dir=tmp_path, source="settings.LEADKIT")

    assert config.landings[0].pages == (tmp_path / "kits" / "sk").resolve()
    assert config.offer.offer == 402
    data["landing"] = [{"name": "sk", "path": "/sk/"}]
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data, environ={}, base_dir=tmp_path, source="settings.LEADKIT")
    assert info.value.keys == ("landing[sk].offer", "landing[sk].country", "landing[sk].flow")
    assert info.value.source == "settings.LEADKIT"


def test_the_journal_is_read_from_a_file_with_landings(tmp_path: Path) -> None:
    text = ('[network]\napi = "https://lk.dalead.pro/api"\n\n[journal]\npath = "leads.db"\n\n'
            '[[landing]]\nname = "sk"\npath = "/sk/"\noffer = 402\nflow = 42\ncountry = "sk"\n')

    journal = load_journal_config(write(tmp_path, text), environ={})

    assert journal.path == (tmp_path / "leads.db").resolve()


def test_the_journal_reader_checks_the_landings_too(tmp_path: Path) -> None:
    text = '[network]\napi = "https://lk.dalead.pro/api"\n\n[[landing]]\nname = "sk"\npath = "/sk/"\n'
    with pytest.raises(ConfigError) as info:
        load_journal_config(write(tmp_path, text), environ={})

    assert info.value.keys == ("landing[sk].offer", "landing[sk].country", "landing[sk].flow")


def test_a_landing_made_in_python_is_checked_and_normalized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sk").mkdir()
    monkeypatch.chdir(tmp_path)
    offer = OfferConfig(offer=402, country="sk", flow=42)

    landing = Landing(name="sk", path="/sk", host=None, pages=Path("sk"), thanks=None, offer=offer)

    assert (landing.path, landing.pages) == ("/sk/", (tmp_path / "sk").resolve())
    with pytest.raises(ConfigError) as info:
        Landing(name="sk", path="sk", host="Sk.Example:80", pages=None, thanks="../ok.php", offer=offer)
    assert [(p.key, p.id) for p in info.value.problems] == [
        ("landing[sk].path", "leadkit.E101"), ("landing[sk].host", "leadkit.E102"),
        ("landing[sk].thanks", "leadkit.E110")]
    with pytest.raises(ConfigError) as info:
        Landing(name="Sk", path="/sk/", host=None, pages=None, thanks=None, offer=offer)
    assert info.value.keys == ("landing.name",)


def test_a_config_made_in_python_checks_its_landings() -> None:
    config = load()
    offer = OfferConfig(offer=402, country="sk", source="7")
    sk = Landing(name="sk", path="/sk/", host=None, pages=None, thanks=None, offer=offer)

    with pytest.raises(ConfigError) as info:
        Config(network=config.network, offer=config.offer, site=config.site, landings=(sk, sk))

    assert [(p.key, p.id) for p in info.value.problems] == [
        ("landing[sk].flow", "leadkit.E090"), ("landing[sk].source", "leadkit.E091"),
        ("landing[1].name", "leadkit.E112"), ("landing[1].path", "leadkit.E113"),
        ("landing[1].flow", "leadkit.E090"), ("landing[1].source", "leadkit.E091")]


def test_the_landing_section_declares_the_readme_rows() -> None:
    assert [s.name for s in LandingConfig.settings] == [
        "landing.name", "landing.path", "landing.host", "landing.pages", "landing.offer", "landing.flow",
        "landing.country", "landing.countries", "landing.source", "landing.fields", "landing.geo",
        "landing.language", "landing.thanks"]
    assert [s.id for s in LandingConfig.settings] == [f"leadkit.E{n}" for n in (*range(100, 110), 118, 119, 110)]
    assert [s.name for s in SETTINGS[-len(LandingConfig.settings):]] == [s.name for s in LandingConfig.settings]


# -- prices per country (offer.geo) and the offer's language (offer.language) ---------------------

ES_PT_IT = {"offer.country": "es", "offer.countries": ["es", "pt", "it"]}


def test_geo_tables_in_a_file_are_read_and_normalized(tmp_path: Path) -> None:
    text = MINIMAL_TOML.replace('country = "kz"', 'country = "es"\ncountries = ["es", "pt", "it"]\nlanguage = "pt-br"')
    text += ('\n[offer.geo.PT]\nprice = 39.0\nold_price = 59.5\ncurrency = "EUR"\n'
             '\n[offer.geo.es]\nprice = 49\ncurrency = "eur"\nbase = 45\n')

    offer = load_config(write(tmp_path, text), environ={}).offer

    assert offer.geo == {"pt": GeoPrice("pt", 39, "eur", old_price=59.5),
                         "es": GeoPrice("es", 49, "eur", base=45)}
    assert isinstance(offer.geo["pt"].price, int)
    assert offer.language == "pt_BR"


def test_geo_and_language_default_to_none() -> None:
    offer = load().offer

    assert (offer.geo, offer.language) == ({}, None)


def test_the_readmes_geo_example_loads() -> None:
    example = "[offer]" + README.split("```toml\n[offer]", 1)[1].split("```", 1)[0]
    offer = tomllib.loads(example)["offer"]

    config = load({f"offer.{key}": value for key, value in offer.items()})

    assert config.phone_regions == ("ES", "PT", "IT")
    assert config.offer.geo["pt"] == GeoPrice("pt", 39, "eur", old_price=78, base=39)
    assert set(config.offer.geo) == {"es", "pt"}


@pytest.mark.parametrize(("geo", "key", "value", "fragment"), [
    pytest.param("39 eur", "offer.geo", "39 eur", "must be a table of country", id="not-a-table"),
    pytest.param({"portugal": {"price": 39, "currency": "eur"}}, "offer.geo.portugal", "portugal",
                 "must be a two-letter country code, like 'pt'", id="country-name"),
    pytest.param({"xx": {"price": 39, "currency": "eur"}}, "offer.geo.xx", "xx", "two-letter country code",
                 id="country-unknown"),
    pytest.param({"pt": 39}, "offer.geo.pt", 39, "must be a table like { price = 39, currency = 'eur' }",
                 id="entry-not-a-table"),
    pytest.param({"pt": {"currency": "eur"}}, "offer.geo.pt.price", None, "is missing: the price", id="no-price"),
    pytest.param({"pt": {"price": 39}}, "offer.geo.pt.currency", None, "is missing: the price's currency",
                 id="no-currency"),
    pytest.param({"pt": {"price": "39", "currency": "eur"}}, "offer.geo.pt.price", "39", "must be a number",
                 id="price-text"),
    pytest.param({"pt": {"price": True, "currency": "eur"}}, "offer.geo.pt.price", True, "must be a number",
                 id="price-bool"),
    pytest.param({"pt": {"price": -1, "currency": "eur"}}, "offer.geo.pt.price", -1, "from 0 to", id="price-negative"),
    pytest.param({"pt": {"price": float("nan"), "currency": "eur"}}, "offer.geo.pt.price", None, "must be a number",
                 id="price-nan"),
    pytest.param({"pt": {"price": 39, "currency": "euro"}}, "offer.geo.pt.currency", "euro",
                 "must be a currency's ISO 4217 code", id="currency-name"),
    pytest.param({"pt": {"price": 39, "currency": "abc"}}, "offer.geo.pt.currency", "abc", "ISO 4217",
                 id="currency-unknown"),
    pytest.param({"pt": {"price": 39, "currency": 978}}, "offer.geo.pt.currency", 978, "ISO 4217",
                 id="currency-number"),
    pytest.param({"pt": {"price": 39, "old_price": 39, "currency": "eur"}}, "offer.geo.pt.old_price", 39,
                 "must be more than the price (39)", id="old-price-not-more"),
    pytest.param({"pt": {"price": 39, "currency": "eur", "base": [39]}}, "offer.geo.pt.base", [39],
                 "must be a number", id="base-list"),
    pytest.param({"pt": {"price": 39, "currency": "eur", "prise": 39}}, "offer.geo.pt.prise", None,
                 "is an unknown key; did you mean 'price'?", id="unknown-key"),
    pytest.param({"pt": {"price": 39, "currency": "eur"}, "PT": {"price": 40, "currency": "eur"}}, "offer.geo.PT",
                 None, "names 'pt' twice", id="country-twice"),
])
def test_each_bad_geo_value_is_named_by_its_key(geo: Any, key: str, value: Any, fragment: str) -> None:
    problem = the_problem({**ES_PT_IT, "offer.geo": geo})

    assert (problem.key, problem.id) == (key, "leadkit.E026")
    assert problem.message.startswith(f"{key} ") and fragment in problem.message
    if value is not None:
        assert problem.value == value


def test_geo_countries_must_be_the_offers() -> None:
    problem = the_problem({**ES_PT_IT, "offer.geo": {"pt": {"price": 39, "currency": "eur"},
                                                     "fr": {"price": 49, "currency": "eur"}}})

    assert (problem.key, problem.id, problem.value) == ("offer.geo.fr", "leadkit.E099", "fr")
    assert "is not one of the offer's countries (es, pt, it)" in problem.message


def test_without_countries_geo_is_for_the_offers_country() -> None:
    assert set(load({"offer.geo": {"KZ": {"price": 9900, "currency": "kzt"}}}).offer.geo) == {"kz"}

    problem = the_problem({"offer.geo": {"kg": {"price": 990, "currency": "kgs"}}})

    assert (problem.key, problem.id) == ("offer.geo.kg", "leadkit.E099")
    assert "(kz)" in problem.message


@pytest.mark.parametrize(("language", "normal"), [
    ("pt", "pt"), ("PT", "pt"), ("pt-BR", "pt_BR"), ("pt_br", "pt_BR"), ("fil", "fil"), ("kk", "kk")])
def test_offer_language_is_normalized(language: str, normal: str) -> None:
    assert load({"offer.language": language}).offer.language == normal


@pytest.mark.parametrize("language", ["xx", "pt_XX", "portuguese", "pt-BR-x", "", 5, ["pt"]])
def test_an_unknown_language_is_refused(language: Any) -> None:
    problem = the_problem({"offer.language": language})

    assert (problem.key, problem.id, problem.value) == ("offer.language", "leadkit.E027", language)
    assert "must be a language code Babel knows, like 'pt' or 'pt_BR'" in problem.message


def test_a_landing_inherits_geo_and_language_or_gives_its_own() -> None:
    geo = {"pt": {"price": 39, "currency": "eur"}}
    config = load_landings([{**SK, "path": "/sk/", "country": "pt"},
                            {"name": "it", "path": "/it/", "offer": 403, "country": "it", "language": "it",
                             "geo": {"it": {"price": 45, "currency": "eur", "base": 40}}}],
                           {**ES_PT_IT, "offer.geo": geo, "offer.language": "es"})

    sk, it = (landing.offer for landing in config.landings)
    assert (sk.geo, sk.language) == ({"pt": GeoPrice("pt", 39, "eur")}, "es")
    assert (it.geo, it.language) == ({"it": GeoPrice("it", 45, "eur", base=40)}, "it")


def test_each_landings_geo_and_language_are_checked() -> None:
    assert landing_problems([{**SK, "geo": {"sk": {"price": 39, "currency": "eur", "bsae": 1}}, "language": "xx"}]
                            ) == [("landing[sk].geo.sk.bsae", "leadkit.E118"), ("landing[sk].language", "leadkit.E119")]


def test_a_landings_geo_must_be_its_countries() -> None:
    # its own geo, for a country it does not take
    assert landing_problems([{**SK, "geo": {"cz": {"price": 39, "currency": "eur"}}}]) == [
        ("landing[sk].geo.cz", "leadkit.E099")]
    # [offer]'s geo, which it has, for a country it does not take: it gives its own (here none)
    geo = {"pt": {"price": 39, "currency": "eur"}}
    assert landing_problems([{**SK, "countries": ["sk"]}], {**ES_PT_IT, "offer.geo": geo}) == [
        ("landing[sk].geo.pt", "leadkit.E099")]
    config = load_landings([{**SK, "countries": ["sk"], "geo": {}}], {**ES_PT_IT, "offer.geo": geo})
    assert config.landings[0].offer.geo == {}


def test_a_config_with_geo_made_again_from_its_values_is_the_same() -> None:
    config = load({**ES_PT_IT, "offer.geo": {"pt": {"price": 39, "old_price": 78, "currency": "eur", "base": 39}},
                   "offer.language": "pt"})

    offer = OfferConfig(**{f.name: getattr(config.offer, f.name) for f in fields(OfferConfig)})

    assert offer == config.offer
