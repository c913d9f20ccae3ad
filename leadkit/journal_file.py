"""The lead journal's file: made private before SQLite opens it, its failures told as
:class:`~leadkit.errors.JournalError` with what to do, and text made storable.

:mod:`leadkit.journal` uses it at its boundary: a failure of the file or the
database becomes one short ``reason`` (``disk full``, ``read-only``, ``locked``,
``corrupt``, ``cannot open``) and a ``fix`` for the operator; text is stored as
SQLite can hold it whatever a network or a visitor chose (lone surrogates, which
UTF-8 cannot encode, become U+FFFD; control characters in a column, spaces).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import sqlite3
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Callable, Concatenate, Mapping, ParamSpec, Protocol, TypeVar

from .errors import JournalError

__all__ = ["create_private", "failure", "storable", "storable_json"]

#: SQLite's messages (stable across versions, unlike its exception classes) and what they mean here.
_REASONS = (("full", "disk full"), ("readonly", "read-only"), ("locked", "locked"), ("malformed", "corrupt"),
            ("not a database", "corrupt"), ("unable to open", "cannot open"), ("unique constraint", "duplicate id"))
_ERRNO_REASONS = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk full", errno.EROFS: "read-only"}
_FIXES = {
    "disk full": "free some disk space (or raise the database's size limit)",
    "read-only": "make the file and its folder writable by the user leadkit runs as",
    "locked": "another process has held it locked for too long: look for a stuck process using the file",
    "corrupt": "it is not a SQLite database or it is damaged: move it aside (it may still hold leads) and start "
               "leadkit again to make a new one, or set journal.path to another file",
    "cannot open": "check that journal.path names a file in a folder leadkit may write to",
}
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def failure(path: Path, exc: sqlite3.DatabaseError | OSError) -> JournalError:
    """The error to raise for a failure of the journal's file or database."""
    if isinstance(exc, OSError):
        reason = _ERRNO_REASONS.get(exc.errno or 0, "cannot open")
    else:
        text = str(exc).lower()
        reason = next((why for words, why in _REASONS if words in text), text[:60] or "database error")
    return JournalError(str(path), reason, _FIXES.get(reason, ""))


def create_private(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite opens it; make an
    existing one private (without opening it for writing: a read-only journal can still be read)."""
    if path.is_dir():
        raise JournalError(str(path), "cannot open",
                           f"it is a folder: set journal.path to a file, like {str(path / 'leadkit.db')!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(str(path), "cannot open", f"its folder cannot be made ({exc.strerror}): make it, or set "
                           "journal.path to a file in a folder that exists") from exc
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


def storable(value: Any) -> Any:
    """Text as a column can hold it and a terminal can show it: lone surrogates as U+FFFD, control
    characters as spaces. Anything else as it is."""
    if not isinstance(value, str):
        return value
    return _CONTROLS.sub(" ", _SURROGATES.sub("\ufffd", value))


def storable_map(mapping: Mapping[str, str]) -> dict[str, str]:
    """A lead's ``tags`` or ``clicks`` as a journal stores them: names and values as text, storable."""
    return {storable(str(k)): storable(str(v)) for k, v in mapping.items()}


def storable_json(value: Any) -> str:
    """``value`` as compact JSON that UTF-8 can hold. JSON escapes control characters itself, so a
    payload's own newlines are kept; a lone surrogate it would pass on, and that becomes U+FFFD."""
    return _SURROGATES.sub("\ufffd", json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_P = ParamSpec("_P")
_R = TypeVar("_R")
_S = TypeVar("_S", bound="_Guarded")


class _Guarded(Protocol):
    def _guard(self) -> AbstractContextManager[None]: ...


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """The journal's method, with a failure of the file or the database raised as
    :class:`~leadkit.errors.JournalError` (by the journal's ``_guard``)."""
    @functools.wraps(method)
    def guarded_method(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._guard():
            return method(self, *args, **kwargs)
    return guarded_method
