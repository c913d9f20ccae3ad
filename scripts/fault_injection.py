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

The scale-out scenarios (``scale-...``) run three servers, gunicorn with four
workers each, with nothing shared but one PostgreSQL database (a throwaway
cluster of ``tests/postgres.py``): separate folders, ports and configurations
that name the same ``journal.url``, customers ordering through all three in
turn. One server is killed with ``kill -9`` while the network holds the answer
to its leads (``scale-kill-9-<role>``), the network fails and recovers
(``scale-outage-<role>``), the database is stopped and started under load
(``scale-db-restart-<role>``). The single-server scenarios run once more with
their journal on PostgreSQL (``<name>-pg``). Where PostgreSQL cannot run these
are skipped, and the table says why.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

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
    #: Leads the network's engine got again after it had them (refused as ``duplicate``), and how many
    #: the scenario says it must get again (None: not stated).
    resent: int = 0
    expected_resent: int | None = None
    #: The customers who were not thanked, by what they saw (an HTTP status, or ``error`` for a
    #: connection that died), and what the scenario says they see (None: not stated).
    refused: dict[str, int] = field(default_factory=dict)
    expected_refused: dict[str, int] | None = None
    #: The journal was down for a while, and the desk sent the orders of that while to the network
    #: directly: those leads are not in it. Then it must hold nothing pending, rejected or dead.
    journal_partial: bool = False

    @property
    def ok(self) -> bool:
        """Nothing lost, as many twice (and sent again, and turned away) as the scenario expects, and the journal
        agrees: every lead ``delivered`` (or, where it was partial, none left pending, rejected or dead)."""
        if self.journal_partial:
            journal = all(self.journal.get(state) == 0 for state in ("pending", "rejected", "dead"))
        else:
            journal = self.journal.get("delivered") == self.submitted
        return (self.lost == 0 and self.twice == self.expected_twice and journal
                and self.expected_resent in (None, self.resent) and self.expected_refused in (None, self.refused))


# -- processes: the helpers the end-to-end tests use ----------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from hostile_network import HostileNetwork  # noqa: E402
from postgres import POSTGRES_MISSING, PostgresServer  # noqa: E402
from servers import free_port, leadkit_process, server_log, stop, wait_until_up  # noqa: E402
from support import wait_for  # noqa: E402


def write_config(folder: Path, api: str, role: str = "wm", dialect: str = "dalead", *, timeout: float = 1.0,
                 lease: float = 3.0, journal_url: str | None = None) -> Path:
    """A standalone site in ``folder`` in front of the network at ``api``: a landing with the form, a
    journal retried every 0.1 s (the SQLite file in ``folder``, or the PostgreSQL database at
    ``journal_url``), and no limit that a crowd of customers from 127.0.0.1 would meet."""
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
{f'url = "{journal_url}"' if journal_url else ""}
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


class Scenario(Protocol):
    """A single-server scenario: run in ``folder``, the journal there (SQLite) or at ``journal_url``."""

    def __call__(self, folder: Path, journal_url: str | None = None) -> Figures: ...


def phone(n: int) -> str:
    return f"8 (701) {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"


def digits(n: int) -> str:
    return f"7701{n // 10000 % 1000:03d}{n // 100 % 100:02d}{n % 100:02d}"


def order(base: str, n: int) -> bool:
    """One customer orders; True when they were thanked (or sent to autologin)."""
    return what_customer_saw(base, n) == "303"


def what_customer_saw(base: str, n: int) -> str:
    """One customer orders; the answer's HTTP status (``303``: thanked, or sent to autologin), or
    ``error`` when the connection failed (the server died)."""
    try:
        response = requests.post(base + "leadkit/order", data={"name": f"Customer {n}", "phone": phone(n)},
                                 headers={"Origin": base.rstrip("/")}, allow_redirects=False, timeout=30)
    except requests.RequestException:
        return "error"
    return str(response.status_code)


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


def health_status(base: str) -> int | None:
    """The HTTP status of ``/leadkit/health`` (None: no answer)."""
    try:
        return requests.get(base + "leadkit/health", timeout=5).status_code
    except requests.RequestException:
        return None


