"""The lead call to the network, and what its answer means.

:func:`classify` is pure: HTTP status, headers and body in, an :class:`Answer`
out, one of three outcomes:

- ``delivered``: the network took the lead (its id, maybe an autologin ``url``);
- ``rejected``: a final error (``error`` code, maybe a ``message`` for the customer);
- ``retryable``: nothing says whether the lead arrived (transport failure, 5xx,
  429, a body that is not JSON, the engine's own ``db``/``request-error``).

:class:`NetworkClient` makes the call: one reused ``requests.Session``
(keep-alive), the configured timeout, a form-encoded body with PHP bracket
keys. The key rides in the query string as the API demands, so it is scrubbed
from every text this module produces and from urllib3's debug log.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

import requests
from werkzeug.http import parse_date

from .config import NetworkConfig
from .payload import encode_form

__all__ = ["CALLS", "Answer", "NetworkClient", "classify", "operator_hint", "CONFIG_ERRORS", "FIELD_ERRORS", "RETRYABLE_ERRORS"]

#: The lead call of each role.
CALLS: Mapping[str, str] = {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}
#: Final errors that mean the site or the offer is misconfigured: the operator must act.
CONFIG_ERRORS = frozenset({"nooffer", "offer", "no-api", "noflow", "badflow", "key", "access", "security", "traffic"})
#: Final errors about a field; the value is the form field to point at, if it is the customer's.
FIELD_ERRORS: Mapping[str, str | None] = {"nophone": "phone", "phone": "phone", "email": "email", "data": None,
                                          "noid": None}
#: Network-side failures worth another try.
RETRYABLE_ERRORS = frozenset({"db", "request-error"})

_MAX_RETRY_AFTER = 3600.0
_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What one lead call came to. ``detail`` is for the operator's log and never holds the key."""

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

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    @property
    def rejected(self) -> bool:
        return self.outcome == "rejected"

    @property
    def retryable(self) -> bool:
        return self.outcome == "retryable"


#: What the operator should do about each final error that is the site's, not the customer's.
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
    code = code or ""
    if code in _HINTS:
        return _HINTS[code]
    return "the network refused the site's configuration" if code in CONFIG_ERRORS else ""


def classify(status: int, headers: Mapping[str, str], body: bytes | str) -> Answer:
    """Read an HTTP answer from the lead call."""
    retry_after = _retry_after(headers.get("Retry-After"))
    if status >= 500 or status == 429:
        return Answer("retryable", error=f"http-{status}", retry_after=retry_after,
                      detail=f"the network answered HTTP {status}")
    data = _json_object(body)
    if data is None:
        return Answer("retryable", error="not-json", retry_after=retry_after,
                      detail=f"the network answered HTTP {status} with a body that is not a JSON object: "
                             f"{_snippet(body)!r}")
    if data.get("status") == "ok":
        return Answer("delivered", network_id=_text(data.get("id")), uid=_text(data.get("uid")),
                      url=_text(data.get("url")), detail=f"accepted as network id {_text(data.get('id'))}")
    code = _text(data.get("error")) or (f"http-{status}" if status >= 400 else "unknown")
    bad = tuple(str(b) for b in data["bad"]) if isinstance(data.get("bad"), list) else ()
    answer = dict(error=code, message=_text(data.get("message")), bad=bad, info=_text(data.get("info")),
                  retry_after=retry_after)
    detail = f"error {code!r}" + (f", missing fields {list(bad)}" if bad else "") + (
        f", info {answer['info']!r}" if answer["info"] else "")
    if code in RETRYABLE_ERRORS:
        return Answer("retryable", detail=f"the network failed on its side: {detail}", **answer)  # type: ignore[arg-type]
    return Answer("rejected", detail=f"the network refused the lead: {detail}", **answer)  # type: ignore[arg-type]


def _json_object(body: bytes | str) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    return str(value)[:2000]


def _snippet(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text[:120]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    when = parse_date(value)
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), _MAX_RETRY_AFTER))


class NetworkClient:
    """Sends lead payloads to the network for one configured role and dialect."""

    def __init__(self, config: NetworkConfig, session: requests.Session | None = None,
                 user_agent: str = "leadkit") -> None:
        self.config = config
        self.url = config.call_url()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        _KeyScrubber.install(config.key)

    def send(self, payload: Mapping[str, Any]) -> Answer:
        """Make the call; never raises for anything the network or the wire does."""
        started = time.monotonic()
        try:
            response = self.session.post(self.url, params={"id": self.config.key}, data=encode_form(payload),
                                         timeout=self.config.timeout, allow_redirects=False, stream=True)
            try:
                body = response.raw.read(_MAX_BODY + 1, decode_content=True)
            finally:
                response.close()
        except requests.Timeout:
            return Answer("retryable", error="timeout", elapsed=time.monotonic() - started,
                          detail=f"no answer from {self.url} within {self.config.timeout:g} s")
        except requests.RequestException as exc:
            return Answer("retryable", error="transport", elapsed=time.monotonic() - started,
                          detail=f"could not reach {self.url}: {self.scrub(_reason(exc))}")
        answer = classify(response.status_code, response.headers, body[:_MAX_BODY])
        return _with_elapsed(answer, time.monotonic() - started)

    def scrub(self, text: str) -> str:
        """The text with the key replaced by ``***``."""
        return text.replace(self.config.key, "***") if self.config.key else text

    def close(self) -> None:
        self.session.close()


def _reason(exc: BaseException) -> str:
    """The root cause of a transport failure in a few words ("Connection refused"), not urllib3's essay."""
    text = str(exc)
    errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno_text:
        return errno_text.group(1).strip()
    for marker in ("RemoteDisconnected", "ConnectionResetError", "BrokenPipe", "IncompleteRead"):
        if marker in text:
            return "the connection closed without an answer"
    return f"{type(exc).__name__}: {text[:200]}"


def _with_elapsed(answer: Answer, elapsed: float) -> Answer:
    return replace(answer, elapsed=elapsed)


class _KeyScrubber(logging.Filter):
    """Masks network keys in urllib3's debug lines, which quote the request path with ``?id=KEY``."""

    _keys: set[str] = set()
    _installed = False

    @classmethod
    def install(cls, key: str) -> None:
        cls._keys.add(key)
        if not cls._installed:
            logging.getLogger("urllib3.connectionpool").addFilter(cls())
            cls._installed = True

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(key in message for key in self._keys):
            for key in self._keys:
                message = message.replace(key, "***")
            record.msg, record.args = message, ()
        return True
