"""Tests for leadkit.pixels: pixel ids and their formats, a visit's pixels, a lead's, the thank-you
page's snippet (also run in Node.js against a stand-in browser, when Node is here), its CSP sources,
and where it goes in a kit's page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from typing import Any

import pytest

from leadkit.errors import ConfigError
from leadkit.pixels import (CLICK_KEYS, MAX_VISIT_IDS, PLATFORMS, Pixels, PixelsConfig, csp_sources, inject,
                            is_pixel_id, pixels_for, snippet, visit_pixels)

FB, FB16 = "123456789012345", "1234567890123456"
TT = "C4ABCDEFGHIJKLMNOPQR"
AW, GA = "AW-123456789/AbC-dEf_123", "G-ABC123XYZ9"
YM = "12345678"
HOSTILE = '</script><script>alert(1)</script>'
NODE = shutil.which("node") or shutil.which("nodejs")


# -- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "value", "valid"), [
    pytest.param("facebook", FB, True, id="facebook-15-digits"),
    pytest.param("facebook", FB16, True, id="facebook-16-digits"),
    pytest.param("facebook", "12345678901234", False, id="facebook-too-short"),
    pytest.param("facebook", "12345678901234567", False, id="facebook-too-long"),
    pytest.param("facebook", '123"><script>', False, id="facebook-markup"),
    pytest.param("facebook", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥", False, id="facebook-arabic-digits"),
    pytest.param("facebook", FB + "\n", False, id="facebook-trailing-newline"),
    pytest.param("facebook", "", False, id="facebook-empty"),
    pytest.param("tiktok", TT, True, id="tiktok-20"),
    pytest.param("tiktok", "CABCDEFGHIJ123456789", True, id="tiktok-digits"),
    pytest.param("tiktok", TT.lower(), False, id="tiktok-lower-case"),
    pytest.param("tiktok", TT[:19], False, id="tiktok-too-short"),
    pytest.param("tiktok", TT + "S", False, id="tiktok-too-long"),
    pytest.param("tiktok", '123"><script>', False, id="tiktok-markup"),
    pytest.param("google", AW, True, id="google-ads-conversion"),
    pytest.param("google", "AW-12345678901/x", True, id="google-ads-11-digits"),
    pytest.param("google", GA, True, id="google-ga4"),
    pytest.param("google", "G-ABCD", True, id="google-ga4-4"),
    pytest.param("google", "AW-123456789", False, id="google-ads-without-label"),
    pytest.param("google", "AW-12345678/label", False, id="google-ads-too-short"),
    pytest.param("google", "AW-123456789012/label", False, id="google-ads-too-long"),
    pytest.param("google", "AW-123456789/la bel", False, id="google-ads-label-space"),
    pytest.param("google", "AW-123456789/a'b", False, id="google-ads-label-quote"),
    pytest.param("google", "G-abc123", False, id="google-ga4-lower-case"),
    pytest.param("google", "G-ABC", False, id="google-ga4-too-short"),
    pytest.param("google", "G-ABCDEFGHIJKLM", False, id="google-ga4-too-long"),
    pytest.param("google", "UA-12345-1", False, id="google-universal-analytics"),
    pytest.param("google", '123"><script>', False, id="google-markup"),
    pytest.param("yandex", YM, True, id="yandex-8"),
    pytest.param("yandex", "12345", True, id="yandex-5"),
    pytest.param("yandex", "1234567890", True, id="yandex-10"),
    pytest.param("yandex", "1234", False, id="yandex-too-short"),
    pytest.param("yandex", "12345678901", False, id="yandex-too-long"),
    pytest.param("yandex", '123"><script>', False, id="yandex-markup"),
    pytest.param("snapchat", FB, False, id="unknown-platform"),
])
def test_is_pixel_id(platform: str, value: str, valid: bool) -> None:
    assert is_pixel_id(platform, value) is valid


# -- the settings ------------------------------------------------------------------------------


def test_config_defaults_are_off() -> None:
    config = PixelsConfig()
    assert (config.facebook, config.tiktok, config.google, config.yandex, config.params) == ((), (), (), (), {})
    assert (config.yandex_goal, config.facebook_event, config.tiktok_event, config.google_event) == \
        ("lead", "Lead", "SubmitForm", "generate_lead")
    assert pixels_for(config, {}).empty
    assert [s.id for s in PixelsConfig.settings] == [f"leadkit.E{n}" for n in range(140, 149)]
    assert all(s.doc and "\n" not in s.doc for s in PixelsConfig.settings)


def test_config_keeps_ids_normalized() -> None:
    given: dict[str, Any] = {"facebook": [FB, int(FB16), FB], "yandex": [int(YM)], "google": [AW, GA],
                             "tiktok": [f" {TT} "], "params": {"facebook": "fbpix", "yandex": "ym_id"}}
    config = PixelsConfig(**given)  # as TOML gives them: lists, numbers
    assert config.facebook == (FB, FB16)
    assert config.yandex == (YM,)
    assert config.google == (AW, GA)
    assert config.tiktok == (TT,)
    assert config.params == {"facebook": "fbpix", "yandex": "ym_id"}


@pytest.mark.parametrize(("values", "key", "fragments"), [
    pytest.param({"facebook": ['123"><script>']}, "pixels.facebook", ["Meta pixel ids", "15 or 16 digits", "<script>"],
                 id="facebook-markup"),
    pytest.param({"facebook": "123456789012345"}, "pixels.facebook", ["must be a list", "15 or 16 digits"],
                 id="facebook-not-a-list"),
    pytest.param({"tiktok": [TT.lower()]}, "pixels.tiktok", ["20 upper-case letters and digits"], id="tiktok-lower"),
    pytest.param({"tiktok": [12345678901234567890]}, "pixels.tiktok", ["TikTok pixel codes"], id="tiktok-number"),
    pytest.param({"google": ["AW-123456789"]}, "pixels.google", ["'AW-'", "'G-'", "label"], id="google-no-label"),
    pytest.param({"yandex": ["1234"]}, "pixels.yandex", ["5 to 10 digits", "'1234'"], id="yandex-short"),
    pytest.param({"yandex": [True]}, "pixels.yandex", ["5 to 10 digits"], id="yandex-bool"),
    pytest.param({"yandex_goal": "a/b"}, "pixels.yandex_goal", ["Metrica goal id"], id="goal-slash"),
    pytest.param({"params": {"facebok": "fbpix"}}, "pixels.params.facebok", ["no platform", "did you mean 'facebook'"],
                 id="params-unknown-platform"),
    pytest.param({"params": {"facebook": "fb-pix"}}, "pixels.params.facebook", ["URL parameter name", "'fb-pix'"],
                 id="params-bad-name"),
    pytest.param({"params": {"facebook": "px", "tiktok": "px"}}, "pixels.params.tiktok", ["two platforms"],
                 id="params-shared-name"),
    pytest.param({"params": ["fbpix"]}, "pixels.params", ["must be a table"], id="params-not-a-table"),
    pytest.param({"facebook_event": "Lead<"}, "pixels.facebook_event", ["event name"], id="facebook-event"),
    pytest.param({"tiktok_event": ""}, "pixels.tiktok_event", ["event name"], id="tiktok-event-empty"),
    pytest.param({"google_event": "x" * 41}, "pixels.google_event", ["GA4 event name"], id="google-event-long"),
])
def test_config_refuses_naming_the_key(values: dict[str, Any], key: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        PixelsConfig(**values)
    [problem] = info.value.problems
    assert problem.key == key
    assert problem.message.startswith(key + " ")
    for fragment in fragments:
        assert fragment in problem.message


# -- a visit's pixels --------------------------------------------------------------------------

PARAMS = {"facebook": "fbpix", "tiktok": "ttpix", "google": "gpix", "yandex": "ympix"}


@pytest.mark.parametrize(("pairs", "clicks", "refused"), [
    pytest.param([("fbpix", FB)], {"pixel_facebook": FB}, [], id="one"),
    pytest.param([("fbpix", f"{FB},{FB16}"), ("ttpix", TT)], {"pixel_facebook": f"{FB},{FB16}", "pixel_tiktok": TT},
                 [], id="comma-separated"),
    pytest.param([("fbpix", FB), ("fbpix", FB16)], {"pixel_facebook": f"{FB},{FB16}"}, [], id="repeated-parameter"),
    pytest.param([("fbpix", f" {FB} , {FB},")], {"pixel_facebook": FB}, [], id="spaces-repeats-empty-pieces"),
    pytest.param([("gpix", f"{AW},{GA}"), ("ympix", YM)], {"pixel_google": f"{AW},{GA}", "pixel_yandex": YM}, [],
                 id="google-yandex"),
    pytest.param([("fbpix", '123"><script>')], {}, [("facebook", repr('123"><script>'))], id="markup-refused"),
    pytest.param([("ttpix", TT.lower()), ("ttpix", TT)], {"pixel_tiktok": TT}, [("tiktok", repr(TT.lower()))],
                 id="bad-and-good"),
    pytest.param([("fbpix", ",".join(str(10 ** 14 + n) for n in range(5)))],
                 {"pixel_facebook": ",".join(str(10 ** 14 + n) for n in range(MAX_VISIT_IDS))},
                 [("facebook", repr(str(10 ** 14 + n))) for n in range(MAX_VISIT_IDS, 5)], id="at-most-three"),
    pytest.param([("utm_source", "fb"), ("FBPIX", FB), ("pixel_facebook", FB)], {}, [], id="other-parameters"),
    pytest.param([("fbpix", "x" * 500)], {}, [("facebook", repr("x" * 500)[:60])], id="refused-cut-to-60"),
])
def test_visit_pixels(pairs: list[tuple[str, str]], clicks: dict[str, str], refused: list[tuple[str, str]]) -> None:
    assert visit_pixels(pairs, PARAMS) == (clicks, refused)


def test_visit_pixels_without_params_takes_none() -> None:
    assert visit_pixels([("fbpix", FB)], {}) == ({}, [])


def test_visit_pixels_refuses_a_bounded_number() -> None:
    clicks, refused = visit_pixels([("fbpix", "x," * 10000)], PARAMS)
    assert clicks == {}
    assert 0 < len(refused) <= 10


def test_click_keys() -> None:
    assert dict(CLICK_KEYS) == {p: f"pixel_{p}" for p in PLATFORMS}


# -- a lead's pixels ---------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "clicks", "expected"), [
    pytest.param({}, {}, Pixels(), id="nothing"),
    pytest.param({"facebook": [FB]}, {}, Pixels(facebook=(FB,)), id="config-only"),
    pytest.param({}, {"pixel_tiktok": TT}, Pixels(tiktok=(TT,)), id="visit-only"),
    pytest.param({"facebook": [FB]}, {"pixel_facebook": f"{FB16},{FB}"}, Pixels(facebook=(FB, FB16)),
                 id="config-first-no-repeats"),
    pytest.param({}, {"pixel_facebook": '123"><script>,' + FB}, Pixels(facebook=(FB,)), id="journal-revalidated"),
    pytest.param({}, {"pixel_google": f"{GA},AW-1/x,{AW}", "pixel_yandex": "1234,99999"},
                 Pixels(google=(GA, AW), yandex=("99999",)), id="google-yandex"),
    pytest.param({}, {"pixel_facebook": ",".join(str(10 ** 14 + n) for n in range(6))},
                 Pixels(facebook=tuple(str(10 ** 14 + n) for n in range(MAX_VISIT_IDS))), id="at-most-three"),
    pytest.param({}, {"pixel_facebook": 123456789012345, "pixel_snap": FB}, Pixels(), id="not-text-unknown-key"),
])
def test_pixels_for(config: dict[str, Any], clicks: dict[str, Any], expected: Pixels) -> None:
    assert pixels_for(PixelsConfig(**config), clicks) == expected


def test_pixels_platforms_and_empty() -> None:
    pixels = Pixels(google=(GA,), facebook=(FB,))
    assert pixels.platforms == ("facebook", "google")
    assert not pixels.empty
    assert Pixels().empty and Pixels().platforms == ()
    assert pixels.ids("google") == (GA,) and pixels.ids("snapchat") == ()


def test_pixels_refuses_an_id_out_of_format() -> None:
    with pytest.raises(ValueError, match="Meta pixel ids"):
        Pixels(facebook=('123"><script>',))


# -- the snippet -------------------------------------------------------------------------------

ALL = Pixels(facebook=(FB, FB16), tiktok=(TT,), google=(AW, GA), yandex=(YM,))
CONFIG = PixelsConfig()


class _Elements(HTMLParser):
    """What a browser-like tokenizer makes of a snippet: its elements' start tags and the scripts' text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def test_snippet_empty_for_no_pixels() -> None:
    assert snippet(Pixels(), CONFIG, event_id="17", nonce="abc") == ""


