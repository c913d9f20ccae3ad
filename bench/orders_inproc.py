"""Orders driven through ``LeadKit`` in this process, by direct WSGI calls (no server, no client library),
and the CPU each one costs, with timers around the known steps.

The CPU is ``time.process_time()`` (this process's, every thread's), which does not run while the
process waits for the network's answer or an fsync: what remains is leadkit's own work per order. The
network is the stand-in in another process (its CPU is not counted), answering at once. The requests
are built before the clock starts.
"""

from __future__ import annotations

import io
import itertools
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

__all__ = ["Drive", "Steps", "drive", "kit_for", "new_agents", "phones", "REPEATED_AGENT"]

REPEATED_AGENT = ("Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.6478.122 Mobile Safari/537.36")
_MODELS = ("SM-A546B", "SM-G991B", "Redmi Note 12", "M2101K6G", "CPH2487", "V2207", "Pixel 7", "TECNO KI5q")
_CODES = ("701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
_numbers = itertools.count(50_000_000)  # apart from the phones post.lua sends


def phones() -> Iterator[str]:
    """Kazakh mobile numbers as customers type them, none twice in this process."""
    for n in _numbers:
        rest = n % 10_000_000
        yield f"8 {_CODES[n // 10_000_000 % len(_CODES)]} {rest // 10000:03d} {rest // 100 % 100:02d} {rest % 100:02d}"


def new_agents(rnd: random.Random) -> Iterator[str]:
    """Browser strings as varied as real ones: Android Chrome and iPhone Safari, each version a new string."""
    while True:
        if rnd.random() < 0.7:
            yield (f"Mozilla/5.0 (Linux; Android {rnd.randint(9, 15)}; {rnd.choice(_MODELS)}) AppleWebKit/537.36 "
                   f"(KHTML, like Gecko) Chrome/{rnd.randint(100, 131)}.0.{rnd.randint(4000, 6999)}."
                   f"{rnd.randint(10, 250)} Mobile Safari/537.36")
        else:
            major, minor = rnd.randint(14, 18), rnd.randint(0, 7)
            yield (f"Mozilla/5.0 (iPhone; CPU iPhone OS {major}_{minor} like Mac OS X) AppleWebKit/605.1.15 "
                   f"(KHTML, like Gecko) Version/{major}.{minor} Mobile/15E{rnd.randint(100, 999)} Safari/604.1")


def _order_environ(phone: str, agent: str, ip: str, cookie: str) -> dict[str, Any]:
    body = urlencode({"name": "Customer Bench", "phone": phone}).encode()
    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/leadkit/order", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": ip,
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_ORIGIN": "http://127.0.0.1:8000", "HTTP_USER_AGENT": agent,
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "ru-RU,ru;q=0.9,en;q=0.8", "HTTP_COOKIE": cookie,
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }


def call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, bytes]:
    """One WSGI call: the status and the body."""
    status = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(line)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return status[0], body


def tags_cookie(app: Callable[..., Any]) -> str:
    """The tags cookie a visit with tags in its link gets, as a ``Cookie`` header's value."""
    captured: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured.extend(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")
        return lambda data: None

    environ = _order_environ("", REPEATED_AGENT, "203.0.113.7", "")
    environ.update({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(),
                    "QUERY_STRING": "utm_source=fb&utm_campaign=spring&sub1=click-1"})
    b"".join(app(environ, start_response))
    return "; ".join(captured)


@dataclass
class Steps:
    """CPU seconds spent in each known step; a step called from inside another is counted in the outer one."""

    spent: dict[str, float] = field(default_factory=dict)
    _inside: bool = False

    def timed(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timer(*args: Any, **kwargs: Any) -> Any:
            if self._inside:
                return function(*args, **kwargs)
            self._inside = True
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[step] = self.spent.get(step, 0.0) + time.process_time() - started
                self._inside = False
        return timer


#: The steps timed, by what they are called in the table; each found by its name in leadkit, or left out.
SEND, JOURNAL, AGENT = "the lead call (NetworkClient.send)", "the journal (every call)", "the user-agent parse"


@contextmanager
def kit_for(config: Path, steps: Steps) -> Iterator[Any]:
    """``LeadKit`` around a bare site for ``config``, its steps timed into ``steps``; closed after."""
    import leadkit.network
    import leadkit.visitor
    from leadkit.middleware import LeadKit

    from apps import bare

    send = getattr(leadkit.network.NetworkClient, "send", None)
    agent = getattr(leadkit.visitor, "is_mobile", None)
    if send is not None:  # bound when LeadKit is made (the desk and the courier hold it): patched until then
        leadkit.network.NetworkClient.send = steps.timed(SEND, send)  # type: ignore[method-assign]
    if agent is not None:
        leadkit.visitor.is_mobile = steps.timed(AGENT, agent)  # type: ignore[assignment]
    try:
        kit = LeadKit(bare, config=config)
    finally:
        if send is not None:
            leadkit.network.NetworkClient.send = send  # type: ignore[method-assign]
    for name in dir(kit.journal):
        method = getattr(kit.journal, name)
        if not name.startswith("_") and callable(method) and name != "close":
            setattr(kit.journal, name, steps.timed(JOURNAL, method))
    try:
        yield kit
    finally:
        kit.close()
        if agent is not None:
            leadkit.visitor.is_mobile = agent  # type: ignore[assignment]


@dataclass(frozen=True)
class Drive:
    """What ``count`` orders cost: CPU and wall-clock ms per order, CPU ms per order in each step."""

    cpu_ms: float
    wall_ms: float
    steps: dict[str, float]


def drive(kit: Any, steps: Steps, count: int, agents: Iterator[str], cookie: str, rnd: random.Random) -> Drive:
    """Post ``count`` orders (each a new phone, a new client address, the next of ``agents``)."""
    numbers = phones()
    environs = [_order_environ(next(numbers), next(agents), f"198.51.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
                               cookie) for _ in range(count)]
    steps.spent.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = [call(kit, environ)[0] for environ in environs]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    refused = [s for s in statuses if not s.startswith("303")]
    if refused:
        raise RuntimeError(f"{len(refused)} of {count} orders were not thanked (first: {refused[0]})")
    return Drive(cpu * 1000 / count, wall * 1000 / count, {k: v * 1000 / count for k, v in steps.spent.items()})
