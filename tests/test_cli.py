"""``leadkit check`` (``--live`` against the sandbox network on loopback) and the command line's error
handling; the example configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from leadkit.cli import main
from leadkit.testing.sandbox import SandboxNetwork
from servers import free_port
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

    from leadkit.config_file import load_config
    from leadkit.server import make_app

    with make_app(load_config(EXAMPLE, journal={"path": str(tmp_path / "leadkit.db")})) as app:
        client = Client(app)
        assert 'name="phone"' in client.get("/").get_data(as_text=True)
        assert "Seven mountain herbs" in client.get("/about").get_data(as_text=True)


# -- leadkit check --live: the configuration proven against the network, no lead sent ----------

ROOT = Path(__file__).resolve().parent.parent
OTHER_KEY = "2-0f3a9c2e7b5d4a1e"


@pytest.fixture(scope="module")
def live_network() -> Iterator[SandboxNetwork]:
    with SandboxNetwork(keys=[KEY], offers={217: [42], 300: [7]}) as network:
        yield network


@pytest.fixture()
def sandbox_net(live_network: SandboxNetwork) -> SandboxNetwork:
    live_network.reset()
    return live_network


def write_config(folder: Path, api: str, role: str = "wm", dialect: str = "dalead", offer: int = 217,
                 flow: int = 42, timeout: float = 5) -> Path:
    config = folder / "leadkit.toml"
    config.write_text(f'[network]\napi = "{api}"\nrole = "{role}"\ndialect = "{dialect}"\ntimeout = {timeout}\n'
                      f'[offer]\noffer = {offer}\ncountry = "kz"\n' + (f"flow = {flow}\n" if role == "wm" else ""))
    return config


def check_live(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit code, and the findings: the lines after the one that announces the live check."""
    code = main(["check", "--config", str(config), "--live"])
    out, err = capsys.readouterr()
    assert KEY not in out + err and OTHER_KEY not in out + err and SECRET not in out + err
    return code, [line.strip() for line in out.split("(read-only calls, no lead is sent):\n", 1)[1].splitlines()]


@pytest.mark.parametrize(("role", "dialect", "proven", "unproven", "reads"), [
    pytest.param("wm", "dalead", ["network.api", "network.key", "network.role", "offer.offer", "offer.flow"],
                 ["network.dialect"], ["wm/offers", "wm/flows"], id="wm"),
    pytest.param("ext", "moe", ["network.api", "network.key", "network.role"], ["offer.offer", "network.dialect"],
                 ["ext/list"], id="ext"),
    pytest.param("comp", "dalead", ["network.api", "network.key", "network.role"],
                 ["offer.offer", "network.dialect"], ["comp/list"], id="comp"),
])
def test_check_live_proves_a_correct_configuration(secrets_in_env: None, tmp_path: Path, sandbox_net: SandboxNetwork,
                                                   capsys: pytest.CaptureFixture[str], role: str, dialect: str,
                                                   proven: list[str], unproven: list[str], reads: list[str]) -> None:
    sandbox_net.reset(role=role, dialect=dialect)
    code, findings = check_live(write_config(tmp_path, sandbox_net.url, role, dialect), capsys)
    assert code == 0, findings
    assert [f.split(":")[0].split() for f in findings[:-1]] == [
        *(["ok", name] for name in proven), *(["unproven", name] for name in unproven)]
    assert findings[-1] == "the network confirms every setting it can; no lead was sent"
    assert sandbox_net.leads == [], "never a lead"
    assert [call for call, _ in sandbox_net.reads] == reads


@pytest.mark.parametrize(("setup", "config", "setting", "says"), [
    pytest.param({"role": "ext"}, {}, "network.role", "wm/offers was refused (error 'access'): this key may not use "
                 "the webmaster (wm) calls", id="wm-config-ext-key"),
    pytest.param({"role": "wm"}, {"role": "ext"}, "network.role", "ext/list was refused (error 'access')",
                 id="ext-config-wm-key"),
    pytest.param({"role": "ext"}, {"role": "comp"}, "network.role", "comp/list was refused (error 'access')",
                 id="comp-config-ext-key"),
    pytest.param({}, {"offer": 999}, "offer.offer", "offer 999 is not among the offers open to this account",
                 id="offer-unknown"),
    pytest.param({}, {"flow": 7}, "offer.flow", "flow 7 is for offer 300, not offer 217", id="flow-of-another-offer"),
    pytest.param({}, {"flow": 8}, "offer.flow", "this account has no flow 8 for offer 217", id="flow-unknown"),
    pytest.param({}, {"offer": 300}, "offer.flow", "flow 42 is for offer 217, not offer 300",
                 id="offer-of-another-flow"),
])
def test_check_live_names_the_setting_that_is_wrong(secrets_in_env: None, tmp_path: Path,
                                                    sandbox_net: SandboxNetwork, capsys: pytest.CaptureFixture[str],
                                                    setup: dict[str, str], config: dict[str, Any], setting: str,
                                                    says: str) -> None:
    sandbox_net.reset(**setup)
    code, findings = check_live(write_config(tmp_path, sandbox_net.url, **config), capsys)
    assert code == 2
    wrong = [f for f in findings if f.startswith("wrong")]
    assert any(f.startswith(f"wrong     {setting}: {says}") for f in wrong), findings
    assert findings[-1] == f"{len(wrong)} setting(s) to change; no lead was sent"
    assert sandbox_net.leads == []


