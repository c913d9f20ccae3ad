"""Shared fixtures: the sandbox network, and the checks around every test (no relay left running, no secret leaked)."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Iterator

import pytest
import requests

from leadkit import LeadKit
from leadkit.testing.sandbox import SandboxNetwork
from support import HEALTH_TOKEN, KEY, SECRET
from support import clock, journal  # noqa: F401 - fixtures for every test module
from postgres import postgres_back_up, postgres_server, postgres_url  # noqa: F401 - the throwaway PostgreSQL
from journals import any_journal, journals  # noqa: F401 - the journal's contract on SQLite and PostgreSQL

@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxNetwork]:
    """One sandbox network for the session; reset before each test that uses it."""
    with SandboxNetwork(keys=[KEY], offers={217: [42]}) as network:
        yield network


@pytest.fixture()
def network(sandbox: SandboxNetwork) -> SandboxNetwork:
    """The session's sandbox, reset: role wm, dialect dalead. A test of another role or dialect says
    so first, ``network.reset(role="ext", dialect="moe")``: the sandbox refuses the others' leads."""
    sandbox.reset()
    return sandbox


def _relay_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "leadkit-relay" and t.is_alive()}


@pytest.fixture(autouse=True)
def no_relay_outlives_its_test() -> Iterator[None]:
    """A test that starts a relay closes its LeadKit (``with LeadKit(...)`` or ``kit.close()``). Left
    running, a relay would deliver its test's pending leads to the shared sandbox in the middle of
    another test; ``support.make_config`` turns the relay off unless a test asks for it."""
    before = _relay_threads()
    yield
    left = _relay_threads() - before
    assert not left, f"{len(left)} relay thread(s) still running: close the LeadKit the test made"


# -- the key and the secret never leak: checked around every test of the suite ---------------

_SECRETS = (KEY, SECRET, HEALTH_TOKEN, "1-fault0injection0key", "fault-injection-secret-0123456789",
            "fault-injection-health-0123456789")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.messages.append(text)


@pytest.fixture(autouse=True)
def no_secret_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every log record, every response leadkit's middleware produces, and every HTTP answer a test
    receives over a socket are searched for the test key and secret: none may contain them."""
    seen: list[str] = []
    collector = _Collector()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    original_call = LeadKit.__call__

    def watched_call(self: LeadKit, environ: dict, start_response: Any) -> list[bytes]:
        def watched_start(status: str, headers: list, exc_info: Any = None) -> Any:
            seen.append(status + repr(headers))
            return start_response(status, headers, exc_info)

        body = list(original_call(self, environ, watched_start))
        seen.append(b"".join(body).decode("utf-8", "replace"))
        return body

    original_send = requests.Session.send

    def watched_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        response = original_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            seen.append(response.text + repr(dict(response.headers)))
        return response

    monkeypatch.setattr(LeadKit, "__call__", watched_call)
    monkeypatch.setattr(requests.Session, "send", watched_send)
    try:
        yield
    finally:
        root.removeHandler(collector)
        root.setLevel(previous)
    leaks = [(secret, text[:200]) for text in seen + collector.messages for secret in _SECRETS if secret in text]
    assert not leaks, f"a secret leaked into a response or a log record: {leaks[:3]}"
