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
import os
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from . import __version__
from .compress import gzip_response
from .config import CALLS, Config
from .config_file import load_config
from .desk import OrderDesk, OrderResult, Submission
from .followup import Upkeep, make_courier, make_followup
from .errors import FormError
from .formdata import read_form
from .formtoken import FormTokens
from .guard import cors_headers, ignored_proxy_hops, origin_of
from .health import check_health, token_access
from .journal import Journal, open_journal
from .kitfields import map_fields
from .kitorders import LANDING_FIELD, LANGUAGE_FIELD, PAGE_FIELD, KitPages, is_script, kit_rewrite, refill_for
from .kitpage import Refill, Rewrite
from .landings import Landing
from .lead import LeadIds
from .logs import logger
from .network import NetworkClient
from .pages import Pages, PlainPage, json_accepted, json_response, wants_json
from .pixels import csp_sources, pixels_for, snippet
from .recent import Recent
from .relay import Relay
from .tags import merge_tags
from .templating import make_environment, template_source
from .i18n import available, choose_language
from .texts import Texts
from .visitor import Visitor
from .visits import Visits
from .wire import Connections

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["LeadKit"]

log = logger("leadkit")

#: Any WSGI application (the wrapped site).
WSGIApp = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]
@dataclass(frozen=True)
class LandingDesk:
    """One landing's share of the middleware: its configuration, its desk and its form pages."""

    name: str
    config: Config
    desk: OrderDesk
    pages: Pages


#: The sentence embed.js shows when it cannot reach leadkit, as the script has it: replaced by the visitor's.
_EMBED_FAILED = '"We could not reach the order service. Please check your connection and try again."'


def _form_target(environ: WSGIEnvironment) -> str | None:
    """Where the form page's order goes on: framed by a prelanding, in the whole window (``_top``), so
    that the autologin cabinet or the thank-you page is not squeezed into the frame."""
    return "_top" if environ.get("HTTP_SEC_FETCH_DEST") == "iframe" else None


def _refused_body(exc: HTTPException, texts: Texts) -> str:
    """The sentence for a body werkzeug refused: too large (413), or unreadable."""
    return texts("too_large") if exc.code == 413 else texts("bad_request")


