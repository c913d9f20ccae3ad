"""The journal's part in the status loop: which delivered leads to ask about, what the network said.

A delivered lead gets a ``next_check`` time (:mod:`leadkit.sync` sets it); a syncing process
*claims* the leads that are due by pushing their ``next_check`` a lease ahead in one transaction,
so two processes (two servers on one database) do not ask about the same leads at once, and a
process that dies mid-call leaves them due again when the lease ends. What the network answered
is recorded with the outbox's messages it causes in one transaction (:meth:`record_statuses`):
a server killed between the two loses neither.

The thank-you page's pixels fire once per lead: :meth:`thank` says whether this is the first time.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .journal_file import guarded, storable
from .journal_outbox import Message, add_messages

if TYPE_CHECKING:
    from .journal import Entry

__all__ = ["StatusTables", "StatusUpdate"]


@dataclass(frozen=True)
class StatusUpdate:
    """What to record of one lead after a status call: the network's ``stage``, ``status``,
    ``reason`` and ``payout`` (None: unchanged), and when to ask again (None: never)."""

    lead_id: str
    stage: str | None
    status: int | None = None
    reason: int | None = None
    payout: float | None = None
    next_check: float | None = None


class StatusTables:
    """The status loop's part of :class:`~leadkit.journal.SQLiteJournal` (a mixin)."""

    clock: Callable[[], float]
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _connection: Callable[[], sqlite3.Connection]
    _guard: Callable[[], AbstractContextManager[None]]
    _none_where: Callable[[str, str, Sequence[Any]], bool]

    def get(self, lead_id: str) -> Entry | None:
        raise NotImplementedError

    @guarded
    def claim_checks(self, *, call: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        """Claim up to ``limit`` delivered leads of ``call`` whose check is due, the longest due
        first: their ``next_check`` moves ``lease`` seconds ahead."""
        now = self.clock() if now is None else now
        due = "next_check <= ? AND state = 'delivered' AND call = ?"
        if self._none_where("leads", due, (now, storable(call))):
            return []
        with self._transaction() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM leads WHERE {due} ORDER BY next_check LIMIT ?", (now, storable(call), limit))]
            db.executemany("UPDATE leads SET next_check = ? WHERE id = ?", [(now + lease, i) for i in ids])
        return [e for e in (self.get(i) for i in ids) if e is not None]

    @guarded
    def record_statuses(self, updates: Sequence[StatusUpdate], messages: Sequence[Message] = ()) -> None:
        """Record each lead's status and next check, and write ``messages`` to the outbox, in one
        transaction."""
        now = self.clock()
        with self._transaction() as db:
            db.executemany(
                "UPDATE leads SET stage = COALESCE(?, stage), status = COALESCE(?, status), "
                "reason = COALESCE(?, reason), payout = COALESCE(?, payout), checked = ?, next_check = ?, "
                "updated = ? WHERE id = ?",
                [(storable(u.stage), u.status, u.reason, u.payout, now, u.next_check, now, storable(u.lead_id))
                 for u in updates])
            if messages:
                add_messages(db, messages, now)

    @guarded
    def postpone_checks(self, lead_ids: Sequence[str], until: float | None) -> None:
        """Ask about these leads again at ``until`` (None: never), their status unchanged."""
        with self._transaction() as db:
            db.executemany("UPDATE leads SET next_check = ? WHERE id = ?",
                           [(until, storable(i)) for i in lead_ids])

    @guarded
    def thank(self, lead_id: str) -> bool:
        """Whether the thank-you page is shown for this lead for the first time (its pixels fire
        then, and never again); marks it thanked."""
        with self._transaction() as db:
            return bool(db.execute("UPDATE leads SET thanked = ? WHERE id = ? AND thanked IS NULL",
                                   (self.clock(), storable(lead_id))).rowcount)
