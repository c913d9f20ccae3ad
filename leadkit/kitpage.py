"""A landing kit's page, served as it is but for a few start tags: its forms, tag inputs and links.

Affiliates download landing kits from their network: ``index.html`` or
``index.php``, ``css/``, ``js/`` and the ``order.php`` the form posts to. The
standalone server serves such a page unedited except for the start tags
:func:`rewrite_page` changes:

1. an order form (a phone field, posting to the kit's own script) posts to
   leadkit, with the hidden inputs leadkit needs right after its start tag;
2. a hidden input named like a tag (``sub1``, or an alias such as ``clickid``)
   carries the visitor's captured tag, and loses an unfilled tracker macro
   (``{clickid}``) it would otherwise post;
3. links to landings carry the visitor's tags (see :mod:`leadkit.links`);
4. after a post with errors, the form shows what was typed, each refusal
   beside its field, and takes the focus;
5. a ``<base href>`` keeps the kit's relative paths working from another URL.

Also here: the forms of a page as leadkit sees them (:func:`find_forms`) and
which links lead to a landing (:func:`is_landing_link`). The page is read and
edited in place by :mod:`leadkit.htmlscan`: each change is made at the offsets
of one start tag, every other character of the page is kept, and a page the
tokenizer cannot read comes back unchanged. Field names and macros are
:mod:`leadkit.kitfields`'; PHP is removed by :mod:`leadkit.php`. Pure: no I/O.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Collection, Iterable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

from .guard import host_matches
from .htmlscan import Document, Edits, EndTag, StartTag, Unreadable, scan
from .kitfields import canonical_field, is_macro
from .tags import url_with_tags

__all__ = ["hostname", 
    "Control", "KitForm", "find_forms", "is_landing_link", "Refill", "Rewrite", "rewrite_page", "rewrite_links",
]

_NONE: Mapping[str, str] = MappingProxyType({})

# -- links --------------------------------------------------------------------

def is_landing_link(url: str, site_host: str, landing_hosts: Iterable[str]) -> bool:
    """Whether ``url`` (as written in a page served from ``site_host``) leads to a landing:
    a path on this site, or an http(s) URL to this host or a host of ``landing_hosts``."""
    return _leads_to_landing(url, hostname(site_host), landing_hosts)


def _leads_to_landing(url: str, site: str, landing_hosts: Iterable[str]) -> bool:
    url = url.strip()
    if not url or url.startswith("#"):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return False  # mailto:, tel:, javascript:, data: ...
    if not parts.netloc:
        return not parts.scheme  # a path on this site ("http:foo" is not a link we understand)
    if not host or "@" in parts.netloc:
        return False
    return host == site or any(host_matches(host, pattern) for pattern in landing_hosts)


def hostname(site_host: str) -> str:
    """The host name of a ``Host`` header value (``example.com:8000``, ``[::1]:8000``), lower-cased."""
    try:
        return (urlsplit(f"//{site_host}").hostname or "").lower()
    except ValueError:
        return ""


# -- forms --------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """A named form control: ``tag`` is input, select, textarea or button; ``type`` is lower-case
    (``text`` for an input without one, ``select-one``/``select-multiple``, ``textarea``, ``submit`` for a
    button); ``field`` is the order field its name holds (:func:`canonical_field`)."""

    name: str
    tag: str
    type: str
    field: str | None


@dataclass(frozen=True)
class KitForm:
    """A ``<form>`` of a kit's page, ``index`` its place among the page's forms (from 0).

    ``phone`` names its phone control (an order field ``phone``, or an
    ``<input type=tel>``); ``takes_orders`` when it has one and posts to the
    kit's own script (no action, ``#``, a ``.php`` path on this site, or the
    page itself): such a form is rewritten to post to leadkit.
    """

    index: int
    action: str | None
    method: str
    id: str | None
    controls: tuple[Control, ...]
    phone: str | None
    takes_orders: bool


@dataclass(frozen=True)
class _ControlTag:
    control: Control
    tag: StartTag
    close: EndTag | None  # </textarea>, </select>
    options: tuple[StartTag, ...]

    @property
    def after(self) -> int:
        return self.close.end if self.close is not None else self.tag.end


@dataclass(frozen=True)
class _Form:
    form: KitForm
    tag: StartTag
    controls: tuple[_ControlTag, ...]


_CONTROL_TAGS = ("input", "select", "textarea", "button")
_UNTYPED = frozenset({"hidden", "submit", "reset", "button", "image", "file", "checkbox", "radio", "password"})


def find_forms(page: str, page_path: str, aliases: Mapping[str, str] = _NONE, *,
               site_host: str = "") -> tuple[KitForm, ...]:
    """The forms of a kit's page served at ``page_path``; an action to ``site_host`` is on this site."""
    document = scan(page)
    return () if document is None else tuple(form.form for form in _forms(document, page_path, aliases, site_host))


