"""The lead journal: every accepted order is written here before the first send attempt.

A lead's life: ``pending`` (written, or a retryable failure: next attempt time,
attempt count, last error) → ``delivered`` (network id stored) or ``rejected``
(final error code and message stored) or ``dead`` (still pending after
``journal.max_age``).

:class:`Journal` is the storage interface; :class:`SQLiteJournal` implements it
on one SQLite file that several processes on one machine may share. A sender
*claims* a lead with a lease (owner token and expiry); only the holder may
record the outcome, and a lease whose holder died expires, so each lead is in
the hands of exactly one sender at a time.

Durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` keeps the
database consistent after a power loss but may lose the last transactions; a
lead the customer was told "thank you" for must survive, so every commit is
synced (an fsync of the WAL per order: cheap next to the API call it precedes).

The journal holds personal data (names, phones): the file is created with mode
0600. The network key is never stored (it is not part of a payload).

Failures: every method of :class:`SQLiteJournal` reports a journal it cannot read
or write as :class:`~leadkit.errors.JournalError` (``path``, a short ``reason``:
``disk full``, ``read-only``, ``locked``, ``corrupt``, ``cannot open``; ``fix``:
what to do), never as SQLite's own exception; a file that is not a journal
fails at construction. :meth:`SQLiteJournal.writable` asks, without raising,
whether a lead could be written now (for a health check). Text is stored as it
can be: lone surrogates become U+FFFD and control characters spaces in the
columns (the payload keeps its own as JSON escapes), so no text a network
chose makes the journal refuse a row.

Every timestamp the journal writes or compares (lease expiry, next attempt,
the double-submit window, rate-limit windows, age) is read from its ``clock``,
:func:`time.time` unless another is given: a test moves a clock of its own
forward instead of waiting for a lease to run out.

Each lead records the landing it came from (``landing``: the name of its
``[[landing]]`` table; ``""`` for the default one, ``site.pages`` and ``[offer]``).
:meth:`Journal.entries` picks one landing's leads and :meth:`Journal.stats`
counts them per landing, in the one grouped query that counts them all. Where a
landing is a label rather than a value (``leadkit journal list`` and ``stats``,
``/leadkit/health``) the default one is shown as :data:`DEFAULT_LABEL`, ``-``
(:func:`landing_label`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol, Sequence

from .errors import JournalError, RateLimited

if TYPE_CHECKING:
    from .config import JournalConfig
    from .report import ReportRow
from .journal_file import create_private, failure, guarded, storable, storable_json, storable_map
from .journal_outbox import OUTBOX_SCHEMA, Message, OutboxTables, add_messages
from .journal_status import StatusTables, StatusUpdate
from .journal_report import ReportTables

__all__ = ["open_journal", "DEFAULT_LABEL", "Entry", "Journal", "Limit", "SQLiteJournal", "STATES", "Outcome", "landing_label"]

STATES = ("pending", "delivered", "rejected", "dead")
#: The default landing (whose name is ``""``) where a landing is a label: ``leadkit journal list`` and
#: ``stats``, their ``--landing``, ``/leadkit/health``. A landing of that name would be mistaken for it.
DEFAULT_LABEL = "-"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS leads (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state TEXT NOT NULL,
    call TEXT NOT NULL,
    payload TEXT NOT NULL,
    fingerprint TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    last_error TEXT,
    network_id TEXT,
    redirect TEXT,
    error_code TEXT,
    error_message TEXT,
    uncertain INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    bad TEXT NOT NULL DEFAULT '[]',
    landing TEXT NOT NULL DEFAULT ''
)""",
    *OUTBOX_SCHEMA,
    "CREATE INDEX IF NOT EXISTS leads_due ON leads (state, next_attempt)",
    "CREATE INDEX IF NOT EXISTS leads_fingerprint ON leads (fingerprint, created)",
    "CREATE INDEX IF NOT EXISTS leads_created ON leads (created)",
    "CREATE TABLE IF NOT EXISTS hits (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hits_key ON hits (kind, key, at)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
