"""Flask support: ``LeadKit(app)`` in one line, and Jinja globals for templates.

::

    from flask import Flask
    from leadkit.flask import init_app

    app = Flask(__name__)
    init_app(app, config="leadkit.toml")

then in any template::

    {{ leadkit_form() }}                              the order form, with the visitor's tags and a token
    {{ leadkit_form(landing="sk") }}                  the same for the offer of a [[landing]]
    <a href="{{ landing_url('https://landing.example/') }}">  a link carrying the tags

``init_app`` wraps ``app.wsgi_app`` (the same ``LeadKit`` every integration
uses), keeps it in ``app.extensions["leadkit"]`` and registers the globals.
This is the only module that imports Flask.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask, request
from markupsafe import Markup

from .config import Config
from .journal import Journal
from .middleware import LeadKit
from .tags import url_with_tags
from .wire import Connections

__all__ = ["init_app", "leadkit_form", "landing_url"]


def init_app(app: Flask, config: str | os.PathLike[str] | Config | None = None, *,
             journal: Journal | Mapping[str, Any] | None = None, http: Connections | None = None,
             **sections: Mapping[str, Any]) -> LeadKit:
    """Mount leadkit in front of ``app`` and give its templates ``leadkit_form`` and ``landing_url``.

    The arguments are ``LeadKit``'s; call ``app.extensions["leadkit"].close()`` when the app shuts down.
    """
    kit = LeadKit(app.wsgi_app, config, journal=journal, http=http, **sections)
    app.wsgi_app = kit  # type: ignore[method-assign]
    app.extensions["leadkit"] = kit
    app.jinja_env.globals.update(leadkit_form=leadkit_form, landing_url=landing_url)
    return kit


def leadkit_form(landing: str | None = None) -> Markup:
    """The order form for the current request, with the visitor's tags and a fresh token;
    ``leadkit_form(landing="sk")`` orders the offer of that ``[[landing]]``."""
    kit: LeadKit = request.environ["leadkit"]
    return kit.form_html(request.environ, landing=landing)


def landing_url(url: str) -> str:
    """``url`` with the visitor's tags appended: for links from a prelanding to the landing."""
    return url_with_tags(url, request.environ.get("leadkit.tags") or {})
