"""The journal's part in the status loop and the outbox (:mod:`leadkit.journal_status`,
:mod:`leadkit.journal_outbox`): claiming the delivered leads that are due a check, recording what the
network said with the messages it causes, postponing, the thank-you page's once, the outbox's leases
and states, an old journal file opened by this leadkit, and two servers sharing one file or database.

On both journals (``any_journal``: SQLite, and PostgreSQL where it runs), but for the old file's opening.
Time passes on a :class:`~support.FakeClock` the tests move: no test waits for a lease to run out.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from leadkit.journal import _ADDED_COLUMNS, Entry, Journal, Outcome, SQLiteJournal
from leadkit.journal_outbox import MESSAGE_STATES, Message
from leadkit.journal_status import StatusUpdate
from journals import Journals
from support import T0, FakeClock

CALL = "wm/push"
PAYLOAD = {"offer": 217, "phone": "77001234567", "name": "Aigerim"}


def deliver(journal: Journal, lead_id: str, *, next_check: float | None = T0, call: str = CALL,
            network_id: str | None = None, messages: tuple[Message, ...] = (), **fields: Any) -> Entry:
    """A lead written now by the journal's clock and delivered at once, first checked at ``next_check``."""
    fields.setdefault("created", journal.clock())
    _, created = journal.add(Entry(id=lead_id, call=call, payload=PAYLOAD, **fields), owner="courier", lease=60,
                             window=0)
    assert created
    outcome = Outcome("delivered", network_id=network_id or f"n{lead_id}", next_check=next_check)
    assert journal.record(lead_id, outcome, owner="courier", messages=messages)
    got = journal.get(lead_id)
    assert got is not None and got.state == "delivered"
    return got


def message(lead_id: str, target: str = "postback:1", event: str = "lead", **fields: Any) -> Message:
    return Message(lead_id, target, event, "GET", f"https://tracker.example/pb?lead={lead_id}&event={event}",
                   **fields)


def written(journal: Journal, **filters: Any) -> list[tuple[str, str, str, str]]:
    """The outbox's messages as (lead, target, event, state), in the order they were written."""
    return [(m.lead_id, m.target, m.event, m.state) for m in journal.messages(**filters)]


def ids(entries: list[Entry]) -> list[str]:
    return [e.id for e in entries]


def stored(journal: Journal, lead_id: str) -> Entry:
    got = journal.get(lead_id)
    assert got is not None
    return got


# -- claim_checks ----------------------------------------------------------------------------

def test_claim_checks_takes_the_due_delivered_leads_of_the_call_longest_due_first(any_journal: Journal,
                                                                                  clock: FakeClock) -> None:
    deliver(any_journal, "due-later", next_check=T0 + 10)
    deliver(any_journal, "due-first", next_check=T0 - 50)
    deliver(any_journal, "due-now", next_check=T0 + 20)
    deliver(any_journal, "not-yet", next_check=T0 + 1000)
    deliver(any_journal, "never", next_check=None)
    deliver(any_journal, "other-call", next_check=T0 - 100, call="ext/add")
    any_journal.add(Entry(id="pending", call=CALL, payload=PAYLOAD, created=T0), owner="a", lease=60, window=0)
    assert any_journal.record("pending", Outcome("pending", error="db", next_attempt=T0, next_check=T0 - 100),
                              owner="a")
    any_journal.add(Entry(id="rejected", call=CALL, payload=PAYLOAD, created=T0), owner="a", lease=60, window=0)
    assert any_journal.record("rejected", Outcome("rejected", error_code="ban", next_check=T0 - 100), owner="a")
    clock.advance(20)

    claimed = any_journal.claim_checks(call=CALL, lease=300, limit=10)

    assert ids(claimed) == ["due-first", "due-later", "due-now"], "only delivered leads, of this call, that are due"
    assert all(e.next_check == T0 + 20 + 300 for e in claimed), "a claim moves the check a lease ahead"
    assert stored(any_journal, "not-yet").next_check == T0 + 1000
    assert stored(any_journal, "never").next_check is None
    assert ids(any_journal.claim_checks(call="ext/add", lease=300, limit=10)) == ["other-call"]


