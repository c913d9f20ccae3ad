"""The standalone example behind a real nginx: ``examples/standalone/nginx.conf`` in front of
``leadkit serve --config examples/standalone/leadkit.toml``, both as real processes on loopback.

Only the machine-specific lines of the two files are rewritten (ports, log and pid paths, the
network's URL, the journal); each rewrite must match exactly once, so a change to the example
that these tests no longer cover fails here instead of passing unnoticed. Skipped, with the
reason, where nginx is not installed (``make system-deps`` installs it as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from leadkit.testing.sandbox import SandboxNetwork
from servers import free_port, leadkit_process
from support import KEY, SECRET, wait_for

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "standalone"
# Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/sbin")
SPOOFED = "6.6.6.6"
# The example's server_name. Visitors come to it on port 80 in production; here they name it in
# the Host header (without a port, as for port 80) while connecting to nginx's test port, so that
# Host and Origin agree as they do for a real browser.
HOST = "landing.example.com"

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed: `apt-get install nginx` (or `make system-deps` as root) "
                          "runs the tests of examples/standalone/nginx.conf")


@dataclass(frozen=True)
class Site:
    nginx: str    # the visitor's way in: http://127.0.0.1:PORT/
    leadkit: str  # leadkit serve itself, behind nginx


def replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"the example should hold {old!r} exactly once (found {text.count(old)})")
    return text.replace(old, new)


def leadkit_config(folder: Path, api: str) -> Path:
    """The example's leadkit.toml and landing folder, pointed at the sandbox network."""
    shutil.copytree(EXAMPLE / "landing", folder / "landing")
    text = (EXAMPLE / "leadkit.toml").read_text()
    assert "\ntrusted_proxies = 1 " in text, "the example runs behind one nginx"
    text = replace_once(text, 'api = "https://lk.dalead.pro/api"', f'api = "{api}"')
    config = folder / "leadkit.toml"
    config.write_text(text + f'\n[journal]\npath = "{folder / "journal" / "leadkit.db"}"\n')
    return config


def nginx_config(folder: Path, port: int, upstream: str) -> Path:
    """The example's nginx.conf on ``port``, proxying to ``upstream``, writing only under ``folder``."""
    text = (EXAMPLE / "nginx.conf").read_text()
    text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{port};")
    text = replace_once(text, "proxy_pass http://127.0.0.1:8000;", f"proxy_pass {upstream};")
    text = replace_once(text, "pid /run/nginx.pid;", f"pid {folder}/nginx.pid;")
    text = replace_once(text, "error_log /var/log/nginx/error.log;", f"error_log {folder}/error.log;")
    text = replace_once(text, "access_log /var/log/nginx/access.log;", f"access_log {folder}/access.log;")
    # Debian's compiled-in temporary folders are under /var/lib/nginx, which only root may create.
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = replace_once(text, "http {\n", "http {\n" + temp + "\n")
    # Workers as www-data could not enter pytest's 0700 tmp folder (a request body of more than 8 KiB
    # would fail with 500); not run as root, nginx cannot switch users at all.
    text = replace_once(text, "user www-data;", "user root;" if os.geteuid() == 0 else "")
    config = folder / "nginx.conf"
    config.write_text(text)
    return config




