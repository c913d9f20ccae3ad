"""A landing kit as downloaded: which file a URL names, what kind of page it is, and what leadkit makes of it.

Affiliates download their landings from the network as a folder: ``index.html`` or
``index.php``, ``css/``, ``js/``, ``img/``, a ``getform.php`` (or ``order.php``,
``api.php``, ``send.php``) the form posts to, holding the API key, a backfix page
(``domonetka/``, ``back/``) and a thank-you page (``ok.php``, ``success.html``).
:class:`KitFolder` reads such a folder without changing it:

- a URL path names a file (``/`` is ``index.html``, else ``index.php``; ``/promo`` is
  ``promo.html`` or ``promo/index.html``...), never a hidden one (:func:`is_hidden`);
- a page is ``html`` (served as it is, its forms, links and hidden tags rewritten by
  :mod:`leadkit.kitpage`), ``jinja`` (``*.jinja``, ``*.j2`` and ``site.jinja`` globs:
  rendered first), or ``php``: a ``.php`` file whose text without its PHP blocks is a page
  (``<html``, ``<body``, ``<form``...); a ``.php`` file that is only code (``getform.php``)
  is never served, in any form;
- the kit's thank-you page: ``site.thanks``, else the first of :data:`THANKS_NAMES` it has;
- :meth:`KitFolder.survey` says all of it for ``leadkit check``.

Reads files; no requests, no rendering.
"""

from __future__ import annotations

import codecs
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping

from .kitpage import KitForm, find_forms
from .php import PhpBlock, strip_php

__all__ = ["HIDDEN_PATTERNS", "JINJA_PATTERNS", "THANKS_NAMES", "KitFolder", "Page", "PageSurvey", "Survey", "charset_of", "html_language", "is_hidden", "read_text"]

#: File names (lower-cased) under ``site.pages`` that are never served as they are, in any folder:
#: configuration and secrets, server code, databases with their companions, logs, editors' and tools'
#: leftovers. A ``.php`` page is served only with its PHP removed (:meth:`KitFolder.php_page`).
HIDDEN_PATTERNS = (
    "*.toml", "*.env", "*.ini", "*.cfg", "*.conf", "*.pem", "*.key",
    "*.py", "*.pyc", "*.pyo", "*.php", "*.phtml", "*.php[3-8]", "*.inc", "*.sql",
    "*.db", "*.sqlite*", "*-wal", "*-shm", "*-journal",
    "*.log", "*.log.*", "*.bak", "*~", "*.swp", "*.orig",
)
_HIDDEN_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in HIDDEN_PATTERNS))
#: Pages that are Jinja templates whatever ``site.jinja`` says.
JINJA_PATTERNS = ("*.jinja", "*.j2")
#: Where kits keep their thank-you page, in the order leadkit looks for it.
THANKS_NAMES = (
    "ok.php", "ok.html", "success.php", "success.html", "confirm.php", "confirm.html", "thanks.php", "thanks.html",
    "thankyou.php", "thankyou.html", "thank-you.html", "thank_you.html", "spasibo.php", "spasibo.html",
    "ok/index.html", "ok/index.php", "success/index.html", "success/index.php", "thanks/index.html",
    "thanks/index.php",
)
_PAGE_SUFFIXES = (".html", ".htm")
_INDEX_NAMES = ("index.html", "index.htm", "index.jinja", "index.html.jinja", "index.j2", "index.html.j2", "index.php")
_LOOKS_LIKE_A_PAGE = re.compile(r"<(?:!doctype|html|head|body|form|div|p|h[1-6]|section|main)\b", re.IGNORECASE)


def is_hidden(relative: str) -> bool:
    """Whether a path under ``site.pages`` is never served as it is: a dot in front of any part,
    or a file name of :data:`HIDDEN_PATTERNS`."""
    parts = PurePosixPath(relative).parts
    return any(p.startswith(".") for p in parts) or bool(parts and _HIDDEN_NAME.match(parts[-1].lower()))


