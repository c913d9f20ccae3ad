"""How the PostgreSQL journal connects (:mod:`leadkit.journal_pg`), and its failures told.

:func:`connection_params` reads ``journal.url`` into libpq's parameters and adds leadkit's bounds where
the URL says nothing: ``connect_timeout`` (3 s), TCP keepalives and ``tcp_user_timeout`` (a server gone
from the network is noticed in about 10 s), and ``options`` that set ``statement_timeout``,
``synchronous_commit = on`` and ``idle_in_transaction_session_timeout`` before the URL's own options
(which may override them). :func:`watched` makes the connection class that tells a :class:`Reach` how
the pool's attempts to connect went, so that a call waiting for a connection learns at once that none
is coming.

:func:`failure` turns any exception of psycopg's into a :class:`~leadkit.errors.JournalError` with a
short ``reason`` and a ``fix``. Neither ever holds the URL's user or password: the database is named
by :func:`location` (``postgresql://host:port/dbname``), and an error's own text is read for a few
words, never repeated.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from .errors import JournalError

__all__ = ["Connection", "Reach", "connection_params", "failure", "location", "watched"]

Connection = psycopg.Connection[TupleRow]

_CONNECT_TIMEOUT = 3
_NETWORK = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
            "tcp_user_timeout": 10000}

FIXES = {
    "unreachable": "check that PostgreSQL runs at {where} and that this server reaches it (journal.url)",
    "timeout": "the database answered too slowly: look for long transactions or locks in pg_stat_activity, "
               "or a database server out of resources",
    "busy": "every connection of this process's pool was busy: lower the server's threads per process, or "
            "look for slow statements in pg_stat_activity",
    "read-only": "the database refuses writes (a standby, or default_transaction_read_only): point journal.url "
                 "at the primary",
    "disk full": "free some disk space on the database server",
    "refused login": "check the user and password of journal.url (or LEADKIT_JOURNAL_URL) and pg_hba.conf",
    "no database": "create the database journal.url names (CREATE DATABASE), or correct its name",
    "permission denied": "make the user of journal.url the owner of the journal's tables (or of the database)",
    "too many connections": "raise the server's max_connections, or run fewer leadkit processes",
    "not migrated": "run `leadkit journal migrate` (or start leadkit once) to make the journal's tables",
    "conflict": "too many servers changed the same rows at once: try again",
    "bad url": "journal.url must be a PostgreSQL URL like 'postgresql://user:password@host:5432/leadkit'",
}
_SQLSTATES = {"25006": "read-only", "53100": "disk full", "57014": "timeout", "55P03": "timeout",
              "42501": "permission denied", "53300": "too many connections", "42P01": "not migrated",
              "3D000": "no database", "28P01": "refused login", "28000": "refused login", "23505": "duplicate id",
              "40001": "conflict", "40P01": "conflict"}
#: libpq's words when a connection is refused before there is a SQLSTATE.
_CONNECT_WORDS = (("password authentication failed", "refused login"), ("no pg_hba.conf entry", "refused login"),
                  ('role "', "refused login"), ('database "', "no database"),
                  ("too many clients", "too many connections"), ("remaining connection slots", "too many connections"))


def connection_params(url: str, statement_timeout: float) -> dict[str, Any]:
    """libpq's parameters from ``url``, with leadkit's bounds and durability where the URL says nothing."""
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.Error:  # its message may quote the URL, password and all
        raise JournalError("journal.url", "bad url", FIXES["bad url"]) from None
    params.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    params.setdefault("application_name", "leadkit")
    for name, value in _NETWORK.items():
        params.setdefault(name, value)
    ours = (f"-c statement_timeout={int(statement_timeout * 1000)} -c synchronous_commit=on "
            "-c idle_in_transaction_session_timeout=60000")
    params["options"] = f"{ours} {params['options']}" if params.get("options") else ours
    return params


def location(params: Mapping[str, Any]) -> str:
    """The database as errors and logs name it: ``postgresql://host:port/dbname``, no credentials."""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"postgresql://{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or ''}"


def failure(where: str, exc: BaseException) -> JournalError:
    """The error to raise for ``exc``, a failure of the database ``where``."""
    reason = _reason(exc)
    return JournalError(where, reason, FIXES.get(reason, "see the database server's log").format(where=where))


def _reason(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or ""
    if state in _SQLSTATES:
        return _SQLSTATES[state]
    if isinstance(exc, psycopg.OperationalError) and not state:  # refused before a SQLSTATE: libpq's words
        text = str(exc).lower()
        return next((why for words, why in _CONNECT_WORDS if words in text), "unreachable")
    if state.startswith(("08", "57P")) or isinstance(exc, psycopg.OperationalError):
        return "unreachable"
    return f"database error ({type(exc).__name__})"


class Reach:
    """How the pool's last attempt to connect went: its error and when (None since one succeeded)."""

    def __init__(self) -> None:
        self.error: psycopg.Error | None = None
        self.failed_at = 0.0


def watched(reach: Reach) -> type[Connection]:
    """A connection class that tells ``reach`` how each attempt to connect went."""

    class WatchedConnection(psycopg.Connection[TupleRow]):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> WatchedConnection:
            try:
                db = super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                reach.error, reach.failed_at = exc, time.monotonic()
                raise
            reach.error = None
            return db

    return WatchedConnection
