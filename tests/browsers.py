"""The real browser and the plain web servers the browser tests share: headless Chromium through
chromedriver (Selenium), found on this machine and never downloaded, and a static site on loopback
(a prelanding on another origin, a saved page for Lighthouse)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator


def find_program(*names: str) -> str | None:
    """The first of ``names`` on the PATH or where Debian puts Chromium's programs."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/lib/chromium")
        if found:
            return found
    return None


CHROMIUM = find_program("chromium", "chromium-browser")
CHROMEDRIVER = find_program("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900"]
#: Seconds for any page or element.
WAIT = 15
#: Why a browser test cannot run here, or None.
MISSING = None if CHROMIUM and CHROMEDRIVER else (
    f"headless browser tests need Chromium and chromedriver (found chromium={CHROMIUM}, "
    f"chromedriver={CHROMEDRIVER}): `apt-get install chromium chromium-driver` or `make system-deps` as root")


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium (own profile: no cookies from another test) under Selenium; every
    WebDriver call bounded, so none can hang the suite."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="leadkit-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.command_executor.client_config.timeout = 60
            driver.set_page_load_timeout(WAIT)
            driver.set_script_timeout(WAIT)
            yield driver
        finally:
            driver.quit()


@contextmanager
def static_site(folder: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """A plain static web server for ``folder`` on loopback; its base URL names ``host`` (``localhost``:
    another origin, and another site, than leadkit's ``127.0.0.1``, as a prelanding on its own domain is)."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
