"""Status sync (:mod:`leadkit.sync`) over real loopback: leads delivered to the sandbox network, then asked
about with each role's status call as the clock moves.

The journal, the courier and the sync share a :class:`~support.FakeClock`: a check comes due when a test
moves it, never by waiting. The courier and the sync are made from the configuration as the server makes
them (:func:`leadkit.followup.make_courier`, :func:`~leadkit.followup.make_followup`), so a delivered lead
gets its first ``next_check``. A hostile network is a :class:`~standins.StandIn` answering what the test
orders on the status call's path.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from leadkit.config import CALLS, Config
from leadkit.followup import Followup, make_courier, make_followup
from leadkit.form import Order
from leadkit.journal import Entry, SQLiteJournal
from leadkit.lead import Lead
from leadkit.network import NetworkClient
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.relay import Courier
from leadkit.statuses import BATCH, STATUS_CALLS, check_delay
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.visitor import Visitor
from standins import StandIn
from support import KEY, ROLES_AND_DIALECTS, T0, FakeClock, make_config

INTERVAL = 60.0
DAY = 86400.0
IDS = [f"{role}-{dialect}" for role, dialect in ROLES_AND_DIALECTS]
#: The payout an approved lead gets where its role's status call reports one (the moe agency document has
#: no ``cash``; a supplier is not paid).
PAYOUT = {("wm", "dalead"): 700.0, ("wm", "moe"): 700.0, ("ext", "dalead"): 700.0}


@dataclass
class Rig:
    """What one test drives: the configuration, the journal on the test's clock, the courier and the
    follow-up parts made from the configuration, and the network client their calls go through."""

    config: Config
    journal: SQLiteJournal
    clock: FakeClock
    client: NetworkClient
    followup: Followup
    courier: Courier

    @property
    def role(self) -> str:
        return self.config.network.role

    def deliver(self, count: int = 1, *, first: int = 0, tags: dict[str, str] | None = None) -> list[Entry]:
        """``count`` leads, each with a phone of its own, written as the desk writes them and sent once."""
        delivered = []
        for number in range(first, first + count):
            lead = Lead(order=Order(name="Aigerim", phone=parse_phone(f"8700{1000000 + number}", ["KZ"])),
                        visitor=Visitor("203.0.113.7", "test-agent", False),
                        tags={"sub1": "aff-7"} if tags is None else tags, created=self.clock())
            stored, created = self.journal.add(
                Entry(id=lead.id, call=CALLS[self.role], payload=build_payload(lead, self.config),
                      created=self.clock(), tags=lead.tags), owner="web", lease=30, window=0)
            assert created and stored.lease_owner == "web"
            done = self.courier.attempt(stored, "web")
            assert done.state == "delivered", (done.state, done.last_error)
            delivered.append(done)
        return delivered

    def get(self, entry: Entry) -> Entry:
        got = self.journal.get(entry.id)
        assert got is not None
        return got

    def key(self, entry: Entry) -> str:
        """The id the role's status call names the lead by."""
        return entry.id if self.role == "ext" else str(entry.network_id)

    def sync(self) -> int:
        return self.followup.sync.run_due()


@pytest.fixture()
def rigs(journal: SQLiteJournal, clock: FakeClock) -> Iterator[Any]:
    """Makes a :class:`Rig` for a role and dialect: the leads go to ``api``, the status calls too, or to
    ``status_api`` when given (a hostile network), within ``status_timeout`` when given; closes what it made."""
    opened: list[Any] = []

    def make(role: str, dialect: str, api: str, *, status_api: str | None = None,
             status_timeout: float | None = None, **sections: Any) -> Rig:
        sections["sync"] = {"interval": INTERVAL, **sections.get("sync", {})}
        config = make_config(role, dialect, api=api, **sections)
        sender = NetworkClient(config.network)
        client = sender
        if status_api is not None or status_timeout is not None:
            asking = {**sections, "network": {"timeout": status_timeout or config.network.timeout}}
            client = NetworkClient(make_config(role, dialect, api=status_api or api, **asking).network)
        followup = make_followup(config, journal, client, clock=clock)
        opened.extend({id(c): c for c in (sender, client)}.values())
        opened.append(followup)
        courier = make_courier(config, journal, sender.send, followup, clock=clock)
        return Rig(config, journal, clock, client, followup, courier)

    yield make
    for each in opened:
        each.close()


