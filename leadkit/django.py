"""leadkit for Django: the ``LEADKIT`` setting, the WSGI wrapper, template tags and system checks.

This is the only leadkit module that imports Django; ``leadkit.apps`` and
``leadkit.templatetags.leadkit`` merely point Django at what is defined here.

``settings.py``: the same sections and keys as ``leadkit.toml``, as a dict.
``LEADKIT_KEY`` and ``LEADKIT_SECRET`` in the environment still win over the
dict, and relative paths (``journal.path``, ``site.templates``) are relative
to ``BASE_DIR``::

    INSTALLED_APPS = [..., "leadkit"]
    TEMPLATES = [{..., "OPTIONS": {"context_processors": ["django.template.context_processors.request", ...]}}]
    LEADKIT = {
        "network": {"api": "https://lk.dalead.pro/api", "role": "wm"},
        "offer": {"offer": 217, "flow": 42, "country": "kz"},
    }

``wsgi.py``::

    from django.core.wsgi import get_wsgi_application
    from leadkit.django import wrap

    application = wrap(get_wsgi_application())

A template::

    {% load leadkit %}
    {% leadkit_form %}                               the order form, carrying the visitor's tags
    <a href="{% landing_url "https://landing.example/" %}">   the link, with the tags added

System checks (``manage.py check``): ``leadkit.E001`` the ``LEADKIT`` setting
is missing or not a dict; then one error per configuration problem, with the
problem's own id (``leadkit.E012`` for ``network.role``; the README lists them)
and ``obj`` the dotted key; ``leadkit.W001`` no template engine adds
``request`` to the context, which ``{% leadkit_form %}`` and
``{% landing_url %}`` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from django import template
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.safestring import SafeString, mark_safe

from .config import SETTINGS, Config
from .config_file import config_from_mapping
from .errors import ConfigError, Problem
from .logs import logger
from .middleware import LeadKit, WSGIApp
from .tags import url_with_tags

__all__ = ["LeadKitConfig", "check_settings", "config_from_settings", "landing_url", "leadkit_form", "register",
           "wrap"]

log = logger("leadkit")

SETTING = "LEADKIT"
REQUEST_PROCESSOR = "django.template.context_processors.request"
_DJANGO_TEMPLATES = "django.template.backends.django.DjangoTemplates"
_ENVIRONMENT = {s.name: s.rule.env for s in SETTINGS if s.rule.env}

register = template.Library()


# -- settings -------------------------------------------------------------------------


def config_from_settings(**sections: Mapping[str, Any]) -> Config:
    """The validated configuration from ``settings.LEADKIT``; raises ``ConfigError`` naming every bad key.

    Keyword arguments are whole sections that override the setting, as with ``LeadKit``.
    """
    data = getattr(settings, SETTING, None)
    if not isinstance(data, Mapping):
        raise ConfigError([Problem(None, _setting_problem(data), "leadkit.E001")], source=f"settings.{SETTING}")
    return config_from_mapping(data, base_dir=_base_dir(), source=f"settings.{SETTING}", **sections)


def wrap(application: WSGIApp, **options: Any) -> LeadKit:
    """``LeadKit`` around Django's WSGI application, configured from ``settings.LEADKIT``.

    ``options`` go to ``LeadKit`` (``http``) or override whole sections
    (``network={"timeout": 5}``). ``LeadKit(get_wsgi_application(),
    config="leadkit.toml")`` works as well, for a configuration kept in a file.
    """
    http = options.pop("http", None)
    return LeadKit(application, config_from_settings(**options), http=http)


def _base_dir() -> Path | None:
    base_dir = getattr(settings, "BASE_DIR", None)
    return Path(base_dir) if base_dir else None


def _setting_problem(value: Any) -> str:
    example = '{"network": {"api": ..., "role": "wm"}, "offer": {"offer": ..., "flow": ..., "country": ...}}'
    if value is None:
        return f"the {SETTING} setting is missing: add {SETTING} = {example} to your settings"
    return f"the {SETTING} setting must be a dict of sections like {example} (got {type(value).__name__})"


# -- template tags --------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def leadkit_form(context: template.Context, landing: str | None = None) -> SafeString:
    """``{% leadkit_form %}``: the order form, with the visitor's tags as hidden fields;
    ``{% leadkit_form landing="sk" %}`` orders the offer of that ``[[landing]]``.

    Without the middleware (or without ``request`` in the context) it renders
    an HTML comment saying what is missing and logs a warning: a landing page
    is never broken by it.
    """
    environ, missing = _leadkit_environ(context)
    if environ is None:
        log.warning("{%% leadkit_form %%} rendered no form: %s", missing)
        return mark_safe(f"<!-- leadkit: no order form here: {missing} -->")
    return mark_safe(str(environ["leadkit"].form_html(environ, landing=landing)))


@register.simple_tag(takes_context=True)
def landing_url(context: template.Context, url: str) -> str:
    """``{% landing_url "https://landing.example/" %}``: ``url`` with the visitor's tags in its query string.

    The link's own parameters are kept; a tag replaces a parameter of the same
    name (the landing reads the first one). Empty tags are never added. Without
    the middleware the URL comes back as it is.
    """
    environ, missing = _leadkit_environ(context)
    if environ is None:
        log.warning("{%% landing_url %%} added no tags to %s: %s", url, missing)
        return str(url)
    return url_with_tags(str(url), environ.get("leadkit.tags") or {})


def _leadkit_environ(context: template.Context) -> tuple[dict[str, Any] | None, str]:
    """The request's WSGI environ when the middleware saw it, else None and what is missing."""
    request = context.get("request")
    if request is None:
        return None, (f"the template context has no 'request': add '{REQUEST_PROCESSOR}' to the "
                      "context_processors of TEMPLATES and render with the request")
    environ = getattr(request, "META", None) or {}  # a WSGIRequest's META is the WSGI environ
    if not isinstance(environ.get("leadkit"), LeadKit):
        return None, ("the leadkit middleware is not mounted: in wsgi.py, "
                      "application = leadkit.django.wrap(get_wsgi_application())")
    return environ, ""


