"""``leadkit.django``: the ``LEADKIT`` setting, ``wrap``, the template tags and the system checks,
in this process; the example project (``examples/django_landing``) on waitress in its own process,
over a real loopback socket, in front of the sandbox network.

Django's settings can be configured once per process: this module configures them (unless
something else already has) and changes them per test with ``override_settings``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("django", reason="Django is not installed: make test installs it")

import html
import logging
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import django
import requests
from django.conf import settings
from django.core import checks
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import RequestFactory
from django.test.utils import override_settings
from django.urls import path
from werkzeug.test import Client

from leadkit import LeadKit
from leadkit.django import wrap
from leadkit.errors import ConfigError
from leadkit.tags import url_with_tags
from leadkit.testing.sandbox import SandboxNetwork
from servers import stop
from support import HEALTH_TOKEN, KEY, SECRET

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "django_landing"
REQUEST_PROCESSOR = "django.template.context_processors.request"
DJANGO_TEMPLATES = "django.template.backends.django.DjangoTemplates"
PAGE = '{% load leadkit %}{% leadkit_form %}<a href="{% landing_url "https://landing.example/p?lang=en" %}">go</a>'


def templates(*processors: str, backend: str = DJANGO_TEMPLATES) -> list[dict[str, Any]]:
    options = {"context_processors": list(processors)} if backend == DJANGO_TEMPLATES else {}
    return [{"BACKEND": backend, "DIRS": [], "APP_DIRS": False, "OPTIONS": options}]


def leadkit_setting(api: str = "http://127.0.0.1:9/api", **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A valid ``LEADKIT`` setting; ``sections`` override keys (None removes one)."""
    data: dict[str, dict[str, Any]] = {
        "network": {"api": api, "key": KEY, "timeout": 5},
        "offer": {"offer": 217, "flow": 42, "country": "kz"},
        "site": {"secret": SECRET},
    }
    for name, values in sections.items():
        section = data.setdefault(name, {})
        section.update(values)
        for key in [k for k, v in values.items() if v is None]:
            del section[key]
    return data


def landing(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))


urlpatterns = [path("", landing)]


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY="test-only", ALLOWED_HOSTS=["localhost", "testserver"], DATABASES={},
            INSTALLED_APPS=["leadkit"], MIDDLEWARE=[], ROOT_URLCONF=__name__, TEMPLATES=templates(REQUEST_PROCESSOR),
        )
    django.setup()


@pytest.fixture(autouse=True)
def no_leadkit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEADKIT_KEY", "LEADKIT_SECRET", "LEADKIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def leadkit_checks() -> list[checks.CheckMessage]:
    """What ``manage.py check`` reports for leadkit: registered by the app's ready()."""
    return checks.run_checks(tags=["leadkit"])


# -- system checks ----------------------------------------------------------------------

@pytest.mark.parametrize("setting, check_id, obj, words", [
    pytest.param(None, "leadkit.E001", "LEADKIT", "the LEADKIT setting is missing", id="missing"),
    pytest.param([("network", {})], "leadkit.E001", "LEADKIT", "LEADKIT setting must be a dict", id="not-a-dict"),
    pytest.param(leadkit_setting(network={"role": "webmaster"}), "leadkit.E012", "network.role",
                 "network.role must be one of wm, ext, comp (got 'webmaster')", id="bad-role"),
    pytest.param(leadkit_setting(network={"key": None}), "leadkit.E011", "network.key",
                 "network.key is missing", id="no-key"),
    pytest.param(leadkit_setting(site={"secret": "short"}), "leadkit.E030", "site.secret",
                 "site.secret is too short", id="short-secret"),
    pytest.param(leadkit_setting(offer={"flow": None}), "leadkit.E090", "offer.flow",
                 "offer.flow is required", id="no-flow"),
    pytest.param(leadkit_setting(offer={"fields": {"colour": "red"}}), "leadkit.E092", "offer.fields.colour",
                 "offer.fields.colour is not a field", id="static-field"),
    pytest.param(leadkit_setting(site={"ip_header": "CF-Connecting-IP"}), "leadkit.E095", "site.ip_header",
                 "site.ip_header needs site.trusted_networks", id="ip-header-alone"),
    pytest.param(leadkit_setting(netwrok={"api": "x"}), "leadkit.E007", "[netwrok]",
                 "unknown section [netwrok]", id="unknown-section"),
])
def test_a_bad_setting_fails_its_check_naming_the_key(setting: Any, check_id: str, obj: str, words: str) -> None:
    with override_settings(**({} if setting is None else {"LEADKIT": setting})):
        messages = leadkit_checks()
    assert [m.id for m in messages] == [check_id]
    (message,) = messages
    assert message.level == checks.ERROR and message.obj == obj
    assert "LEADKIT" in message.msg and words in message.msg
    assert "LEADKIT" in message.hint


