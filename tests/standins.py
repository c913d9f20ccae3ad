"""A stand-in for the services leadkit sends to: a real HTTP server on loopback that records every
request and answers as the test orders.

One :class:`StandIn` plays a tracker, Facebook's Graph API and TikTok's Events API at once: it
answers every method on every path alike, and a test tells the services apart by each request's
``path``. What it answers is ordered up front (:meth:`StandIn.answer`, :meth:`StandIn.drop`);
:meth:`StandIn.hold` keeps requests waiting, for timeouts::

    with StandIn() as stand_in:
        stand_in.answer(503, times=1)                # the first request gets 503, the others 200 "ok"
        ...                                          # leadkit sends to stand_in.url + "/postback?..."
        first, second = stand_in.wait_for(2)         # every request, in the order they arrived
        assert first.query == {"clickid": ["abc"]}

It logs nothing: a request line may carry a token (``?access_token=``) or a visit's tags.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from support import wait_for

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["Received", "StandIn"]


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it. ``path`` is percent-decoded, without the query;
    ``query`` and ``form`` (a urlencoded or multipart body's fields, files left out) map each name
    to its values in order; ``headers`` are named as werkzeug names them (``Content-Type``,
    ``Access-Token``), the last of a repeated header kept; ``json`` is the body parsed as JSON,
    None when it is empty or not JSON."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any | None
    form: dict[str, list[str]]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    drop: bool = False


_OK = _Answer(200, b"ok", (("Content-Type", "text/plain; charset=utf-8"),))


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing: the request line may carry a token or a visit's tags."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        pass


class StandIn:
    """A loopback HTTP server that records requests (:attr:`received`) and answers as ordered.

    Until told otherwise every request gets ``200 ok``. Use it as a context manager (or
    :meth:`start` and :meth:`stop`); ``port=0`` picks a free port, :attr:`url` says which.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._queue: deque[tuple[_Answer, int]] = deque()  # answers for the next requests, with their counts
        self._standing = _OK  # the answer once the queue is empty
        self._go = threading.Event()  # cleared by hold(): requests wait until it is set again
        self._go.set()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving ------------------------------------------------------------------------------

    def start(self) -> StandIn:
        """Bind and serve in a daemon thread, a thread per connection."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already started")
        self._server = make_server(self._host, self._port, self._app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="stand-in",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving and close the socket; safe to call twice."""
        self.release()
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the stand-in is not started: use it in a 'with' block or call start()")
        return f"http://{self._host}:{self._server.server_port}"

    # -- what the test orders -----------------------------------------------------------------

    def answer(self, status: int = 200, body: bytes | str | Any = b"ok", headers: Mapping[str, str] | None = None,
               times: int | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and ``body``; ``times=None``: every
        request from now on (answers ordered before with a count are forgotten).

        Answers ordered with a count are given in the order they were ordered, before the
        standing one. ``body`` as bytes is sent as it is (``text/plain``), a str in UTF-8, anything
        else as JSON (``application/json``); ``headers`` are added, and a ``Content-Type`` among
        them wins."""
        if isinstance(body, bytes):
            data, content_type = body, "text/plain; charset=utf-8"
        elif isinstance(body, str):
            data, content_type = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(body).encode("utf-8"), "application/json"
        given = dict(headers or {})
        if not any(name.lower() == "content-type" for name in given):
            given["Content-Type"] = content_type
        self._order(_Answer(status, data, tuple(given.items())), times)

    def drop(self, times: int | None = None) -> None:
        """Close the connection of the next ``times`` requests (None: every request from now on)
        without an answer, after reading the request (which is recorded)."""
        self._order(_Answer(0, b"", (), drop=True), times)

    def hold(self) -> None:
        """Keep requests arriving from now on waiting (each is recorded first) until
        :meth:`release`, or until the stand-in stops: for a sender's timeout."""
        self._go.clear()

    def release(self) -> None:
        """Let held requests (and those to come) be answered."""
        self._go.set()

    def reset(self) -> None:
        """Forget what was received and ordered, and release: as new, for a stand-in shared by tests."""
        with self._lock:
            self._received.clear()
            self._queue.clear()
            self._standing = _OK
        self.release()

    # -- what the test reads ------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """The requests so far, in the order they arrived (a copy: safe to read while serving)."""
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Every request so far, once at least ``count`` have arrived; AssertionError, naming what
        did arrive, if they have not within ``timeout`` seconds."""
        if not wait_for(lambda: len(self.received) >= count, timeout):
            got = [f"{r.method} {r.path}" for r in self.received]
            raise AssertionError(f"{count} request(s) expected within {timeout:g} s, {len(got)} arrived: {got}")
        return self.received

    # -- the server's side --------------------------------------------------------------------

    def _order(self, answer: _Answer, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be a count of at least 1, or None for every request (got {times!r})")
        with self._lock:
            if times is None:
                self._queue.clear()
                self._standing = answer
            else:
                self._queue.append((answer, times))

    def _take(self, received: Received) -> _Answer:
        """Record a request and pick its answer, in one step: the n-th request gets the n-th answer."""
        with self._lock:
            self._received.append(received)
            if not self._queue:
                return self._standing
            answer, left = self._queue[0]
            if left > 1:
                self._queue[0] = (answer, left - 1)
            else:
                self._queue.popleft()
            return answer

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = self._take(_read(Request(environ)))
        self._go.wait()
        if answer.drop:
            _drop_connection(environ)  # werkzeug then fails to write the answer below, and lets it go
        return Response(answer.body, answer.status or 500, headers=list(answer.headers))(environ, start_response)


def _read(request: Request) -> Received:
    body = request.get_data(cache=True)  # the form below is parsed from this cached copy
    try:
        parsed: Any | None = json.loads(body.decode("utf-8")) if body else None
    except ValueError:  # not UTF-8 (UnicodeDecodeError is a ValueError), or not JSON
        parsed = None
    return Received(method=request.method, path=request.path, query=request.args.to_dict(flat=False),
                    headers={name: value for name, value in request.headers.items()}, body=body, json=parsed,
                    form=request.form.to_dict(flat=False))


def _drop_connection(environ: WSGIEnvironment) -> None:
    connection: socket.socket | None = environ.get("werkzeug.socket")
    if connection is None:
        raise RuntimeError("the stand-in can only drop a connection under werkzeug's server")
    connection.shutdown(socket.SHUT_RDWR)