def relay_failed(process: subprocess.Popen[str]) -> bool:
    """Has the server's relay tried a lead again, and failed (a second attempt or later, logged)?"""
    return re.search(r"not delivered to \S+ on attempt (?:[2-9]|\d{2,})", server_log(process)) is not None


def count(name: str, networks: list[SandboxNetwork], numbers: range, thanked: int, started: float,
          journal: dict[str, int], expected_twice: int = 0, *, saw: dict[int, str] | None = None,
          expected_resent: int | None = None, expected_refused: dict[str, int] | None = None,
          journal_partial: bool = False) -> Figures:
    """The orders the network holds per customer (by phone: a second order id would show too).

    ``saw``: what each customer saw (:func:`what_customer_saw`). The ``expected_...`` and
    ``journal_partial``: what the scenario states (:class:`Figures`). Where the journal was down for a
    while, a customer turned away (asked to send the order again) is no lost lead; a thanked one is
    (and a lead the journal kept but did not deliver shows in its counts)."""
    accepted = Counter(lead.fields.get("phone") for net in networks for lead in net.accepted())
    engine_had = Counter(lead.fields.get("phone") for net in networks for lead in net.leads
                         if lead.answer.get("status") == "ok" or lead.answer.get("error") == "duplicate")
    wanted = {n: digits(n) for n in numbers}
    delivered = sum(1 for d in wanted.values() if accepted[d] >= 1)
    twice = sum(1 for d in wanted.values() if accepted[d] > 1)
    resent = sum(max(engine_had[d] - 1, 0) for d in wanted.values())
    turned_away = {n for n, answer in (saw or {}).items() if answer != "303"}
    excused = turned_away if journal_partial else set()
    lost = sum(1 for n, d in wanted.items() if accepted[d] == 0 and n not in excused)
    refused = dict(sorted(Counter((saw or {})[n] for n in turned_away).items()))
    return Figures(name, len(wanted), thanked, delivered, twice, lost, journal, round(time.monotonic() - started, 1),
                   expected_twice, resent=resent, expected_resent=expected_resent, refused=refused,
                   expected_refused=expected_refused, journal_partial=journal_partial)


# -- scenarios -------------------------------------------------------------------------------


def outage(how: str, leads: int = 12) -> Scenario:
    """The network fails in one way while customers order, then recovers."""

    def run(folder: Path, journal_url: str | None = None) -> Figures:
        started = time.monotonic()
        port = free_port()
        network = SandboxNetwork(keys=[KEY], port=port).start()
        networks = [network]
        config = write_config(folder, network.url, journal_url=journal_url)
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


def kill_mid_send(role: str, window: float | None = None, leads: int = 3) -> Scenario:
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

    def run(folder: Path, journal_url: str | None = None) -> Figures:
        started = time.monotonic()
        engine = SandboxNetwork(keys=[KEY], role=role)
        if window is not None:
            engine.duplicate_window = window
        numbers = range(2000, 2000 + leads)
        with HostileNetwork(engine) as network:
            for n in numbers:
                network.script(digits(n), "hang")  # taken, then no answer
            config = write_config(folder, network.url, role, timeout=1, lease=3, journal_url=journal_url)
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


def answer_lost(role: str) -> Scenario:
    """The network takes the lead but the connection drops before its answer."""

    def run(folder: Path, journal_url: str | None = None) -> Figures:
        started = time.monotonic()
        network = SandboxNetwork(keys=[KEY], role=role).start()
        config = write_config(folder, network.url, role, journal_url=journal_url)
        numbers = range(3000, 3003)
        with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, _):
            network.fail_next(len(numbers), "drop")
            thanked = submit(base, numbers, workers=1)
            journal = wait_settled(base, 30)
        network.stop()
        return count(f"answer-lost-{role}", [network], numbers, thanked, started, journal)

    return run


def workers_and_cron(folder: Path, journal_url: str | None = None, leads: int = 40) -> Figures:
    """Four gunicorn workers' relays and ``leadkit journal retry`` on one journal, racing for the same leads."""
    started = time.monotonic()
    network = SandboxNetwork(keys=[KEY], role="comp").start()
    network.duplicate_window = 0  # accept repeats, so that a lead sent twice shows as two orders
    config = write_config(folder, network.url, "comp", journal_url=journal_url)
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


