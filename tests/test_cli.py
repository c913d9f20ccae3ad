"""``leadkit check`` and the command line's error handling; the example configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadkit.cli import main
from support import KEY, SECRET

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "standalone" / "leadkit.toml"


@pytest.fixture()
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADKIT_KEY", KEY)
    monkeypatch.setenv("LEADKIT_SECRET", SECRET)


def test_check_prints_the_sample_call_with_the_key_masked(secrets_in_env: None,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "POST https://lk.dalead.pro/api/wm/push.json?id=***" in out
    for field in ("offer", "flow", "phone", "phonecc", "mobile", "utm_source", "currency", "country"):
        assert f"\n  {field} " in out
    assert KEY not in out and SECRET not in out


def test_check_reports_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "leadkit.toml"
    config.write_text('[network]\napi = "lk.dalead.pro"\nkey = "1-abc"\ndialect = "old"\n'
                      '[offer]\noffer = "x"\ncountry = "kz"\n[site]\nsecret = "short"\nmuont = "/x"\n')
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    for expected in ("network.api", "network.dialect must be one of dalead, moe (got 'old')", "offer.offer",
                     "offer.flow is required", "site.secret is too short", "unknown key site.muont; did you mean"):
        assert expected in err
    assert "short" not in err.replace("too short", "")


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_example_pages_render(secrets_in_env: None, tmp_path: Path) -> None:
    from werkzeug.test import Client

    from leadkit.config import load_config
    from leadkit.server import make_app

    with make_app(load_config(EXAMPLE, journal={"path": str(tmp_path / "leadkit.db")})) as app:
        client = Client(app)
        assert 'name="phone"' in client.get("/").get_data(as_text=True)
        assert "Seven mountain herbs" in client.get("/about").get_data(as_text=True)