def test_snippet_refuses_an_empty_event_id() -> None:
    with pytest.raises(ValueError, match="event id"):
        snippet(ALL, CONFIG, event_id="", nonce=None)


@pytest.mark.parametrize(("pixels", "calls"), [
    pytest.param(Pixels(facebook=(FB,)), [
        'w.fbq("init", "123456789012345");',
        'w.fbq("trackSingle", "123456789012345", "Lead", {}, {eventID: eventId});',
        "https://connect.facebook.net/en_US/fbevents.js"], id="facebook"),
    pytest.param(Pixels(tiktok=(TT,)), [
        f'w.ttq.load("{TT}");', f'w.ttq.instance("{TT}").track("SubmitForm", {{}}, {{event_id: eventId}});',
        "https://analytics.tiktok.com/i18n/pixel/events.js"], id="tiktok"),
    pytest.param(Pixels(google=(AW, GA)), [
        'load("https://www.googletagmanager.com/gtag/js?id=AW-123456789");',
        'w.gtag("config", "AW-123456789");', f'w.gtag("config", "{GA}");',
        f'w.gtag("event", "conversion", {{send_to: "{AW}", transaction_id: eventId}});',
        f'w.gtag("event", "generate_lead", {{send_to: "{GA}", transaction_id: eventId}});'], id="google"),
    pytest.param(Pixels(google=(GA,)), [
        f'load("https://www.googletagmanager.com/gtag/js?id={GA}");'], id="google-ga4-loads-its-own-tag"),
    pytest.param(Pixels(yandex=(YM,)), [
        'w.ym(12345678, "init", {', 'w.ym(12345678, "reachGoal", "lead", {order_id: eventId});',
        "https://mc.yandex.ru/metrika/tag.js"], id="yandex"),
])
def test_snippet_fires_each_platform_with_the_event_id(pixels: Pixels, calls: list[str]) -> None:
    html = snippet(pixels, CONFIG, event_id="4711", nonce="n0nce")
    [script] = elements(html).scripts
    assert 'var eventId = "4711"' in script
    for call in calls:
        assert call in script
    assert script.count("note(\"") == sum(len(pixels.ids(platform)) for platform in PLATFORMS)
    for other in set(PLATFORMS) - set(pixels.platforms):
        assert f'note("{other}"' not in script


