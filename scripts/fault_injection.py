#!/usr/bin/env python3
"""Fault injection: does every lead survive, exactly once, whatever the network and the server do?

Each scenario runs real processes over real loopback sockets: ``leadkit serve``
(or gunicorn with four workers) in front of the sandbox network, customers
ordering meanwhile, faults injected at the network (refused connections, 502,
a hang, garbage, an answer lost after the lead arrived) or at the server
(``kill -9`` while the network holds the answer to a lead it has already
taken, per role). After recovery it counts, at the network, every customer's
lead: delivered, made into two orders, lost.

    .venv/bin/python scripts/fault_injection.py            # all scenarios, a table of figures
    .venv/bin/python scripts/fault_injection.py kill-9-ext # some of them

Every scenario states what it expects (:attr:`Figures.expected_twice`): zero
lost and zero made twice, except where a role has no order id of its own and a
retry lands after the network's de-duplication window, which makes a second
order (``kill-9-wm-past-window``, ``kill-9-comp-past-window``): the script
measures that case rather than hiding it. The tests (``tests/test_faults.py``)
run the same scenarios and require what each states.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from leadkit.testing.sandbox import SandboxNetwork

KEY = "1-fault0injection0key"
SECRET = "fault-injection-secret-0123456789"
HEALTH_TOKEN = "fault-injection-health-0123456789"  # /leadkit/health shows the counts to it only
ENV = {"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET, "LEADKIT_HEALTH_TOKEN": HEALTH_TOKEN}


@dataclass
class Figures:
    """What a scenario came to, counted at the network and at the customers. ``twice``: leads the
    network holds two orders (or more) for; ``expected_twice``: what the scenario says it must be."""

    scenario: str
    submitted: int
    thanked: int
    delivered: int
    twice: int
    lost: int
    journal: dict[str, int]
    seconds: float
    expected_twice: int = 0

    @property
    def ok(self) -> bool:
        """Nothing lost, as many twice as the scenario expects, and the journal agrees: every lead ``delivered``."""
        return self.lost == 0 and self.twice == self.expected_twice and self.journal.get("delivered") == self.submitted


# -- processes: the helpers the end-to-end tests use ----------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from hostile_network import HostileNetwork  # noqa: E402
from servers import free_port, leadkit_process, server_log, stop, wait_until_up  # noqa: E402
from support import wait_for  # noqa: E402


def write_config(folder: Path, api: str, role: str = "wm", dialect: str = "dalead", *, timeout: float = 1.0,
                 lease: float = 3.0) -> Path:
    """A standalone site in ``folder`` in front of the network at ``api``: a landing with the form, a
    journal retried every 0.1 s, and no limit that a crowd of customers from 127.0.0.1 would meet."""
    (folder / "landing").mkdir(exist_ok=True)
    (folder / "landing" / "index.jinja").write_text("{{ leadkit_form() }}")
    offer = {"wm": "flow = 42", "ext": 'source = "77"', "comp": ""}[role]
    config = folder / "leadkit.toml"
    config.write_text(f"""
[network]
api = "{api}"
role = "{role}"
dialect = "{dialect}"
timeout = {timeout}
[offer]
offer = 217
country = "kz"
language = "en"
{offer}
[site]
pages = "landing"
min_fill_seconds = 0
[journal]
path = "journal/leadkit.db"
lease = {lease}
retry_base = 0.2
retry_cap = 1
poll = 0.1
[limits]
# Every customer here comes from 127.0.0.1: the per-IP limit (10 orders in 10 minutes by default)
# would refuse them politely, which is hardening's business, not the journal's.
ip_orders = 100000
""")
    return config


# -- customers and counting ---------------------------------------------------------------


def phone(n: int) -> str:
    return f"8 (701) {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"


def digits(n: int) -> str:
    return f"7701{n // 10000 % 1000:03d}{n // 100 % 100:02d}{n % 100:02d}"


def order(base: str, n: int) -> bool:
    """One customer orders; True when they were thanked (or sent to autologin)."""
    try:
        response = requests.post(base + "leadkit/order", data={"name": f"Customer {n}", "phone": phone(n)},
                                 headers={"Origin": base.rstrip("/")}, allow_redirects=False, timeout=30)
    except requests.RequestException:
        return False
    return response.status_code == 303


def submit(base: str, numbers: range, workers: int = 4) -> int:
    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(lambda n: order(base, n), numbers))


def wait_settled(base: str, timeout: float) -> dict[str, int]:
    """Wait until the journal holds no pending lead; the counts by state."""
    counts: dict[str, int] = {}

    def settled() -> bool:
        nonlocal counts
        try:
            counts = requests.get(base + "leadkit/health", timeout=2,
                                  headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}).json()["leads"]
        except (requests.RequestException, ValueError, KeyError):
            return False
        return counts["pending"] == 0

    if not wait_for(settled, timeout, interval=0.1):
        raise RuntimeError(f"leads still pending after {timeout} s: {counts}")
    return counts


def relay_failed(process: subprocess.Popen[str]) -> bool:
    """Has the server's relay tried a lead again, and failed (a second attempt or later, logged)?"""
    return re.search(r"not delivered to \S+ on attempt (?:[2-9]|\d{2,})", server_log(process)) is not None


