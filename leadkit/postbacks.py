"""Postbacks: a media buyer's tracker told of each lead and each change of its stage, once.

Each ``[[postback]]`` table is a URL template with macros, sent for the events it lists::

    [[postback]]
    url = "https://tracker.example/postback?subid={subid}&status={status}&payout={payout}"
    method = "GET"                                  # or "POST"
    events = ["lead", "approve", "cancel", "trash"]
    status = { lead = "lead", approve = "sale", cancel = "rejected", trash = "rejected" }
    name = "keitaro"                                # a label for logs (optional)

The events are the lead's stages: ``lead`` (the network took it), ``hold``, ``approve``,
``cancel`` and ``trash``. :func:`render` turns a postback, a lead as the journal keeps it
(:class:`~leadkit.journal.Entry`) and an event into a :class:`~leadkit.journal_outbox.Message`,
which the journal's outbox keeps until it is sent (once per lead, postback and event). Everything
here is pure: the outbox and the sender are elsewhere.

Macros, ``{name}`` anywhere in the URL's path and query:

- the visit's tags: ``{subid}``, ``{uuid}``, ``{sub1}``..``{sub5}``, ``{utm_source}``,
  ``{utm_medium}``, ``{utm_campaign}``, ``{utm_content}``, ``{utm_term}``, each of ``tags.extra``,
  and each alias of ``tags.aliases`` (with ``clickid = "sub2"``, ``{clickid}`` is the sub2);
- the tracker's click id, ``{clickid}``: the tag ``tags.aliases`` maps ``clickid`` onto, else a
  tag named ``clickid`` (``tags.extra``), else ``{subid}``, where trackers put their click id;
- the ad platforms' click ids: ``{fbclid}``, ``{ttclid}``, ``{gclid}``;
- the lead: ``{lead_id}`` (leadkit's id), ``{network_id}`` (the network's), ``{offer}``,
  ``{landing}`` (its ``[[landing]]``'s name, empty for the default one), ``{country}``,
  ``{payout}`` (``12.5``, ``700``; empty while unknown) and ``{currency}``;
- the event: ``{stage}`` (the event's name), ``{status}`` (the event through the postback's
  ``status`` map, else its name) and ``{time}`` (its unix time, whole seconds).

A lead's fact wins over a tag of the same name (a tag captured as ``country`` cannot hide
``{country}``), a tag over a click id, a click id over an alias. A macro without a value is
filled with nothing. Each value is percent-encoded whole (``urllib.parse.quote`` with no safe
character), so none can change the URL's shape: ``a&b=c#d`` stays one value.

``method = "POST"`` sends the same URL without its query string; the query, macros filled and
form-encoded (a space is ``+``), becomes an ``application/x-www-form-urlencoded`` body, each
name as written. A URL without a query posts an empty body.

Checks: the URL's rule (``leadkit.E130``) takes any well-formed ``{name}``, as it cannot know
``tags.extra``; :data:`POSTBACK_CONSTRAINTS` holds the rules read with the other sections:
``leadkit.E135`` (a ``status`` map but no ``{status}`` in the URL) and ``leadkit.E136`` (a macro
leadkit does not fill, named with the ones it does; :func:`macro_problems`).

Presets (:data:`PRESETS`), ``example`` hosts to replace with your tracker's:

- **Keitaro**: ``https://keitaro.example/postback?subid={subid}&status={status}&payout={payout}``
  (Keitaro's postback URL, Maintenance → Postback URL, holds a key in its path). Keitaro knows
  ``lead`` (payout not yet confirmed: the network's hold), ``sale`` and ``rejected``, and takes
  a postback without a status as a ``sale``: so ``lead`` and ``hold`` → ``lead``, ``approve`` →
  ``sale``, ``cancel`` and ``trash`` → ``rejected``. It moves a conversion from lead to sale or
  rejected, and from sale to rejected. Its ``subid`` is the one it put in the offer's link.
- **Binom**: ``https://binom.example/click.php?cnv_id={clickid}&payout={payout}&cnv_status={status}``
  (``cnv_id`` is Binom's ``{clickid}``: put it in the offer link's ``subid`` (``&subid={clickid}``
  in Binom), or map the parameter Binom uses with ``tags.aliases``). ``cnv_status`` is free text in Binom's reports: ``lead``, ``hold``,
  ``approve``, and ``reject`` for ``cancel`` and ``trash``. Binom counts the ``payout`` it is
  sent, whatever the status says.

Security: a postback URL is kept in the journal's outbox as it is sent (the journal's file may be
copied for support): keep user names and passwords out of it (they are refused).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple
from urllib.parse import quote, quote_plus, urlsplit

from .journal_outbox import Message
from .settings import Constraint, Invalid, Rule, Section, items, setting, table, text, valid
from .tags import STANDARD_TAGS

if TYPE_CHECKING:
    from .journal import Entry

__all__ = ["CLICK_IDS", "EVENTS", "FACTS", "METHODS", "POSTBACK_CONSTRAINTS", "PRESETS", "PostbackConfig", "Preset",
           "macro_problems", "macros_known", "render", "unknown_macros"]

#: The events a postback may be sent for: the lead taken by the network, then its stages.
EVENTS = ("lead", "hold", "approve", "cancel", "trash")
METHODS = ("GET", "POST")
#: The ad platforms' click ids a macro may name (``entry.clicks``).
CLICK_IDS = ("fbclid", "ttclid", "gclid")
#: The macros of the lead and the event, whatever the tags.
#: The tracker's click id, as trackers' postbacks name it: the tag ``tags.aliases`` maps ``clickid`` onto,
#: else a tag named ``clickid`` (``tags.extra``), else ``subid``, where trackers put their click id.
CLICKID = "clickid"
FACTS = ("lead_id", "network_id", "offer", "landing", "country", "status", "stage", "payout", "currency", "time")

_NAME = r"[A-Za-z][A-Za-z0-9_]{0,39}"
_MACRO = re.compile(rf"\{{({_NAME})\}}")
_BRACES = re.compile(r"\{([^{}]*)\}|[{}]")  # a {...} pair, else a brace alone


# -- the settings ---------------------------------------------------------------------------------


def _url(value: object, base: Path) -> str:
    """The URL template as it is; what is wrong named without repeating it (a tracker's URL may hold
    its postback key)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    for match in _BRACES.finditer(value):
        if match.group(1) is None:
            raise Invalid("has a '{' or '}' that is not part of a macro like {subid}: write a brace as %7B or %7D",
                          match.group(0))
        if not re.fullmatch(_NAME, match.group(1)):
            raise Invalid(f"has {match.group(0)!r}, which is not a macro: a macro is a name of letters, digits and "
                          "'_' in braces, like {subid}", match.group(0))
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        raise Invalid("must not contain spaces or control characters: write a space as %20")
    if "#" in value:
        raise Invalid("has a fragment ('#...'), which is never sent to the tracker: remove it")
    try:
        parts = urlsplit(value)
        if "{" in parts.scheme + parts.netloc:
            raise Invalid("has a macro in its host: macros belong in the path and the query")
        if "@" in parts.netloc:
            raise Invalid("must not carry a user name or password: the outbox keeps the URL as it is sent")
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise Invalid("has a host or port that cannot be read: write it like 'https://tracker.example:8443/...'") \
            from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL with the tracker's host, like "
                      "'https://tracker.example/postback?subid={subid}'")
    return value


