"""Landing kits as affiliates download them from their network (issue 11), served unedited.

``tests/kits/`` holds three kits built the way real ones are: pages, ``css/``, ``js/``, ``img/``,
a PHP script the form posts to (holding an API key: ``KIT-KEY-0f3a9c7e51``), a backfix page and
a thank-you page.

- ``news-pl``: a Polish news-article landing, two order forms posting to ``getform.php`` with
  hidden tag inputs holding the tracker's macros (``{clickid}``, ``{sub1}``, ``{t2}``), a search
  form that is no order form, links of every kind (one inside a script's string, one whose title
  holds a ``>``); a ``domonetka/index.php`` backfix page, an older template saved in windows-1250,
  with a form of its own (``imie``, mapped by ``site.form_aliases``); ``ok.php`` to thank, with a
  tracking pixel.
- ``quiz-sk``: ``index.php`` (no ``index.html``) with PHP echoes, ``<?= ?>``, an ``include`` and
  hidden tag inputs PHP fills in; a Slovak quiz whose last step opens a popup form (``fio``,
  ``telefon``) that jQuery posts to ``order.php``; ``success.html``. jQuery is not committed: the
  test copies it in from ``XStatic-jQuery``.
- ``multi-geo``: a Spanish landing selling in Spain, Portugal and Italy, saved on Windows (CRLF):
  a ``<select name="country">``, a price table in JavaScript, a mustache template (``{{ }}``: no
  Jinja), ``first_name`` + ``last_name``, ``action=""``; ``confirm.html`` with an inline pixel script.

Each kit is put behind ``leadkit serve`` with ``site.pages`` pointing at a copy of it, the sandbox
network upstream, and ordered from as a customer would: plain HTTP (``requests``) for what the
server answers byte for byte, headless Chromium (Selenium, chromedriver, as in test_browser.py)
for what a customer sees. No response any test receives may hold PHP source or the kit's key.
"""

from __future__ import annotations

import html

import difflib
import json
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from leadkit.testing.sandbox import ReceivedLead, SandboxNetwork
from leadkit.texts import Texts
from browsers import MISSING, WAIT, chromium
from servers import leadkit_process, server_log
from support import KEY, SECRET

try:
    from selenium import webdriver
    from selenium.common.exceptions import (JavascriptException, NoSuchElementException,
                                            StaleElementReferenceException, WebDriverException)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # the HTTP tests run without it; the browser tests say why they skip
    webdriver = None  # type: ignore[assignment]

KITS = Path(__file__).resolve().parent / "kits"
KIT_NAMES = ("news-pl", "quiz-sk", "multi-geo")
KIT_KEY = "KIT-KEY-0f3a9c7e51"
VISIT = {"utm_source": "fb", "sub1": "click42", "subid": "sid-7"}
UNTOUCHED_KIT_SCRIPT = """<script>
  document.getElementById('comments-more').innerHTML = "<a href='/x'>Pokaż wszystkie komentarze (248)</a>";
</script>"""


# -- every response a test gets: never PHP source, never the kit's key ----------------------------

_SEEN: list[tuple[str, str]] = []  # (where, text) of every response of the running test


