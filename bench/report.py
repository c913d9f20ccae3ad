"""How fast ``leadkit report`` answers on a large journal (issue 13: 100,000 leads).

Writes a journal of N leads (default 100,000) spread over 90 days, with tags, countries, landings
and stages as a campaign's are, into a temporary folder; then times, best of 5:

- the report itself in process (``SQLiteJournal.report`` and the table), per grouping;
- the whole ``leadkit report`` command in its own process (Python's start-up and leadkit's import
  included), for ``--by utm_source``.

Run: ``.venv/bin/python bench/report.py [N]``. Nothing here is a test: figures, not assertions.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from leadkit.journal import SQLiteJournal
from leadkit.report import format_table, period

SOURCES = ("fb", "google", "tiktok", "bing", "push", "native", "")


def write_journal(path: Path, count: int) -> None:
    journal = SQLiteJournal(path)
    db = journal._connection()
    rnd = random.Random(1)
    now = time.time()
    rows = []
    for i in range(count):
        created = now - rnd.random() * 90 * 86400
        tags = {"utm_source": rnd.choice(SOURCES), "utm_campaign": f"camp{rnd.randrange(40)}", "utm_medium": "cpc",
                "sub1": f"click-{i}", "sub2": f"ad{rnd.randrange(300)}"}
        payload = {"name": "Customer Name", "phone": "77001234567", "country": rnd.choice(["kz", "uz", "kg"]),
                   "ip": "203.0.113.7", "ua": "Mozilla/5.0 (Linux; Android 14) Chrome/126 Mobile", "offer": 217,
                   "flow": 42, **tags}
        state = rnd.choice(["delivered"] * 8 + ["rejected", "pending", "dead"])
        stage = rnd.choice(["wait", "hold", "approve", "approve", "cancel", "trash"]) if state == "delivered" else None
        rows.append((str(i), created, created, state, "wm/push", json.dumps(payload), json.dumps(tags),
                     rnd.choice(["", "", "sk", "ua"]), stage, 12.5 if stage == "approve" else None))
    rows.sort(key=lambda row: row[1])  # written as leads come: in the order they were created
    with journal._transaction() as tx:
        tx.executemany("INSERT INTO leads (id, created, updated, state, call, payload, tags, landing, stage, payout) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    journal.close()


def best_of(times: int, work: object) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        spent.append(time.perf_counter() - started)
    return min(spent)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    folder = Path(tempfile.mkdtemp(prefix="leadkit-bench-"))
    path = folder / "leadkit.db"
    write_journal(path, count)
    print(f"{count} leads over 90 days, journal {path.stat().st_size / 1e6:.0f} MB")
    journal = SQLiteJournal(path)
    every_day = period(since=None, until=None, days=91, today=date.today())
    for by in ("utm_source", "utm_campaign", "landing", "country", "day", "sub1"):
        rows: list[object] = []

        def report() -> None:
            rows[:] = journal.report(by=by, since=every_day.since, until=every_day.until, landing=None)
            format_table(rows, by=by, period=every_day)  # type: ignore[arg-type]
        spent = best_of(5, report)
        print(f"  report --by {by:<12} {len(rows):>7} groups  {spent * 1000:7.0f} ms (in process, best of 5)")
    journal.close()
    (folder / "leadkit.toml").write_text('[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\n'
                                         f'country = "kz"\n[journal]\npath = {json.dumps(str(path))}\n')
    command = [sys.executable, "-m", "leadkit", "report", "--days", "91", "--config", str(folder / "leadkit.toml")]
    spent = best_of(5, lambda: subprocess.run(command, check=True, capture_output=True))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import leadkit.cli"], check=True)
    imported = time.perf_counter() - started
    print(f"  leadkit report --by utm_source, the whole command: {spent * 1000:.0f} ms (best of 5); of which "
          f"Python's start-up and `import leadkit.cli`: {imported * 1000:.0f} ms")


if __name__ == "__main__":
    main()
