"""The journal's reports: a period's leads counted per group, in one grouped query.

A group is a tag of the visit (:data:`~leadkit.tags.STANDARD_TAGS`, read from the ``tags`` JSON),
the landing, the customer's country (the payload's ``country``) or the UTC calendar day the lead was
created. SQLite does the counting (``json_extract`` on the JSON columns): no lead is read into Python,
so a journal of 100,000 leads answers in a fraction of a second.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from itertools import starmap
from typing import TYPE_CHECKING, Any, Callable

from .journal_file import guarded, storable
from .tags import STANDARD_TAGS

if TYPE_CHECKING:
    from .report import ReportRow

__all__ = ["GROUPINGS", "ReportTables"]

#: What a report may group by, besides the tags: the SQL that gives a lead's group, ``""`` for none.
_COLUMNS = {
    "landing": "landing",
    "country": "COALESCE(CAST(json_extract(payload, '$.country') AS TEXT), '')",
    "day": "strftime('%Y-%m-%d', created, 'unixepoch')",
}
#: Every grouping :meth:`ReportTables.report` takes, in the order ``leadkit report --help`` lists them.
GROUPINGS: tuple[str, ...] = (*STANDARD_TAGS, *_COLUMNS)

_COUNTS = ("COUNT(*) AS leads, "
           "COUNT(CASE WHEN state = 'delivered' THEN 1 END), "
           "COUNT(CASE WHEN stage = 'approve' THEN 1 END), "
           "COUNT(CASE WHEN stage = 'cancel' THEN 1 END), "
           "COUNT(CASE WHEN stage = 'trash' THEN 1 END), "
           "TOTAL(CASE WHEN stage = 'approve' THEN payout END)")


class ReportTables:
    """The reports' part of :class:`~leadkit.journal.SQLiteJournal` (a mixin: it uses the journal's
    ``_connection``, and its ``_guard`` through :func:`~leadkit.journal_file.guarded`)."""

    _connection: Callable[[], sqlite3.Connection]
    _guard: Callable[[], AbstractContextManager[None]]

    @guarded
    def report(self, *, by: str, since: float | None, until: float | None,
               landing: str | None) -> list[ReportRow]:
        """The leads created from ``since`` (inclusive) to ``until`` (exclusive; None: no bound), of one
        landing (``""``: the default one; None: every landing), counted per group of ``by`` (one of
        :data:`GROUPINGS`), the most leads first, then by group (``day``: in date order). A group is the value as stored:
        ``""`` for a lead without the tag (or country), and for the default landing."""
        from .report import ReportRow  # not at the top: report.py imports journal.py, which imports this

        clauses, args = [], []  # type: list[str], list[Any]
        for clause, value in (("created >= ?", since), ("created < ?", until), ("landing = ?", landing)):
            if value is not None:
                clauses.append(clause)
                args.append(storable(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "grp" if by == "day" else "leads DESC, grp"  # days in the calendar's order, the rest by size
        sql = f"SELECT {_group(by)} AS grp, {_COUNTS} FROM leads {where} GROUP BY grp ORDER BY {order}"
        cursor = self._connection().cursor()
        cursor.row_factory = None  # plain tuples, not the journal's sqlite3.Row: one group per lead is possible
        return list(starmap(ReportRow, cursor.execute(sql, args)))


def _group(by: str) -> str:
    if by in STANDARD_TAGS:  # one of a fixed list of names: safe in the SQL
        return f"COALESCE(CAST(json_extract(tags, '$.{by}') AS TEXT), '')"
    if by in _COLUMNS:
        return _COLUMNS[by]
    raise ValueError(f"a report groups by one of {', '.join(GROUPINGS)} (got {by!r})")
