"""``leadkit serve`` in front of a hostile network, per role: whatever the network answers, no
customer sees a server error, no lead is lost or made twice, the relay's other leads go on,
and neither the log nor any output carries the network's control characters or the key.

Each role's run (wm, ext and comp in the dalead dialect, ext in moe) starts the hostile
network (:mod:`hostile_network`: the sandbox's engine behind a transport that misbehaves) and
``leadkit serve`` in front of it, sends one real order per case of :data:`CASES` from real
HTTP clients (the form token from ``GET /leadkit/form``, an ``Origin`` as a browser sends it),
waits until the journal has settled every lead that can settle, and reads the journal with
``leadkit journal export``. The tests below each check one promise over the whole run and
name every case that breaks it.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from hostile_network import FORGED, HostileNetwork
from leadkit.answer import CUSTOMER_ERRORS
from leadkit.formtoken import TOKEN_FIELD
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.texts import TEXTS
from servers import leadkit_process, server_log
from support import HEALTH_TOKEN, KEY, SECRET, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fault_injection import write_config  # noqa: E402 - the same standalone site as the fault scenarios

ENV = {"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET, "LEADKIT_HEALTH_TOKEN": HEALTH_TOKEN}


@dataclass(frozen=True)
class Case:
    """One lead: the network's behaviour for each of its calls (then ``then`` ever after), and how
    the journal must hold it once settled (``ends``; a rejection keeps ``code``, and a customer
    shown leadkit's 503 page reads ``says``)."""

    name: str
    script: tuple[str, ...]
    ends: str = "delivered"
    code: str | None = None
    then: str = "ok"
    says: str = TEXTS["network_unavailable"]


def case(name: str, *script: str, ends: str = "delivered", then: str = "ok") -> Case:
    return Case(name, script or (name,), ends, then=then)


def refused(name: str, code: str, says: str = TEXTS["network_unavailable"]) -> Case:
    return Case(name, (name,), "rejected", code, says=says)


#: The engine took the lead, then the answer went wrong: a retry's ``duplicate`` means delivered.
#: The engine never saw it (a 429, a 503, a reset before it): a retry delivers it.
#: The engine answered ok with values of the wrong kind: delivered at once.
#: A refusal of any shape: rejected, with the code leadkit reads from it.
CASES = [
    *(case(name) for name in (
        "drip-body", "drip-headers", "short-body", "false-gzip", "gzip-bomb", "deep-json", "deep-json-in-limit",
        "invalid-utf8", "json-array", "html-200", "http-500", "http-502", "reset", "close", "hang", "many-headers",
        "bad-status-line", "no-status-line", "broken-chunk",
        "db", "request-error", "retry-after-arabic", "retry-after-superscript", "retry-after-exponent",
        "retry-after-huge", "retry-after-far-date", "redirect", "reset-before-engine", "stall-before-engine",
        "lone-surrogate-id", "newline-id", "object-id", "list-id", "bool-id", "infinite-id", "no-id", "url-crlf",
        "url-unicode", "url-bad-port", "url-bad-ipv6", "url-javascript", "url-huge", "url-nul")),
    case("reset-then-429", "reset", "retry-after-arabic"),
    case("hang-then-false-gzip", "hang", "false-gzip"),
    refused("duplicate", "duplicate"),
    refused("error-object", "unknown"),
    refused("error-number", "404", says="12"),
    refused("error-bool", "unknown"),
    refused("error-text", "phone"),
    refused("unknown-code", "quota-exceeded-v2"),
    refused("unknown-code-cyrillic", "unknown"),
    refused("noid", "noid"),
    refused("app", "app"),
    refused("func", "func"),
    refused("bad-list", "data"),
    refused("bad-not-a-list", "data"),
    refused("ban-html-message", "ban"),
    refused("echo-key", "key", says="is not valid"),
    refused("html-404-echo", "http-404"),
    refused("html-403-firewall", "http-403"),
    # Two leads the network never answers, and a well-behaved one the relay has to get to past them.
    case("hang-forever", "hang", ends="pending", then="hang"),
    case("drip-forever", "drip-body", ends="pending", then="drip-body"),
    case("behind-hostile", "db"),
]
FOREVER = [c for c in CASES if c.ends == "pending"]
RUNS = [("wm", "dalead"), ("ext", "dalead"), ("comp", "dalead"), ("ext", "moe")]


def phone(n: int) -> tuple[str, str]:
    """A Kazakh mobile number as a customer types it, and as the network receives it."""
    return (f"8 (701) {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}",
            f"7701{n // 10000 % 1000:03d}{n // 100 % 100:02d}{n % 100:02d}")


@dataclass
class Run:
    """What one role's run came to: per case, the customer's answer, the journal's row, the calls."""

    role: str
    network: HostileNetwork
    phones: dict[str, str] = field(default_factory=dict)  # case name -> phone digits
    replies: dict[str, Reply | str] = field(default_factory=dict)
    journal: dict[str, dict[str, Any]] = field(default_factory=dict)  # phone digits -> exported row
    outputs: list[str] = field(default_factory=list)  # every text a customer or the operator sees
    log: str = ""
    files: bytes = b""

    def row(self, c: Case) -> dict[str, Any] | None:
        return self.journal.get(self.phones[c.name])

    def __repr__(self) -> str:  # pytest prints the fixture with each failure: the role is enough
        return f"Run({self.role!r})"


@dataclass(frozen=True)
class Reply:
    """What a customer's browser got (kept apart from the connection, which closes with the browser)."""

    status: int
    headers: dict[str, str]
    text: str

    @classmethod
    def of(cls, response: requests.Response) -> Reply:
        return cls(response.status_code, dict(response.headers), response.text)

    def __str__(self) -> str:
        return f"{self.status} {self.headers!r}\n{self.text}"


def order(base: str, typed_phone: str) -> Reply | str:
    """A customer: opens the form, sends it with its token as a browser does. The answer, or why none came."""
    with requests.Session() as browser:
        try:
            form = browser.get(base + "leadkit/form", timeout=30)
            token = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', form.text)
            if form.status_code != 200 or token is None:
                return Reply.of(form)
            return Reply.of(browser.post(base + "leadkit/order", allow_redirects=False, timeout=30,
                                         data={"name": "Aigerim", "phone": typed_phone, TOKEN_FIELD: token.group(1)},
                                         headers={"Origin": base.rstrip("/")}))
        except requests.RequestException as exc:
            return f"no answer: {type(exc).__name__}"


def settled(base: str, network: HostileNetwork, run: Run) -> bool:
    """Every lead that can settle has, and the relay has tried the never-answered ones again."""
    try:
        pending = requests.get(base + "leadkit/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"},
                               timeout=5).json()["leads"]["pending"]
    except (requests.RequestException, ValueError, KeyError):
        return False
    return pending <= len(FOREVER) and all(len(network.calls_for(run.phones[c.name])) >= 2 for c in FOREVER)


