"""What the network says of delivered leads: the status calls per role, and their answers read.

Each role has its status call, as the documents give it:

| role | call | leads named by | at most per call |
| --- | --- | --- | --- |
| ``wm`` | ``wm/lead.json?ids=...`` | the network's lead ids | 20 |
| ``ext`` | ``ext/list.json?ids=...`` | the agency's own order ids (``extu``/``id``: leadkit's lead id) | 50 |
| ``comp`` | ``comp/list.json?oid=...`` | the network's order ids | 50 |

An answer is a list of items or an object keyed by id (the documents show both; their examples are
not even valid JSON). Each item has a ``stage``: ``wait``, ``hold``, ``approve``, ``cancel``,
``trash`` (the last three are final), else a ``phase`` 1..5 in that order; ``status`` (1..12) and
``reason`` (1..15) codes; and for the webmaster and the agency ``cash``, the payout.

A network that misbehaves cannot break this: :func:`read_statuses` takes any bytes and returns the
items it can read (an unknown stage spelt another way, like ``approved``, is read; an item it
cannot read is counted and skipped), or raises :class:`StatusError` for an answer that is no
listing at all (an error answer, HTML, a number). Everything here is pure.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .settings import FLAG, Section, number, setting, valid

__all__ = ["BATCH", "SyncConfig", "FINAL_STAGES", "STAGES", "STATUS_CALLS", "LeadStatus", "StatusError", "Statuses", "check_delay",
           "lead_key", "read_statuses"]

STAGES = ("wait", "hold", "approve", "cancel", "trash")
FINAL_STAGES = frozenset(("approve", "cancel", "trash"))
#: The status call of each role, the parameter that names the leads, and how many a call names at most.
STATUS_CALLS: Mapping[str, tuple[str, str]] = {"wm": ("wm/lead", "ids"), "ext": ("ext/list", "ids"),
                                               "comp": ("comp/list", "oid")}
BATCH: Mapping[str, int] = {"wm": 20, "ext": 50, "comp": 50}

#: Stages as some engines spell them ("approved" is in the Russian document's example).
_SPELLINGS = {"approved": "approve", "accept": "approve", "accepted": "approve", "canceled": "cancel",
              "cancelled": "cancel", "declined": "cancel", "rejected": "cancel", "waiting": "wait", "new": "wait",
              "processing": "wait", "holded": "hold", "onhold": "hold", "trashed": "trash"}
_PHASES = {1: "wait", 2: "hold", 3: "approve", 4: "cancel", 5: "trash"}
_MOST_PAYOUT = 1e9
#: The longest a lead waits between two checks, in multiples of ``sync.interval``.
_SLOWEST = 60


class SyncConfig(Section, section="sync"):
    """When delivered leads are asked about (:mod:`leadkit.sync`)."""

    interval: float = setting(number(float, 1, 86400, "must be a number of seconds from {low} to {high}"),
                              "leadkit.E120", "seconds between status checks of a young lead; an older lead is "
                              "checked less often (a day-old one every 24 × interval, at most 60 × interval)",
                              default=60.0)
    max_age: float = setting(number(float, 1, 365, "must be a number of days from {low} to {high}"), "leadkit.E121",
                             "days after which a lead's status is no longer checked, and an unsent postback or "
                             "event is given up", default=30.0)
    enabled: bool = setting(FLAG, "leadkit.E122", "check statuses in the server process (with `journal.relay`); "
                            "false: by `leadkit journal sync` from cron (postbacks and events are still sent by the "
                            "server)", default=True)
    currency: str = setting(valid("must be a three-letter currency code like 'USD'", str,
                                  lambda value: re.fullmatch(r"[A-Za-z]{3}", value), str.upper),
                            "leadkit.E123", "the currency the network pays in: `{currency}` in postbacks, the value's "
                            "currency in purchase events", default="USD")


class StatusError(Exception):
    """The answer is not a listing of leads: ``code`` is the network's error code when it gave one
    (``key``, ``access``...), else ``not-json`` or ``not-a-listing``; ``detail`` says it for a log."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class LeadStatus:
    """One lead's status as the answer gives it; ``key`` is the id the call names it by."""

    key: str
    stage: str
    status: int | None = None
    reason: int | None = None
    payout: float | None = None


@dataclass(frozen=True)
class Statuses:
    """What an answer held: the statuses read, by key, and how many items could not be read."""

    found: Mapping[str, LeadStatus]
    unreadable: int = 0


def lead_key(role: str, lead_id: str, network_id: str | None) -> str | None:
    """The id ``role``'s status call names a lead by: the agency's own id for ``ext``, else the
    network's (None: the lead has none, so it cannot be asked about)."""
    if role == "ext":
        return lead_id
    return network_id or None


def read_statuses(body: bytes, role: str) -> Statuses:
    """The statuses in a status call's answer; :class:`StatusError` when it is no listing."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise StatusError("not-json", f"an answer that is not JSON ({len(body)} bytes)") from None
    if isinstance(data, dict) and (data.get("status") == "error" or "error" in data or "error_text" in data):
        code = _text(data.get("error")) or _text(data.get("error_text")) or "error"
        raise StatusError(code.lower()[:40], f"an error answer (error {code[:40]!r})")
    if isinstance(data, dict) and data.get("status") == "ok":  # some engines wrap the listing
        wrapped = next((data[name] for name in ("leads", "data") if isinstance(data.get(name), (list, dict))), None)
        data = wrapped if wrapped is not None else data
    if not isinstance(data, (list, dict)):
        raise StatusError("not-a-listing", f"an answer that is not a listing (a JSON {type(data).__name__})")
    found: dict[str, LeadStatus] = {}
    unreadable = 0
    for key, item in _items(data):
        status = _status(key, item, role)
        if status is None:
            unreadable += 1
        else:
            found[status.key] = status
    return Statuses(found, unreadable)


def check_delay(age: float, interval: float) -> float:
    """Seconds until a lead ``age`` seconds old is asked about again: ``interval`` for a lead of up to
    an hour, then growing with its age (an hour per hour of age, times ``interval`` ÷ 3600), at
    most 60 × ``interval``. Young leads change often, old ones rarely."""
    return interval * min(_SLOWEST, max(1.0, age / 3600.0))


def _items(data: list[Any] | dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    if isinstance(data, dict):
        for key, item in data.items():
            yield str(key), item
    else:
        for item in data:
            yield None, item


def _status(key: str | None, item: Any, role: str) -> LeadStatus | None:
    if not isinstance(item, dict):
        return None
    own = _identifier(item.get("id"))
    name = own or (_identifier(key) if key is not None else None)
    stage = _stage(item.get("stage"), item.get("phase"))
    if name is None or stage is None:
        return None
    payout = _amount(item.get("cash")) if role in ("wm", "ext") else None
    return LeadStatus(name, stage, _code(item.get("status")), _code(item.get("reason")), payout)


def _stage(stage: Any, phase: Any) -> str | None:
    if isinstance(stage, str):
        word = stage.strip().lower()
        word = _SPELLINGS.get(word, word)
        if word in STAGES:
            return word
    number = _code(phase)
    return _PHASES.get(number) if number is not None else None


def _identifier(value: Any) -> str | None:
    """An id as text: a whole number or short text of letters, digits, ``-`` and ``_``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
            return text
    return None


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal() and len(value.strip()) <= 4:
        return int(value.strip())
    if isinstance(value, int) and 0 <= value < 10000:
        return value
    return None


def _amount(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value) if isinstance(value, (int, float, str)) else math.nan
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and 0 <= number < _MOST_PAYOUT else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