def test_claim_checks_takes_at_most_limit(any_journal: Journal, clock: FakeClock) -> None:
    for n in range(5):
        deliver(any_journal, f"lead-{n}", next_check=T0 - n)
    assert ids(any_journal.claim_checks(call=CALL, lease=60, limit=2)) == ["lead-4", "lead-3"]
    assert ids(any_journal.claim_checks(call=CALL, lease=60, limit=2)) == ["lead-2", "lead-1"]
    assert ids(any_journal.claim_checks(call=CALL, lease=60, limit=2)) == ["lead-0"]
    assert any_journal.claim_checks(call=CALL, lease=60, limit=2) == []


def test_a_claimed_lead_is_claimed_again_only_once_its_lease_passed(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1")
    assert ids(any_journal.claim_checks(call=CALL, lease=300, limit=10)) == ["1"]
    assert any_journal.claim_checks(call=CALL, lease=300, limit=10) == [], "held by the first claim"
    clock.advance(299)
    assert any_journal.claim_checks(call=CALL, lease=300, limit=10) == [], "a second before the lease ends"
    clock.advance(1)
    assert ids(any_journal.claim_checks(call=CALL, lease=300, limit=10)) == ["1"], "a process that died mid-call"


def test_claim_checks_reads_now_when_given(any_journal: Journal) -> None:
    deliver(any_journal, "1", next_check=T0 + 500)
    assert any_journal.claim_checks(call=CALL, lease=60, limit=10) == []
    [claimed] = any_journal.claim_checks(call=CALL, lease=60, limit=10, now=T0 + 500)
    assert claimed.next_check == T0 + 560


# -- record(...) of a delivered lead: its messages in the same transaction ---------------------

def test_a_delivered_lead_is_recorded_with_its_next_check_and_its_messages(any_journal: Journal,
                                                                           clock: FakeClock) -> None:
    any_journal.add(Entry(id="1", call=CALL, payload=PAYLOAD, created=T0), owner="courier", lease=60, window=0)
    clock.advance(3)
    sent = (message("1", "postback:1"), message("1", "facebook", headers={"Content-Type": "application/json"},
                                                body='{"event_name":"Lead"}'))
    assert any_journal.record("1", Outcome("delivered", network_id="555", next_check=T0 + 63), owner="courier",
                          messages=sent)
    got = stored(any_journal, "1")
    assert (got.state, got.network_id, got.next_check, got.stage) == ("delivered", "555", T0 + 63, None)
    outbox = list(any_journal.messages(lead_id="1"))
    assert [(m.target, m.event, m.method, m.url, m.body, dict(m.headers)) for m in outbox] == [
        (s.target, s.event, s.method, s.url, s.body, dict(s.headers)) for s in sent]
    assert all((m.state, m.attempts, m.created, m.updated, m.next_attempt) == ("pending", 0, T0 + 3, T0 + 3, T0 + 3)
               for m in outbox), "written by the record, due at once"
    assert outbox[0].id < outbox[1].id


def test_a_record_that_lost_its_lease_writes_no_message(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.add(Entry(id="1", call=CALL, payload=PAYLOAD, created=T0), owner="slow", lease=60, window=0)
    clock.advance(61)
    assert any_journal.claim("1", owner="fast", lease=60) is not None
    assert not any_journal.record("1", Outcome("delivered", network_id="555", next_check=T0 + 200), owner="slow",
                              messages=[message("1")])
    assert list(any_journal.messages()) == []
    assert any_journal.outbox_counts() == {"pending": 0, "sent": 0, "failed": 0}
    got = stored(any_journal, "1")
    assert (got.state, got.lease_owner, got.next_check) == ("pending", "fast", None)


def test_a_record_of_a_stranger_writes_no_message(any_journal: Journal) -> None:
    any_journal.add(Entry(id="1", call=CALL, payload=PAYLOAD, created=T0), owner="a", lease=60, window=0)
    assert not any_journal.record("1", Outcome("delivered", next_check=T0), owner="b", messages=[message("1")])
    assert not any_journal.record("unknown", Outcome("delivered", next_check=T0), owner="a", messages=[message("1")])
    assert list(any_journal.messages()) == []


# -- record_statuses ---------------------------------------------------------------------------

def test_record_statuses_stores_what_the_network_said(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1")
    clock.advance(30)
    any_journal.record_statuses([StatusUpdate("1", "hold", status=4, reason=None, payout=10.5, next_check=T0 + 120)])
    got = stored(any_journal, "1")
    assert (got.stage, got.status, got.reason, got.payout) == ("hold", 4, None, 10.5)
    assert (got.checked, got.updated, got.next_check) == (T0 + 30, T0 + 30, T0 + 120)
    assert got.state == "delivered", "a status is not a delivery state"

    clock.advance(90)
    any_journal.record_statuses([StatusUpdate("1", None, next_check=T0 + 500)])
    got = stored(any_journal, "1")
    assert (got.stage, got.status, got.reason, got.payout) == ("hold", 4, None, 10.5), "None keeps the old value"
    assert (got.checked, got.next_check) == (T0 + 120, T0 + 500)

    clock.advance(380)
    any_journal.record_statuses([StatusUpdate("1", "approve", status=8, reason=0, payout=None, next_check=None)])
    got = stored(any_journal, "1")
    assert (got.stage, got.status, got.reason, got.payout, got.next_check) == ("approve", 8, 0, 10.5, None)
    assert any_journal.claim_checks(call=CALL, lease=60, limit=10, now=T0 + 10 ** 9) == [], \
        "a final stage: no more checks"


def test_record_statuses_updates_each_lead_of_a_batch(any_journal: Journal) -> None:
    for lead_id in ("a", "b", "c"):
        deliver(any_journal, lead_id)
    any_journal.record_statuses([StatusUpdate("a", "approve", payout=700.0), StatusUpdate("b", "trash", reason=1),
                             StatusUpdate("unknown", "hold", next_check=T0)])
    assert [(e.id, e.stage, e.reason, e.payout) for e in any_journal.entries()] == [
        ("a", "approve", None, 700.0), ("b", "trash", 1, None), ("c", None, None, None)]
    assert any_journal.get("unknown") is None, "a status for a lead the journal has not got writes no lead"


def test_record_statuses_writes_its_messages_in_the_same_call(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1", messages=(message("1", event="lead"),))
    clock.advance(60)
    any_journal.record_statuses([StatusUpdate("1", "approve", next_check=None)],
                            [message("1", "postback:1", "approve"), message("1", "facebook", "approve")])
    assert written(any_journal) == [("1", "postback:1", "lead", "pending"), ("1", "postback:1", "approve", "pending"),
                                ("1", "facebook", "approve", "pending")]
    assert [m.created for m in any_journal.messages(lead_id="1")] == [T0, T0 + 60, T0 + 60]


def test_record_statuses_is_one_transaction(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1")
    clock.advance(60)
    unwritable = message("1", "facebook", "approve", headers={"X-Bad": object()})
    with pytest.raises(TypeError):
        any_journal.record_statuses([StatusUpdate("1", "approve", next_check=None)],
                                [message("1", "postback:1", "approve"), unwritable])
    got = stored(any_journal, "1")
    assert (got.stage, got.next_check, got.checked) == (None, T0, None), "the status is not kept without its messages"
    assert list(any_journal.messages()) == [], "nor the messages before the one that failed"
    any_journal.record_statuses([StatusUpdate("1", "approve", next_check=None)],
                                [message("1", "postback:1", "approve")])
    assert stored(any_journal, "1").stage == "approve"
    assert written(any_journal) == [("1", "postback:1", "approve", "pending")]


def test_the_same_lead_target_and_event_is_written_once(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1", messages=(message("1", "postback:1", "lead"),))
    assert any_journal.enqueue([message("1", "postback:1", "lead"), message("1", "postback:2", "lead")]) == 1
    first_url = next(any_journal.messages()).url
    changed = Message("1", "postback:1", "lead", "POST", "https://elsewhere.example/")
    assert any_journal.enqueue([changed, message("1", "postback:1", "approve"),
                                message("2", "postback:1", "lead")]) == 2
    assert any_journal.enqueue([]) == 0
    any_journal.record_statuses([StatusUpdate("1", "approve")], [message("1", "postback:1", "approve")])
    assert written(any_journal) == [("1", "postback:1", "lead", "pending"), ("1", "postback:2", "lead", "pending"),
                                ("1", "postback:1", "approve", "pending"), ("2", "postback:1", "lead", "pending")]
    assert next(any_journal.messages()).url == first_url, "the first one written is kept as it was"


def test_a_message_sent_is_not_written_again(any_journal: Journal) -> None:
    assert any_journal.enqueue([message("1")]) == 1
    [claimed] = any_journal.claim_messages(owner="a", lease=60, limit=10)
    assert any_journal.record_message(claimed.id, owner="a", state="sent", answer="HTTP 200")
    assert any_journal.enqueue([message("1")]) == 0
    assert written(any_journal) == [("1", "postback:1", "lead", "sent")]


# -- postpone_checks, thank ----------------------------------------------------------------

def test_postpone_checks(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "a")
    deliver(any_journal, "b")
    deliver(any_journal, "c")
    any_journal.record_statuses([StatusUpdate("a", "hold", status=4, next_check=T0)])
    clock.advance(5)
    any_journal.postpone_checks(["a", "b"], T0 + 100)
    assert (stored(any_journal, "a").stage, stored(any_journal, "a").status, stored(any_journal, "a").next_check) == (
        "hold", 4, T0 + 100), "the status is unchanged"
    assert ids(any_journal.claim_checks(call=CALL, lease=60, limit=10)) == ["c"]
    any_journal.postpone_checks(["b"], None)
    any_journal.postpone_checks(["unknown"], T0)
    assert stored(any_journal, "b").next_check is None
    clock.advance(1000)
    assert ids(any_journal.claim_checks(call=CALL, lease=60, limit=10)) == ["c", "a"], "b is never asked about again"
    any_journal.postpone_checks([], T0)


def test_the_thank_you_page_fires_once(any_journal: Journal, clock: FakeClock) -> None:
    deliver(any_journal, "1")
    assert stored(any_journal, "1").thanked is None
    clock.advance(7)
    assert any_journal.thank("1") is True
    clock.advance(7)
    assert any_journal.thank("1") is False
    assert any_journal.thank("1") is False
    assert stored(any_journal, "1").thanked == T0 + 7, "when it first fired"
    assert any_journal.thank("unknown") is False


# -- entries(stage=...), stats()["stages"] ----------------------------------------------------------

def test_entries_of_one_stage(any_journal: Journal, clock: FakeClock) -> None:
    for lead_id in ("a", "b", "c", "d"):
        deliver(any_journal, lead_id)
        clock.advance(1)
    any_journal.record_statuses([StatusUpdate("a", "approve"), StatusUpdate("b", "hold"), StatusUpdate("d", "approve")])
    assert ids(list(any_journal.entries(stage="approve"))) == ["a", "d"]
    assert ids(list(any_journal.entries(stage="hold"))) == ["b"]
    assert ids(list(any_journal.entries(stage="trash"))) == []
    assert ids(list(any_journal.entries(stage="approve", since=T0 + 1))) == ["d"]
    assert ids(list(any_journal.entries(stage="approve", limit=1))) == ["a"]
    assert ids(list(any_journal.entries())) == ["a", "b", "c", "d"], "no stage: every lead"


def test_stats_count_the_delivered_leads_by_stage(any_journal: Journal) -> None:
    assert any_journal.stats()["stages"] == {}
    for lead_id in ("a", "b", "c", "d", "e"):
        deliver(any_journal, lead_id, landing="sk" if lead_id == "e" else "")
    any_journal.add(Entry(id="p", call=CALL, payload=PAYLOAD, created=T0), owner="a", lease=60, window=0)
    any_journal.add(Entry(id="r", call=CALL, payload=PAYLOAD, created=T0), owner="a", lease=60, window=0)
    assert any_journal.record("r", Outcome("rejected", error_code="ban"), owner="a")
    any_journal.record_statuses([StatusUpdate("a", "approve"), StatusUpdate("b", "approve"), StatusUpdate("c", "trash"),
                             StatusUpdate("p", "approve"), StatusUpdate("r", "hold")])
    stats = any_journal.stats()
    assert stats["stages"] == {"approve": 2, "trash": 1, "unknown": 2}, "delivered leads only; unknown: no answer yet"
    assert stats["counts"]["delivered"] == sum(stats["stages"].values())


# -- the outbox ---------------------------------------------------------------------------------

def test_claim_messages_leases_them(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("1"), message("2")])
    clock.advance(1)
    any_journal.enqueue([message("3")])
    claimed = any_journal.claim_messages(owner="a", lease=60, limit=10)
    assert [(m.lead_id, m.lease_owner, m.lease_until) for m in claimed] == [
        ("1", "a", T0 + 61), ("2", "a", T0 + 61), ("3", "a", T0 + 61)], "oldest first"
    assert any_journal.claim_messages(owner="b", lease=60, limit=10) == [], "not claimed twice within the lease"
    clock.advance(60)
    assert any_journal.claim_messages(owner="b", lease=60, limit=10) == [], "the lease's last second is still its"
    clock.advance(1)
    assert [(m.lead_id, m.lease_owner) for m in any_journal.claim_messages(owner="b", lease=60, limit=2)] == [
        ("1", "b"), ("2", "b")], "claimed again once the lease passed, at most limit"


def test_claim_messages_waits_for_next_attempt(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("1")])
    assert any_journal.claim_messages(owner="a", lease=60, limit=10, now=T0 - 1) == [], "not due before it was written"
    assert [m.lead_id for m in any_journal.claim_messages(owner="a", lease=60, limit=10, now=T0)] == ["1"]


def test_only_the_lease_owner_records_a_message(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("1")])
    [claimed] = any_journal.claim_messages(owner="a", lease=60, limit=10)
    assert not any_journal.record_message(claimed.id, owner="b", state="sent")
    assert not any_journal.record_message(claimed.id + 1000, owner="a", state="sent")
    clock.advance(5)
    assert any_journal.record_message(claimed.id, owner="a", state="sent", answer="HTTP 204")
    [sent] = any_journal.messages()
    assert (sent.state, sent.attempts, sent.answer, sent.updated, sent.lease_owner, sent.lease_until) == (
        "sent", 1, "HTTP 204", T0 + 5, None, None)
    assert not any_journal.record_message(claimed.id, owner="a", state="failed"), "a message sent stays sent"
    assert any_journal.claim_messages(owner="c", lease=60, limit=10, now=T0 + 10 ** 9) == [], \
        "sent is never claimed again"
    assert next(any_journal.messages()).state == "sent"


def test_a_sender_whose_lease_passed_and_was_taken_cannot_record(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("1")])
    [slow] = any_journal.claim_messages(owner="slow", lease=60, limit=10)
    clock.advance(61)
    [fast] = any_journal.claim_messages(owner="fast", lease=60, limit=10)
    assert fast.id == slow.id
    assert not any_journal.record_message(slow.id, owner="slow", state="sent")
    assert any_journal.record_message(fast.id, owner="fast", state="sent")
    assert next(any_journal.messages()).attempts == 1


def test_a_message_tried_again_is_pending_until_its_next_attempt(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("1")])
    [claimed] = any_journal.claim_messages(owner="a", lease=60, limit=10)
    assert any_journal.record_message(claimed.id, owner="a", state="pending", error="HTTP 503", answer="HTTP 503",
                                  next_attempt=T0 + 100)
    again = next(any_journal.messages())
    assert (again.state, again.attempts, again.last_error, again.next_attempt, again.lease_owner) == (
        "pending", 1, "HTTP 503", T0 + 100, None)
    clock.advance(99)
    assert any_journal.claim_messages(owner="b", lease=60, limit=10) == []
    clock.advance(1)
    [retried] = any_journal.claim_messages(owner="b", lease=60, limit=10)
    assert retried.id == claimed.id
    assert any_journal.record_message(retried.id, owner="b", state="failed", error="HTTP 400")
    failed = next(any_journal.messages())
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 2, "HTTP 400")
    assert any_journal.claim_messages(owner="c", lease=60, limit=10, now=T0 + 10 ** 9) == [], "failed is final"


