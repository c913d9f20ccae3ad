"""PostgreSQL for the journal rows, at ``BENCH_PG_URL``: each use gets a schema of its own, made for it
and dropped after it (``options=-csearch_path=...`` in the URL), so the bench never writes among the
tables already in that database."""

from __future__ import annotations

import importlib.util
import itertools
import os
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

__all__ = ["fill_pg", "pg_problem", "scratch_schema"]

_schemas = itertools.count(1)


def _connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """A URL whose tables go to a new, empty schema, dropped (with what leadkit wrote in it) afterwards."""
    schema = f"leadkit_bench_{os.getpid()}_{next(_schemas)}"
    with _connect(url) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with _connect(url) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def pg_problem(url: str) -> str | None:
    """Why the journal rows cannot run against PostgreSQL at ``url`` (None: they can): leadkit's
    configuration refuses ``journal.url``, psycopg is missing, the server is unreachable, or leadkit
    cannot open a journal there."""
    from configs import pg_refusal

    refused = pg_refusal(url)
    if refused:
        return refused
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'leadkit[postgres]' or psycopg[binary])"
    try:
        with scratch_schema(url) as scratch:
            _open(scratch).close()
    except Exception as exc:
        return f"leadkit cannot open a PostgreSQL journal there: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    return None


def _open(url: str):  # type: ignore[no-untyped-def]
    from leadkit.config_file import config_from_mapping
    from leadkit.journal import open_journal  # type: ignore[attr-defined]

    from configs import _data

    return open_journal(config_from_mapping(_data("http://127.0.0.1:9/api", {"url": url}, 0), environ={}).journal)


def fill_pg(url: str, count: int) -> None:
    """``count`` leads over 90 days in the ``leads`` table leadkit made at ``url`` (its schema made by opening
    a journal there first) and two ``hits`` rows each, in one transaction; the columns are SQLite's: a schema
    that differs fails here.

    The journal's row triggers (the tallies health reads) are switched off for the fill, which would
    otherwise update one tally row a million times in one transaction (minutes); the tallies are then
    written from one grouped count, as the triggers would have left them (all in shard 0)."""
    _open(url).close()
    values = {
        "id": "(extract(epoch from now()) * 1e8)::bigint::text || lpad(i::text, 7, '0')",
        "created": "extract(epoch from now()) - 7776000 + i * (7776000.0 / %(n)s)",
        "updated": "extract(epoch from now()) - 7776000 + i * (7776000.0 / %(n)s)",
        "state": "(ARRAY['delivered','delivered','delivered','delivered','delivered','delivered','delivered',"
                 "'delivered','rejected','pending','dead'])[1 + i %% 11]",
        "call": "'wm/push'",
        "payload": "'{\"name\": \"Customer Name\", \"phone\": \"7701' || lpad(i::text, 7, '0') || '\", \"offer\": 217}'",
        "tags": "'{\"utm_source\": \"fb\", \"sub1\": \"click-' || i || '\"}'",
        "fingerprint": "md5(i::text)",
        "landing": "''",
        "stage": "CASE WHEN i %% 11 < 8 THEN (ARRAY['wait','hold','approve','cancel','trash'])[1 + i %% 5] END",
    }
    with _connect(url) as db:
        # Each value cast to the column's own type (a jsonb payload, a timestamp...): what cannot be cast fails.
        types = dict(db.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'leads' AND table_schema = current_schema()").fetchall())
        missing = [name for name in values if name not in types]
        if missing:
            raise RuntimeError(f"the PostgreSQL journal's leads table has no column {missing}")
        casts = ", ".join(f"({expr})::{types[name]}" for name, expr in values.items())
        with db.transaction():
            db.execute("ALTER TABLE leads DISABLE TRIGGER USER")
            db.execute(f"INSERT INTO leads ({', '.join(values)}) SELECT {casts} FROM generate_series(1, %(n)s) AS i",
                       {"n": count})
            db.execute("ALTER TABLE leads ENABLE TRIGGER USER")
            if db.execute("SELECT to_regclass('tallies')").fetchone()[0] is not None:
                db.execute("INSERT INTO tallies AS t (landing, state, stage, shard, n) SELECT landing, state, "
                           "COALESCE(stage, ''), 0, count(*) FROM leads GROUP BY 1, 2, 3 "
                           "ON CONFLICT (landing, state, stage, shard) DO UPDATE SET n = t.n + EXCLUDED.n")
            db.execute("INSERT INTO hits (kind, key, at) SELECT kind, md5(kind || i %% (CASE kind WHEN 'ip' THEN 50000 "
                       "ELSE %(n)s END)), extract(epoch from now()) - 7776000 + i * (7776000.0 / %(n)s) "
                       "FROM generate_series(1, %(n)s) AS i, (VALUES ('ip'), ('phone')) AS kinds (kind)", {"n": count})
