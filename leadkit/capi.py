"""Server-side conversion events: what leadkit tells Facebook's Conversions API and TikTok's Events API.

When the network accepts a lead, leadkit reports a *lead* event (``capi.facebook.lead_event``,
``Lead``; ``capi.tiktok.lead_event``, ``SubmitForm``), timed when the order was taken; when the
network approves it, a *purchase* event (``Purchase``; ``CompletePayment``), timed when the approval
was learnt, worth the lead's payout (0 when the network gave none) in the offer's currency. Each is
a :class:`~leadkit.journal_outbox.Message` for the journal's outbox, built here from the journal's
:class:`~leadkit.journal.Entry` alone (pure: no clock, no network); :mod:`leadkit.dispatch` sends it.

The event id is always leadkit's lead id: the thank-you page's browser pixel reports the same lead
with the same id, so each platform counts the two reports as one conversion.

What is sent, and in what form
------------------------------

============================  ======================================  =====================================
fact (where leadkit has it)   Facebook ``user_data``                  TikTok ``user``
============================  ======================================  =====================================
phone (``payload["phone"]``)  ``ph``: SHA-256 of the digits with the  ``phone``: SHA-256 of the E.164 form
                              country code, no ``+``, no leading 0    (``+77001234567``)
e-mail (``payload["email"]``) ``em``: SHA-256, trimmed, lower case    ``email``: SHA-256, trimmed, lower case
country (``payload``)         ``country``: SHA-256 of the lower-case  (not taken)
                              two-letter code
lead id                       ``external_id``: SHA-256 of the id      ``external_id``: SHA-256 of the id
client IP (``payload["ip"]``) ``client_ip_address``, as it is         ``ip``, as it is
user agent (``payload``)      ``client_user_agent``, as it is         ``user_agent``, as it is
click id                      ``fbc``: the ``_fbc`` cookie, else      ``ttclid``, as it is
                              ``fb.1.<lead time in ms>.<fbclid>``
browser id                    ``fbp``: the ``_fbp`` cookie            ``ttp``: the ``_ttp`` cookie
============================  ======================================  =====================================

A fact leadkit does not have is left out: never an empty string, never the hash of one.

Why hashed: Meta does not accept contact information (phone, e-mail, country) that is not
SHA-256-hashed after normalizing (surrounding spaces removed, lower case; a phone as digits with
its country code), and TikTok's own template hashes phone and e-mail the same way; each platform
matches the hashes against its users' own. The IP, the user agent and the click and browser ids are
not contact information: the platforms want them as they are, and a click id must not be altered
at all (it is case-sensitive). ``external_id`` is hashed because Meta recommends it and TikTok's
template hashes it; it is the lead id, so it ties a lead's *lead* and *purchase* events together (a
thank-you page's pixel that passes ``external_id`` should pass the lead id).

Not sent: Meta's ``event_source_url`` (asked of website events): the journal's entry has no page
URL (the caller would have to keep it with the lead to send it).

Tokens: a Message never carries the platform's access token. The URL, body and headers built here
are written to the journal, whose file may be copied for support; the dispatcher adds Facebook's
``access_token`` parameter and TikTok's ``Access-Token`` header when it sends.

What this follows (Meta's pages as updated 9 January 2026):

- Meta, *Conversions API: Customer Information Parameters* (developers.facebook.com/docs/
  marketing-api/conversions-api/parameters/customer-information-parameters): ``ph``, ``em`` and
  ``country`` hashing required, ``external_id`` hashing recommended; ``client_ip_address``,
  ``client_user_agent``, ``fbc`` and ``fbp`` not hashed; ``ph`` as digits with the country code.
- Meta, *ClickID and the fbp and fbc Parameters* (…/conversions-api/parameters/fbp-and-fbc): send the
  ``_fbc`` and ``_fbp`` cookies when available; otherwise ``fbc`` is ``fb.1.<creationTime in
  milliseconds>.<fbclid>``, the click id unmodified.
- Meta, *Conversions API: Parameters* (…/conversions-api/parameters): ``event_name``, ``event_time``,
  ``event_id``, ``action_source`` (``website``), ``user_data``, ``custom_data`` (``currency``,
  ``value``), ``test_event_code``; ``POST /{version}/{dataset id}/events``.
- TikTok's own Events API 2.0 template for server-side Google Tag Manager (github.com/tiktok/
  gtm-template-eapi, ``template.js``): ``POST /open_api/v1.3/event/track/`` with the
  ``Access-Token`` header; ``event_source: "web"``, ``event_source_id`` (the pixel code),
  ``test_event_code``, ``data: [{event, event_time, event_id, user: {ttclid, external_id, phone,
  email, ttp, ip, user_agent}, properties: {currency, value}}]``, phone and e-mail SHA-256 of the
  trimmed, lower-cased value. The template leaves the phone's form to the caller: leadkit hashes
  its E.164 form, with the ``+``; TikTok's Events API 2.0 reference (business-api.tiktok.com/portal/
  docs) is where to confirm it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .journal_outbox import Message
from .settings import Constraint, Invalid, Rule, Section, http_url, secret_text, setting, text

if TYPE_CHECKING:  # the settings table imports this module: it need not load the journal
    from .journal import Entry

__all__ = ["CAPI_CONSTRAINTS", "EVENTS", "FacebookConfig", "TikTokConfig", "facebook_message", "phone_e164",
           "sha256_hex", "tiktok_message"]

#: The events leadkit reports: the network took the lead, the network approved it.
EVENTS = ("lead", "approve")

_HEADERS = {"Content-Type": "application/json"}
_EVENT_NAME = text("must be an event name of letters, digits or '_' (at most 50), like 'Lead'",
                   r"[A-Za-z][A-Za-z0-9_]{0,49}")
_TEST_CODE = text("must be the test code Events Manager shows, like 'TEST12345'", r"[A-Za-z0-9_-]{1,64}")


def _pixel(fix: str, pattern: str) -> Rule[str]:
    """An id that TOML may give as a number (``pixel = 123456789012345``) or as text."""
    def check(value: object, base: Path) -> str:
        given = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if not re.fullmatch(pattern, given):
            raise ValueError
        return given
    return Rule(fix, check)


class FacebookConfig(Section, section="capi.facebook"):
    """``[capi.facebook]``: the Conversions API, on when both the dataset (pixel) id and the token are set."""

    pixel: str | None = setting(
        _pixel("must be the dataset (pixel) id, 15 or 16 digits, like '123456789012345'", r"\d{15,16}"),
        "leadkit.E150", "the Meta dataset (pixel) id, 15 or 16 digits; none: no events to Facebook", default=None)
    token: str | None = setting(
        secret_text("LEADKIT_FACEBOOK_TOKEN", "the Conversions API access token from Events Manager", token=True),
        "leadkit.E151", "the Conversions API access token (or `LEADKIT_FACEBOOK_TOKEN`); never written to the journal",
        default=None)
    base_url: str = setting(http_url("must be the Graph API's base URL, like 'https://graph.facebook.com'"),
                            "leadkit.E152", "the Graph API's base URL", default="https://graph.facebook.com")
    version: str = setting(text("must be a Graph API version like 'v21.0'", r"v\d{1,3}\.\d{1,3}"), "leadkit.E153",
                           'the Graph API version, like `"v21.0"`', default="v21.0")
    lead_event: str = setting(_EVENT_NAME, "leadkit.E154", "the event sent when the network accepts a lead",
                              default="Lead")
    purchase_event: str = setting(_EVENT_NAME, "leadkit.E155",
                                  "the event sent when the network approves a lead, worth its payout",
                                  default="Purchase")
    test_event_code: str | None = setting(_TEST_CODE, "leadkit.E156",
                                          "Events Manager's test code: events go to *Test events* only",
                                          default=None)

    @property
    def enabled(self) -> bool:
        return self.pixel is not None and self.token is not None


class TikTokConfig(Section, section="capi.tiktok"):
    """``[capi.tiktok]``: the Events API, on when both the pixel code and the token are set."""

    pixel: str | None = setting(
        text("must be the TikTok pixel code, 20 upper-case letters and digits, like 'C4ABCDEFGHIJKLMNOPQR'",
             r"[A-Z0-9]{20}"),
        "leadkit.E160", "the TikTok pixel code, 20 upper-case letters and digits; none: no events to TikTok",
        default=None)
    token: str | None = setting(
        secret_text("LEADKIT_TIKTOK_TOKEN", "the Events API access token from the pixel's settings", token=True),
        "leadkit.E161", "the Events API access token (or `LEADKIT_TIKTOK_TOKEN`); never written to the journal",
        default=None)
    base_url: str = setting(http_url("must be TikTok's API base URL, like 'https://business-api.tiktok.com'"),
                            "leadkit.E162", "TikTok's API base URL", default="https://business-api.tiktok.com")
    lead_event: str = setting(_EVENT_NAME, "leadkit.E163", "the event sent when the network accepts a lead",
                              default="SubmitForm")
    purchase_event: str = setting(_EVENT_NAME, "leadkit.E164",
                                  "the event sent when the network approves a lead, worth its payout",
                                  default="CompletePayment")
    test_event_code: str | None = setting(_TEST_CODE, "leadkit.E165",
                                          "Events Manager's test code: events go to *Test events* only",
                                          default=None)

    @property
    def enabled(self) -> bool:
        return self.pixel is not None and self.token is not None


def _pair(id: str, platform: str, env: str, what: str) -> Constraint:
    """A pixel and its token come together: one without the other sends nothing, which is a mistake."""
    def check(pixel: str | None, token: str | None) -> list[Invalid]:
        if pixel is not None and token is None:
            return [Invalid(f"is set but capi.{platform}.token is not: set the environment variable {env} to the "
                            f"{what}, or remove the pixel to send no events", pixel)]
        if pixel is None and token is not None:
            return [Invalid(f"is missing while a token is given (capi.{platform}.token or {env}): set the pixel, or "
                            f"unset {env} to send no events")]
        return []
    return Constraint(id,
                      (f"capi.{platform}.pixel", f"capi.{platform}.token"), check)


#: The rules between the settings of ``[capi.facebook]`` (E159) and ``[capi.tiktok]`` (E169).
CAPI_CONSTRAINTS = (
    _pair("leadkit.E159", "facebook", "LEADKIT_FACEBOOK_TOKEN", "Conversions API access token"),
    _pair("leadkit.E169", "tiktok", "LEADKIT_TIKTOK_TOKEN", "Events API access token"),
)


# -- normalizing and hashing ---------------------------------------------------------------


def sha256_hex(text: str) -> str:
    """The SHA-256 hex digest of ``text`` trimmed and lower-cased, as both platforms match contact
    information (e-mails, countries, phones, ids); ValueError for nothing to hash."""
    normal = text.strip().lower()
    if not normal:
        raise ValueError("nothing to hash: leave the field out instead")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def phone_e164(digits: str) -> str:
    """A phone in E.164 (``+77001234567``) from its digits with the country code, whatever else
    they were written with; ValueError when there are no digits."""
    return f"+{_phone_digits(digits)}"


def _phone_digits(raw: str) -> str:
    # An international number never starts with 0: leading zeros are a dialling prefix (00 7...).
    digits = re.sub(r"\D", "", raw).lstrip("0")
    if not digits:
        raise ValueError(f"no phone number in {raw!r}")
    return digits


def _fact(value: object) -> str | None:
    """A fact as sent: text without surrounding spaces, or None when there is none."""
    if value is None:
        return None
    given = str(value).strip()
    return given or None


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _hashed(value: object) -> str | None:
    given = _fact(value)
    return None if given is None else sha256_hex(given)


def _hashed_phone(value: object, *, plus: bool) -> str | None:
    given = _fact(value)
    if given is None or not re.search(r"[1-9]", given):
        return None
    return sha256_hex(phone_e164(given) if plus else _phone_digits(given))


def _fbc(entry: Entry) -> str | None:
    """The ``_fbc`` cookie, else the click id made into its form with the lead's time (Meta's
    ``creationTime``, in milliseconds), else None."""
    cookie = _fact(entry.clicks.get("fbc"))
    if cookie is not None:
        return cookie
    fbclid = _fact(entry.clicks.get("fbclid"))
    return None if fbclid is None else f"fb.1.{int(entry.created * 1000)}.{fbclid}"


# -- the messages ----------------------------------------------------------------------


def _moment(config: FacebookConfig | TikTokConfig, entry: Entry, event: str, now: float) -> tuple[str, int]:
    """The platform's event name and its time for ``event``."""
    if event == "lead":
        return config.lead_event, int(entry.created)
    if event == "approve":
        return config.purchase_event, int(now)
    raise ValueError(f"unknown conversion event {event!r}: use one of {', '.join(EVENTS)}")


