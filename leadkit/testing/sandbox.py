"""A stand-in AlterCPA network on loopback, as strict as a real one: the sandbox.

The sandbox is a real HTTP server that answers the way the network documents describe, so
``leadkit demo`` runs with no internet and you can test an integration before you point it at a
real network. Each key has a role (``wm``, ``ext`` or ``comp``) and the network speaks one dialect
(``dalead`` or ``moe``); what each call reads in each dialect is in :mod:`leadkit.testing.engine`.

- Lead calls: ``POST {api}/wm/push.json``, ``ext/add.json``, ``comp/add.json`` (``?id=KEY``).
  Checked in this order: the key (``key``), the key's role (``access`` for another role's call),
  ``offer`` (``nooffer``, ``offer``), ``flow`` for wm (``noflow``, ``badflow``), the order id for
  ext (``noid``: ``extu`` in dalead, ``id`` in moe), ``phone`` (``nophone``; ``phone`` unless 10
  to 15 digits), ``ip`` (``data``, ``bad: ["ip"]``), tags over 255 characters (``data`` with
  ``bad``), fields the dialect does not read (``data`` with ``bad``: a wrong ``network.dialect``
  fails loudly; ``drop_unread=True`` drops them silently, as a real engine does), banned phones
  (``ban``), duplicates (the same offer and phone within ``duplicate_window`` seconds, and for ext
  the same order id for the same key). Accepted: ``{"status": "ok", "id": N}``, ``uid`` for ext,
  and in the dalead dialect an autologin ``url`` into a small cabinet page (the moe documents
  have no ``url``). The cabinet shows the order's stage, with buttons (plain HTML forms) that move
  it to hold, approve, cancel or trash and come back to the page.
- Every lead, with the same buttons: ``GET {api}/_sandbox/cabinet``. With ``leadkit demo``, open
  it beside the demo landing (at the sandbox url the demo prints, plus ``/_sandbox/cabinet``) to
  approve or trash the lead you just made, and watch leadkit's status checks follow.
- Read-only calls (GET or POST, form or JSON), for the key's own role: ``wm/offers.json``
  (``offer=``) and ``wm/flows.json`` (``offer=``) list the sandbox's offers and flows. The status
  calls list the key's own leads with where each stands (ids that are not its own are absent):

  - ``wm/lead.json?ids=1001,1002`` (network ids; without ``ids`` every lead, ``offer=`` and
    ``flow=`` filter): a list of ``{"id": 1001, "time": "1700000000", "stage": "trash", "phase": 5,
    "reason": 1, "reason_text": "Incorrect phone", "hold": 0, "comment": null, "cash": 0,
    "offer": 217, "offer_name": "Sandbox offer 217", "flow": 42, "ip": "12.34.56.78",
    "utm_source": "fb", "utm_medium": "", "utm_campaign": "", "utm_content": "", "utm_term": ""}``
    (``time`` a string, as in the dalead example; the moe documents have no webmaster calls, so
    moe answers the same, its tags ``us``, ``um``... under the ``utm_*`` names);
  - ``ext/list.json?ids=A-1,A-2`` (agency order ids: ``extu`` in dalead, ``id`` in moe, or the
    ``uid`` of an ``auto`` order) or ``oid=1001,1002`` (network ids): an object keyed by the agency
    id, ``{"A-1": {"id": "A-1", "uid": 1001, "src": "5", "stage": "approve", "phase": 3,
    "status": 6, "reason": 0, "cash": 700, "comment": "..."}}``; ``src`` (``exts`` / ``wm``),
    ``comment`` and ``count`` only when there is one; ``phase`` and ``cash`` in dalead only, as the
    moe document lists neither;
  - ``comp/list.json?oid=1001,1002`` (also ``ids[]=``; ``eid``, ``eids[]`` name no order, as
    ``comp/add`` takes no CRM id; without them every order; ``status`` (the phase, 1 to 5),
    ``from``, ``to``, ``after`` filter): a list of orders as the example shows them, ``id``,
    ``offer``, ``offername``, ``wm`` (0), ``stage``, ``phase``, ``status``, ``reason``, ``ip``,
    ``time`` (a number), ``name``, ``gender`` (0), ``phone``, ``country``, ``index``, ``area``,
    ``city``, ``street``, ``addr`` (as sent, else ``""``), ``comment`` (the status's, else the
    customer's), ``count``, ``discount``, ``currency``, and ``base``, ``more``, ``delpr``,
    ``price`` as strings like ``"9980.00"``.

  An empty listing is ``[]``, as the engine's PHP writes it; every answer is valid JSON (the
  documents' ``1234 : {`` examples are not).
- Lead statuses: every accepted lead starts ``wait`` (phase 1, status 1 New order, reason 0, cash
  0) and moves only when a test or a person moves it (:mod:`leadkit.testing.engine` has the codes
  and what fits what): ``network.set_status(1001, "approve")`` (``status=``, ``reason=``,
  ``cash=``, ``comment=``; what is not given is the stage's default: ``approve`` status 6 Packing
  and cash the offer's payout, ``payouts={217: 700}`` or else :attr:`~SandboxNetwork.payout`, 700;
  ``cancel`` status 5, reason 2 Changed his mind; ``trash`` status 5, reason 1 Incorrect phone;
  ``hold`` status 4), or ``POST {api}/_sandbox/leads/1001/status`` with form or JSON fields
  ``stage``, ``status``, ``reason``, ``cash``, ``comment``: it answers the new status, ``{"id":
  1001, "stage": "approve", "phase": 3, "status": 6, "reason": 0, "reason_text": "", "cash": 700,
  "comment": ""}``; an unknown id gets HTTP 404 ``{"status": "error", "error": "notfound",
  "message": ...}``, a stage, code or number that does not fit HTTP 400 ``{"status": "error",
  "error": "data", "message": ...}``. With a ``next`` field (a path on the sandbox) it redirects
  there instead (303), as the cabinet's buttons do. ``network.status_of(1001)`` reads it back.
- Any other ``{api}/APP/CALL.json``: ``app`` (no such app) or ``func`` (no such call); anything
  outside the API: an HTML 404 page, as a web server gives. Errors are HTTP 200 JSON
  ``{"status": "error", "error": CODE}``, like the real engine's.

From the command line (prints the base url on its first line, serves until Ctrl-C)::

    leadkit sandbox --port 8900 --key 1-demo0sandbox0key --offer 217:42,43 --role wm --dialect dalead

then set ``network.api = "http://127.0.0.1:8900/api"``, the same key, role and dialect, offer
217 and flow 42; ``http://127.0.0.1:8900/api/_sandbox/cabinet`` moves the leads. From Python, in
tests::

    with SandboxNetwork(keys=["1-abc"], role="ext", dialect="moe", offers={217: [42]}) as network:
        ...  # send leads to network.url
        assert network.accepted()[0].fields["phone"] == "77001234567"
        network.set_status(1001, "approve")  # ext/list.json?ids=... now says so
        network.fail_next(2, "503", retry_after=1)  # the next two calls get HTTP 503
        network.reset(role="wm", dialect="dalead")  # a fresh network playing another role and dialect

``keys`` may map each key to a role of its own (``{"1-wm": "wm", "2-ext": "ext"}``).
``reset()`` forgets every lead, order and pending failure and plays the role and dialect the
sandbox was made with, or those it is given. :attr:`~SandboxNetwork.leads` holds each lead call
(:class:`ReceivedLead`: the fields the engine read, the names it did not read, the answer);
:attr:`~SandboxNetwork.reads` each read-only call.

``fail_next(count, how)`` breaks the next ``count`` API calls (lead calls, status calls and the other
read-only calls alike; not the ``_sandbox`` routes nor the cabinet), then service resumes. ``how`` is
``"502"``, ``"503"``, ``"429"`` (HTML error pages; ``Retry-After`` from ``retry_after``, always
on a 429), ``"garbage"`` (HTTP 200 with an HTML body), ``"hang"`` (waits ``retry_after or 30``
seconds, then HTTP 504), ``"drop"`` (handles the call as usual, so a valid lead is accepted, then
closes the connection without an answer) or an error code (``db``, ``ban``, ``app``, ``func``...),
answered with any of ``message``, ``bad`` and ``info``, in the field ``error_field`` (``"error"``,
or ``"error_text"`` as old engines answer). Only ``"drop"`` lets a lead in. The same controls
exist over HTTP, for tests in another process: ``GET {api}/_sandbox/leads``, ``POST
{api}/_sandbox/fail`` (``count``, ``how``, ``message``, ``bad`` comma-separated, ``info``,
``error_field``, ``retry_after``), ``POST {api}/_sandbox/reset`` (``role``, ``dialect``).

A stand-in tracker for ``leadkit demo``'s postbacks: ``GET|POST {api}/_sandbox/postback?...``
records the parameters (and a POST's form) and answers ``ok``; ``GET {api}/_sandbox/postbacks``
lists them (a page, or JSON for ``Accept: application/json``); :attr:`SandboxNetwork.postbacks`
holds them.

Security: the admin routes and the page of every lead have no authentication, so serve the sandbox
on loopback only. The key is never echoed, everything a page shows is escaped, and request logging
is off because request lines carry the key.
"""

