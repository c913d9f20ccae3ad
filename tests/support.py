"""Helpers the tests share: a valid configuration for any role and dialect, a clock the test
moves by hand (and a journal on it: the ``clock`` and ``journal`` fixtures, for a test module
to import), and waiting for state another thread or process writes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from werkzeug.test import Client

from leadkit.config import Config
from leadkit.config_file import config_from_mapping
from leadkit.journal import SQLiteJournal

KEY = "1-0f3a9c2e7b5d4a1f"
SECRET = "test-secret-0123456789abcdef"
HEALTH_TOKEN = "test-health-token-0123456789"  # site.health_token, for tests that read /leadkit/health's counts
ROLES_AND_DIALECTS = [(role, dialect) for role in ("wm", "ext", "comp") for dialect in ("dalead", "moe")]


def make_config(role: str = "wm", dialect: str = "dalead", api: str = "http://127.0.0.1:9/api",
                **sections: Any) -> Config:
    """A valid configuration for ``role`` and ``dialect``; ``sections`` override keys.

    The relay is off (``journal.relay = false``) unless a test asks for it: a test that does must
    close its ``LeadKit`` (conftest checks that no relay thread outlives its test)."""
    data: dict[str, dict[str, Any]] = {
        "network": {"api": api, "key": KEY, "role": role, "dialect": dialect, "timeout": 5},
        # English, whatever the country: tests read leadkit's sentences as written (test_i18n checks the others).
        "offer": {"offer": 217, "country": "kz", "language": "en", **({"flow": 42} if role == "wm" else {}),
                  **({"source": "77"} if role == "ext" else {})},
        "site": {"secret": SECRET},
        # Each configuration gets a journal of its own, far from the checkout.
        "journal": {"path": f"{tempfile.mkdtemp(prefix='leadkit-test-')}/leadkit.db", "relay": False},
    }
    for name, values in sections.items():
        if isinstance(values, list):  # [[landing]] tables
            data[name] = values
        else:
            data.setdefault(name, {}).update(values)
    return config_from_mapping(data, environ={})


class BrowserClient(Client):
    """werkzeug's test client, sending an ``Origin`` with each POST as browsers do."""

    origin = "http://localhost"

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("method") == "POST":
            headers = dict(kwargs.get("headers") or {})
            headers.setdefault("Origin", self.origin)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


#: Where a :class:`FakeClock` starts: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0


class FakeClock:
    """A clock that stands still until the test moves it, for leadkit's ``clock=`` parameters:
    calling it reads the time, :meth:`advance` is time passing. Never mix it with real
    timestamps (``time.time()``, a :class:`~leadkit.lead.Lead`'s ``created``) in one journal."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture()
def clock() -> FakeClock:
    """A :class:`FakeClock` at :data:`T0`."""
    return FakeClock(T0)


@pytest.fixture()
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[SQLiteJournal]:
    """A journal of its own on the test's ``clock``; closed after the test."""
    journal = SQLiteJournal(tmp_path / "leadkit.db", clock=clock)
    yield journal
    journal.close()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds; False if it still does not after ``timeout`` seconds.

    For state that another thread or process writes. The deadline is generous because a busy
    machine is slow, and it costs nothing when the state comes at once."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