class LeadKit:
    """WSGI middleware: captures tags on the way in, serves the order form and sends leads.

    ``config`` is a path to a TOML file, a :class:`~leadkit.config.Config`, or
    None (then ``LEADKIT_CONFIG`` names the file). Keyword arguments are whole
    sections (``network={"key": ...}``) that override the file. ``journal``
    is either such a section (a mapping: ``journal={"path": ...}``) or a
    :class:`~leadkit.journal.Journal` object used instead of the SQLite journal
    at ``journal.path`` (storage of your own, shared by several machines);
    ``http`` replaces the connections (:class:`leadkit.wire.Connections`) used for the network.

    :meth:`close` (or leaving a ``with LeadKit(...) as kit:`` block) stops the
    relay thread, closes the journal, and closes the network connections leadkit made.
    """

    def __init__(self, app: WSGIApplication, config: str | os.PathLike[str] | Config | None = None, *,
                 journal: Journal | Mapping[str, Any] | None = None, http: Connections | None = None,
                 **sections: Mapping[str, Any]) -> None:
        if isinstance(journal, Mapping):  # the [journal] section, like any other section keyword
            sections, journal = {**sections, "journal": journal}, None
        self.app = app
        self.config = config if isinstance(config, Config) else load_config(config, **sections)
        site, settings = self.config.site, self.config.journal
        self.mount = site.mount
        self.templates = make_environment(site.templates)
        self.network = NetworkClient(self.config.network, http, user_agent=f"leadkit/{__version__}")
        self.journal: Journal = journal if journal is not None else open_journal(settings)
        #: After the order: statuses, postbacks, conversion events (:mod:`leadkit.followup`).
        self.followup = make_followup(self.config, self.journal, self.network)
        self.courier = make_courier(self.config, self.journal, self.network.send, self.followup)
        self.relay = Relay(self.courier, poll=settings.poll, max_age=settings.max_age,
                           also=(*self.followup.work, Upkeep(self.journal, self.config)))
        #: Lead ids on a node the journal gives this process (:class:`~leadkit.lead.LeadIds`).
        self.lead_ids = LeadIds(self._node)
        self.visits = Visits(self.config)
        self.tokens = FormTokens(site.secret, site.token_max_age)
        self.landings = {desk.name: desk for desk in map(self._landing_desk, (None, *self.config.landings))}
        self.pages = self.landings[""].pages
        self.desk = self.landings[""].desk
        #: The standalone server's kits (set by :func:`leadkit.server.make_app`): pages shown again with errors,
        #: thank-you pages.
        self.site_pages: KitPages | None = None
        self.embed_js = template_source(self.templates, "embed.js")  # JavaScript, served as it is
        self.languages = available(site.locale_dir)
        self._texts: dict[str, Texts] = {}
        #: The texts chosen for (landing, page language, Accept-Language): the choice is pure.
        self._chosen: Recent[tuple[str, str | None, str | None], Texts] = Recent(1024)
        self._closed = False
        self._warned_of_proxy = False
        self._form_path = f"{self.mount}/form"
        self._routes: dict[str, tuple[str, Callable[[Request], Response]]] = {
            f"{self.mount}/order": ("POST", self.order),
            self._form_path: ("GET", self.form_page),
            f"{self.mount}/embed.js": ("GET", self.embed_script),
            f"{self.mount}/thanks": ("GET", self.thanks),
            f"{self.mount}/health": ("GET", self.health),
        }

    def _landing_desk(self, landing: Landing | None) -> LandingDesk:
        config = self.config.for_landing(landing)
        name = landing.name if landing else ""
        desk = OrderDesk(config, self.journal, self.courier, self.tokens, CALLS[config.network.role],
                         send=self.network.send, landing=name, ids=self.lead_ids)
        return LandingDesk(name, config, desk, Pages(config, self.templates, self.tokens))

    def _node(self) -> int:
        """This process's number for its lead ids, from the journal (:class:`~leadkit.lead.LeadIds` asks
        again while the journal cannot say)."""
        return self.journal.node()

    def landing(self, name: str | None) -> LandingDesk:
        """A landing by name; the default one (``""``) for none, or for a name no longer configured."""
        found = self.landings.get(name or "")
        if found is None:
            log.warning("an order names the landing %r, which the configuration no longer has: it is taken for the "
                        "default landing", (name or "")[:40])
            return self.landings[""]
        return found

    def texts_for(self, request: Request | Mapping[str, Any], landing: LandingDesk, page: str | None = None) -> Texts:
        """What this customer reads, in their language (:func:`leadkit.i18n.choose_language`): the
        landing's ``offer.language``, else the ``page``'s own language, else one of the offer's countries'
        (``Accept-Language`` chooses among them). ``request``: the request, or its WSGI environ."""
        environ = request.environ if isinstance(request, Request) else request
        accept = environ.get("HTTP_ACCEPT_LANGUAGE")
        chosen = self._chosen.get((landing.name, page, accept))  # browsers send a few headers, over and over
        if chosen is not None:
            return chosen
        config = landing.config
        language = choose_language(configured=config.offer.language, page=page, countries=config.phone_regions,
                                   accept_language=accept, known=self.languages)
        texts = self._texts.get(language)
        if texts is None:
            texts = self._texts[language] = Texts(language, self.config.site.locale_dir)
        self._chosen.put((landing.name, page, accept), texts)
        return texts

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        """Stop the relay (waiting for an attempt under way), close the journal and leadkit's own
        network connections. Requests after this are still answered, but no relay starts again."""
        self._closed = True
        self.relay.stop(timeout=self.config.network.timeout + self.config.journal.poll + 5)
        self.journal.close()
        self.followup.close()
        self.network.close()

    def __enter__(self) -> LeadKit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.config.journal.relay and not self._closed:
            self.relay.ensure_running()  # lazily, and again in each forked worker
        environ["leadkit"] = self  # the wrapped site's pages (and a kit's page shown again) render with it
        path = environ.get("PATH_INFO", "")
        if path == self.mount or path.startswith(self.mount + "/"):
            if path == self._form_path and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                plain = self._plain_form_page(environ)
                if plain is not None:
                    return plain(environ, start_response)
            request = Request(environ)
            # leadkit's own pages, JSON and script go gzip-compressed to a browser that takes it.
            return gzip_response(request, self._own(request))(environ, start_response)
        return self._pass_through(environ, start_response)

    def _pass_through(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("QUERY_STRING") and self.visits.tag_cookie.name not in environ.get("HTTP_COOKIE", ""):
            environ["leadkit.tags"] = {}  # most requests: no tags in the link, no tag cookie
            return self.app(environ, start_response)
        fresh = self.visits.query_tags(environ)
        kept_tags = self.visits.cookie_tags(environ)
        environ["leadkit.tags"] = tags = merge_tags(kept_tags, fresh)
        clicks = self.visits.query_clicks(environ) if environ.get("QUERY_STRING") else {}
        if not fresh and not clicks:
            return self.app(environ, start_response)
        kept_clicks = self.visits.cookie_clicks(environ)
        all_clicks = merge_tags(kept_clicks, clicks)
        if tags == kept_tags and all_clicks == kept_clicks:  # the cookie holds them already: not signed again
            return self.app(environ, start_response)
        cookie = self.visits.tag_cookie_header(environ, tags, all_clicks)

        def start_with_cookie(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Set-Cookie", cookie)], exc_info)

        return self.app(environ, start_with_cookie)

    def _own(self, request: Request) -> Response:
        self._limit_body(request)
        method, view = self._routes.get(request.path, ("", None))
        if view is None:
            texts = self.texts_for(request, self.landings[""])
            return self.pages.message(request, 404, texts("not_found"), texts)
        if request.method == "OPTIONS" and method == "POST":
            return self._preflight(request)
        if request.method not in (method, "HEAD" if method == "GET" else method):
            texts = self.texts_for(request, self.landings[""])
            response = self.pages.message(request, 405, texts("use_method", method=method), texts)
            response.headers["Allow"] = method
            return response
        try:
            return view(request)
        except HTTPException as exc:  # an oversized or unreadable body
            texts = self.texts_for(request, self.landings[""])
            return self.pages.message(request, exc.code or 400, _refused_body(exc, texts), texts)

    def _limit_body(self, request: Request) -> None:
        """Small bodies only: werkzeug refuses a longer Content-Length before reading anything."""
        request.max_content_length = request.max_form_memory_size = self.config.site.max_body
        request.max_form_parts = 200

    def visit_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The visitor's tags for this request: the cookie's, overridden by the query string's."""
        return self.visits.tags(environ)

    # -- views ----------------------------------------------------------------

    def order(self, request: Request) -> Response:
        """``POST {mount}/order``: read strictly, let the desk decide, answer in HTML or JSON."""
        try:
            fields = read_form(request)
        except FormError as exc:
            texts = self.texts_for(request, self.landings[""])
            return self._with_cors(request, self.pages.message(request, exc.status, texts(exc.key, **exc.values), texts))
        landing = self.landing(fields.get(LANDING_FIELD))
        return self._with_cors(request, self._answer(request, landing, fields, json=wants_json(request)))

    def kit_order(self, request: Request, landing_name: str) -> Response:
        """A landing kit's JavaScript posting an order to its own script (``$.post("order.php")``):
        taken like any order; a script gets JSON, a plain form post a page."""
        self._limit_body(request)
        landing = self.landing(landing_name)
        texts = self.texts_for(request, landing)
        try:
            fields = read_form(request)
        except FormError as exc:
            return landing.pages.message(request, exc.status, texts(exc.key, **exc.values), texts)
        except HTTPException as exc:
            return landing.pages.message(request, exc.code or 400, _refused_body(exc, texts), texts)
        return self._answer(request, landing, fields, json=is_script(request))

    def _answer(self, request: Request, landing: LandingDesk, fields: Mapping[str, str], *, json: bool) -> Response:
        kit_form = PAGE_FIELD in fields or request.path != f"{self.mount}/order"
        mapped = map_fields(fields, self.config.site.form_aliases)
        posted = {**fields, **mapped}
        visitor = self.visits.visitor(request)
        texts = self.texts_for(request, landing, fields.get(LANGUAGE_FIELD))
        self._warn_of_a_forgotten_proxy(visitor, request.headers.get("X-Forwarded-For"))
        extra = tuple(name for name in mapped if kit_form and name not in ("name", "phone", "country"))
        submission = Submission(fields=posted, tags=self.visits.order_tags(request, fields), visitor=visitor,
                                host=request.host, thanks_url=self.thanks_url(request, landing.name),
                                origin=request.headers.get("Origin"), referer=request.headers.get("Referer"),
                                extra_fields=extra, texts=texts, clicks=self.visits.order_clicks(request))
        result = landing.desk.take(submission)
        if json or result.reply.ok or PAGE_FIELD not in fields:
            response = landing.pages.reply(request, result, json=json, texts=texts)
        else:
            response = self._kit_page_again(request, landing, fields, result) or \
                landing.pages.reply(request, result, texts=texts)
        if result.reply.ok and result.lead_id:
            response.headers.add("Set-Cookie", self.visits.lead_cookie_header(request.environ, result.lead_id))
        return response

    def _kit_page_again(self, request: Request, landing: LandingDesk, fields: Mapping[str, str],
                        result: OrderResult) -> Response | None:
        """The kit's own page again, for an order with errors from one of its forms (no JavaScript needed):
        the message beside the form that was sent, what was typed kept, the field with the error focused."""
        again = refill_for(fields, result)
        if self.site_pages is None or again is None:
            return None
        response = self.site_pages.page_again(request, landing.name, *again)
        if response is None:
            return None
        response.status_code = result.reply.status
        response.headers["Cache-Control"] = "no-store"
        if result.reply.status == 503 or result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after or 30)
        return response

    def _plain_form_page(self, environ: WSGIEnvironment) -> PlainPage | None:
        """``GET {mount}/form`` for the plain visit: a page (not JSON), no tags to show or keep. It is
        :meth:`form_page`'s answer (tests/test_middleware.py compares the two), sent without werkzeug's
        request and response; None for any other visit, which :meth:`form_page` answers."""
        if json_accepted(environ.get("HTTP_ACCEPT")) or self.visits.tags(environ):
            return None
        if environ.get("QUERY_STRING") and self.visits.query_clicks(environ):
            return None  # click ids to keep in the tag cookie
        # werkzeug's script_root: SCRIPT_NAME's bytes read as UTF-8, without a trailing slash
        script_root = (environ.get("SCRIPT_NAME") or "").encode("latin-1").decode(errors="replace").rstrip("/")
        return self.pages.plain_form_page(environ, script_root=script_root, target=_form_target(environ),
                                          texts=self.texts_for(environ, self.landings[""]))

    def form_page(self, request: Request) -> Response:
        """``GET {mount}/form``: the order form as a page of its own (iframes, quick checks);
        with ``Accept: application/json``, the form partial as ``{"status": "ok", "html": ...}``
        for ``embed.js`` (CORS per ``site.allowed_origins``)."""
        fresh = self.visits.query_tags(request.environ)
        tags = merge_tags(self.visits.cookie_tags(request.environ), fresh)
        texts = self.texts_for(request, self.landings[""])
        target = _form_target(request.environ)
        if wants_json(request):
            form = self.pages.form(tags=tags, script_root=request.script_root, target=target, texts=texts)
            body = {"status": "ok", "html": self.pages.form_partial(form), "lang": texts.language, "dir": texts.dir}
            response = self._with_cors(request, json_response(body))
            self._warn_of_unlisted_embedder(request, response)
        elif not tags:  # the same page for every such visit but its nonce and token: rendered once
            response = self.pages.form_page(script_root=request.script_root, target=target, texts=texts)
        else:
            form = self.pages.form(tags=tags, script_root=request.script_root, target=target, texts=texts)
            response = self.pages.page("order.html", {"form": form}, 200, texts)
        clicks = self.visits.query_clicks(request.environ)
        if fresh or clicks:
            all_clicks = merge_tags(self.visits.cookie_clicks(request.environ), clicks)
            response.headers.add("Set-Cookie", self.visits.tag_cookie_header(request.environ, tags, all_clicks))
        return response

    def embed_script(self, request: Request) -> Response:
        """``GET {mount}/embed.js``: renders the order form into a ``<div data-leadkit-form>`` of any page."""
        texts = self.texts_for(request, self.landings[""])
        script = self.embed_js.replace(_EMBED_FAILED, json.dumps(texts("unreachable")), 1)
        return Response(script, 200, mimetype="text/javascript",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
                                 "Vary": "Accept-Language"})

    def thanks(self, request: Request) -> Response:
        """``GET {mount}/thanks``: the thank-you page (after a post/redirect/get), with the ``[pixels]``
        the first time it is shown for the visitor's lead."""
        nonce = secrets.token_urlsafe(16)
        pixels, sources = self.thanks_pixels(request, nonce)
        return self.pages.page("thanks.html", {"pixels": Markup(pixels)}, 200,
                               self.texts_for(request, self.landings[""]), nonce=nonce, sources=sources)

    def thanks_pixels(self, request: Request, nonce: str | None) -> tuple[str, Mapping[str, tuple[str, ...]]]:
        """The pixels' snippet for the thank-you page of the visitor's lead, and the sources its CSP must
        allow; nothing when there is no lead, no pixel, or the page was shown for that lead before
        (:meth:`~leadkit.journal.Journal.thank`: a reload or the back button fires nothing again), or
        for a HEAD request (a link checker's: it must not use the pixels up)."""
        lead_id = self.visits.lead_id(request)
        wanted = self.config.pixels
        if request.method != "GET" or lead_id is None or not (wanted.facebook or wanted.tiktok or wanted.google or wanted.yandex or wanted.params):
            return "", {}
        try:
            entry = self.journal.get(lead_id)
            if entry is None or entry.state not in ("pending", "delivered"):
                return "", {}
            pixels = pixels_for(self.config.pixels, entry.clicks)
            if pixels.empty or not self.journal.thank(lead_id):
                return "", {}
        except Exception:  # the journal cannot be read just now: a thank-you without pixels
            log.warning("lead %s: the thank-you page's pixels are left out: the journal cannot be read", lead_id)
            return "", {}
        return snippet(pixels, self.config.pixels, event_id=lead_id, nonce=nonce), csp_sources(pixels)

    def health(self, request: Request) -> Response:
        """``GET {mount}/health``: ``{"status": ...}`` for load balancers (503 while the journal cannot be
        written); with ``Authorization: Bearer <site.health_token>``, the counts too (:mod:`leadkit.health`)."""
        health = check_health(self.journal, time.time())
        access = token_access(request.headers.get("Authorization"), self.config.site.health_token)
        if access is False:
            response = json_response({"status": "unauthorized",
                                      "message": "the bearer token does not match site.health_token"}, 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="leadkit"'
            return response
        body = {"status": health.status}
        if access:
            body.update({"version": __version__, "role": self.config.network.role, **health.details})
        return json_response(body, health.code)

    def thanks_url(self, request: Request, landing: str = "") -> str:
        """Where a customer goes after an order: the landing kit's own thank-you page, else leadkit's."""
        kit_thanks = self.site_pages.thanks_path(landing) if self.site_pages else None
        return f"{request.script_root}{kit_thanks or self.mount + '/thanks'}"

    def thanks_context(self, request: Request) -> dict[str, str]:
        """What a thank-you page that is a template may show: the customer's first name and the lead id,
        for the visitor whose order it was (a signed cookie names the lead)."""
        lead_id = self.visits.lead_id(request)
        if lead_id is None:
            return {}
        try:
            entry = self.journal.get(lead_id)
        except Exception:  # the journal cannot be read just now: a thank-you without the name
            return {"lead_id": lead_id}
        name = str(entry.payload.get("name", "")) if entry else ""
        return {"lead_id": lead_id, "first_name": name.split()[0] if name.split() else ""}

    def _warn_of_unlisted_embedder(self, request: Request, response: Response) -> None:
        """The operator's hint when embed.js runs on a page whose origin the site does not allow."""
        origin = origin_of(request.headers.get("Origin"))
        if origin and "Access-Control-Allow-Origin" not in response.headers \
                and urlsplit(origin).netloc != request.host.lower():
            log.warning("a page on %s asked for the order form (embed.js), but site.allowed_origins does not "
                        "list that origin: the browser will not show the form there", origin)

    def _warn_of_a_forgotten_proxy(self, visitor: Visitor, forwarded_for: str | None) -> None:
        """Once per process: orders come from a proxy of the site's own whose X-Forwarded-For is not read."""
        ignored = ignored_proxy_hops(visitor.ip, forwarded_for, self.config.site.trusted_proxies)
        if ignored and not self._warned_of_proxy:
            self._warned_of_proxy = True
            log.warning("orders reach leadkit from %s, not a public address, with %d more X-Forwarded-For hop(s) that "
                        "site.trusted_proxies = %d does not read: every customer counts as that one address in the "
                        "rate limits (limits.ip_orders) and the network gets it as the customer's IP. Set "
                        "site.trusted_proxies to the number of proxies in front of leadkit (1 for one nginx)",
                        visitor.ip, ignored, self.config.site.trusted_proxies)

    def _preflight(self, request: Request) -> Response:
        """CORS preflight for the JSON mode: origins in ``site.allowed_origins`` only."""
        headers = cors_headers(request.headers.get("Origin"), self.config.site.allowed_origins, preflight=True)
        return Response("", 204 if headers else 403, headers=headers)

    def _with_cors(self, request: Request, response: Response) -> Response:
        for name, value in cors_headers(request.headers.get("Origin"), self.config.site.allowed_origins).items():
            response.headers[name] = value
        return response

    # -- for the wrapped application ------------------------------------------

    def form_html(self, environ: Mapping[str, Any], landing: str | None = None, language: str | None = None) -> Markup:
        """The order form partial for a page of the wrapped application, carrying the visitor's tags;
        ``landing`` names a ``[[landing]]`` whose offer it orders, ``language`` the page's language (by
        default the offer's; see :meth:`texts_for`). Several forms on one page get element ids of their
        own and one copy of the form's CSS."""
        desk = self.landing(landing)
        shown = environ.get("leadkit.forms", 0) if isinstance(environ, dict) else 0
        texts = self.texts_for(environ, desk, language)
        hidden = {LANDING_FIELD: desk.name} if desk.name else {}
        if language:
            hidden[LANGUAGE_FIELD] = language
        form = desk.pages.form(tags=self.visit_tags(environ), script_root=environ.get("SCRIPT_NAME", ""),
                               hidden=hidden, number=shown, texts=texts)
        if isinstance(environ, dict):
            environ["leadkit.forms"] = shown + 1
        return Markup(desk.pages.form_partial(form))

    def kit_rewrite(self, environ: Mapping[str, Any], landing: str, *, refill: Refill | None = None,
                    base_href: str | None = None, language: str | None = None) -> Rewrite:
        """How a landing kit's page is rewritten for this visitor (:func:`leadkit.kitorders.kit_rewrite`);
        ``language`` is the page's ``<html lang>``, which its orders' messages are then written in."""
        root = environ.get("SCRIPT_NAME", "")
        return kit_rewrite(self.config, action=f"{root}{self.mount}/order", path=root + environ.get("PATH_INFO", ""),
                           host=str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""), landing=landing,
                           tags=self.visits.tags(environ), token=self.tokens.issue, refill=refill,
                           base_href=base_href, language=language)
