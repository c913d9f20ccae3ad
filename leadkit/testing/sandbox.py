"""A stand-in AlterCPA network on loopback: the sandbox.

The sandbox is a real HTTP server that answers ``wm/push``, ``ext/add`` and ``comp/add`` the way
the network documents describe, so ``leadkit demo`` runs with no internet and you can test your
own integration before you point it at a real network. It checks, in this order: the key
(``?id=KEY``), ``offer``, ``flow`` (wm), the agency order id ``extu`` or ``id`` (ext), ``phone``
(10 to 15 digits), ``ip``, the banned phones, and duplicates (ext: the same order id for the same
key; wm and comp: the same offer and phone within ten minutes). Every error is answered with HTTP
200 and ``{"status": "error", "error": CODE}``, like the real engine.

From the command line (prints the base url on its first line, serves until Ctrl-C)::

    leadkit sandbox --port 8900 --key 1-demo0sandbox0key --offer 217:42,43

then set ``network.api = "http://127.0.0.1:8900/api"``, the same key, offer 217 and flow 42.
From Python, in tests::

    with SandboxNetwork(keys=["1-abc"], offers={217: [42]}) as network:
        ...  # send leads to network.url
        assert network.accepted()[0].fields["phone"] == "77001234567"
        network.fail_next(2, "503", retry_after=1)  # the next two calls get HTTP 503

``fail_next(count, how)`` breaks the next ``count`` lead calls, then service resumes. ``how`` is
``"502"``, ``"503"``, ``"429"`` (HTML error pages; ``Retry-After`` from ``retry_after``),
``"garbage"`` (HTTP 200 with an HTML body), ``"hang"`` (waits ``retry_after or 30`` seconds, then
HTTP 504), ``"drop"`` (handles the lead as usual, so a valid one is accepted, then closes the
connection without an answer: the lead arrived but the client cannot know) or an error code such
as ``"db"`` or ``"ban"`` (``message`` is added when given). Only ``"drop"`` lets a lead in.
``429`` always carries ``Retry-After`` (1 unless ``retry_after`` says otherwise). The same controls
exist over HTTP for tests in another process: ``GET {api}/_sandbox/leads``, ``POST
{api}/_sandbox/fail`` (``count``, ``how``, ``message``, ``retry_after``), ``POST
{api}/_sandbox/reset``.

The answers carry an autologin ``url`` into a small cabinet page at ``/cabinet/<id>``.

Security: the admin routes have no authentication, so serve the sandbox on loopback only. The key
is never echoed, and request logging is off because request lines carry the key.
"""

from __future__ import annotations

import argparse
import hmac
import html
import ipaddress
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["ReceivedLead", "SandboxNetwork", "main"]

