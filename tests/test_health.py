"""What /leadkit/health says (leadkit.health): the status from the journal, who may see the counts
(and the counts per landing), and the ``site.health_token`` setting that decides it. The route itself:
tests/test_middleware.py; here only that the counts per landing reach the operator and nobody else."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from werkzeug.test import Client

from failing_journal import FailingJournal
from leadkit import LeadKit
from leadkit.config_file import config_from_mapping
from leadkit.errors import ConfigError
from leadkit.health import RECENT, check_health, token_access
from leadkit.journal import Entry, Outcome, SQLiteJournal
from support import HEALTH_TOKEN, KEY, SECRET, make_config

NOW = time.time()


@pytest.fixture()
def journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    journal = SQLiteJournal(tmp_path / "leadkit.db")
    yield journal
    journal.close()


def refused(journal: SQLiteJournal, code: str, created: float, counted: bool = True) -> None:
    """A lead created at ``created`` that the network refused with ``code``, counted as the relay does."""
    entry, _ = journal.add(Entry(id=f"lead-{code}-{created}", call="wm/push", payload={}, created=created),
                           owner="o", lease=60, window=0)
    journal.record(entry.id, Outcome("rejected", error_code=code), owner="o")
    if counted:
        journal.count(f"site_problem_{code}")


# -- the status ---------------------------------------------------------------------------------

def test_a_healthy_journal_is_ok_with_its_counts(journal: SQLiteJournal) -> None:
    health = check_health(journal, NOW)
    assert (health.status, health.code) == ("ok", 200)
    assert health.details["leads"] == {"pending": 0, "delivered": 0, "rejected": 0, "dead": 0}
    assert health.details["counters"] == {} and health.details["oldest_pending_age"] is None
    assert "landings" not in health.details, "no leads, no landings"


@pytest.mark.parametrize("failing", [
    pytest.param(("add",), id="cannot-write"),
    pytest.param(("stats",), id="cannot-read"),
    pytest.param(("add", "stats"), id="neither"),
])
def test_a_journal_that_cannot_be_written_is_unavailable(journal: SQLiteJournal, failing: tuple[str, ...]) -> None:
    health = check_health(FailingJournal(journal, *failing, reason="read-only"), NOW)
    assert (health.status, health.code) == ("unavailable", 503)
    assert "cannot" in health.details["problem"]


@pytest.mark.parametrize(("code", "age", "counted", "status"), [
    pytest.param("key", 60, True, "degraded", id="site-problem-a-minute-ago"),
    pytest.param("offer", RECENT - 60, True, "degraded", id="site-problem-within-the-hour"),
    pytest.param("key", RECENT + 60, True, "ok", id="site-problem-long-ago"),
    pytest.param("ban", 60, False, "ok", id="the-customer-s-refusal"),
    pytest.param("key", 60, False, "ok", id="not-counted-as-the-site-s"),
])
def test_recent_refusals_because_of_the_site_make_it_degraded(journal: SQLiteJournal, code: str, age: float,
                                                              counted: bool, status: str) -> None:
    refused(journal, code, NOW - age, counted)
    health = check_health(journal, NOW)
    assert (health.status, health.code) == (status, 200)


def test_degraded_does_not_hide_an_unwritable_journal(journal: SQLiteJournal) -> None:
    refused(journal, "key", NOW - 60)
    assert check_health(FailingJournal(journal, "add"), NOW).status == "unavailable"


# -- the counts per landing ------------------------------------------------------------------------

def landed(journal: SQLiteJournal, lead_id: str, landing: str, state: str = "delivered") -> None:
    """A lead of ``landing`` in ``state`` (a pending one stays held by its writer)."""
    journal.add(Entry(id=lead_id, call="wm/push", payload={}, landing=landing), owner="o", lease=60, window=0)
    if state != "pending":
        journal.record(lead_id, Outcome(state), owner="o")


def three_landings(journal: SQLiteJournal) -> None:
    landed(journal, "d1", "")
    landed(journal, "s1", "sk")
    landed(journal, "s2", "sk", "pending")
    landed(journal, "s3", "sk", "rejected")
    landed(journal, "q1", "pl-quiz", "pending")


#: The counts per landing :func:`three_landings` makes, as health shows them: the default landing as ``-``.
THREE_LANDINGS = {"-": {"pending": 0, "delivered": 1, "rejected": 0, "dead": 0},
                  "pl-quiz": {"pending": 1, "delivered": 0, "rejected": 0, "dead": 0},
                  "sk": {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}}


def test_the_counts_per_landing_when_leads_came_from_more_than_one(journal: SQLiteJournal) -> None:
    three_landings(journal)
    health = check_health(journal, NOW)
    assert health.status == "ok" and health.details["landings"] == THREE_LANDINGS
    assert list(health.details["landings"]) == ["-", "pl-quiz", "sk"]
    assert health.details["leads"] == {"pending": 2, "delivered": 2, "rejected": 1, "dead": 0}, "the totals stay"


@pytest.mark.parametrize("landing", [pytest.param("", id="the-default-landing"), pytest.param("sk", id="sk")])
def test_leads_of_one_landing_need_no_counts_per_landing(journal: SQLiteJournal, landing: str) -> None:
    landed(journal, "1", landing)
    landed(journal, "2", landing, "pending")
    health = check_health(journal, NOW)
    assert "landings" not in health.details and health.details["leads"]["delivered"] == 1


def test_the_counts_per_landing_also_when_the_journal_cannot_be_written(journal: SQLiteJournal) -> None:
    three_landings(journal)
    health = check_health(FailingJournal(journal, "add"), NOW)
    assert health.status == "unavailable" and health.details["landings"] == THREE_LANDINGS


class JournalWithoutLandings(FailingJournal):
    """A journal of one's own from before landings: its stats count no landings."""

    def stats(self, now: float | None = None) -> dict[str, Any]:
        stats = super().stats(now)
        del stats["landings"]
        return stats


