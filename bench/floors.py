"""The floors under two goals of issue 14, measured on this machine: what the least an order, and the least
a new tag cookie, could cost in Python, whatever leadkit does around them.

- one durable SQLite commit (WAL, ``synchronous=FULL``, as leadkit's journal writes): an order writes the
  lead before it is sent and its outcome after, two commits;
- one bare ``http.client`` keep-alive POST of a lead's form fields to the stand-in network, its JSON
  answer read (the lead call without a deadline, a pool or any check);
- the least a new signed tag cookie takes: the query string parsed, the tags as JSON, itsdangerous'
  URL-safe base64 and HMAC-SHA1 with the key derived beforehand, the ``Set-Cookie`` value written;
  nothing cleaned or checked.

Each figure is CPU (``time.process_time``) per operation, this process's only: the stand-in answers in
another process.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import http.client
import json
import sqlite3
import time
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from leadkit.tags import STANDARD_TAGS

from context import Bench
from figures import Row

__all__ = ["floors"]

#: A lead's fields as a webmaster's push sends them (about 300 bytes): the body of the exchange, the row
#: of the commit.
_LEAD = urlencode({"offer": 217, "flow": 42, "name": "Customer Bench", "phone": "77011234567",
                   "ip": "198.51.100.7", "country": "kz", "utm_source": "fb", "utm_campaign": "spring",
                   "sub1": "click-1", "id": "1795746206352001000",
                   "ua": "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/126.0.6478.122 Mobile Safari/537.36"}).encode()
_QUERY = "utm_source=bench&utm_campaign=spring&sub1=click"
_NAMES = frozenset(STANDARD_TAGS)  # the tags leadkit keeps by default
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def floors(bench: Bench) -> list[Row]:
    commit, exchange, cookie = _commits(bench), _exchange(bench), _cookie()
    counts = (50, 200, 5000) if bench.quick else (200, 1000, 20000)
    values: dict[str, list[float]] = {"commit": [], "exchange": [], "cookie": []}
    for number in range(bench.rounds):
        for name in bench.alternate(number, list(values)):
            operation, count = {"commit": (commit, counts[0]), "exchange": (exchange, counts[1]),
                                "cookie": (cookie, counts[2])}[name]
            values[name].append(_cpu_ms(operation, count))
    return [Row("the floor under CPU per order: one durable SQLite commit (WAL, synchronous=FULL)", unit="ms",
                values=values["commit"], absolute="an order makes two: the lead before it is sent, its outcome",
                goal="(the order's goal: ≤ 0.5 ms in all)"),
            Row("the floor under CPU per order: a bare http.client keep-alive POST of a lead, its JSON read",
                unit="ms", values=values["exchange"], absolute="to the stand-in network, answering at once"),
            Row("the floor under `?utm_…` pass-through: the least a new signed tag cookie takes", unit="ms",
                values=values["cookie"], absolute="query parsed, JSON, base64, HMAC, Set-Cookie; nothing checked",
                goal="(0.97 leaves about 0.011 ms a request)")]


def _cpu_ms(operation: Callable[[], object], count: int) -> float:
    for _ in range(max(1, count // 10)):  # warm
        operation()
    started = time.process_time()
    for _ in range(count):
        operation()
    return (time.process_time() - started) * 1000 / count


def _commits(bench: Bench) -> Callable[[], object]:
    db = sqlite3.connect(bench.folder / "floor-commits.db", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS leads (id INTEGER PRIMARY KEY, payload BLOB)")

    def commit() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO leads (payload) VALUES (?)", (_LEAD,))
        db.execute("COMMIT")
    return commit


def _exchange(bench: Bench) -> Callable[[], object]:
    api = urlsplit(bench.api(0))
    connection = http.client.HTTPConnection(api.hostname or "127.0.0.1", api.port, timeout=10)
    path = f"{api.path}/wm/push.json?id=1-0f3a9c2e7b5d4a1f"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def exchange() -> object:
        connection.request("POST", path, _LEAD, headers)
        answer = json.loads(connection.getresponse().read())
        if answer.get("status") != "ok":
            raise RuntimeError(f"the stand-in network answered {answer!r}")
        return answer
    return exchange


def _cookie() -> Callable[[], str]:
    key = hashlib.sha1(b"leadkit.tags" + b"signer" + b"bench-secret-0123456789abcdef").digest()
    prepared = hmac.new(key, digestmod=hashlib.sha1)
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def b64(data: bytes) -> bytes:
        return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")

    def cookie() -> str:
        tags = {name: value for name, value in parse_qsl(_QUERY) if name in _NAMES}
        value = b64(encoder.encode(tags).encode()) + b"." + b64(int(time.time()).to_bytes(4, "big"))
        mac = prepared.copy()
        mac.update(value)
        signed = (value + b"." + b64(mac.digest())).decode()
        return f"leadkit_tags={signed}; Expires=Sat, 26 Dec 2026 00:00:00 GMT; Max-Age=2592000; HttpOnly; Path=/; " \
               f"SameSite=Lax"
    return cookie
