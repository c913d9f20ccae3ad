"""A journal that fails on demand, as a full, read-only, locked or corrupt SQLite file makes
:class:`~leadkit.journal.SQLiteJournal` fail: the chosen methods raise
:class:`~leadkit.errors.JournalError`, the others are handed to a real journal."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from leadkit.errors import JournalError
from leadkit.journal import Entry, Journal, Limit, Outcome, SQLiteJournal
from leadkit.journal_outbox import Message

#: Every method of the Journal interface that reads or writes.
METHODS = ("add", "count", "claim", "claim_due", "record", "get", "entries", "expire", "stats", "claim_checks",
           "record_statuses", "postpone_checks", "thank", "enqueue", "claim_messages", "record_message",
           "expire_messages", "messages", "resend_messages", "prune", "node")
#: The status loop's and the outbox's methods, handed on as they are called (``journal.thank(...)``).
_HANDED_ON = METHODS[9:]


class FailingJournal:
    """The :class:`~leadkit.journal.Journal` interface over ``inner``; each method named in
    ``failing`` (a set the test may change at any time) raises JournalError. ``writable()`` is
    False while anything fails. ``calls`` lists the methods called, in order."""

    def __init__(self, inner: SQLiteJournal, *failing: str, reason: str = "disk full",
                 fix: str = "free some disk space") -> None:
        unknown = set(failing) - set(METHODS)
        if unknown:
            raise ValueError(f"not a journal method: {unknown}")
        self.inner: Journal = inner
        self.path = str(inner.path)
        self.failing = set(failing)
        self.reason, self.fix = reason, fix
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise JournalError(self.path, self.reason, self.fix)

    def add(self, entry: Entry, *, owner: str, lease: float, window: float,
            limits: Sequence[Limit] = ()) -> tuple[Entry, bool]:
        self._call("add")
        return self.inner.add(entry, owner=owner, lease=lease, window=window, limits=limits)

    def count(self, name: str, by: int = 1) -> None:
        self._call("count")
        self.inner.count(name, by)

    def claim(self, lead_id: str, **kwargs: Any) -> Entry | None:
        self._call("claim")
        return self.inner.claim(lead_id, **kwargs)

    def claim_due(self, **kwargs: Any) -> list[Entry]:
        self._call("claim_due")
        return self.inner.claim_due(**kwargs)

    def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
        self._call("record")
        return self.inner.record(lead_id, outcome, owner=owner, messages=messages)

    def get(self, lead_id: str) -> Entry | None:
        self._call("get")
        return self.inner.get(lead_id)

    def entries(self, **kwargs: Any) -> Iterator[Entry]:
        self._call("entries")
        return self.inner.entries(**kwargs)

    def expire(self, max_age: float, now: float | None = None) -> list[str]:
        self._call("expire")
        return self.inner.expire(max_age, now)

    def stats(self, now: float | None = None) -> dict[str, Any]:
        self._call("stats")
        return self.inner.stats(now)

    def __getattr__(self, name: str) -> Any:
        if name not in _HANDED_ON:
            raise AttributeError(name)
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._call(name)
            return method(*args, **kwargs)
        return call

    def writable(self) -> bool:
        return not self.failing and self.inner.writable()

    def close(self) -> None:
        self.inner.close()