def test_every_problem_is_a_message_of_its_own_with_the_fix_in_its_hint() -> None:
    with override_settings(LEADKIT=leadkit_setting(network={"role": "x", "timeout": 0, "key": None})):
        messages = leadkit_checks()
    assert [(m.id, m.obj) for m in messages] == [
        ("leadkit.E011", "network.key"), ("leadkit.E012", "network.role"), ("leadkit.E014", "network.timeout")]
    hints = {m.obj: m.hint for m in messages}
    assert hints["network.role"] == 'Change LEADKIT["network"]["role"] in settings.py.'
    assert "LEADKIT_KEY" in hints["network.key"]


def test_a_nested_key_is_hinted_at_where_it_sits() -> None:
    with override_settings(LEADKIT=leadkit_setting(offer={"fields": {"base": True}})):
        (message,) = leadkit_checks()
    assert (message.id, message.obj) == ("leadkit.E025", "offer.fields.base")
    assert message.hint == 'Change LEADKIT["offer"]["fields"]["base"] in settings.py.'


def test_a_valid_setting_passes(tmp_path: Path) -> None:
    with override_settings(LEADKIT=leadkit_setting(), BASE_DIR=tmp_path):
        assert leadkit_checks() == []


def test_the_secrets_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADKIT_KEY", KEY)
    monkeypatch.setenv("LEADKIT_SECRET", SECRET)
    with override_settings(LEADKIT=leadkit_setting(network={"key": None}, site={"secret": None})):
        assert leadkit_checks() == []


@pytest.mark.parametrize("engines_setting, warned", [
    pytest.param(templates(REQUEST_PROCESSOR), False, id="request-processor"),
    pytest.param(templates("django.template.context_processors.debug"), True, id="no-request-processor"),
    pytest.param(templates(), True, id="no-processors"),
    pytest.param(templates(REQUEST_PROCESSOR) + templates(), False, id="one-engine-of-two"),
    pytest.param(templates(backend="django.template.backends.jinja2.Jinja2"), False, id="jinja2-only"),
])
def test_w001_when_no_engine_puts_the_request_in_the_context(engines_setting: list[dict[str, Any]],
                                                             warned: bool) -> None:
    with override_settings(LEADKIT=leadkit_setting(), TEMPLATES=engines_setting):
        messages = leadkit_checks()
    assert [m.id for m in messages] == (["leadkit.W001"] if warned else [])
    if warned:
        assert messages[0].level == checks.WARNING and REQUEST_PROCESSOR in messages[0].hint
        assert messages[0].obj == "TEMPLATES"


# -- wrap and the settings ----------------------------------------------------------------

def test_wrap_configures_leadkit_from_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADKIT_KEY", "1-from0the0environment")
    with override_settings(LEADKIT=leadkit_setting(form={"title": "Tea"}), BASE_DIR=tmp_path):
        kit = wrap(get_wsgi_application())
    assert isinstance(kit, LeadKit) and kit.config.form.title == "Tea"
    assert kit.config.network.key == "1-from0the0environment"  # the environment wins over the setting
    assert kit.config.journal.path == tmp_path / "leadkit.db"  # relative to BASE_DIR


def test_wrap_refuses_a_missing_setting() -> None:
    with pytest.raises(ConfigError) as raised:
        wrap(get_wsgi_application())
    assert raised.value.problems[0].message.startswith("the LEADKIT setting is missing")
    assert raised.value.problems[0].id == "leadkit.E001"
    assert "settings.LEADKIT" in str(raised.value)


def test_wrapped_django_shows_the_form_with_the_visitors_tags(tmp_path: Path, network: SandboxNetwork) -> None:
    setting = leadkit_setting(api=network.url, journal={"path": str(tmp_path / "leadkit.db")})
    with override_settings(LEADKIT=setting), wrap(get_wsgi_application()) as kit:
        client = Client(kit)
        page = client.get("/?utm_source=fb&sub1=a+b").get_data(as_text=True)
        assert '<input type="hidden" name="utm_source" value="fb">' in page
        assert 'href="https://landing.example/p?lang=en&amp;utm_source=fb&amp;sub1=a+b"' in page
        response = client.post("/leadkit/order", data={"name": "Aigerim", "phone": "87001234567"},
                               headers={"Origin": "http://localhost"})  # as a browser sends it
    assert response.status_code == 303
    assert network.accepted()[0].fields["utm_source"] == "fb"


