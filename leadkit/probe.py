"""Proving a configuration against the network without sending a lead: ``leadkit check --live``.

Only the read-only calls the network's documents list for each role are made, each bounded by
``network.timeout`` (:mod:`leadkit.wire`), with the key scrubbed from everything said:

- ``wm``: ``wm/offers.json?offer=OFFER`` (the key, the role, and that the offer is open to this
  account), then ``wm/flows.json?offer=OFFER`` (the flow is this account's, for this offer; when
  it is not, ``wm/flows.json`` without the offer tells which offer it is for);
- ``ext``: ``ext/list.json?ids=0`` and ``comp``: ``comp/list.json?oid=0`` (the key, and that it may
  use its role's calls: an account of another role is refused with ``access``). The ids ask for
  no order, so no customer's data comes back.

:func:`probe` returns one :class:`Finding` per setting, each ``ok``, ``wrong`` (say what to
change) or ``unproven``: no read-only call shows which field names the network reads, so
``network.dialect`` is never proven (a wrong one shows on the first lead: ``noid`` for ``ext``,
tags lost for ``wm`` and ``comp``), nor is the offer for ``ext`` and ``comp``, whose documents
list no offers call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


from .answer import RETRYABLE_ERRORS, clean_text, operator_hint
from .config import Config
from .network import NetworkClient
from .wire import Connections, WireError, get_within

__all__ = ["Finding", "probe"]

_MAX_BODY = 1024 * 1024  # a long offers list still fits
_ROLE_NAMES = {"wm": "webmaster (wm)", "ext": "agency (ext)", "comp": "supplier (comp)"}
#: The read-only call that proves the key and its role, with parameters that ask for no order.
#: The setting to change for an error code a read-only call answers (else ``network.api``).
_SETTING_OF = {"key": "network.key", "security": "network.key", "access": "network.role", "func": "network.role"}
_ROLE_CALLS = {"wm": ("wm/offers", {}), "ext": ("ext/list", {"ids": "0"}), "comp": ("comp/list", {"oid": "0"})}


@dataclass(frozen=True)
class Finding:
    """What the network said about one setting: ``verdict`` is ``ok``, ``wrong`` or ``unproven``."""

    setting: str
    verdict: str
    text: str

    def __str__(self) -> str:
        return f"{self.verdict:<9} {self.setting}: {self.text}"


class _Refused(Exception):
    """A read-only call proved nothing: ``finding`` says which setting to look at."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.text)
        self.finding = finding


def probe(config: Config, http: Connections | None = None) -> list[Finding]:
    """Findings about ``config`` from the network's read-only calls, over ``http`` or connections of
    its own (closed at the end). Never sends a lead, never raises for anything the network does: a
    broken network is a ``wrong`` finding about ``network.api``."""
    client = NetworkClient(config.network, http, user_agent="leadkit-check")
    findings: list[Finding] = []
    try:
        _probe(_Reader(client, config), config, findings)
    except _Refused as refused:
        findings.append(refused.finding)
    finally:
        client.close()
    findings.append(Finding("network.dialect", "unproven", "no read-only call shows which field names the network "
                            "reads: compare the sample lead's fields with its API document (a wrong dialect shows "
                            "on the first lead: noid for ext, tags lost for wm and comp)"))
    return findings


def _probe(reader: _Reader, config: Config, findings: list[Finding]) -> None:
    role, offer = config.network.role, config.offer.offer
    call, params = _ROLE_CALLS[role]
    listing = reader.read(call, {**params, "offer": str(offer)} if role == "wm" else params)
    findings += [Finding("network.api", "ok", f"the engine answers at {config.network.api}"),
                 Finding("network.key", "ok", "the network knows the key"),
                 Finding("network.role", "ok", f"the key may use the {_ROLE_NAMES[role]} calls")]
    if role != "wm":
        findings.append(Finding("offer.offer", "unproven", f"the {_ROLE_NAMES[role]} API has no read-only call "
                                "for offers: the first lead tells ('offer' when the id is wrong)"))
        return
    if offer in _ids(listing):
        findings.append(Finding("offer.offer", "ok", f"offer {offer} is open to this account"))
    else:
        findings.append(Finding("offer.offer", "wrong", f"offer {offer} is not among the offers open to this "
                                "account (a wrong id, or closed or private to others): check offer.offer"))
    findings.append(_flow_finding(reader, offer, config.offer.flow))


