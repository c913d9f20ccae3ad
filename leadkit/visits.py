"""What leadkit knows of a visit: the visitor's tags and who the visitor is, and the cookies that carry them.

A visit's tags come from its query string (``?utm_source=fb``), kept in a signed cookie for the
order; an order's tags are the cookie's, then the form's hidden fields (never a kit's unfilled
macro, ``{clickid}``), failing both a same-origin ``Referer``. The visitor is the client's IP (by
``site.trusted_proxies`` and ``site.ip_header``), user agent and mobile flag. Cookies are
``Secure`` when the visitor came over https, to leadkit or to a trusted proxy that ends TLS.
Reads the WSGI environ; sets nothing itself (the middleware adds the headers).
"""

from __future__ import annotations

from typing import Any, Mapping

from werkzeug.http import dump_cookie
from werkzeug.wrappers import Request

from .config import Config
from .guard import visitor_scheme
from .kitfields import is_macro
from .tags import TagCookie, merge_tags, tags_from_pairs, tags_from_query_string, tags_from_referer
from .thanks import LeadCookie
from .visitor import Visitor, make_visitor

__all__ = ["Visits"]


class Visits:
    """Tags, visitor and cookies for one configuration."""

    def __init__(self, config: Config) -> None:
        site, tags = config.site, config.tags
        self.config = config
        self.tag_names = tags.names
        self.aliases = tags.aliases
        self.tag_cookie = TagCookie(site.secret, self.tag_names, name=tags.cookie, days=tags.days)
        self.lead_cookie = LeadCookie(site.secret)

    # -- tags -----------------------------------------------------------------

    def query_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The tags of a GET's query string."""
        query = environ.get("QUERY_STRING", "")
        if not query or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return {}
        return tags_from_query_string(_latin1_to_text(query), self.tag_names, self.aliases)

    def cookie_tags(self, environ: Mapping[str, Any]) -> dict[str, str]:
        return self.tag_cookie.loads(Request(dict(environ)).cookies.get(self.tag_cookie.name))

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

    # -- the visitor ----------------------------------------------------------

    def visitor(self, request: Request) -> Visitor:
        """The client's IP (by ``site.trusted_proxies`` and ``site.ip_header``), user agent and mobile flag."""
        site = self.config.site
        header_ip = request.headers.get(site.ip_header) if site.ip_header else None
        return make_visitor(request.remote_addr, request.headers.get("X-Forwarded-For"), request.user_agent.string,
                            site.trusted_proxies, header_ip, site.trusted_networks)

    # -- cookies --------------------------------------------------------------

    def tag_cookie_header(self, environ: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """The ``Set-Cookie`` value keeping ``tags`` for the order."""
        return self._cookie(environ, self.tag_cookie.name, self.tag_cookie.dumps(tags), self.tag_cookie.max_age)

    def lead_cookie_header(self, environ: Mapping[str, Any], lead_id: str) -> str:
        """The ``Set-Cookie`` value naming the lead for the thank-you page (:mod:`leadkit.thanks`)."""
        return self._cookie(environ, self.lead_cookie.name, self.lead_cookie.dumps(lead_id), self.lead_cookie.max_age)

    def lead_id(self, request: Request) -> str | None:
        """The lead the visitor's thank-you cookie names, if it is genuine and fresh."""
        return self.lead_cookie.loads(request.cookies.get(self.lead_cookie.name))

    def _cookie(self, environ: Mapping[str, Any], name: str, value: str, max_age: int) -> str:
        scheme = visitor_scheme(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_X_FORWARDED_PROTO"),
                                self.config.site.trusted_proxies)
        return dump_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                           secure=scheme == "https")


def _latin1_to_text(value: str) -> str:
    """WSGI hands over the query string as latin-1 decoded bytes; browsers send UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value