_EVENT = valid(f"must be one of {', '.join(EVENTS)}", str, lambda value: value in EVENTS)


def _event_name(value: object, base: Path) -> str:
    if value not in EVENTS:
        close = difflib.get_close_matches(str(value), EVENTS, n=1)
        hint = f"did you mean {close[0]!r}" if close else f"the events: {', '.join(EVENTS)}"
        raise Invalid(f"is not an event ({hint})", value)
    return str(value)


class PostbackConfig(Section, section="postback"):
    """One ``[[postback]]``: a URL template with macros, the method, the events it is sent for and
    what each event is called in the tracker's words."""

    url: str = setting(
        Rule("must be the tracker's http(s) postback URL with macros, like "
             "'https://tracker.example/postback?subid={subid}&status={status}'", _url),
        "leadkit.E130", "the tracker's URL, with macros (`{subid}`, `{status}`, `{payout}`...) in its path and query")
    method: str = setting(valid("must be GET or POST", str, lambda value: value.upper() in METHODS, str.upper),
                          "leadkit.E131", "`GET`, or `POST`: the query string sent as a form body", default="GET")
    events: tuple[str, ...] = setting(
        items(_EVENT, f"must be a non-empty list of events among {', '.join(EVENTS)}", nonempty=True),
        "leadkit.E132", f"the events it is sent for, among {', '.join(f'`{e}`' for e in EVENTS)}",
        default=("lead", "approve", "cancel", "trash"))
    status: Mapping[str, str] = setting(
        table(Rule("", _event_name), text("must be the tracker's status as text, like 'sale'", r"[^\x00-\x1f\x7f]{1,64}"),
              "must be a table of event = status, like { approve = 'sale', cancel = 'rejected' }"),
        "leadkit.E133", '`{status}` for each event, e.g. `{ approve = "sale" }` (none: the event\'s name)', default={})
    name: str | None = setting(text("must be a label of letters, digits, ' ', '_', '.' or '-', like 'keitaro'",
                                    r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}"),
                               "leadkit.E134", "a label for its log lines (none: its position)", default=None)


# -- macros ---------------------------------------------------------------------------------------


def macros_known(tag_names: Iterable[str], aliases: Mapping[str, str]) -> frozenset[str]:
    """The macros leadkit fills: the lead's :data:`FACTS`, the :data:`CLICK_IDS`, ``{clickid}``
    (:data:`CLICKID`), ``tag_names`` (``TagsConfig.names``: the standard tags and ``tags.extra``) and
    the names of ``aliases`` (``tags.aliases``)."""
    return frozenset((*FACTS, *CLICK_IDS, CLICKID, *tag_names, *aliases))


