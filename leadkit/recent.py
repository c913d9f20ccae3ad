"""``Recent``: what a process remembers of answers it worked out (a genuine cookie checked, the
language chosen for a header, a page rendered once), bounded so that values a visitor makes up
cannot fill memory: when full, the entry written first goes. Pure; safe across threads."""

from __future__ import annotations

import threading
from typing import Generic, Hashable, TypeVar

__all__ = ["Recent"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most ``size`` entries; the oldest written goes first when a new one comes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)
