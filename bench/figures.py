"""What the bench prints: one row per figure, the median over the rounds with its spread (min–max),
the absolute figures beside it and the goal from issue 14, as one aligned table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Sequence

__all__ = ["Row", "markdown", "skipped", "table"]


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def _mb(value: float) -> str:
    return f"{value:.0f} MB"


def _rate(value: float) -> str:
    return f"{value:.0f}/s"


def _percent(value: float) -> str:
    return f"{value:.0f} %"


#: How a row's values read: a ratio, milliseconds, megabytes, a rate, a share.
UNITS: dict[str, Callable[[float], str]] = {"ratio": _ratio, "ms": _ms, "MB": _mb, "/s": _rate, "%": _percent}


@dataclass
class Row:
    """One line of the table: ``values`` holds one figure per round (in ``unit``); ``absolute`` says
    what the figure was made of; ``note`` replaces the figures when the row could not be measured."""

    what: str
    unit: str = "ratio"
    values: list[float] = field(default_factory=list)
    absolute: str = ""
    goal: str = ""
    note: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def figure(self) -> str:
        if self.note is not None:
            return self.note
        if not self.values:
            return "no figure"
        show = UNITS[self.unit]
        if len(self.values) == 1:
            return show(self.values[0])
        spread = f"{show(min(self.values))}–{show(max(self.values))}".replace(f" {self.unit}–", "–")
        return f"{show(self.median)} ({spread})"


def skipped(what: str, why: str, goal: str = "") -> Row:
    """A row that could not be measured here, and why."""
    return Row(what, note=f"skipped: {why}", goal=goal)


def table(rows: Sequence[Row]) -> str:
    """The rows as one aligned table with a header; a skipped row's reason spans the figure columns."""
    header = ("what", "median (min–max)", "absolute figures (medians)", "goal (issue 14)")
    cells = [header] + [(r.what, r.figure, r.absolute if r.note is None else "", r.goal) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    widths[1] = min(widths[1], 32)  # a long skip reason runs over into the next column rather than widening it
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(rows: Sequence[Row]) -> str:
    """The same table in Markdown, for the README's performance section."""
    lines = ["| what | median (min–max) | absolute figures (medians) | goal (issue 14) |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.what.strip()} | {r.figure} | {r.absolute if r.note is None else ''} | {r.goal} |" for r in rows]
    return "\n".join(lines)
