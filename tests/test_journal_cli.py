"""``leadkit journal list|show|retry|export|stats`` against a real journal and the sandbox."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from support import BrowserClient as Client

from leadkit import LeadKit
from leadkit.cli import main
from leadkit.testing.sandbox import SandboxNetwork
from support import KEY, SECRET


@pytest.fixture()
def config_file(tmp_path: Path, network: SandboxNetwork, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADKIT_KEY", KEY)
    monkeypatch.setenv("LEADKIT_SECRET", SECRET)
    path = tmp_path / "leadkit.toml"
    path.write_text(f'[network]\napi = "{network.url}"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                    '[journal]\npath = "leads.db"\nrelay = false\nretry_base = 0.1\n')
    return path


def place_orders(config_file: Path, network: SandboxNetwork) -> LeadKit:
    """Three leads: one delivered, one rejected (ban), one pending (502)."""
    kit = LeadKit(lambda e, s: [], str(config_file))
    client = Client(kit)
    client.post("/leadkit/order", data={"name": "Ann", "phone": "87001234567", "utm_source": "fb"})
    network.fail_next(1, "ban", message="Banned.")
    client.post("/leadkit/order", data={"name": "Bob", "phone": "87011234567"})
    network.fail_next(1, "502")
    client.post("/leadkit/order", data={"name": "Cem", "phone": "87021234567"})
    return kit


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["journal", *args])
    return code, capsys.readouterr().out


def test_stats_and_list(config_file: Path, network: SandboxNetwork, capsys: pytest.CaptureFixture[str]) -> None:
    place_orders(config_file, network)
    code, out = run(capsys, "stats", "--config", str(config_file))
    assert code == 0 and json.loads(out)["counts"] == {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}
    code, out = run(capsys, "list", "--config", str(config_file), "--state", "rejected")
    assert code == 0 and len(out.strip().splitlines()) == 2 and "ban" in out
    code, out = run(capsys, "list", "--config", str(config_file), "--hours", "1")
    assert len(out.strip().splitlines()) == 4


def test_show(config_file: Path, network: SandboxNetwork, capsys: pytest.CaptureFixture[str]) -> None:
    kit = place_orders(config_file, network)
    lead = next(kit.journal.entries(state="delivered"))
    code, out = run(capsys, "show", lead.id, "--config", str(config_file))
    shown = json.loads(out)
    assert code == 0 and shown["id"] == lead.id and shown["payload"]["utm_source"] == "fb"
    assert "fingerprint" not in shown and KEY not in out
    assert main(["journal", "show", "nope", "--config", str(config_file)]) == 1


def test_retry_sends_due_leads_and_one_lead_now(config_file: Path, network: SandboxNetwork,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    kit = place_orders(config_file, network)
    pending = next(kit.journal.entries(state="pending"))
    code, out = run(capsys, "retry", pending.id, "--config", str(config_file))
    assert code == 0 and f"lead {pending.id}: delivered" in out
    assert len(network.accepted()) == 2
    code, out = run(capsys, "retry", pending.id, "--config", str(config_file))
    assert "is delivered: nothing to send" in out
    code, out = run(capsys, "retry", "--config", str(config_file))
    assert code == 0 and "attempted 0 due lead(s)" in out, "the rejected lead is never retried"
    assert len(network.leads) == 4


def test_export_csv_and_jsonl(config_file: Path, network: SandboxNetwork, capsys: pytest.CaptureFixture[str]) -> None:
    place_orders(config_file, network)
    code, out = run(capsys, "export", "--config", str(config_file))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["state"] for r in rows] == ["delivered", "rejected", "pending"]
    assert [r["phone"] for r in rows] == ["77001234567", "77011234567", "77021234567"]
    assert rows[0]["utm_source"] == "fb" and rows[1]["error_code"] == "ban" and rows[1]["error_message"] == "Banned."
    code, out = run(capsys, "export", "--format", "jsonl", "--state", "pending", "--config", str(config_file))
    (line,) = out.strip().splitlines()
    assert json.loads(line)["payload"]["name"] == "Cem"
    assert KEY not in out and SECRET not in out
