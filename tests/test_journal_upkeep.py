"""The journal's upkeep: the tallies its triggers keep (what health counts), pruning old leads and
rate-limit hits, and the node numbers that keep lead ids apart across processes. On both journals
(``any_journal``: SQLite, and PostgreSQL where it runs), but for the SQLite file's own tallies."""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from leadkit.journal import STATES, Journal, Limit, Outcome, SQLiteJournal
from leadkit.journal_outbox import Message
from leadkit.journal_status import StatusUpdate
from leadkit.lead import LeadIds
from journals import Journals, execute, wipe
from support import T0, FakeClock
from test_journal import add, entry, settle

DAY = 86400.0


def counted(journal: SQLiteJournal) -> dict[tuple[str, str, str], int]:
    """The leads counted the slow way, by landing, state and stage."""
    rows = journal._connection().execute(
        "SELECT landing, state, COALESCE(stage, ''), COUNT(*) FROM leads GROUP BY 1, 2, 3")
    return {(landing, state, stage): n for landing, state, stage, n in rows}


def tallied(journal: SQLiteJournal) -> dict[tuple[str, str, str], int]:
    rows = journal._connection().execute("SELECT landing, state, stage, n FROM tallies WHERE n != 0")
    return {(landing, state, stage): n for landing, state, stage, n in rows}


def assert_stats_count_the_leads(journal: Journal) -> None:
    """What :meth:`~leadkit.journal.Journal.stats` counts (from the tallies) is what the leads are."""
    leads = list(journal.entries())
    landings: dict[str, dict[str, int]] = {}
    for lead in leads:
        landings.setdefault(lead.landing, {state: 0 for state in STATES})[lead.state] += 1
    stats = journal.stats()
    assert stats["landings"] == dict(sorted(landings.items()))
    assert stats["counts"] == {state: sum(1 for lead in leads if lead.state == state) for state in STATES}
    assert stats["stages"] == dict(Counter(lead.stage or "unknown" for lead in leads if lead.state == "delivered"))


# -- the tallies ---------------------------------------------------------------------------------

OPERATIONS = st.lists(st.tuples(st.sampled_from(["add", "deliver", "reject", "stage", "expire", "prune"]),
                                 st.integers(0, 9), st.sampled_from(["", "sk", "ua"]),
                                 st.sampled_from(["wait", "hold", "approve", "trash"])), max_size=40)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_tallies_always_equal_the_leads_counted(journals: Journals, operations: list[Any]) -> None:
    clock = FakeClock()
    journal = journals.open(clock)
    wipe(journal)  # each example from an empty journal
    try:
        for operation, n, landing, stage in operations:
            lead_id = f"lead-{n}"
            known = journal.get(lead_id)
            if operation == "add" and known is None:
                add(journal, lead_id, landing=landing)
            elif operation in ("deliver", "reject") and known is not None and known.state == "pending":
                state = "delivered" if operation == "deliver" else "rejected"
                journal.record(lead_id, Outcome(state), owner="writer")
            elif operation == "stage" and known is not None and known.state == "delivered":
                journal.record_statuses([StatusUpdate(lead_id, stage)])
            elif operation == "expire":
                clock.advance(120)
                journal.expire(100)
            elif operation == "prune":
                clock.advance(2 * DAY)
                journal.prune(1, hits_older_than=60)
            assert_stats_count_the_leads(journal)
            if isinstance(journal, SQLiteJournal):
                assert tallied(journal) == counted(journal)
    finally:
        journal.close()