#: Columns added since the first schema: a journal file from before gets them when opened.
_ADDED_COLUMNS = {"bad": "TEXT NOT NULL DEFAULT '[]'", "landing": "TEXT NOT NULL DEFAULT ''",
                  "tags": "TEXT NOT NULL DEFAULT '{}'", "clicks": "TEXT NOT NULL DEFAULT '{}'",
                  "stage": "TEXT", "status": "INTEGER", "reason": "INTEGER", "payout": "REAL",
                  "checked": "REAL", "next_check": "REAL", "thanked": "REAL"}
#: Indexes on added columns: made once the columns are there. ``leads_landing`` covers the counts per
#: landing and state with the oldest lead of each (:meth:`SQLiteJournal.stats`, the health route).
_INDEXES = ("DROP INDEX IF EXISTS leads_landing",  # before stages: leads_counts covers its queries and more
            "CREATE INDEX IF NOT EXISTS leads_counts ON leads (landing, state, stage, created)",
            "CREATE INDEX IF NOT EXISTS leads_next_check ON leads (next_check)",
            "CREATE INDEX IF NOT EXISTS leads_state_created ON leads (state, created)",
            "CREATE INDEX IF NOT EXISTS hits_at ON hits (at)")
#: The leads by landing, state and stage, kept by triggers in the transaction that changes them, so
#: that counting them (the health route, ``stats``) reads a few rows, not a million.
_TALLIES = (
    """CREATE TABLE IF NOT EXISTS tallies (landing TEXT NOT NULL, state TEXT NOT NULL, stage TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (landing, state, stage))""",
    """CREATE TRIGGER IF NOT EXISTS tally_insert AFTER INSERT ON leads BEGIN
    INSERT INTO tallies (landing, state, stage, n) VALUES (NEW.landing, NEW.state, COALESCE(NEW.stage, ''), 1)
    ON CONFLICT (landing, state, stage) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS tally_update AFTER UPDATE OF state, stage, landing ON leads
    WHEN OLD.state IS NOT NEW.state OR OLD.stage IS NOT NEW.stage OR OLD.landing IS NOT NEW.landing BEGIN
    UPDATE tallies SET n = n - 1 WHERE landing = OLD.landing AND state = OLD.state AND stage = COALESCE(OLD.stage, '');
    INSERT INTO tallies (landing, state, stage, n) VALUES (NEW.landing, NEW.state, COALESCE(NEW.stage, ''), 1)
    ON CONFLICT (landing, state, stage) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS tally_delete AFTER DELETE ON leads BEGIN
    UPDATE tallies SET n = n - 1 WHERE landing = OLD.landing AND state = OLD.state AND stage = COALESCE(OLD.stage, '');
    END""",
)
#: Leads a prune may delete: settled, past the age (no longer checked: ``journal.keep_days`` is at least
#: ``sync.max_age``), nothing left to send about them.
_PRUNABLE = ("state IN ('delivered', 'rejected') AND created < :cutoff AND NOT EXISTS "
             "(SELECT 1 FROM outbox WHERE outbox.lead_id = leads.id AND outbox.state = 'pending')")
#: Rows a prune deletes per transaction: a long delete would hold the journal's lock from the orders.
_PRUNE_BATCH = 2000
#: A lead still leased when it is claimed was held by a sender that died mid-attempt: its
#: send may have reached the network, so a later "duplicate" answer means delivered.
_TAKE_OVER = "uncertain = CASE WHEN lease_owner IS NOT NULL THEN 1 ELSE uncertain END,"
_COLUMNS = ("id", "created", "updated", "state", "call", "payload", "fingerprint", "attempts", "next_attempt",
            "last_error", "network_id", "redirect", "error_code", "error_message", "uncertain", "lease_owner",
            "lease_until", "bad", "landing", "tags", "clicks", "stage", "status", "reason", "payout", "checked",
            "next_check", "thanked")