def test_check_live_with_a_wrong_key(tmp_path: Path, sandbox_net: SandboxNetwork, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEADKIT_KEY", OTHER_KEY)
    monkeypatch.setenv("LEADKIT_SECRET", SECRET)
    code, findings = check_live(write_config(tmp_path, sandbox_net.url), capsys)
    assert code == 2
    assert findings[0] == "wrong     network.key: wm/offers was refused (error 'key'): the network does not know " \
                          "this key: check network.key (or LEADKIT_KEY)"
    assert [call for call, _ in sandbox_net.reads] == ["wm/offers"], "nothing more to prove without a key"


@pytest.mark.parametrize(("how", "kwargs", "setting", "says"), [
    pytest.param("garbage", {}, "network.api", "answered HTTP 200 with a body that is not JSON, not the engine's",
                 id="not-json"),
    pytest.param("503", {}, "network.api", "answered HTTP 503: the network is failing now", id="http-503"),
    pytest.param("429", {}, "network.api", "answered HTTP 429", id="http-429"),
    pytest.param("func", {}, "network.role", "wm/offers was refused (error 'func'): the network has no such call",
                 id="func"),
    pytest.param("app", {}, "network.api", "wm/offers was refused (error 'app'): the network has no such API",
                 id="app"),
    pytest.param("key", {"error_field": "error_text"}, "network.key", "wm/offers was refused (error 'key')",
                 id="old-engine-error-text"),
    pytest.param("security", {"info": "blocked"}, "network.key",
                 "wm/offers was refused (error 'security', info 'blocked'): the network account is blocked",
                 id="blocked-account"),
    pytest.param("db", {}, "network.api", "wm/offers was refused (error 'db'): the network is failing on its side",
                 id="db"),
    pytest.param("hang", {"retry_after": 60}, "network.api", "no complete answer from", id="hang"),
])
def test_check_live_when_the_network_misbehaves(secrets_in_env: None, tmp_path: Path, sandbox_net: SandboxNetwork,
                                                capsys: pytest.CaptureFixture[str], how: str, kwargs: dict[str, Any],
                                                setting: str, says: str) -> None:
    sandbox_net.fail_next(1, how, **kwargs)
    code, findings = check_live(write_config(tmp_path, sandbox_net.url, timeout=0.5), capsys)
    assert code == 2
    assert findings[0].startswith(f"wrong     {setting}: ") and says in findings[0], findings


@pytest.mark.parametrize(("api", "says"), [
    pytest.param("{base}/site", "answered HTTP 404 with a body that is not JSON", id="not-the-api-path"),
    pytest.param("http://127.0.0.1:{port}/api", "could not reach http://127.0.0.1:{port}/api/wm/offers.json "
                 "(Connection refused): check network.api", id="nothing-listens"),
])
def test_check_live_with_a_wrong_api(secrets_in_env: None, tmp_path: Path, sandbox_net: SandboxNetwork,
                                     capsys: pytest.CaptureFixture[str], api: str, says: str) -> None:
    port = free_port()
    base = sandbox_net.url.removesuffix("/api")
    code, findings = check_live(write_config(tmp_path, api.format(base=base, port=port)), capsys)
    assert code == 2
    assert findings[0].startswith("wrong     network.api: ") and says.format(port=port) in findings[0], findings


def test_check_live_cannot_tell_a_wrong_dialect_and_says_so(secrets_in_env: None, tmp_path: Path,
                                                            sandbox_net: SandboxNetwork,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """No read-only call shows the field names: a wrong dialect is reported unproven, not proven."""
    sandbox_net.reset(dialect="moe")
    code, findings = check_live(write_config(tmp_path, sandbox_net.url, dialect="dalead"), capsys)
    assert code == 0
    assert findings[-2].startswith("unproven  network.dialect: no read-only call shows which field names")


def test_check_live_as_a_process(tmp_path: Path, sandbox_net: SandboxNetwork) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}
    done = subprocess.run([sys.executable, "-m", "leadkit", "check", "--live", "--config",
                           str(write_config(tmp_path, sandbox_net.url, flow=7))],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stderr
    assert "wrong     offer.flow: flow 7 is for offer 300" in done.stdout
    assert KEY not in done.stdout + done.stderr
    assert sandbox_net.leads == []


def test_check_says_what_it_found_in_the_kit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_kit import KIT_KEY, write_kit

    write_kit(tmp_path / "kit")
    config = tmp_path / "leadkit.toml"
    config.write_text(f'[network]\napi = "https://lk.example/api"\nkey = "{KEY}"\n[offer]\noffer = 217\nflow = 42\n'
                      f'country = "pl"\n[site]\nsecret = "{SECRET}"\npages = "kit"\n'
                      '[site.form_aliases]\nimie = "name"\ntelefon = "phone"\n')
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "page /index.html (served as it is)" in out
    assert "form 1 posts to 'getform.php': takes orders (name, phone)" in out
    assert "form 2 posts to '/getform.php': takes orders (imie -> name, telefon -> phone)" in out
    assert "form 3 posts to 'https://search.example/': left as it is (no phone field; fields: q)" in out
    assert "page /domonetka/index.php (served with its PHP removed)" in out
    assert "PHP removed at line 2: <?php echo rand(3, 9); ?>" in out
    assert "thank-you page: /ok.php (found in the kit" in out
    assert "never served, orders posted to it are taken by leadkit: /getform.php" in out
    assert KIT_KEY not in out and KEY not in out


def test_serve_stops_on_sigterm_while_a_browser_holds_a_keep_alive_connection(tmp_path: Path) -> None:
    import socket

    from servers import leadkit_process

    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "index.html").write_text("<p>landing</p>")
    config = tmp_path / "leadkit.toml"
    config.write_text(f'[network]\napi = "http://127.0.0.1:9/api"\nkey = "{KEY}"\n[offer]\noffer = 217\nflow = 42\n'
                      f'country = "kz"\n[site]\nsecret = "{SECRET}"\npages = "pages"\n')
    with leadkit_process("serve", "--config", str(config), "--port", "0") as (url, process):
        host, port = url.split("//", 1)[1].rstrip("/").split(":")
        with socket.create_connection((host, int(port))) as browser:  # a keep-alive connection, left idle
            browser.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"</p>" not in answer and (chunk := browser.recv(65536)):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200") and b"landing" in answer
            process.terminate()
            # Waitress closed idle connections only after channel_timeout (30 s): SIGTERM now ends the loop.
            assert process.wait(timeout=15) == 0
            assert browser.recv(1) == b"", "the server closed the idle connection as it stopped"


def test_check_shows_the_status_checks_and_each_postback_and_event(tmp_path: Path, secrets_in_env: None,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    token = "EAAB-check-token-0123456789"
    monkeypatch.setenv("LEADKIT_FACEBOOK_TOKEN", token)
    config = tmp_path / "leadkit.toml"
    config.write_text(EXAMPLE.read_text().replace("[site]", """[sync]
interval = 30

[[postback]]
url = "https://tracker.example/postback?subid={subid}&status={status}&payout={payout}&fb={fbclid}"
status = { approve = "sale" }

[capi.facebook]
pixel = "123456789012345"

[site]""", 1).replace('pages = "landing"', f'pages = "{EXAMPLE.parent / "landing"}"'))
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "statuses: wm/lead.json?ids=... every 30 s" in out
    assert "on lead: postback:0 GET https://tracker.example/postback?subid=&status=lead&payout=&fb=IwAR-sample" \
        in out
    assert "on approve: postback:0 GET https://tracker.example/postback?subid=&status=sale" in out
    assert "on approve: facebook POST https://graph.facebook.com/v21.0/123456789012345/events" in out
    assert token not in out and KEY not in out


def test_check_says_when_no_one_hears_of_leads(secrets_in_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert "no [[postback]] and no [capi.*]" in capsys.readouterr().out


def test_import_leadkit_leaves_the_heavy_libraries_for_when_they_are_needed() -> None:
    """``import leadkit`` (and the command line, before it knows its command) imports none of what
    the pages, the forms, languages and phone numbers need: Babel, phonenumbers, werkzeug, Jinja,
    urllib3. ``make bench`` measures the time; this keeps an import from slipping back in."""
    heavy = ("babel", "phonenumbers", "werkzeug", "jinja2", "urllib3", "psycopg")
    code = ("import sys, leadkit, leadkit.cli\n"
            f"print(sorted(name for name in {heavy!r} if name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