def export(config: Path) -> subprocess.CompletedProcess[str]:
    """``leadkit journal export --format jsonl``, as the operator runs it."""
    done = subprocess.run([sys.executable, "-m", "leadkit", "journal", "export", "--format", "jsonl", "--config",
                           str(config)], capture_output=True, text=True, timeout=60, env={**os.environ, **ENV})
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module", params=RUNS, ids=[f"{r}-{d}" for r, d in RUNS])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    role, dialect = request.param
    folder = tmp_path_factory.mktemp(f"hostile-{role}-{dialect}")
    with HostileNetwork(SandboxNetwork(keys=[KEY], role=role, dialect=dialect, offers={217: [42]})) as network:
        result = Run(role, network)
        config = write_config(folder, network.url, role, dialect, timeout=2, lease=5)
        typed = {}
        for n, c in enumerate(CASES):
            typed[c.name], result.phones[c.name] = phone(RUNS.index(request.param) * 1000 + n)
            network.script(result.phones[c.name], *c.script, then=c.then)
        with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, process):
            with ThreadPoolExecutor(12) as pool:
                replies = pool.map(lambda c: order(base, typed[c.name]), CASES)
                result.replies = dict(zip((c.name for c in CASES), replies))
            wait_for(lambda: settled(base, network, result), 60, interval=0.2)  # what did not settle is reported below
        result.log = server_log(process)
        exported = export(config)
        result.journal = {row["payload"]["phone"]: row for row in map(json.loads, exported.stdout.splitlines())}
        result.files = b"".join(p.read_bytes() for p in (folder / "journal").iterdir())
        result.outputs = [exported.stdout, exported.stderr, result.log, *map(str, result.replies.values())]
        yield result


def _site_problem(c: Case) -> bool:
    # A data refusal whose bad list names only leadkit's own fields (bad-list: "ip") is the site's too.
    return c.ends == "rejected" and (c.code not in CUSTOMER_ERRORS or c.name == "bad-list")


# -- the customers ----------------------------------------------------------------------------


def test_no_customer_gets_a_server_error(run: Run) -> None:
    """Below 500, or leadkit's own 503 page (its form again, its headers, a sentence for the
    customer) when the network says the site is misconfigured."""
    wrong = {}
    for c in CASES:
        reply = run.replies[c.name]
        if isinstance(reply, str):
            wrong[c.name] = reply
        elif reply.status >= 500:
            alert = re.search(r'role="alert">([^<]*)<', reply.text)
            own_page = reply.status == 503 and "Content-Security-Policy" in reply.headers \
                and 'name="phone"' in reply.text and alert is not None and html.escape(c.says) in alert.group(1)
            if not (own_page and _site_problem(c)):
                wrong[c.name] = f"{reply.status}: {reply.text[:200]!r}"
    assert not wrong, f"{run.role}: customers got server errors: {wrong}"


def test_every_redirect_can_stand_in_a_location_header(run: Run) -> None:
    wrong = {}
    for name, reply in run.replies.items():
        location = "" if isinstance(reply, str) else reply.headers.get("Location", "")
        if location and not (location.isascii() and location.isprintable() and " " not in location
                             and re.match(r"(https?://[^/@\\]+/|/leadkit/thanks$)", location)):
            wrong[name] = location[:120]
    assert not wrong, f"{run.role}: unsafe Location headers: {wrong}"


