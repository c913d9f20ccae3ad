"""The PostgreSQL journal's part in the status loop and the outbox (as :mod:`leadkit.journal_status` and
:mod:`leadkit.journal_outbox` are the SQLite journal's): a mixin of
:class:`~leadkit.journal_pg.PostgresJournal`, which hands it ``clock`` and ``_run``.

Claims pass over the rows another server is claiming (``FOR UPDATE SKIP LOCKED``); what the network
said of a batch of leads is recorded lead by lead in the order of their ids, so that two batches that
share leads lock them in one order and never wait on each other in a cycle; messages are written with
what causes them, in one transaction, once per lead, target and event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from .journal_file import storable
from .journal_outbox import MESSAGE_STATES, Message
from .journal_pg_connect import Connection
from .journal_pg_sql import (CLAIM_CHECKS, CLAIM_MESSAGES, EXPIRE_MESSAGES, MESSAGES, RECORD_STATUS, add_messages,
                             lead_entry, message)
from .journal_status import StatusUpdate

if TYPE_CHECKING:
    from .journal import Entry

__all__ = ["LoopTables"]

_T = TypeVar("_T")


class LoopTables:
    """The status loop's and the outbox's methods of :class:`~leadkit.journal_pg.PostgresJournal`."""

    clock: Callable[[], float]

    def _run(self, work: Callable[[Connection], _T], *, transaction: bool = True, wait: float | None = None) -> _T:
        raise NotImplementedError

    # -- the status loop ------------------------------------------------------------------------------

    def claim_checks(self, *, call: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        now = self.clock() if now is None else now
        args = {"now": now, "until": now + lease, "call": storable(call), "limit": limit}
        rows = self._run(lambda db: db.execute(CLAIM_CHECKS, args).fetchall(), transaction=False)
        return [lead_entry(row[:-2]) for row in sorted(rows, key=lambda row: (row[-2], row[-1]))]

    def record_statuses(self, updates: Sequence[StatusUpdate], messages: Sequence[Message] = ()) -> None:
        now = self.clock()
        rows = [(storable(u.stage), u.status, u.reason, u.payout, now, u.next_check, now, storable(u.lead_id))
                for u in sorted(updates, key=lambda u: str(storable(u.lead_id)))]  # stable: a lead twice keeps its order

        def work(db: Connection) -> None:
            if rows:
                with db.cursor() as cursor:
                    cursor.executemany(RECORD_STATUS, rows)
            if messages:
                add_messages(db, messages, now)

        self._run(work)

    def postpone_checks(self, lead_ids: Sequence[str], until: float | None) -> None:
        if lead_ids:
            ids = sorted(str(storable(i)) for i in lead_ids)
            self._run(lambda db: db.execute("UPDATE leads SET next_check = %s::float8 WHERE id = ANY(%s::text[])",
                                            (until, ids)), transaction=False)

    def thank(self, lead_id: str) -> bool:
        args = (self.clock(), storable(lead_id))
        return bool(self._run(lambda db: db.execute("UPDATE leads SET thanked = %s WHERE id = %s AND thanked IS NULL",
                                                    args).rowcount, transaction=False))

    # -- the outbox ---------------------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[Message]) -> int:
        now = self.clock()
        return self._run(lambda db: add_messages(db, messages, now), transaction=False) if messages else 0

    def claim_messages(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Message]:
        now = self.clock() if now is None else now
        args = {"owner": storable(owner), "until": now + lease, "now": now, "limit": limit}
        rows = self._run(lambda db: db.execute(CLAIM_MESSAGES, args).fetchall(), transaction=False)
        return sorted((message(row) for row in rows), key=lambda m: (m.next_attempt or 0.0, m.id))

    def record_message(self, message_id: int, *, owner: str, state: str, error: str | None = None,
                       answer: str | None = None, next_attempt: float | None = None) -> bool:
        args = (storable(state), self.clock(), storable(error), storable(answer), next_attempt, message_id,
                storable(owner))
        return bool(self._run(lambda db: db.execute(
            "UPDATE outbox SET state = %s, updated = %s, attempts = attempts + 1, last_error = %s::text, "
            "answer = %s::text, next_attempt = %s::float8, lease_owner = NULL, lease_until = NULL "
            "WHERE id = %s AND lease_owner = %s::text AND state = 'pending'", args).rowcount, transaction=False))

    def expire_messages(self, max_age: float, now: float | None = None) -> list[Message]:
        now = self.clock() if now is None else now
        args = {"now": now, "cutoff": now - max_age}
        rows = self._run(lambda db: db.execute(EXPIRE_MESSAGES, args).fetchall(), transaction=False)
        return sorted((message(row) for row in rows), key=lambda m: m.id)

    def resend_messages(self, *, lead_id: str | None = None, target: str | None = None) -> int:
        clauses: list[str] = ["state = 'failed'"]
        args: list[Any] = []
        for clause, value in (("lead_id = %s", lead_id), ("target = %s", target)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        now = self.clock()
        sql = (f"UPDATE outbox SET state = 'pending', next_attempt = %s, updated = %s, created = %s "
               f"WHERE {' AND '.join(clauses)}").encode()  # created anew: the age limit counts from the resend
        return int(self._run(lambda db: db.execute(sql, (now, now, now, *args)).rowcount, transaction=False))

    def messages(self, *, lead_id: str | None = None, state: str | None = None,
                 limit: int | None = None) -> Iterator[Message]:
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (("lead_id = %s", lead_id), ("state = %s", state)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {MESSAGES} FROM outbox {where} ORDER BY id {f'LIMIT {int(limit)}' if limit else ''}".encode()
        rows = self._run(lambda db: db.execute(sql, args).fetchall(), transaction=False)
        return iter([message(row) for row in rows])

    def outbox_counts(self) -> dict[str, int]:
        """The messages by state, from the tallies the triggers keep (the health route calls it)."""
        counts = {state: 0 for state in MESSAGE_STATES}
        rows = self._run(lambda db: db.execute("SELECT state, SUM(n)::bigint FROM outbox_tallies GROUP BY state")
                         .fetchall(), transaction=False)
        counts.update({state: int(n) for state, n in rows if n})
        return counts