def test_expire_messages_fails_old_pending_ones(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("old"), message("tried"), message("held"), message("sent")])
    claimed = {m.lead_id: m for m in any_journal.claim_messages(owner="a", lease=60, limit=10)}
    assert any_journal.record_message(claimed["tried"].id, owner="a", state="pending", error="HTTP 502",
                                  next_attempt=T0 + 500)
    assert any_journal.record_message(claimed["sent"].id, owner="a", state="sent")
    assert any_journal.record_message(claimed["old"].id, owner="a", state="pending", next_attempt=T0 + 500)
    clock.advance(50)
    any_journal.enqueue([message("young")])
    [held] = any_journal.claim_messages(owner="b", lease=200, limit=1, now=T0 + 200)
    assert held.lead_id == "held"
    clock.advance(51)

    expired = any_journal.expire_messages(100)

    assert sorted(m.lead_id for m in expired) == ["old", "tried"], "pending, older than max_age, not held"
    states = {m.lead_id: (m.state, m.next_attempt, m.last_error) for m in any_journal.messages()}
    assert states == {"old": ("failed", None, "never sent"), "tried": ("failed", None, "HTTP 502"),
                      "held": ("pending", T0, None), "sent": ("sent", None, None),
                      "young": ("pending", T0 + 50, None)}
    assert {m.lead_id: (m.state, m.next_attempt, m.last_error, m.updated) for m in expired} == {
        "old": ("failed", None, "never sent", T0 + 101), "tried": ("failed", None, "HTTP 502", T0 + 101)}, \
        "the messages returned as they now are"
    assert any_journal.expire_messages(100) == [], "nothing fails twice"
    assert [m.lead_id for m in any_journal.expire_messages(100, now=T0 + 401)] == ["held", "young"], \
        "a held message fails once its lease ran out"


