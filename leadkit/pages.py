"""leadkit's own responses: the order form, the pages around it, and the answer to a post.

:class:`Pages` renders the Jinja templates (:mod:`leadkit.templating`) into
werkzeug responses, as HTML or, for ``Accept: application/json`` (``embed.js``),
as JSON. Every HTML page gets a nonce-based Content-Security-Policy; nothing
here decides anything: the desk's :class:`~leadkit.desk.OrderResult` says
what to show.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import jinja2
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Request, Response

from .config import Config
from .desk import OrderResult
from .form import FormField, chosen_regions, form_fields
from .geo import geo_price
from .phone import dialling_code, local_example
from .recent import Recent
from .texts import Texts, english
from .formtoken import TOKEN_FIELD, FormTokens
from .compress import gzip_choice

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["OrderForm", "Pages", "PlainPage", "gettext_context", "json_accepted", "wants_json"]


@dataclass(frozen=True)
class OrderForm:
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
    #: The prefix of the form's element ids ("lk", "lk2"...), and whether it brings the form's CSS: the
    #: second form on a page has ids of its own and leaves the CSS to the first.
    id: str = "lk"
    with_style: bool = True
    #: The country choice of a multi-country offer: (code, name, dialling code, local example, hint, price,
    #: old price) per country, in the offer's order; empty for an offer of one country.
    countries: tuple[tuple[str, str, str, str, str, str, str], ...] = ()
    country: str = ""
    #: The chosen country's price and old price as the customer reads them (``offer.geo``), if it has one.
    price: str = ""
    old_price: str = ""


class Pages:
    """Renders leadkit's pages for one configuration."""

    def __init__(self, config: Config, templates: jinja2.Environment, tokens: FormTokens) -> None:
        self.config = config
        self.templates = templates
        self.tokens = tokens
        self.action = f"{config.site.mount}/order"
        # Where each form page's nonce and token go in a page rendered once (:meth:`form_page`): hex,
        # so that escaping leaves them as they are, and random, so that no page's text holds them.
        self._nonce_mark, self._token_mark = (f"lkmark{secrets.token_hex(12)}" for _ in range(2))
        self._nonce_bytes, self._token_bytes = self._nonce_mark.encode(), self._token_mark.encode()
        self._marks = re.compile(b"(" + self._nonce_bytes + b"|" + self._token_bytes + b")")
        self._form_pages: Recent[tuple[str, str, str | None], list[bytes]] = Recent(256)

    def form(self, *, tags: Mapping[str, str], script_root: str = "", values: Mapping[str, str] | None = None,
             errors: Mapping[str, str] | None = None, message: str | None = None,
             target: str | None = None, hidden: Mapping[str, str] | None = None, number: int = 0,
             texts: Texts = english, token: str | None = None) -> OrderForm:
        """The order form with the visitor's tags as hidden fields and a fresh form token (or ``token``),
        in the customer's language; ``number`` counts the forms already on the page."""
        own = self.config.form
        regions = chosen_regions((values or {}).get("country"), self.config.phone_regions)
        shown = {r: self._price(r, texts) for r in self.config.phone_regions}
        countries = tuple((r.lower(), texts.country(r), dialling_code(r), local_example(r),
                           texts("phone_hint", example=local_example(r)), *shown[r])
                          for r in self.config.phone_regions) if len(regions) > 1 else ()
        return OrderForm(
            action=f"{script_root}{self.action}",
            fields=form_fields(self.config, values, errors, texts, country=regions[0]),
            tags=dict(tags), hidden={TOKEN_FIELD: token or self.tokens.issue(), **(hidden or {})},
            honeypot=self.config.site.honeypot, message=message, message_kind="error" if message else "info",
            texts={"title": texts.translate(own.title), "submit": texts.translate(own.submit),
                   "note": texts.translate(own.note), "honeypot": texts("honeypot"),
                   "country": texts("label_country"), "dialling_code": texts("dialling_code"),
                   "price": texts("price"), "old_price": texts("old_price")},
            target=target, id=f"lk{number + 1}" if number else "lk", with_style=not number,
            countries=countries, country=regions[0].lower(), price=shown[regions[0]][0],
            old_price=shown[regions[0]][1],
        )

    def _price(self, region: str, texts: Texts) -> tuple[str, str]:
        """A country's price and old price as the customer reads them; empty when the offer has none."""
        price = geo_price(self.config.offer, region)
        if price is None:
            return "", ""
        shown = price.as_dict(texts.language)
        return str(shown["price_text"]), str(shown["old_price_text"] or "")

    def form_partial(self, form: OrderForm) -> str:
        """form.html alone, for a page of the wrapped application or for ``embed.js``."""
        return self.templates.get_template("form.html").render(form=form)

    def page(self, name: str, context: Mapping[str, Any], status: int, texts: Texts = english, *,
             nonce: str | None = None, sources: Mapping[str, Sequence[str]] | None = None) -> Response:
        """A whole page of leadkit's, in the customer's language, with its security headers; ``sources``
        are more hosts its CSP allows, by directive (the thank-you page's pixels)."""
        nonce = nonce or secrets.token_urlsafe(16)
        return self._respond(self._render(name, context, texts, nonce), status, nonce, sources)

    def form_page(self, *, script_root: str, target: str | None, texts: Texts) -> Response:
        """The order form as a page of its own for a visit without tags: what :meth:`page` gives for
        ``order.html``, rendered once per language, script root and target with marks where each
        page's nonce and form token go (the template's work was most of the page's cost)."""
        html, nonce = self._form_page_html(script_root, target, texts)
        return self._respond(html, 200, nonce, None)

    def plain_form_page(self, environ: WSGIEnvironment, *, script_root: str, target: str | None,
                        texts: Texts) -> PlainPage:
        """:meth:`form_page` as :func:`leadkit.compress.gzip_response` would send it, byte for byte and
        header for header, without werkzeug's request and response: for the plain visit, the most
        frequent of leadkit's own requests (werkzeug's objects and its checks of every header were
        half of what such a page cost)."""
        body, nonce = self._form_page_html(script_root, target, texts)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                   *security_headers(nonce, self.config.site.allowed_origins).items()]
        if environ.get("REQUEST_METHOD") == "HEAD":  # no body: nothing to compress, as gzip_response has it
            return PlainPage(headers, b"")
        varies, compressed = gzip_choice(body, environ.get("HTTP_ACCEPT_ENCODING"))
        if varies:
            headers.append(("Vary", "Accept-Encoding"))
        if compressed is not None:
            body = compressed
            headers[1] = ("Content-Length", str(len(body)))
            headers.append(("Content-Encoding", "gzip"))
        return PlainPage(headers, body)

    def _form_page_html(self, script_root: str, target: str | None, texts: Texts) -> tuple[bytes, str]:
        """The form page's HTML (UTF-8) with a fresh nonce and token, and the nonce."""
        key = (texts.language, script_root, target)
        pieces = self._form_pages.get(key)
        if pieces is None:
            form = self.form(tags={}, script_root=script_root, target=target, texts=texts, token=self._token_mark)
            html = self._render("order.html", {"form": form}, texts, self._nonce_mark)
            # Encoded once and cut at the marks: each page is then a join of bytes.
            pieces = self._marks.split(html.encode())
            self._form_pages.put(key, pieces)  # languages × script roots × framed or not: a few, normally
        nonce = secrets.token_urlsafe(16)
        fill = {self._nonce_bytes: nonce.encode(), self._token_bytes: self.tokens.issue().encode()}
        return b"".join([fill.get(piece, piece) for piece in pieces]), nonce

    def _render(self, name: str, context: Mapping[str, Any], texts: Texts, nonce: str) -> str:
        return self.templates.get_template(name).render(csp_nonce=nonce, **gettext_context(texts), **context)

    def _respond(self, html: str | bytes, status: int, nonce: str,
                 sources: Mapping[str, Sequence[str]] | None) -> Response:
        response = Response(html, status, mimetype="text/html")
        response.headers.update(security_headers(nonce, self.config.site.allowed_origins, sources))
        return response

    def message(self, request: Request, status: int, message: str, texts: Texts = english) -> Response:
        """A sentence for the visitor: a page, or ``{"status": "error", "message": ...}``."""
        if wants_json(request):
            return json_response({"status": "error", "errors": {}, "message": message}, status)
        return self.page("message.html", {"message": message, "status": status}, status, texts)

    def reply(self, request: Request, result: OrderResult, *, json: bool | None = None,
              texts: Texts = english) -> Response:
        """The answer to an order post: a redirect (303, or JSON naming it), or the form again;
        JSON when ``json`` (by default: when the client asks for it)."""
        reply = result.reply
        if wants_json(request) if json is None else json:
            body: dict[str, Any] = {"status": "ok", "redirect": reply.redirect} if reply.ok else \
                {"status": "error", "errors": dict(reply.errors), "message": reply.message}
            response = json_response(body, 200 if reply.ok else reply.status)
        elif reply.ok:
            response = Response("", 303, headers={"Location": reply.redirect or "", "Cache-Control": "no-store"})
        else:
            form = self.form(tags=result.tags, values=result.values, errors=reply.errors, message=reply.message,
                             script_root=request.script_root, texts=texts)
            response = self.page("order.html", {"form": form}, reply.status, texts)
        if reply.status == 503:
            response.headers["Retry-After"] = "30"
        elif result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after)
        return response