def test_snippet_event_names_from_config() -> None:
    config = PixelsConfig(facebook_event="CompleteRegistration", tiktok_event="Contact", google_event="sign_up",
                          yandex_goal="order.ok")
    html = snippet(ALL, config, event_id="9", nonce=None)
    for fragment in ('"CompleteRegistration", {}, {eventID: eventId}', 'track("Contact", {}',
                     f'w.gtag("event", "sign_up", {{send_to: "{GA}"', '"reachGoal", "order.ok"',
                     "ev=CompleteRegistration"):
        assert fragment in html


@pytest.mark.parametrize("nonce", ["r4nd0m", 'a"b<c>&'])
def test_snippet_nonce_on_every_script(nonce: str) -> None:
    found = elements(snippet(ALL, CONFIG, event_id="1", nonce=nonce))
    scripts = [attrs for tag, attrs in found.tags if tag == "script"]
    assert scripts and all(attrs.get("nonce") == nonce for attrs in scripts)
    assert [tag for tag, _ in found.tags] == ["script", "noscript", "img", "img"]


def test_snippet_without_nonce_has_no_nonce_attribute() -> None:
    html = snippet(ALL, CONFIG, event_id="1", nonce=None)
    assert "nonce" not in html
    assert html.startswith("<script>\n")