def count(name: str, networks: list[SandboxNetwork], numbers: range, thanked: int, started: float,
          journal: dict[str, int], expected_twice: int = 0) -> Figures:
    """The orders the network holds per customer (by phone: a second order id would show too)."""
    accepted = Counter(lead.fields.get("phone") for net in networks for lead in net.accepted())
    wanted = [digits(n) for n in numbers]
    delivered = sum(1 for d in wanted if accepted[d] >= 1)
    twice = sum(1 for d in wanted if accepted[d] > 1)
    return Figures(name, len(wanted), thanked, delivered, twice, len(wanted) - delivered, journal,
                   round(time.monotonic() - started, 1), expected_twice)


# -- scenarios -------------------------------------------------------------------------------


def outage(how: str, leads: int = 12) -> Callable[[Path], Figures]:
    """The network fails in one way while customers order, then recovers."""

    def run(folder: Path) -> Figures:
        started = time.monotonic()
        port = free_port()
        network = SandboxNetwork(keys=[KEY], port=port).start()
        networks = [network]
        config = write_config(folder, network.url)
        numbers = range(1000, 1000 + leads)
        with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, process):
            if how == "refuse":
                network.stop()  # nothing listens: connections are refused
            else:
                network.fail_next(1_000_000, how, retry_after=2 if how == "hang" else None)
            thanked = submit(base, numbers)
            if not wait_for(lambda: relay_failed(process), 30):  # the relay keeps failing meanwhile
                raise RuntimeError(f"the relay made no second attempt:\n{server_log(process)[-4000:]}")
            if how == "refuse":
                network = SandboxNetwork(keys=[KEY], port=port).start()
                networks.append(network)
            else:
                network.reset()
            journal = wait_settled(base, 60)
        for net in networks:
            net.stop()
        return count(f"outage-{how}", networks, numbers, thanked, started, journal)

    return run


def kill_mid_send(role: str, window: float | None = None, leads: int = 3) -> Callable[[Path], Figures]:
    """``kill -9`` after the network took the lead and while it holds the answer; a restart's relay sends
    the lead again once its lease has run out.

    The stand-in network is the sandbox's engine behind ``tests/hostile_network.py``: it records and
    accepts the lead, then answers nothing until the connection goes, so the server dies knowing
    nothing of the order. Role ``ext`` sends the same order id again, which the network refuses as a
    ``duplicate``: counted as delivered. ``wm`` and ``comp`` have no order id: the retry is a
    ``duplicate`` only while the same offer and phone are within the network's de-duplication window
    (the sandbox's 600 s, or ``window``: one second is shorter than the lease the retry waits for, so
    the retry makes a second order, and the figures say so). The ``leads`` customers order at once,
    so that every one of them is held when the server dies.
    """

    def run(folder: Path) -> Figures:
        started = time.monotonic()
        engine = SandboxNetwork(keys=[KEY], role=role)
        if window is not None:
            engine.duplicate_window = window
        numbers = range(2000, 2000 + leads)
        with HostileNetwork(engine) as network:
            for n in numbers:
                network.script(digits(n), "hang")  # taken, then no answer
            config = write_config(folder, network.url, role, timeout=1, lease=3)
            with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, process):
                customers = [threading.Thread(target=order, args=(base, n)) for n in numbers]
                for customer in customers:
                    customer.start()
                if not wait_for(lambda: all(network.orders(digits(n)) == 1 for n in numbers), 30):
                    raise RuntimeError(f"the network never took the leads:\n{server_log(process)[-4000:]}")
                os.kill(process.pid, signal.SIGKILL)  # journalled, sent, taken by the network, no answer yet
                process.wait()
                for customer in customers:
                    customer.join()
            with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, _):
                journal = wait_settled(base, 30)  # the dead server's leases run out, then the relay sends
        past = "-past-window" if window is not None else ""
        twice = leads if window is not None and role != "ext" else 0
        return count(f"kill-9-{role}{past}", [engine], numbers, 0, started, journal, expected_twice=twice)

    return run