def status_reads(network: SandboxNetwork, role: str) -> list[list[str]]:
    """The ids each of the role's status calls named, in order."""
    call, param = STATUS_CALLS[role]
    return [params[param].split(",") for name, params in network.reads if name == call]


# -- a lead's way: wait, hold, approve ------------------------------------------------------------


def code(role: str, status: int) -> int | None:
    """The status code recorded: ``wm/lead`` reports a stage, a phase and a reason, but no status."""
    return None if role == "wm" else status


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS, ids=IDS)
def test_a_lead_goes_wait_hold_approve(network: SandboxNetwork, rigs: Any, clock: FakeClock, role: str,
                                       dialect: str) -> None:
    network.reset(role=role, dialect=dialect)
    rig = rigs(role, dialect, network.url)
    [lead] = rig.deliver()
    assert (lead.stage, lead.next_check) == (None, T0 + INTERVAL), "first asked about an interval after delivery"
    network_id = int(lead.network_id or 0)

    assert rig.sync() == 0 and status_reads(network, role) == [], "not due yet"
    clock.advance(INTERVAL + 1)
    assert rig.sync() == 1
    assert status_reads(network, role) == [[rig.key(lead)]]
    waiting = rig.get(lead)
    assert (waiting.stage, waiting.status, waiting.reason) == ("wait", code(role, 1), 0)
    assert waiting.checked == clock() and waiting.next_check == clock() + INTERVAL

    network.set_status(network_id, "hold")
    assert rig.sync() == 0, "the next check is not due yet"
    clock.advance(INTERVAL)
    assert rig.sync() == 1
    held = rig.get(lead)
    assert (held.stage, held.status) == ("hold", code(role, 4))
    assert held.next_check == clock() + INTERVAL, "hold is not final: asked about again"

    network.set_status(network_id, "approve", cash=700)
    clock.advance(INTERVAL)
    assert rig.sync() == 1
    approved = rig.get(lead)
    assert (approved.stage, approved.status, approved.reason) == ("approve", code(role, 6), 0)
    assert approved.payout == PAYOUT.get((role, dialect))
    assert approved.next_check is None, "approve is final"

    asked = len(network.reads)
    clock.advance(30 * DAY)
    assert rig.sync() == 0 and len(network.reads) == asked, "a final stage is never asked about again"
    assert rig.get(lead) == approved


