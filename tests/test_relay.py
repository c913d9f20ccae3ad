"""Delivering journalled leads: the backoff, what an answer comes to, one attempt against the sandbox, the loop.

The journal and the couriers share a :class:`~support.FakeClock`: leases run out and retries come due when a test
moves it, and a test that waits for the relay thread waits for the state it needs, not for time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Sequence

import pytest

from leadkit.config import CALLS, Config
from leadkit.journal import Entry, Outcome, SQLiteJournal
from leadkit.journal_outbox import Message
from leadkit.lead import Lead
from leadkit.answer import Answer
from leadkit.network import NetworkClient
from leadkit.form import Order
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.relay import Courier, Relay, RetryPolicy, is_uncertain, outcome_for
from leadkit.testing.sandbox import SandboxNetwork
from leadkit.visitor import Visitor
from support import T0, FakeClock, make_config, wait_for

NOW = T0


# -- the backoff --------------------------------------------------------------------

# base 5 s, doubled per attempt, capped at 900 s (15 min)
BACKOFF = [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900, 900, 900]


@pytest.mark.parametrize("attempts", range(13))
@pytest.mark.parametrize(("rand", "share"), [pytest.param(0.0, 0.5, id="least-jitter"),
                                            pytest.param(1.0, 1.0, id="most-jitter")])
def test_delay_is_jittered_capped_exponential(attempts: int, rand: float, share: float) -> None:
    policy = RetryPolicy(base=5, cap=900)
    delay = policy.delay(attempts, rand=lambda: rand)
    assert delay == pytest.approx(share * BACKOFF[attempts])
    assert 0.5 * min(900, 5 * 2 ** attempts) <= delay <= min(900, 5 * 2 ** attempts) <= policy.cap


def test_delay_with_real_randomness_stays_in_its_band() -> None:
    policy = RetryPolicy(base=5, cap=900)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(20 <= d <= 40 for d in delays)
    assert len(set(delays)) > 1, "jitter spreads the retries"


@pytest.mark.parametrize("attempts", [31, 64, 1100, 10 ** 6])
def test_huge_attempt_counts_do_not_overflow(attempts: int) -> None:
    policy = RetryPolicy()  # float seconds: 5.0 * 2**1100 would not fit a float
    assert policy.cap / 2 <= policy.delay(attempts) <= policy.cap


@pytest.mark.parametrize(("attempts", "retry_after", "expected"), [
    pytest.param(0, 60.0, 60.0, id="longer-than-backoff-wins"),
    pytest.param(20, 1200.0, 1200.0, id="may-exceed-the-cap"),
    pytest.param(5, 1.0, 160.0, id="shorter-than-backoff-loses"),
    pytest.param(0, 0.0, 5.0, id="zero-is-no-hint"),
    pytest.param(0, None, 5.0, id="none"),
])
def test_retry_after(attempts: int, retry_after: float | None, expected: float) -> None:
    assert RetryPolicy(base=5, cap=900).delay(attempts, retry_after, rand=lambda: 1.0) == expected


def test_an_absurd_retry_after_is_still_bounded() -> None:
    policy = RetryPolicy(base=5, cap=100)
    assert policy.cap < policy.delay(0, retry_after=1e12, rand=lambda: 0.0) <= 4 * policy.cap


# -- uncertainty ---------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "uncertain"), [
    pytest.param(Answer("retryable", error="timeout"), True, id="timeout"),
    pytest.param(Answer("retryable", error="transport"), True, id="transport"),
    pytest.param(Answer("retryable", error="not-json"), True, id="not-json"),
    pytest.param(Answer("retryable", error="encoding"), True, id="false-gzip"),
    pytest.param(Answer("retryable", error="internal"), True, id="a-send-that-raised"),
    pytest.param(Answer("retryable", error="http-500"), True, id="http-500"),
    pytest.param(Answer("retryable", error="http-502"), True, id="http-502"),
    pytest.param(Answer("retryable", error="http-504"), True, id="http-504"),
    pytest.param(Answer("retryable", error="http-503"), False, id="http-503"),
    pytest.param(Answer("retryable", error="http-429", retry_after=1), False, id="http-429"),
    pytest.param(Answer("retryable", error="db"), False, id="db"),
    pytest.param(Answer("retryable", error="request-error"), False, id="request-error"),
    pytest.param(Answer("delivered", network_id="1001"), False, id="delivered"),
    pytest.param(Answer("rejected", error="ban"), False, id="rejected"),
    pytest.param(Answer("rejected", error="http-500"), False, id="rejected-even-with-a-5xx-code"),
])
def test_is_uncertain(answer: Answer, uncertain: bool) -> None:
    assert is_uncertain(answer) is uncertain


# -- what an answer comes to (pure) -------------------------------------------------------


def entry(attempts: int = 0, uncertain: bool = False) -> Entry:
    return Entry(id="1", call="ext/add", payload={"phone": "77001234567"}, attempts=attempts, uncertain=uncertain)


def fields(outcome: Outcome) -> tuple[Any, ...]:
    return (outcome.state, outcome.network_id, outcome.redirect, outcome.error_code, outcome.error_message,
            outcome.next_attempt, outcome.uncertain)


URL = "https://cab.example/cabinet/1001?t=abc"
BAN = Answer("rejected", error="ban", message="This phone is blacklisted.", detail="the network refused: ban")
DUPLICATE = Answer("rejected", error="duplicate", detail="the network refused the lead: error 'duplicate'")


@pytest.mark.parametrize(("answer", "before", "expected"), [
    pytest.param(Answer("delivered", network_id="1001", url=URL), entry(),
                 ("delivered", "1001", URL, None, None, None, False), id="delivered"),
    pytest.param(Answer("delivered", network_id="1001", uid="77-5"), entry(attempts=3, uncertain=True),
                 ("delivered", "1001", None, None, None, None, False), id="delivered-on-a-retry"),
    pytest.param(Answer("delivered", uid="77-5"), entry(),
                 ("delivered", "77-5", None, None, None, None, False), id="delivered-with-only-the-agency-uid"),
    pytest.param(BAN, entry(), ("rejected", None, None, "ban", "This phone is blacklisted.", None, False),
                 id="ban"),
    pytest.param(Answer("rejected", error="key"), entry(attempts=2, uncertain=True),
                 ("rejected", None, None, "key", None, None, False), id="bad-key"),
    pytest.param(DUPLICATE, entry(attempts=1, uncertain=True),
                 ("delivered", None, None, None, None, None, False), id="duplicate-after-an-uncertain-attempt"),
    pytest.param(DUPLICATE, entry(), ("rejected", None, None, "duplicate", None, None, False),
                 id="duplicate-on-the-first-attempt"),
    pytest.param(replace(DUPLICATE, resent=True), entry(), ("delivered", None, None, None, None, None, False),
                 id="duplicate-when-this-attempt-went-twice-on-the-wire"),
    pytest.param(DUPLICATE, entry(attempts=2), ("rejected", None, None, "duplicate", None, None, False),
                 id="duplicate-after-attempts-that-surely-failed"),
])
def test_settled_outcomes(answer: Answer, before: Entry, expected: tuple[Any, ...]) -> None:
    outcome = outcome_for(answer, before, RetryPolicy(), now=NOW)
    assert fields(outcome) == expected
    if outcome.state == "rejected":
        assert outcome.error == answer.detail, "the operator's log line is kept"


@pytest.mark.parametrize(("answer", "attempts", "low", "high", "uncertain"), [
    pytest.param(Answer("retryable", error="http-502"), 0, 5, 10, True, id="502-first"),
    pytest.param(Answer("retryable", error="timeout"), 1, 10, 20, True, id="timeout-second"),
    pytest.param(Answer("retryable", error="db"), 2, 20, 40, False, id="db-third"),
    pytest.param(Answer("retryable", error="http-503"), 10, 50, 100, False, id="503-capped"),
    pytest.param(Answer("retryable", error="http-429", retry_after=300), 0, 300, 300, False,
                 id="429-retry-after-honoured"),
    pytest.param(Answer("retryable", error="http-503", retry_after=1), 3, 40, 80, False,
                 id="short-retry-after-keeps-the-backoff"),
])
def test_retryable_outcomes(answer: Answer, attempts: int, low: float, high: float, uncertain: bool) -> None:
    before = entry(attempts=attempts)
    outcome = outcome_for(answer, before, RetryPolicy(base=10, cap=100), now=NOW)
    assert outcome.state == "pending"
    assert outcome.next_attempt is not None and NOW + low <= outcome.next_attempt <= NOW + high
    assert outcome.uncertain is uncertain
    assert (outcome.network_id, outcome.error_code) == (None, None)


def test_a_refusal_keeps_the_fields_the_network_missed() -> None:
    before = Entry(id="1", call="wm/push", payload={})
    outcome = outcome_for(Answer("rejected", error="data", bad=("ip", "phone")), before, RetryPolicy(), NOW)
    assert (outcome.state, outcome.error_code, outcome.bad) == ("rejected", "data", ("ip", "phone"))


def test_outcome_for_defaults_now_to_the_clock() -> None:
    before = time.time()
    outcome = outcome_for(Answer("retryable", error="db"), entry(), RetryPolicy(base=10, cap=100))
    assert outcome.next_attempt is not None and before + 5 <= outcome.next_attempt <= time.time() + 10


# -- one attempt, against the sandbox ---------------------------------------------------------


def make_lead(phone: str = "87001234567") -> Lead:
    order = Order(name="Aigerim", phone=parse_phone(phone, ["KZ"]))
    return Lead(order=order, visitor=Visitor("203.0.113.7", "test-agent", False), tags={"sub1": "x"})


def write(journal: SQLiteJournal, config: Config, phone: str = "87001234567", *, owner: str = "web",
          lease: float = 30) -> Entry:
    """A lead as the middleware writes it: claimed by ``owner`` for its first attempt, created now."""
    lead = make_lead(phone)
    stored, created = journal.add(Entry(id=lead.id, call=CALLS[config.network.role],
                                        payload=build_payload(lead, config), created=journal.clock()),
                                  owner=owner, lease=lease, window=0)
    assert created
    return stored


def write_failed(journal: SQLiteJournal, config: Config, phone: str, *, next_attempt: float) -> Entry:
    """A lead whose first attempt failed: pending, nobody holds it, next try at ``next_attempt``."""
    stored = write(journal, config, phone, owner="web")
    assert journal.record(stored.id, Outcome("pending", error="db", next_attempt=next_attempt), owner="web")
    return journal.get(stored.id)  # type: ignore[return-value]


def make_courier(journal: SQLiteJournal, config: Config, send: Callable[[Mapping[str, Any]], Answer] | None = None,
                 lease: float = 30) -> Courier:
    return Courier(journal, send or NetworkClient(config.network).send, RetryPolicy(), lease=lease,
                   clock=journal.clock)


def first_attempt(journal: SQLiteJournal, config: Config, phone: str = "87001234567") -> Entry:
    stored = write(journal, config, phone)
    assert stored.lease_owner is not None
    return make_courier(journal, config).attempt(stored, stored.lease_owner)


@pytest.mark.parametrize(("role", "dialect"), [(r, d) for r in ("wm", "ext", "comp") for d in ("dalead", "moe")])
def test_a_lead_is_delivered_and_the_network_id_stored(network: SandboxNetwork, journal: SQLiteJournal,
                                                       role: str, dialect: str) -> None:
    config = make_config(role, dialect, api=network.url)
    network.reset(role=role, dialect=dialect)
    done = first_attempt(journal, config)
    [accepted] = network.accepted()
    assert (done.state, done.attempts, done.lease_owner) == ("delivered", 1, None)
    assert done.network_id == str(accepted.lead_id)
    assert done.redirect == accepted.answer.get("url")  # the moe dialect's answers carry none
    assert journal.get(done.id) == done, "what attempt() returns is what the journal holds"


def test_a_502_is_kept_uncertain_and_a_forced_retry_delivers(network: SandboxNetwork,
                                                           journal: SQLiteJournal) -> None:
    config = make_config("wm", "dalead", api=network.url)
    network.fail_next(1, "502")
    failed = first_attempt(journal, config)
    assert (failed.state, failed.attempts, failed.uncertain, failed.lease_owner) == ("pending", 1, True, None)
    assert failed.next_attempt is not None and T0 + 2.5 <= failed.next_attempt <= T0 + 5
    assert failed.last_error and "502" in failed.last_error
    courier = make_courier(journal, config)
    assert courier.retry(failed.id) is None, "not due yet"
    assert courier.run_due() == 0
    assert len(network.leads) == 1
    done = courier.retry(failed.id, force=True)
    assert done is not None and (done.state, done.attempts, done.uncertain) == ("delivered", 2, True)
    assert len(network.accepted()) == 1 and done.network_id == str(network.accepted()[0].lead_id)


@pytest.mark.parametrize("role", ["ext", "wm", "comp"])
def test_a_dropped_answer_then_duplicate_counts_as_delivered_once(network: SandboxNetwork, journal: SQLiteJournal,
                                                                 role: str) -> None:
    config = make_config(role, "dalead", api=network.url)
    network.reset(role=role, dialect="dalead")
    network.fail_next(1, "drop")
    failed = first_attempt(journal, config)
    assert (failed.state, failed.attempts, failed.uncertain) == ("pending", 1, True)
    assert len(network.accepted()) == 1, "the lead arrived although the answer did not"
    done = make_courier(journal, config).retry(failed.id, force=True)
    assert network.leads[-1].answer == {"status": "error", "error": "duplicate"}
    assert done is not None and (done.state, done.attempts) == ("delivered", 2)
    assert done.error_code is None
    assert len(network.accepted()) == 1, "exactly one lead at the network"


def test_a_lead_taken_over_from_a_dead_sender_counts_a_duplicate_as_delivered(network: SandboxNetwork,
                                                                            journal: SQLiteJournal,
                                                                            clock: FakeClock) -> None:
    config = make_config("ext", "dalead", api=network.url)
    network.reset(role="ext", dialect="dalead")
    stored = write(journal, config, owner="worker-killed-mid-call", lease=30)
    # The worker's attempt reached the network; the worker died before it could record the answer.
    assert NetworkClient(config.network).send(stored.payload).delivered
    courier = make_courier(journal, config)
    assert courier.run_due() == 0, "the dead worker's lease still holds"
    clock.advance(31)  # its lease runs out; the relay takes the lead over
    assert courier.run_due() == 1
    assert network.leads[-1].answer["error"] == "duplicate"
    assert len(network.accepted()) == 1
    got = journal.get(stored.id)
    assert got is not None and got.state == "delivered", (got.state if got else None, got and got.error_code)


def test_an_attempt_that_outlived_its_lease_leaves_the_new_holder_s_outcome(
        journal: SQLiteJournal, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("comp", "dalead")
    stored = write(journal, config, owner="slow-worker", lease=30)
    relay = Courier(journal, lambda payload: Answer("delivered", network_id="2002", detail="accepted as network id 2002"),
                    RetryPolicy(), lease=30, clock=clock)

    def slow_send(payload: Mapping[str, Any]) -> Answer:
        clock.advance(31)  # the network is slow to answer; the worker's lease runs out meanwhile
        assert relay.run_due() == 1, "the relay takes the lead over and delivers it"
        return Answer("retryable", error="timeout", detail="no answer from the network within 30 s")

    with caplog.at_level(logging.INFO, logger="leadkit.relay"):
        got = Courier(journal, slow_send, RetryPolicy(), lease=30, clock=clock).attempt(stored, "slow-worker")
    assert (got.state, got.network_id, got.attempts, got.lease_owner) == ("delivered", "2002", 1, None), \
        "the relay's outcome stands: the late answer is not recorded over it"
    assert journal.get(stored.id) == got
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert stored.id in warning and "lease ran out" in warning and "no answer from the network" in warning
    assert not any("kept in the journal" in r.getMessage() for r in caplog.records), \
        "the late attempt does not claim to have scheduled a retry"


def test_each_lead_is_claimed_just_before_its_attempt(journal: SQLiteJournal, clock: FakeClock) -> None:
    """Five due leads and a network that takes the whole timeout each time: a batch claimed up front
    would see the later leads' leases run out mid-pass (and another sender send them again)."""
    config = make_config("comp", "dalead")
    ids = [write_failed(journal, config, f"8700123456{i}", next_attempt=clock()).id for i in range(5)]
    timeout, lease = 10.0, 25.0  # the lease is more than twice the timeout, as the configuration demands
    held_during_send: list[bool] = []

    def slow_send(payload: Mapping[str, Any]) -> Answer:
        sending = next(e for e in journal.entries(state="pending") if e.lease_owner is not None)
        held_during_send.append(sending.lease_until is not None and sending.lease_until > clock.advance(timeout))
        return Answer("delivered", network_id="1", detail="accepted")

    courier = Courier(journal, slow_send, RetryPolicy(), lease=lease, clock=clock)
    assert courier.run_due(limit=10) == 5
    assert held_during_send == [True] * 5, "every attempt ended inside its own lease"
    assert [journal.get(i).state for i in ids] == ["delivered"] * 5  # type: ignore[union-attr]


