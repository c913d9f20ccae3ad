"""``leadkit report``: a period's leads per group, as a table for a terminal or CSV for a spreadsheet.

``leadkit report --by utm_source [--since DAY | --days N] [--until DAY] [--landing NAME] [--csv]
[--config FILE]``. Days are UTC calendar days, ``--since`` and ``--until`` both included; without
``--since`` the report covers the ``--days`` days (30) up to ``--until`` (today). It reads
the journal alone (``journal.path``, or ``journal.url``), as ``leadkit journal list`` does (:mod:`leadkit.report` lays it out).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing
from datetime import date, datetime, timezone
from typing import Any, Callable, TextIO

from .config_file import load_journal_config
from .journal import DEFAULT_LABEL, open_journal
from .journal_report import GROUPINGS
from .report import DEFAULT_DAYS, format_table, period, write_csv

__all__ = ["add_report_command", "run_report"]


def add_report_command(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="leads, approvals and payout per tag, landing, country or day",
        description="A period's leads per group: leads, delivered, approved, cancelled, trash, approve rate "
                    "(approved / delivered) and payout (of the approved). Days are UTC calendar days.")
    report.add_argument("--by", choices=GROUPINGS, default="utm_source", metavar="GROUP",
                        help=f"what to group by: {', '.join(GROUPINGS)} (default: utm_source)")
    start = report.add_mutually_exclusive_group()
    start.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="the first day (UTC), included")
    report.add_argument("--until", type=_day, metavar="YYYY-MM-DD",
                        help="the last day (UTC), included (default: today)")
    start.add_argument("--days", type=_days, metavar="N",
                       help=f"the N days up to --until, that day included (default: {DEFAULT_DAYS})")
    report.add_argument("--landing", type=_landing, metavar="NAME",
                        help=f"only the leads of the landing NAME ({DEFAULT_LABEL!r}: the default landing)")
    report.add_argument("--csv", action="store_true", help="CSV for a spreadsheet: raw numbers, no total row")
    report.add_argument("--config", help="the TOML file (default: $LEADKIT_CONFIG)")


def run_report(args: argparse.Namespace, out: TextIO | None = None, *,
               clock: Callable[[], float] = time.time) -> int:
    """Run ``leadkit report``; ``clock`` says what day today is. Raises
    :class:`~leadkit.errors.ConfigError` or :class:`~leadkit.errors.JournalError` for the caller to print."""
    out = out or sys.stdout
    today = datetime.fromtimestamp(clock(), timezone.utc).date()
    try:
        days = period(since=args.since, until=args.until, days=args.days or DEFAULT_DAYS, today=today)
    except ValueError as exc:
        print(f"leadkit report: {exc}", file=sys.stderr)
        return 2
    with closing(open_journal(load_journal_config(args.config))) as journal:
        rows = journal.report(by=args.by, since=days.since, until=days.until, landing=args.landing)
    if args.csv:
        write_csv(rows, out, by=args.by)
    else:
        out.write(format_table(rows, by=args.by, period=days, landing=args.landing))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a day is written YYYY-MM-DD, e.g. 2024-05-31 (got {text!r})") from None


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a number of days, 1 or more (got {text!r})")
    return int(text)


def _landing(label: str) -> str:
    """``--landing``'s value as the journal stores it: the default landing's name is ``""``."""
    return "" if label in (DEFAULT_LABEL, "") else label