@pytest.mark.parametrize("event_id", [
    pytest.param(HOSTILE, id="script-breakout"),
    pytest.param("<!--<script>", id="comment-open"),
    pytest.param('"; alert(1); "', id="string-breakout"),
    pytest.param("a\u2028b\u2029c", id="line-separators"),
    pytest.param("x&amp;</SCRIPT >", id="entities-upper-case-end-tag"),
])
def test_snippet_hostile_event_id_stays_a_string(event_id: str) -> None:
    html = snippet(ALL, CONFIG, event_id=event_id, nonce="n")
    found = elements(html)
    assert [tag for tag, _ in found.tags] == ["script", "noscript", "img", "img"], "no element added"
    [script] = found.scripts
    assert len(re.findall(r"</script", html, re.IGNORECASE)) == 1
    assert "<!--" not in script and "<script" not in script.lower()
    assert "\u2028" not in html and "\u2029" not in html
    declared = re.search(r"var eventId = (\"(?:[^\"\\]|\\.)*\"), key", script)
    assert declared and json.loads(declared.group(1)) == event_id
    imgs = [attrs["src"] for tag, attrs in found.tags if tag == "img"]
    assert all(src and src.startswith("https://www.facebook.com/tr?id=") and "noscript=1" in src for src in imgs)