def test_messages_by_lead_and_state_and_the_counts(any_journal: Journal) -> None:
    assert any_journal.outbox_counts() == {state: 0 for state in MESSAGE_STATES}
    any_journal.enqueue([message("1", "postback:1"), message("1", "facebook"), message("2", "postback:1"),
                     message("2", "tiktok")])
    first = any_journal.claim_messages(owner="a", lease=60, limit=2)
    assert any_journal.record_message(first[0].id, owner="a", state="sent")
    assert any_journal.record_message(first[1].id, owner="a", state="failed", error="HTTP 400")
    assert written(any_journal, lead_id="1") == [("1", "postback:1", "lead", "sent"),
                                                 ("1", "facebook", "lead", "failed")]
    assert written(any_journal, state="pending") == [("2", "postback:1", "lead", "pending"), ("2", "tiktok", "lead",
                                                                                          "pending")]
    assert written(any_journal, lead_id="2", state="sent") == []
    assert written(any_journal, lead_id="unknown") == []
    assert written(any_journal, limit=1) == [("1", "postback:1", "lead", "sent")]
    assert len(written(any_journal)) == 4
    counts = any_journal.outbox_counts()
    assert counts == {"pending": 2, "sent": 1, "failed": 1} and list(counts) == list(MESSAGE_STATES)


