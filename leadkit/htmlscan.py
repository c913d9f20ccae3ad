"""The low-level machinery of editing an HTML page in place: its start tags found, and edits made at their offsets.

:func:`scan` reads a page with the standard library's tokenizer, so ``<script>``
and ``<style>`` contents, comments and a quoted ``>`` in an attribute are what a
browser takes them for, and records each start and end tag with its offsets in
the page (a :class:`Document`). :class:`Edits` collects the changes planned for
the page (attributes of start tags set, flagged or removed; text inserted or
replaced) and applies them: inside a start tag only the attributes that change
are rewritten (a value is always escaped and double-quoted, so no value can add
an attribute; :func:`edited_tag`), and every other character of the page is
kept. A page the tokenizer cannot read is None from :func:`scan`; edits that
overlap raise :class:`Unreadable`. What to change is :mod:`leadkit.kitpage`'s
business. Pure: no I/O.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Iterator, Mapping, TypeAlias

__all__ = ["Unreadable", "StartTag", "EndTag", "Document", "scan", "Change", "edited_tag", "Edits"]

# -- the tokenizer ------------------------------------------------------------

# Elements whose content a browser reads as text: no tag inside them is a tag.
_RAW_TEXT = frozenset({"textarea", "title", "xmp", "iframe", "noembed", "noframes"})  # + script, style: the parser's


class Unreadable(Exception):
    """The tokenizer's view of the page does not match its text: leave the page as it is."""


@dataclass(eq=False)
class StartTag:
    """A start tag as written: its name and attributes as the tokenizer reads them, and where it is."""

    name: str
    attrs: list[tuple[str, str | None]]
    start: int
    end: int
    text: str
    self_closing: bool = False  # <input ... />, as the tokenizer read it
    option_text: list[str] = field(default_factory=list)  # an <option>'s text, its value without value=

    def has(self, name: str) -> bool:
        return any(attr == name for attr, _ in self.attrs)

    def get(self, name: str) -> str | None:
        """The first value of attribute ``name`` (as a browser reads it): None when absent or bare."""
        return next((value for attr, value in self.attrs if attr == name), None)


@dataclass(frozen=True)
class EndTag:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    events: tuple[StartTag | EndTag, ...]
    doctype_end: int | None

    def start_tags(self, *names: str) -> Iterator[StartTag]:
        return (event for event in self.events if isinstance(event, StartTag) and event.name in names)


class _Tokenizer(HTMLParser):
    """Records each start and end tag with its offsets in the page (from ``getpos()``)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self._page = page
        self._line_starts = [0, *(newline.end() for newline in re.finditer("\n", page))]  # as getpos() counts
        self.events: list[StartTag | EndTag] = []
        self.doctype_end: int | None = None
        self._option: StartTag | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record_start(tag, attrs, False)
        if tag in _RAW_TEXT:
            self.set_cdata_mode(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record_start(tag, attrs, True)

    def _record_start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        text, start = self.get_starttag_text() or "", self._offset()
        if not text or not self._page.startswith(text, start):
            raise Unreadable(f"start tag <{tag}> is not where the tokenizer says")
        started = StartTag(tag, attrs, start, start + len(text), text, self_closing)
        self.events.append(started)
        if tag in ("option", "optgroup", "select"):
            self._option = started if tag == "option" else None

    def handle_endtag(self, tag: str) -> None:
        start = self._offset()
        close = self._page.find(">", start + 1)
        if not self._page.startswith("</", start) or close < 0:
            raise Unreadable(f"end tag </{tag}> is not where the tokenizer says")
        self.events.append(EndTag(tag, start, close + 1))
        if tag in ("option", "optgroup", "select"):
            self._option = None

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option.option_text.append(data)

    def handle_decl(self, decl: str) -> None:
        if self.doctype_end is None and decl.lower().startswith("doctype"):
            close = self._page.find(">", self._offset())
            self.doctype_end = None if close < 0 else close + 1


def scan(page: str) -> Document | None:
    """The page's tags, or None when the tokenizer cannot read it."""
    tokenizer = _Tokenizer(page)
    try:
        tokenizer.feed(page)
        tokenizer.close()
    except Exception:  # the stdlib tokenizer raises AssertionError on some markup; a page must still be served
        return None
    return Document(tuple(tokenizer.events), tokenizer.doctype_end)


# -- edits --------------------------------------------------------------------

