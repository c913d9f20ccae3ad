"""The order desk: what becomes of each posted order.

The middleware reads the request into a :class:`Submission` (plain values: the
fields, the visitor's tags, the visitor, where the post came from) and hands
it to :meth:`OrderDesk.take`, which decides, in this order:

1. where the post comes from (:func:`leadkit.guard.origin_problem`);
2. the form token: a forged or expired one is refused, the form shown again;
3. bots: the honeypot filled in, or the form sent too fast: an ordinary
   thank-you, nothing sent, nothing recorded but a counter;
4. the order itself (:func:`leadkit.form.read_order`): errors beside fields;
5. the journal: the same order again is the same lead (double submit), rate
   limits per client IP and per phone, then the lead is written;
6. the first attempt (:class:`leadkit.relay.Courier`); the reply follows the
   lead's state as the journal recorded it (:func:`leadkit.reply.reply_for`).

No request object, no rendering: the desk returns an :class:`OrderResult`
and the middleware turns it into a response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .config import Config
from .errors import RateLimited, TokenError
from .form import Order, read_order
from .formtoken import TOKEN_FIELD, FormTokens, IssuedToken
from .guard import bot_reason, origin_problem
from .journal import Entry, Journal, Limit
from .lead import Lead
from .payload import build_payload
from .relay import Courier, new_owner
from .reply import Reply, reply_for
from .texts import TEXTS
from .visitor import Visitor

__all__ = ["OrderDesk", "OrderResult", "Submission"]

log = logging.getLogger("leadkit")


@dataclass(frozen=True)
class Submission:
    """A posted order as the desk needs it: what was typed and everything known about who sent it.

    ``origin``, ``referer`` and ``host`` are the request's headers (for the
    cross-site check); ``thanks_url`` is where a settled lead's customer goes.
    """

    fields: Mapping[str, str]
    tags: Mapping[str, str]
    visitor: Visitor
    host: str
    thanks_url: str
    origin: str | None = None
    referer: str | None = None


@dataclass(frozen=True)
class OrderResult:
    """The decision on one post: the reply, and what the form needs to be shown again."""

    reply: Reply
    values: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None


class OrderDesk:
    """Decides what becomes of each posted order. ``clock`` tells the time (tests pass their own)."""

    def __init__(self, config: Config, journal: Journal, courier: Courier, tokens: FormTokens, call: str,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.journal = journal
        self.courier = courier
        self.tokens = tokens
        self.call = call
        self.clock = clock
        self._key = config.site.secret.encode()

    def take(self, submission: Submission) -> OrderResult:
        site, fields, tags = self.config.site, submission.fields, submission.tags
        origin = origin_problem(submission.origin, submission.referer, submission.host, site.allowed_origins,
                                has_token=TOKEN_FIELD in fields)
        if origin:
            log.info("order refused: %s", "sent from another site" if origin == "foreign" else
                     "no form token and no Origin or Referer")
            return OrderResult(Reply(403, message=TEXTS[f"origin_{origin.replace('-', '_')}"]), tags=tags)
        token = None
        if TOKEN_FIELD in fields:
            try:
                token = self.tokens.read(fields[TOKEN_FIELD])
            except TokenError as exc:
                _, _, values = read_order(fields, self.config)
                return OrderResult(Reply(400, message=TEXTS[f"token_{exc.reason}"]), values, tags)
        bot = bot_reason(fields, token, site.honeypot, site.min_fill_seconds, self.clock())
        if bot:
            self.journal.count(f"bots_{bot.replace('-', '_')}")
            log.info("order ignored as a bot's (%s): nothing sent", bot)
            return OrderResult(Reply(303, redirect=submission.thanks_url), tags=tags)
        order, errors, values = read_order(fields, self.config)
        if order is None:
            return OrderResult(Reply(422, message=TEXTS["form_has_errors"], errors=errors), values, tags)
        return self._journal_and_send(submission, order, token, values)

    def _journal_and_send(self, submission: Submission, order: Order, token: IssuedToken | None,
                          values: Mapping[str, str]) -> OrderResult:
        limits, journal, tags = self.config.limits, self.config.journal, submission.tags
        lead = Lead(order=order, visitor=submission.visitor, tags=tags, created=self.clock())
        entry = Entry(id=lead.id, call=self.call, payload=build_payload(lead, self.config),
                      fingerprint=self._fingerprint(order, token), created=lead.created)
        owner = new_owner()
        try:
            stored, created = self.journal.add(entry, owner=owner, lease=journal.lease, window=journal.double_submit,
                                               limits=[
                                                   Limit("ip", self._keyed(lead.visitor.ip), limits.ip_orders,
                                                         limits.ip_window),
                                                   Limit("phone", self._keyed(order.phone.digits),
                                                         limits.phone_orders, limits.phone_window)])
        except RateLimited as exc:
            self.journal.count(f"rate_limited_{exc.kind}")
            log.info("order refused: too many orders from this %s; retry after %.0f s", exc.kind, exc.retry_after)
            return OrderResult(Reply(429, message=TEXTS["rate_limited"]), values, tags,
                               retry_after=int(exc.retry_after))
        if created:
            stored = self.courier.attempt(stored, owner)
        else:
            log.info("lead %s: the same order again (a double submit): no new lead", stored.id)
            stored = self._settled(stored)
        reply = reply_for(stored, submission.thanks_url, self.config.network.redirect_hosts)
        return OrderResult(reply, values, tags)

    def _keyed(self, text: str) -> str:
        """A keyed hash: the journal keeps no bare hash of a phone (phones are easy to enumerate)."""
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def _fingerprint(self, order: Order, token: IssuedToken | None) -> str:
        """The double-submit key: one form instance and one phone when the form had a token,
        else the same person ordering the same thing."""
        if token is not None:
            return self._keyed(json.dumps(["token", token.nonce, order.phone.digits]))
        facts = [self.config.offer.offer, order.phone.digits, order.name.casefold(), sorted(order.details.items())]
        return self._keyed(json.dumps(facts))

    def _settled(self, entry: Entry) -> Entry:
        """Wait while another request's attempt on this lead is under way, within the time budget."""
        deadline = time.monotonic() + self.config.network.timeout + 1
        while entry.state == "pending" and entry.lease_owner and time.monotonic() < deadline:
            time.sleep(0.05)
            entry = self.journal.get(entry.id) or entry
        return entry