def test_a_message_keeps_its_request_but_no_customer_text_breaks_it(any_journal: Journal) -> None:
    nasty = Message("1\x00", "postback:1", "lead", "POST", "https://t.example/?a=\udcff",
                    body='{"name":"Ann\\n\u2713"}', headers={"Content-Type": "application/json", "X-Note": "a\nb"})
    assert any_journal.enqueue([nasty]) == 1
    [kept] = any_journal.messages()
    assert (kept.lead_id, kept.url, kept.body) == ("1 ", "https://t.example/?a=\ufffd", '{"name":"Ann\\n\u2713"}')
    assert dict(kept.headers) == {"Content-Type": "application/json", "X-Note": "a\nb"}


# -- a journal file from before the status loop ---------------------------------------------------

#: The journal's schema before the status loop (landings, no tags, clicks, stages or outbox), with a
#: delivered and a rejected lead.
BEFORE_THE_LOOP = """
CREATE TABLE leads (id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL, state TEXT NOT NULL,
    call TEXT NOT NULL, payload TEXT NOT NULL, fingerprint TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL, last_error TEXT, network_id TEXT, redirect TEXT, error_code TEXT, error_message TEXT,
    uncertain INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until REAL, bad TEXT NOT NULL DEFAULT '[]',
    landing TEXT NOT NULL DEFAULT '');
CREATE INDEX leads_due ON leads (state, next_attempt);
CREATE INDEX leads_landing ON leads (landing, state, created);
CREATE TABLE hits (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO leads (id, created, updated, state, call, payload, attempts, network_id)
    VALUES ('old-delivered', 1699990000, 1699990000, 'delivered', 'wm/push', '{"phone": "77001234567"}', 1, '555');
INSERT INTO leads (id, created, updated, state, call, payload, attempts, error_code)
    VALUES ('old-rejected', 1699990000, 1699990000, 'rejected', 'wm/push', '{"phone": "77011234567"}', 1, 'ban');
"""


