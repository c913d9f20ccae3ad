"""Tests for leadkit.config: loading, precedence and validation of the TOML configuration."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

from leadkit.config import (CONSTRAINTS, SETTINGS, Config, ConfigError, JournalConfig, NetworkConfig, OfferConfig,
                            SiteConfig, load_config)
from leadkit.errors import Problem
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


def test_each_id_is_declared_once_and_leaves_django_its_own() -> None:
    ids = [s.id for s in SETTINGS] + [c.id for c in CONSTRAINTS]
    assert len(ids) == len(set(ids))
    source = "".join((ROOT / "leadkit" / name).read_text() for name in ("config.py", "django.py"))
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
    sections = {f.name: getattr(config, f.name) for f in fields(Config) if f.name != "source"}

    again = Config(**{name: type(part)(**{f.name: getattr(part, f.name) for f in fields(part)})
                      for name, part in sections.items()}, source=config.source)

    assert again == config


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
    documented = set(re.findall(r"^\| `\w+\.\w+` \|.*$", README, flags=re.M))
    expected = {readme_row(setting) for setting in SETTINGS}

    assert sorted(expected - documented) == [], "rows missing from the README, or different there"
    assert sorted(documented - expected) == [], "README rows that are not settings"


def test_the_readme_documents_every_check_id() -> None:
    source = "".join((ROOT / "leadkit" / name).read_text() for name in ("config.py", "django.py"))
    in_code = set(re.findall(r"leadkit\.[EW]\d{3}", source))
    documented = set(re.findall(r"`(leadkit\.[EW]\d{3})`", README))

    assert in_code - documented == set()
    assert documented - in_code == set()
    for constraint in CONSTRAINTS:
        assert re.search(rf"^- `{constraint.id}`: ", README, flags=re.M), constraint.id
