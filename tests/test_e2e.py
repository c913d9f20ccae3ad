"""End to end over real loopback sockets: ``leadkit serve`` in its own process, the sandbox network
as its upstream, a visitor arriving with tags through a proxy, ordering with a local-format phone.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from leadkit.testing.sandbox import SandboxNetwork
from servers import leadkit_process, server_log
from leadkit.texts import Texts
from support import KEY, ROLES_AND_DIALECTS, SECRET, wait_for

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
VISIT_TAGS = {"utm_source": "fb", "utm_medium": "cpc", "utm_campaign": "spring", "utm_content": "ad1",
              "utm_term": "tea", "subid": "s-1", "uuid": "u-1", "sub1": "a", "sub2": "b", "sub3": "c",
              "sub4": "d", "sub5": "e"}
MOE_NAMES = {"utm_source": "us", "utm_medium": "um", "utm_campaign": "uc", "utm_content": "un", "utm_term": "ut"}
CUSTOMER_IP = "203.0.113.9"
LANDING = """<!doctype html><html><head><link rel="stylesheet" href="/style.css"></head>
<body><h1>Landing</h1>{{ leadkit_form() }}</body></html>"""


def expected_fields(role: str, dialect: str, lead_id: str | None) -> dict[str, str]:
    """What NOTES.md's tables say this visitor's lead must carry, and nothing else."""
    fields = {"offer": "217", "ip": CUSTOMER_IP, "phone": "77001234567", "name": "Aigerim", "country": "kz",
              "ua": IPHONE}
    if dialect == "dalead":
        fields.update({"phonecc": "+7", "mobile": "1", **VISIT_TAGS})
    else:
        fields.update({(MOE_NAMES.get(k) or f"params[{k}]"): v for k, v in VISIT_TAGS.items()})
    if role == "wm":
        fields["flow"] = "42"
    elif role == "ext":
        fields.update({"extu": lead_id, "exts": "77"} if dialect == "dalead" else {"id": lead_id, "wm": "77"})
    return fields


def write_site(folder: Path, api: str, role: str, dialect: str) -> Path:
    pages = folder / "landing"
    pages.mkdir(exist_ok=True)
    (pages / "index.jinja").write_text(LANDING)  # a page of its own, opted in as a template
    (pages / "style.css").write_text("body{color:#222}")
    offer = {"wm": "flow = 42", "ext": 'source = "77"', "comp": ""}[role]
    config = folder / "leadkit.toml"
    config.write_text(f"""
[network]
api = "{api}"
role = "{role}"
dialect = "{dialect}"
timeout = 5

[offer]
offer = 217
country = "kz"
{offer}