def test_a_journal_that_counts_no_landings_is_still_healthy(journal: SQLiteJournal) -> None:
    three_landings(journal)
    health = check_health(JournalWithoutLandings(journal), NOW)
    assert health.status == "ok" and "landings" not in health.details
    assert health.details["leads"]["delivered"] == 2


def statements_of_a_check(journal: SQLiteJournal) -> list[str]:
    """The SQL a health check runs, in order."""
    seen: list[str] = []
    db = journal._connection()
    db.set_trace_callback(seen.append)
    try:
        check_health(journal, NOW)
    finally:
        db.set_trace_callback(None)
    return seen


def test_a_check_costs_the_same_however_many_landings(journal: SQLiteJournal) -> None:
    three_landings(journal)
    few = statements_of_a_check(journal)
    for n in range(20):
        landed(journal, f"more-{n}", f"landing-{n}", ("delivered", "rejected", "pending")[n % 3])
    many = statements_of_a_check(journal)
    assert len(many) == len(few) and len(check_health(journal, NOW).details["landings"]) == 23
    assert len([sql for sql in many if "FROM leads" in sql]) == 1, "one grouped query reads the leads"


OPERATOR = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


@pytest.mark.parametrize(("headers", "landings"), [
    pytest.param(OPERATOR, True, id="the-operator"),
    pytest.param({}, False, id="anyone"),
])
def test_the_route_shows_the_counts_per_landing_to_the_operator_only(journal: SQLiteJournal, headers: dict[str, str],
                                                                     landings: bool) -> None:
    three_landings(journal)
    with LeadKit(lambda e, s: [], make_config(site={"health_token": HEALTH_TOKEN}), journal=journal) as kit:
        response = Client(kit).get("/leadkit/health", headers=headers)
    assert response.status_code == 200
    if landings:
        assert response.json["landings"] == THREE_LANDINGS
    else:
        assert response.json == {"status": "ok"}


