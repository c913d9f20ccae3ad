"""What the customer sees once the lead is settled. Pure.

:func:`reply_for` maps a journalled lead (its state, autologin ``url``,
error code and message) to a :class:`Reply`: where to send the customer, or
which message and field errors to show, with which HTTP status.
:func:`safe_redirect` decides whether an autologin ``url`` may be followed,
and gives it in the form that can stand in a ``Location`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from werkzeug.urls import iri_to_uri

from .journal import Entry
from .answer import FIELD_ERRORS, is_site_data_error
from .guard import host_matches
from .texts import Texts, english

__all__ = ["MAX_REDIRECT", "Reply", "refusal", "refused", "reply_for", "safe_redirect"]

#: The longest autologin URL followed, before and after it is made ASCII.
MAX_REDIRECT = 2048
# A host name as DNS and browsers take it (after IDNA), or an IP address; a percent sign or
# anything else a browser would decode or refuse first is not followed.
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|[0-9a-f:.]+")


@dataclass(frozen=True)
class Reply:
    """The customer's side of a lead call: a redirect, or the form again."""

    status: int
    redirect: str | None = None
    message: str | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.redirect is not None


def safe_redirect(url: str | None, hosts: Sequence[str] = ()) -> str | None:
    """The URL as it may stand in a ``Location`` header, or None when it must not be followed.

    Followed: an absolute http(s) URL with a host, no user info, no control,
    format or space characters, at most 2048 characters, and, when ``hosts`` is
    given, on one of them (``*.example.com`` allows its subdomains). A
    non-ASCII URL comes back as ASCII (an IDNA host, percent-encoded path), and
    ``hosts`` are checked against that host: the one the browser will visit.
    """
    if not url or len(url) > MAX_REDIRECT or any(not c.isprintable() or c.isspace() or c == "\\" for c in url):
        return None
    try:
        # werkzeug does the same to every Location it sends, and its error would be a 500.
        ascii_url = iri_to_uri(url)
        parts = urlsplit(ascii_url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:  # UnicodeError included: a host that IDNA cannot encode
        return None
    if len(ascii_url) > MAX_REDIRECT or parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return None
    if not parts.hostname or not _HOST.fullmatch(parts.hostname):
        return None
    if hosts and not any(host_matches(parts.hostname, pattern) for pattern in hosts):
        return None
    return ascii_url


def reply_for(entry: Entry, thanks_url: str, hosts: Sequence[str] = (), *, prefer_thanks: bool = False,
              texts: Texts = english) -> Reply:
    """The customer's reply for a lead as the journal recorded it after an attempt.

    Delivered: the autologin ``url`` when it is safe to follow, else the thank-you
    page. Refused as a ``duplicate``: the network already has this customer's
    order, so the thank-you page (the journal keeps the truth). Refused otherwise:
    the form again (:func:`refusal`). Still pending (the network did not answer,
    or answered 5xx, 429 or garbage) or dead: the lead is safe in the journal and
    the relay retries it, so the customer is thanked. ``prefer_thanks`` (``network.prefer_thanks``):
    the thank-you page even when the network gave an autologin ``url``.
    """
    if entry.state == "delivered":
        url = None if prefer_thanks else safe_redirect(entry.redirect, hosts)
        return Reply(303, redirect=url or thanks_url)
    if entry.state == "rejected":
        return refused(entry.error_code, entry.error_message, thanks_url, entry.bad, texts)
    return Reply(303, redirect=thanks_url)


def refused(code: str | None, message: str | None, thanks_url: str, bad: Sequence[str] = (),
            texts: Texts = english) -> Reply:
    """The customer's reply to a final refusal of the network, journalled or not.

    A ``duplicate``: the network already has this customer's order, so the thank-you page.
    A ``data`` refusal naming only fields leadkit sends (``bad``): the site's problem, not
    the customer's (503). Otherwise the form again (:func:`refusal`).
    """
    if code == "duplicate":
        return Reply(303, redirect=thanks_url)
    if is_site_data_error(code, bad):
        return Reply(503, message=texts("network_unavailable"))
    return refusal(code, message, texts)


def refusal(code: str | None, message: str | None, texts: Texts = english) -> Reply:
    """The form again for a final error of the network: the field it names, its ``message``, or a
    friendly text for its kind. Errors that are the site's, not the customer's, answer 503."""
    code = code or ""
    if code in FIELD_ERRORS:
        field_name = FIELD_ERRORS[code]
        key = f"network_{field_name}" if field_name in ("phone", "email") else "network_data"
        text = message or texts(key)
        if field_name:
            return Reply(422, message=message or texts("form_has_errors"), errors={field_name: text})
        return Reply(422, message=text)
    if code in ("ban", "duplicate"):
        return Reply(422, message=message or texts(f"network_{code}"))
    # The site or the offer is misconfigured, or a code we do not know: not the customer's fault.
    return Reply(503, message=message or texts("network_unavailable"))
