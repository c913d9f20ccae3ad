"""One deadline for a whole HTTP exchange, connect to last byte.

urllib3 applies its timeout to each socket read: a server that
drips one byte every half second never trips a 2-second timeout, and holds
the caller (a customer's request, a lead's lease) for as long as it likes.
:func:`post_within` (and :func:`get_within`, for the read-only calls) bounds the
entire exchange instead:

- the connect timeout and every read timeout are the time left;
- a watchdog (one thread per process for every deadline) shuts the connection's socket down when
  the deadline passes, which ends a read blocked in the middle of the headers or the body;
- the body is read raw, at most ``limit`` bytes, and decoded here
  (``gzip``/``deflate`` with a cap on the decoded size), so that a body that
  claims an encoding it does not have, or stops short of its
  ``Content-Length``, is a :class:`WireError`, never an exception of urllib3's.

A kept-alive connection the server closed before answering is no failure: the request goes again
on another connection (see :func:`_stale`).

The watchdog finds the socket through the connection classes every pool of :class:`Connections`
makes its connections with.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import socket
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Connections", "Exchange", "WireError", "get_within", "post_within"]

_current = threading.local()


class WireError(Exception):
    """The exchange failed: ``kind`` is ``timeout`` (the deadline passed), ``transport`` (no
    complete answer: refused, reset, cut short) or ``encoding`` (a body that cannot be decoded)."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Exchange:
    """A complete answer: status, headers and the decoded body (cut to the limit). ``resent``: the
    request went again after a kept-alive connection closed under it (see :func:`_stale`), so in
    the rare case that server had read it after all, it has it twice."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    resent: bool = False


class _Deadline:
    """The end of one exchange; shuts the socket in use down when it passes."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def left(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shut(sock)
        sock.settimeout(max(self.left(), 0.001))

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sock = None  # the watchdog keeps a finished deadline until its time: not the socket

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


class _Watchdog:
    """One thread for every deadline of a process: it expires each one whose time has come and that
    has not finished (a thread of its own per exchange cost more than the exchange's own work)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._count = itertools.count()
        self._wake = threading.Condition()
        self._pid: int | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._wake:
            if self._pid != os.getpid():  # first use, or a forked child: the parent's thread is not here
                self._heap.clear()
                threading.Thread(target=self._run, name="leadkit-deadlines", daemon=True).start()
                self._pid = os.getpid()
            heapq.heappush(self._heap, (deadline.at, next(self._count), deadline))
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if deadline.done or wait <= 0:
                    heapq.heappop(self._heap)
                else:
                    self._wake.wait(wait)
                    continue
            if not deadline.done:
                deadline.expire()


_watchdog = _Watchdog()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


class _Watched:
    """Mixed into urllib3's connections: the socket of each response is handed to the deadline, and
    each request notes whether its socket already carried an exchange (kept alive) or is new."""

    sock: socket.socket | None
    timeout: float | None
    _exchanges = 0  # on the current socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._exchanges = 0

    def request(self, *args: Any, **kwargs: Any) -> None:
        _current.reused = self.sock is not None and self._exchanges > 0
        super().request(*args, **kwargs)  # type: ignore[misc]  # connects first when the socket is new
        self._exchanges += 1

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline: _Deadline | None = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:
            self.timeout = max(deadline.left(), 0.001)  # urllib3 puts this on the socket for each read
            deadline.watch(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


def _watched(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    return manager


class Connections:
    """Keep-alive connections to every host leadkit calls (one pool per origin, urllib3's), each
    exchange watched by its deadline. The environment's proxies (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``NO_PROXY``) are honoured as urllib reads them, once, here.

    urllib3 rather than ``requests``, which is built on it: ``requests`` prepared, merged and wrapped
    every call in about a millisecond of CPU, more than the rest of the lead call together; leadkit
    needs none of what it adds (cookies, auth, redirects, content decoding are refused or done here).
    """

    def __init__(self, user_agent: str = "leadkit", *, maxsize: int = 10) -> None:
        self.headers = {"User-Agent": user_agent}
        self._maxsize = maxsize
        self._direct = _watched(urllib3.PoolManager(num_pools=32, maxsize=maxsize, retries=False))
        self._proxies = {scheme: url for scheme, url in urllib.request.getproxies().items() if scheme != "no"}
        self._through: dict[str, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def manager_for(self, url: str) -> urllib3.PoolManager:
        """The pools to reach ``url`` by: directly, or through the environment's proxy for it."""
        if not self._proxies:
            return self._direct
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
            return self._direct
        with self._lock:
            manager = self._through.get(proxy)
            if manager is None:
                manager = self._through[proxy] = _watched(
                    urllib3.ProxyManager(proxy, num_pools=32, maxsize=self._maxsize, retries=False))
            return manager

    def pools(self) -> int:
        """How many origins the connections are kept for (for tests)."""
        return len(self._direct.pools) + sum(len(m.pools) for m in self._through.values())

    def close(self) -> None:
        """Close every kept-alive connection (urllib3 2's ``PoolManager.clear`` forgets its pools
        without closing them: their sockets stayed open until collected)."""
        for manager in (self._direct, *self._through.values()):
            for key in list(manager.pools.keys()):
                pool = manager.pools.get(key)
                if pool is not None:
                    pool.close()
            manager.clear()


def post_within(http: Connections, url: str, *, seconds: float, limit: int, params: Mapping[str, str],
                data: Sequence[tuple[str, str]] | bytes, redact: str = "",
                headers: Mapping[str, str] | None = None) -> Exchange:
    """POST and read the answer, all within ``seconds``; at most ``limit`` bytes of body are kept.
    ``data``: form pairs (sent ``application/x-www-form-urlencoded``) or the body's bytes (with its
    ``Content-Type`` in ``headers``).

    Raises :class:`WireError` for every way the exchange can fail; ``redact`` is removed from
    the reasons it gives (the network key rides in the query string).
    """
    if isinstance(data, bytes):
        body = data
    else:
        body = urlencode(list(data)).encode("utf-8")
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return _within(http, "POST", url, seconds=seconds, limit=limit, params=params, body=body, redact=redact,
                   headers=headers)


def get_within(http: Connections, url: str, *, seconds: float, limit: int, params: Mapping[str, str],
               redact: str = "", headers: Mapping[str, str] | None = None) -> Exchange:
    """GET and read the answer, all within ``seconds``: :func:`post_within` for a read-only call."""
    return _within(http, "GET", url, seconds=seconds, limit=limit, params=params, body=None, redact=redact,
                   headers=headers)


def _within(http: Connections, method: str, url: str, *, seconds: float, limit: int, params: Mapping[str, str],
            body: bytes | None, redact: str, headers: Mapping[str, str] | None = None) -> Exchange:
    deadline = _Deadline(seconds)
    _current.deadline = deadline
    _watchdog.watch(deadline)
    target = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}" if params else url
    manager, resends = http.manager_for(url), 0
    all_headers, timeout = {**http.headers, **(headers or {})}, urllib3.Timeout(connect=seconds, read=seconds)
    try:
        while True:
            _current.reused = False
            try:
                response = manager.request(method, target, body=body, headers=all_headers, timeout=timeout,
                                           retries=False, redirect=False, preload_content=False,
                                           decode_content=False)
                break
            except urllib3.exceptions.ProtocolError as exc:
                if not _stale(exc) or deadline.expired or resends >= _MAX_RESENDS:
                    raise
                resends += 1
        try:
            raw = response.read(limit + 1, decode_content=False)
            deadline.finish()
            if deadline.expired:  # the watchdog cut the socket: what was read is not the whole answer
                raise WireError("timeout", f"no complete answer within {seconds:g} s")
            _check_length(raw, response.headers.get("Content-Length"), limit)
            exchange = Exchange(response.status, response.headers, _decoded(raw, response.headers, limit), resends > 0)
        except BaseException:
            response.close()  # a connection in an unknown state is not used again
            raise
        if len(raw) <= limit:
            response.release_conn()  # read to its end: the connection serves the next call
        else:
            response.close()
        return exchange
    except WireError:
        raise
    except Exception as exc:  # urllib3's and the socket's own: all mean no complete answer
        timed_out = isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError)  # urllib3 makes a refused connection a kind of timeout
        kind = "timeout" if deadline.expired or timed_out else "transport"
        raise WireError(kind, _reason(exc, redact)) from None
    finally:
        deadline.finish()
        _current.deadline = None


