"""The standalone server: leadkit in front of a folder of landing pages.

``leadkit serve --config leadkit.toml`` runs :func:`make_app` on waitress, a
production WSGI server (pure Python, threads, no C build). Pages in
``site.pages`` are Jinja templates: ``/`` is ``index.html``, ``/promo`` is
``promo.html`` or ``promo/index.html``; other files (CSS, images) are served
as they are. A page shows the order form with ``{{ leadkit_form() }}``,
reads the visitor's tags from ``tags`` and may write ``{{ landing_url(url) }}``.
Every link of a rendered page to this site or to ``site.landing_hosts`` gets
the visitor's tags added (a prelanding carries them to the landing, see
:mod:`leadkit.links`). Behind nginx, set ``site.trusted_proxies = 1``.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable

import jinja2
import requests
from waitress.server import BaseWSGIServer, create_server
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response
from werkzeug.exceptions import NotFound

from .config import Config
from .journal import Journal
from .links import add_tags_to_links
from .middleware import LeadKit
from .templating import make_environment
from .tags import url_with_tags

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PagesApp", "make_app", "make_server"]

log = logging.getLogger("leadkit.server")


class PagesApp:
    """Serves a folder of landing pages; ``.html`` files are rendered with Jinja."""

    def __init__(self, folder: Path, templates: Path | None = None, landing_hosts: tuple[str, ...] = ()) -> None:
        self.folder = folder.resolve()
        self.environment = make_environment(self.folder, templates)
        self.landing_hosts = landing_hosts

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        name = self.resolve(request.path)
        if name is None:
            return self.not_found(request)
        if name.endswith(".html"):
            return self.render(name, request)
        try:
            return send_from_directory(self.folder, name, request.environ, max_age=3600)
        except NotFound:
            return self.not_found(request)

    def resolve(self, path: str) -> str | None:
        """The file under the folder that a URL path names, or None. Hidden files are never served."""
        parts = PurePosixPath(path.lstrip("/")).parts
        if any(p.startswith(".") or p in ("..",) or "\\" in p or "\x00" in p for p in parts):
            return None
        relative = "/".join(parts)
        candidates = [f"{relative}/index.html" if relative else "index.html"] if path.endswith("/") else \
            [relative, f"{relative}.html", f"{relative}/index.html"]
        for candidate in candidates:
            target = (self.folder / candidate).resolve()
            if target.is_file() and target.is_relative_to(self.folder):
                return candidate
        return None

    def render(self, name: str, request: Request) -> Response:
        kit: LeadKit | None = request.environ.get("leadkit")
        tags: dict[str, str] = request.environ.get("leadkit.tags", {})
        context: dict[str, Any] = {
            "tags": tags,
            "mount": kit.mount if kit else "",
            "leadkit_form": (lambda: kit.form_html(request.environ)) if kit else (lambda: ""),
            "landing_url": lambda url: url_with_tags(url, tags),
            "request_path": request.path,
        }
        try:
            html = self.environment.get_template(name).render(**context)
        except jinja2.TemplateError:
            log.exception("page %s could not be rendered", name)
            return Response("<h1>This page is being fixed</h1>", 503, mimetype="text/html")
        html = add_tags_to_links(html, tags, request.host, self.landing_hosts)
        return Response(html, 200, mimetype=mimetypes.guess_type(name)[0] or "text/html")

    def not_found(self, request: Request) -> Response:
        return Response("<!doctype html><title>Not found</title><h1>Not found</h1>", 404, mimetype="text/html")


def make_app(config: Config, *, journal: Journal | None = None, session: requests.Session | None = None) -> LeadKit:
    """The standalone application: ``site.pages`` served behind the middleware."""
    if config.site.pages is None:
        raise ValueError("site.pages names no folder: the standalone server needs landing pages to serve")
    pages = PagesApp(config.site.pages, config.site.templates, config.site.landing_hosts)
    return LeadKit(pages, config, journal=journal, session=session)


def make_server(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
                max_body: int = 16384) -> BaseWSGIServer:
    """A waitress server for ``app``; ``.effective_port`` is the bound port, ``.run()`` serves.

    Waitress refuses a body whose Content-Length passes its limit with 413 before reading it;
    the limit is left a little above ``site.max_body`` so that leadkit's own, friendlier 413
    answers the near misses. leadkit reads ``X-Forwarded-For`` itself, by its own rule.
    """
    server = create_server(app, host=host, port=port, threads=threads, ident="leadkit",
                           clear_untrusted_proxy_headers=False, max_request_body_size=max_body * 4)
    if not isinstance(server, BaseWSGIServer):  # waitress makes one of those per address it listens on
        raise TypeError(f"waitress made a {type(server).__name__} for {host}:{port}; give one host and port")
    return server
