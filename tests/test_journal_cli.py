"""``leadkit journal list|show|retry|export|stats`` against a real journal and the sandbox: what they show,
a spreadsheet-safe export, reading without the secrets, and a journal that cannot be used."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import BrowserClient as Client

from leadkit import LeadKit
from leadkit.cli import main
from leadkit.errors import JournalError
from leadkit.journal import Entry, Outcome, SQLiteJournal
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


# -- what the network said was missing; a spreadsheet-safe export ----------------------------------

#: Text that a spreadsheet would run as a formula, as a visitor or a network might send it.
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd",
            "\t=1+1", "\r=1+1"]


def journal_with(config_file: Path, *leads: tuple[str, dict[str, str], Outcome]) -> None:
    """Write leads straight into the journal ``config_file`` names: id, payload, the outcome recorded."""
    journal = SQLiteJournal(config_file.parent / "leads.db")
    for lead_id, payload, outcome in leads:
        journal.add(Entry(id=lead_id, call="wm/push", payload=payload), owner="test", lease=60, window=0)
        journal.record(lead_id, outcome, owner="test")
    journal.close()


def test_show_and_list_tell_what_the_network_said_was_missing(config_file: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    journal_with(config_file, ("lead-1", {"name": "Ann", "phone": "77001234567"},
                               Outcome("rejected", error_code="data", bad=("phone", "email"))))
    code, out = run(capsys, "show", "lead-1", "--config", str(config_file))
    assert code == 0 and json.loads(out)["bad"] == ["phone", "email"]
    code, out = run(capsys, "list", "--config", str(config_file))
    assert "data (missing: phone, email)" in out


def test_a_csv_export_never_starts_a_formula(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = {f"field{n}": text for n, text in enumerate(FORMULAS)}
    payload.update(name=FORMULAS[0], phone="77001234567", comment=FORMULAS[1], utm_source=FORMULAS[3])
    journal_with(config_file, ("=1+1", payload, Outcome("rejected", error_code="data", error_message=FORMULAS[2],
                                                        bad=("-phone",))))
    code, out = run(capsys, "export", "--config", str(config_file))
    header, row = list(csv.reader(io.StringIO(out)))
    cells = dict(zip(header, row))
    assert code == 0 and len(header) == len(row)
    for name in ("id", "name", "comment", "utm_source", "error_message", "bad",
                 *(f"field{n}" for n in range(len(FORMULAS)))):
        assert cells[name].startswith("'"), (name, cells[name])
    assert cells["name"] == "'" + FORMULAS[0] and cells["field4"] == "'\t=1+1", "the text itself is kept after the '"
    assert cells["phone"] == "77001234567" and cells["state"] == "rejected", "other cells are untouched"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in header + row)


def test_json_lines_keep_every_value_exactly(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = {"name": FORMULAS[0], "comment": FORMULAS[4], "phone": "77001234567"}
    journal_with(config_file, ("lead-1", payload, Outcome("rejected", error_message=FORMULAS[2], bad=("-x",))))
    code, out = run(capsys, "export", "--format", "jsonl", "--config", str(config_file))
    (line,) = out.strip().splitlines()
    exported = json.loads(line)
    assert exported["payload"] == payload and exported["error_message"] == FORMULAS[2] and exported["bad"] == ["-x"]


# -- reading needs no secrets; a journal that cannot be used is one sentence ---------------------------


@pytest.fixture()
def no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration file with neither the key nor the secret, and none in the environment."""
    for name in ("LEADKIT_KEY", "LEADKIT_SECRET", "LEADKIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "leadkit.toml"
    path.write_text('[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                    '[journal]\npath = "leads.db"\nrelay = false\n')
    journal_with(path, ("lead-1", {"name": "Ann", "phone": "77001234567"}, Outcome("delivered", network_id="9")))
    return path


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["list"], "network id 9", id="list"),
    pytest.param(["show", "lead-1"], '"network_id": "9"', id="show"),
    pytest.param(["stats"], '"delivered": 1', id="stats"),
    pytest.param(["export"], "77001234567", id="export"),
])
def test_reading_the_journal_needs_neither_the_key_nor_the_secret(no_secrets: Path, args: list[str], expected: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, *args, "--config", str(no_secrets))
    assert code == 0 and expected in out


def test_retry_sends_so_it_needs_them(no_secrets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "retry", "--config", str(no_secrets)]) == 2
    err = capsys.readouterr().err
    assert "network.key is missing" in err and "site.secret is missing" in err


def test_reading_still_checks_the_rest_of_the_file(no_secrets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_secrets.write_text(no_secrets.read_text().replace('relay = false', 'relay = false\nretry_bse = 5'))
    assert main(["journal", "list", "--config", str(no_secrets)]) == 2
    assert "unknown key journal.retry_bse; did you mean 'retry_base'?" in capsys.readouterr().err


def corrupt_journal(config_file: Path) -> Path:
    path = config_file.parent / "leads.db"
    path.write_bytes(b"these bytes are not a database, " * 256)
    return path


@pytest.mark.parametrize("command", ["list", "stats", "export", "retry"])
def test_a_corrupt_journal_is_one_sentence_and_exit_2(config_file: Path, command: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = corrupt_journal(config_file)
    assert main(["journal", command, "--config", str(config_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"the lead journal {str(path)!r} cannot be used (corrupt): it is not a "
                                         "SQLite database or it is damaged: move it aside (it may still hold leads) "
                                         "and start leadkit again to make a new one, or set journal.path to another "
                                         "file"]


def test_leadkit_serve_with_a_corrupt_journal_says_so_without_a_traceback(config_file: Path) -> None:
    path = corrupt_journal(config_file)
    (config_file.parent / "pages").mkdir()
    config_file.write_text(config_file.read_text() + '[site]\npages = "pages"\n')
    result = subprocess.run([sys.executable, "-m", "leadkit", "serve", "--config", str(config_file), "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"the lead journal {str(path)!r} cannot be used (corrupt): ") and "move it aside" in line


def test_leadkit_in_python_raises_the_journal_error(config_file: Path) -> None:
    path = corrupt_journal(config_file)
    with pytest.raises(JournalError) as failed:
        LeadKit(lambda e, s: [], str(config_file))
    assert (failed.value.path, failed.value.reason) == (str(path), "corrupt")
