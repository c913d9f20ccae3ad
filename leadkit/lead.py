"""A lead: one order with everything known about the visit that produced it."""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .form import Order
from .visitor import Visitor

__all__ = ["Lead", "LeadIds", "new_lead_id"]


class LeadIds:
    """Lead ids: unique, time-ordered, of digits only, and within a signed 64-bit integer.

    Digits, because engines store the agency order id (``extu``/``id``) in numeric columns as often
    as in text ones. An id is the millisecond (13 digits until 2286), a *node* (3 digits) and a
    sequence within the millisecond (3 digits): ``1764171234567`` ``042`` ``007``. The node is the
    process's: ``node`` is asked once per process (after a fork, again), and the journal hands each
    process on it a number of its own (:meth:`~leadkit.journal.Journal.node`), so two workers or two
    servers sharing a journal never make the same id; within a process a lock orders the sequence,
    and past 1000 ids in one millisecond the next takes the next millisecond. While the journal cannot
    give a node (it is down), each id gets a random one, and the node is asked for again next time.
    """

    def __init__(self, node: Callable[[], int], clock: Callable[[], int] = time.time_ns) -> None:
        self._node_of = node
        self._clock = clock
        self._lock = threading.Lock()
        self._pid = -1
        self._node = 0
        self._last = 0
        self._sequence = 0

    def __call__(self) -> str:
        with self._lock:
            if self._pid != os.getpid():  # a new process (a fork): a node of its own
                try:
                    self._node, self._pid, self._last = self._node_of() % 1000, os.getpid(), 0
                except Exception:  # the journal cannot say now: a random node for this id, and ask again next time
                    self._node = secrets.randbelow(1000)
            now = self._clock() // 1_000_000
            if now > self._last:
                self._last, self._sequence = now, 0
            else:  # the same millisecond (or the clock went back): the next in it
                self._sequence += 1
                if self._sequence >= 1000:
                    self._last, self._sequence = self._last + 1, 0  # borrow the next millisecond
            return str(self._last * 1_000_000 + self._node * 1000 + self._sequence)


#: Ids for leads made without a journal's node (tests, ``leadkit check``): a random node.
_RANDOM_NODE = LeadIds(lambda: secrets.randbelow(1000))


def new_lead_id() -> str:
    """A lead id (:class:`LeadIds`) on a random node: unique within this process."""
    return _RANDOM_NODE()


@dataclass(frozen=True)
class Lead:
    """An order plus the visitor and tags it came with; ``id`` is leadkit's own."""

    order: Order
    visitor: Visitor
    tags: Mapping[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_lead_id)
    created: float = field(default_factory=time.time)