def test_snippet_noscript_images_for_facebook_only() -> None:
    html = snippet(ALL, CONFIG, event_id="17", nonce=None)
    assert html.count("<img") == 2
    assert (f'src="https://www.facebook.com/tr?id={FB}&amp;ev=Lead&amp;eid=17&amp;noscript=1"') in html
    assert "<noscript>" not in snippet(Pixels(tiktok=(TT,)), CONFIG, event_id="17", nonce=None)


def test_snippet_guard_key_and_listing() -> None:
    script = snippet(ALL, CONFIG, event_id="17", nonce=None)
    assert 'key = "leadkit_px_" + eventId' in script
    assert "localStorage.getItem(key)" in script and "localStorage.setItem(key" in script
    assert "w.leadkitPixels = w.leadkitPixels || []" in script


# -- the snippet run in Node.js, against a stand-in browser ------------------------------------

# A window with document and localStorage enough for the snippet; each run of `code` is one page
# load in a new window sharing the browser's storage. Prints what each load fired and queued.
_BROWSER = r"""
const vm = require("vm");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const stored = new Map();
const storage = input.storage === "refused" ?
  {getItem() { throw new Error("SecurityError"); }, setItem() { throw new Error("SecurityError"); }} :
  {getItem: (k) => stored.has(k) ? stored.get(k) : null, setItem: (k, v) => { stored.set(k, String(v)); }};
const plain = (value) => JSON.parse(JSON.stringify(value, (k, v) =>
  v && typeof v === "object" && typeof v.length === "number" && !Array.isArray(v) ? Array.from(v) : v));
function page() {
  const loaded = [];
  const head = {appendChild: (s) => loaded.push(s.src)};
  const document = {head, documentElement: head, createElement: () => ({}),
                    getElementsByTagName: () => [{parentNode: {insertBefore: (s) => loaded.push(s.src)}}]};
  const window = {document, localStorage: storage};
  window.window = window;
  vm.createContext(window);
  return {window, loaded};
}
const loads = [];
for (const runs of input.loads) {
  const {window, loaded} = page();
  for (let i = 0; i < runs; i++) vm.runInContext(input.code, window);
  const ttq = window.ttq;
  loads.push({
    fired: plain(window.leadkitPixels), loaded,
    fbq: window.fbq && window.fbq.queue ? plain(window.fbq.queue) : null,
    ttq: ttq ? Object.fromEntries(Object.entries(ttq._i || {}).map(([id, q]) => [id, plain(Array.from(q))])) : null,
    dataLayer: window.dataLayer ? plain(window.dataLayer).filter((a) => a[0] !== "js") : null,
    ym: window.ym ? plain(window.ym.a) : null,
  });
}
process.stdout.write(JSON.stringify(loads));
"""