# -- batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS, ids=IDS)
def test_sixty_leads_are_asked_about_in_batches(network: SandboxNetwork, rigs: Any, clock: FakeClock, role: str,
                                                dialect: str) -> None:
    network.reset(role=role, dialect=dialect)
    rig = rigs(role, dialect, network.url)
    leads = rig.deliver(60)
    held = leads[::3]
    for lead in held:
        network.set_status(int(lead.network_id or 0), "hold")
    clock.advance(INTERVAL + 1)

    assert rig.sync() == 60
    calls = status_reads(network, role)
    most = {"wm": 20, "ext": 50, "comp": 50}[role]
    assert most == BATCH[role]
    assert all(0 < len(ids) <= most for ids in calls), [len(ids) for ids in calls]
    assert len(calls) == -(-60 // most), "as few calls as the batch allows"
    named = [key for ids in calls for key in ids]
    assert sorted(named) == sorted(rig.key(lead) for lead in leads), "each lead named exactly once"
    stages = {lead.id: rig.get(lead).stage for lead in leads}
    assert stages == {lead.id: "hold" if lead in held else "wait" for lead in leads}, "every lead updated"
    assert all(rig.get(lead).next_check == clock() + INTERVAL for lead in leads)
    assert rig.sync() == 0, "none is due again yet"


# -- when a lead is asked about ----------------------------------------------------------------


def test_a_young_lead_is_asked_every_interval_an_older_one_less_often(network: SandboxNetwork, rigs: Any,
                                                                    clock: FakeClock) -> None:
    network.reset(role="wm", dialect="dalead")
    rig = rigs("wm", "dalead", network.url, sync={"max_age": 2})
    [lead] = rig.deliver()
    for _ in range(3):  # young: every interval
        clock.advance(INTERVAL)
        assert rig.sync() == 1
        assert rig.get(lead).next_check == clock() + INTERVAL
    clock.advance(DAY - 3 * INTERVAL)  # a day old: a day's worth of hours times the interval
    assert rig.sync() == 1
    assert rig.get(lead).next_check == clock() + 24 * INTERVAL == clock() + check_delay(DAY, INTERVAL)
    clock.advance(12 * INTERVAL)
    assert rig.sync() == 0, "not again within the longer delay"
    clock.advance(12 * INTERVAL)
    assert rig.sync() == 1
    assert rig.get(lead).next_check == clock() + check_delay(clock() - lead.created, INTERVAL)
    assert len(status_reads(network, "wm")) == 5


def test_a_lead_past_max_age_is_never_asked_about_again(network: SandboxNetwork, rigs: Any,
                                                          clock: FakeClock) -> None:
    network.reset(role="ext", dialect="dalead")
    rig = rigs("ext", "dalead", network.url, sync={"max_age": 1})
    [lead] = rig.deliver()
    clock.advance(DAY - 10 * INTERVAL)  # checked just before it is a day old
    assert rig.sync() == 1
    checked = rig.get(lead)
    assert checked.stage == "wait" and checked.next_check is not None
    clock.advance(checked.next_check - clock())  # its next check is due once it is older than a day
    rig.sync()
    asked = len(network.reads)
    for _ in range(3):
        clock.advance(2 * DAY)
        assert rig.sync() == 0
    assert len(network.reads) == asked, "never asked about again"


def test_a_lead_older_than_max_age_is_not_asked_about(network: SandboxNetwork, rigs: Any,
                                                      clock: FakeClock) -> None:
    network.reset(role="wm", dialect="dalead")
    rig = rigs("wm", "dalead", network.url, sync={"max_age": 1})
    [lead] = rig.deliver()
    network.set_status(int(lead.network_id or 0), "approve")
    clock.advance(DAY + INTERVAL)  # no sync ran meanwhile (the server was down, cron stopped)
    rig.sync()
    assert status_reads(network, "wm") == [], "a lead older than sync.max_age days is not asked about"
    assert rig.get(lead).stage is None


# -- the network cannot be asked ------------------------------------------------------------------

FAILURES = [pytest.param("503", id="http-503"), pytest.param("garbage", id="html-with-200"),
            pytest.param("hang", id="hang"), pytest.param("drop", id="dropped-connection"),
            pytest.param("key", id="error-answer-key")]


@pytest.mark.parametrize("how", FAILURES)
@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS, ids=IDS)
def test_a_failed_status_call_postpones_the_leads_with_a_growing_backoff(
        network: SandboxNetwork, rigs: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, role: str,
        dialect: str, how: str) -> None:
    network.reset(role=role, dialect=dialect)
    # A short timeout for the status calls alone: a hang costs half a second, the leads go out as usual.
    rig = rigs(role, dialect, network.url, status_timeout=0.5 if how == "hang" else None)
    leads = rig.deliver(2)
    clock.advance(INTERVAL + 1)
    assert rig.sync() == 2
    for lead in leads:
        network.set_status(int(lead.network_id or 0), "hold")
    clock.advance(INTERVAL)

    bands = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0)]  # the backoff (base: the interval), jittered, doubling
    for low, high in bands:
        network.fail_next(1, how, **({"retry_after": 2} if how == "hang" else {}))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="leadkit.sync"):
            assert rig.sync() == 2
        after = [rig.get(lead) for lead in leads]
        assert [e.stage for e in after] == ["wait", "wait"], "nothing is recorded from a failed call"
        assert {e.next_check for e in after} == {after[0].next_check}, "the batch is postponed together"
        delay = (after[0].next_check or 0) - clock()
        assert low * INTERVAL <= delay <= high * INTERVAL, (how, delay)
        [warning] = [r.getMessage() for r in caplog.records if r.name == "leadkit.sync"]
        assert STATUS_CALLS[role][0] in warning and "failed" in warning and "asking again" in warning
        assert KEY not in warning and KEY[2:] not in warning
        if how == "key":
            assert "check network.key" in warning
        if how == "hang":  # leadkit gave up at its timeout, before the sandbox's late 504
            assert "504" not in warning
        assert rig.sync() == 0, "postponed: not asked again before the backoff ends"
        clock.advance(delay)

    assert rig.sync() == 2, "the call after the backoff goes through"
    assert [rig.get(lead).stage for lead in leads] == ["hold", "hold"]
    assert all(rig.get(lead).next_check == clock() + INTERVAL for lead in leads), "back on the schedule"
    network.fail_next(1, how, **({"retry_after": 2} if how == "hang" else {}))
    clock.advance(INTERVAL)
    rig.sync()
    delay = (rig.get(leads[0]).next_check or 0) - clock()
    assert 0.5 * INTERVAL <= delay <= INTERVAL, "a success starts the backoff over"


