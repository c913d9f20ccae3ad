"""One deadline for the whole exchange, against a raw socket server that misbehaves on purpose."""

from __future__ import annotations

import gzip
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import pytest

from leadkit.wire import Connections, WireError, post_within

from rawserver import RawServer, Script, answer
from support import wait_for


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


OK = answer(b'{"status":"ok"}')


def exchanges(server: RawServer, count: int) -> list[tuple[bytes, bool]]:
    """``count`` exchanges in a row through one set of connections: their bodies, and whether each
    request went twice."""
    session = Connections()
    try:
        done = [post_within(session, server.url, seconds=60, limit=100, params={}, data=[("n", str(n))])
                for n in range(count)]
        return [(exchange.body, exchange.resent) for exchange in done]
    finally:
        session.close()


def test_one_connection_serves_exchange_after_exchange(serve: Callable[[Script], RawServer]) -> None:
    def keep_alive(conn: socket.socket) -> None:
        conn.sendall(OK)
        while server.read_request(conn):
            conn.sendall(OK)

    server = serve(keep_alive)
    session = Connections()
    for _ in range(3):  # a long deadline: nothing may hold the socket until it passes
        assert post_within(session, server.url, seconds=60, limit=100, params={}, data=[]).body == b'{"status":"ok"}'
    assert server.connections == 1 and server.requests == 3 and server.hung_up == 0
    session.close()
    assert wait_for(lambda: server.hung_up == 1, timeout=5)  # closed by close(), not left to the collector


def test_a_kept_alive_connection_closed_by_the_server_is_no_failure(serve: Callable[[Script], RawServer]) -> None:
    """The server closes an idle connection just as the next request arrives (it reads it, then
    closes without a word): the request goes again on a new connection, once."""
    def answer_one_then_close(conn: socket.socket) -> None:
        conn.sendall(OK)
        server.read_request(conn)

    server = serve(answer_one_then_close)
    assert exchanges(server, 3) == [(b'{"status":"ok"}', False), (b'{"status":"ok"}', True),
                                    (b'{"status":"ok"}', True)]
    assert server.connections == 3 and server.requests == 5  # two requests met a closing connection
    assert wait_for(lambda: server.hung_up == 1, timeout=5)  # the last one closed by close(), long before 60 s


def test_a_kept_alive_connection_reset_by_the_server_is_no_failure(serve: Callable[[Script], RawServer]) -> None:
    def answer_one_then_reset(conn: socket.socket) -> None:
        conn.sendall(OK)
        if server.read_request(conn):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends RST

    server = serve(answer_one_then_reset)
    assert exchanges(server, 2) == [(b'{"status":"ok"}', False), (b'{"status":"ok"}', True)]
    assert server.connections == 2 and server.requests == 3


def test_a_request_goes_again_on_a_new_connection(serve: Callable[[Script], RawServer]) -> None:
    """With four kept-alive connections in the pool and a server that closes each of them on the
    next request it reads, the request goes once on a kept-alive one and once on a new one (urllib3
    puts an empty slot on top of its pool for a connection that failed): not once per idle one."""
    together = threading.Barrier(4, timeout=10)

    def script(conn: socket.socket) -> None:
        if server.connections > 4:  # the new connection: a plain answer
            conn.sendall(OK)
            return
        together.wait()  # four connections open at once: four kept alive after
        conn.sendall(OK)
        server.read_request(conn)  # the next request on it: read, then the connection closed

    server = RawServer(script, threaded=True)
    session = Connections()
    try:
        with ThreadPoolExecutor(4) as pool:
            firsts = list(pool.map(lambda n: post_within(session, server.url, seconds=10, limit=100, params={},
                                                         data=[("n", str(n))]).body, range(4)))
        assert firsts == [b'{"status":"ok"}'] * 4 and server.connections == 4
        last = post_within(session, server.url, seconds=10, limit=100, params={}, data=[("n", "last")])
        assert (last.body, last.resent) == (b'{"status":"ok"}', True)
        assert (server.requests, server.connections) == (4 + 2, 5)
    finally:
        session.close()
        server.close()


def test_a_new_connection_closed_without_an_answer_is_not_sent_again(serve: Callable[[Script], RawServer]) -> None:
    server = serve(lambda conn: None)  # reads the request, closes
    with pytest.raises(WireError) as caught:
        exchanges(server, 1)
    assert caught.value.reason == "the connection closed without an answer"
    assert server.connections == 1 and server.requests == 1


def test_a_kept_alive_connection_that_answers_garbage_is_not_sent_again(
        serve: Callable[[Script], RawServer]) -> None:
    """The server read the request and answered, badly: that is its answer, not a stale connection."""
    def answer_then_garbage(conn: socket.socket) -> None:
        conn.sendall(OK)
        if server.read_request(conn):
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")

    server = serve(answer_then_garbage)
    session = Connections()
    try:
        assert post_within(session, server.url, seconds=5, limit=100, params={}, data=[]).body == b'{"status":"ok"}'
        with pytest.raises(WireError):
            post_within(session, server.url, seconds=5, limit=100, params={}, data=[])
    finally:
        session.close()
    assert server.connections == 1 and server.requests == 2
