"""What only the PostgreSQL journal has (the contract's tests run on it too, with ``any_journal``): adds
racing in several processes (a double submit makes one lead, a limit of N lets N through), claims that
pass over locked rows instead of waiting, migrations run once however many servers start together, a
database restarted, stopped and killed under the journal, timeouts, the URL's password kept out of every
error and log line, NUL in text, and psycopg missing.

The throwaway server is ``tests/postgres.py``'s; every test has a database of its own (``postgres_url``).
Time passes on a :class:`~support.FakeClock`; waits are for state, with a deadline.
"""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator

import pytest

from leadkit.errors import JournalError, RateLimited
from leadkit.health import check_health
from leadkit.journal import Entry, Limit, Outcome
from leadkit.journal_outbox import Message
from leadkit.journal_status import StatusUpdate
from postgres import POSTGRES_MISSING, PostgresServer
from support import T0, FakeClock, wait_for

psycopg = pytest.importorskip("psycopg", reason=POSTGRES_MISSING or "psycopg is not installed")
from leadkit.journal_pg import PostgresJournal  # noqa: E402 - after the skip: it needs psycopg
from leadkit.journal_pg_schema import LATEST  # noqa: E402

PASSWORD = "Pg-s3cret-of-the-test"  # the throwaway server trusts everyone: any password connects
fork_warning = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def lead(lead_id: str, **fields: Any) -> Entry:
    return Entry(id=lead_id, call="wm/push", payload={"phone": "77001234567"}, **fields)


@pytest.fixture()
def journal(postgres_url: str, clock: FakeClock) -> Iterator[PostgresJournal]:
    made = PostgresJournal(postgres_url, clock=clock)
    yield made
    made.close()


def raw(url: str) -> Any:
    """A connection of the test's own, outside the journal (autocommit)."""
    return psycopg.connect(url, autocommit=True)


# -- adds racing across processes ---------------------------------------------------------------

PROCESSES = 4


