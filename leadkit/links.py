"""Carrying the visitor's tags along the links of a prelanding page.

A prelanding (an article, a quiz) sends its reader on to the landing, often on
another domain, where the tags of the ad click must arrive with them: a cookie
cannot cross domains, so the tags travel in the link's query string. The
standalone server runs every page it serves through :func:`add_tags_to_links`
(a landing kit's page through :func:`leadkit.kitpage.rewrite_page`, which does
the same to its links); Flask and Django templates call ``landing_url()`` on
one link instead.

Only ``<a href>`` and ``<area href>`` links to a landing are changed: links on
the same site, and links to the hosts in ``site.landing_hosts``
(``*.example.com`` allows its subdomains). Anchors, ``mailto:``, ``tel:``,
``javascript:``, other sites' links and anything inside ``<script>``,
``<style>`` or a comment are left exactly as they are, and so is the page when
the visitor has no tags. The page is read with a real HTML tokenizer
(:mod:`leadkit.kitpage`): only the ``href`` of a changed tag is rewritten.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .kitpage import is_landing_link, rewrite_links

__all__ = ["add_tags_to_links", "is_landing_link"]


def add_tags_to_links(page: str, tags: Mapping[str, str], site_host: str, landing_hosts: Iterable[str] = ()) -> str:
    """``page`` with ``tags`` added to the query string of every link to a landing; ``page`` itself without tags."""
    return rewrite_links(page, tags, site_host, landing_hosts)