# -- scale-out: three servers, one PostgreSQL database --------------------------------------

#: Servers in a scale-out scenario, and gunicorn workers in each.
SERVERS = 3
WORKERS = 4
ScaleScenario = Callable[[Path, PostgresServer], Figures]


@dataclass
class Server:
    """One scale-out server: gunicorn and its workers, in a folder of its own, logging to ``log``."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """``kill -9`` of the master and its workers at once (their own process group): the machine died."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Gunicorn's quick shutdown: the scenario is over, no request is left to finish."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)

    def wait(self) -> None:
        """Wait until the server has stopped; ``kill -9`` after ten seconds."""
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def database(postgres: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database of the scenario's own; dropped after, the server running again first."""
    url = postgres.fresh_database()
    try:
        yield url
    finally:
        postgres.ensure_running()
        postgres.drop_database(url)


@contextmanager
def scale_out(folder: Path, api: str, role: str, journal_url: str, *, timeout: float = 1.0, lease: float = 3.0
              ) -> Iterator[list[Server]]:
    """Three servers in front of the network at ``api``, sharing nothing but the database at ``journal_url``:
    each its own folder, port and configuration (``network.timeout``, ``journal.lease``). Started at
    once, so their first openings of the new database race to migrate it; stopped after."""
    env = {**{k: v for k, v in os.environ.items() if k != "LEADKIT_JOURNAL_URL"}, **ENV}  # each config names it
    servers: list[Server] = []
    try:
        for number in range(1, SERVERS + 1):
            home = folder / f"server-{number}"
            home.mkdir()
            config = write_config(home, api, role, timeout=timeout, lease=lease, journal_url=journal_url)
            port = free_port()
            log = home / "server.log"
            with open(log, "wb") as out:  # a file, not a pipe: a pipe nobody reads fills up and blocks the server
                process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "--preload", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
                     *_own_control_socket(home), "--log-level", "warning", "leadkit.wsgi:application"],
                    env={**env, "LEADKIT_CONFIG": str(config)}, cwd=home, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
            servers.append(Server(f"http://127.0.0.1:{port}/", process, log))
        for server in servers:
            try:
                wait_until_up(server.base + "leadkit/health", 60)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; its log:\n{server.log_tail()}") from None
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()


def _own_control_socket(home: Path) -> list[str]:
    """Gunicorn 25.1 and later listen on a control socket, the same file for every server of a user
    unless told otherwise: each server gets its own, in its folder (older ones have none)."""
    from gunicorn.config import Config  # type: ignore[import-untyped]

    return ["--control-socket", str(home / "gunicorn.ctl")] if "control_socket" in Config().settings else []


def round_robin(servers: list[Server], numbers: range, meanwhile: Callable[[], None] = lambda: None
                ) -> dict[int, str]:
    """The customers ``numbers`` order at once, each through the next of ``servers`` in turn, while
    ``meanwhile`` runs; what each one saw."""
    with ThreadPoolExecutor(len(numbers)) as pool:
        answers = {n: pool.submit(what_customer_saw, servers[n % len(servers)].base, n) for n in numbers}
        meanwhile()
        return {n: answer.result() for n, answer in answers.items()}


