"""The standalone server: leadkit in front of landing kits as they were downloaded.

``leadkit serve --config leadkit.toml`` runs :func:`make_app` on waitress, a production WSGI
server (pure Python, threads, no C build). ``site.pages`` is a folder as the network gave it
(:mod:`leadkit.kit` says which file a URL names): pages are served as they are, except that
leadkit rewrites a few start tags with a real HTML parser (:mod:`leadkit.kitpage`):

- every form with a phone field that posts to the kit's own script (``getform.php``, an empty
  action, ``#``) posts to leadkit's order route instead, with a form token; a kit that posts by
  JavaScript (``$.post("order.php")``) is answered on that path (:meth:`PagesApp.respond`);
- hidden tag inputs get the visitor's tags instead of unfilled macros (``{clickid}``);
- links to this site and to ``site.landing_hosts`` carry the visitor's tags.

``index.php`` and other ``.php`` pages are served with their PHP removed; a ``.php`` file of code
only is never served. Pages named ``*.jinja``/``*.j2`` (and ``site.jinja`` globs) are Jinja
templates: ``{{ leadkit_form() }}`` places leadkit's order form, ``tags`` holds the visitor's
tags, ``landing_url(url)`` adds them to a link, ``prices`` the offer's prices per country
(``offer.geo``), ``lang`` and ``dir`` the customer's language. ``[[landing]]`` tables put several kits, each with
its own offer, on one server, by path prefix or host (:class:`Site`). Behind nginx, set
``site.trusted_proxies = 1``.

.. warning:: Whatever sits in ``site.pages`` is public, except what is never served: dotfiles and
   dot-folders (``.env``, ``.git/``), secrets and server code (:data:`HIDDEN_PATTERNS`), the
   configuration file and the journal. They answer 404 like a missing page, and :func:`make_app`
   names them in a WARNING at start-up. Pages answer GET and HEAD only (405 otherwise), and
   ``.php`` paths also POST (an order).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import jinja2
from waitress.server import BaseWSGIServer, create_server
from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from .config import Config
from .guard import host_matches
from .journal import Journal
from .kit import HIDDEN_PATTERNS, KitFolder, Page, charset_of, html_language, is_hidden, read_text
from .kitpage import Refill, hostname, rewrite_page
from .landings import Landing
from .logs import logger
from .middleware import LeadKit
from .pixels import inject
from .tags import url_with_tags
from .templating import make_environment
from .wire import Connections

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["HIDDEN_PATTERNS", "PagesApp", "Site", "is_hidden", "make_app", "make_server"]

log = logger("leadkit.server")

#: Waitress' limits for the standalone server without nginx: a thousand open connections (idle ones
#: cost a socket, not a thread), polled rather than select()ed (select stops at 1024 descriptors),
#: and a connection silent for 30 s closed, checked every 10 s, so idle sockets cannot lock visitors out.
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 30
CLEANUP_INTERVAL = 10
_NOT_FOUND = "<!doctype html><title>Not found</title><h1>Not found</h1>"


class PagesApp:
    """Serves one folder of landing pages (one landing) at ``prefix``.

    Hidden files (:func:`is_hidden`, and the ``private`` paths: the configuration file, the
    journal) answer 404 like a missing page. Pages answer GET and HEAD; a POST to a ``.php`` path
    is the kit's JavaScript sending an order, answered by the middleware as one
    (:meth:`LeadKit.kit_order`); anything else gets 405, with a hint in the log.
    """

    def __init__(self, folder: Path, templates: Path | None = None, landing_hosts: tuple[str, ...] = (), *,
                 private: tuple[Path, ...] = (), order_path: str | None = None, jinja: Iterable[str] = (),
                 thanks: str | None = None, name: str = "", prefix: str = "/") -> None:
        self.kit = KitFolder(folder, jinja=jinja, thanks=thanks, private=private)
        self.folder = self.kit.folder
        self.environment = make_environment(self.folder, templates)
        self.landing_hosts = landing_hosts
        self.order_path = order_path
        self.name = name
        self.prefix = prefix
        self._posted_to: set[str] = set()

    @property
    def thanks_path(self) -> str | None:
        """The kit's thank-you page as a URL path under this landing, if it has one."""
        return f"{self.prefix}{self.kit.thanks}" if self.kit.thanks else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request, refill: Refill | None = None) -> Response:
        path = self.relative(request.path)
        if request.method == "POST" and path is not None and path.lower().endswith(".php"):
            kit: LeadKit | None = request.environ.get("leadkit")
            if kit is not None:
                return kit.kit_order(request, self.name)
        if request.method not in ("GET", "HEAD"):
            return self.not_allowed(request)
        page = self.kit.resolve(path) if path is not None else None
        if page is None:
            return self.not_found(request)
        if page.kind == "static":
            try:
                return send_from_directory(self.folder, page.name, request.environ, max_age=3600)
            except NotFound:
                return self.not_found(request)
        return self.render(page, request, refill)

    def relative(self, path: str) -> str | None:
        """The part of a URL path under this landing's prefix, or None when it lies elsewhere."""
        if self.prefix == "/":
            return path
        if path == self.prefix.rstrip("/"):
            return ""
        return path[len(self.prefix) - 1:] if path.startswith(self.prefix) else None

    # -- pages ----------------------------------------------------------------

    def render(self, page: Page, request: Request, refill: Refill | None = None) -> Response:
        """A page as served: a kit's page as it is (PHP removed) or a template rendered, then its
        forms, hidden tags and links rewritten for this visitor."""
        kit: LeadKit | None = request.environ.get("leadkit")
        encoding = "utf-8"
        cache = "private, no-cache"
        if page.kind == "jinja":
            html = self.render_template(page, request, kit)
            if html is None:
                return Response("<h1>This page is being fixed</h1>", 503, mimetype="text/html")
        elif page.php is not None:
            html, _, encoding = page.php
        else:
            text = read_text(page.path)
            if text is None:
                return self.not_found(request)
            html, encoding = text
        if kit is not None:
            base = request.path if refill is not None else None
            html = rewrite_page(html, request.path, kit.kit_rewrite(request.environ, self.name, refill=refill,
                                                                   base_href=base, language=html_language(html)))
            if page.name == self.kit.thanks:  # the [pixels], the first time it is shown for the visitor's lead
                pixels, _ = kit.thanks_pixels(request, None)  # a kit's page has no CSP of leadkit's
                if pixels:
                    html, cache = inject(html, pixels), "no-store"  # a copy with the pixels is never shown again
        charset = charset_of(encoding)
        body = html.encode(encoding, "xmlcharrefreplace")
        mimetype = "text/html" if page.kind in ("php", "jinja") else (mimetypes.guess_type(page.name)[0] or "text/html")
        # Each visitor's copy carries their tags and a fresh form token: never cached for another.
        return Response(body, 200, content_type=f"{mimetype}; charset={charset}", headers={"Cache-Control": cache})

    def render_template(self, page: Page, request: Request, kit: LeadKit | None) -> str | None:
        tags: dict[str, str] = request.environ.get("leadkit.tags", {})
        context: dict[str, Any] = {
            "tags": tags,
            "mount": kit.mount if kit else "",
            "leadkit_form": (lambda: kit.form_html(request.environ, landing=self.name)) if kit else (lambda: ""),
            "landing_url": lambda url: url_with_tags(url, tags),
            "request_path": request.path,
        }
        if kit is not None:
            landing = kit.landing(self.name)
            texts = kit.texts_for(request, landing)
            # offer.geo, as the customer reads it: {"pt": {"price": 39, "price_text": "39 €", ...}}
            context["prices"] = {code: price.as_dict(texts.language) for code, price in landing.config.offer.geo.items()}
            context.update(lang=texts.language, dir=texts.dir)
        if kit is not None and page.name == self.kit.thanks:
            context.update(kit.thanks_context(request))
        try:
            return self.environment.get_template(page.name).render(**context)
        except jinja2.TemplateError:
            log.exception("page %s could not be rendered", page.name)
            return None

    def not_found(self, request: Request) -> Response:
        return Response(_NOT_FOUND, 404, mimetype="text/html")

    def not_allowed(self, request: Request) -> Response:
        """405 for anything but GET and HEAD, with a hint for the operator whose form posts to a page."""
        if request.path not in self._posted_to and len(self._posted_to) < 100:  # a hint, not a flood
            self._posted_to.add(request.path)
            log.warning("%s %r: pages answer GET and HEAD only (405); orders go to %s", request.method[:10],
                        request.path[:200], self.order_path or "the order route of leadkit's middleware")
        return Response("<!doctype html><title>Not allowed</title><h1>This page can only be viewed</h1>", 405,
                        mimetype="text/html", headers={"Allow": "GET, HEAD"})


