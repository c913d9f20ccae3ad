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

.. warning:: Whatever sits in ``site.pages`` is public, except what is
   never served: dotfiles and dot-folders (``.env``, ``.git/``), secrets and
   server code (:data:`HIDDEN_PATTERNS`: ``*.toml``, ``*.py``, ``*.db``,
   ``*.log``, editors' backups...), the configuration file and the journal.
   They answer 404 like a missing page, and :func:`make_app` names them in a
   WARNING at start-up. Pages answer GET and HEAD only (405 otherwise).
"""

from __future__ import annotations

import fnmatch
import mimetypes
import os
import re
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
from .logs import logger
from .middleware import LeadKit
from .templating import make_environment
from .tags import url_with_tags

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["HIDDEN_PATTERNS", "PagesApp", "is_hidden", "make_app", "make_server"]

log = logger("leadkit.server")

#: File names (lower-cased) under ``site.pages`` that are never served, in any folder: configuration
#: and secrets, server code, databases with their companions, logs, editors' and tools' leftovers.
HIDDEN_PATTERNS = (
    "*.toml", "*.env", "*.ini", "*.cfg", "*.conf", "*.pem", "*.key",
    "*.py", "*.pyc", "*.pyo", "*.php", "*.sql",
    "*.db", "*.sqlite*", "*-wal", "*-shm", "*-journal",
    "*.log", "*.log.*", "*.bak", "*~", "*.swp", "*.orig",
)
_HIDDEN_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in HIDDEN_PATTERNS))
#: Waitress' limits for the standalone server without nginx: a thousand open connections (idle ones
#: cost a socket, not a thread), polled rather than select()ed (select stops at 1024 descriptors),
#: and a connection silent for 30 s closed, checked every 10 s, so idle sockets cannot lock visitors out.
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT = 30
CLEANUP_INTERVAL = 10


def is_hidden(relative: str) -> bool:
    """Whether a path under ``site.pages`` is never served: a dot in front of any part, or a
    file name of :data:`HIDDEN_PATTERNS`."""
    parts = PurePosixPath(relative).parts
    return any(p.startswith(".") for p in parts) or bool(parts and _HIDDEN_NAME.match(parts[-1].lower()))


class PagesApp:
    """Serves a folder of landing pages; ``.html`` files are rendered with Jinja.

    Hidden files (:func:`is_hidden`, and the ``private`` paths: the configuration
    file, the journal) answer 404 like a missing page. Only GET and HEAD are
    answered; ``order_path`` is where the operator's log hint sends posts.
    """

    def __init__(self, folder: Path, templates: Path | None = None, landing_hosts: tuple[str, ...] = (), *,
                 private: tuple[Path, ...] = (), order_path: str | None = None) -> None:
        self.folder = folder.resolve()
        self.environment = make_environment(self.folder, templates)
        self.landing_hosts = landing_hosts
        self.private = frozenset(p.resolve() for p in private)
        self.order_path = order_path
        self._posted_to: set[str] = set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self.not_allowed(request)
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
            if target.is_file() and target.is_relative_to(self.folder) and not self.hides(candidate, target):
                return candidate
        return None

    def hides(self, name: str, target: Path) -> bool:
        """Whether the file a URL names is never served: by its name, by the name of the file a
        link points at, or because it is the configuration file or the journal."""
        if target in self.private or is_hidden(name):
            return True
        return target.is_relative_to(self.folder) and is_hidden(target.relative_to(self.folder).as_posix())

    def hidden_files(self) -> list[str]:
        """The files under the folder that are never served, relative; a dot-folder as one entry."""
        found = []
        for root, folders, files in os.walk(self.folder):
            here = Path(root).relative_to(self.folder)
            for name in [f for f in folders if f.startswith(".")]:
                folders.remove(name)  # hidden whole: not walked, named once
                found.append(f"{(here / name).as_posix()}/")
            found += [(here / name).as_posix() for name in files
                      if self.hides((here / name).as_posix(), (self.folder / here / name).resolve())]
        return sorted(found)

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

    def not_allowed(self, request: Request) -> Response:
        """405 for anything but GET and HEAD, with a hint for the operator whose form posts to a page."""
        if request.path not in self._posted_to and len(self._posted_to) < 100:  # a hint, not a flood
            self._posted_to.add(request.path)
            log.warning("%s %r: pages answer GET and HEAD only (405); orders go to %s", request.method[:10],
                        request.path[:200], self.order_path or "the order route of leadkit's middleware")
        return Response("<!doctype html><title>Not allowed</title><h1>This page can only be viewed</h1>", 405,
                        mimetype="text/html", headers={"Allow": "GET, HEAD"})


def make_app(config: Config, *, journal: Journal | None = None, session: requests.Session | None = None) -> LeadKit:
    """The standalone application: ``site.pages`` served behind the middleware."""
    if config.site.pages is None:
        raise ValueError("site.pages names no folder: the standalone server needs landing pages to serve")
    pages = PagesApp(config.site.pages, config.site.templates, config.site.landing_hosts,
                     private=_private_paths(config), order_path=f"{config.site.mount}/order")
    hidden = pages.hidden_files()
    if hidden:
        log.warning("site.pages (%s) holds %d file(s) that will not be served (they answer 404): %s; keep "
                    "configuration, code and data outside the pages folder", pages.folder, len(hidden),
                    ", ".join(hidden[:100]) + (f" and {len(hidden) - 100} more" if len(hidden) > 100 else ""))
    return LeadKit(pages, config, journal=journal, session=session)


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
