"""``leadkit report``: a hand-made journal counted per tag, landing, country and day, the period's bounds,
the table's alignment, the CSV read back, and the refusals (an unknown grouping, a bad day). What reads a
journal runs on both (``journals``: SQLite, and PostgreSQL where it runs)."""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from leadkit.cli import main
from leadkit.journal import Entry, Journal
from leadkit.journal_report import GROUPINGS
from leadkit.report import NO_VALUE, Period, ReportRow, format_table, period, write_csv
from leadkit.report_cli import add_report_command, run_report
from journals import Journals, set_lead
from support import FakeClock


def at(day: str, seconds: float = 12 * 3600) -> float:
    """A Unix time ``seconds`` into the UTC day ``day``."""
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() + seconds


def put(journal: Journal, lead_id: str, created: float, *, tags: dict[str, str] | None = None,
        landing: str = "", country: str | None = "kz", state: str = "pending", stage: str | None = None,
        payout: float | None = None) -> None:
    """One lead as the journal keeps it, with the state, stage and payout the network's answers left."""
    payload = {"name": "Ann", **({"country": country} if country is not None else {})}
    journal.add(Entry(id=lead_id, call="wm/push", payload=payload, created=created, tags=tags or {},
                      landing=landing), owner="test", lease=60, window=0)
    set_lead(journal, lead_id, state=state, stage=stage, payout=payout)


#: The period that holds the hand-made journal's leads 1 to 8 (9 is the day before, 10 the day after).
MAY = ("--since", "2024-05-01", "--until", "2024-05-03")


