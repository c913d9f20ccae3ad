"""A hostile stand-in network: the sandbox's engine behind a transport that misbehaves on purpose.

:class:`HostileNetwork` is a raw socket server on loopback, so that it controls
every byte of its answers. It reads each lead call (``wm/push``, ``ext/add``,
``comp/add``), records it (:attr:`HostileNetwork.calls`) and answers it the way
the test's script says for that lead, found by its phone::

    network = HostileNetwork(SandboxNetwork(keys=[KEY], role="ext", dialect="moe")).start()
    network.script("77011234567", "reset", "hang")   # first call reset, second never answered, then "ok"
    ...
    network.orders("77011234567")                    # orders the network holds for that lead

A behaviour is either the engine's (:data:`BEHAVIOURS` marks it ``admits``):
the lead goes to the sandbox's WSGI app, which checks it, de-duplicates it
(``ext``: by the agency order id; ``wm``/``comp``: the same offer and phone
within its window) and keeps the order, and then the answer is spoiled on the
way back (dripped, cut short, reset, rewritten with wrong types...); or the
front's, where the engine never sees the lead (an HTML 404 from a firewall, a
429, an error code the engine does not have). Anything but a lead call goes to
the sandbox as it is.

It stops by itself: daemon threads, every stall bounded (a drip ends after a
few hundred bytes, a hang after two minutes) and ended early when the client
hangs up or :meth:`HostileNetwork.stop` is called.
"""

from __future__ import annotations

import functools
import gzip
import json
import select
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from werkzeug.test import Client

from leadkit.testing.sandbox import SandboxNetwork

__all__ = ["BEHAVIOURS", "Call", "HostileNetwork"]

CALLS = ("wm/push", "ext/add", "comp/add")
DRIP_EVERY = 0.5  # seconds between two bytes of a drip
_STALL_LIMIT = 120.0  # no stall outlives this, whatever the client does
_MAX_REQUEST = 1 << 20


@dataclass(frozen=True)
class Call:
    """One lead call as the network received it, before it misbehaved."""

    call: str
    fields: dict[str, str]
    key: str
    behaviour: str

    @property
    def phone(self) -> str:
        return self.fields.get("phone", "")

    @property
    def order_id(self) -> str | None:
        """The agency order id of an ``ext/add`` call (``extu`` in dalead, ``id`` in moe)."""
        return self.fields.get("extu") or self.fields.get("id") if self.call == "ext/add" else None


@dataclass
class _Exchange:
    """What a behaviour works with: the connection, the engine's answer (when it admits) and the call."""

    conn: socket.socket
    answer: dict[str, Any]
    call: Call
    target: str
    stop: threading.Event

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def drip(self, data: bytes) -> None:
        """A byte every :data:`DRIP_EVERY` seconds, until the data, the client or the test runs out."""
        for byte in data:
            if self.stop.wait(DRIP_EVERY):
                return
            self.conn.sendall(bytes([byte]))

    def hang(self) -> None:
        """Answer nothing until the client hangs up (or the network stops, or two minutes pass)."""
        until = time.monotonic() + _STALL_LIMIT
        while not self.stop.is_set() and time.monotonic() < until:
            readable, _, _ = select.select([self.conn], [], [], 0.2)
            if readable and not self.conn.recv(4096):
                return

    def reset(self) -> None:
        """Close with a TCP reset rather than an orderly close."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()


def _http(status: str, body: bytes, *headers: str, length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body) if length is None else length}", "Connection: close",
            *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body  # UTF-8: a header may hold bytes beyond ASCII


def _json(answer: Any) -> bytes:
    return json.dumps(answer).encode()


def _ok(exchange: _Exchange, **changes: Any) -> bytes:
    """The engine's answer with some keys replaced, as a plain 200 JSON answer."""
    return _http("200 OK", _json({**exchange.answer, **changes}), "Content-Type: application/json")


def _raw(text: str, status: str = "200 OK", *headers: str) -> Callable[[_Exchange], None]:
    return lambda x: x.send(_http(status, text.encode("utf-8", "surrogatepass"), *headers))


def _refusal(code: Any, **more: Any) -> Callable[[_Exchange], None]:
    return lambda x: x.send(_http("200 OK", _json({"status": "error", "error": code, **more}),
                                  "Content-Type: application/json"))


