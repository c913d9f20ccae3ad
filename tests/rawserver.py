"""A raw socket server that answers each connection with a script of bytes: for the wire's and the
network client's tests of answers no real server gives on purpose."""

from __future__ import annotations

import socket
import threading
from typing import Callable

Script = Callable[[socket.socket], None]


class RawServer:
    """Answers each connection with a script of raw bytes, after reading the request: one connection
    after another, or each in a thread of its own (``threaded``)."""

    def __init__(self, script: Script, *, threaded: bool = False) -> None:
        self.script = script
        self.threaded = threaded
        self._count = threading.Lock()
        self.sent = 0  # bytes of drip sent before the client went away
        self.connections = 0  # accepted
        self.requests = 0  # read in full, on any connection
        self.hung_up = 0  # connections the client closed while the server waited for a request
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
            with self._count:
                self.connections += 1
            if self.threaded:
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
            else:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.read_request(conn):
                    self.script(conn)
            except OSError:
                pass

    def read_request(self, conn: socket.socket) -> bool:
        """Read one whole request from ``conn``; False when the client closed it first."""
        done = _read_request(conn)
        with self._count:
            if done:
                self.requests += 1
            else:
                self.hung_up += 1
        return done

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


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        rest += chunk
    return True


def answer(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body