def test_a_journal_from_before_the_loop_gets_its_columns_and_outbox_and_keeps_its_leads(tmp_path: Path,
                                                                                     clock: FakeClock) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(BEFORE_THE_LOOP)
    old.close()

    journal = SQLiteJournal(path, clock=clock)
    try:
        db = journal._connection()
        columns = [row[1] for row in db.execute("PRAGMA table_info(leads)")]
        assert columns[columns.index("bad"):] == list(_ADDED_COLUMNS)
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").fetchone()
        indexes = {row[1] for row in db.execute("PRAGMA index_list(leads)")}
        assert {"leads_counts", "leads_next_check"} <= indexes and "leads_landing" not in indexes

        kept = stored(journal, "old-delivered")
        assert (kept.state, kept.network_id, kept.stage, kept.next_check, kept.thanked) == (
            "delivered", "555", None, None, None)
        assert (kept.tags, kept.clicks) == ({}, {})
        assert stored(journal, "old-rejected").error_code == "ban"
        assert journal.stats()["stages"] == {"unknown": 1}
        assert journal.claim_checks(call=CALL, lease=60, limit=10) == [], "an old lead has no check planned"
        assert journal.outbox_counts() == {"pending": 0, "sent": 0, "failed": 0}

        journal.postpone_checks(["old-delivered"], T0)
        assert ids(journal.claim_checks(call=CALL, lease=60, limit=10)) == ["old-delivered"]
        journal.record_statuses([StatusUpdate("old-delivered", "approve", payout=7.0)],
                                [message("old-delivered", event="approve")])
        assert journal.thank("old-delivered")
    finally:
        journal.close()

    again = SQLiteJournal(path, clock=clock)  # opening it once more changes nothing
    try:
        assert [row[1] for row in again._connection().execute("PRAGMA table_info(leads)")] == columns
        got = stored(again, "old-delivered")
        assert (got.stage, got.payout, got.thanked) == ("approve", 7.0, T0)
        assert written(again) == [("old-delivered", "postback:1", "approve", "pending")]
        assert not again.thank("old-delivered")
    finally:
        again.close()


