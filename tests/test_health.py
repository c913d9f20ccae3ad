"""What /leadkit/health says (leadkit.health): the status from the journal, who may see the counts,
and the ``site.health_token`` setting that decides it. The route itself: tests/test_middleware.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from failing_journal import FailingJournal
from leadkit.config import ConfigError, config_from_mapping
from leadkit.health import RECENT, check_health, token_access
from leadkit.journal import Entry, Outcome, SQLiteJournal
from support import HEALTH_TOKEN, KEY, SECRET

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