def scale_kill_mid_send(role: str, leads: int = 12) -> ScaleScenario:
    """``kill -9`` of one of the three servers while the network holds the answer to each lead it sent;
    the other two go on taking orders, and their relays send the dead server's leads again once its
    leases have run out.

    As in :func:`kill_mid_send` the dead server's leads are at the network already: ``ext`` sends the
    same order id again, ``wm`` and ``comp`` the same offer and phone within the network's
    de-duplication window, so each of them reaches the network again exactly once (``resent``: one
    relay of the two took it) and is refused as a ``duplicate``, counted as delivered. Three quarters
    of the customers order first, through the three servers in turn (those of the server that dies
    see their connection die with it); the rest order through the other two once it is dead. The
    network timeout is 2 s: the server must die within it, while each of its leads is held, on a
    busy machine too (the lease, more than twice that, is 5 s)."""

    def run(folder: Path, postgres: PostgresServer) -> Figures:
        started = time.monotonic()
        engine = SandboxNetwork(keys=[KEY], role=role)
        numbers = range(5000, 5000 + leads)
        first, then = numbers[:leads * 3 // 4], numbers[leads * 3 // 4:]
        held = [n for n in first if n % SERVERS == 0]  # the customers who order through the server that dies
        with database(postgres) as url, HostileNetwork(engine) as network, \
                scale_out(folder, network.url, role, url, timeout=2, lease=5) as servers:
            victim, others = servers[0], servers[1:]
            for n in held:
                network.script(digits(n), "hang")  # taken, then no answer

            def kill_when_held() -> None:
                if not wait_for(lambda: all(network.orders(digits(n)) == 1 for n in held), 30):
                    raise RuntimeError(f"the network never took the leads:\n{victim.log_tail()}")
                victim.kill()  # journalled, sent, taken by the network, no answer yet

            saw = round_robin(servers, first, meanwhile=kill_when_held)
            saw |= round_robin(others, then)
            journal = wait_settled(others[0].base, 30)  # the dead server's leases run out, then a relay sends
        thanked = sum(answer == "303" for answer in saw.values())
        return count(f"scale-kill-9-{role}", [engine], numbers, thanked, started, journal, saw=saw,
                     expected_resent=len(held), expected_refused={"error": len(held)})

    return run


def scale_outage(role: str, leads: int = 12) -> ScaleScenario:
    """The network answers 502 to every call while customers order through the three servers in turn,
    until each lead has been tried again by a relay; then it recovers, and the relays of all three
    servers race for the same due leads, each claimed by one of them (``FOR UPDATE SKIP LOCKED``, under
    a lease). Every customer is thanked (the journal kept the lead) and each lead reaches the network
    once after recovery: for ``wm`` and ``comp`` the network's de-duplication window is 0, so a lead
    sent twice would be two orders; for ``ext`` the second send would be refused as a duplicate of its
    order id, and counted as ``resent``."""

    def run(folder: Path, postgres: PostgresServer) -> Figures:
        started = time.monotonic()
        network = SandboxNetwork(keys=[KEY], role=role).start()
        network.duplicate_window = 0
        numbers = range(6000, 6000 + leads)
        try:
            with database(postgres) as url, scale_out(folder, network.url, role, url) as servers:
                network.fail_next(1_000_000, "502")
                saw = round_robin(servers, numbers)

                def tried_again() -> bool:
                    calls = Counter(lead.fields.get("phone") for lead in network.leads)
                    return all(calls[digits(n)] >= 2 for n in numbers)

                if not wait_for(tried_again, 30):
                    raise RuntimeError(f"the relays tried the leads only once:\n{servers[0].log_tail()}")
                network.reset()  # the failures, and the calls that met them, are forgotten
                journal = wait_settled(servers[0].base, 60)
        finally:
            network.stop()
        thanked = sum(answer == "303" for answer in saw.values())
        return count(f"scale-outage-{role}", [network], numbers, thanked, started, journal, saw=saw,
                     expected_resent=0, expected_refused={})

    return run


def scale_db_restart(role: str, leads: int = 12) -> ScaleScenario:
    """The database stopped and started again under load: a quarter of the customers order as it
    stops, a quarter while it is down, a quarter as it starts again and the rest once it runs, through
    the three servers in turn.

    While the journal cannot be written ``/leadkit/health`` answers 503, and the desk sends an order to
    the network directly, once, and thanks the customer only when the network took it (the robustness
    rule: a thank-you only with durability or delivery). The network answers 502 to the first two of
    those direct sends, so two customers are asked to send their order again (503): no lost lead, as
    nothing promised them it was kept. After recovery every lead the journal kept is delivered (one
    whose delivery could not be recorded is sent again when its lease runs out: ``wm``/``comp``
    within the network's de-duplication window, as in the ``kill -9`` scenarios), and every thanked
    customer's lead is at the network, as one order."""

    def run(folder: Path, postgres: PostgresServer) -> Figures:
        started = time.monotonic()
        network = SandboxNetwork(keys=[KEY], role=role).start()
        numbers = range(7000, 7000 + leads)
        stopping, down, starting, up = (numbers[i * leads // 4:(i + 1) * leads // 4] for i in range(4))
        try:
            with database(postgres) as url, scale_out(folder, network.url, role, url) as servers:
                saw = round_robin(servers, stopping, meanwhile=postgres.stop)
                health = [health_status(server.base) for server in servers]
                if health != [503] * SERVERS:
                    raise RuntimeError(f"/leadkit/health answered {health} while the database was down, not 503")
                network.fail_next(2, "502")
                saw |= round_robin(servers, down)
                saw |= round_robin(servers, starting, meanwhile=postgres.start)
                saw |= round_robin(servers, up)
                journal = wait_settled(servers[0].base, 30)
        finally:
            postgres.ensure_running()
            network.stop()
        thanked = sum(answer == "303" for answer in saw.values())
        return count(f"scale-db-restart-{role}", [network], numbers, thanked, started, journal, saw=saw,
                     expected_refused={"503": 2}, journal_partial=True)

    return run


SCENARIOS: dict[str, Scenario] = {
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


def on_postgres(scenario: Scenario) -> ScaleScenario:
    """``scenario`` with its one server's journal in a fresh PostgreSQL database instead of the SQLite file."""

    def run(folder: Path, postgres: PostgresServer) -> Figures:
        with database(postgres) as url:
            figures = scenario(folder, url)
        if (folder / "journal" / "leadkit.db").exists():
            raise RuntimeError("the server wrote a SQLite journal: journal.url was not used")
        figures.scenario += "-pg"
        return figures

    return run


#: The single-server scenarios again with the journal on PostgreSQL (``<name>-pg``): the same promises.
PG_SCENARIOS: dict[str, ScaleScenario] = {f"{name}-pg": on_postgres(run) for name, run in SCENARIOS.items()}

ROLES = ("wm", "ext", "comp")
#: The scale-out scenarios: run with a PostgreSQL server (:class:`PostgresServer`), skipped without one.
SCALE_SCENARIOS: dict[str, ScaleScenario] = {
    **{f"scale-kill-9-{role}": scale_kill_mid_send(role) for role in ROLES},
    **{f"scale-outage-{role}": scale_outage(role) for role in ROLES},
    **{f"scale-db-restart-{role}": scale_db_restart(role) for role in ROLES},
}


def run_scenario(name: str, postgres: PostgresServer | None = None) -> Figures:
    """Run one scenario in a temp folder; a scale-out or ``-pg`` scenario on ``postgres``."""
    with tempfile.TemporaryDirectory(prefix=f"leadkit-{name}-") as folder:
        on_database = {**PG_SCENARIOS, **SCALE_SCENARIOS}
        if name in on_database:
            if postgres is None:
                raise ValueError(f"{name} needs a PostgreSQL server")
            return on_database[name](Path(folder), postgres)
        return SCENARIOS[name](Path(folder))


def main(names: list[str]) -> int:
    every = [*SCENARIOS, *PG_SCENARIOS, *SCALE_SCENARIOS]
    names = names or every
    unknown = [name for name in names if name not in every]
    if unknown:
        print(f"no such scenario: {', '.join(unknown)}; the scenarios: {', '.join(every)}")
        return 2
    print(f"{'scenario':<24} {'submitted':>9} {'thanked':>8} {'refused':>9} {'delivered':>9} {'twice':>6} "
          f"{'lost':>5} {'resent':>6} {'journal':>24} {'s':>6}  as stated")
    failed = 0
    postgres: PostgresServer | None = None
    try:
        for name in names:
            if name not in SCENARIOS and POSTGRES_MISSING:
                print(f"{name:<24} skipped: {POSTGRES_MISSING}", flush=True)
                continue
            if name not in SCENARIOS and postgres is None:
                postgres = PostgresServer.create()  # one throwaway cluster for them all, a database each
            f = run_scenario(name, postgres)
            failed += not f.ok
            states = " ".join(f"{k[:3]}={v}" for k, v in f.journal.items())
            refused = " ".join(f"{k}:{v}" for k, v in f.refused.items()) or "-"
            print(f"{f.scenario:<24} {f.submitted:>9} {f.thanked:>8} {refused:>9} {f.delivered:>9} {f.twice:>6} "
                  f"{f.lost:>5} {f.resent:>6} {states:>24} {f.seconds:>6}  {'yes' if f.ok else 'NO'}", flush=True)
    finally:
        if postgres is not None:
            postgres.destroy()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