# -- who sees the counts -----------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "token", "access"), [
    pytest.param(f"Bearer {HEALTH_TOKEN}", HEALTH_TOKEN, True, id="the-token"),
    pytest.param(f"bearer   {HEALTH_TOKEN} ", HEALTH_TOKEN, True, id="scheme-any-case-spaces"),
    pytest.param(None, HEALTH_TOKEN, None, id="no-header-public"),
    pytest.param("", HEALTH_TOKEN, None, id="empty-header-public"),
    pytest.param("Bearer wrong-token-0123456789", HEALTH_TOKEN, False, id="wrong-token"),
    pytest.param(f"Bearer {HEALTH_TOKEN[:-1]}", HEALTH_TOKEN, False, id="a-prefix-of-the-token"),
    pytest.param(f"Basic {HEALTH_TOKEN}", HEALTH_TOKEN, False, id="another-scheme"),
    pytest.param("Bearer", HEALTH_TOKEN, False, id="no-token"),
    pytest.param("Bearer тест-токен", HEALTH_TOKEN, False, id="non-ascii"),
    pytest.param(f"Bearer {HEALTH_TOKEN}", None, None, id="no-setting-nobody"),
])
def test_token_access(header: str | None, token: str | None, access: bool | None) -> None:
    assert token_access(header, token) is access


# -- the setting ------------------------------------------------------------------------------------

def site(environ: dict[str, str] | None = None, argument: str | None = None, **values: object) -> object:
    """The [site] section from a file holding ``values``, the environment and a keyword argument."""
    data = {"network": {"api": "http://127.0.0.1:9/api", "key": KEY}, "offer": {"offer": 217, "flow": 42,
            "country": "kz"}, "site": {"secret": SECRET, **values}}
    sections = {"site": {"health_token": argument}} if argument else {}
    return config_from_mapping(data, environ=environ or {}, **sections).site


def test_the_health_token_is_off_by_default() -> None:
    assert site().health_token is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(("environ", "in_file", "argument", "expected"), [
    pytest.param({}, HEALTH_TOKEN, None, HEALTH_TOKEN, id="from-the-file"),
    pytest.param({"LEADKIT_HEALTH_TOKEN": HEALTH_TOKEN}, None, None, HEALTH_TOKEN, id="from-the-environment"),
    pytest.param({"LEADKIT_HEALTH_TOKEN": HEALTH_TOKEN}, "file-token-0123456789", None, HEALTH_TOKEN,
                 id="the-environment-beats-the-file"),
    pytest.param({"LEADKIT_HEALTH_TOKEN": "env-token-0123456789"}, None, HEALTH_TOKEN, HEALTH_TOKEN,
                 id="an-argument-beats-the-environment"),
    pytest.param({}, f"  {HEALTH_TOKEN}\n", None, HEALTH_TOKEN, id="spaces-around-dropped"),
])
def test_the_health_token_like_the_other_secrets(environ: dict[str, str], in_file: str | None,
                                                  argument: str | None, expected: str) -> None:
    config = site(environ, argument, **({"health_token": in_file} if in_file else {}))
    assert config.health_token == expected  # type: ignore[attr-defined]
    assert expected not in repr(config)


@pytest.mark.parametrize(("value", "says"), [
    pytest.param("short-token", "too short", id="too-short"),
    pytest.param("a token with spaces inside", "spaces", id="spaces-inside"),
    pytest.param(12345678901234567890, "missing", id="not-text"),
])
def test_a_bad_health_token_is_refused_without_being_repeated(value: object, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        site(health_token=value)
    (problem,) = caught.value.problems
    assert (problem.key, problem.id, problem.value) == ("site.health_token", "leadkit.E049", None)
    assert says in problem.message and str(value) not in str(caught.value)