@dataclass(frozen=True)
class Page:
    """A file under the folder that a URL names: ``name`` relative to the folder, ``kind`` one of
    ``static``, ``html``, ``jinja``, ``php``."""

    name: str
    kind: str
    path: Path
    #: A ``php`` page's text without its PHP, what was removed and its encoding: read once, when the
    #: file was found to be a page.
    php: tuple[str, tuple[PhpBlock, ...], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PageSurvey:
    """What ``leadkit check`` says of one page: its forms, and the PHP it hides (``php`` pages)."""

    name: str
    kind: str
    forms: tuple[KitForm, ...] = ()
    php: tuple[PhpBlock, ...] = ()


@dataclass(frozen=True)
class Survey:
    """A whole kit as ``leadkit check`` shows it."""

    folder: Path
    pages: tuple[PageSurvey, ...]
    thanks: str | None
    thanks_detected: bool
    hidden: tuple[str, ...]
    scripts: tuple[str, ...] = field(default=())  # .php files that are code only: posted to, never served


class KitFolder:
    """One folder of landing pages. ``private`` files (the configuration, the journal) are never served;
    ``jinja`` globs name the pages that are Jinja templates; ``thanks`` is ``site.thanks``."""

    def __init__(self, folder: Path, *, jinja: Iterable[str] = (), thanks: str | None = None,
                 private: Iterable[Path] = ()) -> None:
        self.folder = folder.resolve()
        self.jinja = (*JINJA_PATTERNS, *jinja)
        self.private = frozenset(p.resolve() for p in private)
        self.thanks_detected = thanks is None
        self.thanks = thanks if thanks is not None else self._detect_thanks()

    # -- which file a URL names ------------------------------------------------

    def resolve(self, path: str) -> Page | None:
        """The page a URL path (relative to this folder's prefix) names, or None."""
        parts = PurePosixPath(path.lstrip("/")).parts
        if any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
            return None
        relative = "/".join(parts)
        folder_names = [f"{relative}/{index}" if relative else index for index in _INDEX_NAMES]
        if path.endswith("/") or not relative:
            candidates = folder_names
        else:
            candidates = [relative, *(f"{relative}{suffix}" for suffix in (".html", ".htm", ".jinja", ".php")),
                          *folder_names]
        for candidate in candidates:
            page = self.page(candidate)
            if page is not None:
                return page
        return None

    def page(self, name: str) -> Page | None:
        """The file ``name`` (relative to the folder) as it would be served, or None."""
        target = (self.folder / name).resolve()
        if not target.is_file() or not target.is_relative_to(self.folder) or target in self.private:
            return None
        real = target.relative_to(self.folder).as_posix()
        if self._is_php(name) and self._is_php(real):
            php = self.php_page(target)
            return Page(name, "php", target, php) if php is not None else None
        if is_hidden(name) or is_hidden(real):
            return None
        lower = name.lower()
        if any(fnmatch.fnmatch(lower, pattern.lower()) for pattern in self.jinja):
            return Page(name, "jinja", target)
        if lower.endswith(_PAGE_SUFFIXES):
            return Page(name, "html", target)
        return Page(name, "static", target)

    @staticmethod
    def _is_php(name: str) -> bool:
        return name.lower().endswith(".php") and not any(p.startswith(".") for p in PurePosixPath(name).parts)

    def php_page(self, target: Path) -> tuple[str, tuple[PhpBlock, ...], str] | None:
        """A ``.php`` file's text without its PHP blocks, what was removed and the file's encoding, when
        that text is a page; None for a file of code only (a form handler, a config holding the key):
        never served."""
        read = read_text(target)
        if read is None:
            return None
        page, blocks = strip_php(read[0])
        return (page, blocks, read[1]) if _LOOKS_LIKE_A_PAGE.search(page) else None

    def _detect_thanks(self) -> str | None:
        return next((name for name in THANKS_NAMES if self.page(name) is not None), None)

    # -- what leadkit check says ------------------------------------------------

    def survey(self, aliases: Mapping[str, str] = {}) -> Survey:
        """Every page with its forms and the PHP it loses, the thank-you page, what is never served."""
        pages, hidden, scripts = self._walk()
        return Survey(self.folder, tuple(self._page_survey(page, aliases) for page in pages), self.thanks,
                      self.thanks_detected, tuple(hidden), tuple(scripts))

    def unserved(self) -> tuple[list[str], list[str]]:
        """What is never served: hidden files (a dot-folder as one entry), and the kit's ``.php``
        scripts of code only, relative; without reading the pages' forms (for start-up)."""
        _, hidden, scripts = self._walk()
        return hidden, scripts

    def _walk(self) -> tuple[list[Page], list[str], list[str]]:
        """The folder's pages (html, php, jinja), hidden files and code-only ``.php`` scripts, sorted."""
        pages: list[Page] = []
        hidden: list[str] = []
        scripts: list[str] = []
        for root, folders, files in os.walk(self.folder):
            here = Path(root).relative_to(self.folder)
            for name in sorted(f for f in folders if f.startswith(".")):
                folders.remove(name)  # hidden whole: not walked, named once
                hidden.append(f"{(here / name).as_posix()}/")
            folders.sort()
            for name in sorted(files):
                relative = (here / name).as_posix()
                page = self.page(relative)
                if page is None:
                    (scripts if self._is_php(relative) else hidden).append(relative)
                elif page.kind != "static":
                    pages.append(page)
        return pages, hidden, scripts

    def _page_survey(self, page: Page, aliases: Mapping[str, str]) -> PageSurvey:
        blocks: tuple[PhpBlock, ...] = ()
        if page.kind == "php":
            text, blocks, _ = page.php or ("", (), "")
        else:
            text = (read_text(page.path) or ("", ""))[0]
        return PageSurvey(page.name, page.kind, find_forms(text, "/" + page.name, aliases), blocks)


def read_text(path: Path) -> tuple[str, str] | None:
    """A page's text and the encoding to send it back in: the one its ``<meta charset>`` declares
    (kits for Poland are often saved in windows-1250, old Russian ones in windows-1251), else UTF-8
    (a byte-order mark kept), else windows-1251; None when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig", "replace"), "utf-8-sig"
    declared = _DECLARED_CHARSET.search(data[:4096])
    if declared:
        try:
            name = codecs.lookup(declared.group(1).decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            name = ""
        if name and name not in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):  # a page in them is no ASCII
            return data.decode(name, "replace"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1251", "replace"), "cp1251"


def html_language(page: str) -> str | None:
    """The language a page declares in its ``<html lang>`` ("pl", "pt-BR"), or None."""
    match = _HTML_LANG.search(page[:20000])
    return match.group(1) if match else None


_HTML_LANG = re.compile(r"""<html\b[^>]*?\slang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""", re.IGNORECASE)


def charset_of(encoding: str) -> str:
    """The name to put in ``Content-Type`` for a Python codec name (``cp1250``: ``windows-1250``)."""
    if encoding.startswith("utf-8"):
        return "utf-8"
    if re.fullmatch(r"cp125[0-8]", encoding):
        return f"windows-{encoding[2:]}"
    if encoding.startswith("iso8859-"):
        return f"iso-8859-{encoding[8:]}"
    return encoding.replace("_", "-")


_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.IGNORECASE)