class Site:
    """Every landing of one server: ``[[landing]]`` tables by host, then by path prefix (the longest
    first), then the default landing (``site.pages``, the name ``""``)."""

    def __init__(self, landings: Iterable[PagesApp], hosts: dict[str, str], default: PagesApp | None) -> None:
        self.landings = {app.name: app for app in landings}
        self.hosts = hosts  # host pattern -> landing name
        self.default = default
        self._by_path = sorted((a for a in self.landings.values() if a.prefix != "/" and a.name not in hosts.values()),
                               key=lambda a: -len(a.prefix))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        app = self.landing_for(request.host, request.path)
        if app is None:
            return Response(_NOT_FOUND, 404, mimetype="text/html")(environ, start_response)
        return app.respond(request)(environ, start_response)

    def landing_for(self, host: str, path: str) -> PagesApp | None:
        name = hostname(host)
        for pattern, landing in self.hosts.items():
            if host_matches(name, pattern):
                return self.landings[landing]
        for app in self._by_path:
            if app.relative(path) is not None:
                return app
        return self.default

    def page_again(self, request: Request, landing: str, path: str, refill: Refill) -> Response | None:
        """The kit's page at ``path`` shown again for ``refill`` (an order with errors), or None when
        that page is gone."""
        app = self.landings.get(landing) or self.default
        relative = app.relative(path) if app else None
        page = app.kit.resolve(relative) if app and relative is not None else None
        if app is None or page is None or page.kind == "static":
            return None
        environ = {**request.environ, "PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
        return app.render(page, Request(environ), refill)

    def thanks_path(self, landing: str) -> str | None:
        app = self.landings.get(landing) or (self.default if not landing else None)
        return app.thanks_path if app else None


def make_app(config: Config, *, journal: Journal | None = None, http: Connections | None = None) -> LeadKit:
    """The standalone application: ``site.pages`` and every ``[[landing]]`` served behind the middleware."""
    if config.site.pages is None and not any(landing.pages for landing in config.landings):
        raise ValueError("site.pages names no folder: the standalone server needs landing pages to serve")
    private = _private_paths(config)
    order_path = f"{config.site.mount}/order"

    def pages(landing: Landing | None) -> PagesApp | None:
        settings = config.for_landing(landing).site
        if settings.pages is None:
            return None
        app = PagesApp(settings.pages, settings.templates, settings.landing_hosts, private=private,
                       order_path=order_path, jinja=settings.jinja, thanks=settings.thanks,
                       name=landing.name if landing else "", prefix=landing.path or "/" if landing else "/")
        hidden, scripts = app.kit.unserved()
        where = f"landing {landing.name!r}" if landing else "site.pages"
        if scripts:  # every kit has one: what it is for is leadkit's job now
            log.info("%s: the kit's PHP scripts are never served, and orders posted to them are taken by leadkit: "
                     "%s", where, ", ".join(scripts[:20]) + (f" and {len(scripts) - 20} more" if len(scripts) > 20
                                                             else ""))
        if hidden:
            log.warning("%s (%s) holds %d file(s) that will not be served (they answer 404): %s; keep "
                        "configuration, code and data outside the pages folder",
                        where, app.folder, len(hidden),
                        ", ".join(hidden[:100]) + (f" and {len(hidden) - 100} more" if len(hidden) > 100 else ""))
        return app

    apps = [app for app in (pages(landing) for landing in config.landings) if app is not None]
    hosts = {landing.host: landing.name for landing in config.landings if landing.host}
    site = Site(apps, hosts, pages(None))
    kit = LeadKit(site, config, journal=journal, http=http)
    kit.site_pages = site
    return kit


def _private_paths(config: Config) -> tuple[Path, ...]:
    """The configuration file, and the journal with its companions: never served, whatever their names."""
    journal = config.journal.path
    companions = (journal.with_name(journal.name + end) for end in ("-wal", "-shm", "-journal"))
    return (journal, *companions, *((Path(config.source),) if config.source else ()))


def make_server(app: WSGIApplication, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
                max_body: int = 16384) -> BaseWSGIServer:
    """A waitress server for ``app``; ``.effective_port`` is the bound port, ``.run()`` serves.

    Waitress refuses a body whose Content-Length passes its limit with 413 before reading it;
    the limit is left a little above ``site.max_body`` so that leadkit's own, friendlier 413
    answers the near misses. leadkit reads ``X-Forwarded-For`` itself, by its own rule. Idle
    and slow connections are bounded (:data:`CONNECTION_LIMIT`, :data:`CHANNEL_TIMEOUT`); in
    production, nginx in front buffers slow clients and takes the many connections.
    """
    server = create_server(app, host=host, port=port, threads=threads, ident="leadkit",
                           clear_untrusted_proxy_headers=False, max_request_body_size=max_body * 4,
                           connection_limit=CONNECTION_LIMIT, channel_timeout=CHANNEL_TIMEOUT,
                           cleanup_interval=CLEANUP_INTERVAL, asyncore_use_poll=True)
    if not isinstance(server, BaseWSGIServer):  # waitress makes one of those per address it listens on
        raise TypeError(f"waitress made a {type(server).__name__} for {host}:{port}; give one host and port")
    return server
