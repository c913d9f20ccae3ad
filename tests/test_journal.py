"""The lead journal: adding, double submits, leases, outcomes, expiry, reading, the file itself, and
every way the file can fail (real files: random bytes, damaged pages, read-only, full, locked, gone).

The contract's tests run on both journals (``any_journal``: SQLite, and PostgreSQL where it runs); the
file's own (privacy, durability settings, connections per thread, damage) on SQLite alone.
Time passes on a :class:`~support.FakeClock` the tests move: no test waits for a lease or a window to run out.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from leadkit.errors import JournalError, RateLimited
from leadkit.journal import _ADDED_COLUMNS, STATES, Entry, Journal, Limit, Outcome, SQLiteJournal
from leadkit.journal_pg_schema import LATEST
from leadkit.lead import Lead
from leadkit.form import Order
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.visitor import Visitor
from journals import Journals, is_postgres
from support import KEY, T0, FakeClock, make_config, wait_for

CALL = "wm/push"
PAYLOAD = {"offer": 217, "phone": "77001234567", "name": "Айгерим Нурланова ✓",
           "params": {"sub1": "x", "nested": {"items": [1, 2, {"id": "135"}]}}}

# Forking a process that runs threads (the sandbox, earlier tests) is what the journal must survive.
fork_warning = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def entry(lead_id: str, **fields: Any) -> Entry:
    return Entry(id=lead_id, call=CALL, payload=fields.pop("payload", PAYLOAD), **fields)


def add(journal: Journal, lead_id: str, *, owner: str = "writer", lease: float = 60, window: float = 0,
        **fields: Any) -> Entry:
    """Write a lead created now by the journal's clock (or at ``created``)."""
    fields.setdefault("created", journal.clock())
    stored, created = journal.add(entry(lead_id, **fields), owner=owner, lease=lease, window=window)
    assert created
    return stored


def add_released(journal: Journal, lead_id: str, *, next_attempt: float, **fields: Any) -> Entry:
    """A pending lead nobody holds: written, then a first attempt failed (next try at ``next_attempt``)."""
    add(journal, lead_id, owner="first", **fields)
    assert journal.record(lead_id, Outcome("pending", error="db", next_attempt=next_attempt), owner="first")
    released = journal.get(lead_id)
    assert released is not None and released.lease_owner is None
    return released


def settle(journal: Journal, lead_id: str, state: str = "delivered", **fields: Any) -> None:
    add(journal, lead_id, owner="settler", **fields)
    assert journal.record(lead_id, Outcome(state), owner="settler")


# -- add ----------------------------------------------------------------------


def test_add_writes_a_pending_lead_claimed_by_its_owner(any_journal: Journal) -> None:
    stored, created = any_journal.add(entry("1", fingerprint="fp", created=T0 - 1), owner="web-1", lease=60, window=120)
    assert created
    assert (stored.id, stored.call, stored.state, stored.attempts, stored.uncertain) == ("1", CALL, "pending", 0,
                                                                                         False)
    assert stored.lease_owner == "web-1"
    assert (stored.created, stored.updated, stored.next_attempt, stored.lease_until) == (T0 - 1, T0, T0, T0 + 60), \
        "created is the lead's own time; the rest is the journal's clock"
    assert not stored.settled


def test_migrate_says_how_the_schema_stands(any_journal: Journal) -> None:
    if is_postgres(any_journal):
        assert any_journal.migrate() == (0, LATEST), "the database was empty when the journal opened it"
    else:
        assert any_journal.migrate() is None, "no numbered versions: a file is brought up to date when opened"


def test_the_journal_reads_time_from_time_time_by_default(journals: Journals) -> None:
    journal = journals.open()
    before = time.time()
    stored = add(journal, "1")
    assert stored.lease_until is not None and before + 60 <= stored.lease_until <= time.time() + 60


def test_get_round_trips_the_payload(any_journal: Journal) -> None:
    add(any_journal, "1")
    got = any_journal.get("1")
    assert got is not None and got.payload == PAYLOAD
    assert got.payload["name"] == "Айгерим Нурланова ✓"
    assert got.payload["params"]["nested"]["items"][2] == {"id": "135"}
    assert any_journal.get("nope") is None


def test_the_same_id_twice_is_refused(any_journal: Journal) -> None:
    add(any_journal, "1")
    with pytest.raises(JournalError) as refused:
        any_journal.add(entry("1", payload={"other": True}), owner="writer", lease=60, window=0)
    assert refused.value.reason == "duplicate id"
    got = any_journal.get("1")
    assert got is not None and got.payload == PAYLOAD, "the first lead is untouched"
    add(any_journal, "2")  # the failed transaction was rolled back: the journal still takes writes
    assert [e.id for e in any_journal.entries()] == ["1", "2"]


# -- double submits -------------------------------------------------------------


def test_same_fingerprint_within_the_window_returns_the_first_lead(any_journal: Journal) -> None:
    first = add(any_journal, "1", fingerprint="fp", window=120)
    again, created = any_journal.add(entry("2", fingerprint="fp"), owner="other", lease=60, window=120)
    assert not created
    assert again.id == "1" and again.lease_owner == first.lease_owner == "writer"
    assert any_journal.get("2") is None
    assert any_journal.stats()["counts"]["pending"] == 1


