"""What the sandbox network's engine reads, refuses and lists, per role and dialect. Pure.

The tables are written from the network's own documents (``dalead-api-ru.txt`` and the two
AlterCPA Moe documents, summed up in ``api/NOTES.md``), not from leadkit's payload code, so that a
mistake in one is caught by the other:

- every lead call reads ``offer``, ``ip``, ``phone`` and the shared details (``name``, ``email``,
  ``ua``, ``country``, ``currency``, ``index``, ``addr``, ``area``, ``city``, ``street``, ``base``,
  ``count``, ``discount``, ``more``); ``wm/push`` adds ``flow``;
- ``dalead`` reads ``utm_*``, ``subid``, ``uuid``, ``sub1``..``sub5`` (each at most 255
  characters), ``mobile``, ``phonecc``, ``comment``, ``last``, and for ``ext/add`` the order id
  ``extu`` and the source ``exts``;
- ``moe`` reads ``us``, ``um``, ``uc``, ``un``, ``ut``, ``comm``, ``item``, ``items[...]``,
  ``params[...]``, and for ``ext/add`` the order id ``id`` and the source ``wm``.

A field the call does not read in the network's dialect is never recorded. A real engine drops
it without a word (the tags are lost); the sandbox refuses the lead instead (``data``, with
``bad`` naming the fields), so that a wrong ``network.dialect`` fails loudly in tests, unless it
is told to drop them as the real engine does.

The read-only calls (:func:`listing`) answer as the documents show: ``wm/offers`` and
``wm/flows`` keyed by id, ``ext/list`` keyed by the agency order id (``phase`` and ``cash`` in
dalead only: the moe document lists neither), ``wm/lead`` and ``comp/list`` lists of leads; an
empty listing is ``[]``, as the engine's PHP writes it, and never the documents' ``1234 : {``
(not JSON).

Each order has a :class:`LeadStatus`, made by :func:`lead_status` from the documents' codes:

- ``stage`` ``wait``, ``hold``, ``approve``, ``cancel``, ``trash``; ``phase`` is its number, 1 to 5
  in that order;
- ``status`` (:data:`STATUSES`, 1 to 12) must fit the stage: ``wait`` 1 New order (the default), 2
  or 3; ``hold`` 4; ``approve`` 6 Packing (the default) to 11; ``cancel`` 5; ``trash`` 5 (the
  default) or 12 Deleted;
- ``reason`` (:data:`REASONS`, 1 to 15) only for ``cancel`` and ``trash``, and of their kind: the
  documents mark which reasons are trash (:data:`TRASH_REASONS`); by default 2 Changed his mind
  for ``cancel``, 1 Incorrect phone for ``trash``; 0 for the other stages;
- ``cash``, the payout: by default the offer's payout on ``approve``, 0 otherwise;
- ``comment``, empty by default.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["APPS", "DIALECTS", "LEAD_CALLS", "ORDER_ID", "REASONS", "ROLES", "STAGES", "STATUSES", "TRASH_REASONS",
           "LeadStatus", "Order", "error", "lead_refusal", "lead_status", "listing", "split_fields"]

ROLES = ("wm", "ext", "comp")
DIALECTS = ("dalead", "moe")
#: The calls of each role (its "app"): the lead call first, then the read-only ones.
APPS: Mapping[str, tuple[str, ...]] = {"wm": ("push", "offers", "flows", "lead"), "ext": ("add", "list"),
                                       "comp": ("add", "list")}
LEAD_CALLS: Mapping[str, str] = {"wm/push": "wm", "ext/add": "ext", "comp/add": "comp"}
#: The agency order id's field in each dialect.
ORDER_ID: Mapping[str, str] = {"dalead": "extu", "moe": "id"}

_SHARED = frozenset({"offer", "ip", "phone", "name", "email", "ua", "country", "currency", "index", "addr",
                     "area", "city", "street", "base", "count", "discount", "more"})
_TAGS: Mapping[str, tuple[str, ...]] = {
    "dalead": ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "subid", "uuid",
               "sub1", "sub2", "sub3", "sub4", "sub5"),
    "moe": ("us", "um", "uc", "un", "ut"),
}
_DIALECT: Mapping[str, frozenset[str]] = {
    "dalead": frozenset({*_TAGS["dalead"], "mobile", "phonecc", "comment", "last"}),
    "moe": frozenset({*_TAGS["moe"], "comm", "item"}),
}
#: Groups read with PHP bracket keys (``items[0][id]``, ``params[sirname]``).
_NESTED: Mapping[str, tuple[str, ...]] = {"dalead": (), "moe": ("items[", "params[")}
_ROLE: Mapping[tuple[str, str], frozenset[str]] = {
    ("wm", "dalead"): frozenset({"flow"}), ("wm", "moe"): frozenset({"flow"}),
    ("ext", "dalead"): frozenset({"extu", "exts"}), ("ext", "moe"): frozenset({"id", "wm"}),
    ("comp", "dalead"): frozenset(), ("comp", "moe"): frozenset(),
}
#: The agency's source id's field (role ``ext``) in each dialect; ``ext/list`` shows it as ``src``.
_SOURCE: Mapping[str, str] = {"dalead": "exts", "moe": "wm"}
#: The UTM tags under their dalead names (``wm/lead`` shows them so), from each dialect's fields.
_UTM: Mapping[str, Mapping[str, str]] = {
    "dalead": {name: name for name in _TAGS["dalead"][:5]},
    "moe": {"utm_source": "us", "utm_medium": "um", "utm_campaign": "uc", "utm_content": "un", "utm_term": "ut"},
}
_MAX_TAG = 255
_PHONE = re.compile(r"[0-9]{10,15}")

#: A lead's stages, in the order of their ``phase`` (1 to 5).
STAGES = ("wait", "hold", "approve", "cancel", "trash")
#: The extended status codes, as the documents list them.
STATUSES: Mapping[int, str] = {
    1: "New order", 2: "Processing", 3: "Callback", 4: "Hold", 5: "Cancelled", 6: "Packing", 7: "Sending",
    8: "Transfer", 9: "Arrived", 10: "Completed", 11: "Return", 12: "Deleted"}
#: The cancel reasons, as the documents list them.
REASONS: Mapping[int, str] = {
    1: "Incorrect phone", 2: "Changed his mind", 3: "Did not order", 4: "Requires certificate", 5: "Wrong GEO",
    6: "Errors or fakes", 7: "Duplicate order", 8: "Ordered elsewhere", 9: "Expensive",
    10: "Not satisfied with delivery", 11: "Could not get through", 12: "Possibly fraud",
    13: "Speaks different language", 14: "Product did not fit", 15: "Offer disabled"}
#: The reasons the documents mark "(trash)"; the others are a ``cancel``'s.
TRASH_REASONS = frozenset({1, 3, 5, 6, 7, 8, 11, 12, 13, 14})
#: The status codes each stage may have, its default first.
_STAGE_STATUSES: Mapping[str, tuple[int, ...]] = {
    "wait": (1, 2, 3), "hold": (4,), "approve": (6, 7, 8, 9, 10, 11), "cancel": (5,), "trash": (5, 12)}
_DEFAULT_REASON: Mapping[str, int] = {"cancel": 2, "trash": 1}


@dataclass(frozen=True)
class LeadStatus:
    """Where a lead stands: ``stage``, ``status`` and ``reason`` codes, ``cash`` (the payout) and a
    ``comment``. Made and checked by :func:`lead_status`; a new order is ``wait``, New order."""

    stage: str = "wait"
    status: int = 1
    reason: int = 0
    cash: float = 0
    comment: str = ""

    @property
    def phase(self) -> int:
        """The stage's number: 1 ``wait``, 2 ``hold``, 3 ``approve``, 4 ``cancel``, 5 ``trash``."""
        return STAGES.index(self.stage) + 1

    @property
    def reason_text(self) -> str:
        """The reason's name in the documents, empty without a reason."""
        return REASONS.get(self.reason, "")

    def as_dict(self) -> dict[str, Any]:
        """Every field and property, as the sandbox's status route answers them."""
        return {"stage": self.stage, "phase": self.phase, "status": self.status, "reason": self.reason,
                "reason_text": self.reason_text, "cash": self.cash, "comment": self.comment}