def fill(journal: Journal) -> None:
    spring = {"utm_source": "fb", "utm_campaign": "spring", "sub1": "x"}
    put(journal, "1", at("2024-05-01", 0), tags=spring, state="delivered", stage="approve", payout=10.5)
    put(journal, "2", at("2024-05-01"), tags=spring, state="delivered", stage="approve", payout=4.25)
    put(journal, "3", at("2024-05-01"), tags=spring, state="delivered", stage="cancel", payout=7.0)
    put(journal, "4", at("2024-05-01"), tags={"utm_source": "fb", "utm_campaign": "summer", "sub1": "y"})
    put(journal, "5", at("2024-05-02"), tags={"utm_source": "google", "utm_campaign": "spring"}, landing="sk",
        country="ua", state="delivered", stage="trash")
    put(journal, "6", at("2024-05-02"), tags={"utm_source": "google"}, landing="sk", country=None,
        state="rejected")
    put(journal, "7", at("2024-05-03"), landing="sk")
    put(journal, "8", at("2024-05-03", 86400 - 0.5), tags={"utm_source": "", "sub1": ""}, state="dead")
    put(journal, "9", at("2024-04-30", 86400 - 1), tags={"utm_source": "fb"}, state="delivered", stage="approve",
        payout=100.0)
    put(journal, "10", at("2024-05-04", 0), tags={"utm_source": "fb"}, state="delivered", stage="approve",
        payout=100.0)


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "leadkit.toml"
    path.write_text('[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                    '[journal]\npath = "leads.db"\nrelay = false\n')
    return path


@pytest.fixture()
def journal_config(tmp_path: Path, journals: Journals) -> Path:
    """A configuration naming the test's journal (``journal.path``, or ``journal.url`` for PostgreSQL)."""
    path = tmp_path / "leadkit-journal.toml"
    path.write_text('[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                    f'[journal]\n{journals.config_lines()}relay = false\n')
    return path


@pytest.fixture()
def leads(journals: Journals) -> Journal:
    """The hand-made journal, the one :func:`journal_config` names."""
    journal = journals.open(FakeClock())
    fill(journal)
    return journal


def report(capsys: pytest.CaptureFixture[str], config_file: Path, *args: str) -> tuple[int, str, str]:
    code = main(["report", "--config", str(config_file), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def may(journal: Journal, by: str, landing: str | None = None) -> list[ReportRow]:
    days = Period(date(2024, 5, 1), date(2024, 5, 3))
    return journal.report(by=by, since=days.since, until=days.until, landing=landing)


# -- the journal's counts -------------------------------------------------------------------------------


def test_counts_and_rates_are_exact(leads: Journal) -> None:
    rows = may(leads, "utm_source")
    assert rows == [ReportRow("fb", leads=4, delivered=3, approved=2, cancelled=1, trash=0, payout=14.75),
                    ReportRow("", leads=2), ReportRow("google", leads=2, delivered=1, trash=1)]
    assert [row.approve_rate for row in rows] == [pytest.approx(200 / 3), None, 0.0]


@pytest.mark.parametrize("by, groups", [
    pytest.param("utm_source", [("fb", 4), ("", 2), ("google", 2)], id="tag"),
    pytest.param("utm_campaign", [("spring", 4), ("", 3), ("summer", 1)], id="campaign"),
    pytest.param("sub1", [("", 4), ("x", 3), ("y", 1)], id="sub1"),
    pytest.param("utm_term", [("", 8)], id="a tag no lead has"),
    pytest.param("landing", [("", 5), ("sk", 3)], id="landing"),
    pytest.param("country", [("kz", 6), ("", 1), ("ua", 1)], id="country"),
    pytest.param("day", [("2024-05-01", 4), ("2024-05-02", 2), ("2024-05-03", 2)], id="day"),
])
def test_groups_of_each_kind(leads: Journal, by: str, groups: list[tuple[str, int]]) -> None:
    assert [(row.group, row.leads) for row in may(leads, by)] == groups


def test_every_grouping_is_answered(leads: Journal) -> None:
    for by in GROUPINGS:
        assert sum(row.leads for row in may(leads, by)) == 8, by


def test_one_landing(leads: Journal) -> None:
    assert [(r.group, r.leads) for r in may(leads, "utm_source", landing="sk")] == [("google", 2), ("", 1)]
    assert [(r.group, r.leads) for r in may(leads, "utm_source", landing="")] == [("fb", 4), ("", 1)]


def test_an_unknown_grouping_is_refused_by_the_journal(leads: Journal) -> None:
    with pytest.raises(ValueError, match="utm_source, .*day \\(got 'ip'\\)"):
        leads.report(by="ip", since=None, until=None, landing=None)


# -- the period -----------------------------------------------------------------------------------------

TODAY = date(2024, 5, 3)


@pytest.mark.parametrize("since, until, days, first, last", [
    pytest.param(None, None, 30, date(2024, 4, 4), TODAY, id="the last 30 days, today included"),
    pytest.param(None, None, 1, TODAY, TODAY, id="today"),
    pytest.param(None, date(2024, 2, 29), 7, date(2024, 2, 23), date(2024, 2, 29), id="days up to --until"),
    pytest.param(date(2024, 5, 1), None, 30, date(2024, 5, 1), TODAY, id="since a day, until today"),
    pytest.param(date(2024, 5, 1), date(2024, 5, 1), 30, date(2024, 5, 1), date(2024, 5, 1), id="one day"),
])
def test_period(since: date | None, until: date | None, days: int, first: date, last: date) -> None:
    assert period(since=since, until=until, days=days, today=TODAY) == Period(first, last)


def test_a_period_is_whole_utc_days() -> None:
    days = Period(date(2024, 5, 1), date(2024, 5, 3))
    assert (days.since, days.until) == (at("2024-05-01", 0), at("2024-05-04", 0))
    assert str(days) == "2024-05-01 to 2024-05-03 (UTC)" and str(Period(TODAY, TODAY)) == "2024-05-03 (UTC)"


def test_an_empty_period_is_refused() -> None:
    with pytest.raises(ValueError, match="its first day, 2024-05-04, comes after its last day, 2024-05-03"):
        period(since=date(2024, 5, 4), until=None, days=30, today=TODAY)


def test_bounds_include_the_first_and_last_day_whole(leads: Journal, journal_config: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, journal_config, "--csv", *MAY)
    assert code == 0 and sum(int(row["leads"]) for row in csv.DictReader(io.StringIO(out))) == 8
    code, out, _ = report(capsys, journal_config, "--csv", "--since", "2024-04-30", "--until", "2024-05-04")
    assert sum(int(row["leads"]) for row in csv.DictReader(io.StringIO(out))) == 10
    code, out, _ = report(capsys, journal_config, "--csv", "--since", "2024-05-03", "--until", "2024-05-03")
    assert [(r["utm_source"], r["leads"]) for r in csv.DictReader(io.StringIO(out))] == [(NO_VALUE, "2")]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_report_command(parser.add_subparsers())
    return parser.parse_args(["report", *argv])


@pytest.mark.parametrize("days, leads_counted", [
    pytest.param((), 9, id="30 days by default"), pytest.param(("--days", "2"), 4, id="the last 2 days")])
def test_days_count_back_from_today(leads: Journal, journal_config: Path, days: tuple[str, ...],
                                    leads_counted: int) -> None:
    out = io.StringIO()
    clock = FakeClock(at("2024-05-03", 3600))
    assert run_report(parse("--config", str(journal_config), "--csv", *days), out, clock=clock) == 0
    assert sum(int(row["leads"]) for row in csv.DictReader(io.StringIO(out.getvalue()))) == leads_counted


# -- the table and the CSV ------------------------------------------------------------------------------


def test_the_table(leads: Journal, journal_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, journal_config, "--by", "utm_source", *MAY)
    assert code == 0
    assert out == (
        "Leads by utm_source, 2024-05-01 to 2024-05-03 (UTC), every landing\n"
        "utm_source  leads  delivered  approved  cancelled  trash  approve rate  payout\n"
        "fb              4          3         2          1      0         66.7%   14.75\n"
        "(none)          2          0         0          0      0             -    0.00\n"
        "google          2          1         0          0      1          0.0%    0.00\n"
        "----------  -----  ---------  --------  ---------  -----  ------------  ------\n"
        "total           8          4         2          1      1         50.0%   14.75\n")


@pytest.mark.parametrize("by", ["utm_campaign", "landing", "country", "day", "sub1"])
def test_the_table_columns_line_up(leads: Journal, journal_config: Path, capsys: pytest.CaptureFixture[str],
                                   by: str) -> None:
    put(leads, "long", at("2024-05-02"), tags={"utm_campaign": "a very long campaign name " * 5})
    code, out, _ = report(capsys, journal_config, "--by", by, *MAY)
    title, *table = out.splitlines()
    assert code == 0 and "2024-05-01 to 2024-05-03 (UTC)" in title and table[-1].startswith("total")
    assert len({len(line) for line in table}) == 1
    rule = table[-2]
    gutters = [i for i, c in enumerate(rule) if c == " "]
    assert set(rule) == {"-", " "} and len(gutters) == 2 * 7  # eight columns, two spaces between each
    for line in table:
        assert all(line[i] == " " for i in gutters), line
        columns = [cell.strip() for cell in _split(line, gutters)]
        assert all(columns), line


def _split(line: str, gutters: list[int]) -> list[str]:
    edges = [-1, *gutters[1::2], len(line)]
    return [line[a + 1:b] for a, b in zip(edges, edges[1:])]


def test_landing_names_in_the_table(leads: Journal, journal_config: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, journal_config, "--by", "landing", *MAY)
    assert [line.split()[:2] for line in out.splitlines()[2:4]] == [["-", "5"], ["sk", "3"]]
    code, out, _ = report(capsys, journal_config, "--landing", "-", *MAY)
    assert out.splitlines()[0].endswith("landing -") and out.splitlines()[-1].split()[1] == "5"
    code, out, _ = report(capsys, journal_config, "--landing", "sk", *MAY)
    assert out.splitlines()[0].endswith("landing sk") and out.splitlines()[-1].split()[1] == "3"


def test_csv_reads_back(leads: Journal, journal_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, journal_config, "--by", "utm_source", "--csv", *MAY)
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["utm_source", "leads", "delivered", "approved", "cancelled", "trash", "approve_rate", "payout"],
        ["fb", "4", "3", "2", "1", "0", "66.7", "14.75"],
        [NO_VALUE, "2", "0", "0", "0", "0", "", "0.00"],
        ["google", "2", "1", "0", "0", "1", "0.0", "0.00"]]


def test_csv_is_safe_in_a_spreadsheet() -> None:
    out = io.StringIO()
    write_csv([ReportRow("=HYPERLINK(1)", 1), ReportRow("", 1)], out, by="landing")
    assert [row[0] for row in csv.reader(io.StringIO(out.getvalue()))] == ["landing", "'=HYPERLINK(1)", "-"]


def test_a_long_group_is_cut_in_the_table_only() -> None:
    name = "x" * 300
    table = format_table([ReportRow(name, 1)], by="sub1", period=Period(TODAY, TODAY))
    assert "x" * 39 + "…" in table and name not in table
    out = io.StringIO()
    write_csv([ReportRow(name, 1)], out, by="sub1")
    assert name in out.getvalue()


def test_an_empty_journal_says_so(journal_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, journal_config, *MAY)
    assert code == 0 and out == "No leads in the period 2024-05-01 to 2024-05-03 (UTC), every landing.\n"
    code, out, _ = report(capsys, journal_config, "--csv", *MAY)
    assert code == 0 and out.splitlines() == ["utm_source,leads,delivered,approved,cancelled,trash,approve_rate,payout"]


# -- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    pytest.param(("--by", "ip"), "invalid choice: 'ip' (choose from 'utm_source', 'utm_medium'", id="unknown --by"),
    pytest.param(("--since", "2024-13-01"), "a day is written YYYY-MM-DD", id="not a day"),
    pytest.param(("--days", "0"), "a number of days, 1 or more (got '0')", id="no days"),
    pytest.param(("--since", "2024-05-01", "--days", "3"), "not allowed with argument --since", id="both"),
])
def test_bad_arguments_are_refused(config_file: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                   words: str) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["report", "--config", str(config_file), *args])
    err = capsys.readouterr().err
    assert raised.value.code == 2 and words in err and "Traceback" not in err


def test_an_unknown_grouping_lists_the_choices_without_a_traceback(config_file: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "leadkit", "report", "--by", "campaign", "--config",
                           str(config_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert all(f"'{name}'" in done.stderr for name in GROUPINGS), done.stderr


def test_an_empty_period_is_refused_on_the_command_line(config_file: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = report(capsys, config_file, "--since", "2024-05-04", "--until", "2024-05-03")
    assert code == 2 and out == "" and "its first day, 2024-05-04, comes after its last day, 2024-05-03" in err


def test_a_missing_configuration_is_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--config", str(tmp_path / "nope.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.toml" in err and "Traceback" not in err
