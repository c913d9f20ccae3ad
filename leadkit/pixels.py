"""Ad-platform pixels on the thank-you page: each fires its lead event once, with the lead id as the event id.

A media buyer's pixel must see the lead in the browser, and with the same event id that the server
sends through the Conversions API (:mod:`leadkit.capi`): leadkit's lead id. Each platform then
counts the two reports as one conversion. This module is the pure part: which pixel ids a visit
brought, which ids fire for a lead, the HTML that fires them, the CSP sources that HTML needs, and
where it goes in a kit's own page. Pure: no I/O, no clock.

Settings, ``[pixels]``
----------------------

===================  ==================================================================  ===============
key                  what                                                                default
===================  ==================================================================  ===============
``facebook``         Meta pixel ids, 15 or 16 digits (``"123456789012345"``)             ``[]``
``tiktok``           TikTok pixel codes, 20 upper-case letters and digits                ``[]``
                     (``"C4ABCDEFGHIJKLMNOPQR"``)
``google``           Google Ads conversions, ``AW-`` + 9 to 11 digits + ``/`` + label   ``[]``
                     (``"AW-123456789/AbC-dEf_123"``), or GA4 measurement ids, ``G-`` +
                     4 to 12 upper-case letters and digits (``"G-ABC123XYZ9"``)
``yandex``           Yandex Metrica counter ids, 5 to 10 digits (``"12345678"``)         ``[]``
``yandex_goal``      the Metrica goal reached (a *JavaScript event* goal's id)          ``"lead"``
``params``           per-visit pixels: platform = URL parameter,                         ``{}``
                     ``{ facebook = "fbpix", tiktok = "ttpix" }``
``facebook_event``   the Meta event fired                                                ``"Lead"``
``tiktok_event``     the TikTok event fired                                              ``"SubmitForm"``
``google_event``     the GA4 event fired (Ads conversions always fire ``conversion``)   ``"generate_lead"``
===================  ==================================================================  ===============

Ids may be given as TOML numbers where they are digits (``facebook = [123456789012345]``). Every id
is checked against its platform's format when the configuration is made, and again wherever it
comes from: an id that is not in the format never reaches a page.

Per-visit pixels
----------------

A kit bought with ``?fbpix=123456789012345`` (``params = { facebook = "fbpix" }``) fires that
pixel too, for the leads of that visit only. :func:`visit_pixels` reads the query string's pairs:
up to :data:`MAX_VISIT_IDS` ids per platform (``?fbpix=1...,2...`` or the parameter repeated), kept
as the visit's ``clicks`` (``{"pixel_facebook": "123456789012345"}``) and stored on the lead; the
rest (not in the format, or beyond the limit) come back for the caller to log. No ``params``: no
per-visit pixels. Whoever writes the link chooses a pixel that learns of that visit's lead: that is
the point (the buyer of the traffic), and nothing more (no other visit, no customer's details).

What fires, when
----------------

:func:`pixels_for` gives a lead's :class:`Pixels`: the configuration's ids, then its visit's (read
again from the journal, and checked again: a journal row is not trusted), without repeats.
:func:`snippet` is the HTML for the thank-you page: one ``<script>`` (with ``nonce``, when the page
has a CSP) that loads each platform's standard base code and fires, for each id:

- Facebook: ``fbq('init', id)``, then ``fbq('trackSingle', id, 'PageView')`` and
  ``fbq('trackSingle', id, facebook_event, {}, {eventID: lead id})``; and a ``<noscript>`` image
  (``facebook.com/tr?id=...&ev=...&eid=...``) for browsers without JavaScript;
- TikTok: ``ttq.load(id)``, then ``ttq.instance(id).page()`` and
  ``ttq.instance(id).track(tiktok_event, {}, {event_id: lead id})``;
- Google (gtag.js): ``gtag('config', tag)`` for each tag, then for an Ads conversion
  ``gtag('event', 'conversion', {send_to: 'AW-.../label', transaction_id: lead id})`` and for a GA4
  id ``gtag('event', google_event, {send_to: 'G-...', transaction_id: lead id})``;
- Yandex: ``ym(id, 'init', {...})`` and ``ym(id, 'reachGoal', yandex_goal, {order_id: lead id})``.

Each event goes to the pixel it names only (``trackSingle``, ``ttq.instance``, ``send_to``): a
kit's own pixel on the same page does not receive leadkit's leads. Each one fired is also pushed to
``window.leadkitPixels`` as ``{platform, id, event, eventId}`` (the base code's page views are not
listed), for a browser test to see what fired without the internet.

Once per lead
-------------

The event id lets each platform merge the browser's report with the server's, and drop a repeat.
Besides, the server sends the snippet once per lead (``Entry.thanked``), and the snippet itself
fires nothing when the browser has fired that event id before: it keeps ``leadkit_px_<lead id>`` in
``localStorage`` (a browser that refuses storage: in the page's memory only).

CSP
---

:func:`csp_sources` gives, by directive (``script-src``, ``img-src``, ``connect-src``,
``frame-src``), the sources the platforms of a :class:`Pixels` load from and send to; nothing for
none. Add each to the page's policy, and add a directive the policy lacks (with ``default-src
'none'`` a missing ``connect-src`` blocks every beacon). The lists follow each platform's
published CSP notes (Google's *Use Tag Manager with a Content Security Policy*, Yandex's
*Installing a tag on a site with CSP*) and the hosts Meta's and TikTok's libraries use; a platform
that starts using another host shows up as a CSP report in the browser's console. Google Ads may
also call ``www.google.<country>`` for remarketing lists, which is not listed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from .htmlscan import EndTag, scan
from .settings import Invalid, Rule, Section, did_you_mean, kept, setting, shown, text

__all__ = ["CLICK_KEYS", "MAX_VISIT_IDS", "PLATFORMS", "Pixels", "PixelsConfig", "csp_sources", "inject",
           "is_pixel_id", "pixels_for", "snippet", "visit_pixels"]

PLATFORMS = ("facebook", "tiktok", "google", "yandex")
#: The key of a visit's pixel ids in its ``clicks`` (and the lead's ``Entry.clicks``), by platform.
CLICK_KEYS: Mapping[str, str] = {platform: f"pixel_{platform}" for platform in PLATFORMS}
#: Pixel ids a visit may bring per platform.
MAX_VISIT_IDS = 3
_MAX_REFUSED = 10  # a hostile link with a thousand commas is one log line's worth, not a thousand


@dataclass(frozen=True)
class _Format:
    what: str
    shape: str
    pattern: re.Pattern[str]
    example: str
    digits: bool = False  # TOML may give it as a number


_FORMATS = {
    "facebook": _Format("Meta pixel ids", "15 or 16 digits", re.compile(r"[0-9]{15,16}"), "123456789012345", True),
    "tiktok": _Format("TikTok pixel codes", "20 upper-case letters and digits", re.compile(r"[A-Z0-9]{20}"),
                      "C4ABCDEFGHIJKLMNOPQR"),
    "google": _Format("Google tags", "an Ads conversion, 'AW-' + 9 to 11 digits + '/' + its label of letters, digits, "
                      "'-' and '_', or a GA4 measurement id, 'G-' + 4 to 12 upper-case letters and digits",
                      re.compile(r"AW-[0-9]{9,11}/[A-Za-z0-9_-]{1,64}|G-[A-Z0-9]{4,12}"), "AW-123456789/AbC-dEf_123"),
    "yandex": _Format("Yandex Metrica counter ids", "5 to 10 digits", re.compile(r"[0-9]{5,10}"), "12345678", True),
}
_PARAM = r"[A-Za-z][A-Za-z0-9_]{0,39}"


def is_pixel_id(platform: str, value: str) -> bool:
    """``value`` is an id in ``platform``'s format (False for a platform leadkit does not know)."""
    known = _FORMATS.get(platform)
    return known is not None and isinstance(value, str) and known.pattern.fullmatch(value) is not None


