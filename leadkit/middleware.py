"""``LeadKit``: the WSGI middleware that turns any site into a lead-capture front.

Wrap any WSGI application::

    app.wsgi_app = LeadKit(app.wsgi_app, config="leadkit.toml")          # Flask
    application = LeadKit(get_wsgi_application(), config="leadkit.toml")  # Django

Requests under ``site.mount`` (``/leadkit`` by default) are leadkit's own:
``POST /leadkit/order``, ``GET /leadkit/form``, ``GET /leadkit/embed.js``,
``GET /leadkit/thanks`` and ``GET /leadkit/health``. Everything else goes to the wrapped application
untouched, except that a visit whose query string carries tags (``utm_*``,
``subid``, ``sub1``...) gets them saved in a signed cookie for the order.
The wrapped application finds the visitor's tags in ``environ["leadkit.tags"]``
and the middleware in ``environ["leadkit"]`` (``form_html(environ)`` renders
the order form for its pages).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import requests
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Request, Response

from . import __version__
from .config import Config, load_config
from .errors import FormError
from .formdata import read_form
from .formtoken import TOKEN_FIELD, FormTokens
from .guard import cors_headers, origin_of
from .journal import SQLiteJournal
from .network import NetworkClient
from .form import FormField, form_fields
from .desk import OrderDesk, OrderResult
from .relay import Courier, Relay, RetryPolicy
from .templating import make_environment
from .tags import TagCookie, merge_tags, tags_from_pairs, tags_from_query_string, tags_from_referer
from .texts import TEXTS

__all__ = ["LeadKit"]

log = logging.getLogger("leadkit")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class LeadKit:
    """WSGI middleware: captures tags on the way in, serves the order form and sends leads.

    ``config`` is a path to a TOML file, a :class:`~leadkit.config.Config`, or
    None (then ``LEADKIT_CONFIG`` names the file). Keyword arguments are whole
    sections (``network={"key": ...}``) that override the file. ``session``
    replaces the ``requests.Session`` used for the network.
    """

    def __init__(self, app: WSGIApp, config: str | os.PathLike[str] | Config | None = None, *,
                 session: requests.Session | None = None, **sections: Mapping[str, Any]) -> None:
        self.app = app
        self.config = config if isinstance(config, Config) else load_config(config, **sections)
        site, journal = self.config.site, self.config.journal
        self.mount = site.mount
        self.templates = make_environment(site.templates)
        self.network = NetworkClient(self.config.network, session=session, user_agent=f"leadkit/{__version__}")
        self.journal = SQLiteJournal(journal.path)
        self.courier = Courier(self.journal, self.network.send, RetryPolicy(journal.retry_base, journal.retry_cap),
                               lease=journal.lease)
        self.relay = Relay(self.courier, poll=journal.poll, max_age=journal.max_age)
        self.call = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}[self.config.network.role]
        self.tag_names = self.config.tags.names
        self.tag_cookie = TagCookie(site.secret, self.tag_names, name=self.config.tags.cookie,
                                    days=self.config.tags.days)
        self.tokens = FormTokens(site.secret, site.token_max_age)
        self.embed_js = self.templates.loader.get_source(self.templates, "embed.js")[0]
        self.desk = OrderDesk(self.config, self.journal, self.courier, self.tokens, self.call, self.order_tags)
        self._routes: dict[str, tuple[str, Callable[[Request], Response]]] = {
            f"{self.mount}/order": ("POST", self.order),
            f"{self.mount}/form": ("GET", self.form_page),
            f"{self.mount}/embed.js": ("GET", self.embed_script),
            f"{self.mount}/thanks": ("GET", self.thanks),
            f"{self.mount}/health": ("GET", self.health),
        }

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.config.journal.relay:
            self.relay.ensure_running()  # lazily, and again in each forked worker
        path = environ.get("PATH_INFO", "")
        if path == self.mount or path.startswith(self.mount + "/"):
            return self._own(environ)(environ, start_response)
        return self._pass_through(environ, start_response)

    def _pass_through(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["leadkit"] = self
        fresh = self._query_tags(environ)
        environ["leadkit.tags"] = merge_tags(self._cookie_tags(environ), fresh)
        if not fresh:
            return self.app(environ, start_response)
        cookie = self._tag_cookie_header(environ, environ["leadkit.tags"])

        def start_with_cookie(status: str, headers: list, exc_info: Any = None) -> Callable:
            return start_response(status, [*headers, ("Set-Cookie", cookie)], exc_info)

        return self.app(environ, start_with_cookie)

    def _own(self, environ: dict) -> Response:
        request = Request(environ)
        # Small bodies only: werkzeug refuses a longer Content-Length before reading anything.
        request.max_content_length = request.max_form_memory_size = self.config.site.max_body
        request.max_form_parts = 200
        method, view = self._routes.get(request.path, (None, None))
        if view is None:
            return self._message_page(request, 404, TEXTS["not_found"])
        if request.method == "OPTIONS" and method == "POST":
            return self._preflight(request)
        if request.method not in (method, "HEAD" if method == "GET" else method):
            response = self._message_page(request, 405, f"Use {method} here.")
            response.headers["Allow"] = method
            return response
        try:
            return view(request)
        except HTTPException as exc:  # an oversized or unreadable body
            return self._message_page(request, exc.code or 400, exc.description or TEXTS["bad_request"])

    # -- tags -----------------------------------------------------------------

    def _query_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        query = environ.get("QUERY_STRING", "")
        if not query or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return {}
        return tags_from_query_string(_latin1_to_text(query), self.tag_names, self.config.tags.aliases)

    def _cookie_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        return self.tag_cookie.loads(Request(environ).cookies.get(self.tag_cookie.name))

    def _tag_cookie_header(self, environ: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        return dump_cookie(self.tag_cookie.name, self.tag_cookie.dumps(tags), max_age=self.tag_cookie.max_age,
                           path="/", httponly=True, samesite="Lax", secure=environ.get("wsgi.url_scheme") == "https")

    def visit_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The visitor's tags for this request: the cookie's, overridden by the query string's."""
        if "leadkit.tags" in environ:
            return dict(environ["leadkit.tags"])
        return merge_tags(self._cookie_tags(environ), self._query_tags(environ))

    def order_tags(self, request: Request, fields: Mapping[str, str]) -> dict[str, str]:
        """Tags for an order: cookie, then hidden fields; failing both, a same-origin Referer."""
        hidden = tags_from_pairs(fields.items(), self.tag_names, self.config.tags.aliases)
        tags = merge_tags(self._cookie_tags(request.environ), hidden)
        if tags:
            return tags
        return tags_from_referer(request.referrer, request.host, self.tag_names, self.config.tags.aliases)

    # -- views ----------------------------------------------------------------

    def order(self, request: Request) -> Response:
        """``POST {mount}/order``: read strictly, let the desk decide, answer in HTML or JSON."""
        try:
            fields = read_form(request)
        except FormError as exc:
            return self._with_cors(request, self._message_page(request, exc.status, exc.message))
        result = self.desk.take(request, fields, self.thanks_url(request))
        return self._with_cors(request, self._reply(request, result))

    def form_page(self, request: Request) -> Response:
        """``GET {mount}/form``: the order form as a page of its own (iframes, quick checks);
        with ``Accept: application/json``, the form partial as ``{"status": "ok", "html": ...}``
        for ``embed.js`` (CORS per ``site.allowed_origins``)."""
        fresh = self._query_tags(request.environ)
        tags = merge_tags(self._cookie_tags(request.environ), fresh)
        form = self._form(tags=tags, script_root=request.script_root)
        if request.headers.get("Sec-Fetch-Dest") == "iframe":
            # Framed by a prelanding: the order goes on in the whole window, so that the
            # autologin cabinet or the thank-you page is not squeezed into the frame.
            form = replace(form, target="_top")
        if _wants_json(request):
            html = self.templates.get_template("form.html").render(form=form)
            response = self._with_cors(request, Response(json.dumps({"status": "ok", "html": html}), 200,
                                                         mimetype="application/json",
                                                         headers={"Cache-Control": "no-store"}))
            self._warn_of_unlisted_embedder(request, response)
        else:
            response = self._page("order.html", {"form": form}, 200)
        if fresh:
            response.headers.add("Set-Cookie", self._tag_cookie_header(request.environ, tags))
        return response

    def embed_script(self, request: Request) -> Response:
        """``GET {mount}/embed.js``: renders the order form into a ``<div data-leadkit-form>`` of any page."""
        return Response(self.embed_js, 200, mimetype="text/javascript",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    def thanks(self, request: Request) -> Response:
        """``GET {mount}/thanks``: the thank-you page (after a post/redirect/get)."""
        return self._page("thanks.html", {"texts": TEXTS}, 200)

    def health(self, request: Request) -> Response:
        """``GET {mount}/health``: for load balancers; lead counts by state for the operator."""
        stats = self.journal.stats()
        body = {"status": "ok", "version": __version__, "role": self.config.network.role,
                "leads": stats["counts"], "oldest_pending_age": stats["oldest_pending_age"],
                "counters": stats["counters"]}
        return Response(json.dumps(body), 200, mimetype="application/json", headers={"Cache-Control": "no-store"})

    def thanks_url(self, request: Request) -> str:
        return f"{request.script_root}{self.mount}/thanks"

    def _warn_of_unlisted_embedder(self, request: Request, response: Response) -> None:
        """The operator's hint when embed.js runs on a page whose origin the site does not allow."""
        origin = origin_of(request.headers.get("Origin"))
        if origin and "Access-Control-Allow-Origin" not in response.headers \
                and urlsplit(origin).netloc != request.host.lower():
            log.warning("a page on %s asked for the order form (embed.js), but site.allowed_origins does not "
                        "list that origin: the browser will not show the form there", origin)

    def _preflight(self, request: Request) -> Response:
        """CORS preflight for the JSON mode: origins in ``site.allowed_origins`` only."""
        headers = cors_headers(request.headers.get("Origin"), self.config.site.allowed_origins, preflight=True)
        return Response("", 204 if headers else 403, headers=headers)

    def _with_cors(self, request: Request, response: Response) -> Response:
        for name, value in cors_headers(request.headers.get("Origin"), self.config.site.allowed_origins).items():
            response.headers[name] = value
        return response

    # -- rendering ------------------------------------------------------------

    def form_html(self, environ: Mapping[str, Any]) -> Markup:
        """The order form partial for a page of the wrapped application, carrying the visitor's tags."""
        template = self.templates.get_template("form.html")
        return Markup(template.render(form=self._form(tags=self.visit_tags(environ),
                                                      script_root=environ.get("SCRIPT_NAME", ""))))

    def _form(self, *, tags: Mapping[str, str], values: Mapping[str, str] | None = None,
              errors: Mapping[str, str] | None = None, message: str | None = None,
              script_root: str = "") -> "_Form":
        form = self.config.form
        return _Form(
            action=f"{script_root}{self.mount}/order",
            fields=form_fields(self.config, values, errors),
            tags=dict(tags), hidden={TOKEN_FIELD: self.tokens.issue()}, honeypot=self.config.site.honeypot,
            message=message, message_kind="error" if message else "info",
            texts={"title": form.title, "submit": form.submit, "note": form.note},
        )

    def _reply(self, request: Request, result: OrderResult) -> Response:
        reply = result.reply
        if _wants_json(request):
            if reply.ok:
                body: dict[str, Any] = {"status": "ok", "redirect": reply.redirect}
            else:
                body = {"status": "error", "errors": dict(reply.errors), "message": reply.message}
            response = Response(json.dumps(body), 200 if reply.ok else reply.status, mimetype="application/json",
                                headers={"Cache-Control": "no-store"})
        elif reply.ok:
            response = Response("", 303, headers={"Location": reply.redirect, "Cache-Control": "no-store"})
        else:
            form = self._form(tags=result.tags, values=result.values, errors=reply.errors, message=reply.message,
                              script_root=request.script_root)
            response = self._page("order.html", {"form": form}, reply.status)
        if reply.status == 503:
            response.headers["Retry-After"] = "30"
        elif result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after)
        return response

    def _message_page(self, request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return Response(json.dumps({"status": "error", "errors": {}, "message": message}), status,
                            mimetype="application/json", headers={"Cache-Control": "no-store"})
        return self._page("message.html", {"message": message, "status": status}, status)

    def _page(self, name: str, context: dict[str, Any], status: int) -> Response:
        nonce = secrets.token_urlsafe(16)
        html = self.templates.get_template(name).render(csp_nonce=nonce, **context)
        response = Response(html, status, mimetype="text/html")
        response.headers.update(_security_headers(nonce, self.config.site.allowed_origins))
        return response


def _security_headers(nonce: str, allowed_origins: Iterable[str]) -> dict[str, str]:
    """Headers for leadkit's own pages. The form may be framed by the site and the allowed
    origins (prelandings); form-action allows any http(s) target because the post is
    answered by a redirect to the network's autologin page, which CSP also checks."""
    ancestors = " ".join(["'self'", *allowed_origins])
    policy = (f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
              f"form-action 'self' http: https:; frame-ancestors {ancestors}; base-uri 'none'")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class _Form:
    """What form.html reads; the template documents each attribute."""

    action: str
    fields: list[FormField]
    tags: dict[str, str]
    hidden: dict[str, str]
    honeypot: str
    message: str | None
    message_kind: str
    texts: dict[str, str]
    target: str | None = None


def _wants_json(request: Request) -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _latin1_to_text(value: str) -> str:
    """WSGI hands over the query string as latin-1 decoded bytes; browsers send UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value