_MAX_RESENDS = 2


def _stale(exc: urllib3.exceptions.ProtocolError) -> bool:
    """A kept-alive connection the server had closed (or reset) before any answer: the server closes
    idle connections when it likes, and one may close just as a request leaves. Such a request is
    sent again on another connection, whatever its method, as browsers do (Chromium resends on a
    reused socket closed or reset before a byte of the answer): the server did not read it. A new
    connection's failure is never sent again. urllib3 puts an empty slot on top of its pool for the
    connection that failed, so the request goes again on a new connection: once, in practice; at
    most :data:`_MAX_RESENDS` times (Chromium's limit) should other threads hand back kept-alive
    connections in between, and within the deadline."""
    return bool(getattr(_current, "reused", False)) and any(isinstance(arg, ConnectionError) for arg in exc.args)


def _check_length(raw: bytes, content_length: str | None, limit: int) -> None:
    """A body cut short of its ``Content-Length`` is no answer (urllib3 lets it through as a short read)."""
    if content_length and content_length.isascii() and content_length.isdigit() \
            and len(raw) < min(int(content_length), limit + 1):
        raise WireError("transport", "the answer stopped short of its Content-Length")


def _decoded(raw: bytes, headers: Mapping[str, str], limit: int) -> bytes:
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return raw[:limit]
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise WireError("encoding", f"the body is in an encoding leadkit does not read: {encoding[:40]!r}")
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(raw, limit)  # at most limit bytes: no decompression bomb
    except zlib.error:
        if encoding == "deflate":  # some servers send raw deflate without the zlib header
            try:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, limit)
            except zlib.error:
                pass
        raise WireError("encoding", f"the body claims {encoding} but is not") from None


def _reason(exc: BaseException, redact: str) -> str:
    """The root cause in a few words ("Connection refused"), not urllib3's essay, without the key."""
    text = str(exc)
    errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno_text:
        return errno_text.group(1).strip()
    for marker, words in (("timed out", "timed out"),
                          ("RemoteDisconnected", "the connection closed without an answer"),
                          ("Connection aborted", "the connection closed without an answer"),
                          ("ConnectionReset", "the connection was reset"),
                          ("IncompleteRead", "the answer stopped short of its Content-Length"),
                          ("InvalidChunkLength", "the answer's chunked body is broken"),
                          ("ProtocolError", "the answer broke the HTTP protocol")):
        if marker in text or marker in type(exc).__name__:
            return words
    text = f"{type(exc).__name__}: {text[:200]}"
    return text.replace(redact, "***") if redact else text
