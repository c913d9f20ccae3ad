"""The order form in a real browser: headless Chromium, driven by Selenium through chromedriver,
against ``leadkit serve`` (the standalone example's landing and settings) and the sandbox network.

What only a browser shows: the form submits as the HTML says, the redirect chain ends on the
network's autologin page, an error sits beside its field and keeps what was typed, and the layout
fits a phone. The screenshots under ``docs/`` are written here. Skipped, with the reason, where
Selenium, Chromium or chromedriver is missing (``make system-deps`` installs the browser as root);
Selenium Manager is never asked to download anything: both paths are given.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Iterator
from contextlib import contextmanager

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: `.venv/bin/pip install selenium` "
                                       "runs the browser tests")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from leadkit.testing.sandbox import SandboxNetwork  # noqa: E402
from browsers import MISSING, WAIT, chromium, static_site  # noqa: E402
from servers import leadkit_process  # noqa: E402
from support import KEY, SECRET  # noqa: E402
from leadkit.texts import Texts  # noqa: E402

#: The start of the invalid-phone sentence in the example's language (its leadkit.toml says English).
INVALID_PHONE = Texts("en")("invalid_phone", example="").split(".")[0]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "standalone"
DOCS = ROOT / "docs"


# site.min_fill_seconds off: WebDriver types at once, and a test waits on state, never on time. The
# bot check's timing is tested in test_hardening.py, with tokens issued by a clock set back.
MIN_FILL = 0

pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


@pytest.fixture()
def browser() -> Iterator[WebDriver]:
    """A fresh headless Chromium (own profile: no cookies from another test)."""
    with chromium() as driver:
        yield driver


@contextmanager
def serve_site(folder: Path, network: SandboxNetwork, allowed_origins: tuple[str, ...] = ()) -> Iterator[str]:
    """``leadkit serve`` with the standalone example's landing and settings; yields its base URL."""
    shutil.copytree(EXAMPLE / "landing", folder / "landing")
    text = (EXAMPLE / "leadkit.toml").read_text()
    for line in ('api = "https://lk.dalead.pro/api"', 'pages = "landing"'):
        assert text.count(line) == 1, f"the example should hold {line!r} once"
    text = text.replace('api = "https://lk.dalead.pro/api"', f'api = "{network.url}"')
    origins = ", ".join(f'"{origin}"' for origin in allowed_origins)
    text = text.replace('pages = "landing"', f'pages = "landing"\nmin_fill_seconds = {MIN_FILL}\n'
                                             f'allowed_origins = [{origins}]')
    config = folder / "leadkit.toml"
    config.write_text(text + f'\n[journal]\npath = "{folder / "journal" / "leadkit.db"}"\n')
    with leadkit_process("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                         env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}) as (base, _):
        yield base


@pytest.fixture()
def site(tmp_path: Path, network: SandboxNetwork) -> Iterator[str]:
    with serve_site(tmp_path, network) as base:
        yield base


@pytest.fixture()
def prelanding(tmp_path: Path, network: SandboxNetwork) -> Iterator[tuple[str, str]]:
    """(prelanding origin, leadkit base URL): an article on one origin embedding the form of the other."""
    pages = tmp_path / "prelanding"
    pages.mkdir()
    with static_site(pages, host="localhost") as origin, serve_site(tmp_path, network, allowed_origins=(origin,)) as base:
        (pages / "embed.html").write_text(
            "<!doctype html><meta charset=utf-8><title>Five herbs</title><h1>Why five herbs</h1>"
            f'<p>An article.</p><div data-leadkit-form></div><script src="{base}leadkit/embed.js" async></script>')
        (pages / "frame.html").write_text(
            "<!doctype html><meta charset=utf-8><title>Five herbs</title><h1>Why five herbs</h1><p>An article.</p>"
            "<script>document.write('<iframe id=order width=480 height=640 src=\"" + base +
            "leadkit/form' + location.search + '\"></iframe>')</script>")
        yield origin, base


def fill_and_submit(driver: WebDriver, name: str, phone: str) -> None:
    """Type the name and the phone, and send."""
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "phone").send_keys(phone)
    driver.find_element(By.CSS_SELECTOR, "form.lk-form button[type=submit]").click()


def test_landing_with_tags_to_the_autologin_cabinet(browser: WebDriver, site: str, network: SandboxNetwork) -> None:
    browser.get(site + "?utm_source=browser&sub1=c1")
    fill_and_submit(browser, "Aigerim", "8 (700) 123-45-67")
    WebDriverWait(browser, WAIT).until(lambda d: "Sandbox cabinet" in d.page_source)
    (lead,) = network.accepted()
    assert browser.current_url == lead.answer["url"], "the browser followed the 303 to the autologin url"
    assert {k: lead.fields.get(k) for k in ("utm_source", "sub1", "phone", "name", "mobile")} == {
        "utm_source": "browser", "sub1": "c1", "phone": "77001234567", "name": "Aigerim", "mobile": "0"}
    assert "Chrome/" in lead.fields["ua"], "the browser's own user agent"


