"""Sending the outbox: postbacks to trackers and events to the ad platforms, each once.

:class:`Dispatcher` claims one due message at a time (a lease, as the courier claims a lead),
sends it within ``timeout`` seconds (:mod:`leadkit.wire`: one deadline for the whole exchange,
the answer read within a limit) and records what came of it:

- ``sent``: the destination answered 2xx (TikTok: 2xx and ``"code": 0`` in its JSON). A message
  recorded as sent is never sent again;
- ``pending`` again, after a jittered backoff (honouring ``Retry-After``): no complete answer, a
  timeout, HTTP 408, 429 or 5xx;
- ``failed``: any other answer (a 4xx: the URL or the token is wrong; sending it again would not
  help), logged at ERROR with what to check; and a message still unsent after ``max_age``.

A server killed after the destination received a message but before it was recorded sends it
again once its lease has run out: at least once, never twice after a success is recorded.

Tokens are added here, never stored: ``access_token`` for Facebook's Conversions API, the
``Access-Token`` header for TikTok's Events API. Logs name the message's target, the
destination's host and the answer's status, never the URL's query (it carries the visit's tags)
nor the token; a destination's error text is logged cut short, with the token masked.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit


from .journal import Journal
from .journal_outbox import Message
from .logs import logger
from .relay import RetryPolicy, new_owner
from .answer import retry_after_seconds
from .network import mask_in_logs
from .wire import Connections, Exchange, WireError, get_within, post_within

__all__ = ["Dispatcher"]

log = logger("leadkit.dispatch")

_LIMIT = 16 * 1024
_RETRY_STATUS = frozenset((408, 425, 429))


class Dispatcher:
    """Sends the outbox's due messages. ``tokens``: the access token by target (``facebook``,
    ``tiktok``); ``timeout``: seconds for one whole exchange; ``max_age``: seconds after which an
    unsent message is given up."""

    def __init__(self, journal: Journal, *, tokens: Mapping[str, str] | None = None, timeout: float = 10.0,
                 lease: float = 60.0, max_age: float = 30 * 86400.0, policy: RetryPolicy | None = None,
                 http: Connections | None = None, clock: Callable[[], float] = time.time,
                 user_agent: str = "leadkit", names: Mapping[str, str] | None = None) -> None:
        self.journal = journal
        self.tokens = {target: token for target, token in (tokens or {}).items() if token}
        for token in self.tokens.values():  # urllib3's debug lines quote the request line, access_token and all
            mask_in_logs(token)
        self.timeout = timeout
        self.lease = max(lease, 2 * timeout + 1)
        self.max_age = max_age
        self.policy = policy or RetryPolicy()
        self._own = http is None
        self.http = http or Connections(user_agent)
        self.clock = clock
        #: What the logs call a target (``postback:0``: its ``postback.name``).
        self.names = dict(names or {})

    def run_due(self, limit: int = 50, stop: threading.Event | None = None) -> int:
        """Send up to ``limit`` due messages, one claim at a time; how many were attempted."""
        self.expire()
        attempted = 0
        while attempted < limit and not (stop is not None and stop.is_set()):
            owner = new_owner()
            claimed = self.journal.claim_messages(owner=owner, lease=self.lease, limit=1)
            if not claimed:
                break
            self.attempt(claimed[0], owner)
            attempted += 1
        return attempted

    def expire(self) -> None:
        for message in self.journal.expire_messages(self.max_age):
            log.error("%s %s for lead %s given up: not sent in %.1f h (last error: %s)", self._label(message),
                      message.event, message.lead_id, self.max_age / 3600, message.last_error or "never sent")

    def attempt(self, message: Message, owner: str) -> str:
        """Send one claimed message and record the outcome; the state recorded (never raises)."""
        host = urlsplit(message.url).hostname or "?"
        try:
            exchange = self._send(message)
        except WireError as exc:
            return self._again(message, owner, f"{exc.kind}: {self._mask(exc.reason)}", host, None)
        except Exception as exc:  # a bug of ours must not lose the message: it is tried again
            log.exception("%s %s for lead %s failed inside leadkit", self._label(message), message.event,
                          message.lead_id)
            return self._again(message, owner, f"internal: {type(exc).__name__}", host, None)
        answer = f"HTTP {exchange.status}"
        said = _json(exchange.body)  # the destination's JSON, read once (None: none)
        refusal = self._refusal(message, exchange.status, said)
        if refusal is None:
            self._record(message, owner, "sent", answer=answer)
            log.info("%s %s for lead %s sent to %s: %s", self._label(message), message.event, message.lead_id, host,
                     answer)
            return "sent"
        if exchange.status in _RETRY_STATUS or exchange.status >= 500 or _busy(message, exchange.status, said):
            return self._again(message, owner, refusal, host,
                               retry_after_seconds(exchange.headers.get("Retry-After")))
        self._record(message, owner, "failed", error=refusal, answer=answer)
        log.error("%s %s for lead %s refused by %s: %s; it is not sent again (after a fix: leadkit journal resend): "
                  "check the %s", self._label(message),
                  message.event, message.lead_id, host, refusal,
                  "postback's url" if message.target.startswith("postback") else f"capi.{message.target} settings")
        return "failed"

    def _send(self, message: Message) -> Exchange:
        params: dict[str, str] = {}
        headers = dict(message.headers)
        token = self.tokens.get(message.target)
        if token and message.target == "facebook":
            params["access_token"] = token
        elif token and message.target == "tiktok":
            headers["Access-Token"] = token
        if message.method == "POST":
            return post_within(self.http, message.url, seconds=self.timeout, limit=_LIMIT, params=params,
                               data=(message.body or "").encode("utf-8"), redact=token or "", headers=headers)
        return get_within(self.http, message.url, seconds=self.timeout, limit=_LIMIT, params=params,
                          redact=token or "", headers=headers)

    def _refusal(self, message: Message, status: int, body: dict[str, Any] | None) -> str | None:
        """None for a success; else what the destination said, in a few words."""
        said = self._said(body)
        if not 200 <= status < 300:
            return f"HTTP {status}{f' ({said})' if said else ''}"
        if message.target == "tiktok":  # TikTok answers 200 and says in its JSON whether it took the event
            code = body.get("code") if body else None
            if code not in (0, "0"):
                return f"TikTok code {code}{f' ({said})' if said else ''}" if code is not None else \
                    "an answer without TikTok's code"
        return None

    def _said(self, body: dict[str, Any] | None) -> str:
        """A platform's error message (Facebook's ``error.message``, TikTok's ``message``), cut short."""
        text = body.get("message") if body else None
        if text is None and body:
            error = body.get("error")
            text = error.get("message") if isinstance(error, dict) else None
        return self._mask(str(text))[:160] if isinstance(text, str) and text else ""

    def _again(self, message: Message, owner: str, error: str, host: str, retry_after: float | None) -> str:
        delay = self.policy.delay(message.attempts, retry_after)
        self._record(message, owner, "pending", error=error, next_attempt=self.clock() + delay)
        log.warning("%s %s for lead %s not sent to %s: %s; next try in %.0f s", self._label(message), message.event,
                    message.lead_id, host, error, delay)
        return "pending"

    def _record(self, message: Message, owner: str, state: str, *, error: str | None = None,
                answer: str | None = None, next_attempt: float | None = None) -> None:
        try:
            recorded = self.journal.record_message(message.id, owner=owner, state=state, error=error, answer=answer,
                                                   next_attempt=next_attempt)
        except Exception as exc:  # the journal cannot be written: the lease runs out, the message is tried again
            log.error("%s %s for lead %s: the outcome (%s) could not be recorded: %s", self._label(message),
                      message.event,
                      message.lead_id, state, exc)
            return
        if not recorded:
            log.warning("%s %s for lead %s: the lease ran out during the attempt; another sender holds it now",
                        self._label(message), message.event, message.lead_id)

    def _label(self, message: Message) -> str:
        name = self.names.get(message.target)
        return f"{name} ({message.target})" if name else message.target

    def _mask(self, text: str) -> str:
        for token in self.tokens.values():
            text = text.replace(token, "***")
        return text

    def close(self) -> None:
        if self._own:
            self.http.close()


def _json(body: bytes) -> dict[str, Any] | None:
    """The answer's JSON object, or None."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _busy(message: Message, status: int, body: dict[str, Any] | None) -> bool:
    """TikTok's 200 saying "later": too many requests (40100), its own failure (5xxxx), or no code at all
    (a proxy's page, not TikTok's answer)."""
    if message.target != "tiktok" or not 200 <= status < 300:
        return False
    code = body.get("code") if body else None
    if code is None:
        return True
    number = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else -1
    return number == 40100 or 50000 <= number < 60000