def test_a_journal_from_before_the_tallies_counts_its_leads_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "leadkit.db"
    journal = SQLiteJournal(path, clock=clock)
    settle(journal, "a", landing="sk")
    settle(journal, "b", "rejected")
    add(journal, "c")
    db = journal._connection()
    for name in ("tally_insert", "tally_update", "tally_delete"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE tallies")
    journal.close()

    again = SQLiteJournal(path, clock=clock)
    assert tallied(again) == counted(again) == {("sk", "delivered", ""): 1, ("", "rejected", ""): 1,
                                                ("", "pending", ""): 1}
    again.close()
    assert tallied(SQLiteJournal(path, clock=clock)) == counted(again), "opened again: not counted twice"


# -- pruning ----------------------------------------------------------------------------------------


def test_prune_deletes_old_settled_leads_and_their_messages_only(any_journal: Journal, clock: FakeClock) -> None:
    journal = any_journal
    settle(journal, "old-delivered", created=T0 - 40 * DAY)
    settle(journal, "old-rejected", "rejected", created=T0 - 40 * DAY)
    settle(journal, "old-with-a-pending-postback", created=T0 - 40 * DAY)
    add(journal, "old-pending", created=T0 - 40 * DAY)
    settle(journal, "young", created=T0 - 10 * DAY)
    journal.enqueue([Message("old-delivered", "postback:0", "lead", "GET", "https://t.example/a"),
                     Message("old-with-a-pending-postback", "postback:0", "lead", "GET", "https://t.example/b")])
    [sent] = [m for m in journal.claim_messages(owner="o", lease=60, limit=10) if m.lead_id == "old-delivered"]
    assert journal.record_message(sent.id, owner="o", state="sent")

    deleted = journal.prune(30, hits_older_than=3600)

    assert deleted == {"leads": 2, "messages": 1, "hits": 0}
    assert sorted(e.id for e in journal.entries()) == ["old-pending", "old-with-a-pending-postback", "young"]
    assert [m.lead_id for m in journal.messages()] == ["old-with-a-pending-postback"]
    assert_stats_count_the_leads(journal)
    assert journal.outbox_counts() == {"pending": 1, "sent": 0, "failed": 0}
    assert journal.prune(None, hits_older_than=3600) == {"leads": 0, "messages": 0, "hits": 0}


def test_prune_deletes_rate_limit_hits_past_their_window_in_batches(any_journal: Journal,
                                                                     clock: FakeClock) -> None:
    journal = any_journal
    for n in range(2500):
        journal.add(entry(f"l{n}", created=T0), owner="o", lease=60, window=0,
                    limits=[Limit("ip", f"10.0.{n // 250}.{n % 250}", 10, 600)])
    clock.advance(3600)
    journal.add(entry("fresh"), owner="o", lease=60, window=0, limits=[Limit("ip", "10.9.9.9", 10, 600)])

    deleted = journal.prune(None, hits_older_than=600)

    assert deleted["hits"] == 2500 and deleted["leads"] == 0
    assert execute(journal, "SELECT COUNT(*) FROM hits") == [(1,)]


def test_health_counts_do_not_read_the_leads(journal: SQLiteJournal) -> None:
    for n in range(50):
        settle(journal, f"d{n}", landing=random.choice(["", "sk"]))
    seen: list[str] = []
    db = journal._connection()
    db.set_trace_callback(seen.append)
    try:
        stats = journal.stats()
    finally:
        db.set_trace_callback(None)
    assert stats["counts"]["delivered"] == 50
    for sql in seen:
        if "FROM leads" in sql:
            plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN leads" not in plan or "COVERING INDEX" in plan, plan


# -- lead ids ------------------------------------------------------------------------------------


def test_each_call_of_node_gives_the_next_number(any_journal: Journal) -> None:
    journal = any_journal
    first = journal.node()
    assert [journal.node() for _ in range(3)] == [(first + n) % 1000 for n in (1, 2, 3)]
    assert "lead_id_nodes" not in journal.stats()["counters"], "not one of the operator's counters"


def test_ids_in_one_millisecond_are_distinct_and_ordered() -> None:
    ids = LeadIds(lambda: 42, clock=lambda: 1_764_171_234_567_000_000)
    made = [ids() for _ in range(2500)]
    assert len(set(made)) == 2500 and made == sorted(made, key=int)
    assert made[0] == "1764171234567042000" and all(len(i) == 19 and i.isdigit() for i in made)
    assert int(made[-1]) < 2 ** 63, "within a signed 64-bit integer"


def _ids_of_a_process(journals: Journals, count: int, queue: Any) -> None:
    journal = journals.open()
    ids = LeadIds(journal.node, clock=lambda: 1_764_171_234_567_000_000)  # every process in the same millisecond
    queue.put([ids() for _ in range(count)])
    journal.close()


def test_processes_on_one_journal_never_make_the_same_id(journals: Journals) -> None:
    journals.open().close()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_ids_of_a_process, args=(journals, 300, queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    made = [lead_id for _ in workers for lead_id in queue.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert len(made) == 1200 and len(set(made)) == 1200, "four workers in the same millisecond, no id twice"


def test_a_process_whose_journal_could_not_give_a_node_asks_again() -> None:
    answers: list[object] = [RuntimeError("the database is down"), 7]

    def node() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    ids = LeadIds(node, clock=lambda: 1_764_171_234_567_000_000)
    first = ids()  # a random node for this one id
    second = ids()
    assert second.endswith("007001") or second.endswith("007000"), "the journal's node, once it can say"
    assert answers == [] and first != second
