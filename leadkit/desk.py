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
   limits per client (an IPv4 address, an IPv6 /64) and per phone from that
   client, then the lead is written;
6. the first attempt (:class:`leadkit.relay.Courier`); the reply follows the
   lead's state as the journal recorded it (:func:`leadkit.reply.reply_for`).

When the journal cannot be written (disk full, read-only, locked, corrupt),
the lead is not durable and nothing would retry it. The desk then sends it to
the network once, directly, with the same payload: the customer is thanked
only when the network took it, a refusal is shown as usual, and any other
answer gets the form again with the values kept (503: "send it again in a
minute"). Each such order is logged at ERROR with the journal's path, what
went wrong and what to fix, never the phone. Counters that cannot be written
cost the count, not the answer.

No request object, no rendering: the desk returns an :class:`OrderResult`
and the middleware turns it into a response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .answer import Answer, operator_hint
from .config import Config
from .errors import JournalError, RateLimited, TokenError
from .form import Order, read_order
from .formtoken import TOKEN_FIELD, FormTokens, IssuedToken
from .guard import bot_reason, client_bucket, origin_problem
from .journal import Entry, Journal, Limit
from .lead import Lead, new_lead_id
from .logs import logger
from .payload import build_payload
from .relay import Courier, new_owner
from .reply import Reply, refused, reply_for, safe_redirect
from .texts import Texts, english
from .visitor import Visitor

__all__ = ["OrderDesk", "OrderResult", "Submission"]

log = logger("leadkit")

#: Seconds a customer is asked to wait before sending an order again that could not be taken.
RETRY_AFTER = 30
_JOURNAL_FIX = ("free disk space, make the file and its folder writable by the server's user, stop whatever "
                "holds it locked, or move a corrupt file aside (leadkit starts a new one); /leadkit/health "
                "answers 503 until it can be written")


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
    #: Optional order fields read besides the configured form's: those a landing kit's own form sent.
    extra_fields: tuple[str, ...] = ()
    #: What the customer reads, in their language.
    texts: Texts = english
    #: The ad platforms' click and browser ids and the visit's pixel ids (never sent to the network).
    clicks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderResult:
    """The decision on one post: the reply, and what the form needs to be shown again."""

    reply: Reply
    values: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    #: The lead this post became (a thank-you page may greet the customer by name).
    lead_id: str | None = None


class OrderDesk:
    """Decides what becomes of each posted order.

    ``send`` makes the lead call (:meth:`leadkit.network.NetworkClient.send`); the desk uses it
    itself only for a lead the journal could not take. ``clock`` tells the time (tests pass their own).
    """

    def __init__(self, config: Config, journal: Journal, courier: Courier, tokens: FormTokens, call: str,
                 *, send: Callable[[Mapping[str, Any]], Answer], clock: Callable[[], float] = time.time,
                 landing: str = "", ids: Callable[[], str] = new_lead_id) -> None:
        self.config = config
        self.landing = landing
        self.journal = journal
        self.courier = courier
        self.tokens = tokens
        self.call = call
        self.send = send
        self.clock = clock
        self.ids = ids
        self._key = config.site.secret.encode()

    def take(self, submission: Submission) -> OrderResult:
        site, fields, tags, texts = self.config.site, submission.fields, submission.tags, submission.texts
        origin = origin_problem(submission.origin, submission.referer, submission.host, site.allowed_origins,
                                has_token=TOKEN_FIELD in fields)
        if origin:
            log.info("order refused: %s", "sent from another site" if origin == "foreign" else
                     "no form token and no Origin or Referer")
            return OrderResult(Reply(403, message=texts(f"origin_{origin.replace('-', '_')}")), tags=tags)
        token = None
        if TOKEN_FIELD in fields:
            try:
                token = self.tokens.read(fields[TOKEN_FIELD])
            except TokenError as exc:
                _, _, values = read_order(fields, self.config, submission.extra_fields, texts)
                return OrderResult(Reply(400, message=texts(f"token_{exc.reason}")), values, tags)
        bot = bot_reason(fields, token, site.honeypot, site.min_fill_seconds, self.clock())
        if bot:
            self._count(f"bots_{bot.replace('-', '_')}")
            log.info("order ignored as a bot's (%s): nothing sent", bot)
            return OrderResult(Reply(303, redirect=submission.thanks_url), tags=tags)
        order, errors, values = read_order(fields, self.config, submission.extra_fields, texts)
        if order is None:
            return OrderResult(Reply(422, message=texts("form_has_errors"), errors=errors), values, tags)
        return self._journal_and_send(submission, order, token, values)

    def _journal_and_send(self, submission: Submission, order: Order, token: IssuedToken | None,
                          values: Mapping[str, str]) -> OrderResult:
        tags = submission.tags
        lead = Lead(order=order, visitor=submission.visitor, tags=tags, created=self.clock(), id=self.ids())
        entry = Entry(id=lead.id, call=self.call, payload=build_payload(lead, self.config),
                      fingerprint=self._fingerprint(order, token), created=lead.created, landing=self.landing,
                      tags=dict(tags), clicks=dict(submission.clicks))
        owner = new_owner()
        try:
            stored, created = self.journal.add(entry, owner=owner, lease=self.config.journal.lease,
                                               window=self.config.journal.double_submit,
                                               limits=self._limits(lead.visitor.ip, order.phone.digits))
        except RateLimited as exc:
            self._count(f"rate_limited_{exc.kind}")
            log.info("order refused: too many orders from this %s; retry after %.0f s", exc.kind, exc.retry_after)
            return OrderResult(Reply(429, message=submission.texts("rate_limited")), values, tags,
                               retry_after=int(exc.retry_after))
        except Exception as exc:  # JournalError, or whatever a journal of someone else's raises
            return self._without_journal(entry, exc, submission, values)
        if created:
            stored = self.courier.attempt(stored, owner)
        else:
            log.info("lead %s: the same order again (a double submit): no new lead", stored.id)
            stored = self._settled(stored)
        network = self.config.network
        reply = reply_for(stored, submission.thanks_url, network.redirect_hosts, prefer_thanks=network.prefer_thanks,
                          texts=submission.texts)
        return OrderResult(reply, values, tags, lead_id=stored.id)

    def _without_journal(self, entry: Entry, problem: Exception, submission: Submission,
                         values: Mapping[str, str]) -> OrderResult:
        """The lead could not be written: one direct attempt, and thanks only when the network has it."""
        answer = self.send(entry.payload)
        tags, thanks = submission.tags, submission.thanks_url
        if answer.delivered:
            outcome = f"the network took it (network id {answer.network_id or answer.uid or '-'})"
            network = self.config.network
            url = None if network.prefer_thanks else safe_redirect(answer.url, network.redirect_hosts)
            reply = Reply(303, redirect=url or thanks)
        elif answer.rejected:
            hint = operator_hint(answer.error, answer.bad) if answer.site_problem else ""
            outcome = answer.detail + (f" (to fix: {hint})" if hint else "")
            reply = refused(answer.error, answer.message, thanks, answer.bad, submission.texts)
        else:
            outcome = f"{answer.detail}; neither kept nor delivered, the customer was asked to send it again"
            reply = Reply(503, message=submission.texts("order_not_taken"))
        log.error("lead %s could not be written to the journal (%s) and was sent to %s directly, once, without "
                  "retries: %s. To fix the journal: %s", entry.id, _journal_problem(problem), self.call, outcome,
                  problem.fix if isinstance(problem, JournalError) and problem.fix else _JOURNAL_FIX)
        return OrderResult(reply, values, tags, retry_after=RETRY_AFTER if reply.status == 503 else None,
                           lead_id=entry.id if answer.delivered else None)

    def _limits(self, ip: str, phone: str) -> list[Limit]:
        """Per client, and per phone from that client: someone else's orders with a customer's number
        cannot lock the customer out (the network's own de-duplication catches one phone from many
        clients)."""
        limits, client = self.config.limits, client_bucket(ip)
        return [Limit("ip", self._keyed(client), limits.ip_orders, limits.ip_window),
                Limit("phone", self._keyed(json.dumps([phone, client])), limits.phone_orders, limits.phone_window)]

    def _count(self, name: str) -> None:
        """Add to a counter; a journal that cannot be written costs the count, never the answer."""
        try:
            self.journal.count(name)
        except Exception as exc:
            log.warning("the counter %s could not be written to the journal (%s)", name, _journal_problem(exc))

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
            try:
                entry = self.journal.get(entry.id) or entry
            except Exception:  # unreadable just now: the lead is written, so it is safe; thank the customer
                break
        return entry


def _journal_problem(exc: Exception) -> str:
    """What went wrong with the journal, for the operator: the path and the reason of a
    :class:`JournalError`; of anything else only its type (its text might carry an order's data)."""
    if isinstance(exc, JournalError):
        return f"{exc.path}: {exc.reason}"
    return f"{type(exc).__name__} raised by the journal"