DEFAULT_KEY = "1-demo0sandbox0key"
_HTML_FAILURES = {"502": "Bad Gateway", "503": "Service Unavailable", "429": "Too Many Requests"}
_TRANSPORT = {*_HTML_FAILURES, "garbage", "hang", "drop"}
_CODE = re.compile(r"[a-z][a-z0-9-]*")
_PHONE = re.compile(r"[0-9]{10,15}")
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox cabinet</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#222}}h1{{font-size:1.4rem}}dt{{color:#666}}dd{{margin:0 0 .5rem}}</style>
</head><body><h1>Sandbox cabinet</h1>
<p>Order #{lead_id} was received by the sandbox network. An operator would now call the customer
to confirm it.</p>
<dl><dt>Offer</dt><dd>{offer}</dd><dt>Customer</dt><dd>{name}</dd></dl>
</body></html>
"""


@dataclass(frozen=True)
class ReceivedLead:
    """One lead call as the sandbox saw it, refused or not (``lead_id`` is 0 when refused)."""

    call: str
    fields: dict[str, str]
    content_type: str
    user_agent: str
    lead_id: int
    answer: dict[str, Any]


@dataclass(frozen=True)
class _Failure:
    how: str
    message: str | None
    retry_after: int | None


@dataclass(frozen=True)
class _Order:
    token: str
    offer: int
    name: str


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing: the request line carries the network key in ``?id=``."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        pass


class SandboxNetwork:
    """A fake AlterCPA network: a WSGI app (``app``) and a loopback server around it."""

    duplicate_window: float = 600.0  # seconds within which wm/comp see the same offer+phone twice

    def __init__(self, *, keys: Iterable[str] = (DEFAULT_KEY,),
                 offers: Mapping[int, Iterable[int]] | None = None, autologin: bool = True,
                 banned_phones: Iterable[str] = ("77000000000",), host: str = "127.0.0.1",
                 port: int = 0, prefix: str = "/api") -> None:
        self._keys = frozenset(keys)
        if not self._keys:
            raise ValueError("keys must name at least one network key (got none)")
        if not _PREFIX.fullmatch(prefix.rstrip("/")):
            raise ValueError(f"prefix must be empty or a path like '/api' (got {prefix!r})")
        self._offers = {int(o): frozenset(map(int, f)) for o, f in (offers or {217: [42]}).items()}
        self._banned = frozenset(banned_phones)
        self.autologin = autologin
        self._host, self._port, self._prefix = host, port, prefix.rstrip("/")
        self._urls = Map([Rule(f"{self._prefix}/{call}.json", endpoint=call, methods=["POST"])
                          for call in ("wm/push", "ext/add", "comp/add")] + [
            Rule(f"{self._prefix}/_sandbox/leads", endpoint="leads", methods=["GET"]),
            Rule(f"{self._prefix}/_sandbox/fail", endpoint="fail", methods=["POST"]),
            Rule(f"{self._prefix}/_sandbox/reset", endpoint="reset", methods=["POST"]),
            Rule("/cabinet/<int:lead_id>", endpoint="cabinet", methods=["GET"]),
        ])
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by stop(): hanging calls answer at once
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    def start(self) -> SandboxNetwork:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox network is already started")
        self._wake.clear()
        try:
            self._server = make_server(self._host, self._port, self.app, threaded=True,
                                       request_handler=_QuietHandler)
        except SystemExit:  # werkzeug prints why and exits when it cannot bind; we are a library
            raise OSError(f"the sandbox network cannot listen on {self._host}:{self._port}"
                          " (see the reason above)") from None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="leadkit-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._server is None:
            return
        self._wake.set()
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SandboxNetwork:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base API url, e.g. ``http://127.0.0.1:43121/api`` (for ``network.api``)."""
        if self._server is None:
            raise RuntimeError("the sandbox network is not started: call start() first")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._server.server_port}{self._prefix}"

    @property
    def leads(self) -> list[ReceivedLead]:
        """Every lead call so far, refused ones included, in arrival order."""
        with self._lock:
            return list(self._leads)

    def accepted(self) -> list[ReceivedLead]:
        """Only the lead calls answered ``status: ok``."""
        return [lead for lead in self.leads if lead.answer.get("status") == "ok"]

    def fail_next(self, count: int, how: str, *, message: str | None = None,
                  retry_after: int | None = None) -> None:
        """Make the next ``count`` lead calls fail in the way ``how``, after any pending ones."""
        if count < 0:
            raise ValueError(f"count must be 0 or more (got {count!r})")
        if how == "refuse":
            raise ValueError("'refuse' cannot be faked by a running server: stop() the sandbox")
        if how not in _TRANSPORT and not _CODE.fullmatch(how):
            raise ValueError("how must be 502, 503, 429, garbage, hang, drop or an error code "
                             f"like db or ban (got {how!r})")
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more seconds (got {retry_after!r})")
        with self._lock:
            self._failures.extend([_Failure(how, message, retry_after)] * count)

    def reset(self) -> None:
        """Forget leads, pending failures, duplicates and cabinets; ids start again at 1001."""
        with self._lock:
            self._leads: list[ReceivedLead] = []
            self._failures: deque[_Failure] = deque()
            self._order_ids: dict[str, set[str]] = {}
            self._recent: dict[tuple[int, str], float] = {}
            self._orders: dict[int, _Order] = {}
            self._next_id = 1001

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application; usable with ``werkzeug.test.Client`` without a socket."""
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
        except HTTPException as exc:
            code = exc.code or 404
            response = _json(_error("method" if code == 405 else "notfound"), code)
        else:
            if "/" in endpoint:  # one of the three lead calls
                response = self._lead_call(request, endpoint)
            else:
                response = getattr(self, f"_on_{endpoint}")(request, **args)
        return response(environ, start_response)

    def _lead_call(self, request: Request, call: str) -> Response:
        fields = _read_fields(request)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.how != "drop":
            return self._fail(request, call, fields, failure)
        answer = self._admit(request, call, fields)
        if failure is not None:
            _drop_connection(request.environ)
        return _json(answer)

    def _admit(self, request: Request, call: str, fields: dict[str, str]) -> dict[str, Any]:
        key = request.args.get("id", "")
        answer = self._refusal(call, key, fields)
        with self._lock:
            if answer is None and self._is_duplicate(call, key, fields):
                answer = _error("duplicate")
            if answer is None:
                answer = self._accept(call, key, fields, request.host_url)
            self._leads.append(_received(request, call, fields, answer))
        return answer

    def _refusal(self, call: str, key: str, fields: dict[str, str]) -> dict[str, Any] | None:
        if key not in self._keys:
            return _error("key")
        if not fields.get("offer"):
            return _error("nooffer")
        flows = self._offers.get(_as_int(fields["offer"]))
        if flows is None:
            return _error("offer")
        if call == "wm/push" and not fields.get("flow"):
            return _error("noflow")
        if call == "wm/push" and _as_int(fields["flow"]) not in flows:
            return _error("badflow")
        if call == "ext/add" and not _order_id(fields):
            return _error("noid")
        return _customer_refusal(fields, self._banned)

    def _is_duplicate(self, call: str, key: str, fields: dict[str, str]) -> bool:
        if call == "ext/add":
            order_id = _order_id(fields)
            return order_id != "auto" and order_id in self._order_ids.get(key, set())
        seen = self._recent.get((int(fields["offer"]), fields["phone"]))
        return seen is not None and time.monotonic() - seen < self.duplicate_window

    def _accept(self, call: str, key: str, fields: dict[str, str], host_url: str) -> dict[str, Any]:
        lead_id, offer = self._next_id, int(fields["offer"])
        self._next_id += 1
        answer: dict[str, Any] = {"status": "ok", "id": lead_id}
        if call == "ext/add":
            uid = _order_id(fields)
            answer["uid"] = f"sandbox-{lead_id}" if uid == "auto" else uid
            self._order_ids.setdefault(key, set()).add(answer["uid"])
        else:
            self._recent[(offer, fields["phone"])] = time.monotonic()
        if self.autologin:
            token = secrets.token_hex(16)
            name = " ".join(filter(None, (fields.get("name"), fields.get("last"))))
            self._orders[lead_id] = _Order(token, offer, name)
            answer["url"] = f"{host_url}cabinet/{lead_id}?t={token}"
        return answer

    def _fail(self, request: Request, call: str, fields: dict[str, str],
              failure: _Failure) -> Response:
        answer = {} if failure.how in _TRANSPORT else _error(failure.how, message=failure.message)
        with self._lock:
            self._leads.append(_received(request, call, fields, answer))
        if failure.how == "hang":
            self._wake.wait(failure.retry_after or 30)
            return _html_error(504, "Gateway Timeout")
        if failure.how == "garbage":
            return Response("<html>oops</html>", 200, mimetype="text/html")
        if failure.how in _HTML_FAILURES:
            response = _html_error(int(failure.how), _HTML_FAILURES[failure.how])
            retry_after = failure.retry_after
            if retry_after is None and failure.how == "429":
                retry_after = 1  # a 429 always says when to come back
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response
        return _json(answer)

    def _on_cabinet(self, request: Request, lead_id: int) -> Response:
        with self._lock:
            order = self._orders.get(lead_id)
        token = request.args.get("t", "")
        if order is None or not hmac.compare_digest(token.encode(), order.token.encode()):
            return _html_error(404, "Not Found")
        page = _PAGE.format(lead_id=lead_id, offer=order.offer,
                            name=html.escape(order.name or "(no name given)"))
        return Response(page, mimetype="text/html")

    def _on_leads(self, request: Request) -> Response:
        return _json([asdict(lead) for lead in self.leads])

    def _on_fail(self, request: Request) -> Response:
        form = request.form
        try:
            retry_after = form.get("retry_after")
            self.fail_next(int(form.get("count", "1")), form.get("how", ""),
                           message=form.get("message"),
                           retry_after=int(retry_after) if retry_after else None)
        except ValueError as exc:
            return _json(_error("data", message=str(exc)), 400)
        return _json({"status": "ok"})

    def _on_reset(self, request: Request) -> Response:
        self.reset()
        return _json({"status": "ok"})


def _customer_refusal(fields: dict[str, str], banned: frozenset[str]) -> dict[str, Any] | None:
    """The checks of the customer's own data: phone, ip, ban."""
    phone = fields.get("phone", "")
    if not phone:
        return _error("nophone")
    if not _PHONE.fullmatch(phone):
        return _error("phone", message="Check the phone number.")
    if not _is_ip(fields.get("ip", "")):
        return {**_error("data"), "bad": ["ip"]}
    if phone in banned:
        return {**_error("ban", message="This phone number is blacklisted by the network."),
                "info": "phone"}
    return None


