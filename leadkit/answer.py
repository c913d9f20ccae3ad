"""What the network's answer to a lead call means. Pure: status, headers and body in, an :class:`Answer` out.

Three outcomes:

- ``delivered``: the network took the lead (its id, maybe an autologin ``url``);
- ``rejected``: a final error (``error`` code, maybe a ``message`` for the customer);
- ``retryable``: nothing says whether the lead arrived (transport failure, 5xx,
  429, a body that is not JSON, the engine's own ``db``/``request-error``).

A rejection is either the customer's (a bad phone, a ban) or the site's
(:attr:`Answer.site_problem`: a wrong key, offer, flow, dialect or API URL,
an error code nobody documents, an HTML error page from the API host): those
are for the operator to fix, and :func:`operator_hint` says how.

Nothing the network sends can break this module: any JSON nesting, any
type where text was expected, lone surrogates and control characters (they
would forge log lines and cannot be stored as UTF-8) are read into plain,
printable, storable text.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from werkzeug.http import parse_date

__all__ = ["Answer", "CONFIG_ERRORS", "CUSTOMER_FIELDS", "is_site_data_error", "FIELD_ERRORS", "RETRYABLE_ERRORS", "classify", "clean_text", "retry_after_seconds",
           "operator_hint"]

#: Final errors that mean the site or the offer is misconfigured: the operator must act.
#: ``noid``: the order id did not arrive (usually the wrong ``network.dialect``); ``app`` and
#: ``func``: the engine has no such call (wrong ``network.api`` or ``network.role``).
CONFIG_ERRORS = frozenset({"nooffer", "offer", "no-api", "noflow", "badflow", "key", "access", "security", "traffic",
                           "noid", "app", "func"})
#: Final errors about the customer's data; the value is the form field to point at, if any.
FIELD_ERRORS: Mapping[str, str | None] = {"nophone": "phone", "phone": "phone", "email": "email", "data": None}
#: Final errors that are about the customer, not the site.
CUSTOMER_ERRORS = frozenset({*FIELD_ERRORS, "ban", "duplicate"})
#: Fields a customer types (either dialect): a ``data`` refusal naming none of them is the site's problem.
CUSTOMER_FIELDS = frozenset({"name", "phone", "email", "last", "index", "addr", "area", "city", "street", "count",
                             "comment", "comm"})
#: Network-side failures worth another try.
RETRYABLE_ERRORS = frozenset({"db", "request-error"})

_MAX_RETRY_AFTER = 3600.0
_MAX_TEXT = 2000
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")

#: What the operator should do about each final error that is the site's, not the customer's.
_HINTS = {
    "key": "check network.key (and LEADKIT_KEY): the network does not know it",
    "access": "the network refused access: check network.role (a key is for one role: wm, ext or comp), the "
              "account, and that API access is enabled for it",
    "security": "the network account is blocked: contact the network",
    "no-api": "API lead push is not enabled for this account or flow: enable it at the network",
    "nooffer": "offer.offer is missing from the call: check the configuration",
    "offer": "the network does not know offer.offer, or the offer is closed: check the offer id",
    "traffic": "the offer does not take this traffic now (closed or paused): check the offer at the network",
    "noflow": "offer.flow is missing from the call: set it",
    "badflow": "the network does not know offer.flow: check the flow id",
    "noid": "the network did not find the order id: check network.dialect (dalead sends extu, moe sends id)",
    "app": "the network has no such API: check network.api (the base URL, like https://lk.example/api)",
    "func": "the network has no such call for this account: check network.role (wm, ext or comp) and network.api",
}


@dataclass(frozen=True)
class Answer:
    """What one lead call came to. ``detail`` is for the operator's log: printable, never the key."""

    outcome: str
    network_id: str | None = None
    uid: str | None = None
    url: str | None = None
    error: str | None = None
    message: str | None = None
    bad: tuple[str, ...] = ()
    info: str | None = None
    retry_after: float | None = None
    detail: str = ""
    elapsed: float = 0.0
    resent: bool = False  # the request went twice on the wire (Exchange.resent): it may have arrived before

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    @property
    def rejected(self) -> bool:
        return self.outcome == "rejected"

    @property
    def retryable(self) -> bool:
        return self.outcome == "retryable"

    @property
    def site_problem(self) -> bool:
        """A rejection the operator must fix (configuration, account, an unknown code), not the customer."""
        if is_site_data_error(self.error, self.bad):
            return self.rejected
        return self.rejected and (self.error or "") not in CUSTOMER_ERRORS


