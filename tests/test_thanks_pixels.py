"""The thank-you page's ad pixels, end to end over real loopback sockets: ``leadkit serve`` in its own
process, the sandbox network upstream, and a customer in headless Chromium or over plain HTTP.

- leadkit's own thank-you page (``network.prefer_thanks``): a visit bought with ``?fbpix=...`` orders
  through the landing's form; the page fires one Lead event per pixel, configured and per-visit, with
  the lead id as its event id, and its Content-Security-Policy lets the pixel's script in; a reload,
  the back and forward buttons fire nothing again, and the policy no longer names the pixel's host.
- A pixel id in the link that is not one (``123"><script>...``) reaches no page, no header and no
  cookie, and the server's log says it was refused; a valid id given beside it fires all the same.
- A landing kit's own thank-you page gets the snippet before its ``</head>`` the first time only,
  without a CSP of leadkit's, every other byte as the kit wrote it.

The pixels' scripts come from the internet, which a test never reaches: the browser is told to
refuse every request to the platforms' hosts (DevTools' ``Network.setBlockedURLs``), at once, as an
unreachable network would (so no page load waits on them). The platforms' queues (``fbq``) are
local, and ``window.leadkitPixels`` lists what fired. CSP is read in the browser: a
``securitypolicyviolation`` listener, installed before the page's own scripts, records every
violation with the policy it broke; a probe script from a host no policy allows (and no block list
names: Chromium checks its block list before CSP) makes one on purpose, to read the policy the page
was served with.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import closing, contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from leadkit.journal import Entry, SQLiteJournal
from leadkit.testing.sandbox import SandboxNetwork
from browsers import MISSING, WAIT, chromium
from servers import leadkit_process, server_log
from support import KEY, SECRET

#: Why the browser tests cannot run, or None; the HTTP tests run without Selenium.
SELENIUM: str | None = None
try:
    from selenium.common.exceptions import (JavascriptException, NoSuchElementException,
                                            StaleElementReferenceException, WebDriverException)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    WebDriver = Any  # type: ignore[misc, assignment]
    SELENIUM = "selenium is not installed: `.venv/bin/pip install selenium` runs the browser tests"

ROOT = Path(__file__).resolve().parent.parent
LANDING = ROOT / "examples" / "standalone" / "landing"  # a landing of Jinja pages with leadkit's form
KIT = Path(__file__).resolve().parent / "kits" / "multi-geo"  # a kit as downloaded; confirm.html thanks

PIXEL = "123456789012345"  # [pixels] facebook
VISIT_PIXEL = "987654321098765"  # the visit's own, ?fbpix=
HOSTILE = '123"><script>alert(1)</script>'
#: The hostile id as any page, header or URL could carry it: as written, HTML- or JS-escaped (its
#: ``alert(1)`` stays), percent-encoded once or twice.
HOSTILE_TRACES = (HOSTILE, "alert(1)", quote("alert(1)"), quote(quote("alert(1)")), "<script>alert")

needs_browser = pytest.mark.skipif(MISSING is not None or SELENIUM is not None, reason=MISSING or SELENIUM or "")


# -- the server ----------------------------------------------------------------------------------------


def write_config(folder: Path, api: str, pages: Path, *, offer: str, site: str = "") -> Path:
    """One landing, its thank-you page at the end of every order (``prefer_thanks``: not the sandbox's
    autologin page), one configured Meta pixel and the per-visit ones of ``?fbpix=``."""
    config = folder / "leadkit.toml"
    config.write_text(f"""
[network]
api = {json.dumps(api)}
role = "wm"
dialect = "dalead"
timeout = 5
prefer_thanks = true

[offer]
offer = 217
flow = 42
{offer}

[site]
pages = {json.dumps(str(pages))}
min_fill_seconds = 0  # WebDriver types at once; the fill time is tested in test_hardening.py
{site}

[journal]
path = {json.dumps(str(folder / "journal" / "leadkit.db"))}

