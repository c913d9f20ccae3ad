"""What every row of the bench shares: the rounds, the load's duration, the temporary folder, the
processes started, the stand-in network (started once, when a row first needs it) and PostgreSQL."""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

import pg
from procs import Processes

__all__ = ["Bench"]

T = TypeVar("T")


@dataclass
class Bench:
    """``rounds`` interleaved rounds; each HTTP load runs ``seconds``, after ``warmup`` seconds per server."""

    rounds: int
    quick: bool
    folder: Path
    procs: Processes
    seconds: float
    warmup: float
    pg_url: str | None = None
    _network: str | None = field(default=None, repr=False)
    #: The stand-in network's process id, once started (its CPU tells whether it limited a load).
    network_pid: int | None = field(default=None, repr=False)
    _pg_problem: str | None = field(default=None, repr=False)

    def network(self) -> str:
        """The stand-in network's base URL (:mod:`standin`), started the first time it is asked for."""
        if self._network is None:
            self._network, process = self.procs.standin()
            self.network_pid = process.pid
        return self._network

    def api(self, latency_ms: int) -> str:
        """``network.api`` for a network that answers each lead call after ``latency_ms``."""
        return f"{self.network()}/d{latency_ms}/api"

    def delivered(self) -> int:
        """How many lead calls the stand-in network has answered so far."""
        with urllib.request.urlopen(self.network() + "/count", timeout=10) as response:
            return int(json.load(response)["leads"])

    def pg_problem(self) -> str | None:
        """Why the PostgreSQL variants cannot run (None: they can)."""
        if not self.pg_url:
            return "BENCH_PG_URL is not set (a PostgreSQL database URL runs the journal rows against it too)"
        if self._pg_problem is None:
            self._pg_problem = pg.pg_problem(self.pg_url) or ""
        return self._pg_problem or None

    @contextmanager
    def pg_schema(self) -> Iterator[str]:
        """``journal.url`` for a journal in a new schema of the database at ``BENCH_PG_URL``, dropped after."""
        if self.pg_url is None:
            raise RuntimeError("BENCH_PG_URL is not set: ask pg_problem() first")
        with pg.scratch_schema(self.pg_url) as url:
            yield url

    def journals(self) -> Iterator[tuple[str, str | None]]:
        """The journals a journal row runs with: (a label for the row, ``journal.url`` or None for SQLite);
        PostgreSQL's in a schema of its own, dropped once the row is done with it."""
        yield "", None
        if self.pg_problem() is None:
            with self.pg_schema() as url:
                yield ", PostgreSQL journal", url

    @staticmethod
    def alternate(round_number: int, sides: Sequence[T]) -> list[T]:
        """The sides in this round's order: as given in even rounds, reversed in odd ones, so that neither
        side always runs first (on a warmer, or a busier, machine)."""
        return list(sides) if round_number % 2 == 0 else list(reversed(sides))