def test_invalid_phone_shows_its_error_beside_the_field_and_keeps_what_was_typed(
        browser: WebDriver, site: str, network: SandboxNetwork) -> None:
    browser.get(site + "?utm_source=browser")
    fill_and_submit(browser, "Aigerim Nurlanovna", "8-701-123-45-6")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".lk-error"))
    phone = browser.find_element(By.NAME, "phone")
    name = browser.find_element(By.NAME, "name")
    assert phone.get_attribute("aria-invalid") == "true"
    assert name.get_attribute("aria-invalid") is None, "only the phone is wrong"
    error = browser.find_element(By.ID, (phone.get_attribute("aria-describedby") or "").split()[0])
    assert error.is_displayed() and INVALID_PHONE in error.text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".lk-error")) == 1
    # Beside the field: right under the input (with its dialling code), in the same column.
    field, text = phone.find_element(By.XPATH, "..").rect, error.rect
    assert 0 <= text["y"] - (field["y"] + field["height"]) <= 24
    assert field["x"] <= text["x"] < field["x"] + field["width"]
    assert (name.get_attribute("value"), phone.get_attribute("value")) == ("Aigerim Nurlanovna", "8-701-123-45-6")
    assert network.leads == [], "nothing is sent for invalid input"


def test_a_prelanding_on_another_origin_embeds_the_form_with_embed_js(
        browser: WebDriver, prelanding: tuple[str, str], network: SandboxNetwork) -> None:
    origin, base = prelanding
    browser.get(f"{origin}/embed.html?utm_source=promo&utm_campaign=herbs&sub3=s3")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-leadkit-form] form.lk-form"))
    assert browser.execute_script("return location.origin") == origin, "the form sits in the prelanding's page"
    fill_and_submit(browser, "Aigerim", "+7 701 1234 5678")  # one digit too many: refused beside the field
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".lk-error"))
    phone = browser.find_element(By.NAME, "phone")
    assert phone.get_attribute("aria-invalid") == "true" and phone.get_attribute("value") == "+7 701 1234 5678"
    described = (phone.get_attribute("aria-describedby") or "").split()[0]
    assert INVALID_PHONE in browser.find_element(By.ID, described).text
    assert network.leads == []
    phone.clear()
    phone.send_keys("8 701 123 45 67")
    browser.find_element(By.CSS_SELECTOR, "form.lk-form button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(lambda d: "Sandbox cabinet" in d.page_source)
    (lead,) = network.accepted()
    assert browser.current_url == lead.answer["url"]
    assert {k: lead.fields.get(k) for k in ("utm_source", "utm_campaign", "sub3", "phone")} == {
        "utm_source": "promo", "utm_campaign": "herbs", "sub3": "s3", "phone": "77011234567"}


def test_a_prelanding_on_another_origin_frames_the_form(
        browser: WebDriver, prelanding: tuple[str, str], network: SandboxNetwork) -> None:
    origin, base = prelanding
    browser.get(f"{origin}/frame.html?utm_source=framed&sub1=f1")
    frame = WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "order"))
    browser.switch_to.frame(frame)
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "form.lk-form"))
    fill_and_submit(browser, "Aigerim", "8 (700) 123-45-67")
    browser.switch_to.default_content()
    WebDriverWait(browser, WAIT).until(lambda d: "Sandbox cabinet" in d.page_source)
    (lead,) = network.accepted()
    assert browser.current_url == lead.answer["url"], "the whole window, not the frame, went on to the cabinet"
    assert (lead.fields.get("utm_source"), lead.fields.get("sub1")) == ("framed", "f1")


@pytest.mark.parametrize("width", [375, 1280])
def test_the_form_fits_the_screen_and_is_saved_under_docs(browser: WebDriver, site: str, width: int) -> None:
    # The CSS viewport exactly `width` px wide (a phone at 375), one device pixel per CSS pixel.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 640})
    browser.get(site + "leadkit/form")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    form = browser.find_element(By.CSS_SELECTOR, "form.lk-form").rect
    button = browser.find_element(By.CSS_SELECTOR, "form.lk-form button[type=submit]").rect
    assert form["x"] >= 0 and form["x"] + form["width"] <= width
    assert button["width"] >= min(width - 80, 300), "a wide button a thumb can hit"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 640})
    png = browser.get_screenshot_as_png()
    assert png_size(png)[0] == width
    DOCS.mkdir(exist_ok=True)
    target = DOCS / f"form-{width}.png"
    if not target.exists() or target.read_bytes() != png:  # unchanged pixels leave the file alone
        target.write_bytes(png)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height