# -- two servers on one file ----------------------------------------------------------------------

@pytest.fixture()
def servers(journals: Journals, clock: FakeClock) -> tuple[Journal, Journal]:
    """Two journals on one file or database, as two servers sharing it would have."""
    return journals.open(clock), journals.open(clock)


def test_a_message_claimed_by_one_server_is_not_claimed_by_the_other(
        servers: tuple[Journal, Journal], clock: FakeClock) -> None:
    one, two = servers
    assert one.enqueue([message("1")]) == 1
    assert two.enqueue([message("1")]) == 0, "the other server sees it written"
    [claimed] = one.claim_messages(owner="one", lease=60, limit=10)
    assert two.claim_messages(owner="two", lease=60, limit=10) == []
    assert not two.record_message(claimed.id, owner="two", state="sent")
    assert one.record_message(claimed.id, owner="one", state="sent")
    assert written(two) == [("1", "postback:1", "lead", "sent")]
    clock.advance(10 ** 6)
    assert two.claim_messages(owner="two", lease=60, limit=10) == []


def test_a_status_recorded_by_one_server_is_seen_by_the_other(servers: tuple[Journal, Journal],
                                                               clock: FakeClock) -> None:
    one, two = servers
    deliver(one, "1")
    assert ids(two.claim_checks(call=CALL, lease=300, limit=10)) == ["1"]
    assert one.claim_checks(call=CALL, lease=300, limit=10) == [], "claimed by the other server"
    two.record_statuses([StatusUpdate("1", "approve", status=8, payout=700.0, next_check=None)],
                        [message("1", event="approve")])
    got = stored(one, "1")
    assert (got.stage, got.status, got.payout, got.next_check) == ("approve", 8, 700.0, None)
    assert written(one) == [("1", "postback:1", "approve", "pending")]
    assert one.stats()["stages"] == {"approve": 1}
    assert one.thank("1") and not two.thank("1")


