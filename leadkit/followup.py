"""After the order: the parts that follow a lead once the network has it, made from the configuration.

- :class:`~leadkit.conversions.Announcer`: the postbacks and conversion events each event causes;
- :class:`~leadkit.sync.StatusSync`: asks the network for the stages of delivered leads;
- :class:`~leadkit.dispatch.Dispatcher`: sends the outbox.

The server runs the dispatcher in its relay thread (``journal.relay``), and the sync too unless
``sync.enabled = false``; ``leadkit journal sync`` runs one pass of both, for cron.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from . import __version__
from .config import Config
from .conversions import Announcer
from .dispatch import Dispatcher
from .journal import Journal
from .logs import logger
from .network import NetworkClient
from .answer import Answer
from .relay import Courier, RetryPolicy
from .sync import StatusSync

__all__ = ["Followup", "Upkeep", "make_courier", "make_followup"]

_DAY = 86400.0

log = logger("leadkit.journal")


@dataclass(frozen=True)
class Followup:
    """The announcer, the status sync and the outbox's sender of one configuration."""

    announcer: Announcer
    sync: StatusSync
    dispatcher: Dispatcher
    #: Whether the server asks for statuses itself (``sync.enabled``; else ``leadkit journal sync``).
    checks: bool = True

    @property
    def work(self) -> Sequence[Callable[[threading.Event], int]]:
        """The relay's extra work for each pass: send the outbox, then ask for statuses (unless cron does)."""
        send = (lambda stop: self.dispatcher.run_due(stop=stop),)
        return (*send, lambda stop: self.sync.run_due(stop=stop)) if self.checks else send

    def run_once(self) -> tuple[int, int]:
        """One pass of each, for cron: (leads asked about, messages attempted)."""
        asked = self.sync.run_due()
        return asked, self.dispatcher.run_due(limit=10_000)

    def close(self) -> None:
        self.dispatcher.close()


class Upkeep:
    """The journal's upkeep in the relay's pass, at most once per ``every`` seconds: settled leads older
    than ``journal.keep_days`` pruned with their messages, and rate-limit hits past the longest window."""

    def __init__(self, journal: Journal, config: Config, *, every: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.keep_days = config.journal.keep_days
        self.hits_older_than = float(max(config.limits.ip_window, config.limits.phone_window))
        self.every = every
        self.clock = clock
        self._next = 0.0

    def __call__(self, stop: threading.Event | None = None) -> int:
        if self.clock() < self._next:
            return 0
        self._next = self.clock() + self.every
        deleted = self.journal.prune(self.keep_days, hits_older_than=self.hits_older_than)
        if deleted["leads"] or deleted["hits"]:
            log.info("journal upkeep: %d lead(s) older than %s day(s) pruned with %d message(s); %d rate-limit "
                     "hit(s) past their window deleted", deleted["leads"], f"{self.keep_days:g}" if self.keep_days
                     else "-", deleted["messages"], deleted["hits"])
        return 0  # upkeep is not work that makes the relay look again at once


def make_courier(config: Config, journal: Journal, send: Callable[[Mapping[str, Any]], Answer],
                 followup: Followup, *, clock: Callable[[], float] = time.time) -> Courier:
    """The courier for ``config``: a delivered lead's ``lead`` event announced, its first status check set."""
    settings = config.journal
    return Courier(journal, send, RetryPolicy(settings.retry_base, settings.retry_cap), lease=settings.lease,
                   clock=clock, announce=followup.announcer.messages, check_after=config.sync.interval)


def make_followup(config: Config, journal: Journal, network: NetworkClient, *,
                  clock: Callable[[], float] = time.time) -> Followup:
    """The parts for ``config``, on ``journal``; the status calls, the postbacks and the events go
    through ``network``'s connections."""
    announcer = Announcer(config.postbacks, facebook=config.facebook, tiktok=config.tiktok,
                          currency=config.sync.currency, aliases=config.tags.aliases, clock=clock)
    sync = StatusSync(journal, network, config.network.role, config.sync, announcer, lease=config.journal.lease,
                      clock=clock)
    tokens = {"facebook": config.facebook.token or "", "tiktok": config.tiktok.token or ""}
    dispatcher = Dispatcher(journal, tokens=tokens, timeout=config.network.timeout, lease=config.journal.lease,
                            max_age=config.sync.max_age * _DAY,
                            policy=RetryPolicy(config.journal.retry_base, config.journal.retry_cap), clock=clock,
                            http=network.http,
                            names={f"postback:{i}": p.name for i, p in enumerate(config.postbacks) if p.name})
    return Followup(announcer, sync, dispatcher, checks=config.sync.enabled)