def test_leadkit_with_a_toml_file_still_wraps_django(tmp_path: Path, network: SandboxNetwork,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "leadkit.toml").write_text(f'[network]\napi = "{network.url}"\n[offer]\noffer = 217\nflow = 42\n'
                                           'country = "kz"\n[journal]\npath = "journal.db"\n')
    monkeypatch.setenv("LEADKIT_KEY", KEY)
    monkeypatch.setenv("LEADKIT_SECRET", SECRET)
    with LeadKit(get_wsgi_application(), config=tmp_path / "leadkit.toml") as kit:
        page = Client(kit).get("/?sub2=t").get_data(as_text=True)
    assert '<input type="hidden" name="sub2" value="t">' in page


def test_a_form_for_a_landing_sends_that_landing_s_offer(tmp_path: Path, network: SandboxNetwork) -> None:
    network.reset(offers={217: [42], 402: [43]})
    setting = {**leadkit_setting(api=network.url, journal={"path": str(tmp_path / "leadkit.db")},
                                 site={"min_fill_seconds": 0}),
               "landing": [{"name": "sk", "path": "/sk/", "offer": 402, "flow": 43, "country": "sk"}]}
    with override_settings(LEADKIT=setting), wrap(get_wsgi_application()) as kit:
        request = RequestFactory().get("/")
        request.environ["leadkit"] = kit
        page = engines["django"].from_string('{% load leadkit %}{% leadkit_form landing="sk" %}').render({}, request)
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
        assert hidden["lk_landing"] == "sk"
        response = Client(kit).post("/leadkit/order", data={**hidden, "name": "Ján", "phone": "0912345678"},
                                    headers={"Origin": "http://localhost"})
    assert response.status_code == 303
    fields = network.accepted()[0].fields
    assert (fields["offer"], fields["flow"], fields["country"]) == ("402", "43", "sk")


# -- the template tags ------------------------------------------------------------------------

def test_the_tags_without_the_middleware_render_a_comment_and_the_bare_url(caplog: pytest.LogCaptureFixture) -> None:
    request = RequestFactory().get("/?utm_source=fb")
    with caplog.at_level(logging.WARNING, logger="leadkit"):
        page = engines["django"].from_string(PAGE).render({}, request)
    assert page.startswith("<!-- leadkit: no order form here: the leadkit middleware is not mounted")
    assert page.endswith('-->\n<a href="https://landing.example/p?lang=en">go</a>'.replace("\n", ""))
    assert "<form" not in page
    assert any("not mounted" in record.getMessage() for record in caplog.records)


def test_the_tags_without_a_request_in_the_context_say_so() -> None:
    page = engines["django"].from_string(PAGE).render({})
    assert f"the template context has no 'request': add '{REQUEST_PROCESSOR}'" in page
    assert "<form" not in page and 'href="https://landing.example/p?lang=en"' in page


@pytest.mark.parametrize("url, tags, expected", [
    pytest.param("https://l.example/", {"utm_source": "fb"}, "https://l.example/?utm_source=fb", id="plain"),
    pytest.param("https://l.example/p?lang=en", {"sub1": "x"}, "https://l.example/p?lang=en&sub1=x", id="keeps-query"),
    pytest.param("https://l.example/p?q=a%20b&t", {"sub1": "x"}, "https://l.example/p?q=a%20b&t&sub1=x",
                 id="keeps-query-as-written"),
    pytest.param("https://l.example/p#order", {"sub1": "x"}, "https://l.example/p?sub1=x#order", id="fragment"),
    pytest.param("https://l.example/?utm_source=pre&lang=en", {"utm_source": "fb"},
                 "https://l.example/?lang=en&utm_source=fb", id="tag-replaces-same-name"),
    pytest.param("https://l.example/", {"utm_campaign": "весна & co", "sub2": "a=b"},
                 "https://l.example/?utm_campaign=%D0%B2%D0%B5%D1%81%D0%BD%D0%B0+%26+co&sub2=a%3Db", id="encoded"),
    pytest.param("https://l.example/", {"sub1": "", "sub2": "y"}, "https://l.example/?sub2=y", id="no-empty-tags"),
    pytest.param("https://l.example/p?lang=en", {}, "https://l.example/p?lang=en", id="no-tags"),
    pytest.param("/landing", {"sub1": "x"}, "/landing?sub1=x", id="relative"),
])
def test_url_with_tags(url: str, tags: dict[str, str], expected: str) -> None:
    assert url_with_tags(url, tags) == expected