def run_in_node(pixels: Pixels, event_id: str, loads: list[int], storage: str = "kept") -> list[dict[str, Any]]:
    if NODE is None:
        pytest.skip("Node.js is not installed: the snippet is not run (`make system-deps` installs it)")
    [code] = elements(snippet(pixels, CONFIG, event_id=event_id, nonce="n")).scripts
    done = subprocess.run([NODE, "-e", _BROWSER], input=json.dumps({"code": code, "loads": loads, "storage": storage}),
                          capture_output=True, text=True, timeout=60, check=True)
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def test_snippet_runs_and_fires_each_event_once_with_the_event_id() -> None:
    [load] = run_in_node(ALL, HOSTILE, [1])
    assert load["fired"] == [
        {"platform": "facebook", "id": FB, "event": "Lead", "eventId": HOSTILE},
        {"platform": "facebook", "id": FB16, "event": "Lead", "eventId": HOSTILE},
        {"platform": "tiktok", "id": TT, "event": "SubmitForm", "eventId": HOSTILE},
        {"platform": "google", "id": AW, "event": "conversion", "eventId": HOSTILE},
        {"platform": "google", "id": GA, "event": "generate_lead", "eventId": HOSTILE},
        {"platform": "yandex", "id": YM, "event": "lead", "eventId": HOSTILE},
    ]
    assert load["loaded"] == ["https://connect.facebook.net/en_US/fbevents.js",
                              f"https://analytics.tiktok.com/i18n/pixel/events.js?sdkid={TT}&lib=ttq",
                              "https://www.googletagmanager.com/gtag/js?id=AW-123456789",
                              "https://mc.yandex.ru/metrika/tag.js"]
    assert load["fbq"] == [["init", FB], ["init", FB16], ["trackSingle", FB, "PageView"],
                           ["trackSingle", FB, "Lead", {}, {"eventID": HOSTILE}], ["trackSingle", FB16, "PageView"],
                           ["trackSingle", FB16, "Lead", {}, {"eventID": HOSTILE}]]
    assert load["ttq"] == {TT: [["page"], ["track", "SubmitForm", {}, {"event_id": HOSTILE}]]}
    assert load["dataLayer"] == [["config", "AW-123456789"], ["config", GA],
                                 ["event", "conversion", {"send_to": AW, "transaction_id": HOSTILE}],
                                 ["event", "generate_lead", {"send_to": GA, "transaction_id": HOSTILE}]]
    assert load["ym"] == [[int(YM), "init", {"clickmap": True, "trackLinks": True, "accurateTrackBounce": True}],
                          [int(YM), "reachGoal", "lead", {"order_id": HOSTILE}]]


@pytest.mark.parametrize(("loads", "storage", "fired"), [
    pytest.param([2], "kept", [1], id="twice-in-one-page"),
    pytest.param([1, 1], "kept", [1, 0], id="page-served-again"),
    pytest.param([2], "refused", [1], id="storage-refused-twice-in-one-page"),
    pytest.param([1, 1], "refused", [1, 1], id="storage-refused-page-served-again"),
])
def test_snippet_fires_an_event_id_once_per_browser(loads: list[int], storage: str, fired: list[int]) -> None:
    results = run_in_node(Pixels(facebook=(FB,)), "17", loads, storage)
    assert [len(load["fired"]) for load in results] == fired
    assert [len(load["fbq"] or []) for load in results] == [3 * n for n in fired]


def test_snippet_keeps_firing_the_other_platforms_when_one_fails() -> None:
    if NODE is None:
        pytest.skip("Node.js is not installed")
    [code] = elements(snippet(Pixels(facebook=(FB,), yandex=(YM,)), CONFIG, event_id="5", nonce=None)).scripts
    broken = "window.fbq = function () { throw new Error('blocked'); };\n" + code
    done = subprocess.run([NODE, "-e", _BROWSER], input=json.dumps({"code": broken, "loads": [1], "storage": "kept"}),
                          capture_output=True, text=True, timeout=60, check=True)
    [load] = json.loads(done.stdout)
    assert [each["platform"] for each in load["fired"]] == ["yandex"]


