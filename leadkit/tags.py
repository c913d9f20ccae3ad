"""Traffic tags: the UTM and tracker labels a visitor's click carries.

Tags come from the query string of the landing visit, live in a signed cookie
(last click wins), may also arrive as hidden form fields, and as a last resort
are read from a same-origin ``Referer``. Everything here is pure: values in,
plain dicts out. Values are cleaned of control characters and cut to 255
characters, the network's limit.
"""

from __future__ import annotations

import re
import time
from typing import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadData

from .recent import Recent
from .signing import PreparedSerializer

__all__ = [
    "CLICK_IDS",
    "STANDARD_TAGS",
    "MAX_TAG_LENGTH",
    "TagCookie",
    "clean_value",
    "merge_tags",
    "tags_from_pairs",
    "tags_from_query_string",
    "tags_from_referer",
    "url_with_tags",
]

STANDARD_TAGS: tuple[str, ...] = (
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
    "subid", "uuid", "sub1", "sub2", "sub3", "sub4", "sub5",
)
#: The ad platforms' click ids, captured with the tags but never sent to the network: they are for
#: postbacks (``{fbclid}``) and server-side conversion events.
CLICK_IDS: tuple[str, ...] = ("fbclid", "ttclid", "gclid")
MAX_TAG_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: A cookie a browser will keep: stay well under the 4096-byte limit.
_MAX_COOKIE_TAGS = 3000


def clean_value(value: str, limit: int = MAX_TAG_LENGTH) -> str:
    """Strip control characters and surrounding space; cut to ``limit`` characters."""
    return _CONTROL.sub("", value).strip()[:limit]


def tags_from_pairs(
    pairs: Iterable[tuple[str, str]], names: Iterable[str], aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Pick the known, non-empty tags from (name, value) pairs; the first value of a name wins.

    ``aliases`` maps other parameter names onto tag names (``clickid`` -> ``subid``);
    a tag's own name beats an alias for it.
    """
    wanted = names if isinstance(names, frozenset) else frozenset(names)
    aliases = aliases or {}
    found: dict[str, str] = {}
    via_alias: dict[str, str] = {}
    for name, value in pairs:
        if name in wanted and name not in found:
            cleaned = clean_value(value)
            if cleaned:
                found[name] = cleaned
        elif name in aliases and aliases[name] not in via_alias:
            cleaned = clean_value(value)
            if cleaned:
                via_alias[aliases[name]] = cleaned
    return {**via_alias, **found}


def tags_from_query_string(
    query: str, names: Iterable[str], aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags from a raw query string (``utm_source=fb&sub1=x``); undecodable bytes are replaced."""
    return tags_from_pairs(parse_qsl(query, keep_blank_values=False, errors="replace"), names, aliases)


def tags_from_referer(
    referer: str | None, host: str, names: Iterable[str], aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags from the query string of a ``Referer`` on the same host, or nothing.

    A static landing served by nginx posts its form without leadkit ever
    seeing the landing URL; its address still arrives as the Referer.
    """
    if not referer:
        return {}
    try:
        parts = urlsplit(referer)
    except ValueError:
        return {}
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
        return {}
    return tags_from_query_string(parts.query, names, aliases)


def url_with_tags(url: str, tags: Mapping[str, str]) -> str:
    """Carry a visitor's tags to another page (prelanding -> landing).

    ``url`` with ``tags`` appended to its query string, URL-encoded; a link
    parameter of the same name gives way to the visitor's tag, others are kept.
    """
    tags = {name: value for name, value in tags.items() if value}
    if not tags:
        return url
    parts = urlsplit(url)
    kept = [pair for pair in parts.query.split("&") if pair and _parameter_name(pair) not in tags]
    return urlunsplit(parts._replace(query="&".join([*kept, urlencode(tags)])))


def _parameter_name(pair: str) -> str:
    parsed = parse_qsl(pair, keep_blank_values=True)
    return parsed[0][0] if parsed else pair


def merge_tags(*layers: Mapping[str, str]) -> dict[str, str]:
    """Merge tag dicts; a later layer's non-empty value wins."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v})
    return merged


class TagCookie:
    """The signed cookie that keeps a visitor's tags between the landing visit and the order.

    Signed with the site secret (itsdangerous), so a visitor cannot plant tags
    that claim another affiliate's traffic without clicking a real link; it
    expires after ``days``. A bad, old or forged cookie reads as no tags.
    """

    def __init__(self, secret: str, names: Iterable[str], *, name: str = "leadkit_tags", days: int = 30) -> None:
        self.name = name
        self.max_age = days * 24 * 3600
        self._names = frozenset(names)
        self._serializer = PreparedSerializer(secret, salt="leadkit.tags")
        # Cookies whose signature was checked, with when they were signed and what they hold: a
        # visitor sends the same cookie with every page and asset the site serves through leadkit,
        # and checking it again (HMAC, base64, JSON) was most of what leadkit cost such a request.
        # Only genuine cookies are kept (a forged one is checked each time, and costs the forger that).
        self._verified: Recent[str, tuple[int, dict[str, str]]] = Recent(512)

    def dumps(self, tags: Mapping[str, str]) -> str:
        kept = {k: v for k, v in tags.items() if k in self._names and v}
        value = self._serializer.dumps(kept)
        while len(value) > _MAX_COOKIE_TAGS and kept:
            kept.pop(max(kept, key=lambda k: len(kept[k])))  # drop the longest until it fits
            value = self._serializer.dumps(kept)
        return value

    def loads(self, value: str | None) -> dict[str, str]:
        if not value or len(value) > 4096:
            return {}
        known = self._verified.get(value)
        if known is not None:
            signed_at, tags = known  # expired as itsdangerous has it: whole seconds past max_age
            return dict(tags) if int(time.time()) - signed_at <= self.max_age else {}
        try:
            data, signed = self._serializer.loads(value, max_age=self.max_age, return_timestamp=True)
        except (BadData, ValueError, TypeError):  # BadData: bad signature, expired, or unreadable payload
            return {}
        if not isinstance(data, dict):
            return {}
        cleaned = {k: clean_value(v) for k, v in data.items() if k in self._names and isinstance(v, str)}
        tags = {k: v for k, v in cleaned.items() if v}
        self._verified.put(value, (int(signed.timestamp()), tags))
        return dict(tags)