def operator_hint(code: str | None, bad: Sequence[str] = ()) -> str:
    """What the operator should do about a final error code; empty for the customer's own errors.
    ``bad``: the fields the network said were missing (a ``data`` refusal naming none the customer
    types means leadkit's fields went under names the network does not read)."""
    if not code:
        return ""
    if is_site_data_error(code, bad):
        return (f"the network missed fields leadkit sent ({', '.join(bad)}): check network.dialect "
                "(dalead or moe) and network.role")
    if code in _HINTS:
        return _HINTS[code]
    if code in CUSTOMER_ERRORS:
        return ""
    if code.startswith("http-"):
        return (f"the API host answered HTTP {code[5:]} with a page, not the engine's JSON: check network.api "
                "(and that no firewall stands between this server and the network)")
    if code in CONFIG_ERRORS:
        return "the network refused the site's configuration"
    return "the network answered an error code leadkit does not know: look it up in the network's API documents"


def is_site_data_error(code: str | None, bad: Sequence[str]) -> bool:
    """A ``data`` refusal whose missing fields are all leadkit's own (ip, tags, ids), none the customer's."""
    return code == "data" and bool(bad) and not set(bad) & CUSTOMER_FIELDS


def classify(status: int, headers: Mapping[str, str], body: bytes | str) -> Answer:
    """Read an HTTP answer to the lead call."""
    retry_after = _retry_after(headers.get("Retry-After"))
    if status >= 500 or status == 429:
        return Answer("retryable", error=f"http-{status}", retry_after=retry_after,
                      detail=f"the network answered HTTP {status}")
    data = _json_object(body)
    if data is None and 400 <= status < 500:
        return Answer("rejected", error=f"http-{status}",
                      detail=f"the API host answered HTTP {status} with a body that is not the engine's JSON: "
                             f"{_snippet(body)!r}")
    if data is None:
        return Answer("retryable", error="not-json", retry_after=retry_after,
                      detail=f"the network answered HTTP {status} with a body that is not a JSON object: "
                             f"{_snippet(body)!r}")
    if data.get("status") == "ok":
        network_id = _identifier(data.get("id"))
        return Answer("delivered", network_id=network_id, uid=_identifier(data.get("uid")),
                      # A URL cut short is a broken link: the limit lies above any URL reply.safe_redirect follows.
                      url=clean_text(data.get("url"), 4096), detail=f"accepted as network id {network_id or '(none)'}")
    return _refusal(status, data, retry_after)


def _refusal(status: int, data: Mapping[str, Any], retry_after: float | None) -> Answer:
    # Old engines answer "error_text" instead of "error".
    raw_code = clean_text(data.get("error")) or clean_text(data.get("error_text"))
    code = _code(raw_code) or (f"http-{status}" if status >= 400 else "unknown")
    bad_list = data.get("bad")
    bad = tuple(t for t in (clean_text(b, 40) for b in bad_list[:20]) if t) if isinstance(bad_list, list) else ()
    info = clean_text(data.get("info"), 200)
    detail = f"error {code!r}" + (f" ({raw_code[:60]!r})" if raw_code and raw_code != code else "") + (
        f", missing fields {list(bad)}" if bad else "") + (f", info {info!r}" if info else "")
    outcome, says = ("retryable", "failed on its side") if code in RETRYABLE_ERRORS else ("rejected", "refused the lead")
    return Answer(outcome, error=code, message=clean_text(data.get("message")), bad=bad, info=info,
                  retry_after=retry_after, detail=f"the network {says}: {detail}")


def clean_text(value: Any, limit: int = _MAX_TEXT) -> str | None:
    """Text the network sent, made safe to show, log and store: strings and numbers only (anything
    else is None), no control characters or lone surrogates, at most ``limit`` characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value)[:limit * 2]
    if not text.isprintable():  # control characters, lone surrogates, line and paragraph separators
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())[:limit] if "  " in text else text.strip()[:limit]
    return text or None


def _identifier(value: Any) -> str | None:
    """An id as the network gave it (a number or short text), else None."""
    return clean_text(value, 64)


def _code(text: str | None) -> str | None:
    """An error code as leadkit compares it: lower case, letters, digits, '-' and '_'."""
    if not text:
        return None
    code = text.strip().lower()
    return code if _CODE.fullmatch(code) else "unknown"


def _json_object(body: bytes | str) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting 100,000 deep
        return None
    return data if isinstance(data, dict) else None


def _snippet(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return clean_text(text, 120) or ""


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header's wait in seconds, given as seconds or as an HTTP date (capped)."""
    return _retry_after(value)


def _retry_after(value: str | None) -> float | None:
    if not value or len(value) > 64:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    if not value.isascii():
        return None
    when = parse_date(value)
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), _MAX_RETRY_AFTER))