@dataclass(frozen=True)
class Order:
    """An order the engine took: whose key, by which call, the agency order id (ext), the fields it
    read, the cabinet's token, the time it came (UNIX seconds) and where it stands now."""

    key: str
    call: str
    uid: str | None
    fields: dict[str, str]
    token: str
    time: int
    status: LeadStatus = field(default_factory=LeadStatus)


def error(code: str, **more: Any) -> dict[str, Any]:
    """The engine's refusal: ``{"status": "error", "error": code}`` and any of ``message``, ``bad``, ``info``."""
    return {"status": "error", "error": code, **{k: v for k, v in more.items() if v not in (None, [], ())}}


def split_fields(role: str, dialect: str, posted: Mapping[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The fields the role's lead call reads in ``dialect``, and the names it does not read."""
    names = _SHARED | _DIALECT[dialect] | _ROLE[role, dialect]
    nested = _NESTED[dialect]
    read = {k: v for k, v in posted.items() if k in names or k.startswith(nested or ("\0",))}
    return read, tuple(sorted(k for k in posted if k not in read))


def lead_refusal(role: str, dialect: str, fields: Mapping[str, str], unread: tuple[str, ...], *,
                 offers: Mapping[int, frozenset[int]], banned: frozenset[str]) -> dict[str, Any] | None:
    """Why the engine refuses this lead (its answer), or None when it takes it.

    In the engine's order: the offer, the flow (wm), the order id (ext), the customer's phone and
    address, the tags, the fields it does not read (pass ``unread=()`` to drop them silently), the ban.
    """
    if not fields.get("offer"):
        return error("nooffer")
    flows = offers.get(_as_int(fields["offer"]))
    if flows is None:
        return error("offer")
    if role == "wm" and not fields.get("flow"):
        return error("noflow")
    if role == "wm" and _as_int(fields["flow"]) not in flows:
        return error("badflow")
    if role == "ext" and not fields.get(ORDER_ID[dialect]):
        return error("noid")
    phone = fields.get("phone", "")
    if not phone:
        return error("nophone")
    if not _PHONE.fullmatch(phone):
        return error("phone", message="Check the phone number.")
    if not _is_ip(fields.get("ip", "")):
        return error("data", bad=["ip"])
    too_long = [name for name in _TAGS[dialect] if len(fields.get(name, "")) > _MAX_TAG]
    if too_long:
        return error("data", bad=too_long, info=f"tags are at most {_MAX_TAG} characters")
    if unread:
        return error("data", bad=list(unread), info=f"fields the {dialect} dialect does not read for {role}")
    if phone in banned:
        return error("ban", message="This phone number is blacklisted by the network.", info="phone")
    return None


def lead_status(stage: str, *, status: int | None = None, reason: int | None = None, cash: float | None = None,
                comment: str | None = None, payout: float = 0) -> LeadStatus:
    """A checked :class:`LeadStatus` for ``stage``; what is not given is the stage's default
    (``cash``: ``payout`` on ``approve``, else 0). ValueError says what does not fit the documents."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)} (got {stage!r})")
    allowed = _STAGE_STATUSES[stage]
    status = allowed[0] if status is None else status
    if status not in allowed:
        names = ", ".join(f"{code} {STATUSES[code]}" for code in allowed)
        raise ValueError(f"status of a {stage} lead must be {names} (got {status!r})")
    reason = _DEFAULT_REASON.get(stage, 0) if reason is None else reason
    if stage not in _DEFAULT_REASON and reason != 0:
        raise ValueError(f"reason is for cancel and trash only: a {stage} lead has reason 0 (got {reason!r})")
    if stage in _DEFAULT_REASON and (reason not in REASONS or (reason in TRASH_REASONS) != (stage == "trash")):
        kind = TRASH_REASONS if stage == "trash" else REASONS.keys() - TRASH_REASONS
        raise ValueError(f"reason of a {stage} lead must be one of {', '.join(map(str, sorted(kind)))}"
                         f" (got {reason!r})")
    cash = (payout if stage == "approve" else 0) if cash is None else cash
    if not math.isfinite(cash) or cash < 0:
        raise ValueError(f"cash must be a number, 0 or more (got {cash!r})")
    return LeadStatus(stage, status, reason, cash, comment or "")


def listing(call: str, params: Mapping[str, str], *, key: str, dialect: str, offers: Mapping[int, frozenset[int]],
            orders: Mapping[int, Order]) -> Any:
    """The answer to a read-only call (``wm/offers``, ``wm/flows``, ``wm/lead``, ``ext/list``,
    ``comp/list``) for ``key``; ``params`` hold a repeated or bracketed parameter (``ids[]``)
    joined by commas."""
    if call in ("wm/offers", "wm/flows"):
        chosen = sorted(o for o in offers if params.get("offer") in (None, "", str(o)))
        if call == "wm/offers":
            return _php({str(o): {"id": o, "name": f"Sandbox offer {o}", "short": f"Offer {o}"} for o in chosen})
        return _php({str(f): {"id": f, "offer": o, "offername": f"Sandbox offer {o}", "name": f"Flow {f}",
                              "url": f"http://sandbox.invalid/?flow={f}"} for o in chosen for f in sorted(offers[o])})
    made_by = {"wm/lead": "wm/push", "ext/list": "ext/add", "comp/list": "comp/add"}[call]
    own = {lead_id: order for lead_id, order in sorted(orders.items()) if order.key == key and order.call == made_by}
    if call == "ext/list":
        return _php(_ext_list(params, own, dialect))
    if call == "wm/lead":
        return [_wm_lead(lead_id, order, dialect) for lead_id, order in own.items()
                if _wm_wanted(params, lead_id, order)]
    return [_comp_order(lead_id, order) for lead_id, order in own.items() if _comp_wanted(params, lead_id, order)]


def _ext_list(params: Mapping[str, str], own: Mapping[int, Order], dialect: str) -> dict[str, Any]:
    """``ext/list``: the orders named by agency id (``ids``) or network id (``oid``), keyed by agency id."""
    ids, oids = _listed(params, "ids"), _listed(params, "oid")
    chosen = {lead_id: order for lead_id, order in own.items() if order.uid in ids or str(lead_id) in oids}
    return {str(order.uid): _ext_item(lead_id, order, dialect) for lead_id, order in chosen.items()}


def _ext_item(lead_id: int, order: Order, dialect: str) -> dict[str, Any]:
    state, source, dalead = order.status, order.fields.get(_SOURCE[dialect]), dialect == "dalead"
    return {"id": order.uid, "uid": lead_id, **({"src": source} if source else {}), "stage": state.stage,
            **({"phase": state.phase} if dalead else {}), "status": state.status, "reason": state.reason,
            **({"cash": state.cash} if dalead else {}), **({"comment": state.comment} if state.comment else {}),
            **({"count": _number(order.fields["count"], 1)} if order.fields.get("count") else {})}


def _wm_wanted(params: Mapping[str, str], lead_id: int, order: Order) -> bool:
    """``wm/lead``: the leads named by ``ids`` (else every one), of ``offer`` and ``flow`` when given."""
    ids = _listed(params, "ids")
    return ((not ids or str(lead_id) in ids)
            and all(params.get(name) in (None, "", order.fields.get(name)) for name in ("offer", "flow")))


def _wm_lead(lead_id: int, order: Order, dialect: str) -> dict[str, Any]:
    state, offer = order.status, int(order.fields["offer"])
    return {"id": lead_id, "time": str(order.time), "stage": state.stage, "phase": state.phase,
            "reason": state.reason, "reason_text": state.reason_text, "hold": 0, "comment": state.comment or None,
            "cash": state.cash, "offer": offer, "offer_name": f"Sandbox offer {offer}",
            "flow": int(order.fields["flow"]), "ip": order.fields["ip"],
            **{utm: order.fields.get(name, "") for utm, name in _UTM[dialect].items()}}


def _comp_wanted(params: Mapping[str, str], lead_id: int, order: Order) -> bool:
    """``comp/list``: the orders named by ``oid`` or ``ids[]`` (``eid``, ``eids[]`` name none: comp/add
    takes no CRM id), else every one; of ``status`` (a phase), ``from``..``to``, after ``after``."""
    named = {name: _listed(params, name) for name in ("oid", "ids", "eid", "eids")}
    if any(named.values()) and str(lead_id) not in named["oid"] | named["ids"]:
        return False
    return (order.status.phase == _number(params.get("status"), order.status.phase)
            and _number(params.get("from"), order.time) <= order.time <= _number(params.get("to"), order.time)
            and lead_id > _number(params.get("after"), 0))


def _comp_order(lead_id: int, order: Order) -> dict[str, Any]:
    fields, state = order.fields, order.status
    count, discount = _number(fields.get("count"), 1), _number(fields.get("discount"), 0)
    base, more = _money(fields.get("base")), _money(fields.get("more"))
    name = " ".join(filter(None, (fields.get("name"), fields.get("last"))))
    return {"id": lead_id, "offer": int(fields["offer"]), "offername": f"Sandbox offer {int(fields['offer'])}",
            "wm": 0, "stage": state.stage, "phase": state.phase, "status": state.status, "reason": state.reason,
            "ip": fields["ip"], "time": order.time, "name": name, "gender": 0, "phone": fields["phone"],
            **{k: fields.get(k, "") for k in ("country", "index", "area", "city", "street", "addr")},
            "comment": state.comment or fields.get("comment") or fields.get("comm") or "", "count": count,
            "discount": discount, "currency": fields.get("currency", ""), "base": f"{base:.2f}",
            "more": f"{more:.2f}", "delpr": "0.00", "price": f"{base * count * (100 - discount) / 100 + more:.2f}"}


def _listed(params: Mapping[str, str], name: str) -> set[str]:
    """The ids a parameter names: ``name=1,2``, ``name[]=1&name[]=2`` or ``name[0]=1`` (a JSON list)."""
    values: Iterable[str] = (value for key, value in params.items()
                             if key == name or (key.startswith(f"{name}[") and key.endswith("]")))
    return {part.strip() for value in values for part in value.split(",") if part.strip()}


def _php(listing: dict[str, Any]) -> Any:
    """A listing as the engine's PHP encodes it: an empty one is ``[]``, not ``{}``."""
    return listing or []


def _as_int(value: str) -> int:
    """The id in ``value``, or -1 (never an offer or flow id) when it is not a number."""
    try:
        return int(value)
    except ValueError:
        return -1


def _number(value: str | None, default: int) -> int:
    """A whole number sent as text, or ``default`` when it is missing or not one."""
    try:
        return int(value or "")
    except ValueError:
        return default


def _money(value: str | None) -> float:
    """An amount sent as text, 0 when it is missing or not a finite number."""
    try:
        amount = float(value or "0")
    except ValueError:
        return 0.0
    return amount if math.isfinite(amount) else 0.0


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