def test_run_due_stops_between_leads_when_asked(journal: SQLiteJournal, clock: FakeClock) -> None:
    config = make_config("comp", "dalead")
    for i in range(3):
        write_failed(journal, config, f"8700123456{i}", next_attempt=clock())
    stop = threading.Event()

    def send_then_stop(payload: Mapping[str, Any]) -> Answer:
        stop.set()  # the relay is asked to stop during the first attempt
        return Answer("delivered", network_id="1")

    assert Courier(journal, send_then_stop, RetryPolicy(), lease=30, clock=clock).run_due(stop=stop) == 1
    assert journal.stats()["counts"]["pending"] == 2


def test_a_send_that_raises_leaves_the_lead_pending(journal: SQLiteJournal, clock: FakeClock,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("comp", "dalead")
    stored = write(journal, config, owner="web")

    def broken_send(payload: Mapping[str, Any]) -> Answer:
        raise RuntimeError("a bug in a send of someone else's")

    with caplog.at_level(logging.ERROR, logger="leadkit.relay"):
        got = Courier(journal, broken_send, RetryPolicy(), lease=30, clock=clock).attempt(stored, "web")
    assert (got.state, got.lease_owner, got.last_error) == ("pending", None, "the send failed: RuntimeError")
    assert any("send failed inside leadkit" in r.getMessage() for r in caplog.records)


class _UnwritableJournal:
    """Delegates to a real journal but cannot record outcomes (a full disk, say)."""

    def __init__(self, journal: SQLiteJournal) -> None:
        self._journal = journal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
        from leadkit.errors import JournalError

        raise JournalError(str(self._journal.path), "disk full")


def test_a_delivered_lead_stays_delivered_when_the_journal_cannot_record_it(
        journal: SQLiteJournal, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("comp", "dalead")
    stored = write(journal, config, owner="web")
    answer = Answer("delivered", network_id="77", url="https://cab.example/a", detail="accepted")
    courier = Courier(_UnwritableJournal(journal), lambda payload: answer, RetryPolicy(), lease=30,  # type: ignore[arg-type]
                      clock=clock)
    with caplog.at_level(logging.ERROR, logger="leadkit.relay"):
        got = courier.attempt(stored, "web")
    assert (got.state, got.network_id, got.redirect) == ("delivered", "77", "https://cab.example/a")
    assert journal.get(stored.id).state == "pending"  # type: ignore[union-attr]  # the lease runs out, a retry follows
    assert any("could not be recorded" in r.getMessage() and "disk full" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("answer", "counter", "says"), [
    pytest.param(Answer("rejected", error="key", detail="the network refused the lead: error 'key'"),
                 "site_problem_key", "network.key", id="bad-key"),
    pytest.param(Answer("rejected", error="noid", detail="the network refused the lead: error 'noid'"),
                 "site_problem_noid", "network.dialect", id="wrong-dialect"),
    pytest.param(Answer("rejected", error="http-404", detail="the API host answered HTTP 404"),
                 "site_problem_http-404", "network.api", id="html-404"),
    pytest.param(Answer("rejected", error="gremlins", detail="the network refused the lead: error 'gremlins'"),
                 "site_problem_gremlins", "does not know", id="unknown-code"),
])
def test_site_problems_alert_the_operator_and_are_counted(journal: SQLiteJournal, clock: FakeClock,
                                                         caplog: pytest.LogCaptureFixture, answer: Answer,
                                                         counter: str, says: str) -> None:
    stored = write(journal, make_config("comp", "dalead"), owner="web")
    with caplog.at_level(logging.INFO, logger="leadkit.relay"):
        got = Courier(journal, lambda payload: answer, RetryPolicy(), lease=30, clock=clock).attempt(stored, "web")
    assert (got.state, got.error_code) == ("rejected", answer.error)
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "site's setup" in error and says in error
    assert journal.stats()["counters"] == {counter: 1}


def test_the_customers_own_refusal_is_no_site_problem(journal: SQLiteJournal, clock: FakeClock,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    stored = write(journal, make_config("comp", "dalead"), owner="web")
    answer = Answer("rejected", error="ban", detail="the network refused the lead: error 'ban'")
    with caplog.at_level(logging.INFO, logger="leadkit.relay"):
        Courier(journal, lambda payload: answer, RetryPolicy(), lease=30, clock=clock).attempt(stored, "web")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR] and journal.stats()["counters"] == {}


def test_a_final_error_is_never_sent_again(network: SandboxNetwork, journal: SQLiteJournal) -> None:
    config = make_config("comp", "moe", api=network.url)
    network.fail_next(1, "ban", message="Blacklisted.")
    refused = first_attempt(journal, config)
    assert (refused.state, refused.error_code, refused.error_message) == ("rejected", "ban", "Blacklisted.")
    assert refused.attempts == 1 and refused.next_attempt is None and refused.lease_owner is None
    courier = make_courier(journal, config)
    assert courier.run_due() == 0
    assert courier.retry(refused.id, force=True) is None
    assert len(network.leads) == 1 and network.accepted() == []


def test_a_network_side_db_failure_is_retried(network: SandboxNetwork, journal: SQLiteJournal) -> None:
    config = make_config("ext", "moe", api=network.url)
    network.reset(role="ext", dialect="moe")
    network.fail_next(1, "db")
    failed = first_attempt(journal, config)
    assert (failed.state, failed.attempts, failed.uncertain, failed.error_code) == ("pending", 1, False, None)
    assert failed.last_error and "'db'" in failed.last_error
    done = make_courier(journal, config).retry(failed.id, force=True)
    assert done is not None and done.state == "delivered" and done.network_id
    assert len(network.accepted()) == 1


def test_run_due_sends_only_due_leads(network: SandboxNetwork, journal: SQLiteJournal) -> None:
    config = make_config("wm", "dalead", api=network.url)
    due = [write_failed(journal, config, f"870012345{n:02d}", next_attempt=T0 - 10 + n) for n in range(3)]
    later = write_failed(journal, config, "87001234599", next_attempt=T0 + 3600)
    held = write(journal, config, "87001234598", owner="busy-worker", lease=600)
    courier = make_courier(journal, config)
    assert courier.run_due(limit=2) == 2
    assert courier.run_due(limit=2) == 1
    assert courier.run_due(limit=2) == 0
    assert sorted(lead.fields["phone"] for lead in network.leads) == ["77001234500", "77001234501", "77001234502"]
    assert all(journal.get(e.id).state == "delivered" for e in due)  # type: ignore[union-attr]
    assert journal.get(later.id).state == "pending"  # type: ignore[union-attr]
    assert journal.get(held.id).lease_owner == "busy-worker"  # type: ignore[union-attr]


# -- the relay ---------------------------------------------------------------------------------


def relay_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "leadkit-relay" and t.is_alive()}


def state_of(journal: SQLiteJournal, lead_id: str) -> str | None:
    got = journal.get(lead_id)
    return got.state if got else None


@pytest.fixture()
def relays() -> Iterator[list[Relay]]:
    """Relays a test starts; all stopped afterwards, whatever happened."""
    started: list[Relay] = []
    yield started
    for relay in started:
        relay.stop()


def test_the_relay_delivers_due_leads_in_the_background(network: SandboxNetwork, journal: SQLiteJournal,
                                                       relays: list[Relay]) -> None:
    config = make_config("comp", "dalead", api=network.url)
    network.reset(role="comp", dialect="dalead")
    waiting = write_failed(journal, config, "87001234501", next_attempt=T0)
    relay = Relay(make_courier(journal, config), poll=0.05, max_age=3600)
    relays.append(relay)
    relay.ensure_running()
    assert wait_for(lambda: state_of(journal, waiting.id) == "delivered")
    failed_later = write_failed(journal, config, "87001234502", next_attempt=T0)
    assert wait_for(lambda: state_of(journal, failed_later.id) == "delivered"), "it keeps polling"
    assert len(network.accepted()) == 2


def test_ensure_running_starts_one_thread_and_stop_ends_it(journal: SQLiteJournal, relays: list[Relay]) -> None:
    config = make_config("comp", "dalead")
    relay = Relay(make_courier(journal, config), poll=3600, max_age=3600)
    relays.append(relay)
    before = relay_threads()
    relay.ensure_running()
    relay.ensure_running()
    [thread] = relay_threads() - before
    relay.stop()
    assert not thread.is_alive(), "stop wakes the loop from its hour-long poll instead of waiting it out"
    relay.ensure_running()
    [again] = relay_threads() - before
    assert again is not thread, "a stopped relay can start again"


def test_the_relay_survives_a_failing_pass(network: SandboxNetwork, journal: SQLiteJournal, clock: FakeClock,
                                           relays: list[Relay], caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("comp", "dalead", api=network.url)
    network.reset(role="comp", dialect="dalead")
    failures = [RuntimeError("the journal is locked")]

    class FlakyJournal(_UnwritableJournal):
        def record(self, lead_id: str, outcome: Outcome, *, owner: str, messages: Sequence[Message] = ()) -> bool:
            return self._journal.record(lead_id, outcome, owner=owner, messages=messages)

        def expire(self, max_age: float, now: float | None = None) -> list[str]:
            if failures:
                raise failures.pop()
            return self._journal.expire(max_age, now)

    waiting = write_failed(journal, config, "87001234501", next_attempt=T0)
    relay = Relay(make_courier(FlakyJournal(journal), config, lease=30), poll=0.05, max_age=3600)  # type: ignore[arg-type]
    relays.append(relay)
    with caplog.at_level(logging.ERROR, logger="leadkit.relay"):
        relay.ensure_running()
        assert wait_for(lambda: state_of(journal, waiting.id) == "delivered")
    assert any("relay's pass failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert len(network.accepted()) == 1


def test_a_send_that_raises_is_retried_after_its_backoff(network: SandboxNetwork, journal: SQLiteJournal,
                                                       clock: FakeClock, relays: list[Relay]) -> None:
    config = make_config("comp", "dalead", api=network.url)
    network.reset(role="comp", dialect="dalead")
    client = NetworkClient(config.network)
    calls: list[str] = []

    def flaky_send(payload: Mapping[str, Any]) -> Answer:
        calls.append(payload["phone"])
        if len(calls) == 1:
            raise RuntimeError("a bug in one attempt")
        return client.send(payload)

    waiting = write_failed(journal, config, "87001234501", next_attempt=T0)
    relay = Relay(make_courier(journal, config, flaky_send, lease=30), poll=0.05, max_age=3600)
    relays.append(relay)
    relay.ensure_running()
    assert wait_for(lambda: (journal.get(waiting.id).attempts == 2))  # type: ignore[union-attr]
    assert state_of(journal, waiting.id) == "pending" and len(calls) == 1, "not due again before its backoff"
    clock.advance(10)  # the first retry comes after 2.5 to 5 s
    assert wait_for(lambda: state_of(journal, waiting.id) == "delivered")
    assert len(calls) == 2 and len(network.accepted()) == 1


def test_expired_leads_are_logged_as_dead_without_the_phone(journal: SQLiteJournal, clock: FakeClock,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    config = make_config("wm", "dalead")
    old = write(journal, config, "87001234567", owner="web")
    assert journal.record(old.id, Outcome("pending", error="the network answered HTTP 502",
                                          next_attempt=T0 + 3600 * 24, uncertain=True), owner="web")
    relay = Relay(make_courier(journal, config), poll=0.05, max_age=3600)
    clock.advance(3600)
    assert relay.run_once() == 0 and state_of(journal, old.id) == "pending", "an hour old is not too old yet"
    clock.advance(1)
    with caplog.at_level(logging.INFO, logger="leadkit.relay"):
        assert relay.run_once() == 0
    assert state_of(journal, old.id) == "dead"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert old.id in errors[0] and "dead" in errors[0] and "HTTP 502" in errors[0]
    for record in caplog.records:
        assert "77001234567" not in record.getMessage() and "7001234567" not in record.getMessage()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _CountedRelay(Relay):
    """A relay that says when it has finished a pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passed = threading.Event()

    def run_once(self) -> int:
        attempted = super().run_once()
        self.passed.set()
        return attempted


def _relay_in_child(relay: Relay, journal: SQLiteJournal, clock: FakeClock, lead: Entry, out: Any) -> None:
    try:
        collect = _Collect()
        logger = logging.getLogger("leadkit.relay")
        logger.addHandler(collect)
        logger.setLevel(logging.INFO)
        inherited = len(relay_threads())
        relay.poll = 0.05  # the parent's relay sleeps for an hour: only the child's can deliver
        relay.ensure_running()
        started = len(relay_threads())
        journal.add(lead, owner="child-web", lease=0, window=0)
        clock.advance(1)  # the web worker's lease ran out: the lead is the relay's

        def by_child() -> list[str]:
            return [r.getMessage() for r in list(collect.records) if r.process == os.getpid()
                    and r.threadName == "leadkit-relay" and "delivered" in r.getMessage()]

        logged = wait_for(by_child, 20)  # logged after the journal recorded it
        delivered = state_of(journal, lead.id) == "delivered"
        relay.stop()
        out.put({"inherited": inherited, "started": started, "delivered": delivered and logged,
                 "by_child": by_child(), "error": None})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put({"error": repr(exc)})


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_worker_starts_its_own_relay(network: SandboxNetwork, journal: SQLiteJournal, clock: FakeClock,
                                              relays: list[Relay]) -> None:
    config = make_config("comp", "dalead", api=network.url)
    network.reset(role="comp", dialect="dalead")
    relay = _CountedRelay(make_courier(journal, config), poll=3600, max_age=3600)
    relays.append(relay)
    before = relay_threads()  # other tests' relays may still be running in this process
    relay.ensure_running()  # as under gunicorn --preload: started in the master, before the fork
    assert relay.passed.wait(20), "the master's relay made its first pass"  # now it waits out the poll
    [master] = relay_threads() - before
    lead = make_lead("87001234555")
    entry = Entry(id=lead.id, call="comp/add", payload=build_payload(lead, config), created=journal.clock())
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_relay_in_child, args=(relay, journal, clock, entry, out))
    child.start()
    report = out.get(timeout=60)
    child.join(10)
    assert report["error"] is None, report["error"]
    assert (report["inherited"], report["started"]) == (0, 1), "threads do not survive a fork: a new one started"
    assert report["delivered"] and report["by_child"], report
    assert [received.fields["phone"] for received in network.accepted()] == ["77001234555"]
    assert master.is_alive() and relay_threads() - before == {master}, "the master's relay is untouched"
