"""LeadKit's lifecycle: a journal handed in, close(), and the context manager."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from support import BrowserClient as Client
from support import make_config

from leadkit import LeadKit
from leadkit.journal import SQLiteJournal
from leadkit.testing.sandbox import SandboxNetwork

ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}


def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"landing"]


def relay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "leadkit-relay"]


def test_no_leadkit_thread_outlives_the_with_block(network: SandboxNetwork) -> None:
    before = relay_threads()
    with LeadKit(landing, make_config(api=network.url, journal={"relay": True})) as kit:
        assert Client(kit).get("/").status_code == 200  # the first request starts the relay
        assert kit.relay._thread is not None and kit.relay._thread.is_alive()
        assert len(relay_threads()) == len(before) + 1
    assert relay_threads() == before


def test_close_stops_the_relay_for_good(network: SandboxNetwork) -> None:
    kit = LeadKit(landing, make_config(api=network.url, journal={"relay": True}))
    client = Client(kit)
    client.get("/")
    kit.close()
    assert client.get("/").status_code == 200  # still answers...
    assert kit.relay._thread is None or not kit.relay._thread.is_alive()  # ...but starts no relay again


def test_a_journal_handed_in_is_the_one_used_and_closed(network: SandboxNetwork, tmp_path: Path) -> None:
    config = make_config(api=network.url, journal={"relay": False})
    mine = SQLiteJournal(tmp_path / "mine.db")
    closed: list[bool] = []
    real_close = mine.close
    mine.close = lambda: closed.append(True) or real_close()  # type: ignore[method-assign]
    with LeadKit(landing, config, journal=mine) as kit:
        assert kit.journal is mine
        response = Client(kit).post("/leadkit/order", data=ORDER)
        assert response.status_code == 303
    assert closed == [True]
    (lead,) = SQLiteJournal(tmp_path / "mine.db").entries()
    assert lead.state == "delivered" and lead.payload["phone"] == "77001234567"
    assert not config.journal.path.exists()  # the configured SQLite file was never even created


def test_a_journal_mapping_is_the_journal_section(network: SandboxNetwork, tmp_path: Path) -> None:
    config_path = tmp_path / "leadkit.toml"
    config_path.write_text(f'[network]\napi = "{network.url}"\nrole = "comp"\n[offer]\noffer = 217\ncountry = "kz"\n')
    env_free = {"network": {"key": "1-0f3a9c2e7b5d4a1f"}, "site": {"secret": "test-secret-0123456789abcdef"}}
    with LeadKit(landing, config_path, journal={"path": str(tmp_path / "j.db"), "relay": False}, **env_free) as kit:
        assert kit.config.journal.path == tmp_path / "j.db" and not kit.config.journal.relay
        assert isinstance(kit.journal, SQLiteJournal) and kit.journal.path == tmp_path / "j.db"