def _adder(url: str, process: int, rounds: int, limit: int | None, start: Any, out: Any) -> None:
    """One server's adds, all servers together in each round: of the round's order (the same fingerprint
    in every process), or of orders against the round's ``limit``; what each came to."""
    try:
        journal = PostgresJournal(url)
        results: list[tuple[int, str]] = []
        for n in range(rounds):
            entry = lead(f"{n}-{process}", fingerprint=None if limit else f"order-{n}")
            limits = [Limit("ip", f"203.0.113.{n}", limit, 600)] if limit else []
            start.wait(30)
            try:
                stored, created = journal.add(entry, owner=f"p{process}", lease=60, window=600, limits=limits)
                results.append((n, stored.id if not created else f"new:{stored.id}"))
            except RateLimited:
                results.append((n, "limited"))
        journal.close()
        out.put((process, results, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put((process, [], repr(exc)))


def race_adds(url: str, rounds: int, limit: int | None = None) -> list[tuple[int, str]]:
    PostgresJournal(url).close()  # migrated before the race: the race is about the adds
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=_adder, args=(url, n, rounds, limit, start, out)) for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert [error for _, _, error in results if error] == []
    return [result for _, each, _ in results for result in each]


@fork_warning
def test_one_order_submitted_at_once_by_several_servers_makes_one_lead(postgres_url: str) -> None:
    results = race_adds(postgres_url, rounds=30)
    journal = PostgresJournal(postgres_url)
    try:
        for n in range(30):
            made = [lead_id for round_, lead_id in results if round_ == n and lead_id.startswith("new:")]
            assert len(made) == 1, f"order {n}: {made}"
            first = made[0].removeprefix("new:")
            assert sorted(lead_id for round_, lead_id in results if round_ == n and lead_id != made[0]) == \
                [first] * (PROCESSES - 1), "the others were handed the first one's lead"
        assert len(list(journal.entries())) == 30
        assert journal.stats()["counts"]["pending"] == 30
    finally:
        journal.close()


@fork_warning
def test_a_limit_of_n_lets_exactly_n_through_across_servers(postgres_url: str) -> None:
    results = race_adds(postgres_url, rounds=30, limit=2)  # each round, four orders at once from one address
    for n in range(30):
        assert sorted(outcome.split(":")[0] for round_, outcome in results if round_ == n) == \
            ["limited", "limited", "new", "new"], f"round {n}"
    with raw(postgres_url) as db:
        assert db.execute("SELECT COUNT(*) FROM leads").fetchone() == (60,)
        assert db.execute("SELECT COUNT(*) FROM hits").fetchone() == (60,)


def test_threads_of_one_server_share_its_pool_and_the_limits(journal: PostgresJournal) -> None:
    limit = Limit("phone", "77001234567", 7, 600)
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def order(n: int) -> None:
        start.wait(30)
        try:
            _, created = journal.add(lead(f"t{n}", fingerprint=f"fp-{n % 3}"), owner="w", lease=60, window=600,
                                     limits=[limit])
            outcomes.append("new" if created else "again")
        except RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=order, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["again"] * 9 + ["new"] * 3, "three orders, each made once: under the limit"


# -- claims pass over what another server is claiming -----------------------------------------------


class RowLock:
    """A transaction of another server's, holding ``rows`` of ``table`` locked until :meth:`release`."""

    def __init__(self, url: str, table: str, where: str, *params: Any) -> None:
        self.db = psycopg.connect(url)
        self.db.execute(f"SELECT 1 FROM {table} WHERE {where} FOR UPDATE".encode(), params)

    def release(self) -> None:
        self.db.rollback()
        self.db.close()


def test_a_lead_being_claimed_elsewhere_is_passed_over_not_waited_for(journal: PostgresJournal, postgres_url: str,
                                                                      clock: FakeClock) -> None:
    for n in range(3):
        journal.add(lead(f"{n}"), owner="first", lease=0, window=0)
    clock.advance(1)
    held = RowLock(postgres_url, "leads", "id = %s", "0")
    try:
        began = time.monotonic()
        claimed = journal.claim_due(owner="relay", lease=60, limit=10)
        assert [e.id for e in claimed] == ["1", "2"], "the locked lead skipped, the others claimed"
        assert time.monotonic() - began < 5, "without waiting for the other transaction"
    finally:
        held.release()
    assert [e.id for e in journal.claim_due(owner="relay-2", lease=60, limit=10)] == ["0"]


def test_messages_and_checks_being_claimed_elsewhere_are_passed_over(journal: PostgresJournal, postgres_url: str,
                                                                     clock: FakeClock) -> None:
    for lead_id in ("a", "b"):
        journal.add(lead(lead_id), owner="o", lease=60, window=0)
        assert journal.record(lead_id, Outcome("delivered", next_check=T0), owner="o",
                              messages=[Message(lead_id, "postback:1", "lead", "GET", f"https://t.example/{lead_id}")])
    held = [RowLock(postgres_url, "outbox", "lead_id = %s", "a"), RowLock(postgres_url, "leads", "id = %s", "a")]
    try:
        assert [m.lead_id for m in journal.claim_messages(owner="d", lease=60, limit=10)] == ["b"]
        assert [e.id for e in journal.claim_checks(call="wm/push", lease=60, limit=10)] == ["b"]
    finally:
        for lock in held:
            lock.release()
    assert [m.lead_id for m in journal.claim_messages(owner="d", lease=60, limit=10)] == ["a"]
    assert [e.id for e in journal.claim_checks(call="wm/push", lease=60, limit=10)] == ["a"]


# -- schema versions and migrations -------------------------------------------------------------------------


def versions(url: str) -> list[int]:
    with raw(url) as db:
        return [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY version")]


def test_a_fresh_database_is_migrated_once_and_then_left_alone(postgres_url: str) -> None:
    first = PostgresJournal(postgres_url)
    assert first.migrate() == (0, LATEST), "found empty when opened, up to date now"
    assert versions(postgres_url) == list(range(1, LATEST + 1))
    first.add(lead("1"), owner="o", lease=60, window=0)
    first.close()
    again = PostgresJournal(postgres_url)
    assert again.migrate() == (LATEST, LATEST)
    assert versions(postgres_url) == list(range(1, LATEST + 1)), "nothing applied twice"
    assert again.get("1") is not None
    again.close()


def test_servers_starting_together_on_a_fresh_database_agree(postgres_server: PostgresServer) -> None:
    url = postgres_server.fresh_database()
    start = threading.Barrier(6)
    opened: list[PostgresJournal] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            start.wait(30)
            opened.append(PostgresJournal(url))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == [] and len(opened) == 6
        assert versions(url) == list(range(1, LATEST + 1))
        assert sorted(each.migrate() for each in opened) == [(0, LATEST)] + [(LATEST, LATEST)] * 5, \
            "one of them migrated; the others waited for it and found it done"
    finally:
        for each in opened:
            each.close()
        postgres_server.drop_database(url)


def test_a_database_a_newer_leadkit_migrated_is_refused(postgres_url: str) -> None:
    PostgresJournal(postgres_url).close()
    with raw(postgres_url) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (%s)", (LATEST + 1,))
    with pytest.raises(JournalError) as refused:
        PostgresJournal(postgres_url)
    assert refused.value.reason == "newer schema" and "upgrade leadkit" in refused.value.fix


# -- the database going away and coming back ----------------------------------------------------------------


def fails(call: Callable[[], object]) -> JournalError:
    with pytest.raises(JournalError) as failed:
        call()
    return failed.value


def test_a_restart_of_the_database_is_not_noticed(journal: PostgresJournal, postgres_server: PostgresServer) -> None:
    journal.add(lead("before"), owner="o", lease=60, window=0)
    postgres_server.restart()  # the pool's connection is broken now, and no call has found out yet
    journal.add(lead("after"), owner="o", lease=60, window=0)  # a fresh connection, the same journal
    assert [e.id for e in journal.entries()] == ["before", "after"]
    assert journal.writable()


def test_a_stopped_database_fails_calls_fast_and_the_journal_recovers_by_itself(
        journal: PostgresJournal, postgres_server: PostgresServer) -> None:
    journal.add(lead("1"), owner="o", lease=60, window=0)
    assert journal.writable()
    postgres_server.stop()
    began = time.monotonic()
    assert not journal.writable()
    assert time.monotonic() - began < 1.5, "health can answer 503 within about a second"
    for call in (lambda: journal.add(lead("2"), owner="o", lease=60, window=0), lambda: journal.get("1"),
                 lambda: journal.stats(), lambda: journal.claim_due(owner="r", lease=60, limit=5),
                 lambda: journal.record("1", Outcome("delivered"), owner="o")):
        began = time.monotonic()
        error = fails(call)
        assert time.monotonic() - began < 2, "fails as soon as the pool cannot connect, not after its wait"
        assert (error.reason, error.path) == ("unreachable", journal.location)
        assert str(postgres_server.port) in error.fix
    postgres_server.start()
    assert journal.writable(), "the next call connects again: no new journal needed"
    journal.add(lead("2"), owner="o", lease=60, window=0)
    assert journal.record("1", Outcome("delivered"), owner="o")
    assert journal.stats()["counts"]["pending"] == 1


def test_health_says_503_within_about_a_second_while_the_database_is_down(
        journal: PostgresJournal, postgres_server: PostgresServer) -> None:
    assert check_health(journal, T0).code == 200
    postgres_server.stop()
    began = time.monotonic()
    health = check_health(journal, T0)
    assert (health.code, health.details["problem"]) == (503, "the lead journal cannot be written: the log says why")
    assert time.monotonic() - began < 2
    postgres_server.start()
    assert check_health(journal, T0).code == 200


def test_a_killed_database_recovers_every_committed_lead(journal: PostgresJournal,
                                                          postgres_server: PostgresServer) -> None:
    for n in range(20):
        journal.add(lead(f"{n}"), owner="o", lease=60, window=0)
    postgres_server.kill()
    assert not journal.writable()
    assert fails(lambda: journal.get("1")).reason == "unreachable"
    postgres_server.start()
    assert len(list(journal.entries())) == 20, "each add returned once its lead was on disk"


def test_a_statement_that_waits_too_long_times_out(postgres_url: str, clock: FakeClock) -> None:
    journal = PostgresJournal(postgres_url, clock=clock, statement_timeout=0.3)
    try:
        journal.add(lead("1"), owner="o", lease=60, window=0)
        held = RowLock(postgres_url, "leads", "id = %s", "1")
        try:
            error = fails(lambda: journal.record("1", Outcome("delivered"), owner="o"))
            assert error.reason == "timeout" and "pg_stat_activity" in error.fix
        finally:
            held.release()
        assert journal.record("1", Outcome("delivered"), owner="o"), "the connection is still good"
    finally:
        journal.close()


def test_a_busy_pool_makes_a_call_wait_its_time_then_fail(postgres_url: str, clock: FakeClock) -> None:
    journal = PostgresJournal(postgres_url, clock=clock, pool_size=1, wait=0.3)
    journal.add(lead("1"), owner="o", lease=60, window=0)
    held = RowLock(postgres_url, "leads", "id = %s", "1")
    blocked = threading.Thread(target=lambda: journal.record("1", Outcome("delivered"), owner="o"))
    try:
        blocked.start()  # takes the pool's one connection and waits for the lock
        with raw(postgres_url) as db:
            assert wait_for(lambda: db.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = "
                                               "'Lock' AND application_name = 'leadkit'").fetchone()[0] == 1)
        error = fails(lambda: journal.get("1"))
        assert error.reason == "timeout" and "busy" in error.fix
    finally:
        held.release()
        blocked.join(30)
        journal.close()


# -- the password stays out of errors and logs ---------------------------------------------------------------


def with_password(url: str) -> str:
    return url.replace("postgresql://leadkit@", f"postgresql://leadkit:{PASSWORD}@")


def told(error: BaseException) -> str:
    """All an operator could see of an error: its text, its data, its traceback with its causes."""
    return " ".join([str(error), repr(error), *map(str, vars(error).values()),
                     "".join(traceback.format_exception(error))])


def test_the_password_is_in_no_error_and_no_log_line(postgres_url: str, postgres_server: PostgresServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = with_password(postgres_url)
    seen: list[str] = []
    journal = PostgresJournal(url)
    journal.add(lead("1"), owner="o", lease=60, window=0)
    assert journal.location == postgres_url.replace("leadkit@", "")
    postgres_server.stop()
    try:
        for call in (journal.stats, lambda: journal.add(lead("2"), owner="o", lease=60, window=0),
                     lambda: PostgresJournal(url)):
            seen.append(told(fails(call)))
        assert not journal.writable()
    finally:
        postgres_server.start()
    journal.close()
    base = url.rsplit("/", 1)[0]
    for bad in (f"{base}/no_such_database", base.replace(f":{PASSWORD}@", f":{PASSWORD}%zz@") + "/x",
                f"{base}/x?sslmode=bogus"):
        seen.append(told(fails(lambda: PostgresJournal(bad))))
    assert [s for s in seen if "unreachable" in s] and [s for s in seen if "no database" in s]
    logged = [record.getMessage() + ("".join(traceback.format_exception(*record.exc_info)) if record.exc_info else "")
              for record in caplog.records]
    assert logged, "the pool logged its failures"
    assert not [text for text in seen + logged if PASSWORD in text]


# -- text, NUL and all ---------------------------------------------------------------------------------------


def test_nul_and_other_unstorable_text_never_fails_a_row(journal: PostgresJournal) -> None:
    nul = "a\x00b\udcffc"
    stored, created = journal.add(
        Entry(id="1\x00", call="wm/push\x00", payload={"name": nul, nul: [nul, {"k": nul}]}, fingerprint=nul,
              landing=nul, tags={"utm_source": nul, nul: "x"}, clicks={"fbclid": nul}),
        owner=nul, lease=60, window=60, limits=[Limit("ip\x00", nul, 5, 600)])
    assert created and stored.id == "1 " and stored.call == "wm/push " and stored.landing == "a b\ufffdc"
    assert stored.payload == {"name": "a\ufffdb\ufffdc", "a\ufffdb\ufffdc": ["a\ufffdb\ufffdc", {"k": "a\ufffdb\ufffdc"}]}
    assert stored.tags == {"utm_source": "a b\ufffdc", "a b\ufffdc": "x"} and stored.clicks == {"fbclid": "a b\ufffdc"}
    again, created = journal.add(lead("2", fingerprint=nul), owner="o", lease=60, window=60)
    assert not created and again.id == "1 ", "the fingerprint as stored is the one compared"
    message = Message("1 ", "postback:1", "lead", "POST", f"https://t.example/?q={nul}", body=nul,
                      headers={"X-Note": nul})
    assert journal.record("1 ", Outcome("delivered", error=nul, network_id=nul, bad=(nul,), next_check=T0),
                          owner=nul, messages=[message])
    journal.record_statuses([StatusUpdate("1 ", nul, payout=1.0)])
    journal.count(nul)
    [kept] = journal.messages()
    assert (kept.url, kept.body, dict(kept.headers)) == ("https://t.example/?q=a b\ufffdc", "a b\ufffdc",
                                                        {"X-Note": "a\ufffdb\ufffdc"})
    got = journal.get("1 ")
    assert got is not None and (got.network_id, got.bad, got.stage) == ("a b\ufffdc", ("a b\ufffdc",), "a b\ufffdc")
    assert journal.stats()["counters"] == {"a b\ufffdc": 1}
    assert [(r.group, r.leads) for r in journal.report(by="utm_source", since=None, until=None, landing=None)] == \
        [("a b\ufffdc", 1)]


# -- the rest of the machinery ---------------------------------------------------------------------------------


def test_health_reads_tallies_and_an_index_not_the_leads(journal: PostgresJournal, postgres_url: str) -> None:
    with raw(postgres_url) as db:
        db.execute("INSERT INTO leads (id, created, updated, state, call, payload, landing) SELECT 'd' || g, g, g, "
                   "'delivered', 'wm/push', '{}', 'l' || (g % 7) FROM generate_series(1, 30000) AS g")
        db.execute("ANALYZE leads")
        plan = " ".join(row[0] for row in db.execute("EXPLAIN SELECT MIN(created) FROM leads WHERE state = 'pending'"))
        assert "leads_pending" in plan and "Seq Scan on leads" not in plan, plan
        assert db.execute("SELECT COUNT(*) FROM tallies").fetchone()[0] <= 7 * 16, "a row per landing and backend"
    stats = journal.stats()
    assert stats["counts"]["delivered"] == 30000 and len(stats["landings"]) == 7


def test_durability_and_timeouts_are_set_on_every_connection(journal: PostgresJournal) -> None:
    settings = journal._run(lambda db: db.execute("SELECT current_setting('synchronous_commit'), "
                                                  "current_setting('statement_timeout'), "
                                                  "current_setting('application_name')").fetchone(),
                            transaction=False)
    assert settings == ("on", "10s", "leadkit")


def _child_uses(journal: PostgresJournal, out: Any) -> None:
    try:
        journal.add(lead("child"), owner="c", lease=60, window=0)
        journal.close()  # the child's own pool; its parent's connections are left alone
        out.put(None)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put(repr(exc))


@fork_warning
def test_a_child_process_makes_its_own_pool_and_leaves_its_parent_s(journal: PostgresJournal) -> None:
    journal.add(lead("parent"), owner="p", lease=60, window=0)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child_uses, args=(journal, out))
    child.start()
    assert out.get(timeout=60) is None
    child.join(30)
    journal.add(lead("after"), owner="p", lease=60, window=0)  # the parent's pooled connection still works
    assert [e.id for e in journal.entries()] == ["parent", "child", "after"]


def test_a_closed_journal_opens_a_new_pool_when_used_again(journal: PostgresJournal) -> None:
    journal.add(lead("1"), owner="o", lease=60, window=0)
    journal.close()
    journal.close()
    assert journal.get("1") is not None


def test_read_only_database_is_read_but_refuses_writes(journal: PostgresJournal, postgres_url: str,
                                                       clock: FakeClock) -> None:
    journal.add(lead("1"), owner="o", lease=60, window=0)
    standby = PostgresJournal(f"{postgres_url}?options=-c%20default_transaction_read_only%3Don", clock=clock)
    try:
        assert standby.get("1") is not None and not standby.writable()
        error = fails(lambda: standby.add(lead("2"), owner="o", lease=60, window=0))
        assert error.reason == "read-only" and "primary" in error.fix
    finally:
        standby.close()


def test_without_psycopg_the_import_says_what_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "try:\n    import leadkit.journal_pg\nexcept ImportError as exc:\n    print(exc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'leadkit[postgres]'" in done.stdout, done.stdout + done.stderr