@pytest.mark.parametrize(("first", "second", "window"), [
    pytest.param({"fingerprint": "fp", "created": T0 - 300}, {"fingerprint": "fp"}, 120,
                 id="outside-the-window"),
    pytest.param({"fingerprint": None}, {"fingerprint": None}, 120, id="no-fingerprint"),
    pytest.param({"fingerprint": "fp"}, {"fingerprint": "fp"}, 0, id="window-zero"),
    pytest.param({"fingerprint": "fp"}, {"fingerprint": "other"}, 120, id="another-fingerprint"),
])
def test_not_a_double_submit(any_journal: Journal, first: dict[str, Any], second: dict[str, Any],
                             window: float) -> None:
    add(any_journal, "1", window=window, **first)
    stored, created = any_journal.add(entry("2", **second), owner="other", lease=60, window=window)
    assert created and stored.id == "2" and stored.lease_owner == "other"
    assert any_journal.stats()["counts"]["pending"] == 2


def test_the_window_closes_with_time(any_journal: Journal, clock: FakeClock) -> None:
    add(any_journal, "1", fingerprint="fp")
    clock.advance(5)
    _, created = any_journal.add(entry("2", fingerprint="fp", created=clock()), owner="w", lease=60, window=5)
    assert not created, "five seconds on: still the same order"
    clock.advance(0.5)
    stored, created = any_journal.add(entry("3", fingerprint="fp", created=clock()), owner="w", lease=60, window=5)
    assert created and stored.id == "3"


# -- claims ---------------------------------------------------------------------


def test_a_held_lead_cannot_be_claimed_until_its_lease_expires(any_journal: Journal) -> None:
    stored = add(any_journal, "1", owner="a", lease=60)
    assert stored.lease_until is not None
    assert any_journal.claim("1", owner="b", lease=60) is None
    assert any_journal.claim("1", owner="b", lease=60, force=True) is None
    assert any_journal.claim("1", owner="b", lease=60, now=stored.lease_until - 1) is None
    later = stored.lease_until + 1
    claimed = any_journal.claim("1", owner="b", lease=30, now=later)
    assert claimed is not None and claimed.lease_owner == "b" and claimed.lease_until == later + 30
    assert not any_journal.record("1", Outcome("delivered"), owner="a"), "the old holder lost the lead"


def test_a_lease_runs_out_on_the_journal_s_clock(any_journal: Journal, clock: FakeClock) -> None:
    add(any_journal, "1", owner="a", lease=60)
    clock.advance(60)
    assert any_journal.claim("1", owner="b", lease=60) is None, "a lease holds until its last second"
    assert any_journal.claim_due(owner="b", lease=60, limit=5) == []
    clock.advance(1)
    claimed = any_journal.claim_due(owner="b", lease=60, limit=5)
    assert [(e.id, e.lease_owner, e.lease_until) for e in claimed] == [("1", "b", T0 + 121)]


def test_claim_refuses_settled_and_unknown_leads(any_journal: Journal) -> None:
    settle(any_journal, "1", "delivered")
    assert any_journal.claim("1", owner="b", lease=60, force=True, now=T0 + 3600) is None
    assert any_journal.claim("missing", owner="b", lease=60, force=True) is None


def test_claim_waits_for_the_next_attempt_unless_forced(any_journal: Journal) -> None:
    add_released(any_journal, "1", next_attempt=T0 + 3600)
    assert any_journal.claim("1", owner="b", lease=60) is None
    forced = any_journal.claim("1", owner="b", lease=60, force=True)
    assert forced is not None and forced.lease_owner == "b"
    assert any_journal.claim("1", owner="c", lease=60, force=True) is None, "force never takes a held lead"


def test_claim_due_takes_only_due_free_pending_leads(any_journal: Journal) -> None:
    add_released(any_journal, "due-1", next_attempt=T0 - 10)
    add_released(any_journal, "due-2", next_attempt=T0 - 5)
    add_released(any_journal, "later", next_attempt=T0 + 3600)
    add(any_journal, "held", owner="someone", lease=600)
    settle(any_journal, "delivered", "delivered")
    settle(any_journal, "rejected", "rejected")
    claimed = any_journal.claim_due(owner="relay", lease=60, limit=10)
    assert [e.id for e in claimed] == ["due-1", "due-2"], "oldest due first"
    assert all(e.lease_owner == "relay" for e in claimed)
    assert any_journal.claim_due(owner="relay-2", lease=60, limit=10) == []
    held = any_journal.get("held")
    assert held is not None and held.lease_owner == "someone"


def test_claim_due_respects_the_limit(any_journal: Journal) -> None:
    for i in range(5):
        add_released(any_journal, str(i), next_attempt=T0 - 100 + i)
    first = any_journal.claim_due(owner="a", lease=60, limit=2)
    second = any_journal.claim_due(owner="b", lease=60, limit=2)
    third = any_journal.claim_due(owner="c", lease=60, limit=2)
    assert [[e.id for e in batch] for batch in (first, second, third)] == [["0", "1"], ["2", "3"], ["4"]]


def test_claim_due_takes_a_lead_back_when_its_lease_expired(any_journal: Journal) -> None:
    stored = add(any_journal, "1", owner="crashed", lease=30)
    assert any_journal.claim_due(owner="relay", lease=60, limit=5) == []
    assert stored.lease_until is not None
    claimed = any_journal.claim_due(owner="relay", lease=60, limit=5, now=stored.lease_until + 1)
    assert [(e.lease_owner, e.uncertain) for e in claimed] == [("relay", True)], \
        "the crashed sender's attempt may have reached the network"


# -- exclusivity under contention --------------------------------------------------

LEADS = 200


def fill(journal: Journal, clock: FakeClock) -> None:
    for i in range(LEADS):
        add(journal, f"{i:03d}", lease=0)  # written, released at once: due to every sender
    clock.advance(1)  # lease_until < now for all of them