# -- a hostile network's valid JSON ---------------------------------------------------------------


def _item(key: str, **fields: Any) -> dict[str, Any]:
    return {"id": key, **fields}


def _nested(depth: int) -> Any:
    value: Any = {"stage": "approve"}
    for _ in range(depth):
        value = {"x": [value]}
    return value


#: Each answer (made from the keys of the two leads asked about, ``a`` and ``b``, and of one not asked
#: about, ``other``), and what each of ``a`` and ``b`` gets: a stage (None: unchanged), and whether the
#: call counts as failed (the whole answer unreadable: both postponed).
HOSTILE = [
    pytest.param(lambda a, b, other: [_item(a, stage="hold")] + [_item(str(900000 + i), stage="approve", cash=5)
                                                                 for i in range(9_999)],
                 ("hold", None), False, id="ten-thousand-items"),
    pytest.param(lambda a, b, other: [_item(other, stage="approve", cash=9), _item("999999", stage="trash"),
                                      _item("not-ours-at-all", stage="approve")],
                 (None, None), False, id="items-for-ids-never-asked-about"),
    pytest.param(lambda a, b, other: {other: {"stage": "approve"}, a: {"stage": "hold"}},
                 ("hold", None), False, id="keyed-with-an-id-not-asked-about"),
    pytest.param(lambda a, b, other: [_item(a, stage="approved"), _item(b, stage="APPROVE-ish")],
                 ("approve", None), False, id="stage-approved"),
    pytest.param(lambda a, b, other: [_item(a, stage="hold", status="4", reason="0", cash="350.50"),
                                      _item(b, stage="hold", status="four", cash="lots")],
                 ("hold", "hold"), False, id="numbers-as-strings"),
    pytest.param(lambda a, b, other: [None, _item(a, stage=None, status=None, reason=None, cash=None),
                                      {"id": None, "stage": "approve"}, _item(b, stage="hold", cash=None)],
                 (None, "hold"), False, id="nulls"),
    pytest.param(lambda a, b, other: [{"id": {"id": a}, "stage": ["approve"]}, _item(a, stage={"x": "hold"}),
                                      [[[_item(b, stage="approve")]]], _nested(50), "approve", 7,
                                      _item(b, stage="hold", status=[1], reason={"r": 2}, cash={"c": 3})],
                 (None, "hold"), False, id="nested-garbage"),
    pytest.param(lambda a, b, other: "[" * 100_000 + "]" * 100_000, (None, None), True, id="nested-too-deep"),
    pytest.param(lambda a, b, other: [_item(a, stage="approve", pad="x" * (1024 * 1024))],
                 (None, None), True, id="a-body-over-a-megabyte"),
    pytest.param(lambda a, b, other: "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>",
                 (None, None), True, id="an-html-page"),
    pytest.param(lambda a, b, other: 42, (None, None), True, id="a-json-number"),
    pytest.param(lambda a, b, other: {"status": "ok", "leads": [_item(other, stage="approve")]},
                 (None, None), False, id="wrapped-listing-naming-another-lead"),
]