from __future__ import annotations

import argparse
import hmac
import html
import json
import math
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from .engine import (APPS, DIALECTS, LEAD_CALLS, ORDER_ID, ROLES, STATUSES, LeadStatus, Order, error, lead_refusal,
                     lead_status, listing, split_fields)
from .faults import Failure, failure, failure_response, html_error

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["LeadStatus", "ReceivedLead", "SandboxNetwork", "main"]

DEFAULT_KEY = "1-demo0sandbox0key"
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#222}}h1{{font-size:1.4rem}}dt{{color:#666}}dd{{margin:0 0 .5rem}}
form{{display:flex;gap:.5rem;flex-wrap:wrap;margin:0}}button{{font:inherit;padding:.25rem .75rem}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;
vertical-align:top}}</style>
</head><body><h1>{title}</h1>
{body}
</body></html>
"""
_CABINET = """<p>Order #{lead_id} was received by the sandbox network. An operator would now call the customer
to confirm it.</p>
<dl><dt>Offer</dt><dd>{offer}</dd><dt>Customer</dt><dd>{name}</dd><dt>Stage</dt><dd>{stage}</dd></dl>
<h2>Move the order, as the network's call centre would</h2>
{buttons}"""
_MOVES = ("hold", "approve", "cancel", "trash")  # the cabinet's buttons


@dataclass(frozen=True)
class ReceivedLead:
    """One lead call as the sandbox saw it, refused or not (``lead_id`` is 0 when refused):
    ``fields`` the engine read, ``unread`` the names posted that it does not read."""

    call: str
    fields: dict[str, str]
    content_type: str
    user_agent: str
    lead_id: int
    answer: dict[str, Any]
    unread: tuple[str, ...] = ()


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing: the request line carries the network key in ``?id=``."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        pass


class SandboxNetwork:
    """A fake AlterCPA network: a WSGI app (``app``) and a loopback server around it."""

    duplicate_window: float = 600.0  # seconds within which the same offer and phone is a duplicate
    payout: float = 700  # an approved lead's cash when its offer has none in ``payouts``

    def __init__(self, *, keys: Iterable[str] | Mapping[str, str] = (DEFAULT_KEY,), role: str = "wm",
                 dialect: str = "dalead", offers: Mapping[int, Iterable[int]] | None = None,
                 payouts: Mapping[int, float] | None = None, autologin: bool = True, drop_unread: bool = False,
                 banned_phones: Iterable[str] = ("77000000000",), clock: Callable[[], float] = time.time,
                 host: str = "127.0.0.1", port: int = 0, prefix: str = "/api") -> None:
        if isinstance(keys, str):
            raise ValueError(f"keys must be a list of keys or a mapping of key to role (got {keys!r})")
        roles = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(keys, role)
        if not roles:
            raise ValueError("keys must name at least one network key (got none)")
        self._made_as = ({key: _one_of("role", r, ROLES) for key, r in roles.items()},
                         _one_of("dialect", dialect, DIALECTS))
        prefix = prefix.rstrip("/")
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix must be empty or a path like '/api' (got {prefix!r})")
        self._made_offers = {int(o): frozenset(map(int, f)) for o, f in (offers or {217: [42]}).items()}
        self._offers = self._made_offers
        self.payouts = {int(offer): cash for offer, cash in (payouts or {}).items()}
        self._banned = frozenset(banned_phones)
        self.autologin, self.drop_unread, self._clock = autologin, drop_unread, clock
        self._host, self._port, self._prefix = host, port, prefix
        self._urls = Map([
            Rule(f"{prefix}/_sandbox/leads", endpoint="leads", methods=["GET"]),
            Rule(f"{prefix}/_sandbox/leads/<lead_id>/status", endpoint="status", methods=["POST"]),
            Rule(f"{prefix}/_sandbox/cabinet", endpoint="every_lead", methods=["GET"]),
            Rule(f"{prefix}/_sandbox/postback", endpoint="postback", methods=["GET", "POST"]),
            Rule(f"{prefix}/_sandbox/postbacks", endpoint="postbacks", methods=["GET"]),
            Rule(f"{prefix}/_sandbox/fail", endpoint="fail", methods=["POST"]),
            Rule(f"{prefix}/_sandbox/reset", endpoint="reset", methods=["POST"]),
            Rule(f"{prefix}/<app>/<func>.json", endpoint="api", methods=["GET", "POST"]),
            Rule("/cabinet/<int:lead_id>", endpoint="cabinet", methods=["GET"]),
        ])
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by stop(): hanging calls answer at once
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- serving ------------------------------------------------------------------------------

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

    # -- what the test sees and does ------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The dialect the network speaks now."""
        with self._lock:
            return self._dialect

    @property
    def leads(self) -> list[ReceivedLead]:
        """Every lead call so far, refused ones included, in arrival order."""
        with self._lock:
            return list(self._leads)

    @property
    def reads(self) -> list[tuple[str, dict[str, str]]]:
        """Every read-only call so far (``"wm/offers"``...) with its parameters, the key left out."""
        with self._lock:
            return list(self._reads)

    def accepted(self) -> list[ReceivedLead]:
        """Only the lead calls answered ``status: ok``."""
        return [lead for lead in self.leads if lead.answer.get("status") == "ok"]

    def status_of(self, network_id: int) -> LeadStatus:
        """Where the lead with this network id stands; KeyError when the sandbox has no such lead."""
        with self._lock:
            return self._order(network_id).status

    def set_status(self, network_id: int, stage: str, *, status: int | None = None, reason: int | None = None,
                   cash: float | None = None, comment: str | None = None) -> LeadStatus:
        """Move a lead (by its network id) to ``stage``; what is not given is the stage's default
        (:func:`~leadkit.testing.engine.lead_status`). KeyError for an unknown id, ValueError for a
        stage or code that does not fit the documents."""
        with self._lock:
            order = self._order(network_id)
            payout = self.payouts.get(int(order.fields["offer"]), self.payout)
            moved = lead_status(stage, status=status, reason=reason, cash=cash, comment=comment, payout=payout)
            self._orders[network_id] = replace(order, status=moved)
        return moved

    def _order(self, network_id: int) -> Order:
        order = self._orders.get(network_id)
        if order is None:
            raise KeyError(f"the sandbox has no lead {network_id}")
        return order

    def fail_next(self, count: int, how: str, *, message: str | None = None, bad: Iterable[str] = (),
                  info: str | None = None, error_field: str = "error", retry_after: int | None = None) -> None:
        """Make the next ``count`` API calls fail in the way ``how``, after any pending ones
        (:mod:`leadkit.testing.faults`); ValueError when the order makes no sense."""
        if count < 0:
            raise ValueError(f"count must be 0 or more (got {count!r})")
        ordered = failure(how, message=message, bad=bad, info=info, error_field=error_field,
                          retry_after=retry_after)
        with self._lock:
            self._failures.extend([ordered] * count)

    def reset(self, *, role: str | None = None, dialect: str | None = None,
              offers: Mapping[int, Iterable[int]] | None = None) -> None:
        """Forget leads, orders, pending failures and duplicates (ids start again at 1001), and play
        the role and dialect given, else those the sandbox was made with; ``offers`` (offer id: flow
        ids) replaces the offers it knows, else they are those it was made with."""
        roles, made_dialect = self._made_as
        known = self._made_offers if offers is None else {int(o): frozenset(map(int, f)) for o, f in offers.items()}
        if role is not None:
            roles = dict.fromkeys(roles, _one_of("role", role, ROLES))
        dialect = made_dialect if dialect is None else _one_of("dialect", dialect, DIALECTS)
        with self._lock:
            self._roles, self._dialect, self._offers = dict(roles), dialect, known
            self._leads: list[ReceivedLead] = []
            self._reads: list[tuple[str, dict[str, str]]] = []
            self._failures: deque[Failure] = deque()
            self._order_ids: dict[str, set[str]] = {}
            self._recent: dict[tuple[str, str], float] = {}
            self._orders: dict[int, Order] = {}
            self._next_id = 1001
            self._postbacks: list[dict[str, str]] = []

    # -- the WSGI application -----------------------------------------------------------------

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application; usable with ``werkzeug.test.Client`` without a socket."""
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
        except HTTPException as exc:
            response = _json(error("method"), 405) if exc.code == 405 else html_error(404, "Not Found")
        else:
            response = getattr(self, f"_on_{endpoint}")(request, **args)
        return response(environ, start_response)

    def _on_api(self, request: Request, app: str, func: str) -> Response:
        call = f"{app}/{func}"
        if call in LEAD_CALLS and request.method != "POST":
            return _json(error("method"), 405)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.how != "drop":
            self._record(request, call, failure.answer)
            return failure_response(failure, self._wake)
        answer = self._answer(request, app, func)
        if failure is not None:
            _drop_connection(request.environ)
        return _json(answer)

    def _answer(self, request: Request, app: str, func: str) -> Any:
        call, key = f"{app}/{func}", request.args.get("id", "")
        if app not in APPS:
            answer: Any = error("app")
        elif func not in APPS[app]:
            answer = error("func")
        else:
            with self._lock:
                key_role = self._roles.get(key)
            answer = error("key") if key_role is None else error("access") if key_role != app else None
        if call in LEAD_CALLS:
            return self._lead(request, call, key, answer)
        params = _params(request)
        with self._lock:
            self._reads.append((call, params))
            return answer or listing(call, params, key=key, dialect=self._dialect, offers=self._offers,
                                     orders=self._orders)

    # -- lead calls ---------------------------------------------------------------------------

    def _lead(self, request: Request, call: str, key: str, answer: dict[str, Any] | None) -> dict[str, Any]:
        role = LEAD_CALLS[call]
        with self._lock:
            dialect = self._dialect
        fields, unread = split_fields(role, dialect, _read_fields(request))
        if answer is None:
            answer = lead_refusal(role, dialect, fields, () if self.drop_unread else unread,
                                  offers=self._offers, banned=self._banned)
        with self._lock:
            if answer is None and self._is_duplicate(role, key, fields):
                answer = error("duplicate")
            if answer is None:
                answer = self._accept(call, key, fields, request.host_url)
            self._leads.append(_received(request, call, fields, unread, answer))
        return answer

    def _record(self, request: Request, call: str, answer: dict[str, Any]) -> None:
        """Keep a call that met an ordered failure, as :attr:`leads` or :attr:`reads` show it."""
        with self._lock:
            if call in LEAD_CALLS:
                fields, unread = split_fields(LEAD_CALLS[call], self._dialect, _read_fields(request))
                self._leads.append(_received(request, call, fields, unread, answer))
            else:
                self._reads.append((call, _params(request)))

    def _is_duplicate(self, role: str, key: str, fields: dict[str, str]) -> bool:
        order_id = fields.get(ORDER_ID[self._dialect], "") if role == "ext" else "auto"
        if order_id != "auto" and order_id in self._order_ids.get(key, set()):
            return True
        seen = self._recent.get((str(int(fields["offer"])), fields["phone"]))
        return seen is not None and self._clock() - seen < self.duplicate_window

    def _accept(self, call: str, key: str, fields: dict[str, str], host_url: str) -> dict[str, Any]:
        lead_id, now = self._next_id, self._clock()
        self._next_id += 1
        answer: dict[str, Any] = {"status": "ok", "id": lead_id}
        uid = None
        if call == "ext/add":
            order_id = fields[ORDER_ID[self._dialect]]
            uid = answer["uid"] = f"sandbox-{lead_id}" if order_id == "auto" else order_id
            self._order_ids.setdefault(key, set()).add(uid)
        self._recent[(str(int(fields["offer"])), fields["phone"])] = now
        order = Order(key, call, uid, fields, secrets.token_hex(16), int(now))
        self._orders[lead_id] = order
        if self.autologin and self._dialect == "dalead":  # the moe documents' answers carry no url
            answer["url"] = f"{host_url}cabinet/{lead_id}?t={order.token}"
        return answer

    # -- the cabinet and the admin routes -------------------------------------------------------

    def _on_cabinet(self, request: Request, lead_id: int) -> Response:
        with self._lock:
            order = self._orders.get(lead_id)
        token = request.args.get("t", "")
        if order is None or not hmac.compare_digest(token.encode(), order.token.encode()):
            return html_error(404, "Not Found")
        buttons = self._buttons(lead_id, f"/cabinet/{lead_id}?t={order.token}")
        body = _CABINET.format(lead_id=lead_id, offer=html.escape(order.fields["offer"]),
                               name=html.escape(_customer(order)), stage=_stage_text(order.status),
                               buttons=buttons)
        return _html("Sandbox cabinet", body)

    def _on_every_lead(self, request: Request) -> Response:
        with self._lock:
            orders = sorted(self._orders.items())
        back = f"{self._prefix}/_sandbox/cabinet"
        rows = "".join(
            f"<tr><td>#{lead_id}</td><td>{html.escape(order.call)}</td><td>{html.escape(order.fields['offer'])}</td>"
            f"<td>{html.escape(_customer(order))}<br>{html.escape(order.fields['phone'])}</td>"
            f"<td>{_stage_text(order.status)}</td><td>{self._buttons(lead_id, back)}</td></tr>"
            for lead_id, order in orders)
        body = ("<table><thead><tr><th>Order</th><th>Call</th><th>Offer</th><th>Customer</th><th>Stage</th>"
                f"<th>Move to</th></tr></thead><tbody>{rows}</tbody></table>" if rows else
                "<p>No lead yet: send one, then reload this page.</p>")
        return _html("Sandbox cabinet: every lead", body)

    def _buttons(self, lead_id: int, back: str) -> str:
        """A form posting to the status route, one button a stage, coming back to ``back``."""
        action = html.escape(f"{self._prefix}/_sandbox/leads/{lead_id}/status")
        buttons = "".join(f'<button type="submit" name="stage" value="{stage}">{stage.capitalize()}</button>'
                          for stage in _MOVES)
        return (f'<form method="post" action="{action}"><input type="hidden" name="next" '
                f'value="{html.escape(back)}">{buttons}</form>')

    def _on_status(self, request: Request, lead_id: str) -> Response:
        fields, network_id = _read_fields(request), int(lead_id) if re.fullmatch(r"[0-9]{1,18}", lead_id) else -1
        back = fields.get("next", "")
        if back and not _is_local(back):
            message = f"next must be a path on the sandbox, like /cabinet/1001 (got {back!r})"
            return _json(error("data", message=message), 400)
        try:
            moved = self.set_status(network_id, fields.get("stage", ""),
                                    status=_whole(fields, "status"), reason=_whole(fields, "reason"),
                                    cash=_cash(fields), comment=fields.get("comment"))
        except KeyError:
            return _json(error("notfound", message=f"the sandbox has no lead {lead_id}"), 404)
        except ValueError as exc:
            return _json(error("data", message=str(exc)), 400)
        if back:
            return redirect(back, 303)  # POST-redirect-GET: reloading the page does not move the lead again
        return _json({"id": network_id, **moved.as_dict()})

    @property
    def postbacks(self) -> list[dict[str, str]]:
        """The postbacks the sandbox's stand-in tracker received, oldest first: each one's parameters
        (query string and form body), with ``_method``."""
        with self._lock:
            return [dict(each) for each in self._postbacks]

    def _on_postback(self, request: Request) -> Response:
        """A stand-in tracker: records the postback's parameters and answers ``ok``."""
        received = {key: value[:255] for key, value in list(request.args.items())[:40]}
        if request.method == "POST":
            received.update({key: value[:255] for key, value in list(request.form.items())[:40]})
        received["_method"] = request.method
        with self._lock:
            if len(self._postbacks) < 10_000:
                self._postbacks.append(received)
        return Response("ok", 200, mimetype="text/plain")

    def _on_postbacks(self, request: Request) -> Response:
        """The postbacks received, newest first: a page, or JSON for ``Accept: application/json``."""
        received = self.postbacks
        if request.accept_mimetypes.best == "application/json":
            return _json(received)
        rows = "".join("<tr><td>" + html.escape(each["_method"]) + "</td><td>" + html.escape(
            ", ".join(f"{k}={v}" for k, v in each.items() if k != "_method")) + "</td></tr>"
            for each in reversed(received))
        body = ("<table><thead><tr><th>Method</th><th>Parameters</th></tr></thead><tbody>" + rows + "</tbody></table>"
                if rows else "<p>No postback yet: order, move the lead in the cabinet, then reload this page.</p>")
        return _html("Sandbox tracker: postbacks received", body)

    def _on_leads(self, request: Request) -> Response:
        return _json([asdict(lead) for lead in self.leads])

    def _on_fail(self, request: Request) -> Response:
        form = request.form
        try:
            retry_after = form.get("retry_after")
            self.fail_next(int(form.get("count", "1")), form.get("how", ""), message=form.get("message"),
                           bad=[name for name in form.get("bad", "").split(",") if name],
                           info=form.get("info"), error_field=form.get("error_field", "error"),
                           retry_after=int(retry_after) if retry_after else None)
        except ValueError as exc:
            return _json(error("data", message=str(exc)), 400)
        return _json({"status": "ok"})

    def _on_reset(self, request: Request) -> Response:
        try:
            self.reset(role=request.form.get("role") or None, dialect=request.form.get("dialect") or None)
        except ValueError as exc:
            return _json(error("data", message=str(exc)), 400)
        return _json({"status": "ok"})


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _params(request: Request) -> dict[str, str]:
    """A read-only call's parameters, from the query string and the body (form or JSON), the key
    left out; a repeated parameter (``ids[]=1&ids[]=2``) is joined by commas."""
    body = _read_fields(request) if request.is_json else {k: ",".join(request.form.getlist(k)) for k in request.form}
    query = {k: ",".join(request.args.getlist(k)) for k in request.args}
    return {k: v for k, v in {**query, **body}.items() if k != "id"}


