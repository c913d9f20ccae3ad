"""What the customer sees for each answer of the network. Pure.

:func:`reply_for` maps an :class:`~leadkit.network.Answer` to a
:class:`Reply`: where to send the customer, or which message and field errors
to show, with which HTTP status. :func:`safe_redirect` decides whether an
autologin ``url`` may be followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from .network import CONFIG_ERRORS, FIELD_ERRORS, Answer
from .guard import host_matches
from .texts import TEXTS

__all__ = ["Reply", "reply_for", "safe_redirect", "operator_hint"]


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
    """The URL when it is an absolute http(s) URL with a host, no user info and no control characters,
    and, when ``hosts`` is given, on one of them (``*.example.com`` allows its subdomains)."""
    if not url or len(url) > 2048 or any(ord(c) < 33 or ord(c) == 127 or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if hosts and not any(host_matches(parts.hostname, pattern) for pattern in hosts):
        return None
    return url


def reply_for(answer: Answer, thanks_url: str, hosts: Sequence[str] = ()) -> Reply:
    """The customer's reply to a network answer."""
    if answer.delivered:
        return Reply(303, redirect=safe_redirect(answer.url, hosts) or thanks_url)
    if answer.retryable:
        return Reply(503, message=TEXTS["network_retry"])
    code = answer.error or ""
    if code in FIELD_ERRORS:
        field_name = FIELD_ERRORS[code]
        text = answer.message or TEXTS.get(f"network_{field_name}", TEXTS["network_data"])
        if field_name:
            return Reply(422, message=answer.message or TEXTS["form_has_errors"], errors={field_name: text})
        return Reply(422, message=text)
    if code in ("ban", "duplicate"):
        return Reply(422, message=answer.message or TEXTS[f"network_{code}"])
    # The site or the offer is misconfigured, or a code we do not know: not the customer's fault.
    return Reply(503, message=answer.message or TEXTS["network_unavailable"])


_HINTS = {
    "key": "check network.key (and LEADKIT_KEY): the network does not know it",
    "access": "the network refused access: check the account and that API access is enabled for it",
    "security": "the network account is blocked: contact the network",
    "no-api": "API lead push is not enabled for this account or flow: enable it at the network",
    "nooffer": "offer.offer is missing from the call: check the configuration",
    "offer": "the network does not know offer.offer, or the offer is closed: check the offer id",
    "traffic": "the offer does not take this traffic now (closed or paused): check the offer at the network",
    "noflow": "offer.flow is missing from the call: set it",
    "badflow": "the network does not know offer.flow: check the flow id",
}


def operator_hint(code: str | None) -> str:
    """What the operator should do about a final error code; empty for the customer's own errors."""
    if code in _HINTS:
        return _HINTS[code]  # type: ignore[index]
    if code in CONFIG_ERRORS:
        return "the network refused the site's configuration"
    return ""