[pixels]
facebook = ["{PIXEL}"]
params = {{ facebook = "fbpix" }}
""")
    return config


def landing_config(folder: Path, api: str) -> Path:
    """The standalone example's landing: Jinja pages holding leadkit's order form."""
    shutil.copytree(LANDING, folder / "landing")
    return write_config(folder, api, folder / "landing", offer='country = "kz"\nlanguage = "en"',
                        site='jinja = ["*.html"]')


def kit_config(folder: Path, api: str) -> Path:
    """The multi-geo kit as downloaded: its form posts to itself, ``confirm.html`` thanks."""
    shutil.copytree(KIT, folder / "kit")
    return write_config(folder, api, folder / "kit", offer='country = "es"\ncountries = ["es", "pt", "it"]',
                        site='thanks = "confirm.html"')


@contextmanager
def serve(config: Path) -> Iterator[tuple[str, Any]]:
    """``leadkit serve`` for ``config``; yields (base URL, process). Its log is printed at the end
    (pytest shows it for a failing test)."""
    with leadkit_process("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                         env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}) as (base, process):
        try:
            yield base, process
        finally:
            print(f"--- leadkit serve log ---\n{server_log(process)[-6000:]}")


def the_lead(folder: Path) -> Entry:
    """The one lead of the server's journal, as it is now."""
    with closing(SQLiteJournal(folder / "journal" / "leadkit.db")) as journal:
        (entry,) = journal.entries()
        return entry


# -- a customer over plain HTTP -------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The first form with a phone field: its action and what the browser would post."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str], bool]] = []
        self._inside = False
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = True
            self.forms.append((values.get("action", ""), {}, False))
        elif not self._inside or not self.forms:
            return
        action, fields, phone = self.forms[-1]
        if tag in ("input", "textarea") and values.get("name"):
            if values.get("type") not in ("submit", "button", "checkbox", "radio"):
                fields[values["name"]] = values.get("value", "")
            phone = phone or values.get("type") == "tel" or values["name"] == "phone"
        elif tag == "select":
            self._select = values.get("name")
        elif tag == "option" and self._select and (self._select not in fields or "selected" in values):
            fields[self._select] = values.get("value", "")
        self.forms[-1] = (action, fields, phone)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None


def order_form(page: str) -> tuple[str, dict[str, str]]:
    reader = _FormReader()
    reader.feed(page)
    action, fields, _ = next(form for form in reader.forms if form[2])
    return action, fields


def customer(base: str) -> requests.Session:
    """A browser-like session: it sends the site's Origin with each post, as browsers do."""
    session = requests.Session()
    session.headers.update({"Origin": base.rstrip("/"), "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) pixel-test"})
    return session


def order(session: requests.Session, page_url: str, **typed: str) -> requests.Response:
    """Load the landing at ``page_url`` and send its order form with ``typed``; the answer, not followed."""
    landing = session.get(page_url, timeout=10)
    assert landing.status_code == 200, landing.status_code
    action, fields = order_form(landing.text)
    return session.post(urljoin(page_url, action), data={**fields, **typed}, allow_redirects=False, timeout=15)


def traces_of_hostile(response: requests.Response) -> list[str]:
    """Where the hostile id shows in ``response``: its body, a header, or what its cookies carry."""
    found = [f"body: {trace!r}" for trace in HOSTILE_TRACES if trace in response.text]
    for name, value in response.headers.items():
        found += [f"{name}: {trace!r}" for trace in HOSTILE_TRACES if trace in value]
    for cookie in response.cookies:
        # The cookie's payload read whatever its signature (the salt is leadkit's business).
        _, carried = URLSafeTimedSerializer("any").loads_unsafe(cookie.value or "")
        found += [f"cookie {cookie.name}: {trace!r}" for trace in HOSTILE_TRACES if trace in json.dumps(carried)]
    return found


# -- a customer in Chromium --------------------------------------------------------------------------


#: Installed before any page's own script: every CSP violation, with the policy it broke.
CSP_RECORDER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI, policy: e.originalPolicy});
});
"""
#: A host no policy names: a script from it is refused wherever there is a policy.
PROBE = "https://csp-probe.invalid/probe.js"
#: The ad platforms' hosts, which the browser refuses to reach (a test reaches no internet).
PLATFORM_HOSTS = ("*.facebook.net/*", "*.facebook.com/*", "*.tiktok.com/*", "*.tiktokw.us/*", "*.google.com/*",
                  "*.googletagmanager.com/*", "*.google-analytics.com/*", "*.doubleclick.net/*",
                  "*.googleadservices.com/*", "*.yandex.ru/*", "*.yastatic.net/*")


@pytest.fixture()
def browser() -> Iterator[WebDriver]:
    """A fresh headless Chromium that reaches no ad platform (refused at once) and records CSP violations."""
    with chromium() as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(PLATFORM_HOSTS)})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_RECORDER})
        yield driver


def waiting(driver: WebDriver) -> WebDriverWait:
    """A wait that looks again when the page changed under it."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException, JavascriptException,
                                                           NoSuchElementException, WebDriverException))


