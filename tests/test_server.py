"""The standalone server: its page folder through werkzeug's test client, and ``leadkit serve``
over real loopback sockets for what only a real socket shows (what it never serves, idle connections)."""

from __future__ import annotations

import dataclasses
import logging
import socket
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from leadkit.server import PagesApp, is_hidden, make_app
from leadkit.testing.sandbox import SandboxNetwork
from servers import leadkit_process, server_log
from support import KEY, SECRET, make_config


@pytest.fixture()
def pages(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<p>home {{ tags.utm_source }}</p>{{ leadkit_form() }}")
    (tmp_path / "promo.html").write_text("<p>promo</p>")
    (tmp_path / "offer").mkdir()
    (tmp_path / "offer" / "index.html").write_text("<p>offer folder</p>")
    (tmp_path / "app.css").write_text("p{}")
    (tmp_path / ".env").write_text("LEADKIT_KEY=secret")
    (tmp_path / "broken.html").write_text("{% if %}")
    (tmp_path.parent / "outside.html").write_text("outside")
    return tmp_path


@pytest.fixture()
def client(pages: Path) -> Client:
    return Client(make_app(make_config(site={"pages": str(pages), "jinja": ["*.html"]})))


@pytest.mark.parametrize(("path", "status", "text"), [
    pytest.param("/", 200, "home", id="index"),
    pytest.param("/promo", 200, "promo", id="no-extension"),
    pytest.param("/promo.html", 200, "promo", id="with-extension"),
    pytest.param("/offer/", 200, "offer folder", id="folder-index"),
    pytest.param("/offer", 200, "offer folder", id="folder-without-slash"),
    pytest.param("/app.css", 200, "p{}", id="static"),
    pytest.param("/.env", 404, "Not found", id="hidden-file"),
    pytest.param("/../outside.html", 404, "Not found", id="traversal"),
    pytest.param("/%2e%2e/outside.html", 404, "Not found", id="encoded-traversal"),
    pytest.param("/nothing", 404, "Not found", id="missing"),
    pytest.param("/broken.html", 503, "being fixed", id="template-error-is-not-a-500"),
])
def test_pages(client: Client, path: str, status: int, text: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_pages_get_the_form_and_the_tags(client: Client) -> None:
    html = client.get("/?utm_source=fb").get_data(as_text=True)
    assert "home fb" in html and 'name="utm_source" value="fb"' in html and 'action="/leadkit/order"' in html


def test_pages_can_extend_the_builtin_layout(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('{% extends "base.html" %}{% block content %}X{% endblock %}')
    html = Client(make_app(make_config(site={"pages": str(tmp_path), "jinja": ["*.html"]}))).get("/").get_data(
        as_text=True)
    assert html.startswith("<!doctype html>") and "X" in html


def test_without_the_middleware_pages_still_render(pages: Path) -> None:
    html = Client(PagesApp(pages, jinja=["*.html"])).get("/").get_data(as_text=True)
    assert "home" in html


def test_make_app_needs_pages() -> None:
    with pytest.raises(ValueError, match="site.pages"):
        make_app(make_config())


# -- a prelanding carries the tags on to the landing ------------------------------------------

def test_links_to_the_site_and_the_landing_hosts_carry_the_visitor_s_tags(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a id="own" href="/offer">own</a> <a id="land" href="https://Landing.example/?lang=en">landing</a> '
        '<a id="other" href="https://news.example/">news</a> <a id="helper" href="{{ landing_url(\'https://x.example/\') }}">')
    client = Client(make_app(make_config(site={"pages": str(tmp_path), "landing_hosts": ["landing.example"],
                                               "jinja": ["index.html"]})))
    page = client.get("/?utm_source=fb&sub1=c1").get_data(as_text=True)
    assert '<a id="own" href="/offer?utm_source=fb&amp;sub1=c1">' in page
    assert '<a id="land" href="https://Landing.example/?lang=en&amp;utm_source=fb&amp;sub1=c1">' in page
    assert '<a id="other" href="https://news.example/">' in page, "other sites' links are left alone"
    assert '<a id="helper" href="https://x.example/?utm_source=fb&amp;sub1=c1">' in page, "landing_url() in a page"
    later = client.get("/").get_data(as_text=True)  # the tags now come from the cookie
    assert '<a id="own" href="/offer?utm_source=fb&amp;sub1=c1">' in later


def test_links_are_left_alone_without_tags(pages: Path) -> None:
    (pages / "links.html").write_text('<a href="/offer">own</a>')
    client = Client(make_app(make_config(site={"pages": str(pages)})))
    assert client.get("/links").get_data(as_text=True) == '<a href="/offer">own</a>'


# -- what is never served ---------------------------------------------------------------------

NOT_SERVED = [
    ".env", ".git/config", ".htpasswd", "sub/.env", ".well-hidden/index.html",
    "leadkit.toml", "sub/secret.toml", "prod.env", "settings.ini", "setup.cfg", "site.conf", "tls.pem", "tls.key",
    "app.py", "__pycache__/app.cpython-311.pyc", "index.php", "dump.sql",
    "leads.db", "leads.db-wal", "leads.db-shm", "leads.db-journal", "data.sqlite", "data.sqlite3",
    "data.sqlite3-wal", "error.log", "error.log.1", "index.html.bak", "index.html~", "index.html.swp",
    "index.html.orig", "UPPER.TOML",
]


@pytest.fixture()
def secrets_folder(pages: Path) -> Path:
    """The pages folder with every kind of file that must never be served, each holding the key."""
    for name in NOT_SERVED:
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        (pages / name).write_text(f"LEADKIT_KEY={KEY}")
    (pages / "innocent.css").symlink_to(pages / "leadkit.toml")  # a link's own name does not make it public
    return pages


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in NOT_SERVED])
def test_secrets_code_and_data_under_the_pages_answer_like_a_missing_page(secrets_folder: Path, name: str) -> None:
    client = Client(make_app(make_config(site={"pages": str(secrets_folder)})))
    missing = client.get("/no-such-file.txt")
    response = client.get("/" + name)
    assert (response.status_code, response.get_data()) == (404, missing.get_data()), "not 403: nothing is confirmed"
    assert KEY not in response.get_data(as_text=True)


def test_a_link_to_a_hidden_file_is_hidden_too(secrets_folder: Path) -> None:
    assert Client(make_app(make_config(site={"pages": str(secrets_folder)}))).get("/innocent.css").status_code == 404


#: Served, though their names look a little like hidden ones.
SERVED = ["index.html", "css/app.css", "img/logo.png", "toml.html", "journal/index.html", "wal", "db.html",
          "py/index.html", "catalog.html"]


@pytest.mark.parametrize(("path", "hidden"), [pytest.param(n, False, id=f"served-{n}") for n in SERVED] + [
    pytest.param(n, True, id=f"hidden-{n}") for n in [*NOT_SERVED, "a/.b/c.html", "Leadkit.Toml", "backup.tar~"]])
def test_is_hidden(path: str, hidden: bool) -> None:
    assert is_hidden(path) is hidden


def test_the_configuration_file_and_the_journal_are_hidden_whatever_their_names(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("home")
    for name in ("site-settings", "leads", "leads-wal"):
        (tmp_path / name).write_text(f"key = {KEY!r}")
    config = dataclasses.replace(make_config(site={"pages": str(tmp_path)}), source=str(tmp_path / "site-settings"))
    client = Client(make_app(config))
    assert client.get("/site-settings").status_code == 404, "the configuration file, by its path"
    pages = PagesApp(tmp_path, private=(tmp_path / "leads",))  # the journal: refused in site.pages, hidden anyway
    assert [Client(pages).get(p).status_code for p in ("/leads", "/leads-wal", "/")] == [404, 404, 200]


def test_start_up_names_each_hidden_file_once_and_never_its_content(
        secrets_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leadkit.server"):
        make_app(make_config(site={"pages": str(secrets_folder)}))
    (record,) = [r for r in caplog.records if r.name == "leadkit.server"]
    text = record.getMessage()
    assert record.levelno == logging.WARNING and KEY not in text and str(secrets_folder / "leadkit.toml") not in text
    named = set(text.split("(they answer 404): ", 1)[1].split("; keep", 1)[0].split(", "))
    files = {n for n in NOT_SERVED if not n.startswith((".git/", ".well-hidden/")) and n != "index.php"}
    assert named == files | {".git/", ".well-hidden/", "innocent.css"}, "each file by its path, a dot-folder once"


def test_start_up_says_the_kit_s_scripts_take_orders(secrets_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="leadkit.server"):
        make_app(make_config(site={"pages": str(secrets_folder)}))
    (record,) = [r for r in caplog.records if r.name == "leadkit.server" and r.levelno == logging.INFO]
    assert record.getMessage().endswith("orders posted to them are taken by leadkit: index.php")
    assert KEY not in record.getMessage()


def test_a_clean_pages_folder_logs_no_warning(pages: Path, caplog: pytest.LogCaptureFixture) -> None:
    (pages / ".env").unlink()
    with caplog.at_level(logging.WARNING, logger="leadkit.server"):
        make_app(make_config(site={"pages": str(pages)}))
    assert [r for r in caplog.records if r.name == "leadkit.server"] == []


# -- pages answer GET and HEAD only --------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/app.css", "/nothing"])
def test_pages_answer_get_and_head_only(client: Client, caplog: pytest.LogCaptureFixture, method: str,
                                        path: str) -> None:
    with caplog.at_level(logging.WARNING, logger="leadkit.server"):
        response = client.open(path, method=method, data={"name": "A", "phone": "87001234567"})
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert any("orders go to /leadkit/order" in r.getMessage() for r in caplog.records), "the operator's hint"


def test_head_answers_like_get_without_a_body(client: Client) -> None:
    head, get = client.head("/"), client.get("/")
    assert (head.status_code, head.get_data()) == (200, b"") and get.status_code == 200
    assert client.head("/app.css").status_code == 200


def test_the_hint_is_logged_once_per_path(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leadkit.server"):
        for _ in range(5):
            client.post("/")
    assert len([r for r in caplog.records if "orders go to" in r.getMessage()]) == 1


def test_the_order_route_still_takes_posts(client: Client) -> None:
    response = client.post("/leadkit/order", data={"name": "A", "phone": "1"}, headers={"Origin": "http://localhost"})
    assert response.status_code == 422, "the middleware's route, before the pages"


# -- over a real socket: leadkit serve --------------------------------------------------------

def serve_folder(tmp_path: Path, api: str) -> Path:
    """A landing folder served as ``pages = "."``, its configuration inside it with the key and the secret."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.jinja").write_text("<h1>Landing</h1>{{ leadkit_form() }}")
    (site / "leadkit.toml").write_text(f"""
[network]
api = "{api}"
key = "{KEY}"
timeout = 5

[offer]
offer = 217
flow = 42
country = "kz"

[site]
secret = "{SECRET}"
pages = "."

[journal]
path = "{tmp_path / 'data' / 'leadkit.db'}"
""")
    (site / ".env").write_text(f"LEADKIT_KEY={KEY}\nLEADKIT_SECRET={SECRET}\n")
    (site / ".git").mkdir()
    (site / ".git" / "config").write_text(f"[remote]\nurl = https://{KEY}@git.example/landing\n")
    (site / "leads-copy.db").write_text(f"a journal copied here by hand {KEY}")
    (site / "leads-copy.db-wal").write_text(KEY)
    return site / "leadkit.toml"


def test_leadkit_serve_with_pages_dot_never_serves_its_secrets(tmp_path: Path, network: SandboxNetwork) -> None:
    config = serve_folder(tmp_path, network.url)
    with leadkit_process("serve", "--config", str(config), "--port", "0", cwd=config.parent,
                         env={"LEADKIT_KEY": "", "LEADKIT_SECRET": ""}) as (base, process):
        assert "Landing" in requests.get(base, timeout=5).text
        answers = {path: requests.get(base + path, timeout=5) for path in (
            "leadkit.toml", ".env", ".git/config", "%2egit/config", "leads-copy.db", "leads-copy.db-wal",
            "../data/leadkit.db", "LEADKIT.toml")}
        log = server_log(process)
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(answers, 404)
    assert not [path for path, answer in answers.items() if KEY in answer.text or SECRET in answer.text]
    assert "will not be served" in log and "leadkit.toml" in log and ".git/" in log and "leads-copy.db-wal" in log
    assert KEY not in log and SECRET not in log


def test_150_idle_connections_do_not_lock_visitors_out(tmp_path: Path, network: SandboxNetwork) -> None:
    config = serve_folder(tmp_path, network.url)
    with leadkit_process("serve", "--config", str(config), "--port", "0", "--threads", "4",
                         env={"LEADKIT_KEY": "", "LEADKIT_SECRET": ""}) as (base, _), ExitStack() as idle:
        port = int(base.rstrip("/").rsplit(":", 1)[1])
        for n in range(150):
            connection = idle.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            if n % 2:  # half of them stop in the middle of their headers, as a slow attacker does
                connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        visitor = requests.Session()
        visitor.headers["Origin"] = base.rstrip("/")
        page = visitor.get(base, timeout=10)
        order = visitor.post(base + "leadkit/order", data={"name": "Aigerim", "phone": "87001234567"},
                             allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "Landing" in page.text
    assert order.status_code == 303 and len(network.accepted()) == 1