def _page(status: str, body: str, *headers: str) -> Callable[[_Exchange], None]:
    return lambda x: x.send(_http(status, body.encode(), "Content-Type: text/html", *headers))


def _drip_body(exchange: _Exchange) -> None:
    body = _json(exchange.answer).ljust(200)  # 100 s of dripping, unless the client hangs up first
    exchange.send(_http("200 OK", b"", "Content-Type: application/json", length=len(body)))
    exchange.drip(body)


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"0" * 20_000_000, 9)  # 20 MB of zeros in about 20 KB


def _deep(depth: int) -> bytes:
    return b'{"status":"ok","id":' + b"[" * depth + b"]" * depth + b"}"


@dataclass(frozen=True)
class Behaviour:
    """How the network answers one call. ``admits``: the engine took the lead before the answer went wrong."""

    admits: bool
    respond: Callable[[_Exchange], None]


FORGED = "2023-11-14 22:13:20,000 ERROR leadkit: FORGED"

#: Every way the network can answer, by name.
BEHAVIOURS: dict[str, Behaviour] = {
    # The engine took the lead; the answer is a plain one, or spoiled on the way back.
    "ok": Behaviour(True, lambda x: x.send(_ok(x))),
    "drip-body": Behaviour(True, lambda x: _drip_body(x)),
    "drip-headers": Behaviour(True, lambda x: x.drip(_ok(x))),
    "short-body": Behaviour(True, lambda x: x.send(_http("200 OK", _json(x.answer), length=len(_json(x.answer)) + 50))),
    "false-gzip": Behaviour(True, lambda x: x.send(_http("200 OK", _json(x.answer), "Content-Encoding: gzip"))),
    "gzip-bomb": Behaviour(True, lambda x: x.send(_http("200 OK", _bomb(), "Content-Encoding: gzip",
                                                        "Content-Type: application/json"))),
    "deep-json": Behaviour(True, lambda x: x.send(_http("200 OK", _deep(100_000), "Content-Type: application/json"))),
    "deep-json-in-limit": Behaviour(True, lambda x: x.send(_http("200 OK", _deep(30_000)))),
    "invalid-utf8": Behaviour(True, lambda x: x.send(_http("200 OK", b'{"status":"ok","id":"\xff\xfe\xc3"}'))),
    "json-array": Behaviour(True, lambda x: x.send(_http("200 OK", _json([x.answer])))),
    "html-200": Behaviour(True, _page("200 OK", "<html><body>Fatal error: Call to undefined function</body></html>")),
    "http-500": Behaviour(True, _page("500 Internal Server Error", "<h1>500</h1>")),
    "http-502": Behaviour(True, _page("502 Bad Gateway", "<h1>502 Bad Gateway</h1>")),
    "reset": Behaviour(True, lambda x: x.reset()),
    "close": Behaviour(True, lambda x: x.conn.shutdown(socket.SHUT_RDWR)),
    "hang": Behaviour(True, lambda x: x.hang()),
    "many-headers": Behaviour(True, lambda x: x.send(_http("200 OK", _json(x.answer),
                                                           *(f"X-Filler-{i}: {'f' * 100}" for i in range(200))))),
    "bad-status-line": Behaviour(True, lambda x: x.send(b"HTTP/1.1 two-hundred OK\r\n\r\n" + _json(x.answer))),
    "no-status-line": Behaviour(True, lambda x: x.send(_json(x.answer))),
    "broken-chunk": Behaviour(True, lambda x: x.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                     b"zz\r\n" + _json(x.answer))),
    # The engine took the lead and answered ok, with values of the wrong kind.
    "lone-surrogate-id": Behaviour(True, lambda x: x.send(_ok(x, id="\udcff", uid="\udcff"))),
    "newline-id": Behaviour(True, lambda x: x.send(_ok(x, id=f"1\r\n{FORGED} id\x1b[2J\x00\u2028\x85\u202e"))),
    "object-id": Behaviour(True, lambda x: x.send(_ok(x, id={"n": 1}, uid=[1], url=["https://cab.example/"]))),
    "list-id": Behaviour(True, lambda x: x.send(_ok(x, id=[1, 2], url={"href": "https://cab.example/"}))),
    "bool-id": Behaviour(True, lambda x: x.send(_ok(x, id=True, url=12345))),
    "infinite-id": Behaviour(True, lambda x: x.send(_http("200 OK", b'{"status":"ok","id":1e400,"url":NaN}'))),
    "no-id": Behaviour(True, lambda x: x.send(_http("200 OK", b'{"status":"ok"}'))),
    "url-crlf": Behaviour(True, lambda x: x.send(_ok(x, url="https://cab.example/in\r\nSet-Cookie: pwned=1"))),
    "url-unicode": Behaviour(True, lambda x: x.send(_ok(x, url="https://cab.example/кабинет?t=ü\u2028x"))),
    "url-bad-port": Behaviour(True, lambda x: x.send(_ok(x, url="https://cab.example:99999/"))),
    "url-bad-ipv6": Behaviour(True, lambda x: x.send(_ok(x, url="https://[::1/login"))),
    "url-javascript": Behaviour(True, lambda x: x.send(_ok(x, url="javascript:alert(document.cookie)"))),
    "url-huge": Behaviour(True, lambda x: x.send(_ok(x, url="https://cab.example/" + "a" * 20_000))),
    "url-nul": Behaviour(True, lambda x: x.send(_ok(x, url="https://cab.example/\x00/x"))),
    # The engine never saw the lead: the front, or an answer the engine does not make.
    "duplicate": Behaviour(False, _refusal("duplicate")),
    "error-object": Behaviour(False, _refusal({"code": "ban"}, message=["a", "b"])),
    "error-number": Behaviour(False, _refusal(404, message=12)),
    "error-bool": Behaviour(False, _refusal(True, message=False)),
    "error-text": Behaviour(False, lambda x: x.send(_http("200 OK", b'{"status":"error","error_text":"phone"}'))),
    "unknown-code": Behaviour(False, _refusal("quota-exceeded-v2")),
    "unknown-code-cyrillic": Behaviour(False, _refusal("Ошибка\r\nсервера")),
    "noid": Behaviour(False, _refusal("noid")),
    "app": Behaviour(False, _refusal("app")),
    "func": Behaviour(False, _refusal("func")),
    "bad-list": Behaviour(False, _refusal("data", bad=["ip", {"x": 1}, "ph\none", 7, None, "\u2028"])),
    "bad-not-a-list": Behaviour(False, _refusal("data", bad="ip")),
    "ban-html-message": Behaviour(False, _refusal("ban", message="<script>alert(1)</script>\r\nX-Forged: 1")),
    "echo-key": Behaviour(False, lambda x: _refusal("key", message=f"The key {x.call.key} is not valid")(x)),
    "html-404-echo": Behaviour(False, lambda x: _page(
        "404 Not Found", f"<html><h1>Not Found</h1><p>The requested URL {x.target} was not found.</p></html>")(x)),
    "html-403-firewall": Behaviour(False, _page("403 Forbidden", "<html><h1>Access denied</h1>firewall</html>")),
    "db": Behaviour(False, _refusal("db")),
    "request-error": Behaviour(False, _refusal("request-error")),
    "retry-after-arabic": Behaviour(False, _page("429 Too Many Requests", "slow down", "Retry-After: ١٢")),
    "retry-after-superscript": Behaviour(False, _page("503 Service Unavailable", "maintenance", "Retry-After: ²")),
    "retry-after-exponent": Behaviour(False, _page("429 Too Many Requests", "slow down", "Retry-After: 1e9")),
    "retry-after-huge": Behaviour(False, _page("503 Service Unavailable", "maintenance", "Retry-After: " + "9" * 40)),
    "retry-after-far-date": Behaviour(False, _page("429 Too Many Requests", "later",
                                                   "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT")),
    "redirect": Behaviour(False, _page("302 Found", "", "Location: https://other.example/api/wm/push.json")),
    "reset-before-engine": Behaviour(False, lambda x: x.reset()),
    "stall-before-engine": Behaviour(False, lambda x: x.hang()),
}


