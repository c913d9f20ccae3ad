"""What leadkit knows of a visit: the visitor's tags and who the visitor is, and the cookies that carry them.

A visit's tags come from its query string (``?utm_source=fb``), kept in a signed cookie for the
order, with its *clicks*: the ad platforms' click ids (``fbclid``, ``ttclid``, ``gclid``) and the
pixel ids the visit's link names (``[pixels] params``, checked by :mod:`leadkit.pixels`), which
go with the lead to postbacks, pixels and conversion events but never to the network; at the
order, the platforms' browser cookies (``_fbp``, ``_fbc``, ``_ttp``) join them; an order's tags are the cookie's, then the form's hidden fields (never a kit's unfilled
macro, ``{clickid}``), failing both a same-origin ``Referer``. The visitor is the client's IP (by
``site.trusted_proxies`` and ``site.ip_header``), user agent and mobile flag. Cookies are
``Secure`` when the visitor came over https, to leadkit or to a trusted proxy that ends TLS.
Reads the WSGI environ; sets nothing itself (the middleware adds the headers).
"""

from __future__ import annotations

import functools
import re
import time
from email.utils import formatdate
from typing import Any, Mapping
from urllib.parse import parse_qsl

from werkzeug.http import dump_cookie, parse_cookie
from werkzeug.wrappers import Request

from .config import Config
from .guard import visitor_scheme
from .kitfields import is_macro
from .logs import logger
from .pixels import PLATFORMS, visit_pixels
from .tags import CLICK_IDS, TagCookie, merge_tags, tags_from_pairs, tags_from_referer
from .thanks import LeadCookie
from .visitor import Visitor, make_visitor

__all__ = ["BROWSER_COOKIES", "Visits"]

log = logger("leadkit.visits")

#: The ad platforms' own cookies, read at the order: Meta's browser and click ids, TikTok's browser id.
BROWSER_COOKIES = {"_fbp": "fbp", "_fbc": "fbc", "_ttp": "ttp"}
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9._-]{1,200}")
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CLICK_ID_SET = frozenset(CLICK_IDS)
_SIGNED_VALUE = re.compile(r"[A-Za-z0-9._-]+")  # itsdangerous' URL-safe alphabet


def _expires(max_age: int) -> str:
    """``Expires`` for a cookie of ``max_age`` seconds set now, as an HTTP date (made once a second)."""
    return _http_date(int(time.time()) + max_age)


@functools.lru_cache(maxsize=8)
def _http_date(at: int) -> str:
    return formatdate(at, usegmt=True)
#: Where a request's environ keeps what was read of it once.
_COOKIE_KEY, _QUERY_KEY = "leadkit.cookie_values", "leadkit.query_pairs"


