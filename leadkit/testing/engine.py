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
``wm/flows`` keyed by id, ``ext/list`` keyed by the agency order id (with ``phase`` in dalead only),
``comp/list`` a list of orders; an empty listing is ``[]``, as the engine's PHP writes it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["APPS", "DIALECTS", "LEAD_CALLS", "ORDER_ID", "ROLES", "Order", "error", "lead_refusal", "listing",
           "split_fields"]

ROLES = ("wm", "ext", "comp")
DIALECTS = ("dalead", "moe")
#: The calls of each role (its "app"): the lead call first, then the read-only ones.
APPS: Mapping[str, tuple[str, ...]] = {"wm": ("push", "offers", "flows"), "ext": ("add", "list"),
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
_MAX_TAG = 255
_PHONE = re.compile(r"[0-9]{10,15}")


@dataclass(frozen=True)
class Order:
    """An order the engine took: whose key, by which call, the agency order id (ext), the fields it
    read, the cabinet's token and the time it came (UNIX seconds)."""

    key: str
    call: str
    uid: str | None
    fields: dict[str, str]
    token: str
    time: int


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


def listing(call: str, params: Mapping[str, str], *, key: str, dialect: str, offers: Mapping[int, frozenset[int]],
            orders: Mapping[int, Order]) -> Any:
    """The answer to a read-only call (``wm/offers``, ``wm/flows``, ``ext/list``, ``comp/list``) for ``key``."""
    if call in ("wm/offers", "wm/flows"):
        chosen = sorted(o for o in offers if params.get("offer") in (None, "", str(o)))
        if call == "wm/offers":
            return _php({str(o): {"id": o, "name": f"Sandbox offer {o}", "short": f"Offer {o}"} for o in chosen})
        return _php({str(f): {"id": f, "offer": o, "offername": f"Sandbox offer {o}", "name": f"Flow {f}",
                              "url": f"http://sandbox.invalid/?flow={f}"} for o in chosen for f in sorted(offers[o])})
    made_by = call.replace("/list", "/add")  # ext/list lists what ext/add took
    own = {lead_id: order for lead_id, order in orders.items() if order.key == key and order.call == made_by}
    if call == "ext/list":
        wanted = set(params.get("ids", "").split(","))
        phase = {"phase": 1} if dialect == "dalead" else {}
        return _php({order.uid: {"id": order.uid, "uid": lead_id, "stage": "wait", "status": 1, **phase}
                     for lead_id, order in own.items() if order.uid in wanted})
    wanted = set(params["oid"].split(",")) if "oid" in params else {str(lead_id) for lead_id in own}
    return [{"id": lead_id, "offer": int(order.fields["offer"]), "stage": "wait", "phase": 1, "status": 1,
             "time": order.time, **{k: order.fields.get(k, "") for k in ("ip", "name", "phone", "country")}}
            for lead_id, order in own.items() if str(lead_id) in wanted]


def _php(listing: dict[str, Any]) -> Any:
    """A listing as the engine's PHP encodes it: an empty one is ``[]``, not ``{}``."""
    return listing or []


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