# -- the settings -----------------------------------------------------------------------------


def _ids(platform: str) -> Rule[tuple[str, ...]]:
    """A list of ``platform``'s ids, as a tuple without repeats; the problem names the bad one."""
    known = _FORMATS[platform]

    def check(value: object, base: Path) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)):
            raise ValueError
        ids = []
        for each in value:
            given = str(each) if known.digits and isinstance(each, int) and not isinstance(each, bool) else each
            if not isinstance(given, str) or not is_pixel_id(platform, given.strip()):
                raise Invalid(f"must list {known.what}, each {known.shape} (got {shown(each)})", kept(each))
            ids.append(given.strip())
        return tuple(dict.fromkeys(ids))
    return Rule(f"must be a list of {known.what}, each {known.shape}, like [{known.example!r}]", check)


def _check_params(value: object, base: Path) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError
    checked: dict[str, str] = {}
    for platform, name in value.items():
        if platform not in PLATFORMS:
            raise Invalid(f"names no platform leadkit knows: {platform!r}{did_you_mean(str(platform), PLATFORMS)}",
                          platform, sub=str(platform))
        if not isinstance(name, str) or not re.fullmatch(_PARAM, name):
            raise Invalid(f"must be a URL parameter name of letters, digits and '_' (at most 40), like 'fbpix' "
                          f"(got {name!r})", name, sub=platform)
        if name in checked.values():
            raise Invalid(f"uses {name!r} for two platforms: give each platform its own parameter", name, sub=platform)
        checked[platform] = name
    return checked