def _forms(document: Document, page_path: str, aliases: Mapping[str, str], site_host: str) -> list[_Form]:
    form_tags: list[StartTag] = []
    by_id: dict[str, int] = {}
    members: list[tuple[int, StartTag, str | None, int | None]] = []  # index, tag, its form="", the open form
    open_form: int | None = None
    for index, event in enumerate(document.events):
        if isinstance(event, EndTag):
            open_form = None if event.name == "form" else open_form
        elif event.name == "form":  # a new <form> closes the one before
            open_form = len(form_tags)
            by_id.setdefault(event.get("id") or "", open_form)
            form_tags.append(event)
        elif event.name in _CONTROL_TAGS and event.get("name"):
            members.append((index, event, (event.get("form") or "\0") if event.has("form") else None, open_form))
    controls: list[list[_ControlTag]] = [[] for _ in form_tags]
    for index, tag, form_id, enclosing in members:
        # form="id" beats the enclosing form, even naming a form further down; naming none ("\0"), no form.
        owner = enclosing if form_id is None else by_id.get(form_id)
        if owner is not None:
            controls[owner].append(_control_tag(document.events, index, tag, aliases))
    site = hostname(site_host)
    return [_form(number, tag, tuple(owned), page_path, site)
            for number, (tag, owned) in enumerate(zip(form_tags, controls))]


def _control_tag(events: Sequence[StartTag | EndTag], index: int, tag: StartTag,
                 aliases: Mapping[str, str]) -> _ControlTag:
    name = tag.get("name") or ""
    kind = {"select": "select-multiple" if tag.has("multiple") else "select-one", "textarea": "textarea",
            "button": (tag.get("type") or "").strip().lower() or "submit"}.get(tag.name)
    if tag.name == "input":
        kind = (tag.get("type") or "").strip().lower() or "text"
    control = Control(name, tag.name, kind or "text", canonical_field(name, aliases))
    close: EndTag | None = None
    options: list[StartTag] = []
    if tag.name in ("select", "textarea"):
        for event in events[index + 1:]:
            if isinstance(event, EndTag) and event.name == tag.name:
                close = event
                break
            if isinstance(event, StartTag) and event.name == "option":
                options.append(event)
    return _ControlTag(control, tag, close, tuple(options))


def _form(index: int, tag: StartTag, controls: tuple[_ControlTag, ...], page_path: str, site: str) -> _Form:
    plain = tuple(control.control for control in controls)
    phone = _phone_control(plain)
    action = tag.get("action")
    form = KitForm(index=index, action=action, method=(tag.get("method") or "").strip().lower() or "get",
                   id=tag.get("id"), controls=plain, phone=phone,
                   takes_orders=phone is not None and _posts_to_kit(action, page_path, site))
    return _Form(form, tag, controls)


def _phone_control(controls: Sequence[Control]) -> str | None:
    typed = [control for control in controls if control.tag == "input" and control.type not in _UNTYPED]
    named = next((control.name for control in typed if control.field == "phone"), None)
    return named or next((control.name for control in typed if control.type == "tel"), None)


def _posts_to_kit(action: str | None, page_path: str, site: str) -> bool:
    """Whether a form with ``action`` posts to the kit's server script (or the page itself) on this site."""
    action = (action or "").strip()
    if not action or action.startswith("#"):
        return True
    try:
        parts = urlsplit(action)
        host = (parts.hostname or "").lower()
        page = urlsplit(page_path).path
        resolved = urljoin(page or "/", parts.path)
    except ValueError:
        return False
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return False  # javascript:, mailto:
    if (parts.scheme or parts.netloc) and (not site or host != site or "@" in parts.netloc):
        return False
    path = parts.path or ("/" if parts.netloc else "")
    if not path or path.lower().endswith(".php"):
        return True  # "?step=2" is the page itself
    last_segment = page.rsplit("/", 1)[-1]
    return path == page or resolved == page or (bool(last_segment) and path == last_segment)