# -- system checks --------------------------------------------------------------------


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """leadkit's system checks: one error per problem of ``LEADKIT``, W001 for ``TEMPLATES``."""
    return [*_check_leadkit_setting(), *_check_request_processor()]


def _check_leadkit_setting() -> list[checks.CheckMessage]:
    try:
        config_from_settings()
    except ConfigError as exc:
        return [_problem_message(problem) for problem in exc.problems]
    return []


def _problem_message(problem: Problem) -> checks.CheckMessage:
    """A problem as Django's error: its own id, ``obj`` its key, a hint saying where to set it."""
    if problem.key is None:  # no LEADKIT dict at all
        hint = f"Set {SETTING} in settings.py to the sections and keys of leadkit.toml, as a dict."
        return checks.Error(problem.message, hint=hint, obj=SETTING, id=problem.id)
    where = SETTING + "".join(_subscript(part) for part in problem.key.strip("[]").split("."))
    hint = f"Change {where} in settings.py."
    if problem.key in _ENVIRONMENT:
        hint = f"Set the environment variable {_ENVIRONMENT[problem.key]} (or {where} in settings.py)."
    return checks.Error(f"{SETTING}: {problem.message}", hint=hint, obj=problem.key, id=problem.id)


def _subscript(part: str) -> str:
    """One part of a problem's key as Python subscripts: ``landing[sk]`` is the landing named sk in the
    ``landing`` list (``LEADKIT["landing"][<the one whose name is 'sk'>]``), ``landing[2]`` the third."""
    name, bracket, rest = part.partition("[")
    if not bracket:
        return f'["{part}"]'
    label = rest.rstrip("]")
    return f'["{name}"][{label}]' if label.isdigit() else f'["{name}"][<the one whose name is {label!r}>]'


def _check_request_processor() -> list[checks.CheckMessage]:
    engines = [engine for engine in getattr(settings, "TEMPLATES", []) if engine.get("BACKEND") == _DJANGO_TEMPLATES]
    if not engines:  # no Django template engine, so no {% load leadkit %} either
        return []
    if any(REQUEST_PROCESSOR in engine.get("OPTIONS", {}).get("context_processors", []) for engine in engines):
        return []
    return [checks.Warning(
        f"TEMPLATES: no Django template engine lists '{REQUEST_PROCESSOR}' in its context_processors, so "
        "{% leadkit_form %} and {% landing_url %} find no request and render no form and no tags.",
        hint=f"Add '{REQUEST_PROCESSOR}' to TEMPLATES[...]['OPTIONS']['context_processors'].",
        obj="TEMPLATES", id="leadkit.W001",
    )]


# -- the app --------------------------------------------------------------------------


class LeadKitConfig(AppConfig):
    """``INSTALLED_APPS = [..., "leadkit"]``: the template tags and the system checks."""

    name = "leadkit"
    verbose_name = "leadkit"

    def ready(self) -> None:
        checks.register(check_settings, "leadkit")