def gettext_context(texts: Texts) -> dict[str, Any]:
    """What a template needs to speak the customer's language: ``lang`` and ``dir`` for ``<html>``, and
    the callables of Jinja's i18n extension (``_("...")``, ``{% trans %}``), new-style: placeholders
    as keyword arguments (``_("Error %(status)s", status=404)``)."""

    def gettext(message: str, **values: Any) -> str:
        text = texts.translate(message)
        return text % values if values else text

    def ngettext(singular: str, plural: str, number: int, **values: Any) -> str:
        return texts.ngettext(singular, plural, number) % {"num": number, **values}

    return {"lang": texts.language, "dir": texts.dir, "_": gettext, "gettext": gettext, "ngettext": ngettext}


def json_response(body: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json", headers={"Cache-Control": "no-store"})


def security_headers(nonce: str, allowed_origins: Iterable[str],
                     sources: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Headers for leadkit's own pages. The form may be framed by the site and the allowed
    origins (prelandings); form-action allows any http(s) target because the post is
    answered by a redirect to the network's autologin page, which CSP also checks. ``sources``
    adds hosts to directives (``script-src``, ``img-src``, ``connect-src``, ``frame-src``)."""
    ancestors = " ".join(["'self'", *allowed_origins])
    extra = {directive: " ".join(hosts) for directive, hosts in (sources or {}).items() if hosts}
    directives = {"script-src": f"'nonce-{nonce}'", "img-src": "'self' data:", "connect-src": "", "frame-src": ""}
    added = "".join(f"; {directive} {f'{base} ' if base else ''}{extra[directive]}".rstrip()
                    if directive in extra else (f"; {directive} {base}" if base else "")
                    for directive, base in directives.items())
    policy = (f"default-src 'none'; style-src 'nonce-{nonce}'{added}; "
              f"form-action 'self' http: https:; frame-ancestors {ancestors}; base-uri 'none'")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin", "Cache-Control": "no-store"}


def wants_json(request: Request) -> bool:
    """The client asked for JSON (``embed.js``) rather than a page."""
    return json_accepted(request.environ.get("HTTP_ACCEPT"))


@lru_cache(maxsize=256)
def json_accepted(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers JSON to HTML, as werkzeug's ``best_match`` decides (browsers
    send a few headers, over and over: each is parsed once)."""
    return parse_accept_header(accept, MIMEAccept).best_match(["text/html", "application/json"]) == "application/json"


class PlainPage:
    """A finished page of leadkit's as a WSGI application: ``200 OK``, these headers, this body."""

    __slots__ = ("headers", "body")

    def __init__(self, headers: list[tuple[str, str]], body: bytes) -> None:
        self.headers = headers
        self.body = body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", self.headers)
        return [self.body] if self.body else []