def answer_lost(role: str) -> Callable[[Path], Figures]:
    """The network takes the lead but the connection drops before its answer."""

    def run(folder: Path) -> Figures:
        started = time.monotonic()
        network = SandboxNetwork(keys=[KEY], role=role).start()
        config = write_config(folder, network.url, role)
        numbers = range(3000, 3003)
        with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, _):
            network.fail_next(len(numbers), "drop")
            thanked = submit(base, numbers, workers=1)
            journal = wait_settled(base, 30)
        network.stop()
        return count(f"answer-lost-{role}", [network], numbers, thanked, started, journal)

    return run


def workers_and_cron(folder: Path, leads: int = 40) -> Figures:
    """Four gunicorn workers' relays and ``leadkit journal retry`` on one journal, racing for the same leads."""
    started = time.monotonic()
    network = SandboxNetwork(keys=[KEY], role="comp").start()
    network.duplicate_window = 0  # accept repeats, so that a lead sent twice shows as two orders
    config = write_config(folder, network.url, "comp")
    numbers = range(4000, 4000 + leads)
    port = free_port()
    env = {**os.environ, **ENV, "LEADKIT_CONFIG": str(config)}
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "--preload", "-w", "4", "-b", f"127.0.0.1:{port}",
                                 "--log-level", "warning", "leadkit.wsgi:application"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(base + "leadkit/health", 30)
        network.fail_next(1_000_000, "502")
        thanked = submit(base, numbers, workers=8)
        for _ in range(8):  # wake every worker's relay
            requests.get(base + "leadkit/health", timeout=5)
        network.reset()
        network.duplicate_window = 0
        cron = [subprocess.Popen([sys.executable, "-m", "leadkit", "journal", "retry"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(3)]
        for process in cron:
            process.wait(60)
        journal = wait_settled(base, 60)
    finally:
        stop(gunicorn)
        network.stop()
    return count("4-workers+cron", [network], numbers, thanked, started, journal)


SCENARIOS: dict[str, Callable[[Path], Figures]] = {
    "outage-refuse": outage("refuse"),
    "outage-502": outage("502"),
    "outage-hang": outage("hang", leads=8),
    "outage-garbage": outage("garbage"),
    **{f"kill-9-{role}": kill_mid_send(role) for role in ("wm", "ext", "comp")},
    **{f"kill-9-{role}-past-window": kill_mid_send(role, window=1) for role in ("wm", "ext", "comp")},
    "answer-lost-ext": answer_lost("ext"),
    "answer-lost-wm": answer_lost("wm"),
    "answer-lost-comp": answer_lost("comp"),
    "4-workers+cron": workers_and_cron,
}


def run_scenario(name: str) -> Figures:
    with tempfile.TemporaryDirectory(prefix=f"leadkit-{name}-") as folder:
        return SCENARIOS[name](Path(folder))


def main(names: list[str]) -> int:
    print(f"{'scenario':<24} {'submitted':>9} {'thanked':>8} {'delivered':>9} {'twice':>6} {'lost':>5} "
          f"{'journal':>24} {'s':>6}")
    failed = 0
    for name in names or list(SCENARIOS):
        f = run_scenario(name)
        failed += not f.ok
        states = " ".join(f"{k[:3]}={v}" for k, v in f.journal.items())
        print(f"{f.scenario:<24} {f.submitted:>9} {f.thanked:>8} {f.delivered:>9} {f.twice:>6} {f.lost:>5} "
              f"{states:>24} {f.seconds:>6}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