@contextmanager
def nginx_process(folder: Path, upstream: str, timeout: float = 10) -> Iterator[str]:
    """Run nginx in the foreground in front of ``upstream``; yield its base URL; stop it after."""
    folder.mkdir()
    for _ in range(3):  # another process may take the free port between the probe and nginx's bind
        port = free_port()
        config = nginx_config(folder, port, upstream)
        with (folder / "stderr.log").open("w") as stderr:
            # A session of its own: if the master has to be killed, its workers go with it.
            process = subprocess.Popen([str(NGINX), "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
                                       stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                       start_new_session=True)
        try:
            if _wait_for_port(process, port, timeout):
                yield f"http://127.0.0.1:{port}/"
                return
        finally:
            _stop(process)
        log = _read(folder / "stderr.log") + _read(folder / "error.log")
        if "Address already in use" not in log:
            raise RuntimeError(f"nginx did not start within {timeout} s:\n{log}")
    raise RuntimeError("nginx found no free port in three tries")


def _wait_for_port(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """True once nginx takes connections on ``port``; False if it ended first or did not within ``timeout``."""
    up = wait_for(lambda: process.poll() is not None or _accepts(port), timeout, interval=0.05)
    return up and process.poll() is None


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # SIGTERM: nginx's fast shutdown, the master stops its workers
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group we created for this nginx, workers included
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


class _FromAddress(HTTPAdapter):
    """Connects from a given local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def _visitor_address() -> str:
    """127.0.0.2 where loopback has it (Linux): then the visitor, nginx (127.0.0.1) and a spoofed
    header are three different addresses, and the test tells apart which one leadkit picked."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return "127.0.0.1"
    return "127.0.0.2"


VISITOR = _visitor_address()


def visitor(*, origin: bool = True) -> requests.Session:
    """A client of http://landing.example.com connecting from VISITOR, straight to loopback
    whatever proxy the environment names; it sends an ``Origin`` as browsers do on a POST."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", _FromAddress(VISITOR))
    session.headers["Host"] = HOST
    if origin:
        session.headers["Origin"] = f"http://{HOST}"
    return session


@pytest.fixture()
def site(tmp_path: Path, network: SandboxNetwork) -> Iterator[Site]:
    config = leadkit_config(tmp_path, network.url)
    with leadkit_process("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                         env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}) as (leadkit, _), \
            nginx_process(tmp_path / "nginx", leadkit.rstrip("/")) as front:
        yield Site(nginx=front, leadkit=leadkit)


def test_the_network_gets_the_address_nginx_saw_not_a_spoofed_one(site: Site, network: SandboxNetwork) -> None:
    browser = visitor()
    browser.headers["X-Forwarded-For"] = SPOOFED  # the visitor's own header, which nginx appends to
    assert browser.get(site.nginx, timeout=5).status_code == 200
    response = browser.post(site.nginx + "leadkit/order", data={"name": "Aigerim", "phone": "87001234567"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    (lead,) = network.accepted()
    assert lead.fields["ip"] == VISITOR, "the peer nginx saw, not the X-Forwarded-For the visitor wrote"


def test_tags_of_a_visit_through_nginx_reach_the_network(site: Site, network: SandboxNetwork) -> None:
    browser = visitor()
    landing = browser.get(site.nginx, params={"utm_source": "nginx", "sub1": "c1"}, timeout=5)
    assert landing.status_code == 200 and 'name="phone"' in landing.text
    assert "leadkit_tags" in browser.cookies, "the tag cookie passes through nginx"
    response = browser.post(site.nginx + "leadkit/order", data={"name": "Aigerim", "phone": "8 (700) 123-45-67"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    (lead,) = network.accepted()
    assert response.headers["Location"] == lead.answer["url"], "on to the network's autologin page"
    assert {k: lead.fields.get(k) for k in ("utm_source", "sub1", "phone", "ip", "currency")} == {
        "utm_source": "nginx", "sub1": "c1", "phone": "77001234567", "ip": VISITOR, "currency": "kzt"}


def test_a_static_landing_s_referer_carries_the_tags_because_nginx_passes_the_host(
        site: Site, network: SandboxNetwork) -> None:
    # A page nginx serves itself: leadkit never saw the visit, only the form's Referer. leadkit
    # trusts a Referer on its own host, which it knows from nginx's `proxy_set_header Host $http_host`.
    response = visitor(origin=False).post(
        site.nginx + "leadkit/order", data={"name": "Aigerim", "phone": "87001234567"},
        headers={"Referer": f"http://{HOST}/promo.html?utm_source=static&sub2=r"}, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    (lead,) = network.accepted()
    assert (lead.fields.get("utm_source"), lead.fields.get("sub2")) == ("static", "r")


@pytest.mark.parametrize("through", ["nginx", "leadkit"])
def test_a_one_megabyte_order_is_refused_with_413(site: Site, network: SandboxNetwork, through: str) -> None:
    base = site.nginx if through == "nginx" else site.leadkit
    body = {"name": "Aigerim", "phone": "87001234567", "comment": "x" * 1024 * 1024}
    response = visitor().post(base + "leadkit/order", data=body, allow_redirects=False, timeout=10)
    assert response.status_code == 413
    if through == "nginx":
        assert "<center>nginx</center>" in response.text, "refused by nginx, before it reached Python"
    assert network.leads == []


# -- Host with its port, and the scheme -------------------------------------------------------

def test_an_order_to_a_port_other_than_80_with_its_origin_is_taken(site: Site, network: SandboxNetwork) -> None:
    # A browser on http://landing.example.com:PORT/ sends that port in Host and in Origin alike;
    # nginx must pass the Host on as it came ($http_host), or leadkit sees a foreign Origin.
    front = f"{HOST}:{site.nginx.rstrip('/').rsplit(':', 1)[1]}"
    browser = visitor(origin=False)
    browser.headers.update({"Host": front, "Origin": f"http://{front}"})
    response = browser.post(site.nginx + "leadkit/order", data={"name": "Aigerim", "phone": "87001234567"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    assert len(network.accepted()) == 1


@pytest.fixture()
def echo(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An upstream that records the headers nginx hands it; yields (its URL, what it saw)."""
    seen: list[dict[str, str]] = []

    @Request.application
    def record(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response("seen", mimetype="text/plain")

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, record, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize(("sent", "host", "proto"), [
    pytest.param({"Host": f"{HOST}:8080"}, f"{HOST}:8080", "http", id="host-keeps-its-port"),
    pytest.param({"Host": HOST}, HOST, "http", id="host-without-port"),
    pytest.param({"Host": HOST, "X-Forwarded-Proto": "https"}, HOST, "http", id="visitor-proto-replaced"),
])
def test_nginx_passes_the_host_as_sent_and_the_scheme_it_saw(tmp_path: Path, echo: tuple[str, list[dict[str, str]]],
                                                              sent: dict[str, str], host: str, proto: str) -> None:
    upstream, seen = echo
    with nginx_process(tmp_path / "nginx", upstream) as front:
        session = requests.Session()
        session.trust_env = False
        assert session.get(front, headers=sent, timeout=5).text == "seen"
    (headers,) = seen
    assert (headers.get("Host"), headers.get("X-Forwarded-Proto")) == (host, proto)
