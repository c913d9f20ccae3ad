"""Taking an order: the checks, the journal, the first attempt, and the customer's reply.

:class:`OrderDesk` runs ``POST {mount}/order`` after the body was read
(:mod:`leadkit.formdata`), in this order:

1. where the post comes from (:func:`leadkit.guard.origin_problem`);
2. the form token: a forged or expired one is refused, the form shown again;
3. bots: the honeypot filled in, or the form sent too fast: an ordinary
   thank-you, nothing sent, nothing recorded but a counter;
4. the order itself (:func:`leadkit.form.read_order`): errors beside fields;
5. the journal: the same order again is the same lead (double submit), rate
   limits per client IP and per phone, then the lead is written;
6. the first attempt; the reply follows the lead's state.

The rendering is the middleware's; this module decides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from werkzeug.wrappers import Request

from .config import Config
from .formtoken import TOKEN_FIELD, FormTokens, IssuedToken
from .guard import bot_reason, origin_problem
from .errors import RateLimited, TokenError
from .journal import Entry, Journal, Limit
from .lead import Lead
from .network import Answer
from .form import Order, read_order
from .reply import Reply, reply_for, safe_redirect
from .payload import build_payload
from .relay import Courier, new_owner
from .texts import TEXTS
from .visitor import make_visitor

__all__ = ["OrderDesk", "OrderResult"]

log = logging.getLogger("leadkit")


@dataclass(frozen=True)
class OrderResult:
    """The decision on one post: the reply, and what the form needs to be shown again."""

    reply: Reply
    values: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None


class OrderDesk:
    """Decides what becomes of each posted order."""

    def __init__(self, config: Config, journal: Journal, courier: Courier, tokens: FormTokens, call: str,
                 order_tags: Callable[[Request, Mapping[str, str]], dict[str, str]]) -> None:
        self.config = config
        self.journal = journal
        self.courier = courier
        self.tokens = tokens
        self.call = call
        self.order_tags = order_tags
        self._key = config.site.secret.encode()

    def take(self, request: Request, fields: Mapping[str, str], thanks_url: str) -> OrderResult:
        site = self.config.site
        tags = self.order_tags(request, fields)
        origin = origin_problem(request.headers.get("Origin"), request.headers.get("Referer"), request.host,
                                site.allowed_origins, has_token=TOKEN_FIELD in fields)
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
        bot = bot_reason(fields, token, site.honeypot, site.min_fill_seconds, time.time())
        if bot:
            self.journal.count(f"bots_{bot.replace('-', '_')}")
            log.info("order ignored as a bot's (%s): nothing sent", bot)
            return OrderResult(Reply(303, redirect=thanks_url), tags=tags)
        order, errors, values = read_order(fields, self.config)
        if order is None:
            return OrderResult(Reply(422, message=TEXTS["form_has_errors"], errors=errors), values, tags)
        return self._journal_and_send(request, order, token, values, tags, thanks_url)

    def _journal_and_send(self, request: Request, order: Order, token: IssuedToken | None,
                          values: Mapping[str, str], tags: Mapping[str, str], thanks_url: str) -> OrderResult:
        site, limits, journal = self.config.site, self.config.limits, self.config.journal
        header_ip = request.headers.get(site.ip_header) if site.ip_header else None
        visitor = make_visitor(request.remote_addr, request.headers.get("X-Forwarded-For"),
                               request.user_agent.string, site.trusted_proxies, header_ip, site.trusted_networks)
        lead = Lead(order=order, visitor=visitor, tags=tags)
        entry = Entry(id=lead.id, call=self.call, payload=build_payload(lead, self.config),
                      fingerprint=self._fingerprint(order, token), created=lead.created)
        owner = new_owner()
        try:
            stored, created = self.journal.add(entry, owner=owner, lease=journal.lease, window=journal.double_submit,
                                               limits=[
                                                   Limit("ip", self._keyed(visitor.ip), limits.ip_orders,
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
        return OrderResult(self._customer_reply(stored, thanks_url), values, tags)

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

    def _customer_reply(self, entry: Entry, thanks_url: str) -> Reply:
        """Delivered: autologin or thanks; refused: the form again; otherwise the lead is safe in the journal."""
        hosts = self.config.network.redirect_hosts
        if entry.state == "delivered":
            return Reply(303, redirect=safe_redirect(entry.redirect, hosts) or thanks_url)
        if entry.state == "rejected":
            return reply_for(Answer("rejected", error=entry.error_code, message=entry.error_message), thanks_url)
        return Reply(303, redirect=thanks_url)