class Visits:
    """Tags, visitor and cookies for one configuration."""

    def __init__(self, config: Config) -> None:
        site, tags = config.site, config.tags
        self.config = config
        self.tag_names = frozenset(tags.names)
        self.aliases = tags.aliases
        self.pixel_params = config.pixels.params
        self.click_names = CLICK_IDS + tuple(f"pixel_{platform}" for platform in PLATFORMS)
        self.tag_cookie = TagCookie(site.secret, (*tags.names, *self.click_names), name=tags.cookie, days=tags.days)
        self.lead_cookie = LeadCookie(site.secret)
        self._tag_cookie_pair = re.compile(rf"(?:^|;)[ \t]*{re.escape(tags.cookie)}=([^;]*)")

    def _tag_cookie_value(self, header: str) -> str | None:
        """The tag cookie's value in a ``Cookie`` header, as werkzeug's ``parse_cookie`` reads it (the
        first of its name), found without parsing every other cookie of the site."""
        found = self._tag_cookie_pair.search(header)
        if found is None:
            return None
        value = found.group(1).strip(" \t")
        if not _SIGNED_VALUE.fullmatch(value):  # not one leadkit signed (quoted, a stray quote...): werkzeug's rules
            return parse_cookie(header).get(self.tag_cookie.name)
        return value

    # -- tags -----------------------------------------------------------------

    def query_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The tags of a GET's query string."""
        pairs = self._query_pairs(environ)
        return tags_from_pairs(pairs, self.tag_names, self.aliases) if pairs else {}

    def query_clicks(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The click ids and pixel ids of a GET's query string (a pixel id of the wrong form is
        dropped and logged)."""
        pairs = self._query_pairs(environ)
        if not pairs:
            return {}
        clicks = tags_from_pairs(pairs, _CLICK_ID_SET)
        if self.pixel_params:
            pixels, refused = visit_pixels(pairs, self.pixel_params)
            clicks.update(pixels)
            for platform, value in refused:
                log.warning("a visit's link names a %s pixel id that is not one (%s): it is ignored", platform, value)
        return clicks

    def _query_pairs(self, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        query = environ.get("QUERY_STRING", "")
        if not query or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return []
        pairs: list[tuple[str, str]] | None = environ.get(_QUERY_KEY)
        if pairs is None:
            pairs = parse_qsl(_latin1_to_text(query), keep_blank_values=False, errors="replace")
            if isinstance(environ, dict):
                environ[_QUERY_KEY] = pairs
        return pairs

    def cookie_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        return {k: v for k, v in self.cookie_values(environ).items() if k not in self.click_names}

    def cookie_clicks(self, environ: Mapping[str, Any]) -> dict[str, str]:
        return {k: v for k, v in self.cookie_values(environ).items() if k in self.click_names}

    def cookie_values(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """What the tag cookie holds: the tags and the clicks (read once per request: the environ keeps it)."""
        kept: dict[str, str] | None = environ.get(_COOKIE_KEY)
        if kept is None:
            header = environ.get("HTTP_COOKIE", "")
            # Most requests carry no tag cookie: no parsing at all for them.
            value = self._tag_cookie_value(header) if self.tag_cookie.name in header else None
            kept = self.tag_cookie.loads(value)
            if isinstance(environ, dict):
                environ[_COOKIE_KEY] = kept
        return dict(kept)

    def tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The visitor's tags for this request: the cookie's, overridden by the query string's."""
        if "leadkit.tags" in environ:
            return dict(environ["leadkit.tags"])
        return merge_tags(self.cookie_tags(environ), self.query_tags(environ))

    def order_tags(self, request: Request, fields: Mapping[str, str]) -> dict[str, str]:
        """Tags for an order: cookie, then hidden fields; failing both, a same-origin Referer."""
        # A kit's hidden input still holding a tracker macro ("{clickid}") is no tag.
        filled = ((name, value) for name, value in fields.items() if not is_macro(value))
        tags = merge_tags(self.cookie_tags(request.environ), tags_from_pairs(filled, self.tag_names, self.aliases))
        if tags:
            return tags
        return tags_from_referer(request.referrer, request.host, self.tag_names, self.aliases)

    def order_clicks(self, request: Request) -> dict[str, str]:
        """The clicks for an order: the cookie's, and the platforms' browser cookies."""
        clicks = self.cookie_clicks(request.environ)
        for cookie, name in BROWSER_COOKIES.items():
            value = request.cookies.get(cookie, "")
            if _COOKIE_VALUE.fullmatch(value):
                clicks[name] = value
        return clicks

    # -- the visitor ----------------------------------------------------------

    def visitor(self, request: Request) -> Visitor:
        """The client's IP (by ``site.trusted_proxies`` and ``site.ip_header``), user agent and mobile flag."""
        site = self.config.site
        header_ip = request.headers.get(site.ip_header) if site.ip_header else None
        return make_visitor(request.remote_addr, request.headers.get("X-Forwarded-For"), request.user_agent.string,
                            site.trusted_proxies, header_ip, site.trusted_networks)

    # -- cookies --------------------------------------------------------------

    def tag_cookie_header(self, environ: Mapping[str, Any], tags: Mapping[str, str], clicks: Mapping[str, str]) -> str:
        """The ``Set-Cookie`` value keeping ``tags`` and ``clicks`` for the order."""
        return self._cookie(environ, self.tag_cookie.name, self.tag_cookie.dumps({**clicks, **tags}),
                            self.tag_cookie.max_age)

    def lead_cookie_header(self, environ: Mapping[str, Any], lead_id: str) -> str:
        """The ``Set-Cookie`` value naming the lead for the thank-you page (:mod:`leadkit.thanks`)."""
        return self._cookie(environ, self.lead_cookie.name, self.lead_cookie.dumps(lead_id), self.lead_cookie.max_age)

    def lead_id(self, request: Request) -> str | None:
        """The lead the visitor's thank-you cookie names, if it is genuine and fresh."""
        return self.lead_cookie.loads(request.cookies.get(self.lead_cookie.name))

    def _cookie(self, environ: Mapping[str, Any], name: str, value: str, max_age: int) -> str:
        scheme = visitor_scheme(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_X_FORWARDED_PROTO"),
                                self.config.site.trusted_proxies)
        if not (_COOKIE_NAME.fullmatch(name) and _SIGNED_VALUE.fullmatch(value)):  # never so today: the safe way
            return dump_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                               secure=scheme == "https")
        # What werkzeug's dump_cookie writes for these, byte for byte, without its per-call work
        # (quoting checks, a datetime for Expires): a signed value needs no quoting.
        secure = "; Secure" if scheme == "https" else ""
        return f"{name}={value}; Expires={_expires(max_age)}; Max-Age={max_age}{secure}; HttpOnly; Path=/; SameSite=Lax"


def _latin1_to_text(value: str) -> str:
    """WSGI hands over the query string as latin-1 decoded bytes; browsers send UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value
