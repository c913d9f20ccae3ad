"""Checks that keep abuse out of the order route. Pure functions over plain values.

- :func:`origin_problem`: a cross-site POST (its ``Origin``, else its
  ``Referer``, names another site) is refused unless that origin is allowed;
  a POST without a form token must show where it came from at all.
- :func:`bot_reason`: the honeypot field filled in, or the form sent faster
  than a person can fill it.
- :func:`cors_headers`: CORS for the JSON mode, following the same list.
- :func:`client_bucket`: what a rate limit counts per client: an IPv4 address, or
  the /64 of an IPv6 one (a single IPv6 user holds a whole /64).
- :func:`ignored_proxy_hops`: orders arriving from a non-public address with
  ``X-Forwarded-For`` hops leadkit does not read: ``site.trusted_proxies`` was
  forgotten, and every customer shares the proxy's rate limit.
- :func:`visitor_scheme`: ``https`` when a trusted TLS-terminating proxy says so
  in ``X-Forwarded-Proto`` (for the ``Secure`` cookie flag), never otherwise.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from .formtoken import IssuedToken

__all__ = ["bot_reason", "client_bucket", "cors_headers", "host_matches", "ignored_proxy_hops", "origin_of",
           "origin_problem", "visitor_scheme"]


def host_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` is ``pattern`` (lower-case), or a subdomain of it when it is ``*.example.com``."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL or an ``Origin`` header, lower-cased; None when there is none."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def origin_problem(origin: str | None, referer: str | None, host: str, allowed: Iterable[str],
                   *, has_token: bool) -> str | None:
    """Why this POST must be refused, or None.

    ``host`` is the ``Host`` the request was made to. The scheme is not compared:
    behind a TLS-terminating proxy leadkit itself sees plain http.
    """
    claimed = origin if origin is not None else referer
    if claimed is None or claimed == "":
        return None if has_token else "no-origin"
    source = origin_of(claimed)
    if source is None:
        return "foreign"  # "null" (sandboxed frames, file: pages) or garbage
    if urlsplit(source).netloc == host.lower() or source in allowed:
        return None
    return "foreign"


def bot_reason(fields: Mapping[str, str], token: IssuedToken | None, honeypot: str, min_fill: float,
               now: float) -> str | None:
    """``honeypot`` or ``too-fast`` when the post looks like a bot's, else None."""
    if fields.get(honeypot, "").strip():
        return "honeypot"
    if token is not None and now - token.issued_at < min_fill:
        return "too-fast"
    return None


def cors_headers(origin: str | None, allowed: Iterable[str], *, preflight: bool = False) -> dict[str, str]:
    """The CORS headers for a request from ``origin``: none unless it is allowed."""
    source = origin_of(origin)
    if source is None or source not in allowed:
        return {}
    headers = {"Access-Control-Allow-Origin": source, "Access-Control-Allow-Credentials": "true",
               "Vary": "Origin"}
    if preflight:
        headers.update({"Access-Control-Allow-Methods": "POST, OPTIONS",
                        "Access-Control-Allow-Headers": "Content-Type, Accept",
                        "Access-Control-Max-Age": "600"})
    return headers


def client_bucket(ip: str) -> str:
    """The client's share of the address space for rate limits: an IPv4 address as it is, an IPv6
    address as its /64 (``2001:db8:1:2::/64``), since one IPv6 user may pick any address in it.
    Text that is not an address is returned unchanged."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def ignored_proxy_hops(client_ip: str, forwarded_for: str | None, trusted_proxies: int) -> int:
    """How many ``X-Forwarded-For`` hops lie beyond the client address leadkit settled on, when that
    address is not a public one (loopback, private, or unknown: ``0.0.0.0`` behind a unix socket):
    a proxy of the site's own stands in front and ``site.trusted_proxies`` is too low, so all
    customers share the proxy's address. 0 otherwise.

    A public client address is never reported: anyone may send the header straight to leadkit.
    """
    if not forwarded_for:
        return 0
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return 0
    if address.is_global:
        return 0
    hops = [hop for hop in (part.strip() for part in forwarded_for.split(",")) if hop]
    return max(0, len(hops) - trusted_proxies)


def visitor_scheme(url_scheme: str, forwarded_proto: str | None, trusted_proxies: int) -> str:
    """The scheme the visitor used. Behind ``trusted_proxies`` reverse proxies (TLS ends at the
    first), the N-th value from the right of ``X-Forwarded-Proto``, as for ``X-Forwarded-For``;
    with no trusted proxy the header is ignored: any visitor can send it."""
    if trusted_proxies <= 0 or not forwarded_proto:
        return url_scheme
    values = [value.strip().lower() for value in forwarded_proto.split(",")]
    if len(values) < trusted_proxies or values[-trusted_proxies] not in ("http", "https"):
        return url_scheme
    return values[-trusted_proxies]
