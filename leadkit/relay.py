"""Delivering journalled leads: one attempt (:class:`Courier`) and the background retry loop (:class:`Relay`).

An attempt claims the lead, sends it, and records what happened:

- delivered: the network id and the autologin ``url`` are stored;
- a final error: stored as ``rejected``, never retried; except ``duplicate``
  for a lead an earlier attempt of which may have arrived (a dropped
  connection, a timeout, a 5xx, or this attempt's own request sent again after a
  kept-alive connection closed under it): that is the network saying it already
  has the lead, so it counts as delivered;
- retryable: stays ``pending`` with the next attempt after a jittered,
  capped exponential backoff that honours ``Retry-After``.

The relay is a daemon thread in the server process, started lazily and again
in each forked worker (gunicorn ``--preload``); ``leadkit journal retry`` does
one pass of the same loop for cron users. Leases keep two senders off one lead.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from .journal import Entry, Journal, Outcome
from .journal_outbox import Message
from .answer import Answer, operator_hint
from .logs import logger

__all__ = ["Courier", "Relay", "RetryPolicy", "outcome_for", "is_uncertain"]

log = logger("leadkit.relay")


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: ``base * 2**attempts`` seconds, capped, with jitter; never sooner than Retry-After."""

    base: float = 5.0
    cap: float = 900.0

    def delay(self, attempts: int, retry_after: float | None = None, rand: Callable[[], float] = random.random
              ) -> float:
        backoff = min(self.cap, self.base * 2.0 ** min(attempts, 30))
        jittered = backoff * (0.5 + rand() / 2)  # "equal jitter": spreads retries, keeps a floor
        return max(jittered, min(retry_after or 0.0, self.cap * 4))


def is_uncertain(answer: Answer) -> bool:
    """Could the lead have reached the network although we got no good answer?

    Every failure after the request may have left is: no answer in time, a connection cut, a
    body that is not JSON or cannot be decoded, a 5xx but 503 (the engine did not run), and a
    failure inside a send of someone else's (it may have sent first)."""
    error = answer.error or ""
    return answer.retryable and (error in ("timeout", "transport", "not-json", "encoding", "internal") or
                                 (error.startswith("http-5") and error != "http-503"))


def outcome_for(answer: Answer, entry: Entry, policy: RetryPolicy, now: float | None = None) -> Outcome:
    """What to record for ``entry`` after ``answer``. Pure."""
    now = time.time() if now is None else now
    if answer.delivered:
        return Outcome("delivered", network_id=answer.network_id or answer.uid, redirect=answer.url,
                       error=None)
    if answer.rejected and answer.error == "duplicate" and (entry.uncertain or answer.resent):
        return Outcome("delivered", error="duplicate after an attempt that may have arrived: counted as delivered")
    if answer.rejected:
        return Outcome("rejected", error=answer.detail, error_code=answer.error, error_message=answer.message,
                       bad=answer.bad)
    return Outcome("pending", error=answer.detail, next_attempt=now + policy.delay(entry.attempts,
                                                                                    answer.retry_after),
                   uncertain=is_uncertain(answer))


class Courier:
    """Makes one attempt for a claimed lead and records it.

    ``clock`` (:func:`time.time` by default) times the next attempt after a failure; the
    journal's own clock decides when that time has come, so give both the same clock.
    """

    def __init__(self, journal: Journal, send: Callable[[Mapping[str, Any]], Answer], policy: RetryPolicy,
                 *, lease: float, clock: Callable[[], float] = time.time,
                 announce: Callable[[Entry, str], Sequence[Message]] | None = None,
                 check_after: float | None = None) -> None:
        self.journal = journal
        self.send_payload = send
        self.policy = policy
        self.lease = lease
        self.clock = clock
        #: The messages (postbacks, conversion events) a lead's ``lead`` event causes; written with its delivery.
        self.announce = announce
        #: Seconds after its delivery a lead's status is first checked (None: never).
        self.check_after = check_after

    def attempt(self, entry: Entry, owner: str) -> Entry:
        """Send a lead ``owner`` holds; returns it as the journal holds it afterwards. When the
        lease ran out during the send and another sender took the lead, that sender's outcome
        stands and this attempt's is only logged.

        Never raises: a failure inside the send is a retryable answer, and when the journal
        cannot record the outcome the lead is returned as this attempt left it (a delivered
        lead stays delivered for the customer) while the journal keeps it pending and leased:
        the lease runs out and a later attempt's ``duplicate`` then counts as delivered.
        """
        answer = self._send(entry)
        now = self.clock()
        outcome = outcome_for(answer, entry, self.policy, now)
        messages: Sequence[Message] = ()
        if outcome.state == "delivered":
            if self.check_after is not None:
                outcome = replace(outcome, next_check=now + self.check_after)
            messages = self._announced(_as_left_by(entry, outcome))
        try:
            recorded = self.journal.record(entry.id, outcome, owner=owner, messages=messages)
            if recorded and answer.site_problem:
                self.journal.count(f"site_problem_{answer.error}")
        except Exception as exc:  # the journal is full, read-only, locked or broken
            log.error("lead %s: the outcome of the attempt (%s) could not be recorded in the journal: %s",
                      entry.id, outcome.state, exc)
            _log_attempt(entry, outcome, answer, now)
            return _as_left_by(entry, outcome)
        if recorded:
            _log_attempt(entry, outcome, answer, now)
        else:
            log.warning("lead %s: the lease ran out during the attempt and another sender holds the lead now; "
                        "its outcome stands, not this attempt's (%s)", entry.id, answer.detail or answer.outcome)
        try:
            return self.journal.get(entry.id) or entry
        except Exception:  # recorded, but unreadable just now: this attempt knows the outcome
            return _as_left_by(entry, outcome)

    def _announced(self, entry: Entry) -> Sequence[Message]:
        """The ``lead`` event's messages; none (logged) when making them fails: the lead comes first."""
        if self.announce is None:
            return ()
        try:
            return self.announce(entry, "lead")
        except Exception:
            log.exception("lead %s: its postbacks and conversion events could not be made; the lead is recorded "
                          "without them", entry.id)
            return ()

    def _send(self, entry: Entry) -> Answer:
        try:
            return self.send_payload(entry.payload)
        except Exception as exc:  # NetworkClient.send never raises; a send of someone else's might
            log.exception("lead %s: the send failed inside leadkit; the lead stays pending", entry.id)
            return Answer("retryable", error="internal", detail=f"the send failed: {type(exc).__name__}")

    def retry(self, lead_id: str, *, force: bool = False) -> Entry | None:
        """Claim and send one lead now (``force``: even before its next attempt time)."""
        owner = new_owner()
        entry = self.journal.claim(lead_id, owner=owner, lease=self.lease, force=force)
        return self.attempt(entry, owner) if entry else None

    def run_due(self, limit: int = 20, stop: threading.Event | None = None) -> int:
        """Send up to ``limit`` leads that are due, one claim at a time; how many were attempted.

        Claiming one lead just before its attempt, rather than a batch up front, keeps every
        lease longer than the attempt made under it (``journal.lease`` > 2 × ``network.timeout``,
        and the whole call is bounded by the timeout): a slow lead cannot make the ones behind
        it outlive their leases and be sent again by another sender.
        """
        attempted = 0
        while attempted < limit and not (stop is not None and stop.is_set()):
            owner = new_owner()
            claimed = self.journal.claim_due(owner=owner, lease=self.lease, limit=1)
            if not claimed:
                break
            self.attempt(claimed[0], owner)
            attempted += 1
        return attempted

    def expire(self, max_age: float) -> list[str]:
        ids = self.journal.expire(max_age)
        for lead_id in ids:
            entry = self.journal.get(lead_id)
            log.error("lead %s is dead: not delivered after %s attempt(s) in %.0f h; last error: %s. "
                      "See 'leadkit journal show %s'; 'leadkit journal export' gives the customer's details",
                      lead_id, entry.attempts if entry else "?", max_age / 3600,
                      entry.last_error if entry else "?", lead_id)
        return ids


