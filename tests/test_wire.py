"""One deadline for the whole exchange, against a raw socket server that misbehaves on purpose."""

from __future__ import annotations

import gzip
import socket
import threading
from typing import Callable, Iterator

import pytest

from leadkit.wire import Connections, WireError, post_within

Script = Callable[[socket.socket], None]


class RawServer:
    """Answers each connection with a script of raw bytes, after reading the request."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sent = 0  # bytes of drip sent before the client went away
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/wm/push.json"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            with conn:
                _read_request(conn)
                try:
                    self.script(conn)
                except OSError:
                    pass

    def drip(self, conn: socket.socket, data: bytes, every: float = 0.2) -> None:
        """Send ``data`` a byte at a time; stops when the client has gone or the test ends."""
        for byte in data:
            if self._stop.wait(every):
                return
            conn.sendall(bytes([byte]))
            self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return
        rest += chunk


@pytest.fixture()
def serve() -> Iterator[Callable[[Script], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script) -> RawServer:
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def post(server: RawServer, seconds: float = 1.0, limit: int = 1024) -> tuple[int, bytes]:
    session = Connections()
    try:
        exchange = post_within(session, server.url, seconds=seconds, limit=limit, params={"id": "1-secret0key"},
                               data=[("phone", "77001234567")], redact="1-secret0key")
        return exchange.status, exchange.body
    finally:
        session.close()


def answer(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


DRIP = 60  # bytes dripped one per 0.2 s: 12 s in all, far past the 1 s deadline


def test_headers_dripping_end_at_the_deadline(serve: Callable[[Script], RawServer]) -> None:
    server = serve(lambda conn: server.drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * DRIP))
    with pytest.raises(WireError) as caught:
        post(server)
    assert caught.value.kind == "timeout"
    assert server.sent < DRIP  # the client hung up long before the drip was over


def test_a_body_dripping_ends_at_the_deadline(serve: Callable[[Script], RawServer]) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
        server.drip(conn, b'{"status":"ok","id":1' + b" " * DRIP)

    server = serve(script)
    with pytest.raises(WireError) as caught:
        post(server)
    assert caught.value.kind == "timeout" and server.sent < DRIP


def _send(data: bytes) -> Script:
    return lambda conn: conn.sendall(data)


@pytest.mark.parametrize(("script", "kind", "says"), [
    pytest.param(_send(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"status":"ok"'), "transport",
                 "Content-Length", id="short-of-its-content-length"),
    pytest.param(_send(answer(b'{"status":"ok","id":1}', "Content-Encoding: gzip")), "encoding", "gzip",
                 id="claims-gzip-and-is-not"),
    pytest.param(_send(answer(b"xx", "Content-Encoding: br")), "encoding", "'br'", id="unknown-encoding"),
    pytest.param(lambda conn: conn.shutdown(socket.SHUT_RDWR), "transport", "without an answer",
                 id="closed-without-an-answer"),
    pytest.param(_send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc"), "transport", "",
                 id="broken-chunked-body"),
])
def test_broken_answers_are_wire_errors(serve: Callable[[Script], RawServer], script: Script, kind: str,
                                        says: str) -> None:
    server = serve(script)
    with pytest.raises(WireError) as caught:
        post(server)
    assert caught.value.kind == kind and says in caught.value.reason
    assert "1-secret0key" not in caught.value.reason


def test_real_gzip_is_read(serve: Callable[[Script], RawServer]) -> None:
    server = serve(lambda conn: conn.sendall(answer(gzip.compress(b'{"status":"ok","id":7}'),
                                                    "Content-Encoding: gzip")))
    assert post(server) == (200, b'{"status":"ok","id":7}')


def test_a_gzip_bomb_is_cut_at_the_limit(serve: Callable[[Script], RawServer]) -> None:
    bomb = gzip.compress(b"0" * 20_000_000)
    server = serve(lambda conn: conn.sendall(answer(bomb, "Content-Encoding: gzip")))
    status, body = post(server, limit=1024)
    assert status == 200 and len(body) <= 1024


def test_a_refused_connection_is_a_transport_failure() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    session = Connections()
    with pytest.raises(WireError) as caught:
        post_within(session, f"http://127.0.0.1:{port}/api", seconds=1, limit=10, params={}, data=[])
    assert caught.value.kind == "transport" and caught.value.reason == "Connection refused"


def test_a_long_body_is_cut_at_the_limit(serve: Callable[[Script], RawServer]) -> None:
    server = serve(lambda conn: conn.sendall(answer(b"x" * 5000)))
    status, body = post(server, limit=1000)
    assert status == 200 and body == b"x" * 1000


def test_one_set_of_connections_serves_exchange_after_exchange(serve: Callable[[Script], RawServer]) -> None:
    server = serve(lambda conn: conn.sendall(answer(b'{"status":"ok"}')))
    session = Connections()
    try:
        for _ in range(3):
            assert post_within(session, server.url, seconds=5, limit=100, params={}, data=[]).body == b'{"status":"ok"}'
    finally:
        session.close()
