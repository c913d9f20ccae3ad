"""Checks that keep abuse out of the order route. Pure functions over plain values.

- :func:`origin_problem`: a cross-site POST (its ``Origin``, else its
  ``Referer``, names another site) is refused unless that origin is allowed;
  a POST without a form token must show where it came from at all.
- :func:`bot_reason`: the honeypot field filled in, or the form sent faster
  than a person can fill it.
- :func:`cors_headers`: CORS for the JSON mode, following the same list.
"""

from __future__ import annotations

from typing import Iterable, Mapping
from urllib.parse import urlsplit

from .formtoken import IssuedToken

__all__ = ["bot_reason", "cors_headers", "host_matches", "origin_of", "origin_problem"]


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