def fired(driver: WebDriver) -> list[dict[str, str]] | None:
    """``window.leadkitPixels`` of the page shown: the events its pixels fired (None: no snippet ran)."""
    return driver.execute_script("return window.leadkitPixels === undefined ? null : window.leadkitPixels")


def policy(driver: WebDriver) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """The CSP of the page shown (it has one), by directive, read from the violation a probe script
    makes; and the violations the page had made before it."""
    before = driver.execute_script("return window.cspViolations.slice()")
    driver.execute_script("var s = document.createElement('script'); s.src = arguments[0]; "
                          "document.head.appendChild(s);", PROBE)
    probed = waiting(driver).until(lambda d: [v for v in d.execute_script("return window.cspViolations")
                                              if v["blocked"].startswith(PROBE)])
    # Forgotten, for a page the back button brings back with its scripts' state (the back-forward cache).
    driver.execute_script("var probe = arguments[0]; window.cspViolations = window.cspViolations.filter("
                          "function (v) { return v.blocked.indexOf(probe) !== 0; })", PROBE)
    directives = (part.split() for part in probed[0]["policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}, before


def refused_in_console(driver: WebDriver) -> list[str]:
    """What the browser's console said CSP refused (``Refused to load...``, or in newer Chromium
    ``Loading the script ... violates the following Content Security Policy directive``), where
    chromedriver keeps the console's log; it empties the log."""
    try:
        entries = driver.get_log("browser")
    except (WebDriverException, AttributeError):  # not every driver keeps it
        return []
    return [entry["message"] for entry in entries
            if "Refused to" in entry["message"] or "Content Security Policy" in entry["message"]]


def on_thanks(path: str) -> Any:
    """A wait's condition: the page at ``path`` is shown, loaded (its pixels' scripts did not hold it up)."""
    return lambda d: urlsplit(d.current_url).path == path and d.execute_script(
        "return document.readyState") == "complete"


# == leadkit's own thank-you page, in Chromium ===========================================================


@needs_browser
def test_the_thank_you_page_fires_each_pixel_once_with_the_lead_id_and_never_again(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with serve(landing_config(tmp_path, network.url)) as (base, process):
        browser.get(f"{base}?utm_source=fb&fbpix={VISIT_PIXEL}")
        browser.find_element(By.NAME, "name").send_keys("Aigerim")
        browser.find_element(By.NAME, "phone").send_keys("8 (700) 123-45-67")
        browser.find_element(By.CSS_SELECTOR, "form.lk-form button[type=submit]").click()
        waiting(browser).until(on_thanks("/leadkit/thanks"))

        lead = the_lead(tmp_path)
        assert lead.clicks.get("pixel_facebook") == VISIT_PIXEL, "the visit's pixel went with the lead"
        assert fired(browser) is not None, browser.page_source[:3000]
        assert sorted((e["platform"], e["id"], e["event"], e["eventId"]) for e in fired(browser)) == [
            ("facebook", PIXEL, "Lead", lead.id), ("facebook", VISIT_PIXEL, "Lead", lead.id)]
        assert browser.execute_script("return localStorage.getItem(arguments[0])", f"leadkit_px_{lead.id}") == "1"
        assert browser.execute_script("return typeof fbq === 'function' && fbq.queue.length > 0"), \
            "the events wait in Meta's queue for fbevents.js"
        assert browser.execute_script(
            "return Array.from(document.scripts).some(function (s) { return s.src.indexOf("
            "'https://connect.facebook.net/') === 0; })"), "the snippet asked for Meta's script"
        console = refused_in_console(browser)
        first, violations = policy(browser)
        assert violations == [] and console == [], "the snippet and its script broke no policy"
        assert "https://connect.facebook.net" in first.get("script-src", []), first
        assert the_lead(tmp_path).thanked is not None

        # Each reload asks the server again; the back and forward buttons may bring the last page back
        # from the back-forward cache, its scripts not run again: either way, nothing fires again.
        for again in ("refresh", "refresh", "refresh", "back and forward"):
            if again == "refresh":
                browser.refresh()
            else:
                browser.back()
                waiting(browser).until(lambda d: urlsplit(d.current_url).path == "/")
                browser.forward()
            waiting(browser).until(on_thanks("/leadkit/thanks"))
            assert not fired(browser), f"{again}: the pixels fired again: {fired(browser)}"
            assert "leadkitPixels" not in browser.page_source, f"{again}: the server sent the snippet again"
            later, violations = policy(browser)
            assert violations == [], again
            assert later.get("script-src") and "https://connect.facebook.net" not in later["script-src"], \
                f"{again}: the policy still lets Meta's script in: {later}"

        # The same page over plain HTTP, with the browser's cookies: its CSP header names no pixel host.
        jar = {c["name"]: c["value"] for c in browser.get_cookies()}
        page = requests.get(base + "leadkit/thanks", cookies=jar, timeout=5)
        assert page.status_code == 200 and "leadkitPixels" not in page.text
        assert "facebook" not in page.headers["Content-Security-Policy"], page.headers["Content-Security-Policy"]
    (accepted,) = network.accepted()
    assert accepted.fields.get("utm_source") == "fb"
    assert VISIT_PIXEL not in json.dumps(accepted.fields), "a pixel id is never sent to the network"


# == a pixel id that is not one, over plain HTTP =========================================================


def csp_directive(response: requests.Response, name: str) -> list[str]:
    """The sources of one directive of the response's Content-Security-Policy header."""
    for part in response.headers.get("Content-Security-Policy", "").split(";"):
        directive, *sources = part.split() or [""]
        if directive == name:
            return sources
    return []


@pytest.mark.parametrize("query", [
    pytest.param([("utm_source", "fb"), ("fbpix", f"{HOSTILE},{VISIT_PIXEL}")], id="in-one-parameter"),
    pytest.param([("utm_source", "fb"), ("fbpix", HOSTILE), ("fbpix", VISIT_PIXEL)], id="parameter-repeated"),
])
def test_a_pixel_id_that_is_not_one_reaches_no_page_and_is_logged_while_a_valid_one_fires(
        tmp_path: Path, network: SandboxNetwork, query: list[tuple[str, str]]) -> None:
    with serve(landing_config(tmp_path, network.url)) as (base, process):
        session = customer(base)
        landing = session.get(base, params=query, timeout=5)
        form = session.get(base + "leadkit/form", params=query, timeout=5)  # the form as a page of its own
        action, fields = order_form(landing.text)
        answer = session.post(urljoin(base, action), data={**fields, "name": "Aigerim", "phone": "8 700 123 45 67"},
                              allow_redirects=False, timeout=15)
        assert (answer.status_code, answer.headers.get("Location")) == (303, "/leadkit/thanks"), answer.text[:2000]
        thanks = session.get(base + "leadkit/thanks", timeout=5)
        again = session.get(base + "leadkit/thanks", params=query, timeout=5)  # the id in its link too
        log = server_log(process)

    for response in (landing, form, answer, thanks, again):
        assert response.status_code in (200, 303), (response.url, response.status_code)
        assert traces_of_hostile(response) == [], response.url
    lead = the_lead(tmp_path)
    assert lead.clicks.get("pixel_facebook") == VISIT_PIXEL, "the valid id is kept, the other never stored"
    assert "alert(1)" not in json.dumps([lead.clicks, lead.tags, lead.payload])
    assert "alert(1)" not in json.dumps([received.fields for received in network.leads])

    fired_for = re.findall(r'w\.fbq\("trackSingle", "(\d+)", "Lead", \{\}, \{eventID: eventId\}\);', thanks.text)
    assert fired_for == [PIXEL, VISIT_PIXEL], thanks.text[:3000]
    assert re.findall(r'var eventId = "(\d+)"', thanks.text) == [lead.id]
    assert "https://connect.facebook.net" in csp_directive(thanks, "script-src"), "the first load lets Meta's script in"
    assert "https://www.facebook.com" in csp_directive(thanks, "img-src"), "and its events out"
    assert "https://www.facebook.com" in csp_directive(thanks, "connect-src")
    assert "leadkitPixels" not in again.text, "once per lead"
    assert csp_directive(again, "script-src") and "https://connect.facebook.net" not in csp_directive(
        again, "script-src"), again.headers["Content-Security-Policy"]

    refused = [line for line in log.splitlines() if "facebook pixel id" in line and repr(HOSTILE) in line]
    assert refused, f"the refused id is not in the server's log:\n{log[-3000:]}"
    assert all("ignored" in line and "WARNING" in line for line in refused), refused


# == a landing kit's own thank-you page ===================================================================


def test_a_kits_own_thank_you_page_gets_the_snippet_before_its_head_end_the_first_time_only(
        tmp_path: Path, network: SandboxNetwork) -> None:
    with serve(kit_config(tmp_path, network.url)) as (base, _):
        session = customer(base)
        answer = order(session, f"{base}?utm_source=fb&fbpix={VISIT_PIXEL}", first_name="María", last_name="García",
                       phone="912 345 678")
        assert (answer.status_code, answer.headers.get("Location")) == (303, "/confirm.html"), answer.text[:2000]
        landing = session.get(base, timeout=5)
        checked = session.head(base + "confirm.html", timeout=5)  # a link checker's HEAD uses nothing up
        first = session.get(base + "confirm.html", timeout=5)
        second = session.get(base + "confirm.html", timeout=5)
        third = session.get(base + "confirm.html", timeout=5)
    lead = the_lead(tmp_path)
    assert "leadkit_px_" not in landing.text, "the kit's other pages get no pixels, and do not use them up"

    written = (KIT / "confirm.html").read_bytes()
    assert second.content == third.content == written, "without the snippet: the page as the kit wrote it"
    at = written.index(b"</head>")
    inserted = first.content[at:len(first.content) - len(written) + at]
    assert first.content == written[:at] + inserted + written[at:], "the snippet, just before </head>, and nothing else"
    assert inserted.startswith(b"<script>\n") and inserted.endswith(b"</noscript>"), "no nonce: the kit has no CSP"
    snippet = inserted.decode("ascii")
    assert re.findall(r'var eventId = "(\d+)"', snippet) == [lead.id]
    assert re.findall(r'note\("facebook", "(\d+)", "Lead"\);', snippet) == [PIXEL, VISIT_PIXEL]
    for response in (first, second, third):
        assert response.status_code == 200
        assert not [name for name in response.headers if name.lower().startswith("content-security-policy")], \
            f"leadkit sent a CSP with the kit's page: {dict(response.headers)}"
    assert first.headers["Content-Type"] == second.headers["Content-Type"] == "text/html; charset=utf-8"
    assert checked.status_code == 200
    assert (first.headers["Cache-Control"], second.headers["Cache-Control"]) == ("no-store", "private, no-cache"), \
        "the copy with the pixels is never shown again from the cache"


@needs_browser
def test_a_kits_own_thank_you_page_fires_each_pixel_once_beside_the_kits_own_pixel(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with serve(kit_config(tmp_path, network.url)) as (base, _):
        browser.get(f"{base}?utm_source=fb&fbpix={VISIT_PIXEL}")
        browser.find_element(By.NAME, "first_name").send_keys("María")
        browser.find_element(By.NAME, "last_name").send_keys("García")
        browser.find_element(By.NAME, "phone").send_keys("912 345 678")
        browser.find_element(By.CSS_SELECTOR, "#order-form button[type=submit]").click()
        waiting(browser).until(on_thanks("/confirm.html"))

        lead = the_lead(tmp_path)
        assert browser.title == "¡Gracias! Pedido confirmado"
        assert sorted((e["platform"], e["id"], e["event"], e["eventId"]) for e in fired(browser) or []) == [
            ("facebook", PIXEL, "Lead", lead.id), ("facebook", VISIT_PIXEL, "Lead", lead.id)], browser.page_source
        assert browser.execute_script("return document.body.dataset.pixel") == "fired", "the kit's own pixel fires too"
        assert browser.execute_script("return window.cspViolations") == [] and refused_in_console(browser) == []
        snippet = browser.execute_script("return Array.from(document.scripts).map(function (s) { return s.text; })"
                                         ".filter(function (t) { return t.indexOf('leadkit_px_') >= 0; })")
        assert len(snippet) == 1

        for again in ("refresh", "refresh", "refresh", "back and forward"):
            if again == "refresh":
                browser.refresh()
            else:
                browser.back()
                waiting(browser).until(lambda d: urlsplit(d.current_url).path == "/")
                browser.forward()
            waiting(browser).until(on_thanks("/confirm.html"))
            assert not fired(browser), f"{again}: the pixels fired again: {fired(browser)}"
            assert "leadkit_px_" not in browser.page_source, f"{again}: the server sent the snippet again"
            assert browser.execute_script("return document.body.dataset.pixel") == "fired", \
                f"{again}: the kit's own script still runs"

        # The snippet shown again for the same lead (a copy of the first page from the browser's cache,
        # where the server is not asked) fires nothing: the browser remembers the lead's event id.
        browser.execute_script("var s = document.createElement('script'); s.text = arguments[0]; "
                               "document.head.appendChild(s);", snippet[0])
        assert browser.execute_script("return window.leadkitPixels") == [], "fired once per lead, in the browser too"
    (accepted,) = network.accepted()
    assert accepted.fields.get("phone") == "34912345678"