class HostileNetwork:
    """A raw loopback server in front of ``engine``'s WSGI app; answers each lead as its script says."""

    def __init__(self, engine: SandboxNetwork, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.engine = engine
        self._engine_client = Client(engine.app)
        self._host, self._port = host, port
        self._scripts: dict[str, tuple[list[str], str]] = {}
        self._calls: list[Call] = []
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    # -- the test's side -------------------------------------------------------------------

    def script(self, phone: str, *behaviours: str, then: str = "ok") -> None:
        """The lead with this phone (digits) meets ``behaviours``, one per call, and ``then`` ever after."""
        unknown = [b for b in (*behaviours, then) if b not in BEHAVIOURS]
        if unknown:
            raise ValueError(f"no such behaviour: {unknown} (see BEHAVIOURS)")
        with self._lock:
            self._scripts[phone] = (list(behaviours), then)

    @property
    def calls(self) -> list[Call]:
        """Every lead call received so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_for(self, phone: str) -> list[Call]:
        return [c for c in self.calls if c.phone == phone]

    def busy(self, behaviour: str) -> int:
        """How many calls are being answered with ``behaviour`` right now."""
        with self._lock:
            return self._busy[behaviour]

    def orders(self, phone: str) -> int:
        """How many orders the engine holds for the lead with this phone: by its agency order id for
        ``ext/add`` (every call of the lead must carry the same one), else by offer and phone."""
        ids = {c.order_id for c in self.calls_for(phone) if c.call == "ext/add"}
        accepted = self.engine.accepted()
        if ids:
            return sum(1 for lead in accepted if (lead.fields.get("extu") or lead.fields.get("id")) in ids)
        return sum(1 for lead in accepted if lead.fields.get("phone") == phone)

    # -- serving ---------------------------------------------------------------------------

    def start(self) -> HostileNetwork:
        self._listener = socket.create_server((self._host, self._port))
        self._listener.settimeout(0.2)
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        """Stop serving: stalls end, open connections are shut, threads are joined."""
        self._stop.set()
        with self._lock:
            for conn in self._open:
                _shut(conn)
        for thread in self._threads:
            thread.join(5)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> HostileNetwork:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base API url for ``network.api``."""
        assert self._listener is not None, "start() the network first"
        return f"http://{self._host}:{self._listener.getsockname()[1]}/api"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="hostile-network", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self._open.add(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = _read_request(conn)
            if request is not None:
                self._answer(conn, *request)
        except OSError:  # the client went away: that is its right
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            _shut(conn)
            conn.close()

    def _answer(self, conn: socket.socket, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        path, _, query = target.partition("?")
        call = next((c for c in CALLS if path.endswith(f"/{c}.json")), None)
        if call is None or method != "POST":
            conn.sendall(self._engine(method, target, headers, body)[1])
            return
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        received = Call(call, fields, dict(parse_qsl(query)).get("id", ""), self._next(fields.get("phone", "")))
        behaviour = BEHAVIOURS[received.behaviour]
        with self._lock:
            self._calls.append(received)
            self._busy[received.behaviour] += 1
        try:
            answer = json.loads(self._engine(method, target, headers, body)[0]) if behaviour.admits else {}
            behaviour.respond(_Exchange(conn, answer, received, target, self._stop))
        finally:
            with self._lock:
                self._busy[received.behaviour] -= 1

    def _next(self, phone: str) -> str:
        with self._lock:
            behaviours, then = self._scripts.get(phone, ([], "ok"))
            return behaviours.pop(0) if behaviours else then

    def _engine(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[bytes, bytes]:
        """The sandbox's answer to the request: its body, and the whole HTTP answer."""
        parts = urlsplit(target)
        response = self._engine_client.open(parts.path, method=method, query_string=parts.query, data=body,
                                            content_type=headers.get("content-type"),
                                            headers={k: v for k, v in headers.items()
                                                     if k not in ("host", "content-type", "content-length")},
                                            base_url=f"http://{headers.get('host', '127.0.0.1')}")
        data = response.get_data()
        extra = [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in ("content-length", "connection")]
        return data, _http(response.status, data, *extra)


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    """Method, target, headers (lower-case names) and body; None when the client sent no request."""
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk or len(data) > _MAX_REQUEST:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = dict(_header(line) for line in lines[1:] if ":" in line)
    length = min(int(headers.get("content-length", "0") or 0), _MAX_REQUEST)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    conn.settimeout(None)
    return method, target, headers, body[:length]


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

