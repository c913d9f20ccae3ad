"""Carrying the visitor's tags along the links of a prelanding page.

A prelanding (an article, a quiz) sends its reader on to the landing, often on
another domain, where the tags of the ad click must arrive with them: a cookie
cannot cross domains, so the tags travel in the link's query string. The
standalone server runs every page it serves through :func:`add_tags_to_links`;
Flask and Django templates call ``landing_url()`` on one link instead.

Only ``<a href>`` links to a landing are changed: links on the same site, and
links to the hosts in ``site.landing_hosts`` (``*.example.com`` allows its
subdomains). Anchors, ``mailto:``, ``tel:``, scripts and other sites' links are
left exactly as they are, and so is the page when the visitor has no tags.
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from .guard import host_matches
from .tags import url_with_tags

__all__ = ["add_tags_to_links", "is_landing_link"]

# The href attribute of an <a> start tag, quoted either way or bare.
_ANCHOR_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)


def is_landing_link(url: str, site_host: str, landing_hosts: Iterable[str]) -> bool:
    """Whether ``url`` (as written in a page served from ``site_host``) leads to a landing."""
    return _leads_to_landing(url, _hostname(site_host), landing_hosts)


def _leads_to_landing(url: str, site: str, landing_hosts: Iterable[str]) -> bool:
    url = url.strip()
    if not url or url.startswith("#"):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return False  # mailto:, tel:, javascript:, data: ...
    if not parts.netloc:
        return not parts.scheme  # a path on this site ("http:foo" is not a link we understand)
    host = (parts.hostname or "").lower()
    if not host or "@" in parts.netloc:
        return False
    return host == site or any(host_matches(host, pattern) for pattern in landing_hosts)


def _hostname(site_host: str) -> str:
    """The host name of a ``Host`` header value (``example.com:8000``, ``[::1]:8000``), lower-cased."""
    try:
        return (urlsplit(f"//{site_host}").hostname or "").lower()
    except ValueError:
        return ""


def add_tags_to_links(page: str, tags: Mapping[str, str], site_host: str, landing_hosts: Iterable[str] = ()) -> str:
    """``page`` with ``tags`` added to the query string of every link to a landing."""
    if not any(tags.values()):
        return page
    hosts = tuple(landing_hosts)
    site = _hostname(site_host)  # once per page, not once per link

    def rewrite(match: re.Match[str]) -> str:
        raw = next(group for group in match.groups()[1:] if group is not None)
        url = html.unescape(raw)
        if not _leads_to_landing(url, site, hosts):
            return match.group(0)
        return f'{match.group(1)}"{html.escape(url_with_tags(url, tags), quote=True)}"'

    return _ANCHOR_HREF.sub(rewrite, page)