# -- the example project, in its own process ------------------------------------------------

@contextmanager
def example_server(env: dict[str, str], log: Path, timeout: float = 30) -> Iterator[str]:
    """Serve the example with waitress on a free loopback port; yield its base URL."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "waitress", "--listen=127.0.0.1:0", "landing_site.wsgi:application"],
            cwd=EXAMPLE, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + timeout
        while not (serving := re.search(r"Serving on (http://127\.0\.0\.1:\d+)", log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the example did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield serving.group(1)
    finally:
        stop(process)


def example_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADKIT_", "DJANGO_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "landing_site.settings", "LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET,
            **values}


def test_the_example_project_takes_an_order_end_to_end(network: SandboxNetwork, tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "leadkit.db"
    journal.parent.mkdir()
    env = example_env(LEADKIT_API=network.url, LEADKIT_JOURNAL=str(journal), LEADKIT_HEALTH_TOKEN=HEALTH_TOKEN)
    with example_server(env, tmp_path / "waitress.log") as base:
        browser = requests.Session()
        browser.headers["Origin"] = base  # as a browser sends it with the form's POST
        page = browser.get(base + "/", params={"utm_source": "dj", "sub1": "x"}, timeout=10)
        assert page.status_code == 200, page.text
        assert '<input type="hidden" name="utm_source" value="dj">' in page.text
        assert '<input type="hidden" name="sub1" value="x">' in page.text
        link = urlsplit(html.unescape(re.search(r'<a id="more" href="([^"]+)"', page.text).group(1)))
        assert (link.netloc, link.path) == ("landing.example", "/tea")
        assert parse_qs(link.query) == {"lang": ["en"], "utm_source": ["dj"], "sub1": ["x"]}
        order = browser.post(base + "/leadkit/order", data={"name": "Aigerim", "phone": "8 (700) 123-45-67"},
                             allow_redirects=False, timeout=10)
        assert order.status_code == 303, order.text
        health = browser.get(base + "/leadkit/health", timeout=10,
                             headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}).json()
    (lead,) = network.accepted()
    assert lead.call == "wm/push"
    assert {k: lead.fields.get(k) for k in ("utm_source", "sub1", "phone", "offer", "flow", "name")} == {
        "utm_source": "dj", "sub1": "x", "phone": "77001234567", "offer": "217", "flow": "42", "name": "Aigerim"}
    assert order.headers["Location"].startswith(network.url.rsplit("/api", 1)[0] + "/cabinet/")
    assert health["leads"].get("delivered") == 1 and journal.is_file()  # the journal went where it was told


@pytest.mark.parametrize("values, code, words", [
    pytest.param({}, 0, ["System check identified no issues"], id="valid"),
    pytest.param({"LEADKIT_API": "ftp://lk.example/api"}, 1, ["(leadkit.E010)", "network.api must be"], id="bad-api"),
    pytest.param({"LEADKIT_KEY": ""}, 1, ["(leadkit.E011)", "network.key is missing", "LEADKIT_KEY"], id="no-key"),
    pytest.param({"LEADKIT_API": "ftp://lk.example/api", "LEADKIT_KEY": ""}, 1,
                 ["network.api: (leadkit.E010)", "network.key: (leadkit.E011)", "2 issues"], id="two-bad-keys"),
])
def test_manage_py_check_runs_leadkits_checks(tmp_path: Path, values: dict[str, str], code: int,
                                              words: list[str]) -> None:
    env = example_env(LEADKIT_JOURNAL=str(tmp_path / "leadkit.db"), **values)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=EXAMPLE, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == code, result.stderr
    for word in words:
        assert word in result.stdout + result.stderr


def test_the_example_readme_runs_what_the_tests_serve() -> None:
    readme = (EXAMPLE / "README.md").read_text()
    command = next(line.strip() for line in readme.splitlines() if "waitress-serve" in line and "LEADKIT_KEY" in line)
    assert command.endswith("--listen 127.0.0.1:8000 landing_site.wsgi:application")
    settings_text = (EXAMPLE / "landing_site" / "settings.py").read_text()
    for variable in set(re.findall(r"`((?:LEADKIT|DJANGO)_[A-Z_]+)`", readme)) - {"LEADKIT_KEY", "LEADKIT_SECRET"}:
        assert f'"{variable}"' in settings_text, variable
