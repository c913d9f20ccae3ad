"""The throwaway PostgreSQL server the journal's tests run on (tests/postgres.py): it takes writes,
keeps them across a restart and a crash, goes away and comes back, hands each test an empty
database of its own, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from postgres import DATABASE, POSTGRES_MISSING, RUN_AS, PostgresServer

psycopg = pytest.importorskip("psycopg", reason=POSTGRES_MISSING)


def _rows(url: str) -> list[tuple[str]]:
    with psycopg.connect(url) as connection:
        rows: list[tuple[str]] = connection.execute("SELECT note FROM notes ORDER BY id").fetchall()
    return rows


def _write(url: str, *notes: str) -> None:
    with psycopg.connect(url) as connection:  # commits on leaving the block
        connection.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, note text NOT NULL)")
        for note in notes:
            connection.execute("INSERT INTO notes (note) VALUES (%s)", (note,))


def test_a_table_takes_writes_and_gives_them_back(postgres_url: str) -> None:
    _write(postgres_url, "first", "second")

    assert _rows(postgres_url) == [("first",), ("second",)]


def test_the_server_is_set_up_for_durability_and_many_connections(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.url) as connection:
        settings = {name: connection.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit", "full_page_writes", "max_connections")}
        database = connection.execute("SELECT current_database()").fetchone()[0]

    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "max_connections": "200"}
    assert database == DATABASE
    assert postgres_server.url == f"postgresql://leadkit@127.0.0.1:{postgres_server.port}/{DATABASE}"


def test_the_unix_socket_in_the_folder_answers_too(postgres_server: PostgresServer) -> None:
    with psycopg.connect(host=str(postgres_server.socket_dir), port=postgres_server.port,
                         user=postgres_server.user, dbname=DATABASE) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_the_server_never_runs_as_root(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.url) as connection:
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    uid = int(next(line for line in Path(f"/proc/{backend}/status").read_text().splitlines()
                   if line.startswith("Uid:")).split()[1])

    assert uid != 0
    if os.geteuid() == 0:
        assert postgres_server.run_as in (RUN_AS, "nobody")


def test_a_restart_keeps_what_was_committed(postgres_server: PostgresServer, postgres_url: str) -> None:
    _write(postgres_url, "before the restart")
    held = psycopg.connect(postgres_url)

    postgres_server.restart()

    with pytest.raises(psycopg.OperationalError):  # the restart closed the connection held across it
        held.execute("SELECT 1")
    held.close()
    assert _rows(postgres_url) == [("before the restart",)]


def test_a_crash_keeps_what_was_committed(postgres_server: PostgresServer, postgres_url: str) -> None:
    _write(postgres_url, "before the crash")

    postgres_server.kill()

    assert not postgres_server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_url, connect_timeout=5)
    postgres_server.start()  # recovers from the write-ahead log
    assert _rows(postgres_url) == [("before the crash",)]


def test_a_stopped_server_refuses_connections_until_it_starts_again(postgres_server: PostgresServer,
                                                                  postgres_url: str) -> None:
    _write(postgres_url, "before the outage")

    postgres_server.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_url, connect_timeout=5)
    finally:
        postgres_server.start()

    _write(postgres_url, "after the outage")
    assert _rows(postgres_url) == [("before the outage",), ("after the outage",)]


def test_fresh_databases_are_distinct_and_empty(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.fresh_database(), postgres_server.fresh_database()
    try:
        _write(first, "only in the first")

        assert first != second
        with psycopg.connect(second) as connection:
            assert connection.execute("SELECT to_regclass('notes')").fetchone() == (None,)
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)


def test_a_cluster_left_by_a_killed_run_is_swept_away_and_another_runs_beside() -> None:
    """What a run killed before its teardown leaves (a folder, a server still running) does not
    stand in the way of the next run, which removes it."""
    if POSTGRES_MISSING:
        pytest.skip(POSTGRES_MISSING)
    stray = PostgresServer.create()
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        (stray.folder / "owner").write_text(gone.stdout.strip())  # as if its run had died
        beside = PostgresServer.create()  # sweeps first
        try:
            assert beside.folder != stray.folder and beside.port != stray.port
            assert not stray.folder.exists()
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(stray.url, connect_timeout=5)
            with psycopg.connect(beside.url) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            beside.destroy()
        assert not beside.folder.exists()
    finally:
        stray.destroy()