def race(servers: tuple[Journal, Journal], claim: Callable[[Journal, str], list[Any]],
         rounds: int) -> dict[str, list[Any]]:
    """Each server claims, one thread each, started together, ``rounds`` times; what each claimed."""
    start = threading.Barrier(len(servers))
    claimed: dict[str, list[Any]] = {}

    def run(journal: Journal, owner: str) -> None:
        start.wait()
        got = claimed.setdefault(owner, [])
        for _ in range(rounds):
            got.extend(claim(journal, owner))

    threads = [threading.Thread(target=run, args=(journal, f"server-{n}")) for n, journal in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def test_two_servers_racing_never_claim_one_message_twice(servers: tuple[Journal, Journal]) -> None:
    one, _ = servers
    one.enqueue([message(str(n)) for n in range(60)])
    claimed = race(servers, lambda journal, owner: journal.claim_messages(owner=owner, lease=600, limit=3), 20)
    every = [m.id for got in claimed.values() for m in got]
    assert sorted(every) == sorted(m.id for m in one.messages()), "each message claimed exactly once"
    assert all(m.lease_owner == owner for owner, got in claimed.items() for m in got)


def test_two_servers_racing_never_check_one_lead_twice(servers: tuple[Journal, Journal]) -> None:
    one, _ = servers
    for n in range(60):
        deliver(one, str(n))
    claimed = race(servers, lambda journal, owner: journal.claim_checks(call=CALL, lease=600, limit=3), 20)
    every = [e.id for got in claimed.values() for e in got]
    assert sorted(every) == sorted(str(n) for n in range(60)), "each lead claimed exactly once"


def test_resend_makes_failed_messages_pending_again_and_young(any_journal: Journal, clock: FakeClock) -> None:
    any_journal.enqueue([message("a"), message("a", target="facebook"), message("b")])
    for claimed in any_journal.claim_messages(owner="o", lease=60, limit=10):
        assert any_journal.record_message(claimed.id, owner="o", state="failed", error="HTTP 404")
    clock.advance(1000)

    assert any_journal.resend_messages(lead_id="a", target="postback:1") == 1
    assert any_journal.resend_messages(lead_id="nobody") == 0
    assert written(any_journal, state="pending") == [("a", "postback:1", "lead", "pending")]
    assert any_journal.expire_messages(500) == [], "its age counts from the resend"
    assert any_journal.resend_messages() == 2
    assert {m.lead_id for m in any_journal.claim_messages(owner="p", lease=60, limit=10)} == {"a", "b"}


def test_a_relay_pass_with_nothing_due_takes_no_write_lock(tmp_path: Path, clock: FakeClock) -> None:
    """Every worker's relay looks for due leads, messages and checks every ``journal.poll``
    seconds: on SQLite, finding none is a read, without BEGIN IMMEDIATE (the write lock the
    order being taken meanwhile would wait for). Work that is due is still claimed."""
    journal = SQLiteJournal(tmp_path / "leadkit.db", clock=clock)
    try:
        deliver(journal, "checked-later", next_check=T0 + 600, messages=(message("checked-later"),))
        tried = journal.claim_messages(owner="dispatcher", lease=60, limit=1)
        assert journal.record_message(tried[0].id, owner="dispatcher", state="pending", next_attempt=T0 + 600)
        journal.add(Entry(id="held", call=CALL, payload=PAYLOAD, created=T0), owner="web", lease=60, window=0)

        def one_pass() -> tuple[list[str], list[Any]]:
            seen: list[str] = []
            db = journal._connection()
            db.set_trace_callback(seen.append)
            try:
                found = [journal.claim_due(owner="relay", lease=60, limit=1), journal.expire(3600),
                         journal.claim_messages(owner="relay", lease=60, limit=1), journal.expire_messages(3600),
                         journal.claim_checks(call=CALL, lease=60, limit=20)]
            finally:
                db.set_trace_callback(None)
            return [sql for sql in seen if sql.startswith("BEGIN")], found

        begun, found = one_pass()
        assert begun == [] and found == [[], [], [], [], []]
        clock.advance(601)  # the lead's check and its message come due; the held lead's lease runs out
        begun, found = one_pass()
        assert [len(f) for f in found] == [1, 0, 1, 0, 1], found  # nothing is old enough to expire
        assert begun == ["BEGIN IMMEDIATE"] * 3, "each kind of due work claimed in a transaction of its own"
    finally:
        journal.close()