def _whole(fields: Mapping[str, str], name: str) -> int | None:
    """A code sent as text (``status``, ``reason``), None when not sent; ValueError names it."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"{name} must be a whole number (got {text!r})")
    return int(text)


def _cash(fields: Mapping[str, str]) -> float | None:
    """The payout sent as text (``700``, ``12.5``), None when not sent; ValueError when it is no amount."""
    text = fields.get("cash", "").strip()
    if not text:
        return None
    try:
        amount = float(text)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount):
        raise ValueError(f"cash must be a number, like 700 or 12.5 (got {text!r})")
    return int(amount) if amount.is_integer() else amount


def _is_local(path: str) -> bool:
    """A path on this server (``/cabinet/1001?t=...``), never another site (``//x``, ``http:``...)."""
    return path.startswith("/") and not path.startswith("//") and not any(c in path for c in "\r\n\\")


def _customer(order: Order) -> str:
    return " ".join(filter(None, (order.fields.get("name"), order.fields.get("last")))) or "(no name given)"


def _stage_text(status: LeadStatus) -> str:
    """The stage with its status and reason, for a page (escaped)."""
    text = f"{status.stage} (status {status.status} {STATUSES[status.status]}"
    text += f", reason {status.reason} {status.reason_text})" if status.reason else ")"
    text += f", payout {status.cash}" if status.cash else ""
    text += f": {status.comment}" if status.comment else ""
    return html.escape(text)


def _html(title: str, body: str) -> Response:
    return Response(_PAGE.format(title=html.escape(title), body=body), mimetype="text/html")


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


def _received(request: Request, call: str, fields: dict[str, str], unread: tuple[str, ...],
              answer: dict[str, Any]) -> ReceivedLead:
    return ReceivedLead(call=call, fields=fields, content_type=request.headers.get("Content-Type", ""),
                        user_agent=request.headers.get("User-Agent", ""),
                        lead_id=answer.get("id", 0) if answer.get("status") == "ok" else 0,
                        answer=answer, unread=unread)


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Close the client's connection before any answer; the server then skips the response."""
    connection = environ.get("werkzeug.socket")
    if connection is None:  # not under werkzeug's server (e.g. the test Client): no socket to cut
        raise ConnectionAbortedError("the sandbox network dropped the connection (fail_next)")
    connection.shutdown(socket.SHUT_RDWR)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


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
    parser.add_argument("--role", choices=ROLES, default="wm", help="the keys' role (wm)")
    parser.add_argument("--dialect", choices=DIALECTS, default="dalead", help="the network's dialect (dalead)")
    parser.add_argument("--offer", action="append", type=_offer, metavar="OFFER:FLOWS",
                        help="offer and its flows, repeatable (default 217:42)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    network = SandboxNetwork(keys=args.key or (DEFAULT_KEY,), role=args.role, dialect=args.dialect,
                             offers=dict(args.offer) if args.offer else None, host=args.host, port=args.port)
    try:
        network.start()
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        print(network.url, flush=True)
        print(f"sandbox network ready (role {args.role}, dialect {args.dialect}); Ctrl-C to stop",
              file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        network.stop()


if __name__ == "__main__":
    sys.exit(main())
