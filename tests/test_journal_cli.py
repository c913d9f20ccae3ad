"""``leadkit journal list|show|retry|export|stats|migrate`` against a real journal and the sandbox: what they show,
a spreadsheet-safe export, reading without the secrets, and a journal that cannot be used."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from support import BrowserClient as Client

from leadkit import LeadKit
from leadkit.cli import main
from leadkit.errors import JournalError
from leadkit.journal import Entry, Outcome, SQLiteJournal
from leadkit.journal_pg_schema import LATEST
from leadkit.testing.sandbox import SandboxNetwork
from journals import Journals
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


def journal_with(config_file: Path, *leads: tuple[str, dict[str, str], Outcome | None],
                 landings: dict[str, str] | None = None) -> None:
    """Write leads straight into the journal ``config_file`` names: id, payload, the outcome recorded
    (None: left pending), each from the landing ``landings`` names for its id (else the default one)."""
    journal = SQLiteJournal(config_file.parent / "leads.db")
    for lead_id, payload, outcome in leads:
        landing = (landings or {}).get(lead_id, "")
        journal.add(Entry(id=lead_id, call="wm/push", payload=payload, landing=landing), owner="test", lease=60,
                    window=0)
        if outcome is not None:
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
                                                        bad=("-phone",))), landings={"=1+1": FORMULAS[3]})
    code, out = run(capsys, "export", "--config", str(config_file))
    header, row = list(csv.reader(io.StringIO(out)))
    cells = dict(zip(header, row))
    assert code == 0 and len(header) == len(row)
    for name in ("id", "landing", "name", "comment", "utm_source", "error_message", "bad",
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


# -- landings: each lead shows where it came from; one landing's leads ---------------------------------

#: Leads of three landings: the default one (shown as ``-``), ``sk`` and ``pl-quiz``.
LANDING_LEADS = (("lead-d1", {"name": "Ann", "phone": "77001234567"}, Outcome("delivered", network_id="11")),
                 ("lead-s1", {"name": "Bob", "phone": "77011234567"}, Outcome("delivered", network_id="12")),
                 ("lead-s2", {"name": "Cem", "phone": "77021234567"}, Outcome("rejected", error_code="ban")),
                 ("lead-s3", {"name": "Dan", "phone": "77031234567"}, None),
                 ("lead-q1", {"name": "Eve", "phone": "77041234567"}, None))
LANDINGS = {"lead-s1": "sk", "lead-s2": "sk", "lead-s3": "sk", "lead-q1": "pl-quiz"}


@pytest.fixture()
def three_landings(config_file: Path) -> Path:
    journal_with(config_file, *LANDING_LEADS, landings=LANDINGS)
    return config_file


def listed(out: str) -> dict[str, list[str]]:
    """``list``'s rows by lead id, split at spaces; the header's words under ``header``."""
    header, *rows = out.strip().splitlines()
    return {"header": header.split(), **{row.split()[0]: row.split() for row in rows}}


def test_list_shows_each_lead_s_landing(three_landings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "list", "--config", str(three_landings))
    rows = listed(out)
    assert code == 0 and rows["header"][:3] == ["id", "state", "landing"]
    assert {lead_id: row[2] for lead_id, row in rows.items() if lead_id != "header"} == {
        "lead-d1": "-", "lead-s1": "sk", "lead-s2": "sk", "lead-s3": "sk", "lead-q1": "pl-quiz"}


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["--landing", "sk"], ["lead-s1", "lead-s2", "lead-s3"], id="one-landing"),
    pytest.param(["--landing", "-"], ["lead-d1"], id="the-default-landing-as-dash"),
    pytest.param(["--landing", ""], ["lead-d1"], id="the-default-landing-by-its-empty-name"),
    pytest.param(["--landing", "sk", "--state", "pending"], ["lead-s3"], id="with-a-state"),
    pytest.param(["--landing", "nowhere"], [], id="a-landing-without-leads"),
])
def test_list_of_one_landing(three_landings: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                             expected: list[str]) -> None:
    code, out = run(capsys, "list", *args, "--config", str(three_landings))
    assert code == 0 and [lead_id for lead_id in listed(out) if lead_id != "header"] == expected


def test_show_tells_the_landing(three_landings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", "lead-s1", "--config", str(three_landings))
    assert code == 0 and json.loads(out)["landing"] == "sk"
    code, out = run(capsys, "show", "lead-d1", "--config", str(three_landings))
    assert code == 0 and json.loads(out)["landing"] == "", "the value as stored: the default landing's name is empty"


def test_exports_carry_the_landing_and_take_one_landing(three_landings: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "export", "--config", str(three_landings))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["id"]: r["landing"] for r in rows} == {
        "lead-d1": "", "lead-s1": "sk", "lead-s2": "sk", "lead-s3": "sk", "lead-q1": "pl-quiz"}
    assert next(csv.reader(io.StringIO(out)))[:3] == ["id", "state", "landing"]
    code, out = run(capsys, "export", "--landing", "sk", "--config", str(three_landings))
    assert code == 0 and [r["id"] for r in csv.DictReader(io.StringIO(out))] == ["lead-s1", "lead-s2", "lead-s3"]
    code, out = run(capsys, "export", "--format", "jsonl", "--landing", "-", "--config", str(three_landings))
    (line,) = out.strip().splitlines()
    assert code == 0 and (json.loads(line)["id"], json.loads(line)["landing"]) == ("lead-d1", "")
    code, out = run(capsys, "export", "--format", "jsonl", "--landing", "pl-quiz", "--state", "pending",
                    "--config", str(three_landings))
    (line,) = out.strip().splitlines()
    assert code == 0 and (json.loads(line)["id"], json.loads(line)["landing"]) == ("lead-q1", "pl-quiz")


def test_stats_count_each_landing(three_landings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "stats", "--config", str(three_landings))
    stats = json.loads(out)
    assert code == 0 and stats["counts"] == {"pending": 2, "delivered": 2, "rejected": 1, "dead": 0}
    assert stats["landings"] == {"-": {"pending": 0, "delivered": 1, "rejected": 0, "dead": 0},
                                 "pl-quiz": {"pending": 1, "delivered": 0, "rejected": 0, "dead": 0},
                                 "sk": {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}}


@pytest.mark.parametrize(("label", "counts"), [
    pytest.param("sk", {"pending": 1, "delivered": 1, "rejected": 1, "dead": 0}, id="sk"),
    pytest.param("-", {"pending": 0, "delivered": 1, "rejected": 0, "dead": 0}, id="the-default-landing"),
    pytest.param("nowhere", {"pending": 0, "delivered": 0, "rejected": 0, "dead": 0}, id="no-leads"),
])
def test_stats_of_one_landing(three_landings: Path, capsys: pytest.CaptureFixture[str], label: str,
                              counts: dict[str, int]) -> None:
    with closing(SQLiteJournal(three_landings.parent / "leads.db")) as journal:
        journal.count("bots_honeypot")
    code, out = run(capsys, "stats", "--landing", label, "--config", str(three_landings))
    stats = json.loads(out)
    assert code == 0 and stats["landing"] == label and stats["counts"] == counts
    assert "counters" not in stats, "counters are the whole site's, not one landing's"
    assert (stats["oldest_pending_age"] is None) == (counts["pending"] == 0)


def test_stats_of_a_journal_of_one_landing_need_no_landings(config_file: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    journal_with(config_file, *LANDING_LEADS[1:3], landings=LANDINGS)
    code, out = run(capsys, "stats", "--config", str(config_file))
    assert code == 0 and "landings" not in json.loads(out)
    assert json.loads(out)["counts"] == {"pending": 0, "delivered": 1, "rejected": 1, "dead": 0}


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


def test_prune_deletes_old_settled_leads_and_says_how_many(config_file: Path, network: SandboxNetwork,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    place_orders(config_file, network).close()
    code, out = run(capsys, "prune", "--config", str(config_file))
    assert code == 0 and out.startswith("pruned 0 delivered or rejected lead(s) none: journal.keep_days is not set")
    with closing(SQLiteJournal(config_file.parent / "leads.db")) as journal:
        journal._connection().execute("UPDATE leads SET created = created - 40 * 86400")
    code, out = run(capsys, "prune", "--days", "30", "--config", str(config_file))
    assert code == 0 and out.startswith("pruned 2 delivered or rejected lead(s) older than 30 day(s)"), out
    with closing(SQLiteJournal(config_file.parent / "leads.db")) as journal:
        assert [e.state for e in journal.entries()] == ["pending"], "the pending lead is kept"
        assert journal.stats()["counts"] == {"pending": 1, "delivered": 0, "rejected": 0, "dead": 0}


def test_migrate_says_which_schema_version_the_journal_was_and_is_at(journals: Journals, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "migrate.toml"
    path.write_text('[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                    f'[journal]\n{journals.config_lines()}relay = false\n')
    code, out = run(capsys, "migrate", "--config", str(path))
    if journals.backend == "sqlite":
        assert code == 0 and out == f"the SQLite journal {journals.where} is brought up to date whenever it is " \
                                    "opened: it is now\n"
        return
    assert code == 0 and out == f"the journal's schema was at version 0 and is now at version {LATEST}\n"
    code, out = run(capsys, "migrate", "--config", str(path))
    assert code == 0 and out == f"the journal's schema is at version {LATEST}: up to date, nothing to do\n"