def _read_fields(request: Request) -> dict[str, str]:
    """The body as flat fields; a JSON body's nested values become PHP bracket keys."""
    if request.is_json:
        body = request.get_json(silent=True)
        return dict(_flatten(body)) if isinstance(body, dict) else {}
    return request.form.to_dict()


def _flatten(value: Any, name: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _flatten(item, f"{name}[{key}]" if name else str(key))
    elif isinstance(value, bool):
        yield name, "1" if value else "0"
    else:
        yield name, "" if value is None else str(value)


def _received(request: Request, call: str, fields: dict[str, str],
              answer: dict[str, Any]) -> ReceivedLead:
    return ReceivedLead(call=call, fields=fields,
                        content_type=request.headers.get("Content-Type", ""),
                        user_agent=request.headers.get("User-Agent", ""),
                        lead_id=answer.get("id", 0) if answer.get("status") == "ok" else 0,
                        answer=answer)


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Close the client's connection before any answer; the server then skips the response."""
    connection = environ.get("werkzeug.socket")
    if connection is None:  # not under werkzeug's server (e.g. the test Client): no socket to cut
        raise ConnectionAbortedError("the sandbox network dropped the connection (fail_next)")
    connection.shutdown(socket.SHUT_RDWR)


def _order_id(fields: dict[str, str]) -> str:
    return fields.get("extu") or fields.get("id") or ""


def _as_int(value: str) -> int:
    """The id in ``value``, or -1 (never an offer or flow id) when it is not a number."""
    try:
        return int(value)
    except ValueError:
        return -1


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _error(code: str, *, message: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": "error", "error": code}
    if message is not None:
        answer["message"] = message
    return answer


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _html_error(status: int, reason: str) -> Response:
    body = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body>"
    return Response(body, status, mimetype="text/html")


def _offer(text: str) -> tuple[int, list[int]]:
    """Parse ``--offer 217:42,43`` (offer id, then its flow ids)."""
    offer, _, flows = text.partition(":")
    try:
        return int(offer), [int(flow) for flow in flows.split(",") if flow]
    except ValueError:
        message = f"expected OFFER:FLOW,FLOW like 217:42 (got {text!r})"
        raise argparse.ArgumentTypeError(message) from None


def main(argv: list[str] | None = None, prog: str = "python -m leadkit.testing.sandbox") -> int:
    """Serve a sandbox network until Ctrl-C or SIGTERM; print the base url first."""
    parser = argparse.ArgumentParser(prog=prog,
                                     description="A stand-in AlterCPA network on loopback.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port, 0 for a free one (8900)")
    parser.add_argument("--key", action="append", help=f"accepted key, repeatable ({DEFAULT_KEY})")
    parser.add_argument("--offer", action="append", type=_offer, metavar="OFFER:FLOWS",
                        help="offer and its flows, repeatable (default 217:42)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    network = SandboxNetwork(keys=args.key or (DEFAULT_KEY,),
                             offers=dict(args.offer) if args.offer else None,
                             host=args.host, port=args.port)
    try:
        network.start()
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        print(network.url, flush=True)
        print("sandbox network ready; Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        network.stop()


if __name__ == "__main__":
    sys.exit(main())
