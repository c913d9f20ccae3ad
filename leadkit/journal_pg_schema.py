"""The PostgreSQL journal's schema: numbered migrations, and the one function that applies them.

``schema_version`` holds a row per migration applied (its number, when). :func:`migrate` runs the
ones a database lacks, in order, in **one transaction** under a transaction-scoped advisory lock:
several servers started together on a fresh database wait for the first, then find it done, and a
migration that fails leaves the database as it was. A database migrated by a newer leadkit (a
version this one does not know) is refused rather than written with an older idea of its tables.

Migration 1 makes everything. A later change is a new entry at the end of :data:`MIGRATIONS`, never
an edit of one already released.

What the tables hold mirrors the SQLite journal (:mod:`leadkit.journal`), with these differences:

- ``leads.seq``, an identity: the order leads were written in, for ties of ``created`` (SQLite's
  rowid) and for paging through :meth:`~leadkit.journal_pg.PostgresJournal.entries`.
- ``payload`` and the outbox's ``headers`` are ``json``: kept as written, keys in their order;
  ``tags``, ``clicks`` and ``bad`` are ``jsonb`` (the report groups by a tag's value).
- ``tallies`` (leads by landing, state and stage) and ``outbox_tallies`` (messages by state) are kept
  by triggers in the transaction that changes a lead or a message, each process's backend on a row of
  its own (``shard``, the backend's pid modulo :data:`SHARDS`): concurrent orders do not queue on one
  counter row held until their commit is on disk. Health sums a few dozen rows.
- ``probe``: one row that :meth:`~leadkit.journal_pg.PostgresJournal.writable` writes.
- ``lead_id_nodes``, a sequence, for :meth:`~leadkit.journal_pg.PostgresJournal.node`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import JournalError

if TYPE_CHECKING:
    import psycopg

__all__ = ["LATEST", "MIGRATIONS", "SHARDS", "migrate", "schema_version"]

#: Rows each tally is spread over (see the module's docstring).
SHARDS = 16
#: The advisory lock the migrations run under: any 64-bit number no other lock of the journal uses
#: (the adds' locks are hashes of their keys, and a collision would only make one wait for the other).
_MIGRATION_LOCK = 0x6C6B_6A72_6E6C_0001

_TALLY_FUNCTIONS = (
    f"""CREATE FUNCTION leadkit_tally_leads() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        my_shard integer := pg_backend_pid() % {SHARDS};
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO tallies AS t (landing, state, stage, shard, n)
            VALUES (OLD.landing, OLD.state, COALESCE(OLD.stage, ''), my_shard, -1)
            ON CONFLICT (landing, state, stage, shard) DO UPDATE SET n = t.n - 1;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO tallies AS t (landing, state, stage, shard, n)
            VALUES (NEW.landing, NEW.state, COALESCE(NEW.stage, ''), my_shard, 1)
            ON CONFLICT (landing, state, stage, shard) DO UPDATE SET n = t.n + 1;
        END IF;
        RETURN NULL;
    END
    $$""",
    f"""CREATE FUNCTION leadkit_tally_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        my_shard integer := pg_backend_pid() % {SHARDS};
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO outbox_tallies AS t (state, shard, n) VALUES (OLD.state, my_shard, -1)
            ON CONFLICT (state, shard) DO UPDATE SET n = t.n - 1;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO outbox_tallies AS t (state, shard, n) VALUES (NEW.state, my_shard, 1)
            ON CONFLICT (state, shard) DO UPDATE SET n = t.n + 1;
        END IF;
        RETURN NULL;
    END
    $$""",
)

#: Each migration: the statements that take a database from the version before to this one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: everything
        """CREATE TABLE leads (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        id text PRIMARY KEY,
        created double precision NOT NULL,
        updated double precision NOT NULL,
        state text NOT NULL,
        call text NOT NULL,
        payload json NOT NULL,
        fingerprint text,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt double precision,
        last_error text,
        network_id text,
        redirect text,
        error_code text,
        error_message text,
        uncertain boolean NOT NULL DEFAULT false,
        lease_owner text,
        lease_until double precision,
        bad jsonb NOT NULL DEFAULT '[]',
        landing text NOT NULL DEFAULT '',
        tags jsonb NOT NULL DEFAULT '{}',
        clicks jsonb NOT NULL DEFAULT '{}',
        stage text,
        status bigint,
        reason bigint,
        payout double precision,
        checked double precision,
        next_check double precision,
        thanked double precision
        )""",
        # claim_due; the pending leads by landing and age (stats' oldest, expire); entries and reports
        # in order of creation, of one landing or all; double submits; the due status checks.
        "CREATE INDEX leads_due ON leads (next_attempt, seq) WHERE state = 'pending'",
        "CREATE INDEX leads_pending ON leads (landing, created) WHERE state = 'pending'",
        "CREATE INDEX leads_created ON leads (created, seq)",
        "CREATE INDEX leads_landing ON leads (landing, created, seq)",
        "CREATE INDEX leads_fingerprint ON leads (fingerprint, created) WHERE fingerprint IS NOT NULL",
        "CREATE INDEX leads_next_check ON leads (call, next_check) WHERE state = 'delivered' "
        "AND next_check IS NOT NULL",
        """CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        lead_id text NOT NULL,
        target text NOT NULL,
        event text NOT NULL,
        method text NOT NULL,
        url text NOT NULL,
        body text,
        headers json NOT NULL DEFAULT '{}',
        created double precision NOT NULL,
        updated double precision NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt double precision,
        last_error text,
        answer text,
        lease_owner text,
        lease_until double precision,
        UNIQUE (lead_id, target, event)
        )""",
        "CREATE INDEX outbox_due ON outbox (next_attempt, id) WHERE state = 'pending'",
        "CREATE TABLE hits (kind text NOT NULL, key text NOT NULL, at double precision NOT NULL)",
        "CREATE INDEX hits_key ON hits (kind, key, at)",
        "CREATE INDEX hits_at ON hits (at)",
        "CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL)",
        """CREATE TABLE tallies (landing text NOT NULL, state text NOT NULL, stage text NOT NULL,
        shard integer NOT NULL, n bigint NOT NULL, PRIMARY KEY (landing, state, stage, shard))""",
        """CREATE TABLE outbox_tallies (state text NOT NULL, shard integer NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (state, shard))""",
        *_TALLY_FUNCTIONS,
        "CREATE TRIGGER leads_tally AFTER INSERT OR DELETE ON leads FOR EACH ROW EXECUTE FUNCTION "
        "leadkit_tally_leads()",
        "CREATE TRIGGER leads_tally_change AFTER UPDATE OF state, stage, landing ON leads FOR EACH ROW WHEN "
        "(OLD.state IS DISTINCT FROM NEW.state OR OLD.stage IS DISTINCT FROM NEW.stage "
        "OR OLD.landing IS DISTINCT FROM NEW.landing) EXECUTE FUNCTION leadkit_tally_leads()",
        "CREATE TRIGGER outbox_tally AFTER INSERT OR DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION "
        "leadkit_tally_outbox()",
        "CREATE TRIGGER outbox_tally_change AFTER UPDATE OF state ON outbox FOR EACH ROW WHEN "
        "(OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION leadkit_tally_outbox()",
        "CREATE TABLE probe (id integer PRIMARY KEY, at double precision NOT NULL)",
        "INSERT INTO probe (id, at) VALUES (1, 0)",
        "CREATE SEQUENCE lead_id_nodes",
    ),
)
#: The version this leadkit brings a database to.
LATEST = len(MIGRATIONS)

_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"


def schema_version(db: psycopg.Connection[Any]) -> int | None:
    """The database's version, read without a lock; None when it has no ``schema_version`` yet."""
    import psycopg

    try:
        with db.transaction():
            row = db.execute(_VERSION).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row else 0


