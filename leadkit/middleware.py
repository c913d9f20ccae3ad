"""``LeadKit``: the WSGI middleware that turns any site into a lead-capture front.

Wrap any WSGI application::

    app.wsgi_app = LeadKit(app.wsgi_app, config="leadkit.toml")          # Flask
    application = LeadKit(get_wsgi_application(), config="leadkit.toml")  # Django

Requests under ``site.mount`` (``/leadkit`` by default) are leadkit's own:
``POST /leadkit/order``, ``GET /leadkit/form``, ``GET /leadkit/thanks`` and
``GET /leadkit/health``. Everything else goes to the wrapped application
untouched, except that a visit whose query string carries tags (``utm_*``,
``subid``, ``sub1``...) gets them saved in a signed cookie for the order.
The wrapped application finds the visitor's tags in ``environ["leadkit.tags"]``
and the middleware in ``environ["leadkit"]`` (``form_html(environ)`` renders
the order form for its pages).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import requests
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Request, Response

from . import __version__
from .config import Config, load_config
from .journal import Entry, SQLiteJournal
from .lead import Lead
from .network import Answer, NetworkClient
from .order import FormField, Order, form_fields, read_order
from .outcome import Reply, reply_for, safe_redirect
from .relay import Courier, Relay, RetryPolicy, new_owner
from .payload import build_payload
from .render import make_environment
from .tags import TagCookie, merge_tags, tags_from_pairs, tags_from_query_string, tags_from_referer
from .texts import TEXTS
from .visitor import make_visitor

__all__ = ["LeadKit"]

log = logging.getLogger("leadkit")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
MAX_FORM_BYTES = 16 * 1024


class _Request(Request):
    """Requests to leadkit's own routes: small bodies only."""

    max_content_length = MAX_FORM_BYTES
    max_form_memory_size = MAX_FORM_BYTES
    max_form_parts = 200


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
        site = self.config.site
        self.mount = site.mount
        self.templates = make_environment(site.templates)
        self.network = NetworkClient(self.config.network, session=session, user_agent=f"leadkit/{__version__}")
        journal = self.config.journal
        self.journal = SQLiteJournal(journal.path)
        self.courier = Courier(self.journal, self.network.send, RetryPolicy(journal.retry_base, journal.retry_cap),
                               lease=journal.lease)
        self.relay = Relay(self.courier, poll=journal.poll, max_age=journal.max_age)
        self.call = self.config.network.call_url().rsplit("/", 2)[-2] + "/" + \
            self.config.network.call_url().rsplit("/", 1)[-1].removesuffix(".json")
        self.tag_names = self.config.tags.names
        self.tag_cookie = TagCookie(site.secret, self.tag_names, name=self.config.tags.cookie,
                                    days=self.config.tags.days)
        self._routes: dict[str, tuple[str, Callable[[Request], Response]]] = {
            f"{self.mount}/order": ("POST", self.order),
            f"{self.mount}/form": ("GET", self.form_page),
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
        request = _Request(environ)
        method, view = self._routes.get(request.path, (None, None))
        if view is None:
            return self._message_page(request, 404, TEXTS["not_found"])
        if request.method not in (method, "HEAD" if method == "GET" else method):
            response = self._message_page(request, 405, f"Use {method} here.")
            response.headers["Allow"] = method
            return response
        try:
            return view(request)
        except HTTPException as exc:  # oversized or unreadable bodies
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

    def order_tags(self, request: Request) -> dict[str, str]:
        """Tags for an order: cookie, then hidden fields; failing both, a same-origin Referer."""
        hidden = tags_from_pairs(request.form.items(multi=True), self.tag_names, self.config.tags.aliases)
        tags = merge_tags(self._cookie_tags(request.environ), hidden)
        if tags:
            return tags
        return tags_from_referer(request.referrer, request.host, self.tag_names, self.config.tags.aliases)

    # -- views ----------------------------------------------------------------

    def order(self, request: Request) -> Response:
        """``POST {mount}/order``: validate, send, answer."""
        order, errors, values = read_order(request.form, self.config)
        tags = self.order_tags(request)
        if order is None:
            reply = Reply(422, message=TEXTS["form_has_errors"], errors=errors)
            return self._reply(request, reply, values, tags)
        visitor = make_visitor(request.remote_addr, request.headers.get("X-Forwarded-For"),
                               request.user_agent.string, self.config.site.trusted_proxies)
        lead = Lead(order=order, visitor=visitor, tags=tags)
        entry = Entry(id=lead.id, call=self.call, payload=build_payload(lead, self.config),
                      fingerprint=self._fingerprint(order), created=lead.created)
        owner = new_owner()
        journal = self.config.journal
        stored, created = self.journal.add(entry, owner=owner, lease=journal.lease, window=journal.double_submit)
        if created:
            stored = self.courier.attempt(stored, owner)
        else:
            log.info("lead %s: the same order again within %g s (a double submit): no new lead", stored.id,
                     journal.double_submit)
            stored = self._settled(stored)
        return self._reply(request, self._customer_reply(stored, request), values, tags)

    def _fingerprint(self, order: Order) -> str:
        """The double-submit key: the same person ordering the same thing. Keyed, so that the
        journal does not hold a bare hash of a phone number (phones are easy to enumerate)."""
        facts = [self.config.offer.offer, order.phone.digits, order.name.casefold(), sorted(order.details.items())]
        return hmac.new(self.config.site.secret.encode(), json.dumps(facts).encode(), hashlib.sha256).hexdigest()

    def _settled(self, entry: Entry) -> Entry:
        """Wait while another request's attempt on this lead is under way, within the time budget."""
        deadline = time.monotonic() + self.config.network.timeout + 1
        while entry.state == "pending" and entry.lease_owner and time.monotonic() < deadline:
            time.sleep(0.05)
            entry = self.journal.get(entry.id) or entry
        return entry

    def _customer_reply(self, entry: Entry, request: Request) -> Reply:
        """Delivered: autologin or thanks; refused: the form again; otherwise the lead is safe in the journal."""
        thanks = self.thanks_url(request)
        if entry.state == "delivered":
            return Reply(303, redirect=safe_redirect(entry.redirect) or thanks)
        if entry.state == "rejected":
            return reply_for(Answer("rejected", error=entry.error_code, message=entry.error_message), thanks)
        return Reply(303, redirect=thanks)

    def form_page(self, request: Request) -> Response:
        """``GET {mount}/form``: the order form as a page of its own (iframes, quick checks)."""
        fresh = self._query_tags(request.environ)
        tags = merge_tags(self._cookie_tags(request.environ), fresh)
        response = self._page("order.html", {"form": self._form(tags=tags)}, 200)
        if fresh:
            response.headers.add("Set-Cookie", self._tag_cookie_header(request.environ, tags))
        return response

    def thanks(self, request: Request) -> Response:
        """``GET {mount}/thanks``: the thank-you page (after a post/redirect/get)."""
        return self._page("thanks.html", {"texts": TEXTS}, 200)

    def health(self, request: Request) -> Response:
        """``GET {mount}/health``: for load balancers."""
        stats = self.journal.stats()
        body = {"status": "ok", "version": __version__, "role": self.config.network.role,
                "leads": stats["counts"], "oldest_pending_age": stats["oldest_pending_age"]}
        return Response(json.dumps(body), 200, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    def thanks_url(self, request: Request) -> str:
        return f"{request.script_root}{self.mount}/thanks"

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
            tags=dict(tags), hidden={}, message=message, message_kind="error" if message else "info",
            texts={"title": form.title, "submit": form.submit, "note": form.note},
        )

    def _reply(self, request: Request, reply: Reply, values: Mapping[str, str], tags: Mapping[str, str]) -> Response:
        if _wants_json(request):
            if reply.ok:
                body: dict[str, Any] = {"status": "ok", "redirect": reply.redirect}
            else:
                body = {"status": "error", "errors": dict(reply.errors), "message": reply.message}
            return Response(json.dumps(body), reply.status if not reply.ok else 200, mimetype="application/json",
                            headers={"Cache-Control": "no-store"})
        if reply.ok:
            return Response("", 303, headers={"Location": reply.redirect, "Cache-Control": "no-store"})
        form = self._form(tags=tags, values=values, errors=reply.errors, message=reply.message,
                          script_root=request.script_root)
        response = self._page("order.html", {"form": form}, reply.status)
        if reply.status == 503:
            response.headers["Retry-After"] = "30"
        return response

    def _message_page(self, request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return Response(json.dumps({"status": "error", "errors": {}, "message": message}), status,
                            mimetype="application/json")
        return self._page("message.html", {"message": message, "status": status}, status)

    def _page(self, name: str, context: dict[str, Any], status: int) -> Response:
        html = self.templates.get_template(name).render(**context)
        response = Response(html, status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        return response

@dataclass(frozen=True)
class _Form:
    """What form.html reads; the template documents each attribute."""

    action: str
    fields: list[FormField]
    tags: dict[str, str]
    hidden: dict[str, str]
    message: str | None
    message_kind: str
    texts: dict[str, str]


def _wants_json(request: Request) -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _latin1_to_text(value: str) -> str:
    """WSGI hands over the query string as latin-1 decoded bytes; browsers send UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value
