"""Status sync: asking the network what became of delivered leads, and telling trackers and platforms.

:class:`StatusSync` claims the delivered leads whose check is due (:meth:`~leadkit.journal.Journal.
claim_checks`), asks the network about them with the role's status call, in batches the documents
allow (:mod:`leadkit.statuses`), and records each lead's ``stage``, ``status``, ``reason`` and
``payout``. A lead whose stage changed to ``hold``, ``approve``, ``cancel`` or ``trash`` gets that
event's postbacks and conversion events (:mod:`leadkit.conversions`) written to the outbox in
the same transaction as the stage, so a server killed in between loses neither.

When to ask: a young lead every ``sync.interval`` seconds, an older one less often
(:func:`~leadkit.statuses.check_delay`); never again once its stage is final or it is older than
``sync.max_age`` days. When the network cannot be asked (down, an error answer, garbage), the
batch is asked again after a backoff that grows with each failure in a row, as the relay's does;
a lead the answer leaves out is asked about again on its schedule.

It runs in the relay's thread of the server process, and once per ``leadkit journal sync`` (cron).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from .config import CALLS
from .conversions import Announcer
from .journal import Entry, Journal
from .journal_outbox import Message
from .journal_status import StatusUpdate
from .logs import logger
from .network import NetworkClient
from .relay import RetryPolicy
from .statuses import (BATCH, FINAL_STAGES, STATUS_CALLS, LeadStatus, StatusError, Statuses, SyncConfig, check_delay,
                       lead_key, read_statuses)
from .wire import WireError

__all__ = ["StatusSync"]

log = logger("leadkit.sync")

_DAY = 86400.0
#: Stages whose arrival is an event for postbacks and platforms (``wait`` is where every lead starts).
_EVENT_STAGES = ("hold", "approve", "cancel", "trash")


class StatusSync:
    """Asks the network about due leads and records what it says; one pass at a time.

    ``lease`` is how long a batch stays claimed (longer than one call); ``clock`` gives the time, as
    :func:`time.time` does (give the journal the same one)."""

    def __init__(self, journal: Journal, client: NetworkClient, role: str, config: SyncConfig, announcer: Announcer,
                 *, lease: float, policy: RetryPolicy | None = None, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.client = client
        self.role = role
        self.config = config
        self.announcer = announcer
        self.lease = lease
        self.policy = policy or RetryPolicy(base=config.interval, cap=max(config.interval * 60, 900.0))
        self.clock = clock
        self.failures = 0  # status calls failed in a row: the backoff grows with them
        self._call, self._param = STATUS_CALLS[role]
        self._warned: set[str] = set()

    def run_due(self, stop: threading.Event | None = None, most: int = 1000) -> int:
        """Ask about due leads, batch after batch, until none is due (or ``most`` were asked
        about); how many were claimed."""
        asked = 0
        while asked < most and not (stop is not None and stop.is_set()):
            claimed = self.run_once()
            asked += claimed
            if claimed < BATCH[self.role]:
                break
        return asked

    def run_once(self) -> int:
        """One status call for up to one batch of due leads; how many leads were claimed."""
        entries = self.journal.claim_checks(call=CALLS[self.role], lease=self.lease, limit=BATCH[self.role])
        if not entries:
            return 0
        keyed: dict[str, Entry] = {}
        now = self.clock()
        for entry in entries:
            key = lead_key(self.role, entry.id, entry.network_id)
            if now - entry.created >= self.config.max_age * _DAY:  # too old to ask about (the server was down)
                self.journal.postpone_checks([entry.id], None)
            elif key is None:
                self._warn_once("no-id", f"lead {entry.id} has no network id (the network accepted it without "
                                f"one), so {self._call} cannot name it: its status is not checked")
                self.journal.postpone_checks([entry.id], None)
            else:
                keyed[key] = entry
        if keyed:
            self._ask(keyed)
        return len(entries)

    def _ask(self, keyed: Mapping[str, Entry]) -> None:
        try:
            exchange = self.client.read(self._call, {self._param: ",".join(keyed)})
            if exchange.status != 200:
                raise StatusError(f"http-{exchange.status}", f"HTTP {exchange.status}")
            statuses = read_statuses(exchange.body, self.role)
        except (WireError, StatusError) as exc:
            self._failed(keyed, exc)
            return
        self.failures = 0
        if statuses.unreadable:
            log.warning("%s answered %d item(s) leadkit could not read (no id or no stage); they are skipped",
                        self._call, statuses.unreadable)
        self._record(keyed, statuses)

    def _record(self, keyed: Mapping[str, Entry], statuses: Statuses) -> None:
        now = self.clock()
        updates: list[StatusUpdate] = []
        messages: list[Message] = []
        for key, entry in keyed.items():
            status = statuses.found.get(key)
            if status is None:  # not in the answer (not there yet, or another account's): ask again later
                updates.append(StatusUpdate(entry.id, None, next_check=self._next_check(entry, None, now)))
                continue
            updates.append(StatusUpdate(entry.id, status.stage, status.status, status.reason, status.payout,
                                        self._next_check(entry, status.stage, now)))
            if status.stage != entry.stage:
                messages += self._changed(entry, status)
        self.journal.record_statuses(updates, messages)

    def _changed(self, entry: Entry, status: LeadStatus) -> Sequence[Message]:
        payout = status.payout if status.payout is not None else entry.payout
        log.info("lead %s: stage %s -> %s (status %s, reason %s%s)", entry.id, entry.stage or "-", status.stage,
                 status.status if status.status is not None else "-", status.reason if status.reason is not None
                 else "-", f", payout {payout:g}" if payout is not None else "")
        if status.stage not in _EVENT_STAGES:
            return []
        changed = replace(entry, stage=status.stage, status=status.status, reason=status.reason, payout=payout)
        return self.announcer.messages(changed, status.stage)

    def _next_check(self, entry: Entry, stage: str | None, now: float) -> float | None:
        if (stage or entry.stage) in FINAL_STAGES:
            return None
        age = now - entry.created
        if age >= self.config.max_age * _DAY:
            return None
        return now + check_delay(age, self.config.interval)

    def _failed(self, keyed: Mapping[str, Entry], exc: WireError | StatusError) -> None:
        delay = self.policy.delay(self.failures)
        self.failures += 1
        reason = exc.reason if isinstance(exc, WireError) else exc.detail
        scrubbed = self.client.scrub(reason)
        hint = _HINTS.get(exc.code if isinstance(exc, StatusError) else "", "")
        log.warning("the status call %s for %d lead(s) failed: %s%s; asking again in %.0f s", self._call, len(keyed),
                    scrubbed, hint, delay)
        self.journal.postpone_checks([entry.id for entry in keyed.values()], self.clock() + delay)

    def _warn_once(self, kind: str, text: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s", text)


_HINTS = {
    "key": " (the network does not know the key: check network.key)",
    "access": " (this key may not make the call: check network.role, or ask the network to enable API access)",
    "func": " (the network has no such call: its engine may not report statuses)",
    "app": " (the network has no such API: check network.api and network.role)",
}
