"""The journal's contract on both journals: the ``any_journal`` fixture (SQLite, and PostgreSQL where it
runs; else skipped with :data:`~postgres.POSTGRES_MISSING`'s reason), ``journals`` for a test that
opens more than one journal on the same storage (two servers, a process of its own), and the few
test-only helpers that reach under the contract to set up data (:func:`execute`, :func:`set_lead`).

``conftest`` imports the fixtures for every test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from leadkit.journal import Journal, SQLiteJournal
from postgres import POSTGRES_MISSING
from support import FakeClock

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]


class Journals:
    """Journals of one ``backend`` on one storage (``where``: the SQLite file, or the PostgreSQL database's
    URL), as several servers or processes would open it; closed at the end of the test."""

    def __init__(self, backend: str, where: str) -> None:
        self.backend = backend
        self.where = where
        self.opened: list[Journal] = []

    def open(self, clock: Callable[[], float] | None = None, **options: Any) -> Journal:
        """One more journal on the storage (``clock``: :func:`time.time` when None)."""
        when = {"clock": clock} if clock is not None else {}
        journal: Journal
        if self.backend == "sqlite":
            journal = SQLiteJournal(self.where, **when, **options)
        else:
            from leadkit.journal_pg import PostgresJournal

            journal = PostgresJournal(self.where, **when, **options)
        self.opened.append(journal)
        return journal

    def config_lines(self) -> str:
        """The ``[journal]`` line that names this storage in a configuration file."""
        key = "path" if self.backend == "sqlite" else "url"
        return f"{key} = {json.dumps(self.where)}\n"

    def close(self) -> None:
        for journal in self.opened:
            journal.close()


@pytest.fixture(params=BACKENDS)
def journals(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journals]:
    """Storage of the test's own for each backend: a file in ``tmp_path``, a fresh PostgreSQL database."""
    if request.param == "postgres":
        if POSTGRES_MISSING:
            pytest.skip(POSTGRES_MISSING)
        where = request.getfixturevalue("postgres_url")
    else:
        where = str(tmp_path / "leadkit.db")
    made = Journals(request.param, where)
    yield made
    made.close()


@pytest.fixture()
def any_journal(journals: Journals, clock: FakeClock) -> Journal:
    """A journal on the test's ``clock``, once on SQLite and once on PostgreSQL."""
    return journals.open(clock)


def is_postgres(journal: Journal) -> bool:
    return not isinstance(journal, SQLiteJournal)


def execute(journal: Journal, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Test-only: run ``sql`` (``?`` placeholders) on the journal's own storage, committed; its rows."""
    if isinstance(journal, SQLiteJournal):
        return [tuple(row) for row in journal._connection().execute(sql, tuple(params)).fetchall()]

    def run(db: Any) -> list[tuple[Any, ...]]:
        cursor = db.execute(sql.replace("?", "%s").encode(), tuple(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    return journal._run(run, transaction=False)  # type: ignore[attr-defined, no-any-return]


def set_lead(journal: Journal, lead_id: str, **columns: Any) -> None:
    """Test-only: set a lead's columns as the network's answers would have left them."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    execute(journal, f"UPDATE leads SET {assignments} WHERE id = ?", [*columns.values(), lead_id])


def wipe(journal: Journal) -> None:
    """Test-only: empty the journal's storage (the tallies with it)."""
    for table in ("leads", "outbox", "hits", "counters", "tallies"):
        execute(journal, f"DELETE FROM {table}")
    if is_postgres(journal):
        execute(journal, "DELETE FROM outbox_tallies")