# -- rewriting ----------------------------------------------------------------

@dataclass(frozen=True)
class Refill:
    """A form shown again after a post with errors: ``values`` by control name as posted, ``errors`` by order
    field (``"phone": "Enter a phone from Poland"``), ``message`` a sentence for the whole form."""

    form: int
    values: Mapping[str, str]
    errors: Mapping[str, str]
    message: str | None


@dataclass(frozen=True)
class Rewrite:
    """What :func:`rewrite_page` does to a kit's page for one visitor.

    Order forms post to ``action`` with the ``hidden(form)`` inputs added;
    ``tags`` (by tag name) fill the hidden inputs named in ``tag_names`` or
    ``tag_aliases`` and ride on links to this ``site_host`` and
    ``landing_hosts``; ``aliases`` are ``site.form_aliases``; ``refill`` shows
    a refused post again; ``base_href`` adds a ``<base>`` when the page has none.
    """

    action: str
    hidden: Callable[[KitForm], Mapping[str, str]]
    tags: Mapping[str, str]
    tag_names: Collection[str]
    tag_aliases: Mapping[str, str] = field(default_factory=dict)
    site_host: str = ""
    landing_hosts: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    refill: Refill | None = None
    base_href: str | None = None


_ERROR_STYLE = "display:block;margin:4px 0 8px;color:#b91c1c;font-weight:600;font-size:14px;line-height:1.3"
_MESSAGE_STYLE = ("margin:0 0 10px;padding:8px 12px;border-left:4px solid #dc2626;background:#fef2f2;"
                  "color:#991b1b;font-size:15px")
_NEVER_REFILLED = frozenset({"hidden", "submit", "reset", "button", "image", "password", "file"})
_NOT_TYPED_IN = frozenset({"hidden", "submit", "reset", "button", "image"})


def rewrite_page(page: str, page_path: str, rewrite: Rewrite) -> str:
    """``page`` (a kit's page served at ``page_path``) with its order forms, tag inputs, links, a refused
    post and ``<base>`` rewritten as ``rewrite`` says; every other character as it was."""
    document = scan(page)
    if document is None:
        return page
    edits = Edits()
    forms = _forms(document, page_path, rewrite.aliases, rewrite.site_host)
    for form in forms:
        if form.form.takes_orders:
            _send_to_leadkit(form, rewrite, edits)
    _fill_tag_inputs(document, rewrite, edits)
    _add_tags_to_links(document, rewrite.tags, rewrite.site_host, rewrite.landing_hosts, edits)
    if rewrite.refill is not None and 0 <= rewrite.refill.form < len(forms):
        _refill(document, forms[rewrite.refill.form], rewrite.refill, edits)
    if rewrite.base_href:
        _add_base(document, rewrite.base_href, edits)
    try:
        return edits.apply(page)
    except Unreadable:
        return page


def rewrite_links(page: str, tags: Mapping[str, str], site_host: str, landing_hosts: Iterable[str] = ()) -> str:
    """``page`` with ``tags`` added to its links to landings (rule 3 of :func:`rewrite_page` alone)."""
    if not any(tags.values()):
        return page
    document = scan(page)
    if document is None:
        return page
    edits = Edits()
    _add_tags_to_links(document, tags, site_host, landing_hosts, edits)
    try:
        return edits.apply(page)
    except Unreadable:
        return page


def _hidden_input(name: str, value: str) -> str:
    return f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'


def _send_to_leadkit(form: _Form, rewrite: Rewrite, edits: Edits) -> None:
    edits.set(form.tag, "action", rewrite.action)
    edits.set(form.tag, "method", "post")
    hidden = rewrite.hidden(form.form)
    if hidden:
        edits.insert(form.tag.end, "".join(_hidden_input(name, value) for name, value in hidden.items()))


def _fill_tag_inputs(document: Document, rewrite: Rewrite, edits: Edits) -> None:
    for tag in document.start_tags("input"):
        name = tag.get("name") or ""
        if (tag.get("type") or "").strip().lower() != "hidden" or not name:
            continue
        tag_name = name if name in rewrite.tag_names else rewrite.tag_aliases.get(name)
        if tag_name is None:
            continue
        captured = rewrite.tags.get(tag_name, "")
        if captured:
            edits.set(tag, "value", captured)
        elif is_macro(tag.get("value") or ""):
            edits.set(tag, "value", "")