def unknown_macros(url: str, known: Iterable[str]) -> list[str]:
    """The macros of ``url`` not in ``known``, each once, in the order they come."""
    known = frozenset(known)
    return list(dict.fromkeys(name for name in _MACRO.findall(url) if name not in known))


def macro_problems(url: str, tag_names: Iterable[str], aliases: Mapping[str, str]) -> list[Invalid]:
    """What is wrong with ``url``'s macros given the tags (``leadkit.E136``): each macro leadkit
    does not fill, named, with the closest known one and all of them."""
    known = macros_known(tag_names, aliases)
    listed = ", ".join(f"{{{name}}}" for name in sorted(known))
    problems = []
    for name in unknown_macros(url, known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {{{close[0]}}}?)" if close else ""
        problems.append(Invalid(f"uses the macro {{{name}}}, which leadkit does not fill{hint}: add {name!r} to "
                                f"tags.extra or tags.aliases, or use one of {listed}", name))
    return problems


#: The rules a ``[[postback]]`` is checked by with the other sections' values, each filed under
#: ``postback.url`` (the loader names it ``postback[<n>].url``).
POSTBACK_CONSTRAINTS = (
    Constraint("leadkit.E135", ("postback.url", "postback.status"), lambda url, status: [
        Invalid("has no {status} macro, so postback.status is never sent: add one (like '&status={status}') "
                "or remove the map")
    ] if status and "status" not in _MACRO.findall(url) else []),
    Constraint("leadkit.E136", ("postback.url", "tags.extra", "tags.aliases"),
               lambda url, extra, aliases: macro_problems(url, STANDARD_TAGS + tuple(extra), aliases)),
)


# -- a postback as a message for the outbox --------------------------------------------------------


def render(postback: PostbackConfig, index: int, entry: Entry, event: str, *, currency: str, now: float,
           aliases: Mapping[str, str] = {}) -> Message | None:
    """The message telling ``postback``'s tracker of ``entry``'s ``event`` at ``now`` (unix time),
    to the target ``postback:<index>``; None when the postback is not sent for ``event``.
    ``aliases`` are ``tags.aliases``; ``currency`` fills ``{currency}``."""
    if event not in postback.events:
        return None
    values = _values(postback, entry, event, currency=currency, now=now, aliases=aliases)
    if postback.method == "POST":
        base, _, query = postback.url.partition("?")
        url, body = _fill(base, values, quote), _fill(query, values, quote_plus)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    else:
        url, body, headers = _fill(postback.url, values, quote), None, {}
    return Message(lead_id=entry.id, target=f"postback:{index}", event=event, method=postback.method, url=url,
                   body=body, headers=headers)


def _fill(template: str, values: Mapping[str, str], encode: Callable[..., str]) -> str:
    """``template`` with each macro replaced by its value (nothing when it has none), encoded whole."""
    return _MACRO.sub(lambda match: encode(values.get(match.group(1), ""), safe=""), template)


def _values(postback: PostbackConfig, entry: Entry, event: str, *, currency: str, now: float,
            aliases: Mapping[str, str]) -> dict[str, str]:
    """Each macro's value, the later sources winning: aliases, click ids, tags, the lead's facts."""
    values = {CLICKID: entry.tags.get(aliases[CLICKID], "") if CLICKID in aliases else
              entry.tags.get(CLICKID) or entry.tags.get("subid", "")}  # the tracker's click id
    values.update({alias: entry.tags[tag] for alias, tag in aliases.items() if tag in entry.tags})
    values.update({name: entry.clicks[name] for name in CLICK_IDS if name in entry.clicks})
    values.update(entry.tags)
    values.update({
        "lead_id": entry.id,
        "network_id": entry.network_id or "",
        "offer": _text(entry.payload.get("offer")),
        "landing": entry.landing,
        "country": _text(entry.payload.get("country")),
        "status": postback.status.get(event, event),
        "stage": event,
        "payout": _text(entry.payout),
        "currency": currency,
        "time": str(int(now)),
    })
    return values


def _text(value: object) -> str:
    """A value as a macro has it: nothing for None, a number without a trailing ``.0``."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float):
        return f"{value + 0.0:.10f}".rstrip("0").rstrip(".") if math.isfinite(value) else ""
    return str(value)


# -- presets ---------------------------------------------------------------------------------------


class Preset(NamedTuple):
    """A tracker's postback: its URL template and its ``status`` map (see the module's docs)."""

    url: str
    status: Mapping[str, str]


#: Ready postbacks for the common trackers; replace the ``example`` host with your tracker's.
PRESETS: Mapping[str, Preset] = {
    "keitaro": Preset("https://keitaro.example/postback?subid={subid}&status={status}&payout={payout}",
                      {"lead": "lead", "hold": "lead", "approve": "sale", "cancel": "rejected", "trash": "rejected"}),
    "binom": Preset("https://binom.example/click.php?cnv_id={clickid}&payout={payout}&cnv_status={status}",
                    {"lead": "lead", "hold": "hold", "approve": "approve", "cancel": "reject", "trash": "reject"}),
}
