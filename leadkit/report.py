"""A report a buyer reads: a period's leads per group, and what the network made of them.

Per group (a tag such as ``utm_source``, the landing, the country, the UTC day): the leads journalled,
those ``delivered``, the network's ``approve``, ``cancel`` and ``trash`` stages, the approve rate
(approved ÷ delivered) and the payout of the approved leads. :func:`format_table` lays the rows out for
a terminal, with a total row; :func:`write_csv` writes them for a spreadsheet. The journal counts them
(:meth:`SQLiteJournal.report <leadkit.journal_report.ReportTables.report>`); everything here is pure.

A group is shown as its value; a lead without the tag (or with it empty) as :data:`NO_VALUE`, the default
landing as :data:`~leadkit.journal.DEFAULT_LABEL`. Periods are whole UTC days (:class:`Period`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Sequence, TextIO

from .journal import DEFAULT_LABEL, landing_label

__all__ = ["DEFAULT_DAYS", "NO_VALUE", "Period", "ReportRow", "format_table", "group_label", "period", "total",
           "write_csv"]

#: The days a report covers when neither its first day nor a number of days is given.
DEFAULT_DAYS = 30
#: How a group shows the leads that have no value for it (no such tag, or an empty one).
NO_VALUE = "(none)"
#: The widest a group's name is shown in the table (the CSV keeps it whole); tags run to 255 characters.
_WIDEST_GROUP = 40
_HEADERS = ("leads", "delivered", "approved", "cancelled", "trash", "approve rate", "payout")
_CSV_HEADERS = ("leads", "delivered", "approved", "cancelled", "trash", "approve_rate", "payout")
#: What a spreadsheet takes for the start of a formula (as ``leadkit journal export`` guards against).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ReportRow:
    """One group's counts: ``group`` as stored (``""``: no value, or the default landing), the ``leads``
    journalled, those ``delivered``, those the network ``approved``, ``cancelled`` and put in ``trash``,
    and the ``payout`` of the approved ones."""

    group: str
    leads: int
    delivered: int = 0
    approved: int = 0
    cancelled: int = 0
    trash: int = 0
    payout: float = 0.0

    @property
    def approve_rate(self) -> float | None:
        """Approved ÷ delivered, in percent; None when none was delivered."""
        return 100 * self.approved / self.delivered if self.delivered else None


@dataclass(frozen=True)
class Period:
    """The whole UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def since(self) -> float:
        """The period's start as a Unix time (inclusive)."""
        return _midnight(self.first)

    @property
    def until(self) -> float:
        """The period's end as a Unix time (exclusive): midnight after its last day."""
        return _midnight(self.last + timedelta(days=1))

    def __str__(self) -> str:
        if self.first == self.last:
            return f"{self.first} (UTC)"
        return f"{self.first} to {self.last} (UTC)"


def period(*, since: date | None, until: date | None, today: date, days: int = DEFAULT_DAYS) -> Period:
    """The days a report covers: ``since`` to ``until`` (both included; ``until`` None: ``today``); without
    ``since``, the ``days`` days up to ``until``. Raises ValueError when ``since`` comes after the last day
    (the message names both) and when ``days`` is not positive."""
    if days < 1:
        raise ValueError(f"a report covers at least one day (got --days {days})")
    last = until or today
    first = since or last - timedelta(days=days - 1)
    if first > last:
        raise ValueError(f"the period is empty: its first day, {first}, comes after its last day, {last}")
    return Period(first, last)


def total(rows: Iterable[ReportRow]) -> ReportRow:
    """The rows added up, as the group ``total``."""
    rows = list(rows)
    return ReportRow("total", sum(r.leads for r in rows), sum(r.delivered for r in rows),
                     sum(r.approved for r in rows), sum(r.cancelled for r in rows), sum(r.trash for r in rows),
                     sum(r.payout for r in rows))


def group_label(by: str, group: str) -> str:
    """How a group of ``by`` is shown: the default landing as ``-``, no value as :data:`NO_VALUE`."""
    if by == "landing":
        return landing_label(group)
    return group or NO_VALUE


def format_table(rows: Sequence[ReportRow], *, by: str, period: Period, landing: str | None = None) -> str:
    """The report for a terminal: a title line, then the groups in the order given and a total row,
    every column aligned (names left, numbers right); a line saying so when there are no leads."""
    scope = "every landing" if landing is None else f"landing {landing_label(landing)}"
    if not rows:
        return f"No leads in the period {period}, {scope}.\n"
    head = ("day (UTC)" if by == "day" else by, *_HEADERS)
    body = [_shown(_cut(group_label(by, r.group)), r) for r in rows]
    foot = _shown("total", total(rows))
    widths = [max(map(len, column)) for column in zip(head, *body, foot)]
    # One template for every line: names left-aligned, numbers right-aligned, two spaces between columns.
    line = "  ".join([f"{{:<{widths[0]}}}", *(f"{{:>{width}}}" for width in widths[1:])]).format
    rule = "  ".join("-" * width for width in widths)
    return "\n".join([f"Leads by {by}, {period}, {scope}", line(*head), *(line(*cells) for cells in body), rule,
                      line(*foot)]) + "\n"


def write_csv(rows: Iterable[ReportRow], out: TextIO, *, by: str) -> None:
    """The groups as CSV for a spreadsheet: a header row (the first column named ``by``), then one row
    per group with raw numbers (the approve rate in percent, empty when none was delivered; no total
    row: a spreadsheet adds up). A group that would start a formula is written with a ``'`` before it."""
    writer = csv.writer(out)
    writer.writerow((by, *_CSV_HEADERS))
    for r in rows:
        rate = "" if r.approve_rate is None else f"{r.approve_rate:.1f}"
        writer.writerow((_cell(group_label(by, r.group)), r.leads, r.delivered, r.approved, r.cancelled, r.trash,
                         rate, f"{r.payout:.2f}"))


def _shown(name: str, row: ReportRow) -> tuple[str, ...]:
    rate = "-" if row.approve_rate is None else f"{row.approve_rate:.1f}%"
    return (name, str(row.leads), str(row.delivered), str(row.approved), str(row.cancelled), str(row.trash), rate,
            f"{row.payout:.2f}")


def _cut(name: str) -> str:
    return name if len(name) <= _WIDEST_GROUP else name[:_WIDEST_GROUP - 1] + "…"


def spreadsheet_cell(text: str) -> str:
    """Text as a spreadsheet shows it without running it: one that would start a formula gets a ``'``."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _cell(text: str) -> str:
    # The default landing's "-" alone is no formula: kept as it is, as the table shows it.
    return text if text == DEFAULT_LABEL else spreadsheet_cell(text)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