def _add_tags_to_links(document: Document, tags: Mapping[str, str], site_host: str,
                       landing_hosts: Iterable[str], edits: Edits) -> None:
    if not any(tags.values()):
        return
    site, hosts = hostname(site_host), tuple(landing_hosts)
    for tag in document.start_tags("a", "area"):
        href = tag.get("href")
        if href is not None and _leads_to_landing(href, site, hosts):
            edits.set(tag, "href", url_with_tags(href, tags))


def _refill(document: Document, form: _Form, refill: Refill, edits: Edits) -> None:
    for control in form.controls:
        value = refill.values.get(control.control.name)
        if value is not None:
            _refill_control(control, value, edits)
    errored = _show_errors(form, refill, edits)
    placed = {field_name for field_name, _ in errored}
    unplaced = [text for field_name, text in refill.errors.items() if field_name not in placed]
    message = " ".join(text for text in (refill.message, *unplaced) if text)
    if message:
        edits.insert(form.tag.end, f'<div class="lk-kit-message" role="alert" style="{_MESSAGE_STYLE}">'
                                   f'{html.escape(message)}</div>')
    typed = [control for control in form.controls if control.control.type not in _NOT_TYPED_IN]
    focus = errored[0][1] if errored else (typed[0] if message and typed else None)
    if focus is not None:
        for event in document.events:  # one autofocus in the page, or the browser picks
            if isinstance(event, StartTag):
                edits.flag(event, "autofocus", event is focus.tag)


def _refill_control(control: _ControlTag, value: str, edits: Edits) -> None:
    """``control`` showing ``value``, as posted."""
    kind = control.control.type
    if control.tag.name == "input" and kind in ("checkbox", "radio"):
        own = control.tag.get("value")
        edits.flag(control.tag, "checked", (own if own is not None else "on") == value)
    elif control.tag.name == "input" and kind not in _NEVER_REFILLED:
        edits.set(control.tag, "value", value)
    elif control.tag.name == "textarea" and control.close is not None:
        leading = "\n" if value.startswith(("\n", "\r")) else ""  # a browser drops the first newline
        edits.replace(control.tag.end, control.close.start, leading + html.escape(value))
    elif control.tag.name == "select":
        chosen = next((option for option in control.options if _option_value(option) == value), None)
        if chosen is not None:
            for option in control.options:
                edits.flag(option, "selected", option is chosen)


def _option_value(option: StartTag) -> str:
    value = option.get("value")
    if value is None and not option.has("value"):
        return " ".join("".join(option.option_text).split())
    return value or ""


def _show_errors(form: _Form, refill: Refill, edits: Edits) -> list[tuple[str, _ControlTag]]:
    """Each error beside the first visible control of its field; the (field, control) pairs shown."""
    shown: list[tuple[str, _ControlTag]] = []
    for control in form.controls:
        field_name = "phone" if control.control.name == form.form.phone else control.control.field
        if (field_name is None or field_name not in refill.errors or control.control.type == "hidden"
                or any(field_name == done for done, _ in shown)):
            continue
        error_id = f"lk-kit-error-{form.form.index}-{field_name}"
        described = (control.tag.get("aria-describedby") or "").split()  # the kit's own hints stay
        edits.set(control.tag, "aria-invalid", "true")
        edits.set(control.tag, "aria-describedby", " ".join([*(d for d in described if d != error_id), error_id]))
        edits.insert(control.after, f'<span class="lk-kit-error" id="{html.escape(error_id)}" role="alert" '
                                    f'style="{_ERROR_STYLE}">{html.escape(refill.errors[field_name])}</span>')
        shown.append((field_name, control))
    return shown


def _add_base(document: Document, href: str, edits: Edits) -> None:
    if any(document.start_tags("base")):
        return
    head = next(document.start_tags("head"), None) or next(document.start_tags("html"), None)
    # Nothing may come before a doctype: a browser would render the page in quirks mode.
    position = head.end if head is not None else document.doctype_end or 0
    edits.insert(position, f'<base href="{html.escape(href, quote=True)}">')
