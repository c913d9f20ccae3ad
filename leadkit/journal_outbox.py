"""The journal's outbox: each postback and conversion event, written before it is sent.

A :class:`Message` is one request to a tracker or an ad platform about one lead and one event
(``lead``, ``hold``, ``approve``, ``cancel``, ``trash``). It is written in the same transaction as
what caused it (the lead delivered, its stage changed), so a server killed between the two
cannot lose it; the pair ``(lead, target, event)`` is unique, so it is never written twice, and a
message recorded as ``sent`` is never sent again. A sender claims messages with a lease, as
leads are claimed (:mod:`leadkit.dispatch` sends them).

States: ``pending`` (to send, at ``next_attempt``), ``sent`` (the destination answered 2xx),
``failed`` (a final refusal, or still unsent after the outbox's age limit).

Messages carry no secret: an ad platform's token is added when the message is sent, never
written here (the journal's file may be copied for support).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence

from .journal_file import guarded, storable, storable_json

__all__ = ["MESSAGE_STATES", "Message", "OutboxTables", "OUTBOX_SCHEMA"]

MESSAGE_STATES = ("pending", "sent", "failed")

OUTBOX_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT,
    headers TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    last_error TEXT,
    answer TEXT,
    lease_owner TEXT,
    lease_until REAL,
    UNIQUE (lead_id, target, event)
)""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt)",
)

_MESSAGE_COLUMNS = ("lead_id", "target", "event", "method", "url", "body", "headers")


@dataclass(frozen=True)
class Message:
    """One request about one lead's ``event`` to one ``target`` (``postback:<n>``, ``facebook``,
    ``tiktok``): ``method``, ``url``, ``body`` (None: none) and ``headers`` (``Content-Type``...).
    The rest is the outbox's: its row ``id``, ``state``, ``attempts``, the ``next_attempt``, the
    ``last_error`` and the destination's ``answer`` (status and a few words, no customer data)."""

    lead_id: str
    target: str
    event: str
    method: str
    url: str
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    id: int = 0
    created: float = 0.0
    updated: float = 0.0
    state: str = "pending"
    attempts: int = 0
    next_attempt: float | None = None
    last_error: str | None = None
    answer: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None


class OutboxTables:
    """The outbox's part of :class:`~leadkit.journal.SQLiteJournal` (a mixin: it uses the journal's
    ``clock``, ``_transaction``, ``_connection`` and ``_none_where``)."""

    clock: Callable[[], float]
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _connection: Callable[[], sqlite3.Connection]
    _guard: Callable[[], AbstractContextManager[None]]
    _none_where: Callable[[str, str, Sequence[Any]], bool]

    @guarded
    def enqueue(self, messages: Sequence[Message]) -> int:
        """Write messages not yet written (by lead, target and event); how many were new."""
        with self._transaction() as db:
            return add_messages(db, messages, self.clock())

    @guarded
    def claim_messages(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Message]:
        """Claim up to ``limit`` pending messages that are due and that nobody holds, oldest first."""
        now = self.clock() if now is None else now
        due = "state = 'pending' AND next_attempt <= ? AND (lease_until IS NULL OR lease_until < ?)"
        if self._none_where("outbox", due, (now, now)):
            return []
        with self._transaction() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM outbox WHERE {due} ORDER BY next_attempt, id LIMIT ?", (now, now, limit))]
            db.executemany("UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                           [(owner, now + lease, i) for i in ids])
            rows = [db.execute("SELECT * FROM outbox WHERE id = ?", (i,)).fetchone() for i in ids]
        return [_message(row) for row in rows if row is not None]

    @guarded
    def record_message(self, message_id: int, *, owner: str, state: str, error: str | None = None,
                       answer: str | None = None, next_attempt: float | None = None) -> bool:
        """Record an attempt's outcome (``sent``, ``failed``, or ``pending`` again at ``next_attempt``)
        and release the lease; False when ``owner`` no longer holds it."""
        with self._transaction() as db:
            return bool(db.execute(
                "UPDATE outbox SET state = ?, updated = ?, attempts = attempts + 1, last_error = ?, answer = ?, "
                "next_attempt = ?, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                (state, self.clock(), storable(error), storable(answer), next_attempt, message_id, owner)).rowcount)

    @guarded
    def expire_messages(self, max_age: float, now: float | None = None) -> list[Message]:
        """Mark pending messages older than ``max_age`` seconds (and not held) failed; them."""
        now = self.clock() if now is None else now
        old = "state = 'pending' AND created < ? AND (lease_until IS NULL OR lease_until < ?)"
        if self._none_where("outbox", old, (now - max_age, now)):
            return []
        with self._transaction() as db:
            rows = db.execute(f"SELECT * FROM outbox WHERE {old}", (now - max_age, now)).fetchall()
            db.executemany("UPDATE outbox SET state = 'failed', updated = ?, next_attempt = NULL, "
                           "last_error = COALESCE(last_error, 'never sent') WHERE id = ?",
                           [(now, row["id"]) for row in rows])
        return [replace(_message(row), state="failed", updated=now, next_attempt=None,
                        last_error=row["last_error"] or "never sent") for row in rows]

    @guarded
    def resend_messages(self, *, lead_id: str | None = None, target: str | None = None) -> int:
        """Make failed messages (one lead's, one target's, or all) pending again, due now: after the
        URL or the token was fixed. How many."""
        clauses, args = ["state = 'failed'"], []  # type: list[str], list[Any]
        for clause, value in (("lead_id = ?", lead_id), ("target = ?", target)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        now = self.clock()
        with self._transaction() as db:
            # created anew: the outbox's age limit counts from the resend
            return int(db.execute(f"UPDATE outbox SET state = 'pending', next_attempt = ?, updated = ?, created = ? "
                                  f"WHERE {' AND '.join(clauses)}", (now, now, now, *args)).rowcount)

    @guarded
    def messages(self, *, lead_id: str | None = None, state: str | None = None,
                 limit: int | None = None) -> Iterator[Message]:
        """The outbox's messages in the order they were written; one lead's, or in one state."""
        clauses, args = [], []  # type: list[str], list[Any]
        for clause, value in (("lead_id = ?", lead_id), ("state = ?", state)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM outbox {where} ORDER BY id" + (" LIMIT ?" if limit else "")
        rows = self._connection().execute(sql, (*args, limit) if limit else tuple(args)).fetchall()
        return iter([_message(row) for row in rows])

    @guarded
    def outbox_counts(self) -> dict[str, int]:
        """The number of messages in each of :data:`MESSAGE_STATES`."""
        counts = {state: 0 for state in MESSAGE_STATES}
        for state, number in self._connection().execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
            counts[state] = number
        return counts


def add_messages(db: sqlite3.Connection, messages: Sequence[Message], now: float) -> int:
    """Inside a transaction: write the messages not yet written; how many were new."""
    added = 0
    for message in messages:
        values = [storable(getattr(message, name)) for name in _MESSAGE_COLUMNS]
        values[-1] = storable_json(dict(message.headers))
        added += db.execute(
            f"INSERT INTO outbox ({', '.join(_MESSAGE_COLUMNS)}, created, updated, state, next_attempt) "
            f"VALUES ({', '.join('?' * len(_MESSAGE_COLUMNS))}, ?, ?, 'pending', ?) "
            "ON CONFLICT (lead_id, target, event) DO NOTHING",  # written once; any other failure is one
            (*values, now, now, now)).rowcount
    return added


def _message(row: sqlite3.Row) -> Message:
    values = dict(row)
    values["headers"] = json.loads(values["headers"])
    return Message(**values)