def migrate(db: psycopg.Connection[Any], location: str) -> tuple[int, int]:
    """Bring the database ``db`` (in autocommit mode) up to :data:`LATEST`; its versions before and after.
    Raises :class:`~leadkit.errors.JournalError` (reason ``newer schema``) for a database this leadkit
    is too old for; ``location`` names the database in that error."""
    found = schema_version(db)
    if found == LATEST:  # the usual start: nothing to do, no lock taken
        return found, found
    with db.transaction():
        # A migration may rewrite a large table: no statement timeout, and the servers that start
        # meanwhile wait for the lock (their own timeouts are those of their connections).
        db.execute("SET LOCAL statement_timeout = 0")
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                   "migrated timestamp with time zone NOT NULL DEFAULT now())")
        row = db.execute(_VERSION).fetchone()
        before = int(row[0]) if row else 0
        if before > LATEST:
            raise JournalError(location, "newer schema",
                               f"the database is at schema version {before}, which a newer leadkit made; this one "
                               f"knows versions up to {LATEST}: upgrade leadkit on this server")
        for version in range(before + 1, LATEST + 1):
            for statement in MIGRATIONS[version - 1]:
                db.execute(statement.encode())  # bytes: made here, no parameters (the $$ bodies hold no %s)
            db.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return before, LATEST