@pytest.fixture(autouse=True)
def no_kit_source_in_any_response(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every HTTP answer a test of this module receives (requests) and every page the browser
    shows (:func:`seen`) is searched for the kit's API key and for PHP source."""
    _SEEN.clear()
    original_send = requests.Session.send

    def watched_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        response = original_send(self, request, **kwargs)
        _SEEN.append((f"{request.method} {request.url} -> {response.status_code}",
                      response.content.decode("utf-8", "replace") + repr(dict(response.headers))))
        return response

    monkeypatch.setattr(requests.Session, "send", watched_send)
    yield
    leaks = [(where, marker) for where, text in _SEEN for marker in (KIT_KEY, "<?php", "<?=", "<!--?php", "<!--?=")
             if marker in text]
    assert not leaks, f"PHP source or the kit's key in a response: {leaks[:5]}"


def seen(driver: WebDriver) -> str:
    """The page the browser shows now, recorded for the check above."""
    source = driver.page_source
    _SEEN.append((f"browser {driver.current_url}", source))
    return source


# -- the kits, their configuration, the server ------------------------------------------------------


def copy_kit(name: str, into: Path) -> Path:
    """A copy of the kit under ``into``; quiz-sk gets jQuery from XStatic-jQuery (not committed)."""
    target = into / name
    shutil.copytree(KITS / name, target)
    if name == "quiz-sk":
        xstatic = pytest.importorskip("xstatic.pkg.jquery", reason="XStatic-jQuery is not installed: "
                                                                   "`.venv/bin/pip install XStatic-jQuery`")
        shutil.copy(Path(xstatic.BASE_DIR) / "jquery.min.js", target / "js" / "jquery.min.js")
    return target


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_config(folder: Path, sections: dict[str, dict[str, Any]], landings: list[dict[str, Any]] = ()) -> Path:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    for landing in landings:
        lines.append("[[landing]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in landing.items()]
        lines.append("")
    config = folder / "leadkit.toml"
    config.write_text("\n".join(lines))
    return config


def kit_sections(folder: Path, api: str, pages: Path, country: str, *, network: dict[str, Any] | None = None,
                 offer: dict[str, Any] | None = None, site: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """A configuration for one kit: offer 217, flow 42 (the session sandbox's), the kit as site.pages,
    no minimum fill time (WebDriver types at once), the journal outside the pages."""
    return {
        "network": {"api": api, "role": "wm", "dialect": "dalead", "timeout": 5, **(network or {})},
        "offer": {"offer": 217, "flow": 42, "country": country, **(offer or {})},
        "site": {"pages": str(pages), "min_fill_seconds": 0, **(site or {})},
        "journal": {"path": str(folder / "journal" / "leadkit.db")},
    }


@contextmanager
def serve(config: Path) -> Iterator[str]:
    """``leadkit serve`` for ``config``, the secrets from the environment; yields its base URL.
    The server's log is printed when the test ends (pytest shows it for a failing test)."""
    with leadkit_process("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                         env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}) as (base, process):
        try:
            yield base
        finally:
            print(f"--- leadkit serve log ---\n{server_log(process)[-6000:]}")


# Per kit: the offer's country, and the settings a kit of this shape needs.
KIT_SETTINGS: dict[str, dict[str, Any]] = {
    # ok.php is found by itself (site.thanks unset); prefer_thanks: the sandbox answers with an
    # autologin url, and the customer must land on the kit's own thank-you page all the same.
    # Its backfix page names the name field `imie`.
    "news-pl": {"country": "pl", "network": {"prefer_thanks": True}, "site": {"form_aliases": {"imie": "name"}}},
    "quiz-sk": {"country": "sk", "network": {"prefer_thanks": True},
                "site": {"form_aliases": {"telefon": "phone"}}},
    "multi-geo": {"country": "es", "offer": {"countries": ["es", "pt", "it"]},
                  "site": {"thanks": "confirm.html"}},
}


@contextmanager
def kit_site(tmp_path: Path, sandbox: SandboxNetwork, name: str, **overrides: dict[str, Any]) -> Iterator[str]:
    """``leadkit serve`` in front of a copy of the kit ``name``; ``overrides`` are sections' keys."""
    pages = copy_kit(name, tmp_path)
    settings = KIT_SETTINGS[name]
    sections = kit_sections(tmp_path, sandbox.url, pages, settings["country"],
                            network={**settings.get("network", {}), **overrides.get("network", {})},
                            offer={**settings.get("offer", {}), **overrides.get("offer", {})},
                            site={**settings.get("site", {}), **overrides.get("site", {})})
    with serve(write_config(tmp_path, sections)) as base:
        yield base


# -- reading pages: forms, and the diff between a kit file and what was served ----------------------


@dataclass
class Form:
    attrs: dict[str, str]
    inputs: list[dict[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def get(self, name: str) -> dict[str, str] | None:
        return next((i for i in self.inputs if i.get("name") == name), None)

    def value(self, name: str) -> str | None:
        found = self.get(name)
        return None if found is None else found.get("value", "")

    def names(self) -> list[str]:
        return [i["name"] for i in self.inputs if i.get("name")]

    def has_phone(self) -> bool:
        return any(i.get("type") == "tel" or i.get("name") in ("phone", "telefon") for i in self.inputs)

    def data(self, **values: str) -> dict[str, str]:
        """What the browser would post: every named field as served, ``values`` typed over them."""
        posted = {i["name"]: i.get("value", "") for i in self.inputs
                  if i.get("name") and i.get("type") not in ("submit", "button", "image", "reset")
                  and (i.get("type") not in ("radio", "checkbox") or "checked" in i)}
        posted.update(values)
        return posted


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(values)
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag in ("input", "textarea"):
            self._form.inputs.append({"type": "text", **values})
        elif tag == "select":
            self._select = {**values, "type": "select"}
            self._form.inputs.append(self._select)
        elif tag == "option" and self._select is not None:
            if "value" not in self._select or "selected" in values:
                self._select["value"] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_of(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


def order_forms(page: str) -> list[Form]:
    return [form for form in forms_of(page) if form.has_phone()]


_PHP_BLOCK = re.compile(r"<\?(?:php\b|=).*?(?:\?>|\Z)", re.S | re.I)
# Lines a served kit page may change: form start tags, links, hidden inputs (the tag inputs
# leadkit fills), and the hidden lk_ inputs it inserts.
_CHANGEABLE = re.compile(r"<form\b|<a\s|<input type=\"hidden\"", re.I)
_INSERTED = re.compile(r"<form\b|<a\s|<input type=\"hidden\"|\blk_[a-z]+\b", re.I)


def without_php(text: str) -> str:
    return _PHP_BLOCK.sub("", text)


def unexplained_changes(original: str, served: str, *, php: bool = False) -> list[str]:
    """The lines that differ between a kit file and what the server sent for it, other than form
    start tags, links, hidden inputs and inserted ``lk_`` inputs. Line ends count (a kit saved on
    Windows keeps its CRLF). For a PHP page, the original's PHP blocks are removed first, and blank
    lines and trailing spaces do not count (where a removed block leaves a blank line is the
    server's choice)."""
    def lines(text: str) -> list[str]:
        if php:
            return [row.rstrip() for row in text.splitlines() if row.strip()]
        return text.splitlines(keepends=True)

    before, after = lines(without_php(original) if php else original), lines(served)
    unexplained = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        unexplained += [f"- {_row(row)}" for row in before[i1:i2] if not _CHANGEABLE.search(row)]
        unexplained += [f"+ {_row(row)}" for row in after[j1:j2] if not _INSERTED.search(row)]
    return unexplained


def _row(row: str) -> str:
    """A line for a message: its LF dropped, any other line end shown."""
    return row[:-1] if row.endswith("\n") and not row.endswith("\r\n") else row.replace("\r", "\\r").replace("\n", "\\n")


def show_diff(original: str, served: str, *, php: bool = False) -> str:
    source = without_php(original) if php else original
    return "\n".join(difflib.unified_diff(source.splitlines(), served.splitlines(), "kit file", "served",
                                          lineterm="", n=1))


# -- a customer's session over plain HTTP ------------------------------------------------------------


def customer(base: str) -> requests.Session:
    """A browser-like session: it sends the site's Origin with each post, as browsers do."""
    session = requests.Session()
    session.headers.update({"Origin": base.rstrip("/"), "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) kit-test"})
    return session


def submit(session: requests.Session, page_url: str, form: Form, **values: str) -> requests.Response:
    """Post ``form`` (as served on ``page_url``) the way the browser would, without following the answer."""
    target = urljoin(page_url, form.action)
    return session.post(target, data=form.data(**values), allow_redirects=False, timeout=15)


def xhr(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    """A post as jQuery's ``$.post`` sends it."""
    return session.post(url, data=data, timeout=15, allow_redirects=False,
                        headers={"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"})


def only_lead(network: SandboxNetwork) -> ReceivedLead:
    leads = network.leads
    assert len(leads) == 1, f"one lead expected at the network, got {[(l.fields, l.answer) for l in leads]}"
    assert leads[0].answer.get("status") == "ok", f"the network refused it: {leads[0].answer} {leads[0].fields}"
    return leads[0]


def tags_of(lead: ReceivedLead, *names: str) -> dict[str, str | None]:
    return {name: lead.fields.get(name) for name in names}


def test_the_diff_helper_lets_through_forms_links_and_hidden_inputs_only() -> None:
    kit = '<p>Hi</p>\n<form action="getform.php">\n<input type="hidden" name="sub1" value="{sub1}">\n' \
          '<a href="index.html">x</a>\n<?php echo 1; ?>\n</form>\n'
    served = '<p>Hi</p>\n<form action="/leadkit/order">\n<input type="hidden" name="lk_token" value="t">\n' \
             '<input type="hidden" name="sub1" value="c1">\n<a href="index.html?sub1=c1">x</a>\n\n</form>\n'
    assert unexplained_changes(kit, served, php=True) == []
    assert unexplained_changes(kit, served.replace("Hi", "Hello"), php=True) == ["- <p>Hi</p>", "+ <p>Hello</p>"]
    assert unexplained_changes(kit, served.replace("</form>", "</form><base href=/>"), php=True) == [
        "- </form>", "+ </form><base href=/>"]
    assert unexplained_changes(kit, served, php=False) == ["- <?php echo 1; ?>", "+ "], "an HTML page is compared as it is"
    assert unexplained_changes(kit, served.replace("\n\n", "\n<!--?php echo 1; ?-->\n"), php=True) == [
        "+ <!--?php echo 1; ?-->"]
    windows = "<p>Hi</p>\r\n<p>there</p>\r\n"
    assert unexplained_changes(windows, windows) == []
    assert unexplained_changes(windows, windows.replace("\r\n", "\n")) == [
        "- <p>Hi</p>\\r\\n", "- <p>there</p>\\r\\n", "+ <p>Hi</p>", "+ <p>there</p>"], "CRLF made LF"


# == plain HTTP ========================================================================================


# Per kit: its PHP files, and which of them the kit's forms or scripts post to (GET of those: 404).
ORDER_SCRIPTS = {"news-pl": ("getform.php",), "quiz-sk": ("order.php",), "multi-geo": ("api.php",)}


@pytest.mark.parametrize("name", KIT_NAMES)
def test_no_php_url_of_a_kit_answers_its_source(tmp_path: Path, network: SandboxNetwork, name: str) -> None:
    php_files = sorted(p.relative_to(KITS / name).as_posix() for p in (KITS / name).rglob("*.php"))
    assert set(ORDER_SCRIPTS[name]) <= set(php_files)
    with kit_site(tmp_path, network, name) as base:
        session = customer(base)
        for script in ORDER_SCRIPTS[name]:
            for method in ("GET", "HEAD"):
                answer = session.request(method, base + script, timeout=5)
                assert answer.status_code == 404, f"{method} /{script}: {answer.status_code}"
        for relative in php_files:
            folder, _, file = relative.rpartition("/")
            prefix = f"{folder}/" if folder else ""
            for path in (relative, f"{relative}?source=1", f"{relative}/", f"{prefix}{file.replace('.php', '%2ephp')}",
                         f"{prefix}{file.upper()}", f"css/../{relative}", f"{relative}%00", f"{relative}.",
                         f"{relative}::$DATA", f"{relative}~", f"{relative}.bak", f"{relative}s"):
                answer = session.get(base + path, timeout=5)
                assert "<?" not in answer.text and KIT_KEY not in answer.text, f"GET /{path} answered PHP source"
        # The pages made of PHP files are served, with their PHP gone.
        index = session.get(base, timeout=5)
        assert index.status_code == 200, index.status_code
        for leftover in ("session_start", "$_SESSION", "htmlspecialchars", "echo ", "include '"):
            assert leftover not in index.text, f"{leftover!r} of the PHP is still in the page"


def kit_pages(name: str) -> list[tuple[str, str]]:
    """(URL path, kit file) of each page of the kit that is served as a page."""
    return {
        "news-pl": [("", "index.html"), ("domonetka/", "domonetka/index.php")],
        "quiz-sk": [("", "index.php"), ("success.html", "success.html")],
        "multi-geo": [("", "index.html"), ("confirm.html", "confirm.html")],
    }[name]


#: Kit files not in UTF-8: the backfix page is an older template, saved in windows-1250.
KIT_ENCODINGS = {"news-pl/domonetka/index.php": "cp1250"}


def text_as_the_browser_reads_it(response: requests.Response) -> str:
    """The body decoded as a browser decodes it: the charset of the Content-Type header, else the
    page's own ``<meta charset>``, else UTF-8."""
    charset = re.search(r"charset=[\"']?([\w-]+)", response.headers.get("Content-Type", ""))
    charset = charset or re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", response.content[:2048], re.I)
    name = charset.group(1) if charset else "utf-8"
    return response.content.decode(name if isinstance(name, str) else name.decode("ascii"), "replace")


KIT_ASSETS = {
    "news-pl": ("css/style.css", "js/main.js", "img/logo.svg", "img/product.svg", "img/author.png", "img/px.gif"),
    "quiz-sk": ("css/style.css", "js/quiz.js", "img/logo.svg", "img/product.svg"),
    "multi-geo": ("css/style.css", "js/prices.js", "img/product.svg", "img/pixel.gif"),
}


@pytest.mark.parametrize("name", KIT_NAMES)
def test_each_kit_page_is_served_as_the_kit_wrote_it_but_for_forms_links_and_tag_inputs(
        tmp_path: Path, network: SandboxNetwork, name: str) -> None:
    with kit_site(tmp_path, network, name) as base:
        session = customer(base)
        for path, file in kit_pages(name):
            served = session.get(base + path, params=VISIT, timeout=5)
            assert served.status_code == 200, f"/{path}: {served.status_code}"
            assert "text/html" in served.headers.get("Content-Type", "")
            # Byte for byte: both sides read in the kit file's own encoding.
            encoding = KIT_ENCODINGS.get(f"{name}/{file}", "utf-8")
            original = (KITS / name / file).read_bytes().decode(encoding)
            php = file.endswith(".php")
            text = served.content.decode(encoding)
            changes = unexplained_changes(original, text, php=php)
            assert not changes, (f"/{path} differs from {file} beyond forms, links and hidden inputs: {changes}\n"
                                 + show_diff(original, text, php=php))
        if name == "news-pl":  # the thank-you page, ok.php, is reached by ordering
            (form, *_) = order_forms(session.get(base, timeout=5).text)
            answer = submit(session, base, form, name="Anna Kowalska", phone="512 345 678")
            assert answer.status_code == 303, answer.status_code
            thanks = session.get(urljoin(base, answer.headers["Location"]), timeout=5)
            assert thanks.status_code == 200
            original = (KITS / name / "ok.php").read_bytes().decode("utf-8")
            text = thanks.content.decode("utf-8")
            changes = unexplained_changes(original, text, php=True)
            assert not changes, f"the thank-you page differs from ok.php: {changes}\n" + show_diff(original, text, php=True)
        for asset in KIT_ASSETS[name]:
            answer = session.get(base + asset, timeout=5)
            assert (answer.status_code, answer.content) == (200, (KITS / name / asset).read_bytes()), asset


def test_news_kit_forms_post_to_leadkit_with_the_visitors_tags_and_its_links_carry_them(
        tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        page = customer(base).get(base, params=VISIT, timeout=5)
    assert page.status_code == 200
    forms = forms_of(page.text)
    search, top, bottom = forms
    assert (search.action, search.attrs.get("method")) == ("search.php", "get"), "a form without a phone is the kit's"
    assert search.names() == ["q"]
    for form in (top, bottom):
        assert (form.action, form.attrs.get("method")) == ("/leadkit/order", "post")
        assert tags_in(form) == VISIT, "the macros hold the visit's tags"
        for hidden in ("lk_token", "lk_page", "lk_form"):
            assert form.get(hidden) is not None and form.get(hidden).get("type") == "hidden", f"{hidden} missing"
        assert not form.value("lk_landing"), "the default landing (site.pages) names no [[landing]]"
        assert form.value("lk_token"), "a form token"
        assert form.value("lk_page") in ("/", "/index.html")
    assert top.value("lk_form") != bottom.value("lk_form"), "each form is told apart"
    for macro in ("{clickid}", "{sub1}", "{t2}"):
        assert macro not in page.text
    # Links: the one to the site carries the tags, though its title holds a '>'; the others are as written.
    breadcrumb = re.search(r'<a title="Zdrowie (?:>|&gt;) Stawy i kości" href="([^"]*)">Zdrowie</a>', page.text)
    assert breadcrumb, "the breadcrumb link (title with '>') is kept whole"
    href = breadcrumb.group(1).replace("&amp;", "&")
    assert urlsplit(href).path == "index.html" and query_of(href) == VISIT, href
    for kept in ('<a href="#">Zdrowie</a>', '<a href="mailto:redakcja@zdrowie-na-co-dzien.pl">',
                 '<a href="tel:+48221234567">', '<a href="#order" class="js-scroll">',
                 '<a href="https://www.who.int/news-room/fact-sheets/detail/musculoskeletal-health" rel="nofollow"'):
        assert kept in page.text, f"{kept} changed"
    assert UNTOUCHED_KIT_SCRIPT in page.text, "an <a> inside a script's string is the script's, left alone"


def tags_in(form: Form) -> dict[str, str | None]:
    return {tag: form.value(tag) for tag in VISIT}


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def test_macro_inputs_are_emptied_for_a_visitor_without_tags(tmp_path: Path, network: SandboxNetwork) -> None:
    news, quiz = tmp_path / "news", tmp_path / "quiz"
    news.mkdir()
    quiz.mkdir()
    with kit_site(news, network, "news-pl") as base:
        page = customer(base).get(base, timeout=5).text
    for form in order_forms(page):
        assert tags_in(form) == {"utm_source": "", "sub1": "", "subid": ""}
    with kit_site(quiz, network, "quiz-sk") as base:
        page = customer(base).get(base, params={"utm_source": "fb"}, timeout=5).text
    (form,) = order_forms(page)
    assert (form.value("subid"), form.value("sub2"), form.value("country")) == ("", "", "sk"), \
        "[subid] and %sub2% emptied (the visitor has neither), the kit's own country kept"
    assert (form.value("utm_source"), form.value("sub1")) == ("fb", ""), "the inputs PHP filled in: the visit's tags"
    for macro in ("{clickid}", "{sub1}", "{t2}", "[subid]", "%sub2%"):
        assert macro not in page


def test_a_macro_posted_back_never_overrides_the_visits_tags(tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        session = customer(base)
        (top, _) = order_forms(session.get(base, params=VISIT, timeout=5).text)
        # As a page cached before leadkit, or a kit's script, would post them: the macros unfilled.
        answer = submit(session, base, top, name="Anna Kowalska", phone="512 345 678",
                        utm_source="{clickid}", sub1="{sub1}", subid="{t2}")
    assert answer.status_code == 303, answer.status_code
    lead = only_lead(network)
    assert tags_of(lead, *VISIT) == VISIT


def test_an_invalid_phone_answers_the_same_landing_422_with_the_field_focused(
        tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        session = customer(base)
        (_, bottom) = order_forms(session.get(base, params=VISIT, timeout=5).text)
        answer = submit(session, base, bottom, name="Anna Kowalska", phone="512 345 67")
        assert answer.status_code == 422, answer.status_code
        assert "text/html" in answer.headers.get("Content-Type", "")
        page = answer.text
        assert "<title>Ortopeda z Krakowa: „Ból stawów można zatrzymać w 21 dni” | Zdrowie na co dzień</title>" in page
        assert "Dlaczego tabletki przeciwbólowe nie pomagają?" in page, "the whole landing, not a form of leadkit's"
        forms = order_forms(page)
        assert len(forms) == 2
        sent = next(f for f in forms if f.value("lk_form") == bottom.value("lk_form"))
        assert (sent.value("name"), sent.value("phone")) == ("Anna Kowalska", "512 345 67"), "what was typed is kept"
        assert "autofocus" in (sent.get("phone") or {}), "the wrong field is focused"
        assert all("autofocus" not in i for f in forms for i in f.inputs if i is not sent.get("phone"))
        assert tags_in(sent) == VISIT
        # In the page's language, <html lang="pl">, with a Polish example number.
        assert html.escape(Texts("pl")("invalid_phone", example="512 345 678")) in page
        assert network.leads == [], "nothing is sent for invalid input"
        # The same form, corrected, is taken.
        answer = submit(session, base, sent, phone="512 345 678")
    assert answer.status_code == 303
    lead = only_lead(network)
    assert (lead.fields["phone"], lead.fields["name"]) == ("48512345678", "Anna Kowalska")


def test_the_backfix_page_is_served_with_its_own_working_form(tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        session = customer(base)
        url = base + "domonetka/"
        page = session.get(url, params={"utm_source": "fb", "sub1": "back"}, timeout=5)
        assert page.status_code == 200
        assert "Zaczekaj! Mamy dla Ciebie rabat" in page.text and "ODBIERZ RABAT" in page.text
        (form,) = order_forms(page.text)
        assert form.action == "/leadkit/order" and form.value("lk_token")
        assert (form.value("utm_source"), form.value("sub1")) == ("fb", "back")
        refused = submit(session, page.url, form, imie="Jan", phone="601 23")
        assert refused.status_code == 422, refused.status_code
        assert "Zaczekaj! Mamy dla Ciebie rabat" in refused.text, "the backfix page again, not the article"
        (again,) = order_forms(refused.text)
        assert (again.value("imie"), again.value("phone")) == ("Jan", "601 23")
        assert network.leads == []
        answer = submit(session, page.url, again, phone="+48 601 234 567")
        assert answer.status_code == 303, answer.status_code
        thanks = session.get(urljoin(url, answer.headers["Location"]), timeout=5)
    assert thanks.status_code == 200 and "Dziękujemy" in thanks.text, "the kit's ok.php, found by itself"
    lead = only_lead(network)
    assert tags_of(lead, "phone", "name", "country", "utm_source", "sub1", "offer", "flow") == {
        "phone": "48601234567", "name": "Jan", "country": "pl", "utm_source": "fb", "sub1": "back",
        "offer": "217", "flow": "42"}


def test_a_page_saved_in_windows_1250_reads_as_it_was_written(tmp_path: Path, network: SandboxNetwork) -> None:
    """The backfix page is saved in windows-1250 and says so in its ``<meta charset>``: the customer's
    browser must read the Polish text as written, on the page and on its 422 answer."""
    with kit_site(tmp_path, network, "news-pl") as base:
        session = customer(base)
        page = session.get(base + "domonetka/", params={"utm_source": "fb"}, timeout=5)
        (form,) = order_forms(page.text)
        refused = submit(session, page.url, form, imie="Jan", phone="601 23")
    assert (page.status_code, refused.status_code) == (200, 422)
    for answer in (page, refused):
        text = text_as_the_browser_reads_it(answer)
        for written in ("<label class=\"order-form__label\" for=\"name-back\">Imię</label>",
                        "Tylko dziś Artrolux za", "Zdrowie na co dzień"):
            assert written in text, f"{written!r} not read as written: sent as {answer.headers.get('Content-Type')}"


def test_a_kit_posting_by_jquery_is_answered_with_json_on_its_php_path(tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "quiz-sk") as base:
        session = customer(base)
        page = session.get(base, params={"utm_source": "fb", "sub1": "click42"}, timeout=5)
        assert page.status_code == 200 and "Koľko máte rokov?" in page.text, "index.php is the folder's index"
        (form,) = order_forms(page.text)
        refused = xhr(session, base + "order.php", form.data(fio="Jana Nováková", telefon="0912 34"))
        assert 400 <= refused.status_code < 500, refused.status_code
        assert refused.headers.get("Content-Type", "").startswith("application/json")
        body = refused.json()
        assert body["status"] == "error" and body["message"], body
        assert set(body["errors"]) & {"phone", "telefon"}, body
        assert network.leads == []
        taken = xhr(session, base + "order.php", form.data(fio="Jana Nováková", telefon="0912 345 678"))
        assert taken.status_code == 200, taken.status_code
        assert taken.json()["status"] == "ok" and taken.json()["redirect"], taken.text
        assert session.get(base + "order.php", timeout=5).status_code == 404
    lead = only_lead(network)
    assert tags_of(lead, "phone", "name", "country", "utm_source", "sub1") == {
        "phone": "421912345678", "name": "Jana Nováková", "country": "sk", "utm_source": "fb", "sub1": "click42"}
    assert not lead.fields.get("subid") and not lead.fields.get("sub2"), "unfilled macros are not tags"


FORGED_PAGES = ("/getform.php", "/domonetka/../getform.php", "/../outside.html", "/%2e%2e/outside.html",
                "/..%2foutside.html", "/..\\outside.html", "//etc/passwd", "/../leadkit.toml", "/.env", "/css/style.css",
                "/nowhere.html", "http://evil.example/", "", "/" + "a/" * 300)


def test_a_forged_lk_page_never_shows_what_the_pages_folder_hides(tmp_path: Path, network: SandboxNetwork) -> None:
    """The 422 answer shows the page named by the form's ``lk_page``: a visitor may write anything there."""
    (tmp_path / "outside.html").write_text('<p>CANARY-OUTSIDE</p><form method="post"><input name="phone"></form>')
    with kit_site(tmp_path, network, "news-pl") as base:
        (tmp_path / "news-pl" / ".env").write_text('<p>CANARY-DOTENV</p><form><input name="phone"></form>')
        session = customer(base)
        (top, _) = order_forms(session.get(base, params=VISIT, timeout=5).text)
        for forged in FORGED_PAGES:
            answer = submit(session, base, top, name="Anna Kowalska", phone="512 345 67", lk_page=forged)
            assert answer.status_code < 500, (forged, answer.status_code)
            for secret in ("CANARY-OUTSIDE", "CANARY-DOTENV", "prefer_thanks", "root:x:0", "[journal]"):
                assert secret not in answer.text, f"lk_page={forged!r} showed {secret!r}"
    assert network.leads == []


def test_a_country_outside_the_offers_countries_never_goes_out(tmp_path: Path, network: SandboxNetwork) -> None:
    with kit_site(tmp_path, network, "multi-geo") as base:
        session = customer(base)
        (form,) = order_forms(session.get(base, timeout=5).text)
        # A French mobile number, with the select forged to France.
        answer = submit(session, base, form, first_name="Marie", last_name="Dubois", phone="612345678", country="fr")
    assert answer.status_code in (303, 422), answer.status_code
    assert [lead.fields.get("country") for lead in network.leads if lead.fields.get("country") not in
            ("es", "pt", "it")] == [], "only the offer's countries go out"


@pytest.fixture()
def two_offers() -> Iterator[SandboxNetwork]:
    """A sandbox of its own with two offers: 217 (flow 42) and 305 (flow 77)."""
    with SandboxNetwork(keys=[KEY], offers={217: [42], 305: [77]}) as network:
        yield network


def test_two_landings_with_their_own_offers_on_one_server(tmp_path: Path, two_offers: SandboxNetwork) -> None:
    news, quiz = copy_kit("news-pl", tmp_path), copy_kit("quiz-sk", tmp_path)
    sections = kit_sections(tmp_path, two_offers.url, news, "pl", network={"prefer_thanks": True},
                            site={"form_aliases": {"telefon": "phone"}})
    config = write_config(tmp_path, sections, landings=[
        {"name": "sk", "path": "/sk/", "pages": str(quiz), "offer": 305, "flow": 77, "country": "sk"}])
    with serve(config) as base:
        session = customer(base)
        (top, _) = order_forms(session.get(base, params=VISIT, timeout=5).text)
        assert submit(session, base, top, name="Anna Kowalska", phone="512 345 678").status_code == 303
        quiz_page = session.get(base + "sk/", params={"utm_source": "sk-ads", "sub1": "q1"}, timeout=5)
        assert quiz_page.status_code == 200 and "Koľko máte rokov?" in quiz_page.text
        assert session.get(base + "sk/css/style.css", timeout=5).content == (quiz / "css" / "style.css").read_bytes()
        (popup,) = order_forms(quiz_page.text)
        assert (popup.get("lk_landing") or {}).get("type") == "hidden" and popup.value("lk_landing") == "sk"
        assert popup.value("lk_page") in ("/sk/", "/sk/index.php")
        taken = xhr(session, base + "sk/order.php", popup.data(fio="Jana Nováková", telefon="0912 345 678"))
        assert taken.status_code == 200 and taken.json()["status"] == "ok", taken.text
        assert session.get(base + "sk/order.php", timeout=5).status_code == 404
        assert "<?" not in session.get(base + "sk/footer.php", timeout=5).text
    leads = {lead.fields["phone"]: lead for lead in two_offers.accepted()}
    assert set(leads) == {"48512345678", "421912345678"}, [lead.answer for lead in two_offers.leads]
    assert tags_of(leads["48512345678"], "offer", "flow", "country", "utm_source", "sub1") == {
        "offer": "217", "flow": "42", "country": "pl", "utm_source": "fb", "sub1": "click42"}
    assert tags_of(leads["421912345678"], "offer", "flow", "country", "name", "utm_source", "sub1") == {
        "offer": "305", "flow": "77", "country": "sk", "name": "Jana Nováková", "utm_source": "sk-ads", "sub1": "q1"}


@pytest.mark.parametrize(("country", "typed", "phone"), [
    ("pt", "912345678", "351912345678"),
    ("es", "912345678", "34912345678"),  # the same digits, read in Spain: a Madrid number
    ("it", "312 345 6789", "393123456789"),
])
def test_the_phone_is_read_in_the_country_the_customer_chose(tmp_path: Path, network: SandboxNetwork,
                                                             country: str, typed: str, phone: str) -> None:
    with kit_site(tmp_path, network, "multi-geo") as base:
        session = customer(base)
        (form,) = order_forms(session.get(base, params={"sub1": "click42"}, timeout=5).text)
        assert form.action == "/leadkit/order" and form.value("country") == "es"
        answer = submit(session, base, form, first_name="María", last_name="García", phone=typed, country=country)
    assert answer.status_code == 303, answer.status_code
    lead = only_lead(network)
    assert (lead.fields["phone"], lead.fields["country"], lead.fields["sub1"]) == (phone, country, "click42")
    assert "María" in lead.fields["name"]
    assert "García" in lead.fields["name"] + " " + lead.fields.get("last", "")
    assert not lead.fields.get("utm_campaign"), "{campaign_name} is no campaign"


# == in the browser ===================================================================================


@pytest.fixture()
def browser() -> Iterator[WebDriver]:
    """A fresh headless Chromium (own profile: no cookies from another test)."""
    if webdriver is None:
        pytest.skip("selenium is not installed: `.venv/bin/pip install selenium` runs the browser tests")
    if MISSING:
        pytest.skip(MISSING)
    with chromium() as driver:
        yield driver


def waiting(driver: WebDriver) -> WebDriverWait:
    """A wait that looks again when the page changed under it: while a kit's script navigates, a node
    looked up a moment before can be gone ("does not belong to the document")."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException, JavascriptException,
                                                           NoSuchElementException, WebDriverException))


def click_and_wait_for_the_next_page(driver: WebDriver, button: WebElement) -> None:
    button.click()
    waiting(driver).until(EC.staleness_of(button))
    waiting(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")


def navigation_status(driver: WebDriver) -> int:
    return int(driver.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus"))


def kit_css_applies(driver: WebDriver, selector: str, prop: str, expected: str) -> bool:
    return driver.execute_script("return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]",
                                 selector, prop) == expected


def image_loaded(driver: WebDriver, selector: str) -> bool:
    return bool(driver.execute_script(
        "var i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0", selector))


def test_browser_news_kit_order_ends_on_its_thank_you_page_with_the_visits_tags(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        browser.get(base + "?utm_source=fb&sub1=click42&subid=sid-7")
        seen(browser)
        assert browser.find_elements(By.CSS_SELECTOR, "#comments-more a"), "the kit's inline script ran"
        assert kit_css_applies(browser, "body", "backgroundColor", "rgb(244, 241, 236)"), "css/style.css applies"
        top = browser.find_elements(By.CSS_SELECTOR, "form.order-form")[0]
        top.find_element(By.NAME, "name").send_keys("Anna Kowalska")
        top.find_element(By.NAME, "phone").send_keys("512 345 678")
        click_and_wait_for_the_next_page(browser, top.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        page = seen(browser)
        assert browser.title == "Dziękujemy za zamówienie!", f"{browser.current_url}: {page[:500]}"
        assert browser.find_element(By.CSS_SELECTOR, "h1.thanks-title").text == "Dziękujemy!"
        assert waiting(browser).until(lambda d: image_loaded(d, "#lead-pixel")), "the kit's tracking pixel loaded"
        assert kit_css_applies(browser, "body", "backgroundColor", "rgb(244, 241, 236)"), "with the kit's stylesheet"
    lead = only_lead(network)
    assert tags_of(lead, "utm_source", "sub1", "subid", "phone", "name", "country", "offer", "flow") == {
        **VISIT, "phone": "48512345678", "name": "Anna Kowalska", "country": "pl", "offer": "217", "flow": "42"}
    assert "Chrome/" in lead.fields["ua"]


def test_browser_news_kit_invalid_phone_keeps_the_customer_on_the_landing_beside_the_field(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with kit_site(tmp_path, network, "news-pl") as base:
        browser.get(base + "?utm_source=fb&sub1=click42&subid=sid-7")
        landing_title = browser.title
        bottom = browser.find_elements(By.CSS_SELECTOR, "form.order-form")[1]
        bottom.find_element(By.NAME, "name").send_keys("Anna Kowalska")
        bottom.find_element(By.NAME, "phone").send_keys("512 345 67")
        click_and_wait_for_the_next_page(browser, bottom.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        page = seen(browser)
        assert navigation_status(browser) == 422
        assert browser.title == landing_title, "the same landing"
        assert browser.find_element(By.CSS_SELECTOR, "h1.article__title").is_displayed()
        assert kit_css_applies(browser, "body", "backgroundColor", "rgb(244, 241, 236)"), \
            "the landing looks as before: its css/style.css applies"
        assert image_loaded(browser, "img.article__author-photo"), "and its images load"
        assert "{clickid}" not in page
        top, bottom = browser.find_elements(By.CSS_SELECTOR, "form.order-form")
        phone, name = bottom.find_element(By.NAME, "phone"), bottom.find_element(By.NAME, "name")
        assert (name.get_attribute("value"), phone.get_attribute("value")) == ("Anna Kowalska", "512 345 67")
        waiting(browser).until(lambda d: d.switch_to.active_element == phone)
        said = Texts("pl")("invalid_phone", example="512 345 678")  # in the page's language
        messages = [e for e in bottom.find_elements(By.CSS_SELECTOR, "[role=alert]") if e.is_displayed()
                    and e.text == said]
        assert messages, f"no message in the form that was sent: {bottom.get_attribute('outerHTML')}"
        assert not top.find_elements(By.CSS_SELECTOR, "[role=alert]"), "the other form has no error"
        message, field_box = messages[0].rect, phone.rect
        gap = max(message["y"] - (field_box["y"] + field_box["height"]), field_box["y"] - (message["y"] + message["height"]))
        assert gap <= 40, f"the message is beside the phone field ({message} vs {field_box})"
        assert message["x"] < field_box["x"] + field_box["width"] and field_box["x"] < message["x"] + message["width"]
        assert network.leads == []
        # Corrected, the same form goes through.
        phone.clear()
        phone.send_keys("512 345 678")
        click_and_wait_for_the_next_page(browser, bottom.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        seen(browser)
        assert browser.title == "Dziękujemy za zamówienie!"
    lead = only_lead(network)
    assert tags_of(lead, "utm_source", "sub1", "subid", "phone", "name") == {
        **VISIT, "phone": "48512345678", "name": "Anna Kowalska"}


def take_the_quiz(driver: WebDriver, base: str) -> WebElement:
    """Answer the three questions; the popup's form once it is shown."""
    driver.get(base + "?utm_source=fb&sub1=click42")
    seen(driver)
    for step in (1, 2, 3):
        section = waiting(driver).until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, f'.quiz__step[data-step="{step}"]')))
        section.find_element(By.CSS_SELECTOR, ".quiz__answer").click()
        section.find_element(By.CSS_SELECTOR, ".quiz__next").click()
    waiting(driver).until(EC.visibility_of_element_located((By.ID, "popup")))
    return driver.find_element(By.ID, "order-form")


def test_browser_quiz_kit_order_posted_by_jquery_reaches_the_network(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with kit_site(tmp_path, network, "quiz-sk") as base:
        form = take_the_quiz(browser, base)
        form.find_element(By.NAME, "fio").send_keys("Jana Nováková")
        form.find_element(By.NAME, "telefon").send_keys("0912 345 678")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        waiting(browser).until(lambda d: d.title != "Test: Ako zdravé sú vaše kĺby? Zistite to za 1 minútu"
                               or d.find_element(By.ID, "form-error").is_displayed())
        seen(browser)
        assert urlsplit(browser.current_url).path == "/success.html", \
            f"the kit's .done() went on: {browser.find_element(By.TAG_NAME, 'body').text[:300]}"
        assert "Ďakujeme! Vaša objednávka bola prijatá." in browser.find_element(By.TAG_NAME, "h1").text
    lead = only_lead(network)
    assert tags_of(lead, "utm_source", "sub1", "phone", "name", "country", "offer", "flow") == {
        "utm_source": "fb", "sub1": "click42", "phone": "421912345678", "name": "Jana Nováková", "country": "sk",
        "offer": "217", "flow": "42"}
    assert not lead.fields.get("subid") and not lead.fields.get("sub2"), "[subid] and %sub2% are no tags"


def test_browser_quiz_kit_shows_the_refusal_with_its_own_script(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with kit_site(tmp_path, network, "quiz-sk") as base:
        form = take_the_quiz(browser, base)
        fio, telefon = form.find_element(By.NAME, "fio"), form.find_element(By.NAME, "telefon")
        fio.send_keys("Jana Nováková")
        telefon.send_keys("0912 34")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = waiting(browser).until(EC.visibility_of_element_located((By.ID, "form-error")))
        seen(browser)
        assert error.text and error.text != "Nastala chyba. Skúste to, prosím, znova.", \
            f"the kit shows xhr.responseJSON.message, not its fallback: {error.text!r}"
        assert browser.find_element(By.ID, "popup").is_displayed() and urlsplit(browser.current_url).path == "/"
        assert (fio.get_attribute("value"), telefon.get_attribute("value")) == ("Jana Nováková", "0912 34")
        assert network.leads == []
        telefon.clear()
        telefon.send_keys("0912 345 678")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        waiting(browser).until(lambda d: urlsplit(d.current_url).path == "/success.html")
        seen(browser)
    assert only_lead(network).fields["phone"] == "421912345678"


def test_browser_multi_geo_kit_portugal_without_autologin_ends_on_confirm_with_its_pixel(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    network.reset(dialect="moe")  # the moe dialect's answers carry no autologin url: the kit's thank-you page
    with kit_site(tmp_path, network, "multi-geo", network={"dialect": "moe"}) as base:
        browser.get(base + "?utm_source=fb&sub1=click42")
        seen(browser)
        assert browser.find_element(By.ID, "price-new").text == "39 €"
        Select(browser.find_element(By.NAME, "country")).select_by_value("pt")
        assert browser.find_element(By.ID, "price-new").text == "35 €", "the kit's price table follows the country"
        browser.find_element(By.NAME, "first_name").send_keys("María")
        browser.find_element(By.NAME, "last_name").send_keys("García")
        browser.find_element(By.NAME, "phone").send_keys("912 345 678")
        click_and_wait_for_the_next_page(browser, browser.find_element(By.CSS_SELECTOR, "#order-form button"))
        seen(browser)
        assert browser.title == "¡Gracias! Pedido confirmado", browser.current_url
        assert browser.execute_script("return document.body.dataset.pixel") == "fired", "the inline pixel script ran"
        status = waiting(browser).until(lambda d: d.execute_script("return document.body.dataset.pixelStatus"))
        assert status == "loaded", "img/pixel.gif?ev=lead was fetched from the kit"
        assert any("pixel.gif?ev=lead" in url for url in browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"))
    lead = only_lead(network)
    assert {k: lead.fields.get(k) for k in ("phone", "country", "us", "params[sub1]", "offer", "flow")} == {
        "phone": "351912345678", "country": "pt", "us": "fb", "params[sub1]": "click42", "offer": "217", "flow": "42"}
    assert lead.fields["name"] == "María García"


# A kit's own script posting its form with fetch(), as many kits do (FormData: multipart/form-data).
FETCH = """
var done = arguments[arguments.length - 1];
var form = document.getElementById('order-form');
form.elements.first_name.value = arguments[0];
form.elements.phone.value = arguments[1];
var body = arguments[2] === 'multipart' ? new FormData(form) : new URLSearchParams(new FormData(form));
fetch('api.php', {method: 'POST', body: body})
  .then(function (r) { return r.text().then(function (t) { done([r.status, r.headers.get('Content-Type') || '', t]); }); })
  .catch(function (e) { done([0, '', String(e)]); });
"""


def test_browser_a_kit_posting_with_fetch_to_api_php_is_answered_with_json(
        tmp_path: Path, network: SandboxNetwork, browser: WebDriver) -> None:
    with kit_site(tmp_path, network, "multi-geo") as base:
        browser.get(base + "?utm_source=fb&sub1=click42")
        seen(browser)
        for body in ("multipart", "urlencoded"):
            status, content_type, text = browser.execute_async_script(FETCH, "María", "91234", body)
            _SEEN.append((f"fetch api.php ({body})", text))
            assert 400 <= status < 500 and content_type.startswith("application/json"), (body, status, text[:300])
            answer = json.loads(text)
            assert answer["status"] == "error" and answer["errors"] and answer["message"], answer
        assert network.leads == []
        status, content_type, text = browser.execute_async_script(FETCH, "María", "612 345 678", "multipart")
        _SEEN.append(("fetch api.php", text))
        assert (status, content_type.split(";")[0]) == (200, "application/json"), text[:300]
        assert json.loads(text)["status"] == "ok" and json.loads(text)["redirect"], text
    lead = only_lead(network)
    assert tags_of(lead, "phone", "country", "utm_source", "sub1", "name") == {
        "phone": "34612345678", "country": "es", "utm_source": "fb", "sub1": "click42", "name": "María"}
