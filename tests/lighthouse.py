"""Lighthouse's accessibility audit of a URL, for the tests: its score (0-100) and what failed.

Lighthouse comes from the npm registry, installed by ``make lighthouse`` (``scripts/lighthouse.sh``,
part of ``make test``) into ``.lighthouse/`` at the root of the checkout, ignored by git; it runs on
Node (Debian's ``nodejs``) and drives Debian's Chromium, headless. :func:`missing` says why it cannot
run here (a test skips with that reason); :func:`accessibility` runs it::

    report = accessibility("http://127.0.0.1:8000/leadkit/form")
    assert report.score >= 95, report.describe()

Only the accessibility category runs, with Lighthouse's default settings otherwise (a mobile
screen), except for two things that cost time and no test reads (:data:`SETTINGS`): the full-page
screenshot (the report's thumbnails, some 4.5 s a run here) and the waits for the network and the CPU to
fall quiet after ``load`` (some 2 s): the pages audited are whole at ``load``, as no script of theirs adds
content later. A run took 13.5 s on this 2-core machine with the defaults, 6.5 s with these. A failing audit comes with the elements it names (selector, snippet, what is wrong), so a
failing test says what to fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browsers import CHROMIUM, find_program

__all__ = ["CLI", "VERSION", "Audit", "LighthouseError", "Report", "accessibility", "missing"]

ROOT = Path(__file__).resolve().parent.parent
VERSION = "12.2.3"  # the Makefile's LIGHTHOUSE_VERSION: 13 wants Node 22, Debian 12's is 18.20
FOLDER = ROOT / ".lighthouse"
CLI = FOLDER / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: A stop for a run that hangs, not a measure: a run takes some 15 s on a 2-core machine.
RUN_LIMIT = 300
#: Lighthouse's configuration (``--config-path``): its default one, less what the module's text says.
SETTINGS = {"onlyCategories": ["accessibility"], "disableFullPageScreenshot": True, "pauseAfterFcpMs": 0,
            "pauseAfterLoadMs": 0, "networkQuietThresholdMs": 0, "cpuQuietThresholdMs": 0}


class LighthouseError(RuntimeError):
    """Lighthouse did not produce a score: it failed, or the page could not be audited."""


@dataclass(frozen=True)
class Audit:
    """One audit that did not pass: its id and title, its weight in the score (0: counted for
    nothing), and the elements it names (each ``selector: snippet — explanation``)."""

    id: str
    title: str
    weight: float
    score: float
    elements: tuple[str, ...]

    def describe(self, limit: int = 5) -> str:
        lines = [f"{self.id} (weight {self.weight:g}): {self.title}"]
        lines += [f"    {element}" for element in self.elements[:limit]]
        if len(self.elements) > limit:
            lines.append(f"    ... and {len(self.elements) - limit} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    """What Lighthouse said of a page's accessibility: the score 0-100, the failing audits that
    count (``failing``) and those of weight 0 (``advice``: worth a look, not in the score)."""

    url: str
    score: int
    failing: tuple[Audit, ...]
    advice: tuple[Audit, ...]
    version: str
    browser: str

    def describe(self) -> str:
        lines = [f"Lighthouse {self.version} accessibility {self.score} for {self.url} ({self.browser})"]
        if self.failing:
            lines.append("failing audits:")
            lines += ["  " + audit.describe() for audit in self.failing]
        if self.advice:
            lines.append("failing audits of weight 0 (not in the score):")
            lines += ["  " + audit.describe() for audit in self.advice]
        return "\n".join(lines)


NODE = find_program("node", "nodejs")


def missing() -> str | None:
    """Why Lighthouse cannot run here, with what to do; ``None`` when it can."""
    if NODE is None:
        return ("Lighthouse needs Node.js, which is not installed: `make system-deps` as root installs Debian's "
                "nodejs and npm (`apt-get install nodejs npm`)")
    if CHROMIUM is None:
        return ("Lighthouse needs Chromium, which is not installed: `make system-deps` as root installs it "
                "(`apt-get install chromium`)")
    if not CLI.is_file():
        return (f"Lighthouse {VERSION} is not installed in {FOLDER.relative_to(ROOT)}/ (npm could not fetch it, or "
                f"`make test` was not run): `make lighthouse` installs it with npm")
    return None


def accessibility(url: str) -> Report:
    """Run Lighthouse's accessibility audit on ``url`` in headless Chromium; LighthouseError if it
    gives no score (its own error, a page that did not load)."""
    reason = missing()
    if reason is not None:
        raise LighthouseError(reason)
    with tempfile.TemporaryDirectory(prefix="leadkit-lighthouse-") as folder:
        output, config = Path(folder) / "report.json", Path(folder) / "config.json"
        config.write_text(json.dumps({"extends": "lighthouse:default", "settings": SETTINGS}))
        command = [str(NODE), str(CLI), url, f"--config-path={config}", "--output=json",
                   f"--output-path={output}", "--quiet", f"--chrome-path={CHROMIUM}",
                   f"--chrome-flags={' '.join(CHROME_FLAGS)}"]
        # Chromium's profile and Lighthouse's temporary files in this folder, removed afterwards.
        env = {**os.environ, "TMPDIR": folder, "CHROME_PATH": str(CHROMIUM)}
        try:
            run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=RUN_LIMIT, cwd=folder)
        except subprocess.TimeoutExpired as exc:
            raise LighthouseError(f"Lighthouse had not finished {url} after {RUN_LIMIT} s") from exc
        if run.returncode != 0 or not output.is_file():
            raise LighthouseError(f"Lighthouse failed on {url} (exit {run.returncode}): "
                                  f"{(run.stderr or run.stdout)[-3000:]}")
        return parse(json.loads(output.read_text(encoding="utf-8")))


def parse(lhr: dict[str, Any]) -> Report:
    """A :class:`Report` from Lighthouse's JSON result (the ``lhr``)."""
    url = lhr.get("finalDisplayedUrl") or lhr.get("requestedUrl") or "?"
    error = lhr.get("runtimeError")
    if error:
        raise LighthouseError(f"Lighthouse could not audit {url}: {error.get('code')}: {error.get('message')}")
    category = lhr["categories"]["accessibility"]
    if category.get("score") is None:
        raise LighthouseError(f"Lighthouse gave {url} no accessibility score: {lhr.get('runWarnings')}")
    failing: list[Audit] = []
    advice: list[Audit] = []
    for ref in category["auditRefs"]:
        audit = lhr["audits"][ref["id"]]
        if audit.get("scoreDisplayMode") not in ("binary", "numeric") or audit.get("score") is None:
            continue  # not applicable, manual, informative
        if audit["score"] >= 1:
            continue
        found = Audit(id=ref["id"], title=audit["title"], weight=ref.get("weight", 0), score=audit["score"],
                      elements=_elements(audit))
        (failing if found.weight > 0 else advice).append(found)
    failing.sort(key=lambda audit: -audit.weight)
    return Report(url=url, score=round(category["score"] * 100), failing=tuple(failing), advice=tuple(advice),
                  version=lhr.get("lighthouseVersion", "?"), browser=_browser(lhr))


def _browser(lhr: dict[str, Any]) -> str:
    """``HeadlessChrome/131.0.6778.85`` out of the user agent Lighthouse ran with."""
    agent = str(lhr.get("environment", {}).get("hostUserAgent", ""))
    return next((word for word in agent.split() if "Chrom" in word), agent or "?")


def _elements(audit: dict[str, Any]) -> tuple[str, ...]:
    """The elements a failing audit names, each as ``selector: snippet — explanation``."""
    elements = []
    for item in (audit.get("details") or {}).get("items", []):
        node = item.get("node") if isinstance(item, dict) else None
        if not isinstance(node, dict):
            continue
        explanation = " ".join(str(node.get("explanation", "")).split())
        if len(explanation) > 300:
            explanation = explanation[:299] + "…"
        elements.append(f"{node.get('selector', '?')}: {node.get('snippet', '')}"
                        + (f" — {explanation}" if explanation else ""))
    return tuple(elements)
