"""The journal's file: SQLite's failures read into a reason and a fix, and text made storable."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from leadkit.journal_file import failure, storable, storable_json

PATH = Path("/srv/leadkit/leads.db")


@pytest.mark.parametrize(("exc", "reason", "fix"), [
    pytest.param(sqlite3.OperationalError("database or disk is full"), "disk full", "free some disk space",
                 id="full"),
    pytest.param(sqlite3.OperationalError("attempt to write a readonly database"), "read-only", "writable",
                 id="readonly"),
    pytest.param(sqlite3.OperationalError("database is locked"), "locked", "stuck process", id="locked"),
    pytest.param(sqlite3.OperationalError("database table is locked"), "locked", "stuck process", id="table-locked"),
    pytest.param(sqlite3.DatabaseError("file is not a database"), "corrupt", "move it aside", id="not-a-database"),
    pytest.param(sqlite3.DatabaseError("database disk image is malformed"), "corrupt", "move it aside",
                 id="malformed"),
    pytest.param(sqlite3.OperationalError("unable to open database file"), "cannot open", "journal.path",
                 id="unable-to-open"),
    pytest.param(sqlite3.IntegrityError("UNIQUE constraint failed: leads.id"), "duplicate id", "", id="unique"),
    pytest.param(sqlite3.OperationalError("disk I/O error"), "disk i/o error", "", id="unknown-kept-short"),
    pytest.param(OSError(errno.ENOSPC, "No space left on device"), "disk full", "free some disk space", id="enospc"),
    pytest.param(OSError(errno.EROFS, "Read-only file system"), "read-only", "writable", id="erofs"),
    pytest.param(PermissionError(errno.EACCES, "Permission denied"), "cannot open", "journal.path", id="eacces"),
])
def test_a_failure_is_a_reason_and_a_fix(exc: sqlite3.DatabaseError | OSError, reason: str, fix: str) -> None:
    error = failure(PATH, exc)
    assert (error.path, error.reason) == (str(PATH), reason)
    assert fix in error.fix and (error.fix == "") == (fix == "")
    assert str(error).startswith(f"the lead journal '{PATH}' cannot be used ({reason})")


@pytest.mark.parametrize(("value", "stored"), [
    pytest.param("Айгерим ✓", "Айгерим ✓", id="text-as-it-is"),
    pytest.param("a\udcffb", "a\ufffdb", id="lone-surrogate"),
    pytest.param("a\x00b\nc\rd\te\x1bf\x7fg\x9fh", "a b c d e f g h", id="controls"),
    pytest.param(42, 42, id="not-text"),
    pytest.param(None, None, id="none"),
])
def test_storable(value: object, stored: object) -> None:
    assert storable(value) == stored


def test_storable_json_keeps_escapes_and_replaces_only_what_utf8_cannot_hold() -> None:
    text = storable_json({"name": "Ann\udcff", "comment": "a\nb\x00", "n": [1, "ку"]})
    assert text == '{"name":"Ann\ufffd","comment":"a\\nb\\u0000","n":[1,"ку"]}'
    text.encode("utf-8")