[site]
trusted_proxies = 1
pages = "landing"
""")
    return config


def run_server(tmp_path: Path, sandbox: SandboxNetwork, role: str = "wm", dialect: str = "dalead") -> Any:
    config = write_site(tmp_path, sandbox.url, role, dialect)
    # The secrets come from the environment, as in production.
    return leadkit_process("serve", "--config", str(config), "--port", "0",
                           env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET})


def visit_and_order(base: str, phone: str = "8 (700) 123-45-67") -> requests.Response:
    browser = requests.Session()
    browser.headers.update({"User-Agent": IPHONE, "X-Forwarded-For": CUSTOMER_IP, "Origin": base.rstrip("/")})
    page = browser.get(base, params=VISIT_TAGS, timeout=5)
    assert page.status_code == 200 and 'name="phone"' in page.text
    assert browser.get(base + "style.css", timeout=5).text == "body{color:#222}"
    browser.get(base + "another-page-that-does-not-exist", timeout=5)  # the cookie, not the URL, carries the tags
    return browser.post(base + "leadkit/order", data={"name": "Aigerim", "phone": phone}, allow_redirects=False,
                        timeout=10)


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS, ids=[f"{r}-{d}" for r, d in ROLES_AND_DIALECTS])
def test_each_role_and_dialect_sends_exactly_the_documented_fields(tmp_path: Path, network: SandboxNetwork,
                                                                   role: str, dialect: str) -> None:
    network.reset(role=role, dialect=dialect)
    with run_server(tmp_path, network, role, dialect) as (base, _):
        response = visit_and_order(base)
    assert response.status_code == 303
    (received,) = network.accepted()
    assert received.call == {"wm": "wm/push", "ext": "ext/add", "comp": "comp/add"}[role]
    lead_id = received.fields.get("extu") or received.fields.get("id")
    assert received.fields == expected_fields(role, dialect, lead_id)
    if role == "ext":
        assert lead_id and lead_id.isdigit() and lead_id != "auto"
    # The moe documents' answers carry no autologin url: the customer is thanked.
    assert response.headers["Location"] == received.answer.get("url", "/leadkit/thanks")


def test_autologin_page_is_reached_by_following_redirects(tmp_path: Path, network: SandboxNetwork) -> None:
    with run_server(tmp_path, network) as (base, _):
        browser = requests.Session()
        browser.headers["Origin"] = base.rstrip("/")
        browser.get(base + "?utm_source=fb", timeout=5)
        page = browser.post(base + "leadkit/order", data={"name": "Aigerim", "phone": "87001234567"}, timeout=10)
    assert page.status_code == 200 and "Sandbox cabinet" in page.text


def test_thank_you_page_without_autologin(tmp_path: Path) -> None:
    with SandboxNetwork(keys=[KEY], autologin=False) as sandbox, run_server(tmp_path, sandbox) as (base, _):
        page = requests.post(base + "leadkit/order", data={"name": "Aigerim", "phone": "7001234567"}, timeout=10,
                             headers={"Origin": base.rstrip("/")})
    assert page.status_code == 200 and page.url == base + "leadkit/thanks"
    assert Texts("ru")("thanks_title") in page.text, "a Kazakh offer's customers read Russian first"


def test_network_message_is_shown_to_the_customer(tmp_path: Path, network: SandboxNetwork) -> None:
    with run_server(tmp_path, network) as (base, _):
        response = visit_and_order(base, phone="8 (700) 000-00-00")  # the sandbox bans this number
    assert response.status_code == 422
    assert "This phone number is blacklisted by the network." in response.text
    assert 'value="8 (700) 000-00-00"' in response.text


def test_network_down_still_thanks_the_customer(tmp_path: Path, network: SandboxNetwork) -> None:
    with run_server(tmp_path, network) as (base, process):
        network.fail_next(1, "garbage")
        response = visit_and_order(base)
    assert (response.status_code, response.headers.get("Location")) == (303, "/leadkit/thanks")
    log = server_log(process)
    assert "kept in the journal" in log, log
    assert KEY not in log and SECRET not in log and "77001234567" not in log


def test_spoofed_forwarded_for_cannot_choose_the_ip(tmp_path: Path, network: SandboxNetwork) -> None:
    with run_server(tmp_path, network) as (base, _):
        requests.post(base + "leadkit/order", data={"name": "A", "phone": "87001234567"}, timeout=10,
                      headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.44", "Origin": base.rstrip("/")})
    assert network.accepted()[0].fields["ip"] == "198.51.100.44", "the right-most hop, the one our proxy wrote"


def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "leadkit.toml"
    config.write_text('[network]\napi = "http://127.0.0.1:9/api"\nrole = "webmaster"\n[offer]\noffer = 217\n'
                      'country = "kz"\n[site]\npages = "nowhere"\n')
    result = subprocess.run([sys.executable, "-m", "leadkit", "serve", "--config", str(config), "--port", "0"],
                            capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    for expected in ("network.role must be one of wm, ext, comp (got 'webmaster')", "network.key is missing",
                     "site.secret is missing", "site.pages"):
        assert expected in result.stderr


def test_demo_runs_with_no_config_and_ends_at_the_sandbox_cabinet(tmp_path: Path) -> None:
    with leadkit_process("demo", "--port", "0", cwd=tmp_path, env={"LEADKIT_CONFIG": ""}) as (base, _):
        browser = requests.Session()
        browser.headers["Origin"] = base.rstrip("/")
        landing = browser.get(base + "?utm_source=demo&sub1=click-42", timeout=5)
        assert landing.status_code == 200 and "click-42" in landing.text and 'name="phone"' in landing.text
        page = browser.post(base + "leadkit/order", data={"name": "Aigerim", "phone": "8 (701) 234-56-78"},
                            timeout=10)
    assert page.status_code == 200 and "Sandbox cabinet" in page.text


def test_demo_shows_the_whole_loop_order_approval_postback_report(tmp_path: Path) -> None:
    with leadkit_process("demo", "--port", "0", cwd=tmp_path, env={"LEADKIT_CONFIG": ""}) as (base, process):
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(6))
        cabinet = re.search(r"cabinet: (\S+)", banner)
        postbacks = re.search(r"would get: (\S+)", banner)
        report = re.search(r"leadkit report --config (\S+)", banner)
        assert cabinet and postbacks and report, banner
        browser = requests.Session()
        browser.headers["Origin"] = base.rstrip("/")
        browser.get(base + "?utm_source=demo&sub1=click-42", timeout=5)
        page = browser.post(base + "leadkit/order", data={"name": "Aigerim", "phone": "8 (701) 234-56-78"},
                            timeout=10)
        # The customer's cabinet has the buttons a person presses to move the lead: approve it.
        action = re.search(r'<form method="post" action="([^"]+)">', page.text)
        back = re.search(r'name="next" value="([^"]+)"', page.text)
        assert action and back, page.text
        origin = cabinet.group(1).split("/api/", 1)[0]
        moved = requests.post(origin + html.unescape(action.group(1)),
                              data={"stage": "approve", "next": html.unescape(back.group(1))}, timeout=5)
        assert moved.status_code == 200 and "approve" in moved.text

        def sale() -> list[dict[str, str]]:
            received = requests.get(postbacks.group(1), headers={"Accept": "application/json"}, timeout=5).json()
            return [each for each in received if each.get("status") == "sale"]
        assert wait_for(sale, 30), server_log(process)
        (postback,) = sale()
        assert (postback["utm_source"], postback["sub1"], postback["payout"]) == ("demo", "click-42", "700")
        result = subprocess.run([sys.executable, "-m", "leadkit", "report", "--csv", "--config", report.group(1)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (row,) = [line.split(",") for line in result.stdout.splitlines()[1:]]
    assert row[:4] == ["demo", "1", "1", "1"], result.stdout