@dataclass(frozen=True)
class Entry:
    """One lead as the journal keeps it. ``uncertain``: an earlier attempt may have reached the network;
    ``bad``: the fields the network said were missing, at its last answer; ``landing``: the name of the
    landing the order came from, ``""`` for the default one.

    What the visit carried: ``tags`` (by leadkit's names, ``utm_source``, ``sub1``..., whatever the
    dialect sends), ``clicks`` (the ad platforms' click and browser ids, ``fbclid``, ``ttclid``,
    ``gclid``, ``fbp``, and the per-visit pixel ids, ``pixel_facebook``...: never sent to the network).
    What the network said of it since (:mod:`leadkit.sync`): ``stage`` (``wait``, ``hold``, ``approve``,
    ``cancel``, ``trash``; None before the first answer), ``status`` and ``reason`` (the documents'
    codes), ``payout``, when it was ``checked`` last and its ``next_check`` (None: no more checks).
    ``thanked``: when the thank-you page first fired its pixels for it."""

    id: str
    call: str
    payload: Mapping[str, Any]
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    state: str = "pending"
    fingerprint: str | None = None
    attempts: int = 0
    next_attempt: float | None = None
    last_error: str | None = None
    network_id: str | None = None
    redirect: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    uncertain: bool = False
    lease_owner: str | None = None
    lease_until: float | None = None
    bad: tuple[str, ...] = ()
    landing: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    clicks: Mapping[str, str] = field(default_factory=dict)
    stage: str | None = None
    status: int | None = None
    reason: int | None = None
    payout: float | None = None
    checked: float | None = None
    next_check: float | None = None
    thanked: float | None = None

    @property
    def settled(self) -> bool:
        return self.state != "pending"


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` new leads per ``key`` of ``kind`` (``ip``, ``phone``) within ``window`` seconds."""

    kind: str
    key: str
    limit: int
    window: float


@dataclass(frozen=True)
class Outcome:
    """What a send attempt came to, as the journal records it; ``bad``: the fields the network listed
    as missing (its answer's ``bad``)."""

    state: str
    error: str | None = None
    network_id: str | None = None
    redirect: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    next_attempt: float | None = None
    uncertain: bool = False
    bad: tuple[str, ...] = ()
    next_check: float | None = None


class Journal(Protocol):
    """Storage for leads; a shared database can implement it for several machines.

    A method that cannot read or write the storage raises :class:`~leadkit.errors.JournalError`
    (never the database's own exception); :meth:`writable` says so in advance, for a health check."""

    def add(self, entry: Entry, *, owner: str, lease: float, window: float,
            limits: Sequence[Limit] = ()) -> tuple[Entry, bool]:
        """Write a lead claimed by ``owner``; or, when a lead with the same fingerprint was
        written within ``window`` seconds, return that one and False. Raises
        :class:`RateLimited` (writing nothing) when a new lead would pass one of ``limits``."""

    def count(self, name: str, by: int = 1) -> None:
        """Add to a named counter (bots caught, ...)."""

    def claim(self, lead_id: str, *, owner: str, lease: float, now: float | None = None,
              force: bool = False) -> Entry | None:
        """Claim one pending lead that nobody holds (``force``: even if not due yet)."""

    def claim_due(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        """Claim up to ``limit`` pending leads that are due and that nobody holds."""

    def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
        """Record an attempt's outcome and release the lease; False when ``owner`` lost the lease.
        ``messages`` (the postbacks and conversion events of a lead delivered) are written to the
        outbox in the same transaction, when the outcome is recorded."""

    def get(self, lead_id: str) -> Entry | None: ...

    def entries(self, *, state: str | None = None, since: float | None = None, until: float | None = None,
                limit: int | None = None, landing: str | None = None, stage: str | None = None) -> Iterator[Entry]:
        """The leads in the order they were created; ``since`` inclusive, ``until`` exclusive, at most
        ``limit`` (None: all). ``landing``: only that landing's leads (``""``: the default landing's);
        None: every landing's. ``stage``: only the leads the network last put in that stage."""

    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        """Mark pending leads older than ``max_age`` seconds (and not held) dead; their ids."""

    def stats(self, now: float | None = None, *, landing: str | None = None) -> dict[str, Any]:
        """What the journal holds, cheaply (the health route calls it for every check):

        - ``counts``: the number of leads in each of :data:`STATES` (0 included), in that order;
        - ``oldest_pending_age``: seconds since the oldest pending lead was created (None: none is);
        - ``landings``: the same counts per landing, ``{name: {state: n}}``, for each landing that has
          leads, by name (the default landing's name is ``""``);
        - ``counters``: the named counters (:meth:`count`), ``{name: value}``: the whole journal's;
        - ``stages``: the delivered leads by the network's last stage (``unknown``: not answered yet).

        With ``landing``, ``counts``, ``oldest_pending_age`` and ``landings`` are that landing's alone.
        A journal of one's own written before landings existed may leave ``landings`` out: the health
        route then shows no counts per landing."""

    # -- the status loop (:mod:`leadkit.journal_status`) and the outbox (:mod:`leadkit.journal_outbox`) --

    def claim_checks(self, *, call: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        """Claim up to ``limit`` delivered leads of ``call`` whose status check is due."""

    def record_statuses(self, updates: Sequence[StatusUpdate], messages: Sequence[Message] = ()) -> None:
        """Record what the network said of leads, and write the messages it causes, in one transaction."""

    def postpone_checks(self, lead_ids: Sequence[str], until: float | None) -> None:
        """Ask about these leads again at ``until`` (None: never)."""

    def thank(self, lead_id: str) -> bool:
        """Whether the thank-you page is shown for this lead for the first time; marks it thanked."""

    def enqueue(self, messages: Sequence[Message]) -> int:
        """Write messages not yet written (by lead, target and event); how many were new."""

    def claim_messages(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Message]:
        """Claim up to ``limit`` pending messages that are due and that nobody holds."""

    def record_message(self, message_id: int, *, owner: str, state: str, error: str | None = None,
                       answer: str | None = None, next_attempt: float | None = None) -> bool:
        """Record a message's attempt and release the lease; False when ``owner`` lost it."""

    def expire_messages(self, max_age: float, now: float | None = None) -> list[Message]:
        """Give up pending messages older than ``max_age`` seconds; them."""

    def resend_messages(self, *, lead_id: str | None = None, target: str | None = None) -> int:
        """Make failed messages pending again, due now; how many."""

    def messages(self, *, lead_id: str | None = None, state: str | None = None,
                 limit: int | None = None) -> Iterator[Message]:
        """The outbox's messages in the order they were written."""

    def outbox_counts(self) -> dict[str, int]:
        """The outbox's messages by state."""

    def report(self, *, by: str, since: float | None, until: float | None, landing: str | None) -> list[ReportRow]:
        """A period's leads, approvals and payout per group (:mod:`leadkit.journal_report`)."""

    def prune(self, keep_days: float | None, *, hits_older_than: float, now: float | None = None) -> dict[str, int]:
        """Delete settled leads older than ``keep_days`` (None: none) with their messages, and rate-limit
        hits older than ``hits_older_than`` seconds; how many of each (``leads``, ``messages``, ``hits``)."""

    def node(self) -> int:
        """The next number (0 to 999) for a process's lead ids, distinct for processes on one journal."""

    def writable(self) -> bool:
        """Whether a lead could be written now; cheap (a health route calls it) and never raises."""

    def migrate(self) -> tuple[int, int] | None:
        """Bring the storage's schema up to date (``leadkit journal migrate``): its version when this journal
        was opened and now; None for a journal without numbered versions, brought up to date when opened."""

    def close(self) -> None: ...


class _Handle:
    """One thread's connection, where :meth:`SQLiteJournal.close` can reach it from any thread.

    The thread's local storage holds the handle; the journal only a weak reference, so a
    connection whose thread ended is closed with it rather than kept open for ``close()``.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.db: sqlite3.Connection | None = None


class _Opened:
    """The handles a journal made in one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handles: weakref.WeakSet[_Handle] = weakref.WeakSet()


class SQLiteJournal(OutboxTables, StatusTables, ReportTables):
    """The journal in one SQLite file; safe across threads and processes (and after fork).

    ``clock`` gives the current time in seconds since the epoch, as :func:`time.time` does;
    ``busy_timeout`` is how long a write waits for another process's lock before it fails
    (:class:`~leadkit.errors.JournalError`, reason ``locked``). A file that cannot be a journal
    (not a database, a folder, a folder that cannot be made) raises that error here, its message
    one sentence naming the file and what to do.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.clock = clock
        self._local = threading.local()
        self._opened: dict[int, _Opened] = {}  # by process id: a fork's child has its own
        with self._guard():
            create_private(self.path)
            with self._transaction() as db:  # at once, so that two processes starting together agree
                for statement in _SCHEMA:
                    db.execute(statement)
                have = {row[1] for row in db.execute("PRAGMA table_info(leads)")}
                for name, definition in _ADDED_COLUMNS.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE leads ADD COLUMN {name} {definition}")
                for statement in _INDEXES:
                    db.execute(statement)
                counted = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'tallies'").fetchone() is not None
                for statement in _TALLIES:
                    db.execute(statement)
                if not counted:  # a journal from before the tallies: count its leads once
                    db.execute("INSERT INTO tallies (landing, state, stage, n) SELECT landing, state, "
                               "COALESCE(stage, ''), COUNT(*) FROM leads GROUP BY 1, 2, 3")

    # -- connections ----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread and process: a connection must not cross a fork. Opened on
        first use, and again after :meth:`close`."""
        handle = self._handle()
        if handle.db is None:
            handle.db = self._open()
        return handle.db

    def _handle(self) -> _Handle:
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None or handle.pid != os.getpid():
            handle = self._local.handle = _Handle()
            opened = self._opened.setdefault(handle.pid, _Opened())
            with opened.lock:
                opened.handles.add(handle)
        return handle

    def _open(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() may close it from another thread:
        # each connection is still used by the one thread that opened it.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _none_where(self, table: str, condition: str, args: Sequence[Any]) -> bool:
        """No row of ``table`` meets ``condition``: read outside any transaction (in WAL mode a reader
        never waits for the writer nor holds it up), so that a relay pass with nothing to do takes no
        write lock: every worker's relay looks for due work every ``journal.poll`` seconds."""
        return self._connection().execute(f"SELECT 1 FROM {table} WHERE {condition} LIMIT 1", args).fetchone() is None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            self._roll_back(db)
            raise

    def _roll_back(self, db: sqlite3.Connection) -> None:
        """Undo what is left of a failed transaction. SQLite may have rolled it back itself (a full
        disk does), and a rollback that fails leaves a connection no one should reuse."""
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error:
            self._handle().db = None
            db.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.DatabaseError, OSError) as exc:  # DatabaseError: OperationalError, IntegrityError...
            raise failure(self.path, exc) from exc

    # -- writing --------------------------------------------------------------

    @guarded
    def add(self, entry: Entry, *, owner: str, lease: float, window: float,
            limits: Sequence[Limit] = ()) -> tuple[Entry, bool]:
        now = self.clock()
        values = {**_row(entry), "updated": now, "state": "pending", "next_attempt": now,
                  "lease_owner": owner, "lease_until": now + lease}
        with self._transaction() as db:
            if entry.fingerprint and window > 0:
                row = db.execute("SELECT * FROM leads WHERE fingerprint = ? AND created >= ? ORDER BY created "
                                 "LIMIT 1", (values["fingerprint"], now - window)).fetchone()
                if row is not None:
                    return _entry(row), False
            _check_limits(db, limits, now)
            # fetchall: the statement runs to its end before the COMMIT
            (row,) = db.execute(f"INSERT INTO leads ({', '.join(values)}) VALUES ({', '.join('?' * len(values))}) "
                                f"RETURNING *", tuple(values.values())).fetchall()
        return _entry(row), True

    @guarded
    def claim(self, lead_id: str, *, owner: str, lease: float, now: float | None = None,
              force: bool = False) -> Entry | None:
        now = self.clock() if now is None else now
        due = "" if force else "AND next_attempt <= :now"
        lead_id = storable(lead_id)
        with self._transaction() as db:
            changed = db.execute(
                f"UPDATE leads SET {_TAKE_OVER} lease_owner = :owner, lease_until = :until "
                f"WHERE id = :id AND state = 'pending' "
                f"AND (lease_until IS NULL OR lease_until < :now) {due}",
                {"owner": owner, "until": now + lease, "id": lead_id, "now": now}).rowcount
        return self.get(lead_id) if changed else None

    @guarded
    def claim_due(self, *, owner: str, lease: float, limit: int, now: float | None = None) -> list[Entry]:
        now = self.clock() if now is None else now
        due = "state = 'pending' AND next_attempt <= ? AND (lease_until IS NULL OR lease_until < ?)"
        if self._none_where("leads", due, (now, now)):
            return []
        with self._transaction() as db:
            ids = [r[0] for r in db.execute(
                f"SELECT id FROM leads WHERE {due} ORDER BY next_attempt LIMIT ?", (now, now, limit))]
            db.executemany(f"UPDATE leads SET {_TAKE_OVER} lease_owner = ?, lease_until = ? WHERE id = ?",
                           [(owner, now + lease, i) for i in ids])
        return [e for e in (self.get(i) for i in ids) if e is not None]

    @guarded
    def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
        now = self.clock()
        texts = [storable(t) for t in (outcome.state, outcome.error, outcome.network_id, outcome.redirect,
                                    outcome.error_code, outcome.error_message)]
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE leads SET state = ?, updated = ?, attempts = attempts + 1, last_error = ?, "
                "network_id = COALESCE(?, network_id), redirect = COALESCE(?, redirect), error_code = ?, "
                "error_message = ?, next_attempt = ?, uncertain = MAX(uncertain, ?), bad = ?, lease_owner = NULL, "
                "lease_until = NULL, next_check = ? WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                (texts[0], now, *texts[1:], outcome.next_attempt, int(outcome.uncertain), _fields(outcome.bad),
                 outcome.next_check, storable(lead_id), owner)).rowcount
            if changed and messages:
                add_messages(db, messages, now)
        return bool(changed)

    @guarded
    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        old = "state = 'pending' AND created < ? AND (lease_until IS NULL OR lease_until < ?)"
        if self._none_where("leads", old, (now - max_age, now)):
            return []
        with self._transaction() as db:
            ids = [r[0] for r in db.execute(f"SELECT id FROM leads WHERE {old}", (now - max_age, now))]
            db.executemany("UPDATE leads SET state = 'dead', updated = ?, next_attempt = NULL WHERE id = ?",
                           [(now, i) for i in ids])
        return ids

    @guarded
    def count(self, name: str, by: int = 1) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO counters (name, value) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (storable(name), by))

    def writable(self) -> bool:
        """Whether a lead could be written now: a one-page write commits within a second (the file
        is not read-only, locked, corrupt) and the file has room to grow (SQLite's page limit, 1 MiB
        of free disk). Never raises; cheap enough for every health check."""
        try:
            with self._guard():
                return self._probe()
        except (JournalError, sqlite3.Error):
            return False

    def _probe(self) -> bool:
        db = self._connection()
        db.execute(f"PRAGMA busy_timeout = {int(min(self.busy_timeout, _PROBE_WAIT) * 1000)}")
        try:
            with self._transaction():
                version = db.execute("PRAGMA user_version").fetchone()[0]
                db.execute(f"PRAGMA user_version = {int(version)}")  # rewrites the header page: a real write
        finally:
            if self._handle().db is db:  # else a failed rollback closed it
                db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        pages, limit = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "max_page_count"))
        return bool(pages < limit and shutil.disk_usage(self.path.parent).free >= _ROOM)

    # -- reading --------------------------------------------------------------

    @guarded
    def get(self, lead_id: str) -> Entry | None:
        row = self._connection().execute("SELECT * FROM leads WHERE id = ?", (storable(lead_id),)).fetchone()
        return _entry(row) if row else None

    def entries(self, *, state: str | None = None, since: float | None = None, until: float | None = None,
                limit: int | None = None, landing: str | None = None, stage: str | None = None) -> Iterator[Entry]:
        clauses, args = [], []  # type: list[str], list[Any]
        for clause, value in (("state = ?", state), ("created >= ?", since), ("created < ?", until),
                              ("landing = ?", landing), ("stage = ?", stage)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM leads {where} ORDER BY created" + (" LIMIT ?" if limit else "")
        with self._guard():  # a generator: its failures come while the caller iterates
            for row in self._connection().execute(sql, (*args, limit) if limit else tuple(args)):
                yield _entry(row)

    @guarded
    def stats(self, now: float | None = None, *, landing: str | None = None) -> dict[str, Any]:
        now = self.clock() if now is None else now
        db = self._connection()
        where, args = ("AND landing = ?", (storable(landing),)) if landing is not None else ("", ())
        counts = {state: 0 for state in STATES}
        landings: dict[str, dict[str, int]] = {}
        stages: dict[str, int] = {}
        # The tallies the triggers keep, and the oldest pending lead by an index: as cheap with a million
        # leads as with ten, and with ten landings as with one.
        for name, state, stage, number in db.execute(
                f"SELECT landing, state, stage, n FROM tallies WHERE n > 0 {where}", args):
            counts[state] = counts.get(state, 0) + number
            row = landings.setdefault(name, {s: 0 for s in STATES})
            row[state] = row.get(state, 0) + number
            if state == "delivered":
                stages[stage or "unknown"] = stages.get(stage or "unknown", 0) + number
        oldest = db.execute(f"SELECT MIN(created) FROM leads WHERE state = 'pending' {where}", args).fetchone()[0]
        counters = {row[0]: row[1] for row in db.execute(
            "SELECT name, value FROM counters WHERE name != 'lead_id_nodes' ORDER BY name")}
        return {"counts": counts, "oldest_pending_age": round(now - oldest, 1) if oldest is not None else None,
                "landings": dict(sorted(landings.items())), "counters": counters, "stages": stages}

    # -- upkeep ----------------------------------------------------------------

    @guarded
    def prune(self, keep_days: float | None, *, hits_older_than: float, now: float | None = None) -> dict[str, int]:
        """Delete what the journal need not keep: delivered and rejected leads older than ``keep_days``
        (None: none) that have nothing left to send, with their outbox messages; and rate-limit hits older than ``hits_older_than`` seconds (the longest window).
        In small transactions, so that orders are not held up. How many of each were deleted."""
        now = self.clock() if now is None else now
        deleted = {"leads": 0, "messages": 0, "hits": 0}
        while keep_days is not None:
            cutoff = now - keep_days * 86400
            with self._transaction() as db:
                ids = [r[0] for r in db.execute(f"SELECT id FROM leads WHERE {_PRUNABLE} LIMIT {_PRUNE_BATCH}",
                                                {"cutoff": cutoff})]
                marks = ",".join("?" * len(ids))
                if ids:
                    deleted["messages"] += db.execute(f"DELETE FROM outbox WHERE lead_id IN ({marks})", ids).rowcount
                    deleted["leads"] += db.execute(f"DELETE FROM leads WHERE id IN ({marks})", ids).rowcount
            if len(ids) < _PRUNE_BATCH:
                break
        while True:
            with self._transaction() as db:
                gone = db.execute(f"DELETE FROM hits WHERE rowid IN (SELECT rowid FROM hits WHERE at < ? "
                                  f"LIMIT {_PRUNE_BATCH})", (now - hits_older_than,)).rowcount
            deleted["hits"] += gone
            if gone < _PRUNE_BATCH:
                break
        return deleted

    @guarded
    def node(self) -> int:
        """A number (0 to 999) for one process's lead ids (:class:`~leadkit.lead.LeadIds`): each call
        gives the next, so processes on one journal number their leads apart."""
        with self._transaction() as db:
            db.execute("INSERT INTO counters (name, value) VALUES ('lead_id_nodes', 1) "
                       "ON CONFLICT (name) DO UPDATE SET value = value + 1")
            return int(db.execute("SELECT value FROM counters WHERE name = 'lead_id_nodes'").fetchone()[0]) % 1000

    def migrate(self) -> tuple[int, int] | None:
        """None: the file has no numbered schema versions; opening it added what it lacked."""
        return None

    @guarded
    def close(self) -> None:
        """Close every connection this journal opened in this process, whichever thread opened it
        (never one inherited across a fork: that is its parent's). Using the journal again opens
        new ones. Call it when no other thread is in the middle of a call on the journal."""
        opened = self._opened.get(os.getpid())
        if opened is None:
            return
        with opened.lock:
            handles = list(opened.handles)
        for handle in handles:
            db, handle.db = handle.db, None
            if db is not None:
                db.close()


def open_journal(settings: JournalConfig, *, clock: Callable[[], float] = time.time) -> Journal:
    """The journal ``settings`` name: PostgreSQL at ``journal.url`` (:mod:`leadkit.journal_pg`, which
    needs ``pip install 'leadkit[postgres]'``), else the SQLite file ``journal.path``."""
    if settings.url:
        try:
            from .journal_pg import PostgresJournal
        except ImportError as missing:
            raise JournalError("journal.url", "psycopg missing",
                               f"journal.url names a PostgreSQL database: {missing}") from None
        return PostgresJournal(settings.url, clock=clock)
    return SQLiteJournal(settings.path, clock=clock)


def landing_label(name: str) -> str:
    """A landing's name where it is a label: :data:`DEFAULT_LABEL` for the default landing (``""``)."""
    return name or DEFAULT_LABEL


#: How long :meth:`SQLiteJournal.writable` waits for another process's lock, and the free disk it wants.
_PROBE_WAIT = 1.0
_ROOM = 1 << 20


def _check_limits(db: sqlite3.Connection, limits: Sequence[Limit], now: float) -> None:
    """Inside the add's transaction: refuse when a limit is reached, else count this order. Hits past
    their window are not counted, and are deleted by :meth:`SQLiteJournal.prune` (the relay's upkeep,
    hourly, or ``leadkit journal prune``), not here: two statements fewer for every order."""
    for limit in limits:
        if limit.limit <= 0:
            continue
        count, oldest = db.execute("SELECT COUNT(*), MIN(at) FROM hits WHERE kind = ? AND key = ? AND at >= ?",
                                   (storable(limit.kind), storable(limit.key), now - limit.window)).fetchone()
        if count >= limit.limit:
            raise RateLimited(limit.kind, max(1.0, oldest + limit.window - now))
    db.executemany("INSERT INTO hits (kind, key, at) VALUES (?, ?, ?)",
                   [(storable(limit.kind), storable(limit.key), now) for limit in limits if limit.limit > 0])


def _fields(names: Sequence[str]) -> str:
    return storable_json([storable(str(name)) for name in names])


def _row(entry: Entry) -> dict[str, Any]:
    values = {name: storable(getattr(entry, name)) for name in _COLUMNS}
    values["payload"] = storable_json(entry.payload)
    values["uncertain"] = int(entry.uncertain)
    values["bad"] = _fields(entry.bad)
    values["tags"] = storable_json(storable_map(entry.tags))
    values["clicks"] = storable_json(storable_map(entry.clicks))
    return values


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    values["uncertain"] = bool(values["uncertain"])
    values["bad"] = tuple(json.loads(values["bad"]))
    values["tags"] = json.loads(values["tags"])
    values["clicks"] = json.loads(values["clicks"])
    return Entry(**values)