_EVENT = r"[A-Za-z][A-Za-z0-9_]{0,49}"


class PixelsConfig(Section, section="pixels"):
    """``[pixels]``: the ad-platform pixels of the thank-you page; all off by default."""

    facebook: tuple[str, ...] = setting(_ids("facebook"), "leadkit.E140",
                                        'Meta pixel ids, 15 or 16 digits, like `["123456789012345"]`', default=())
    tiktok: tuple[str, ...] = setting(_ids("tiktok"), "leadkit.E141", "TikTok pixel codes, 20 upper-case letters "
                                      'and digits, like `["C4ABCDEFGHIJKLMNOPQR"]`', default=())
    google: tuple[str, ...] = setting(_ids("google"), "leadkit.E142", 'Google Ads conversions (`"AW-123456789/AbC-'
                                      'dEf_123"`) or GA4 measurement ids (`"G-ABC123XYZ9"`)', default=())
    yandex: tuple[str, ...] = setting(_ids("yandex"), "leadkit.E143",
                                      'Yandex Metrica counter ids, 5 to 10 digits, like `["12345678"]`', default=())
    yandex_goal: str = setting(
        text("must be a Metrica goal id of letters, digits, '_', '.' or '-' (at most 64), like 'lead'",
             r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
        "leadkit.E144", "the Metrica goal (a *JavaScript event* goal's id) reached for a lead", default="lead")
    params: Mapping[str, str] = setting(
        Rule("must be a table of platform = URL parameter, like { facebook = 'fbpix', tiktok = 'ttpix' }",
             _check_params),
        "leadkit.E145", 'per-visit pixels: platform = URL parameter, like `{ facebook = "fbpix" }` (a kit bought '
        "with `?fbpix=123456789012345`); at most 3 ids a platform", default={})
    facebook_event: str = setting(text("must be an event name of letters, digits or '_' (at most 50), like 'Lead'",
                                       _EVENT), "leadkit.E146", "the Meta event fired for a lead", default="Lead")
    tiktok_event: str = setting(text("must be an event name of letters, digits or '_' (at most 50), like "
                                     "'SubmitForm'", _EVENT), "leadkit.E147", "the TikTok event fired for a lead",
                                default="SubmitForm")
    google_event: str = setting(text("must be a GA4 event name of letters, digits or '_' (at most 40), like "
                                     "'generate_lead'", r"[A-Za-z][A-Za-z0-9_]{0,39}"), "leadkit.E148",
                                "the GA4 event fired for a lead; Ads conversions fire `conversion`",
                                default="generate_lead")


# -- which ids fire ---------------------------------------------------------------------------


def visit_pixels(pairs: Iterable[tuple[str, str]],
                 params: Mapping[str, str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The pixel ids a visit's query string brings, as its ``clicks`` (``{"pixel_facebook": "1...,2..."}``),
    and the refused ones as (platform, the value's ``repr`` cut to 60 characters), for the caller to log."""
    platform_of = {name: platform for platform, name in params.items() if platform in PLATFORMS}
    found: dict[str, list[str]] = {platform: [] for platform in PLATFORMS}
    refused: list[tuple[str, str]] = []
    for name, value in pairs:
        platform = platform_of.get(name)
        if platform is None:
            continue
        for each in (piece.strip() for piece in value.split(",")):
            if not each or each in found[platform]:
                continue
            if is_pixel_id(platform, each) and len(found[platform]) < MAX_VISIT_IDS:
                found[platform].append(each)
            elif len(refused) < _MAX_REFUSED:
                refused.append((platform, repr(each)[:60]))
    return {CLICK_KEYS[platform]: ",".join(ids) for platform, ids in found.items() if ids}, refused


@dataclass(frozen=True)
class Pixels:
    """The pixel ids that fire for one lead, per platform; each in its platform's format (ValueError otherwise)."""

    facebook: tuple[str, ...] = ()
    tiktok: tuple[str, ...] = ()
    google: tuple[str, ...] = ()
    yandex: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for platform in PLATFORMS:
            for each in self.ids(platform):
                if not is_pixel_id(platform, each):
                    raise ValueError(f"{each!r} is not one of the {_FORMATS[platform].what}")

    def ids(self, platform: str) -> tuple[str, ...]:
        return {"facebook": self.facebook, "tiktok": self.tiktok, "google": self.google,
                "yandex": self.yandex}.get(platform, ())

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms with ids, in :data:`PLATFORMS`' order."""
        return tuple(platform for platform in PLATFORMS if self.ids(platform))

    @property
    def empty(self) -> bool:
        return not self.platforms


def pixels_for(config: PixelsConfig, clicks: Mapping[str, str]) -> Pixels:
    """A lead's pixels: the configuration's ids, then those its visit brought (``clicks``, from the
    journal: each checked again, :data:`MAX_VISIT_IDS` at most), without repeats."""
    configured = {"facebook": config.facebook, "tiktok": config.tiktok, "google": config.google,
                  "yandex": config.yandex}
    found: dict[str, tuple[str, ...]] = {}
    for platform in PLATFORMS:
        kept = clicks.get(CLICK_KEYS[platform])
        visit = [each.strip() for each in kept.split(",")] if isinstance(kept, str) else []
        visit = [each for each in visit if is_pixel_id(platform, each)][:MAX_VISIT_IDS]
        found[platform] = tuple(dict.fromkeys(each for each in (*configured[platform], *visit)
                                              if is_pixel_id(platform, each)))
    return Pixels(**found)


# -- the snippet ------------------------------------------------------------------------------


def _js(value: object) -> str:
    """``value`` as a JavaScript literal that cannot end its ``<script>`` element: JSON, ASCII only
    (U+2028 and U+2029 escaped too), with ``<``, ``>`` and ``&`` as ``\\u003c``..."""
    return json.dumps(value, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# The guard, then each platform's block; every block in its own try, so that one platform's failure
# leaves the others firing. Each base code is the platform's standard one, written out readably.
_START = """(function (w, d) {
  var eventId = %(event_id)s, key = "leadkit_px_" + eventId;
  var fired = w.leadkitPixels = w.leadkitPixels || [];
  var seen = w.leadkitPixelsSeen = w.leadkitPixelsSeen || {};
  if (seen[key]) return;
  seen[key] = 1;
  try {
    if (w.localStorage.getItem(key)) return;
    w.localStorage.setItem(key, "1");
  } catch (e) {}
  function load(src) {
    var s = d.createElement("script");
    s.async = true;
    s.src = src;
    (d.head || d.documentElement).appendChild(s);
  }
  function note(platform, id, event) {
    fired.push({platform: platform, id: id, event: event, eventId: eventId});
  }"""
_END = "\n})(window, document);"

_FACEBOOK_BASE = """
    if (!w.fbq) {
      var fb = w.fbq = function () { fb.callMethod ? fb.callMethod.apply(fb, arguments) : fb.queue.push(arguments); };
      if (!w._fbq) w._fbq = fb;
      fb.push = fb; fb.loaded = true; fb.version = "2.0"; fb.queue = [];
      load("https://connect.facebook.net/en_US/fbevents.js");
    }"""
_TIKTOK_BASE = """
    if (!(w.ttq && w.ttq.load)) {
      w.TiktokAnalyticsObject = "ttq";
      var ttq = w.ttq = w.ttq || [];
      ttq.methods = ["page", "track", "identify", "instances", "debug", "on", "off", "once", "ready", "alias",
        "group", "enableCookie", "disableCookie", "holdConsent", "revokeConsent", "grantConsent"];
      ttq.setAndDefer = function (t, e) {
        t[e] = function () { t.push([e].concat(Array.prototype.slice.call(arguments, 0))); };
      };
      for (var i = 0; i !== ttq.methods.length; i++) ttq.setAndDefer(ttq, ttq.methods[i]);
      ttq.instance = function (t) {
        for (var e = ttq._i[t] || [], n = 0; n !== ttq.methods.length; n++) ttq.setAndDefer(e, ttq.methods[n]);
        return e;
      };
      ttq.load = function (e, n) {
        var r = "https://analytics.tiktok.com/i18n/pixel/events.js";
        ttq._i = ttq._i || {}; ttq._i[e] = []; ttq._i[e]._u = r;
        ttq._t = ttq._t || {}; ttq._t[e] = +new Date();
        ttq._o = ttq._o || {}; ttq._o[e] = n || {};
        load(r + "?sdkid=" + e + "&lib=ttq");
      };
    }"""
_GOOGLE_BASE = """
    w.dataLayer = w.dataLayer || [];
    if (!w.gtag) {
      w.gtag = function () { w.dataLayer.push(arguments); };
      w.gtag("js", new Date());
    }"""
_YANDEX_BASE = """
    if (!w.ym) {
      w.ym = function () { (w.ym.a = w.ym.a || []).push(arguments); };
      w.ym.l = +new Date();
      load("https://mc.yandex.ru/metrika/tag.js");
    }"""


def _facebook(ids: tuple[str, ...], config: PixelsConfig) -> list[str]:
    event = _js(config.facebook_event)
    calls = [f"w.fbq(\"init\", {_js(each)});" for each in ids]
    for each in ids:
        calls += [f"w.fbq(\"trackSingle\", {_js(each)}, \"PageView\");",
                  f"w.fbq(\"trackSingle\", {_js(each)}, {event}, {{}}, {{eventID: eventId}});",
                  f"note(\"facebook\", {_js(each)}, {event});"]
    return [_FACEBOOK_BASE, *calls]


def _tiktok(ids: tuple[str, ...], config: PixelsConfig) -> list[str]:
    event = _js(config.tiktok_event)
    calls = []
    for each in ids:
        calls += [f"w.ttq.load({_js(each)});", f"w.ttq.instance({_js(each)}).page();",
                  f"w.ttq.instance({_js(each)}).track({event}, {{}}, {{event_id: eventId}});",
                  f"note(\"tiktok\", {_js(each)}, {event});"]
    return [_TIKTOK_BASE, *calls]


def _google(ids: tuple[str, ...], config: PixelsConfig) -> list[str]:
    tags = list(dict.fromkeys(each.split("/")[0] for each in ids))  # AW-123456789/label: the tag is AW-123456789
    calls = [f"load({_js('https://www.googletagmanager.com/gtag/js?' + urlencode({'id': tags[0]}))});"]
    calls += [f"w.gtag(\"config\", {_js(tag)});" for tag in tags]
    for each in ids:
        event = "conversion" if each.startswith("AW-") else config.google_event
        calls += [f"w.gtag(\"event\", {_js(event)}, {{send_to: {_js(each)}, transaction_id: eventId}});",
                  f"note(\"google\", {_js(each)}, {_js(event)});"]
    return [_GOOGLE_BASE, *calls]


def _yandex(ids: tuple[str, ...], config: PixelsConfig) -> list[str]:
    goal = _js(config.yandex_goal)
    calls = []
    for each in ids:
        calls += [f"w.ym({int(each)}, \"init\", {{clickmap: true, trackLinks: true, accurateTrackBounce: true}});",
                  f"w.ym({int(each)}, \"reachGoal\", {goal}, {{order_id: eventId}});",
                  f"note(\"yandex\", {_js(each)}, {goal});"]
    return [_YANDEX_BASE, *calls]


_BLOCKS = {"facebook": _facebook, "tiktok": _tiktok, "google": _google, "yandex": _yandex}


def snippet(pixels: Pixels, config: PixelsConfig, *, event_id: str, nonce: str | None) -> str:
    """The HTML that fires each of ``pixels``' lead events once, with ``event_id`` (the lead id): a
    ``<script>`` with ``nonce`` (none: no attribute, for a page without a CSP), and a ``<noscript>``
    image per Meta pixel. Empty for no pixels; ValueError for an empty ``event_id``."""
    if pixels.empty:
        return ""
    if not event_id:
        raise ValueError("a pixel's event id must not be empty: pass the lead id")
    lines = [_START % {"event_id": _js(event_id)}]
    for platform in pixels.platforms:
        first, *calls = _BLOCKS[platform](pixels.ids(platform), config)
        lines += ["  try {" + first, *(f"    {call}" for call in calls), "  } catch (e) {}"]
    attribute = "" if nonce is None else f' nonce="{html.escape(nonce, quote=True)}"'
    script = f"<script{attribute}>\n" + "\n".join(lines) + _END + "\n</script>"
    images = "".join(
        '<img height="1" width="1" hidden alt="" src="https://www.facebook.com/tr?'
        + html.escape(urlencode({"id": each, "ev": config.facebook_event, "eid": event_id, "noscript": "1"}))
        + '">' for each in pixels.facebook)
    return script + (f"\n<noscript>{images}</noscript>" if images else "")


# -- CSP --------------------------------------------------------------------------------------

_Sources = Mapping[str, tuple[str, ...]]
_DIRECTIVES = ("script-src", "img-src", "connect-src", "frame-src")
_GTM = "https://www.googletagmanager.com"
# Yandex's published list (Installing a tag on a site with CSP), without Webvisor's hosts: leadkit
# does not turn Webvisor on.
_YANDEX_HOSTS = tuple(f"https://mc.yandex.{tld}" for tld in (
    "ru", "az", "by", "co.il", "com", "com.am", "com.ge", "com.tr", "ee", "fr", "kg", "kz", "lt", "lv", "md", "tj",
    "tm", "uz"))
_SOURCES: Mapping[str, _Sources] = {
    "facebook": {"script-src": ("https://connect.facebook.net",), "img-src": ("https://www.facebook.com",),
                 "connect-src": ("https://www.facebook.com", "https://connect.facebook.net")},
    "tiktok": {"script-src": ("https://analytics.tiktok.com",), "img-src": ("https://analytics.tiktok.com",),
               # events.js also reports the visitor's IPv6 address to a host of its own
               "connect-src": ("https://analytics.tiktok.com", "https://analytics-ipv6.tiktokw.us")},
    "gtag": {"script-src": (_GTM,), "img-src": (_GTM,), "connect-src": (_GTM,)},
    "ga4": {"script-src": ("https://*.googletagmanager.com",),
            "img-src": ("https://*.google-analytics.com", "https://*.googletagmanager.com",
                        "https://*.g.doubleclick.net", "https://www.google.com"),
            "connect-src": ("https://*.google-analytics.com", "https://*.analytics.google.com",
                            "https://*.googletagmanager.com", "https://*.g.doubleclick.net", "https://www.google.com")},
    "google_ads": {"script-src": ("https://www.googleadservices.com", "https://www.google.com",
                                  "https://googleads.g.doubleclick.net"),
                   "img-src": ("https://googleads.g.doubleclick.net", "https://www.google.com",
                               "https://www.googleadservices.com"),
                   "connect-src": ("https://www.google.com", "https://googleads.g.doubleclick.net",
                                   "https://www.googleadservices.com", "https://pagead2.googlesyndication.com"),
                   "frame-src": ("https://td.doubleclick.net", _GTM)},
    "yandex": {"script-src": ("https://mc.yandex.ru", "https://yastatic.net"), "img-src": _YANDEX_HOSTS,
               "connect-src": _YANDEX_HOSTS, "frame-src": _YANDEX_HOSTS},
}


def _source_groups(pixels: Pixels) -> list[str]:
    groups = [platform for platform in ("facebook", "tiktok", "yandex") if pixels.ids(platform)]
    if pixels.google:
        groups.append("gtag")
        groups += ["ga4"] if any(each.startswith("G-") for each in pixels.google) else []
        groups += ["google_ads"] if any(each.startswith("AW-") for each in pixels.google) else []
    return groups


def csp_sources(pixels: Pixels) -> dict[str, tuple[str, ...]]:
    """The sources to add to the page's Content-Security-Policy, by directive, for ``pixels``' platforms
    only (none: an empty dict). A directive the policy lacks must be added (``default-src 'none'``)."""
    merged: dict[str, dict[str, None]] = {}
    for group in _source_groups(pixels):
        for directive, sources in _SOURCES[group].items():
            merged.setdefault(directive, {}).update(dict.fromkeys(sources))
    return {directive: tuple(merged[directive]) for directive in _DIRECTIVES if directive in merged}


# -- a kit's own page -------------------------------------------------------------------------

_END_TAG = {name: re.compile(f"</{name}\\s*>", re.IGNORECASE) for name in ("head", "body")}


def inject(html: str, snippet: str) -> str:
    """``html`` with ``snippet`` just before its first ``</head>`` (as a browser reads the page: not one
    inside a script or a comment), else before its first ``</body>``, else at its end."""
    document = scan(html)
    for name in ("head", "body"):
        if document is not None:
            at = next((e.start for e in document.events if isinstance(e, EndTag) and e.name == name), None)
        else:  # a page the tokenizer cannot read: the first end tag as text
            found = _END_TAG[name].search(html)
            at = found.start() if found else None
        if at is not None:
            return html[:at] + snippet + html[at:]
    return html + snippet
