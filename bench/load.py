"""The load tool: wrk (C, an event loop per thread; its own CPU is a few percent of one core at these
rates), with fixed threads, connections and duration, and ``post.lua`` for orders."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from typing import Sequence

from procs import BENCH, cpu_seconds

__all__ = ["WRK", "Load", "tags_cookie", "wrk"]

WRK = shutil.which("wrk")
_runs = itertools.count(1)  # each order load posts phones of its own (post.lua's OFFSET)


@dataclass(frozen=True)
class Load:
    """What one wrk run came to: requests per second, requests in all, and the answers that were not
    2xx or 3xx plus socket errors (each a sign that the figure is not what it claims)."""

    rate: float
    requests: int
    failed: int
    #: The server's CPU per request in ms (its workers' user and system time), when the server was named.
    cpu_ms: float | None = None
    #: The share of the machine's CPU time (every core) that no process used meanwhile, idle or waiting for
    #: the disk, in percent; None where /proc/stat cannot be read.
    idle: float | None = None

    def check(self, what: str) -> None:
        if self.failed > self.requests * 0.001:
            raise RuntimeError(f"{what}: {self.failed} of {self.requests} requests failed (not 2xx/3xx, or socket "
                               "errors): the figure would not be the server's")


def wrk(url: str, *, seconds: float, connections: int = 16, threads: int = 2, headers: Sequence[str] = (),
        post: bool = False, server: int | None = None) -> Load:
    """``wrk -t THREADS -c CONNECTIONS -d SECONDS URL``; ``post``: each request an order (``post.lua``);
    ``server``: the master process whose workers' CPU per request is measured meanwhile.

    The CPU per request is what a busy machine disturbs least: a server that gets less of the CPU
    answers fewer requests per second, but each request costs about the same CPU."""
    if WRK is None:
        raise RuntimeError("wrk is not installed")
    args = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]  # whole seconds
    for header in headers:
        args += ["-H", header]
    if post:
        args += ["-s", str(BENCH / "post.lua"), url, "--", str(next(_runs) * threads * 100_000)]
    else:
        args.append(url)
    cpu = cpu_seconds(server) if server else 0.0
    machine = _machine()
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    machine_after = _machine()
    cpu = cpu_seconds(server) - cpu if server else 0.0
    rate = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    requests = int(_find(r"(\d+) requests in", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    # A read error is how wrk counts a server closing the connection after its answer, as gunicorn's sync
    # workers do after every request (no keep-alive): that is not a failure; connect, write and timeouts are.
    failed = (int(bad.group(1)) if bad else 0) + (sum(int(sockets.group(i)) for i in (1, 3, 4)) if sockets else 0)
    idle = None
    if machine and machine_after and machine_after[1] > machine[1]:
        idle = (machine_after[0] - machine[0]) * 100 / (machine_after[1] - machine[1])
    return Load(rate, requests, failed, cpu * 1000 / requests if server and requests else None, idle)


def _machine() -> tuple[int, int] | None:
    """The machine's CPU time so far, in clock ticks: (idle and waiting for the disk, all), from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    return ticks[3] + ticks[4], sum(ticks[:8])


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{text}")
    return found.group(1)


def tags_cookie(url: str) -> str:
    """A valid tags cookie (``name=value``), as a visit with tags in its link is given."""
    with urllib.request.urlopen(url + "/?utm_source=bench&utm_campaign=spring&sub1=click-1", timeout=10) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    for cookie in cookies:
        pair = cookie.split(";", 1)[0]
        if "tags" in pair.split("=", 1)[0]:
            return pair
    raise RuntimeError(f"a visit with tags got no tags cookie (Set-Cookie: {cookies})")