def claim_all(journal: Journal, owner: str) -> list[str]:
    ids: list[str] = []
    while batch := journal.claim_due(owner=owner, lease=600, limit=3):
        ids.extend(e.id for e in batch)
        time.sleep(0.002)  # a real sender sends between claims; it also lets SQLite's sleeping waiters in
    return ids


def assert_each_claimed_once(journal: Journal, claims: dict[str, list[str]]) -> None:
    every = [lead_id for ids in claims.values() for lead_id in ids]
    assert sorted(every) == [f"{i:03d}" for i in range(LEADS)], "every lead claimed, none twice"
    assert sum(1 for ids in claims.values() if ids) > 1, "the senders really competed"
    for owner, ids in claims.items():
        for lead_id in ids:
            got = journal.get(lead_id)
            assert got is not None and got.lease_owner == owner


def test_threads_never_claim_one_lead_twice(any_journal: Journal, clock: FakeClock) -> None:
    fill(any_journal, clock)
    start = threading.Barrier(8)
    claims: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def sender(owner: str) -> None:
        try:
            start.wait()
            claims[owner] = claim_all(any_journal, owner)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(f"thread-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(claims) == 8
    assert_each_claimed_once(any_journal, claims)


def _process_sender(journals: Journals, shared: Journal | None, clock: FakeClock, owner: str, start: Any,
                    out: Any) -> None:
    try:
        journal = shared if shared is not None else journals.open(clock)
        start.wait(10)  # all four at once
        out.put((owner, claim_all(journal, owner), None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put((owner, [], repr(exc)))


@fork_warning
@pytest.mark.parametrize("reuse", [
    pytest.param(False, id="each-opens-its-own"),
    pytest.param(True, id="one-journal-made-before-fork"),
])
def test_processes_never_claim_one_lead_twice(journals: Journals, any_journal: Journal, clock: FakeClock,
                                              reuse: bool) -> None:
    journal = any_journal
    fill(journal, clock)  # the parent's connection is open (and used) when the children fork
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_process_sender, args=(journals, journal if reuse else None, clock,
                                                               f"process-{n}", start, out))
                 for n in range(4)]
    for process in processes:
        process.start()
    results = [out.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(10)
    assert [error for _, _, error in results if error] == []
    assert all(process.exitcode == 0 for process in processes)
    claims = {owner: ids for owner, ids, _ in results}
    assert_each_claimed_once(journal, claims)
    add(journal, "after")  # the parent's own connection still works after its children used the file
    assert journal.get("after") is not None


# -- record -------------------------------------------------------------------------


def test_only_the_lease_owner_records(any_journal: Journal) -> None:
    before = add(any_journal, "1", owner="a")
    assert not any_journal.record("1", Outcome("delivered", network_id="9"), owner="b")
    assert any_journal.get("1") == before


def test_record_releases_the_lease_and_counts_the_attempt(any_journal: Journal) -> None:
    add(any_journal, "1", owner="a")
    retry_at = T0 + 30
    assert any_journal.record("1", Outcome("pending", error="HTTP 502", next_attempt=retry_at, uncertain=True),
                          owner="a")
    got = any_journal.get("1")
    assert got is not None
    assert (got.state, got.attempts, got.last_error, got.next_attempt, got.uncertain) == (
        "pending", 1, "HTTP 502", retry_at, True)
    assert (got.lease_owner, got.lease_until) == (None, None)
    assert not any_journal.record("1", Outcome("delivered"), owner="a"), "the lease is gone once recorded"


def test_network_id_and_redirect_survive_later_records(any_journal: Journal) -> None:
    add(any_journal, "1", owner="a")
    assert any_journal.record("1", Outcome("pending", network_id="1001", redirect="https://cab.example/1001",
                                       next_attempt=T0), owner="a")
    claimed = any_journal.claim("1", owner="b", lease=60)
    assert claimed is not None
    assert any_journal.record("1", Outcome("delivered", error="duplicate"), owner="b")
    got = any_journal.get("1")
    assert got is not None
    assert (got.state, got.network_id, got.redirect, got.attempts) == ("delivered", "1001",
                                                                       "https://cab.example/1001", 2)


def test_uncertain_is_sticky(any_journal: Journal) -> None:
    add(any_journal, "1", owner="a")
    assert any_journal.record("1", Outcome("pending", error="dropped", next_attempt=0, uncertain=True), owner="a")
    assert any_journal.claim("1", owner="b", lease=60) is not None
    assert any_journal.record("1", Outcome("pending", error="HTTP 503", next_attempt=0, uncertain=False), owner="b")
    got = any_journal.get("1")
    assert got is not None and got.uncertain and got.attempts == 2 and got.last_error == "HTTP 503"


@pytest.mark.parametrize("state", ["delivered", "rejected"])
def test_a_settled_lead_is_never_recorded_again(any_journal: Journal, state: str) -> None:
    add(any_journal, "1", owner="a")
    assert any_journal.record("1", Outcome(state, network_id="5", error_code="ban"), owner="a")
    settled = any_journal.get("1")
    assert settled is not None and settled.settled and settled.state == state
    assert not any_journal.record("1", Outcome("pending", next_attempt=0), owner="a")
    assert not any_journal.record("1", Outcome("delivered"), owner=None)  # type: ignore[arg-type]
    assert any_journal.get("1") == settled


# -- expire -------------------------------------------------------------------------


def test_expire_kills_old_free_pending_leads_only(any_journal: Journal, clock: FakeClock) -> None:
    add_released(any_journal, "old", next_attempt=T0 + 5)
    add(any_journal, "old-held", owner="busy", lease=600)
    settle(any_journal, "old-delivered", "delivered")
    settle(any_journal, "old-rejected", "rejected")
    clock.advance(95)
    add_released(any_journal, "young", next_attempt=T0 + 100)
    clock.advance(5)
    assert any_journal.expire(50) == ["old"]
    dead = any_journal.get("old")
    assert dead is not None and dead.state == "dead" and dead.next_attempt is None
    assert {e.id: e.state for e in any_journal.entries()} == {
        "old": "dead", "old-held": "pending", "young": "pending", "old-delivered": "delivered",
        "old-rejected": "rejected"}
    assert any_journal.claim("old", owner="x", lease=60, force=True) is None, "dead is final"
    assert any_journal.expire(50) == [], "nothing dies twice"
    assert any_journal.expire(550, now=T0 + 601) == ["old-held"], "a held lead dies once its lease ran out"


# -- reading ----------------------------------------------------------------------


def test_entries_filter_and_order(any_journal: Journal) -> None:
    base = 1_700_000_000.0
    for lead_id, age in (("c", 3), ("a", 1), ("d", 4), ("b", 2)):
        add(any_journal, lead_id, owner="w", created=base + age)
    assert any_journal.record("b", Outcome("delivered"), owner="w")
    assert any_journal.record("d", Outcome("rejected", error_code="ban"), owner="w")

    def ids(**filters: Any) -> list[str]:
        return [e.id for e in any_journal.entries(**filters)]

    assert ids() == ["a", "b", "c", "d"], "ordered by created, not by insertion"
    assert ids(state="pending") == ["a", "c"]
    assert ids(state="delivered") == ["b"]
    assert ids(state="dead") == []
    assert ids(since=base + 2) == ["b", "c", "d"], "since is inclusive"
    assert ids(until=base + 3) == ["a", "b"], "until is exclusive"
    assert ids(since=base + 2, until=base + 4) == ["b", "c"]
    assert ids(limit=3) == ["a", "b", "c"]
    assert ids(state="pending", limit=1) == ["a"]


def test_stats_count_every_state(any_journal: Journal, clock: FakeClock) -> None:
    empty = any_journal.stats()
    assert (empty["counts"], empty["oldest_pending_age"]) == ({state: 0 for state in STATES}, None)
    settle(any_journal, "d2", "delivered")
    clock.advance(400)
    add(any_journal, "p1")
    clock.advance(70)
    add(any_journal, "p2")
    settle(any_journal, "d1", "delivered")
    clock.advance(30)
    stats = any_journal.stats()
    assert stats["counts"] == {"pending": 2, "delivered": 2, "rejected": 0, "dead": 0}
    assert list(stats["counts"]) == list(STATES)
    assert stats["oldest_pending_age"] == 100.0


def test_stats_without_pending_leads(any_journal: Journal, clock: FakeClock) -> None:
    settle(any_journal, "r", "rejected")
    add_released(any_journal, "x", next_attempt=0)
    clock.advance(11)
    assert any_journal.expire(10) == ["x"]
    stats = any_journal.stats()
    assert stats["counts"] == {"pending": 0, "delivered": 0, "rejected": 1, "dead": 1}
    assert stats["oldest_pending_age"] is None


# -- landings --------------------------------------------------------------------------


def test_a_lead_keeps_its_landing(any_journal: Journal) -> None:
    assert add(any_journal, "default").landing == "", "a lead of the default landing unless told"
    stored = add(any_journal, "from-sk", landing="sk")
    got = any_journal.get("from-sk")
    assert stored.landing == "sk" and got is not None and got.landing == "sk"
    assert [(e.id, e.landing) for e in any_journal.entries()] == [("default", ""), ("from-sk", "sk")]


def test_entries_of_one_landing(any_journal: Journal, clock: FakeClock) -> None:
    for lead_id, landing in (("a", ""), ("b", "sk"), ("c", "pl-quiz"), ("d", "sk"), ("e", "")):
        add(any_journal, lead_id, landing=landing)
        clock.advance(1)
    assert any_journal.record("d", Outcome("delivered"), owner="writer")

    def ids(**filters: Any) -> list[str]:
        return [e.id for e in any_journal.entries(**filters)]

    assert ids() == ["a", "b", "c", "d", "e"]
    assert ids(landing="sk") == ["b", "d"]
    assert ids(landing="") == ["a", "e"], "the empty name is the default landing, not 'any landing'"
    assert ids(landing="pl-quiz", state="pending") == ["c"]
    assert ids(landing="sk", state="pending") == ["b"]
    assert ids(landing="sk", limit=1) == ["b"]
    assert ids(landing="nowhere") == []


def test_stats_count_each_landing(any_journal: Journal, clock: FakeClock) -> None:
    assert any_journal.stats()["landings"] == {}, "no leads, no landings"
    add(any_journal, "sk-old", landing="sk")
    clock.advance(100)
    settle(any_journal, "sk-done", landing="sk")
    settle(any_journal, "sk-refused", "rejected", landing="sk")
    add(any_journal, "default-new")
    settle(any_journal, "quiz-done", landing="pl-quiz")
    clock.advance(20)
    stats = any_journal.stats()
    assert stats["counts"] == {"pending": 2, "delivered": 2, "rejected": 1, "dead": 0}
    assert stats["oldest_pending_age"] == 120.0
    assert stats["landings"] == {"": {"pending": 1, "delivered": 0, "rejected": 0, "dead": 0},
                                 "pl-quiz": {"pending": 0, "delivered": 1, "rejected": 0, "dead": 0},
                                 "sk": {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}}
    assert list(stats["landings"]) == ["", "pl-quiz", "sk"], "by name"
    assert all(list(counts) == list(STATES) for counts in stats["landings"].values())
    assert sum(c["delivered"] for c in stats["landings"].values()) == stats["counts"]["delivered"]


def test_stats_of_one_landing(any_journal: Journal, clock: FakeClock) -> None:
    add(any_journal, "sk-old", landing="sk")
    clock.advance(100)
    add(any_journal, "default-new")
    settle(any_journal, "default-done")
    any_journal.count("bots_honeypot")
    clock.advance(20)
    sk = any_journal.stats(landing="sk")
    assert sk["counts"] == {"pending": 1, "delivered": 0, "rejected": 0, "dead": 0}
    assert sk["oldest_pending_age"] == 120.0
    assert sk["landings"] == {"sk": sk["counts"]}
    default = any_journal.stats(landing="")
    assert default["counts"] == {"pending": 1, "delivered": 1, "rejected": 0, "dead": 0}
    assert default["oldest_pending_age"] == 20.0, "the default landing's oldest, not the journal's"
    assert default["counters"] == {"bots_honeypot": 1}, "counters are the whole journal's"
    nowhere = any_journal.stats(landing="nowhere")
    assert (nowhere["counts"], nowhere["oldest_pending_age"], nowhere["landings"]) == (
        {state: 0 for state in STATES}, None, {})


def test_stats_read_the_tallies_and_one_index_however_many_leads_and_landings(journal: SQLiteJournal) -> None:
    def statements() -> list[str]:
        seen: list[str] = []
        db = journal._connection()
        db.set_trace_callback(seen.append)
        try:
            journal.stats()
        finally:
            db.set_trace_callback(None)
        return seen

    add(journal, "only")
    one = statements()
    for n in range(12):
        settle(journal, f"lead-{n}", ("delivered", "rejected")[n % 2], landing=f"landing-{n}")
    many = statements()
    assert len(many) == len(one), many
    (oldest,) = [sql for sql in many if "FROM leads" in sql]
    assert "MIN(created)" in oldest, "the leads themselves are read only for the oldest pending one"
    plan = " ".join(row[3] for row in journal._connection().execute(f"EXPLAIN QUERY PLAN {oldest}"))
    assert "COVERING INDEX leads_state_created" in plan, "found by an index, not by reading the rows"
    assert any("FROM tallies" in sql for sql in many), "the counts are the tallies the triggers keep"
    assert journal.stats()["counts"] == {"pending": 1, "delivered": 6, "rejected": 6, "dead": 0}


# -- the file -----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "leadkit.db"
    journal = SQLiteJournal(path)
    assert path.parent.is_dir(), "the folder is made"
    assert mode(path) == 0o600
    add(journal, "1")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        assert side.exists(), side
        assert mode(side) == 0o600, (side, oct(mode(side)))


def test_an_existing_world_readable_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "leadkit.db"
    first = SQLiteJournal(path)
    add(first, "1")
    first.close()
    os.chmod(path, 0o644)
    assert mode(path) == 0o644
    reopened = SQLiteJournal(path)
    assert mode(path) == 0o600
    assert reopened.get("1") is not None, "the data is kept"


def test_durability_settings(journal: SQLiteJournal) -> None:
    add(journal, "1")
    fresh = sqlite3.connect(journal.path)
    try:
        assert fresh.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "WAL is a property of the file"
    finally:
        fresh.close()
    assert journal._connection().execute("PRAGMA synchronous").fetchone()[0] == 2, "FULL: every commit synced"


def test_each_thread_has_its_own_connection(journal: SQLiteJournal) -> None:
    mine = journal._connection()
    assert journal._connection() is mine
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(journal._connection()))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine


def is_closed(db: sqlite3.Connection) -> bool:
    try:
        db.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_close_closes_every_thread_s_connection_and_the_journal_reopens(journal: SQLiteJournal) -> None:
    mine = journal._connection()
    theirs: list[sqlite3.Connection] = []
    errors: list[BaseException] = []
    opened, closed = threading.Event(), threading.Event()

    def worker() -> None:  # opens its connection, waits while the main thread closes the journal, goes on
        try:
            theirs.append(journal._connection())
            add(journal, "before-close")
            opened.set()
            assert closed.wait(10)
            add(journal, "after-close")
            theirs.append(journal._connection())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            opened.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert opened.wait(10)
    journal.close()
    closed.set()
    assert is_closed(mine) and theirs and is_closed(theirs[0]), "the other thread's connection is closed too"
    thread.join(10)
    assert not errors, errors
    assert len(theirs) == 2 and theirs[1] is not theirs[0] and not is_closed(theirs[1]), "reopened on use"
    assert [e.id for e in journal.entries()] == ["before-close", "after-close"]
    assert journal._connection() is not mine
    journal.close()
    journal.close()  # closing a closed journal is harmless
    assert journal.get("after-close") is not None


def test_a_thread_s_connection_ends_with_its_thread(journal: SQLiteJournal) -> None:
    def kept() -> int:  # the connections close() would close
        return len(journal._opened[os.getpid()].handles)

    before = kept()
    during: list[int] = []
    thread = threading.Thread(target=lambda: (add(journal, "1"), during.append(kept())))
    thread.start()
    thread.join(10)
    assert during == [before + 1], "the thread opened a connection of its own"
    assert wait_for(lambda: kept() == before), "short-lived request threads leave no connection behind them"


def _report_connection(journal: SQLiteJournal, inherited: sqlite3.Connection, out: Any) -> None:
    try:
        journal.close()  # the child's own connections only: the inherited one is the parent's
        mine = journal._connection()
        add(journal, "from-child")
        out.put((mine is inherited, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put((None, repr(exc)))


@fork_warning
def test_a_connection_never_crosses_a_fork(journal: SQLiteJournal) -> None:
    inherited = journal._connection()
    add(journal, "from-parent")
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_report_connection, args=(journal, inherited, out))
    child.start()
    reused, error = out.get(timeout=30)
    child.join(10)
    assert error is None and reused is False, "the child opened its own connection"
    assert journal._connection() is inherited, "the parent keeps its own"
    add(journal, "after-the-child")  # and it still writes, whatever the child opened and closed
    assert [e.id for e in journal.entries()] == ["from-parent", "from-child", "after-the-child"]


def test_the_network_key_is_never_stored(tmp_path: Path) -> None:
    config = make_config("ext", "dalead")
    order = Order(name="Aigerim", phone=parse_phone("87001234567", ["KZ"]))
    lead = Lead(order=order, visitor=Visitor("203.0.113.7", "test-agent", False), tags={"sub1": "x"})
    journal = SQLiteJournal(tmp_path / "leadkit.db")
    add(journal, lead.id, payload=build_payload(lead, config))
    stored = journal.get(lead.id)
    assert stored is not None and stored.payload["phone"] == "77001234567"
    files = [journal.path, journal.path.with_name(journal.path.name + "-wal")]
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"77001234567" in raw, "the check reads the bytes the lead was written to"
    assert KEY.encode() not in raw


# -- the network's word on what was missing, and text as it comes ----------------------------------

#: The schema of the first journals (before ``bad``): a file made by an older leadkit.
OLD_SCHEMA = """
CREATE TABLE leads (id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL, state TEXT NOT NULL,
    call TEXT NOT NULL, payload TEXT NOT NULL, fingerprint TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL, last_error TEXT, network_id TEXT, redirect TEXT, error_code TEXT, error_message TEXT,
    uncertain INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until REAL);
CREATE INDEX leads_due ON leads (state, next_attempt);
CREATE TABLE hits (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO leads (id, created, updated, state, call, payload, attempts, next_attempt, error_code)
    VALUES ('old', 1700000000, 1700000000, 'rejected', 'wm/push', '{"phone": "77001234567"}', 1, NULL, 'data');
INSERT INTO leads (id, created, updated, state, call, payload, next_attempt)
    VALUES ('old-pending', 1700000000, 1700000000, 'pending', 'wm/push', '{"phone": "77011234567"}', 0);
"""
#: The schema before ``landing`` (with ``bad``): a file made by the leadkit before landings.
BEFORE_LANDINGS = OLD_SCHEMA + """
ALTER TABLE leads ADD COLUMN bad TEXT NOT NULL DEFAULT '[]';
UPDATE leads SET bad = '["phone"]' WHERE id = 'old';
"""


def test_the_fields_the_network_said_were_missing_are_kept(any_journal: Journal) -> None:
    fresh = add(any_journal, "1")
    assert fresh.bad == ()
    assert any_journal.record("1", Outcome("rejected", error_code="data", bad=("phone", "name")), owner="writer")
    got = any_journal.get("1")
    assert got is not None and got.bad == ("phone", "name") and got.error_code == "data"
    assert next(any_journal.entries()).bad == ("phone", "name")


@pytest.mark.parametrize(("schema", "old_bad"), [
    pytest.param(OLD_SCHEMA, (), id="the-first-schema"),
    pytest.param(BEFORE_LANDINGS, ("phone",), id="before-landings"),
])
def test_a_journal_from_before_gets_the_new_columns_and_keeps_its_leads(tmp_path: Path, clock: FakeClock,
                                                                        schema: str, old_bad: tuple[str, ...]) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(schema)
    old.close()
    journal = SQLiteJournal(path, clock=clock)
    columns = [row[1] for row in journal._connection().execute("PRAGMA table_info(leads)")]
    assert columns[columns.index("bad"):] == list(_ADDED_COLUMNS)
    kept = journal.get("old")
    assert kept is not None and (kept.state, kept.error_code, kept.bad, kept.landing) == ("rejected", "data",
                                                                                          old_bad, "")
    assert [e.landing for e in journal.entries()] == ["", ""], "every old lead came from the default landing"
    assert sorted(e.id for e in journal.entries(landing="")) == ["old", "old-pending"]
    assert journal.stats()["landings"] == {"": {"pending": 1, "delivered": 0, "rejected": 1, "dead": 0}}
    assert journal.claim("old-pending", owner="a", lease=60) is not None
    assert journal.record("old-pending", Outcome("rejected", error_code="data", bad=("name",)), owner="a")
    add(journal, "new", landing="sk")
    journal.close()
    again = SQLiteJournal(path, clock=clock)  # opening it once more changes nothing
    got = again.get("old-pending")
    assert got is not None and (got.bad, got.landing) == (("name",), "")
    assert [e.id for e in again.entries(landing="sk")] == ["new"]
    assert [row[1] for row in again._connection().execute("PRAGMA table_info(leads)")] == columns
    indexes = {row[1] for row in again._connection().execute("PRAGMA index_list(leads)")}
    assert "leads_counts" in indexes and "leads_landing" not in indexes, "the index on the added column is made once the column is there"
    again.close()


NASTY = "a\udcffb\x00c\nd\re\x1b[31mf\x7fg\x85h"
CLEAN = "a\ufffdb c d e [31mf g h"


def test_no_text_a_network_chose_makes_the_journal_refuse_a_row(any_journal: Journal) -> None:
    add(any_journal, "1")
    outcome = Outcome("rejected", error=NASTY, network_id=NASTY, redirect=NASTY, error_code=NASTY,
                      error_message=NASTY, bad=(NASTY, "\ud800"))
    assert any_journal.record("1", outcome, owner="writer")
    got = any_journal.get("1")
    assert got is not None
    assert (got.last_error, got.network_id, got.redirect, got.error_code, got.error_message) == (CLEAN,) * 5
    assert got.bad == (CLEAN, "\ufffd")


def test_a_payload_with_a_lone_surrogate_is_stored_and_keeps_everything_else(any_journal: Journal) -> None:
    payload = {"name": "Ann\udcff", "comment": "line 1\nline 2\x00", "phone": "77001234567"}
    add(any_journal, "1", payload=payload, fingerprint="fp\udcff")
    got = any_journal.get("1")
    assert got is not None
    nul = "\ufffd" if is_postgres(any_journal) else "\x00"  # PostgreSQL's text holds no NUL, not even in JSON
    assert got.payload == {"name": "Ann\ufffd", "comment": f"line 1\nline 2{nul}", "phone": "77001234567"}, \
        "only what the database cannot hold is replaced: the payload's own newlines stay"
    assert any_journal.get("\udcff") is None, \
        "an id typed on a command line (argv's surrogate escapes) is only not found"
    any_journal.count("bots\udcff")
    assert any_journal.stats()["counters"] == {"bots\ufffd": 1}


# -- failures: JournalError with a reason, never SQLite's own exception ------------------------------

def junk(size: int = 8192) -> bytes:
    return random.Random(7).randbytes(size)


def make_unusable(tmp_path: Path, how: str) -> Path:
    """A journal path that cannot be a journal, ``how``."""
    path = tmp_path / "leadkit.db"
    if how == "random-bytes":
        path.write_bytes(junk())
    elif how == "a-folder":
        path.mkdir()
    else:  # a folder that cannot be made: a file stands where it should be
        (tmp_path / "data").write_text("not a folder")
        path = tmp_path / "data" / "leadkit.db"
    return path


@pytest.mark.parametrize(("how", "reason", "fix"), [
    pytest.param("random-bytes", "corrupt", "move it aside", id="random-bytes"),
    pytest.param("a-folder", "cannot open", "it is a folder: set journal.path to a file", id="a-folder"),
    pytest.param("folder-cannot-be-made", "cannot open", "its folder cannot be made", id="folder-cannot-be-made"),
])
def test_a_file_that_cannot_be_a_journal_fails_at_start_in_one_sentence(tmp_path: Path, how: str, reason: str,
                                                                        fix: str) -> None:
    path = make_unusable(tmp_path, how)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(JournalError) as failed:
        SQLiteJournal(path)
    error = failed.value
    assert (error.path, error.reason) == (str(path), reason)
    assert fix in error.fix and str(error).startswith(f"the lead journal {str(path)!r} cannot be used")
    assert "\n" not in str(error) and str(error).count(". ") == 0, "one sentence"
    if before is not None:
        assert path.read_bytes() == before, "what may hold leads is left as it was"


def damage(path: Path) -> None:
    """A journal whose pages past the schema were overwritten: it opens, and breaks when read."""
    journal = SQLiteJournal(path)
    for i in range(40):
        add(journal, f"{i:03d}", payload={"name": "x" * 500})
    journal.close()  # the last connection folds the WAL into the file
    data = bytearray(path.read_bytes())
    data[4096:] = junk(len(data) - 4096)  # every table's and every index's pages: whatever a read uses
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("read", [
    pytest.param(lambda j: j.get("010"), id="get"),
    pytest.param(lambda j: list(j.entries()), id="entries"),
    pytest.param(lambda j: j.stats(), id="stats"),
    pytest.param(lambda j: j.claim_due(owner="o", lease=60, limit=50, now=T0 + 1e9), id="claim_due"),
])
def test_a_damaged_journal_is_reported_as_corrupt(tmp_path: Path, read: Any) -> None:
    path = tmp_path / "leadkit.db"
    damage(path)
    journal = SQLiteJournal(path)
    with pytest.raises(JournalError) as failed:
        read(journal)
    assert failed.value.reason == "corrupt" and "move it aside" in str(failed.value)
    journal.close()


WRITES = [
    pytest.param(lambda j: j.add(entry("new"), owner="w", lease=60, window=0), id="add"),
    pytest.param(lambda j: j.claim("free", owner="w", lease=60, force=True), id="claim"),
    pytest.param(lambda j: j.claim_due(owner="w", lease=60, limit=5, now=T0 + 3600), id="claim_due"),
    pytest.param(lambda j: j.record("held", Outcome("delivered"), owner="writer"), id="record"),
    pytest.param(lambda j: j.expire(1, now=T0 + 3600), id="expire"),
    pytest.param(lambda j: j.count("bots"), id="count"),
]


def with_leads(journal: SQLiteJournal) -> SQLiteJournal:
    """A journal with a lead held by ``writer`` and one nobody holds."""
    add(journal, "held")
    add_released(journal, "free", next_attempt=T0)
    return journal


@pytest.mark.parametrize("write", WRITES)
def test_writes_to_a_read_only_connection_raise_read_only(journal: SQLiteJournal, write: Any) -> None:
    with_leads(journal)._connection().execute("PRAGMA query_only = 1")
    with pytest.raises(JournalError) as failed:
        write(journal)
    assert failed.value.reason == "read-only" and "writable" in failed.value.fix
    assert not journal.writable()
    assert journal.get("held") is not None, "reading still works"
    journal._connection().execute("PRAGMA query_only = 0")
    assert journal.writable()
    write(journal)  # the failed write left no transaction behind


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """The files immutable (``chattr +i``): even root cannot write them, as SQLite opening one finds out."""
    done = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if result.returncode:
                pytest.skip(f"chattr +i does not work here ({result.stderr.strip()}): no honest read-only file "
                            "for a test running as root")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="chattr (e2fsprogs) is not installed: no honest "
                    "read-only file for a test running as root")
def test_a_read_only_journal_file_can_be_read_and_refuses_writes(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "leadkit.db"
    first = with_leads(SQLiteJournal(path, clock=clock))
    first.close()
    with immutable(path):
        journal = SQLiteJournal(path, clock=clock)
        try:
            assert [e.id for e in journal.entries()] == ["held", "free"]
            assert not journal.writable()
            for write in WRITES:
                with pytest.raises(JournalError) as failed:
                    write.values[0](journal)
                assert failed.value.reason == "read-only", write.id
        finally:
            journal.close()
    assert SQLiteJournal(path, clock=clock).writable(), "writable again once the file is"


def fill_up(journal: SQLiteJournal) -> int:
    """Add leads until the journal is full; how many it took."""
    for n in range(100_000):
        try:
            add(journal, f"{n:06d}", payload={"comment": "x" * 2000})
        except JournalError as full:
            assert full.reason == "disk full" and "free some disk space" in full.fix
            return n
    raise AssertionError("the journal never filled up")


def test_a_full_database_raises_disk_full_and_keeps_what_it_has(journal: SQLiteJournal) -> None:
    db = journal._connection()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 8}")  # SQLite's own limit: a disk of 8 more pages
    assert journal.writable()
    kept = fill_up(journal)
    assert kept > 0 and len(list(journal.entries())) == kept, "every lead written before it filled is there"
    assert not journal.writable()
    db.execute("PRAGMA max_page_count = 1000000")
    assert journal.writable()
    add(journal, "after")  # no transaction was left open by the failure


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system of 256 KiB (tmpfs), where a write past its end fails with ENOSPC."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode}): "
                    "the full-disk case is covered by SQLite's page limit")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_raises_disk_full(tiny_disk: Path, clock: FakeClock) -> None:
    journal = SQLiteJournal(tiny_disk / "leadkit.db", clock=clock)
    try:
        assert fill_up(journal) > 0
        assert not journal.writable()
        assert journal.get("000000") is not None
    finally:
        journal.close()


