"""The lead journal on PostgreSQL: one database that several servers share (``journal.url``).

:class:`PostgresJournal` keeps the :class:`~leadkit.journal.Journal` contract as
:class:`~leadkit.journal.SQLiteJournal` keeps it (the same states, leases, outbox, counts and answers)
for servers that share nothing but the database. It needs psycopg 3 and psycopg-pool
(``pip install 'leadkit[postgres]'``) and PostgreSQL 12 or newer. Opening it brings the database's
tables up to date (:mod:`leadkit.journal_pg_schema`; ``leadkit journal migrate`` does the same), so
the database it names should be one of its own. Its parts: the statements (:mod:`leadkit.journal_pg_sql`),
the schema and its migrations (:mod:`leadkit.journal_pg_schema`), connecting and failing
(:mod:`leadkit.journal_pg_connect`), the status loop and the outbox (:mod:`leadkit.journal_pg_loop`).

**Work shared by servers.** Leads, status checks and messages are claimed with ``SELECT ... FOR
UPDATE SKIP LOCKED``: a server passes over the rows another one is claiming instead of waiting for
them, and no row is claimed by two.

**Double submits and rate limits.** :meth:`~PostgresJournal.add` takes transaction-scoped advisory
locks (``pg_advisory_xact_lock``) on a hash of the order's fingerprint and of each rate limit's key,
sorted (adds never deadlock on each other), in a statement of its own *before* it reads: two adds of
one order on two servers run one after the other and the second finds the first's lead; a limit of N
lets exactly N through. Only adds that compete wait, and only as long as the other's transaction (a
few milliseconds). SERIALIZABLE transactions would guarantee the same by failing one of two
competing adds for a retry: work thrown away while a customer waits, false conflicts from predicate
locks on index pages under load, and a guarantee that holds only if every transaction on those tables
is serializable.

**Connections.** Each process has its own pool (1 to ``pool_size`` connections), made on first use:
after a fork the child makes its own and leaves its parent's alone; :meth:`~PostgresJournal.close`
closes this process's. The server's ``max_connections`` must allow servers × processes × ``pool_size``
(pools grow only as calls overlap, and shrink after ten idle minutes). Every call is bounded: a connection from the pool within ``wait`` seconds, a
connection made within ``connect_timeout`` (3 s unless the URL says), each statement within
``statement_timeout`` (10 s), TCP keepalives and ``tcp_user_timeout`` for a server gone from the
network (a call already waiting on such a server's answer, :meth:`~PostgresJournal.writable` included,
may take those 10 s to fail). A database that cannot be reached fails a call as soon as the pool's attempt to connect
fails, not after ``wait``, and the next call connects again, so the journal recovers by itself once
the database is back. A call that finds its connection broken before a commit was sent (the server
restarted since the connection's last use) runs again on a fresh connection, and the pool's other idle
connections are checked; a commit that breaks is not repeated (it may have been done) but fails. A
transaction that a deadlock undid (two transactions on the tallies' rows) runs again, up to three
times. The calls that are one statement run in autocommit, one round trip each; a statement whose
connection breaks in the instant between its commit and its answer (the server killed just then) would
run twice: a counter counted twice, a claim or a record that then finds the lead already its own and
answers as if another process had it.

**Durability.** Every connection runs with ``synchronous_commit = on`` (PostgreSQL's default, set
against a server configured otherwise; the URL's own ``options`` come after it): a lead is on the
database's disk when :meth:`~PostgresJournal.add` returns, before its first send.

**Failures.** Every failure is a :class:`~leadkit.errors.JournalError` whose ``path`` is
``postgresql://host:port/dbname``, never the user or the password, whose ``reason`` is one of
``unreachable``, ``timeout``, ``read-only``, ``disk full``, ``refused login``, ``no database``,
``permission denied``, ``too many connections``, ``not migrated``, ``newer schema``, ``duplicate id``,
``conflict`` or ``database error (<its class>)``, and whose ``fix`` says what to do (a URL that libpq
cannot read fails at construction with ``path`` ``journal.url`` and reason ``bad url``).
:meth:`~PostgresJournal.writable` answers within about a second and never raises.

**Text.** As in SQLite (:func:`~leadkit.journal_file.storable`): lone surrogates become U+FFFD and
control characters spaces in the columns. PostgreSQL's text cannot hold NUL even as a JSON escape, so
in the payload and a message's headers, where SQLite keeps ``\\u0000``, it becomes U+FFFD. The payload
is kept as written (``json``, its keys in their order).

**Reading.** :meth:`~PostgresJournal.entries` reads the leads 500 at a time, each page a statement of
its own (no connection or snapshot held while the caller works): a long listing is not one snapshot, as
SQLite's is.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from contextlib import suppress
from typing import Any, Callable, Iterator, Sequence, TypeVar

try:
    import psycopg
    from psycopg.rows import TupleRow
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError as missing:
    raise ImportError(f"the PostgreSQL journal (journal.url) needs psycopg 3 and psycopg-pool, which are not "
                      f"installed ({missing}): pip install 'leadkit[postgres]'") from missing

from .errors import JournalError, RateLimited
from .journal import STATES, Entry, Limit, Outcome
from .journal_file import storable
from .journal_outbox import Message
from .journal_pg_connect import FIXES, Connection, Reach, connection_params, failure, location, watched
from .journal_pg_loop import LoopTables
from .journal_pg_schema import migrate as migrate_schema
from .journal_pg_sql import (CLAIM_DUE, EXPIRE, INSERT_LEAD, LEAD_COLUMNS, LEADS, LIMIT_HITS, LOCK_KEYS, PRUNE_HITS,
                             PRUNE_LEADS, RECORD, RECORD_WITH_MESSAGES, REPORT, SAME_ORDER, TAKE_OVER, lead_entry,
                             lead_values, message_columns, names, report_group)
from .report import ReportRow

__all__ = ["POOL_SIZE", "PostgresJournal"]

_T = TypeVar("_T")

#: Connections a process's pool holds at most.
POOL_SIZE = 10
_WAIT = 5.0
_STATEMENT_TIMEOUT = 10.0
#: :meth:`PostgresJournal.writable`: the wait for a connection, and for the probe's write (ms).
_PROBE_WAIT = 0.5
_PROBE_TIMEOUT_MS = 500
#: A wait for the pool is watched in slices this long: a failed attempt to connect ends it.
_SLICE = 0.2
_ATTEMPTS = 3
_PAGE = 500
_PRUNE_BATCH = 2000


class PostgresJournal(LoopTables):
    """The journal in a PostgreSQL database; safe across threads, processes (and forks) and servers.

    ``url`` is ``journal.url`` (``postgresql://user:password@host:5432/dbname``; libpq's other
    parameters in its query); ``clock`` as for :class:`~leadkit.journal.SQLiteJournal`; ``pool_size``
    the most connections a process opens; ``wait`` how long a call waits for one of them;
    ``statement_timeout`` how long the database may take over a statement. Opening it connects once and
    migrates the schema: a database that cannot be reached or used raises
    :class:`~leadkit.errors.JournalError` here.
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, pool_size: int = POOL_SIZE,
                 wait: float = _WAIT, statement_timeout: float = _STATEMENT_TIMEOUT) -> None:
        self.clock = clock
        self.pool_size = pool_size
        self.wait = wait
        self._params = connection_params(url, statement_timeout)
        #: The database as errors name it: ``postgresql://host:port/dbname``, no credentials.
        self.location = location(self._params)
        self._reach = Reach()
        self._pools: dict[int, ConnectionPool[Connection]] = {}  # by process id: a fork's child makes its own
        self._locks: dict[int, threading.Lock] = {}
        try:
            with psycopg.connect(**self._params, autocommit=True) as db:
                self._opened_at, _ = migrate_schema(db, self.location)
        except psycopg.Error as exc:
            raise failure(self.location, exc) from exc

    # -- connections ----------------------------------------------------------------------------------

    def _pool(self) -> ConnectionPool[Connection]:
        pid = os.getpid()
        pool = self._pools.get(pid)
        if pool is None:
            with self._locks.setdefault(pid, threading.Lock()):  # a lock of this process's, never inherited
                pool = self._pools.get(pid)
                if pool is None:
                    # reconnect_timeout=0: no reconnection in the background on a schedule of its own; the
                    # next call that needs a connection tries at once (and learns how it went, _getconn).
                    pool = ConnectionPool(kwargs={**self._params, "autocommit": True},
                                          connection_class=watched(self._reach), min_size=1,
                                          max_size=self.pool_size, timeout=self.wait, open=False,
                                          reconnect_timeout=0, name=f"leadkit-journal-{pid}")
                    pool.open()
                    self._pools[pid] = pool
        return pool

    def _getconn(self, wait: float) -> tuple[ConnectionPool[Connection], Connection]:
        """A connection within ``wait`` seconds; sooner a :class:`JournalError` when the pool fails to
        connect meanwhile (the attempt it makes for this call is this call's to report)."""
        began = time.monotonic()
        deadline = began + wait
        pool = self._pool()
        while True:
            try:
                return pool, pool.getconn(timeout=max(min(_SLICE, deadline - time.monotonic()), 0.001))
            except PoolTimeout:
                error = self._reach.error
                if error is not None and self._reach.failed_at >= began:
                    raise failure(self.location, error) from error
                if time.monotonic() >= deadline:
                    raise JournalError(self.location, "timeout", FIXES["busy"]) from None
            except PoolClosed:  # close() from another thread: this process's next pool
                pool = self._pool()

    def _run(self, work: Callable[[Connection], _T], *, transaction: bool = True, wait: float | None = None) -> _T:
        """``work`` on a connection of the pool, in a transaction (else in autocommit: one statement),
        again where the module's docstring says; a database's failure as :class:`JournalError`."""
        for attempt in range(1, _ATTEMPTS + 1):
            pool, db = self._getconn(self.wait if wait is None else wait)
            committing = False
            try:
                if not transaction:
                    return work(db)
                with db.transaction():
                    result = work(db)
                    committing = True
                return result
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:  # undone: again
                if attempt == _ATTEMPTS:
                    raise failure(self.location, exc) from exc
            except psycopg.Error as exc:
                if not db.closed or committing or attempt == _ATTEMPTS:
                    raise failure(self.location, exc) from exc
            finally:
                pool.putconn(db)
            if db.closed:  # it broke: those idle in the pool may have too (a restart), and are checked
                with suppress(PoolClosed):
                    pool.check()
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- writing --------------------------------------------------------------------------------------

    def add(self, entry: Entry, *, owner: str, lease: float, window: float,
            limits: Sequence[Limit] = ()) -> tuple[Entry, bool]:
        now = self.clock()
        counted = [limit for limit in limits if limit.limit > 0]
        values = {**lead_values(entry), "updated": now, "state": "pending", "next_attempt": now,
                  "lease_owner": storable(owner), "lease_until": now + lease,
                  "kinds": [str(storable(limit.kind)) for limit in counted],
                  "keys": [str(storable(limit.key)) for limit in counted]}
        fingerprint = values["fingerprint"] if entry.fingerprint and window > 0 else None
        locks = sorted({_lock_key("limit", kind, key) for kind, key in zip(values["kinds"], values["keys"])}
                       | ({_lock_key("fingerprint", fingerprint)} if fingerprint else set()))
        if not locks:  # nothing to compare it with: one statement
            return lead_entry(_one(self._run(lambda db: db.execute(INSERT_LEAD, values), transaction=False))), True

        def work(db: Connection) -> tuple[Entry, bool]:
            # The locks in a statement of their own: each statement reads the database as it is when it
            # starts, so the ones after it see what the add that held the locks before wrote.
            db.execute(LOCK_KEYS, (locks,))
            row = db.execute(SAME_ORDER, (fingerprint, now - window)).fetchone() if fingerprint else None
            if row is not None:
                return lead_entry(row), False
            hits = db.execute(LIMIT_HITS, (values["kinds"], values["keys"], [now - limit.window for limit in counted]))
            for limit, (count, oldest) in zip(counted, hits.fetchall()):
                if count >= limit.limit:
                    raise RateLimited(limit.kind, max(1.0, oldest + limit.window - now))
            return lead_entry(_one(db.execute(INSERT_LEAD, values))), True

        return self._run(work)

    def claim(self, lead_id: str, *, owner: str, lease: float, now: float | None = None,
              force: bool = False) -> Entry | None:
        now = self.clock() if now is None else now
        due = "" if force else "AND next_attempt <= %(now)s"
        sql = (f"UPDATE leads SET {TAKE_OVER} lease_owner = %(owner)s, lease_until = %(until)s WHERE id = %(id)s "
               f"AND state = 'pending' AND (lease_until IS NULL OR lease_until < %(now)s) {due} RETURNING {LEADS}")
        args = {"owner": storable(owner), "until": now + lease, "id": storable(lead_id), "now": now}
        row = self._run(lambda db: db.execute(sql.encode(), args).fetchone(), transaction=False)
        return lead_entry(row) if row else None

    def claim_due(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        now = self.clock() if now is None else now
        args = {"owner": storable(owner), "until": now + lease, "now": now, "limit": limit}
        rows = self._run(lambda db: db.execute(CLAIM_DUE, args).fetchall(), transaction=False)
        return [lead_entry(row[:-2]) for row in sorted(rows, key=lambda row: (row[-2], row[-1]))]

    def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
        args = {"state": storable(outcome.state), "now": self.clock(), "error": storable(outcome.error),
                "network_id": storable(outcome.network_id), "redirect": storable(outcome.redirect),
                "error_code": storable(outcome.error_code), "error_message": storable(outcome.error_message),
                "next_attempt": outcome.next_attempt, "uncertain": bool(outcome.uncertain),
                "bad": names(outcome.bad), "next_check": outcome.next_check, "id": storable(lead_id),
                "owner": storable(owner)}
        if not messages:
            return bool(self._run(lambda db: db.execute(RECORD, args).rowcount, transaction=False))
        both = {**args, **message_columns(messages)}  # one statement: the messages only with the outcome
        return bool(_one(self._run(lambda db: db.execute(RECORD_WITH_MESSAGES, both), transaction=False))[0])

    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        rows = self._run(lambda db: db.execute(EXPIRE, {"now": now, "cutoff": now - max_age}).fetchall(),
                         transaction=False)
        return [row[0] for row in sorted(rows, key=lambda row: (row[1], row[2]))]

    def count(self, name: str, by: int = 1) -> None:
        self._run(lambda db: db.execute("INSERT INTO counters AS c (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                                        "DO UPDATE SET value = c.value + EXCLUDED.value", (storable(name), by)),
                  transaction=False)

    def writable(self) -> bool:
        """Whether a lead could be written now: a connection within half a second, and a write to the
        ``probe`` row committed (so on disk) within half a second more. Never raises."""
        def probe(db: Connection) -> None:
            db.execute("SELECT set_config('statement_timeout', %s, true)", (str(_PROBE_TIMEOUT_MS),))
            db.execute("UPDATE probe SET at = %s WHERE id = 1", (self.clock(),))

        try:
            self._run(probe, wait=_PROBE_WAIT)
        except Exception:  # JournalError, or anything a broken pool raises: not writable
            return False
        return True

    # -- reading --------------------------------------------------------------------------------------

    def get(self, lead_id: str) -> Entry | None:
        row = self._run(lambda db: db.execute(f"SELECT {LEADS} FROM leads WHERE id = %s".encode(),
                                              (storable(lead_id),)).fetchone(), transaction=False)
        return lead_entry(row) if row else None

    def entries(self, *, state: str | None = None, since: float | None = None, until: float | None = None,
                limit: int | None = None, landing: str | None = None, stage: str | None = None) -> Iterator[Entry]:
        """The leads in the order they were created, read a page at a time (no connection is held
        between pages, so a slow reader holds up nobody)."""
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (("state = %s", state), ("created >= %s", since), ("created < %s", until),
                              ("landing = %s", landing), ("stage = %s", stage)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        return self._pages(clauses, args, limit or None)

    def _pages(self, clauses: list[str], args: list[Any], limit: int | None) -> Iterator[Entry]:
        after: tuple[Any, ...] = ()
        while limit is None or limit > 0:
            page = _PAGE if limit is None else min(_PAGE, limit)
            where = [*clauses, *(["(created, seq) > (%s, %s)"] if after else [])]
            sql = (f"SELECT {LEADS}, seq FROM leads {'WHERE ' + ' AND '.join(where) if where else ''} "
                   f"ORDER BY created, seq LIMIT {page}").encode()
            rows = self._run(lambda db: db.execute(sql, [*args, *after]).fetchall(), transaction=False)
            for row in rows:
                yield lead_entry(row[:-1])
            if len(rows) < page:
                return
            after = (rows[-1][LEAD_COLUMNS.index("created")], rows[-1][-1])
            limit = None if limit is None else limit - len(rows)

    def stats(self, now: float | None = None, *, landing: str | None = None) -> dict[str, Any]:
        """As :meth:`SQLiteJournal.stats <leadkit.journal.SQLiteJournal.stats>`: the tallies the triggers
        keep, and the oldest pending lead by an index (``leads_pending``)."""
        now = self.clock() if now is None else now
        where, args = ("AND landing = %s", (storable(landing),)) if landing is not None else ("", ())

        def read(db: Connection) -> tuple[list[TupleRow], Any, list[TupleRow]]:
            tallies = db.execute(f"SELECT landing, state, stage, SUM(n)::bigint FROM tallies WHERE true {where} "
                                 "GROUP BY 1, 2, 3 HAVING SUM(n) > 0".encode(), args).fetchall()
            oldest = _one(db.execute(f"SELECT MIN(created) FROM leads WHERE state = 'pending' {where}".encode(),
                                     args))[0]
            counters = db.execute('SELECT name, value FROM counters ORDER BY name COLLATE "C"').fetchall()
            return tallies, oldest, counters

        tallies, oldest, counters = self._run(read, transaction=False)
        counts = {state: 0 for state in STATES}
        landings: dict[str, dict[str, int]] = {}
        stages: dict[str, int] = {}
        for name, state, stage, number in tallies:
            counts[state] = counts.get(state, 0) + number
            row = landings.setdefault(name, {s: 0 for s in STATES})
            row[state] = row.get(state, 0) + number
            if state == "delivered":
                stages[stage or "unknown"] = stages.get(stage or "unknown", 0) + number
        return {"counts": counts, "oldest_pending_age": round(now - oldest, 1) if oldest is not None else None,
                "landings": dict(sorted(landings.items())), "counters": {name: int(n) for name, n in counters},
                "stages": stages}

    def report(self, *, by: str, since: float | None, until: float | None, landing: str | None) -> list[ReportRow]:
        """As :meth:`SQLiteJournal.report <leadkit.journal_report.ReportTables.report>`: one grouped query
        (the ``day`` in UTC, whatever the session's time zone; groups in byte order, as SQLite's)."""
        group, group_args = report_group(by)
        clauses: list[str] = []
        args: list[Any] = []
        for clause, value in (("created >= %s", since), ("created < %s", until), ("landing = %s", landing)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = 'grp COLLATE "C"' if by == "day" else 'leads DESC, grp COLLATE "C"'
        sql = REPORT.format(group=group, where=where, order=order).encode()
        rows = self._run(lambda db: db.execute(sql, [*group_args, *args]).fetchall(), transaction=False)
        return [ReportRow(group, int(n), int(d), int(a), int(c), int(t), float(p)) for group, n, d, a, c, t, p in rows]

    # -- upkeep ---------------------------------------------------------------------------------------

    def prune(self, keep_days: float | None, *, hits_older_than: float, now: float | None = None) -> dict[str, int]:
        """As :meth:`SQLiteJournal.prune <leadkit.journal.SQLiteJournal.prune>`, in batches of 2000 rows;
        leads another server holds locked just now are left for the next prune."""
        now = self.clock() if now is None else now
        deleted = {"leads": 0, "messages": 0, "hits": 0}
        while keep_days is not None:
            args = {"cutoff": now - keep_days * 86400, "batch": _PRUNE_BATCH}
            leads, messages = _one(self._run(lambda db: db.execute(PRUNE_LEADS, args), transaction=False))
            deleted["leads"] += int(leads)
            deleted["messages"] += int(messages)
            if leads < _PRUNE_BATCH:
                break
        while True:
            before = {"before": now - hits_older_than, "batch": _PRUNE_BATCH}
            gone = self._run(lambda db: db.execute(PRUNE_HITS, before).rowcount, transaction=False)
            deleted["hits"] += gone
            if gone < _PRUNE_BATCH:
                break
        return deleted

    def node(self) -> int:
        """The next number (0 to 999) of the ``lead_id_nodes`` sequence, for one process's lead ids."""
        return int(_one(self._run(lambda db: db.execute("SELECT nextval('lead_id_nodes') % 1000"),
                                  transaction=False))[0])

    def migrate(self) -> tuple[int, int] | None:
        """Bring the schema up to date (opening the journal did: this finds it so, unless a newer leadkit
        migrated it meanwhile); the version found when this journal was opened, and the version now."""
        _, now = self._run(lambda db: migrate_schema(db, self.location), transaction=False)
        return self._opened_at, now

    def close(self) -> None:
        """Close this process's pool (never one inherited across a fork: that is its parent's). Using
        the journal again makes a new one. Call it when no other thread is in the middle of a call."""
        pool = self._pools.pop(os.getpid(), None)
        if pool is not None:
            pool.close()


def _lock_key(*parts: str | None) -> int:
    """A signed 64-bit advisory lock key for ``parts``."""
    text = "\x1f".join(part or "" for part in parts).encode("utf-8", "replace")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8, person=b"leadkit-lock").digest(), "big", signed=True)


def _one(cursor: psycopg.Cursor[TupleRow]) -> TupleRow:
    row = cursor.fetchone()
    if row is None:
        raise AssertionError("a statement that returns a row returned none")
    return row
