"""A large SQLite journal, written fast: ``count`` leads over 90 days (as ``report.py`` writes them, with
a fingerprint each) and the two rate-limit rows each order leaves in ``hits``, in one transaction with
``executemany`` over generators (nothing held in memory).

The rows go straight into the tables, past leadkit's code: a count that leadkit keeps up to date as
leads are written (rather than by SQL triggers) would not see them."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import Iterator

from leadkit.journal import SQLiteJournal

__all__ = ["fill_journal"]

_SOURCES = ("fb", "google", "tiktok", "bing", "push", "native", "")
_DAYS = 90


def _leads(count: int, now: float, rnd: random.Random) -> Iterator[tuple[object, ...]]:
    start, step = now - _DAYS * 86400, _DAYS * 86400 / count
    for i in range(count):
        created = start + i * step + rnd.random() * step / 2  # in the order they came
        tags = {"utm_source": rnd.choice(_SOURCES), "utm_campaign": f"camp{rnd.randrange(40)}", "utm_medium": "cpc",
                "sub1": f"click-{i}", "sub2": f"ad{rnd.randrange(300)}"}
        payload = {"name": "Customer Name", "phone": f"7701{i:07d}", "country": rnd.choice(["kz", "uz", "kg"]),
                   "ip": "203.0.113.7", "ua": "Mozilla/5.0 (Linux; Android 14) Chrome/126 Mobile", "offer": 217,
                   "flow": 42, **tags}
        state = rnd.choice(["delivered"] * 8 + ["rejected", "pending", "dead"])
        stage = rnd.choice(["wait", "hold", "approve", "approve", "cancel", "trash"]) if state == "delivered" else None
        yield (f"{int(created * 1e6) * 100 + i % 100}", created, created, state, "wm/push", json.dumps(payload),
               json.dumps(tags), hashlib.sha256(str(i).encode()).hexdigest(), "", stage,
               12.5 if stage == "approve" else None)


def _hits(count: int, now: float) -> Iterator[tuple[object, ...]]:
    start, step = now - _DAYS * 86400, _DAYS * 86400 / count
    for i in range(count):
        at = start + i * step
        yield "ip", hashlib.sha256(f"ip{i % 50000}".encode()).hexdigest(), at
        yield "phone", hashlib.sha256(f"phone{i}".encode()).hexdigest(), at


def fill_journal(path: Path, count: int) -> float:
    """Write the journal at ``path`` with ``count`` leads; the seconds it took."""
    started = time.perf_counter()
    journal = SQLiteJournal(path)
    now, rnd = time.time(), random.Random(1)
    with journal._transaction() as tx:  # as report.py does: one transaction, no fsync per row
        tx.executemany("INSERT INTO leads (id, created, updated, state, call, payload, tags, fingerprint, landing, "
                       "stage, payout) VALUES (?,?,?,?,?,?,?,?,?,?,?)", _leads(count, now, rnd))
        tx.executemany("INSERT INTO hits (kind, key, at) VALUES (?,?,?)", _hits(count, now))
    journal.close()
    return time.perf_counter() - started