def test_network_text_is_escaped_on_the_customers_page(run: Run) -> None:
    reply = run.replies["ban-html-message"]
    assert not isinstance(reply, str) and "<script>alert(1)" not in reply.text
    assert html.escape("<script>alert(1)</script>") in reply.text or TEXTS["network_ban"] in reply.text


# -- the journal and the network --------------------------------------------------------------


def test_every_order_is_in_the_journal_as_the_network_left_it(run: Run) -> None:
    """Delivered, rejected with its reason, or pending for the relay (only the never-answered ones)."""
    wrong = {}
    for c in CASES:
        row = run.row(c)
        if row is None:
            wrong[c.name] = "not in the journal"
        elif (row["state"], row["error_code"] if c.ends == "rejected" else None) != (c.ends, c.code):
            wrong[c.name] = f"{row['state']} {row['error_code']!r} (expected {c.ends} {c.code or ''}): " \
                            f"{(row.get('last_error') or '')[:100]}"
    assert not wrong, f"{run.role}: {len(wrong)} lead(s) not as the network left them: {wrong}"


def test_a_rejection_keeps_the_fields_the_network_named(run: Run) -> None:
    row = run.row(next(c for c in CASES if c.name == "bad-list"))
    assert row is not None and "ip" in json.dumps(row.get("bad")), \
        f"{run.role}: the journal should keep the network's 'bad' list (['ip', ...]); it has " \
        f"{ {k: row.get(k) for k in ('state', 'error_code', 'bad', 'last_error')} if row else None}"


def test_the_network_has_each_lead_at_most_once(run: Run) -> None:
    """Counted in the engine's orders: at most one per lead, exactly one for a delivered lead;
    role ext: every call of a lead carries its journal id as the agency order id."""
    wrong = {}
    for c in CASES:
        digits, row = run.phones[c.name], run.row(c)
        orders = run.network.orders(digits)
        wanted = 0 if c.ends == "rejected" else 1
        if orders != wanted:
            wrong[c.name] = f"{orders} order(s) at the network, {len(run.network.calls_for(digits))} call(s)"
        ids = {call.order_id for call in run.network.calls_for(digits)}
        if run.role == "ext" and row is not None and ids != {row["id"]}:
            wrong[c.name] = f"agency order ids {ids}, journal id {row['id']}"
    assert not wrong, f"{run.role}: {wrong}"


def test_a_well_behaved_lead_behind_hostile_ones_is_delivered(run: Run) -> None:
    for c in FOREVER:  # the relay kept trying these meanwhile
        assert len(run.network.calls_for(run.phones[c.name])) >= 2, c.name
    row = run.row(next(c for c in CASES if c.name == "behind-hostile"))
    assert row is not None and row["state"] == "delivered", (row or {}).get("last_error")


# -- what the operator reads ------------------------------------------------------------------


def test_the_log_holds_no_control_characters_from_the_network(run: Run) -> None:
    raw = sorted({f"U+{ord(ch):04X}" for ch in run.log if ch != "\n" and unicodedata.category(ch) in
                  ("Cc", "Cf", "Cs", "Zl", "Zp")})
    forged = [line for line in run.log.split("\n") if line.startswith(FORGED)]
    assert not raw and not forged, f"{run.role}: raw characters {raw}, forged lines {forged[:2]}"


def test_nothing_the_network_sends_makes_leadkit_fail_inside(run: Run) -> None:
    assert "Traceback" not in run.log, run.log[run.log.index("Traceback") - 300:][:3000]


def test_the_key_is_in_no_page_log_export_or_journal_file(run: Run) -> None:
    leaks = [text[max(0, text.find(KEY) - 150):text.find(KEY) + 50] for text in run.outputs if KEY in text]
    assert not leaks, f"{run.role}: the key leaked: {leaks[:3]}"
    assert KEY.encode() not in run.files, f"{run.role}: the key is stored in the journal file"


# -- the site's other pages -------------------------------------------------------------------


def test_eight_dripping_orders_do_not_stall_the_site(tmp_path: Path) -> None:
    """Eight orders whose answers drip for a minute and a half, at once: a page still answers."""
    with HostileNetwork(SandboxNetwork(keys=[KEY], role="wm", offers={217: [42]})) as network:
        config = write_config(tmp_path, network.url, "wm", timeout=2, lease=5)
        numbers = [phone(9000 + n) for n in range(8)]
        for _, digits in numbers:
            network.script(digits, "drip-body")
        with leadkit_process("serve", "--config", str(config), "--port", "0", env=ENV) as (base, _):
            with ThreadPoolExecutor(8) as pool:
                orders = [pool.submit(order, base, typed) for typed, _ in numbers]
                assert wait_for(lambda: network.busy("drip-body") >= 8, 30), network.calls
                page = Reply.of(requests.get(base, timeout=20))  # the drips last far longer than this
                assert page.status == 200 and 'name="phone"' in page.text
                replies = [f.result() for f in orders]
    assert all(not isinstance(r, str) and r.status == 303 for r in replies), [str(r)[:200] for r in replies]