def _worth(entry: Entry, event: str, currency: str) -> dict[str, Any] | None:
    """What an approved lead is worth (its payout, 0 when the network gave none); nothing for a lead."""
    if event != "approve":
        return None
    return _present({"currency": _fact(currency.upper()), "value": entry.payout if entry.payout is not None else 0})


def _pixel_of(config: FacebookConfig | TikTokConfig) -> str:
    if config.pixel is None:
        raise ValueError(f"{config.section}.pixel is not set: no event can be sent")
    return config.pixel


def _message(entry: Entry, target: str, event: str, url: str, body: Mapping[str, Any]) -> Message:
    return Message(lead_id=entry.id, target=target, event=event, method="POST", url=url,
                   body=json.dumps(body, separators=(",", ":")), headers=dict(_HEADERS))


def facebook_message(config: FacebookConfig, entry: Entry, event: str, *, currency: str, now: float) -> Message:
    """The Conversions API request reporting ``event`` (``lead`` or ``approve``) of ``entry``,
    without the token. ValueError for another event, or without ``config.pixel``."""
    name, moment = _moment(config, entry, event, now)
    payload = entry.payload
    user = _present({
        "ph": _list(_hashed_phone(payload.get("phone"), plus=False)),
        "em": _list(_hashed(payload.get("email"))),
        "country": _list(_hashed(payload.get("country"))),
        "external_id": [sha256_hex(entry.id)],
        "client_ip_address": _fact(payload.get("ip")),
        "client_user_agent": _fact(payload.get("ua")),
        "fbc": _fbc(entry),
        "fbp": _fact(entry.clicks.get("fbp")),
    })
    data = _present({"event_name": name, "event_time": moment, "event_id": entry.id, "action_source": "website",
                     "user_data": user, "custom_data": _worth(entry, event, currency)})
    body = _present({"data": [data], "test_event_code": config.test_event_code})
    url = f"{config.base_url}/{config.version}/{_pixel_of(config)}/events"
    return _message(entry, "facebook", event, url, body)


def tiktok_message(config: TikTokConfig, entry: Entry, event: str, *, currency: str, now: float) -> Message:
    """The Events API request reporting ``event`` (``lead`` or ``approve``) of ``entry``, without
    the token. ValueError for another event, or without ``config.pixel``."""
    name, moment = _moment(config, entry, event, now)
    payload = entry.payload
    user = _present({
        "phone": _hashed_phone(payload.get("phone"), plus=True),
        "email": _hashed(payload.get("email")),
        "external_id": sha256_hex(entry.id),
        "ip": _fact(payload.get("ip")),
        "user_agent": _fact(payload.get("ua")),
        "ttclid": _fact(entry.clicks.get("ttclid")),
        "ttp": _fact(entry.clicks.get("ttp")),
    })
    data = _present({"event": name, "event_time": moment, "event_id": entry.id, "user": user,
                     "properties": _worth(entry, event, currency)})
    body = _present({"event_source": "web", "event_source_id": _pixel_of(config), "data": [data],
                     "test_event_code": config.test_event_code})
    return _message(entry, "tiktok", event, f"{config.base_url}/open_api/v1.3/event/track/", body)


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [value]