# The attribute syntax of html.parser (3.11): the same reading, so that a tag is edited where the
# tokenizer saw each attribute. Where a Python version reads a tag differently, the tag is rewritten whole.
_TAG_NAME = re.compile(r"<([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(r"""((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?(?:\s|/(?!>))*""")


@dataclass(frozen=True)
class _Attribute:
    name: str  # as written
    value: str | None
    start: int
    end: int  # after its value, before the space that follows


def _attributes(text: str) -> tuple[int, list[_Attribute]] | None:
    """Where the tag name ends, and each attribute of a start tag's ``text``."""
    name = _TAG_NAME.match(text)
    if name is None:
        return None
    found: list[_Attribute] = []
    position = name.end()
    while position < len(text) and (attribute := _ATTRIBUTE.match(text, position)) is not None:
        raw, rest, value = attribute.group(1, 2, 3)
        if not rest:
            value = None
        elif value[:1] == value[-1:] and value[:1] in ("'", '"') and len(value) > 1:
            value = value[1:-1]
        found.append(_Attribute(raw, html.unescape(value) if value else value, attribute.start(),
                                attribute.end(2) if rest else attribute.end(1)))
        position = attribute.end()
    return name.end(1), found


Change: TypeAlias = "str | bool"  # a value to write, True for a bare attribute, False to remove it


def _attribute_text(name: str, change: str | bool) -> str:
    return name if change is True else f'{name}="{html.escape(str(change), quote=True)}"'


def edited_tag(tag: StartTag, changes: Mapping[str, Change]) -> str:
    """``tag``'s text with ``changes`` made: only the attributes that change are rewritten."""
    scanned = _attributes(tag.text)
    if scanned is None or [(attr.name.lower(), attr.value) for attr in scanned[1]] != tag.attrs:
        return _rebuilt_tag(tag, changes)
    name_end, attributes = scanned
    pieces: list[str] = []
    position, done = 0, set()
    for number, attribute in enumerate(attributes):
        key = attribute.name.lower()
        if key not in changes:
            continue
        if key in done or changes[key] is False:  # removed, or a later duplicate of one rewritten
            pieces.append(tag.text[position:attributes[number - 1].end if number else name_end])
        else:
            pieces.append(tag.text[position:attribute.start] + _attribute_text(attribute.name, changes[key]))
        position = attribute.end
        done.add(key)
    tail = attributes[-1].end if attributes else name_end
    added = "".join(f" {_attribute_text(name, change)}" for name, change in changes.items()
                    if name not in done and change is not False)
    pieces.append(tag.text[position:tail] + added + tag.text[tail:])
    return "".join(pieces)


def _rebuilt_tag(tag: StartTag, changes: Mapping[str, Change]) -> str:
    """``tag`` written anew from what the tokenizer read, as ``<tag name="value" flag>``."""
    written: dict[str, Change] = {}
    for name, value in tag.attrs:
        if name not in written:
            written[name] = True if value is None else value
    written.update(changes)
    attributes = "".join(f" {_attribute_text(name, change)}" for name, change in written.items() if change is not False)
    return f"<{tag.name}{attributes}{'/>' if tag.self_closing else '>'}"


class Edits:
    """The changes planned for a page: attributes of start tags, text inserted or replaced."""

    def __init__(self) -> None:
        self._tags: dict[int, tuple[StartTag, dict[str, Change]]] = {}
        self._spans: list[tuple[int, int, int, str]] = []  # start, end, order of planning, text

    def _changes(self, tag: StartTag) -> dict[str, Change]:
        return self._tags.setdefault(tag.start, (tag, {}))[1]

    def set(self, tag: StartTag, name: str, value: str) -> None:
        if not tag.has(name) or tag.get(name) != value:
            self._changes(tag)[name] = value

    def flag(self, tag: StartTag, name: str, on: bool) -> None:
        if tag.has(name) != on:
            self._changes(tag)[name] = on

    def insert(self, position: int, text: str) -> None:
        self.replace(position, position, text)

    def replace(self, start: int, end: int, text: str) -> None:
        self._spans.append((start, end, len(self._spans), text))

    def apply(self, page: str) -> str:
        spans = [*self._spans, *((tag.start, tag.end, -1, edited_tag(tag, changes))
                                 for tag, changes in self._tags.values() if changes)]
        if not spans:
            return page
        pieces, position = [], 0
        for start, end, _, text in sorted(spans):
            if start < position:
                raise Unreadable("two edits of the same text")
            pieces.append(page[position:start] + text)
            position = end
        pieces.append(page[position:])
        return "".join(pieces)