def _log_attempt(entry: Entry, outcome: Outcome, answer: Answer, now: float) -> None:
    attempt = entry.attempts + 1
    ms = answer.elapsed * 1000
    if outcome.state == "delivered":
        log.info("lead %s delivered to %s on attempt %d (network id %s, %.0f ms)", entry.id, entry.call, attempt,
                 outcome.network_id or "-", ms)
    elif outcome.state == "rejected" and answer.site_problem:
        log.error("lead %s refused by %s because of the site's setup, not the customer: %s; to fix: %s",
                  entry.id, entry.call, answer.detail, operator_hint(answer.error, answer.bad))
    elif outcome.state == "rejected":
        log.info("lead %s refused by %s: %s", entry.id, entry.call, answer.detail)
    else:
        wait = (outcome.next_attempt or now) - now
        log.warning("lead %s not delivered to %s on attempt %d: %s; kept in the journal, next try in %.0f s",
                    entry.id, entry.call, attempt, answer.detail, wait)


def _as_left_by(entry: Entry, outcome: Outcome) -> Entry:
    """The lead as an attempt left it, when the journal could not say."""
    return replace(entry, state=outcome.state, network_id=outcome.network_id, redirect=outcome.redirect,
                   error_code=outcome.error_code, error_message=outcome.error_message, last_error=outcome.error)


def new_owner() -> str:
    """A lease owner token: this process, and a random part for this claim."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


#: What the relay calls its pass when telling of its failures.
_PASS = "the relay's pass"


class Relay:
    """The background retry loop of one process; :meth:`ensure_running` starts it after a fork too."""

    def __init__(self, courier: Courier, *, poll: float, max_age: float,
                 also: Sequence[Callable[[threading.Event], int]] = ()) -> None:
        self.courier = courier
        self.poll = poll
        self.max_age = max_age
        #: More work for each pass, after the leads: sending the outbox, asking for statuses.
        self.also = tuple(also)
        self._told: dict[str, tuple[str, float]] = {}  # what failed: the failure last told, and when
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="leadkit-relay", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout)
        self._pid = None

    def _failed(self, what: str, exc: Exception) -> None:
        """``what`` failed: its traceback the first time, then a line a minute while the same failure
        goes on (a database down for a while must not fill the log with a traceback each pass)."""
        failure = f"{type(exc).__name__}: {exc}"
        told, when = self._told.get(what, ("", 0.0))
        if failure != told:
            log.exception("%s failed; trying again in %.1f s", what, self.poll)
        elif time.monotonic() - when < 60:
            return
        else:
            log.warning("%s still fails (%s); trying again every %.1f s", what, failure[:200], self.poll)
        self._told[what] = (failure, time.monotonic())

    def run_once(self) -> int:
        self.courier.expire(self.max_age)
        busy = self.courier.run_due(stop=self._stop)
        for work in self.also:
            try:
                busy += work(self._stop)
            except Exception as exc:  # one part failing (a locked journal, a bug) must not stop the others
                self._failed("part of the relay's pass", exc)
        return busy

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                self._told.pop(_PASS, None)  # the pass worked: a failure again is told in full
            except Exception as exc:  # the loop must outlive a locked database or a bug in one attempt
                self._failed(_PASS, exc)
                busy = 0
            if not busy:
                self._stop.wait(self.poll)