# -- CSP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pixels", "present", "absent"), [
    pytest.param(Pixels(facebook=(FB,)), {"script-src": ["https://connect.facebook.net"],
                                          "img-src": ["https://www.facebook.com"],
                                          "connect-src": ["https://www.facebook.com"]},
                 ["frame-src"], id="facebook"),
    pytest.param(Pixels(tiktok=(TT,)), {"script-src": ["https://analytics.tiktok.com"],
                                        "connect-src": ["https://analytics.tiktok.com"]}, ["frame-src"], id="tiktok"),
    pytest.param(Pixels(google=(GA,)), {"script-src": ["https://www.googletagmanager.com"],
                                        "connect-src": ["https://*.google-analytics.com",
                                                        "https://*.analytics.google.com"],
                                        "img-src": ["https://*.google-analytics.com"]},
                 ["frame-src"], id="google-ga4"),
    pytest.param(Pixels(google=(AW,)), {"script-src": ["https://www.googletagmanager.com",
                                                       "https://www.googleadservices.com"],
                                        "img-src": ["https://googleads.g.doubleclick.net", "https://www.google.com"],
                                        "frame-src": ["https://td.doubleclick.net"]}, [], id="google-ads"),
    pytest.param(Pixels(yandex=(YM,)), {"script-src": ["https://mc.yandex.ru", "https://yastatic.net"],
                                        "img-src": ["https://mc.yandex.ru", "https://mc.yandex.com"],
                                        "connect-src": ["https://mc.yandex.ru", "https://mc.yandex.com"]}, [],
                 id="yandex"),
])
def test_csp_sources_per_platform(pixels: Pixels, present: dict[str, list[str]], absent: list[str]) -> None:
    sources = csp_sources(pixels)
    for directive, wanted in present.items():
        assert set(wanted) <= set(sources[directive])
    for directive in absent:
        assert directive not in sources
    assert set(sources) <= {"script-src", "img-src", "connect-src", "frame-src"}
    assert all(len(set(values)) == len(values) and values for values in sources.values())
    others = {"facebook": "facebook", "tiktok": "tiktok", "google": "google", "yandex": "yandex"}
    for platform in set(PLATFORMS) - set(pixels.platforms):
        assert not any(others[platform] in source for values in sources.values() for source in values)


def test_csp_sources_ga4_only_has_no_ads_hosts() -> None:
    sources = csp_sources(Pixels(google=(GA,)))
    assert not any("googleadservices" in s or "googlesyndication" in s for v in sources.values() for s in v)


def test_csp_sources_nothing_for_no_pixels() -> None:
    assert csp_sources(Pixels()) == {}


def test_csp_sources_merge_without_repeats() -> None:
    sources = csp_sources(ALL)
    assert list(sources) == ["script-src", "img-src", "connect-src", "frame-src"]
    assert sources["img-src"].count("https://www.google.com") == 1


# -- a kit's page ------------------------------------------------------------------------------

SNIPPET = "<script>fire()</script>"


@pytest.mark.parametrize(("page", "expected"), [
    pytest.param("<html><head><title>t</title></head><body>ok</body></html>",
                 f"<html><head><title>t</title>{SNIPPET}</head><body>ok</body></html>", id="before-head-end"),
    pytest.param("<HTML><HEAD></HEAD ><BODY></BODY></HTML>", f"<HTML><HEAD>{SNIPPET}</HEAD ><BODY></BODY></HTML>",
                 id="upper-case"),
    pytest.param("<p>thanks</p></body></html>", f"<p>thanks</p>{SNIPPET}</body></html>", id="before-body-end"),
    pytest.param("<p>thanks</p>", f"<p>thanks</p>{SNIPPET}", id="appended"),
    pytest.param("", SNIPPET, id="empty-page"),
    pytest.param('<head><script>var s = "</head>";</script><!-- </head> --></head>',
                 f'<head><script>var s = "</head>";</script><!-- </head> -->{SNIPPET}</head>',
                 id="not-inside-script-or-comment"),
    pytest.param("<head></head><body></head></body>", f"<head>{SNIPPET}</head><body></head></body>", id="first-one"),
])
def test_inject(page: str, expected: str) -> None:
    assert inject(page, SNIPPET) == expected