def _flow_finding(reader: _Reader, offer: int, flow: int | None) -> Finding:
    if flow is None:  # the configuration's own check (leadkit.E090) already refuses this
        return Finding("offer.flow", "wrong", "role wm needs offer.flow: set it")
    flows = _flows(reader.read("wm/flows", {"offer": str(offer)}))
    if flow in flows and flows[flow] in (None, offer):
        return Finding("offer.flow", "ok", f"flow {flow} is this account's, for offer {offer}")
    other = _flows(reader.read("wm/flows", {})).get(flow)
    if other is not None and other != offer:
        return Finding("offer.flow", "wrong", f"flow {flow} is for offer {other}, not offer {offer}: check "
                       "offer.flow (or offer.offer)")
    return Finding("offer.flow", "wrong", f"this account has no flow {flow} for offer {offer}: check offer.flow")


class _Reader:
    """Makes the read-only calls and reads their answers; anything but a listing is :class:`_Refused`."""

    def __init__(self, client: NetworkClient, config: Config) -> None:
        self.client, self.network = client, config.network

    def read(self, call: str, params: dict[str, str]) -> Any:
        url = f"{self.network.api}/{call}.json"
        try:
            exchange = get_within(self.client.http, url, seconds=self.network.timeout, limit=_MAX_BODY,
                                  params={"id": self.network.key, **params}, redact=self.network.key)
        except WireError as exc:
            raise _Refused(Finding("network.api", "wrong", _unreachable(url, exc, self.network.timeout))) from None
        status = exchange.status
        if status >= 500 or status == 429:
            raise _Refused(Finding("network.api", "wrong", f"{url} answered HTTP {status}: the network is failing "
                                   "now (or this is not its API): try again later, else check network.api"))
        try:
            data = json.loads(exchange.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            data = None
        if not isinstance(data, (dict, list)) or 300 <= status < 400:
            raise _Refused(Finding("network.api", "wrong", f"{url} answered HTTP {status} with "
                                   f"{'a redirect' if 300 <= status < 400 else 'a body that is not JSON'}, not "
                                   "the engine's answer: check network.api (the base URL, like https://lk.example/api)"))
        if isinstance(data, dict) and (data.get("status") == "error" or "error" in data or "error_text" in data):
            raise _Refused(self._refusal(call, data))
        return data

    def _refusal(self, call: str, data: dict[str, Any]) -> Finding:
        raw = clean_text(data.get("error")) or clean_text(data.get("error_text")) or "(no code)"
        code = self.client.scrub(raw.lower()[:40])
        info = clean_text(data.get("info"), 100)
        said = f"{call} was refused (error {code!r}{f', info {self.client.scrub(info)!r}' if info else ''})"
        role = _ROLE_NAMES[self.network.role]
        what = {
            "key": "the network does not know this key: check network.key (or LEADKIT_KEY)",
            "access": f"this key may not use the {role} calls: check network.role (the key may be another role's), "
                      "or ask the network to enable API access for the account",
            "func": "the network has no such call: check network.role and network.api",
            "app": "the network has no such API: check network.api and network.role",
        }.get(code) or ("the network is failing on its side: try again later" if code in RETRYABLE_ERRORS
                        else operator_hint(code))
        return Finding(_SETTING_OF.get(code, "network.api"), "wrong", f"{said}: {what}")


def _unreachable(url: str, exc: WireError, timeout: float) -> str:
    if exc.kind == "timeout":
        return f"no complete answer from {url} within {timeout:g} s: check network.api, and that the network is up"
    if exc.kind == "encoding":
        return f"the answer from {url} could not be decoded ({exc.reason}): check network.api"
    return f"could not reach {url} ({exc.reason}): check network.api, and that the network is up"


def _ids(listing: Any) -> set[int]:
    """The ids in a listing: an object keyed by id, or a list of items with an ``id``."""
    items = listing.values() if isinstance(listing, dict) else listing
    ids = {_number(item.get("id")) for item in items if isinstance(item, dict)}
    if isinstance(listing, dict):
        ids |= {_number(key) for key in listing}
    return {i for i in ids if i is not None}


def _flows(listing: Any) -> dict[int, int | None]:
    """Flow id to its offer id (None when the listing does not say)."""
    items = listing.values() if isinstance(listing, dict) else listing
    flows = {_number(item.get("id")): _number(item.get("offer")) for item in items if isinstance(item, dict)}
    return {flow: offer for flow, offer in flows.items() if flow is not None}


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