@pytest.mark.parametrize(("answer", "stages", "failed"), HOSTILE)
@pytest.mark.parametrize("role", ["wm", "ext", "comp"])
def test_a_hostile_answer_records_only_what_it_readably_says_of_the_leads_asked_about(
        network: SandboxNetwork, rigs: Any, clock: FakeClock, role: str, answer: Any, stages: tuple[Any, ...],
        failed: bool) -> None:
    network.reset(role=role, dialect="dalead")
    with StandIn() as stand_in:
        rig = rigs(role, "dalead", network.url, status_api=stand_in.url + "/api")
        a, b = rig.deliver(2)
        clock.advance(INTERVAL / 2)
        [other] = rig.deliver(1, first=2)  # delivered later: not due when the others are
        before = {entry.id: entry for entry in rig.journal.entries()}
        body = answer(rig.key(a), rig.key(b), rig.key(other))
        stand_in.answer(200, body if not isinstance(body, str) else body.encode(),
                        headers={"Content-Type": "text/html" if isinstance(body, str) and body.startswith("<")
                                 else "application/json"})
        clock.advance(INTERVAL / 2 + 1)

        assert rig.sync() == 2  # never an exception out of run_due
        [request] = stand_in.received
        call, param = STATUS_CALLS[role]
        assert request.path == f"/api/{call}.json"
        assert sorted(request.query[param][0].split(",")) == sorted([rig.key(a), rig.key(b)])

    after = {entry.id: entry for entry in rig.journal.entries()}
    assert sorted(after) == sorted(before), "no lead is added"
    assert after[other.id] == before[other.id], "nothing is recorded for a lead not asked about"
    for entry, stage in zip((a, b), stages):
        got = after[entry.id]
        assert got.stage == stage, (entry.id, got.stage)
        assert got.state == "delivered" and got.network_id == entry.network_id
        if failed:
            assert got.checked is None and got.next_check is not None and got.next_check <= clock() + INTERVAL
        else:
            assert got.checked == clock(), "asked about and answered"
            assert got.next_check == (None if stage == "approve" else clock() + INTERVAL)
    if stages == ("hold", "hold"):  # numbers as strings
        got_a, got_b = after[a.id], after[b.id]
        assert (got_a.status, got_a.reason) == (4, 0)
        assert got_a.payout == (350.5 if role != "comp" else None)
        assert (got_b.status, got_b.payout) == (None, None), "what could not be read is left out"


def test_an_answer_naming_a_lead_twice_and_with_its_network_id_as_an_ext_key(network: SandboxNetwork, rigs: Any,
                                                                           clock: FakeClock) -> None:
    network.reset(role="ext", dialect="dalead")
    with StandIn() as stand_in:
        rig = rigs("ext", "dalead", network.url, status_api=stand_in.url + "/api")
        [lead] = rig.deliver()
        # An agency's leads are named by leadkit's id: the network's id names no lead of ours.
        stand_in.answer(200, {str(lead.network_id): {"stage": "approve", "cash": 5},
                              lead.id: {"stage": "hold", "cash": 1}})
        clock.advance(INTERVAL + 1)
        assert rig.sync() == 1
    got = rig.get(lead)
    assert (got.stage, got.payout, got.next_check) == ("hold", 1.0, clock() + INTERVAL)