def test_a_lock_held_by_another_connection_raises_locked(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "leadkit.db"
    journal = with_leads(SQLiteJournal(path, busy_timeout=0.05, clock=clock))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(JournalError) as failed:
            add(journal, "1")
        assert failed.value.reason == "locked"
        assert not journal.writable()
        assert journal.get("held") is not None, "readers are not blocked (WAL)"
        with pytest.raises(JournalError, match=r"\(locked\)"):
            SQLiteJournal(path, busy_timeout=0.05)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert journal.writable()
    add(journal, "1")
    journal.close()


@pytest.mark.parametrize("use", [
    pytest.param(lambda j: j.get("1"), id="get"),
    pytest.param(lambda j: list(j.entries()), id="entries"),
    pytest.param(lambda j: j.stats(), id="stats"),
    pytest.param(lambda j: j.count("bots"), id="count"),
])
def test_a_journal_whose_folder_vanished_raises_cannot_open(tmp_path: Path, clock: FakeClock, use: Any) -> None:
    folder = tmp_path / "data"
    journal = SQLiteJournal(folder / "leadkit.db", clock=clock)
    journal.close()
    shutil.rmtree(folder)
    with pytest.raises(JournalError) as failed:
        use(journal)
    assert failed.value.reason == "cannot open"
    assert not journal.writable()


def test_a_rate_limit_is_still_rate_limited(any_journal: Journal) -> None:
    limit = Limit("ip", "203.0.113.7", 1, 600)
    any_journal.add(entry("1"), owner="w", lease=60, window=0, limits=[limit])
    with pytest.raises(RateLimited):
        any_journal.add(entry("2"), owner="w", lease=60, window=0, limits=[limit])
    assert any_journal.writable() and any_journal.get("2") is None


def test_a_rate_limit_counts_only_the_hits_within_its_window(any_journal: Journal, clock: FakeClock) -> None:
    """Two orders per 60 s from one key: the third waits for the first to leave the window, and is told
    how long; hits past the window are not counted (SQLite leaves them to prune)."""
    limit = Limit("phone", "77011234567", 2, 60)
    any_journal.add(entry("1"), owner="w", lease=60, window=0, limits=[limit])
    clock.advance(20)
    any_journal.add(entry("2"), owner="w", lease=60, window=0, limits=[limit])
    clock.advance(10)
    with pytest.raises(RateLimited) as refused:
        any_journal.add(entry("3"), owner="w", lease=60, window=0, limits=[limit])
    assert refused.value.retry_after == pytest.approx(30, abs=0.01), "the first hit leaves the window in 30 s"
    clock.advance(30)  # the first hit is exactly 60 s old: still in the window
    with pytest.raises(RateLimited):
        any_journal.add(entry("3"), owner="w", lease=60, window=0, limits=[limit])
    clock.advance(0.5)  # and now out of it
    stored, created = any_journal.add(entry("4"), owner="w", lease=60, window=0, limits=[limit])
    assert created and stored.id == "4" and stored.state == "pending" and stored.lease_owner == "w"
    with pytest.raises(RateLimited):
        any_journal.add(entry("5"), owner="w", lease=60, window=0, limits=[limit])
    assert any_journal.prune(None, hits_older_than=60)["hits"] <= 1  # the first, unless the add deleted it
    with pytest.raises(RateLimited):  # the hits within the window are kept
        any_journal.add(entry("5"), owner="w", lease=60, window=0, limits=[limit])
    other = Limit("phone", "77017654321", 2, 60)
    assert any_journal.add(entry("6"), owner="w", lease=60, window=0, limits=[other])[1], "another key, its own count"
