"""Flask: ``leadkit.flask.init_app`` and the example app, started for real on a loopback socket."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

flask = pytest.importorskip("flask", reason="Flask is not installed: `make test` installs it")

import requests  # noqa: E402

from leadkit.testing.sandbox import SandboxNetwork  # noqa: E402
from servers import free_port, wait_until_up  # noqa: E402
from support import KEY, SECRET, make_config  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flask_landing"
WAITRESS = Path(sys.executable).parent / "waitress-serve"


def test_init_app_wraps_the_app_and_registers_the_globals(network: SandboxNetwork) -> None:
    from leadkit.flask import init_app

    app = flask.Flask("landing")

    @app.route("/")
    def page() -> str:
        return flask.render_template_string('{{ leadkit_form() }}<a href="{{ landing_url("/next?x=1") }}">go</a>')

    kit = init_app(app, make_config(api=network.url))
    assert app.extensions["leadkit"] is kit and app.wsgi_app is kit
    html = app.test_client().get("/?utm_source=fl&sub1=a").get_data(as_text=True)
    assert 'name="utm_source" value="fl"' in html and 'name="lk_token"' in html
    assert 'href="/next?x=1&amp;utm_source=fl&amp;sub1=a"' in html




def test_the_example_prelanding_to_landing_to_order(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SandboxNetwork(keys=[KEY]) as sandbox:
        env = {**os.environ, "LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET, "LEADKIT_API": sandbox.url,
               "LEADKIT_JOURNAL": str(tmp_path / "leadkit.db")}
        server = subprocess.Popen([str(WAITRESS), f"--listen=127.0.0.1:{port}", "app:app"], cwd=EXAMPLE, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            try:
                wait_until_up(f"{base}/leadkit/health", 30)
            except RuntimeError:
                server.kill()
                pytest.fail(f"the example did not start: {server.communicate()[1]}")
            browser = requests.Session()
            browser.headers["Origin"] = base
            article = browser.get(f"{base}/article?utm_source=flask&sub1=click-9", timeout=5)
            link = re.search(r'id="to-landing" href="([^"]+)"', article.text)
            assert link and link.group(1).replace("&amp;", "&") == "/?utm_source=flask&sub1=click-9"
            landing = requests.get(base + link.group(1).replace("&amp;", "&"), timeout=5)  # a fresh visitor: no cookie
            assert 'name="sub1" value="click-9"' in landing.text
            answer = browser.post(f"{base}/leadkit/order", data={"name": "Aigerim", "phone": "8 (700) 123-45-67"},
                                  allow_redirects=False, timeout=10)
            assert answer.status_code == 303 and "/cabinet/" in answer.headers["Location"]
        finally:
            server.terminate()
            server.wait(10)
        (lead,) = sandbox.accepted()
    assert (lead.fields["utm_source"], lead.fields["sub1"], lead.fields["phone"]) == ("flask", "click-9",
                                                                                       "77001234567")


def test_two_forms_on_a_page_and_a_landing_s_form(tmp_path: Path) -> None:
    from flask import Flask, render_template_string

    from leadkit.flask import init_app

    app = Flask(__name__)
    config = make_config(landing=[{"name": "sk", "path": "/sk/", "offer": 402, "flow": 43, "country": "sk"}])
    init_app(app, config)

    @app.route("/")
    def landing() -> str:
        return render_template_string("{{ leadkit_form() }}<hr>{{ leadkit_form(landing='sk') }}")

    html = app.test_client().get("/").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)) and "lk-phone" in ids and "lk2-phone" in ids, "each form its own ids"
    assert html.count("<style") == 1, "the form's CSS once"
    second = html[html.index("<hr>"):]
    assert '<input type="hidden" name="lk_landing" value="sk">' in second
    assert "lk_landing" not in html[:html.index("<hr>")]
    assert 'placeholder="0912 123 456"' in second and '>+421<' in second, "the Slovak offer's phone format"