# -- the messages a change of stage causes --------------------------------------------------------


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS, ids=IDS)
def test_each_change_of_stage_writes_one_message_per_event(network: SandboxNetwork, rigs: Any, clock: FakeClock,
                                                           role: str, dialect: str) -> None:
    network.reset(role=role, dialect=dialect)
    with StandIn() as stand_in:
        postback = {"url": stand_in.url + "/postback?subid={subid}&sub1={sub1}&status={status}&payout={payout}",
                    "events": ["lead", "hold", "approve", "cancel", "trash"],
                    "status": {"approve": "sale"}}
        rig = rigs(role, dialect, network.url, postback=[postback])
        [lead] = rig.deliver(tags={"subid": "click-1", "sub1": "aff-7"})

        def events() -> list[str]:
            return [message.event for message in rig.journal.messages()]

        assert events() == ["lead"]
        clock.advance(INTERVAL + 1)
        assert rig.sync() == 1 and rig.get(lead).stage == "wait"
        assert events() == ["lead"], "no message for wait"

        network.set_status(int(lead.network_id or 0), "hold")
        clock.advance(INTERVAL)
        assert rig.sync() == 1
        assert events() == ["lead", "hold"]
        for _ in range(2):  # no change: nothing more
            clock.advance(INTERVAL)
            assert rig.sync() == 1 and rig.get(lead).stage == "hold"
            assert events() == ["lead", "hold"]

        network.set_status(int(lead.network_id or 0), "approve", cash=700)
        clock.advance(INTERVAL)
        assert rig.sync() == 1
        assert events() == ["lead", "hold", "approve"]
        clock.advance(INTERVAL)
        assert rig.sync() == 0 and events() == ["lead", "hold", "approve"], "a final stage is not asked about"

        messages = {message.event: message for message in rig.journal.messages()}
        assert {m.target for m in messages.values()} == {"postback:0"}
        assert all(m.lead_id == lead.id for m in messages.values())
        sale = messages["approve"].url
        assert sale.startswith(stand_in.url + "/postback?subid=click-1&sub1=aff-7&status=sale&payout=")
        payout = PAYOUT.get((role, dialect))
        assert sale.endswith("&payout=" + (f"{payout:g}" if payout is not None else ""))
        assert "&status=hold&" in messages["hold"].url

        assert rig.followup.dispatcher.run_due() == 3
        received = stand_in.wait_for(3)
    assert sorted(r.query["status"][0] for r in received) == ["hold", "lead", "sale"]
    assert all(m.state == "sent" for m in rig.journal.messages())
    assert json.dumps([r.query for r in received]).count("click-1") == 3


@pytest.mark.parametrize("answer", [
    pytest.param({"status": "error", "error": f"key {KEY}"}, id="in-the-error-code"),
    pytest.param({"status": "error", "error_text": f"bad key {KEY.upper()}"}, id="upper-case-in-error-text"),
])
def test_an_error_answer_echoing_the_key_is_logged_without_it(network: SandboxNetwork, rigs: Any, clock: FakeClock,
                                                              caplog: pytest.LogCaptureFixture,
                                                              answer: dict[str, str]) -> None:
    network.reset(role="comp", dialect="dalead")
    with StandIn() as stand_in:
        rig = rigs("comp", "dalead", network.url, status_api=stand_in.url + "/api")
        [lead] = rig.deliver()
        stand_in.answer(200, answer)
        clock.advance(INTERVAL + 1)
        with caplog.at_level(logging.WARNING, logger="leadkit.sync"):
            assert rig.sync() == 1
    [warning] = [r.getMessage() for r in caplog.records if r.name == "leadkit.sync"]
    assert "comp/list" in warning and "***" in warning
    assert KEY.lower() not in warning.lower()
    got = rig.get(lead)
    assert got.stage is None and got.next_check is not None and got.next_check > clock()
