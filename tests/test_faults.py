"""Every lead survives, exactly once: the fault-injection scenarios of ``scripts/fault_injection.py``.

Real processes (``leadkit serve``, gunicorn with four workers, ``leadkit journal retry``),
real loopback sockets, the sandbox network failing in each way, ``kill -9`` of the server while
the network holds the answer to a lead it took (per role); counted at the network. Each scenario
states how many leads may become two orders: none, except roles without an order id of their own
(``wm``, ``comp``) whose retry lands after the network's de-duplication window.

The scale-out scenarios run three servers (gunicorn, four workers each) with nothing shared but one
PostgreSQL database (the session's throwaway cluster, a database each): ``kill -9`` of one server
mid-send, a network outage, the database stopped and started under load, per role. Where PostgreSQL
cannot run they are skipped, and the skip says why (:data:`postgres.POSTGRES_MISSING`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
import pytest

from postgres import PostgresServer

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fault_injection.py"
spec = importlib.util.spec_from_file_location("fault_injection", SCRIPT)
assert spec and spec.loader
faults = importlib.util.module_from_spec(spec)
sys.modules["fault_injection"] = faults
spec.loader.exec_module(faults)


@pytest.mark.parametrize("name", list(faults.SCENARIOS))
def test_no_lead_lost_or_sent_twice(name: str, tmp_path: Path) -> None:
    if name == "4-workers+cron":
        pytest.importorskip("gunicorn", reason="gunicorn is not installed: `make test` installs it")
    single_server_promises(name, faults.SCENARIOS[name](tmp_path))


@pytest.mark.parametrize("name", list(faults.PG_SCENARIOS))
def test_no_lead_lost_or_sent_twice_with_the_journal_on_postgresql(name: str, tmp_path: Path,
                                                                    postgres_server: PostgresServer) -> None:
    if name == "4-workers+cron-pg":
        pytest.importorskip("gunicorn", reason="gunicorn is not installed: `make test` installs it")
    single_server_promises(name, faults.PG_SCENARIOS[name](tmp_path, postgres_server))


def single_server_promises(name: str, figures: faults.Figures) -> None:
    assert (figures.lost, figures.twice) == (0, figures.expected_twice), figures
    assert figures.journal["delivered"] == figures.submitted, figures
    assert figures.journal["rejected"] == figures.journal["dead"] == 0, figures
    if not name.startswith("kill-9"):  # there the customers' connections die with the server
        assert figures.thanked == figures.submitted, "every customer saw the thank-you page"


@pytest.mark.parametrize("name", list(faults.SCALE_SCENARIOS))
def test_scale_out_on_one_database(name: str, tmp_path: Path, postgres_server: PostgresServer) -> None:
    pytest.importorskip("gunicorn", reason="gunicorn is not installed: `make test` installs it")
    figures = faults.SCALE_SCENARIOS[name](tmp_path, postgres_server)
    assert (figures.lost, figures.twice) == (0, figures.expected_twice), figures
    assert figures.resent == figures.expected_resent or figures.expected_resent is None, figures
    assert figures.refused == figures.expected_refused, f"what the customers who were not thanked saw: {figures}"
    assert figures.thanked + sum(figures.refused.values()) == figures.submitted, figures
    assert figures.journal["pending"] == figures.journal["rejected"] == figures.journal["dead"] == 0, figures
    if figures.journal_partial:  # the database was down: what the desk sent directly is not in the journal
        assert figures.delivered >= figures.thanked, "a thank-you only with the lead kept or delivered"
    else:
        assert figures.journal["delivered"] == figures.delivered == figures.submitted, figures
    assert figures.ok, figures
