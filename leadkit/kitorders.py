"""A landing kit's orders: what leadkit adds to a kit's forms, and what a post from a kit wants back.

A kit's own order forms (:func:`leadkit.kitpage.find_forms`) are pointed at leadkit's order route
and carry, besides the form token, where they sit: ``lk_page`` (the page's path), ``lk_form``
(which form of the page) and ``lk_landing`` (the ``[[landing]]``), so that an order with errors is
answered with that same page, the message beside that form (:func:`refill_for`). A kit's
JavaScript posting to its own script (``$.post("order.php")``) wants JSON (:func:`is_script`).
Pure: plain values in, plain values out.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

from werkzeug.wrappers import Request, Response

from .config import Config
from .desk import OrderResult
from .formtoken import TOKEN_FIELD
from .kitpage import KitForm, Refill, Rewrite
from .pages import wants_json

__all__ = ["FORM_FIELD", "KitPages", "LANDING_FIELD", "LANGUAGE_FIELD", "PAGE_FIELD", "is_script", "kit_rewrite", "refill_for"]

#: The hidden fields leadkit adds to a landing kit's own forms: where the form sits and which it is,
#: and the page's language (its ``<html lang>``: the order's messages are written in it).
PAGE_FIELD, FORM_FIELD, LANDING_FIELD, LANGUAGE_FIELD = "lk_page", "lk_form", "lk_landing", "lk_lang"


class KitPages(Protocol):
    """The standalone server's landing kits (:class:`leadkit.server.Site`), as the middleware uses them."""

    def page_again(self, request: Request, landing: str, path: str, refill: Refill) -> Response | None: ...
    def thanks_path(self, landing: str) -> str | None: ...


def kit_rewrite(config: Config, *, action: str, path: str, host: str, landing: str, tags: Mapping[str, str],
                token: Callable[[], str], refill: Refill | None = None, base_href: str | None = None,
                language: str | None = None) -> Rewrite:
    """How a kit's page at ``path`` is rewritten for a visitor with ``tags``: its order forms post to
    ``action`` with a fresh ``token()`` each, where they sit and the visit's tags."""

    def hidden(form: KitForm) -> dict[str, str]:
        fields = {TOKEN_FIELD: token(), PAGE_FIELD: path, FORM_FIELD: str(form.index)}
        if landing:
            fields[LANDING_FIELD] = landing
        if language:
            fields[LANGUAGE_FIELD] = language
        names = {control.name for control in form.controls}
        # The visit's tags travel with the form too, for a browser that keeps no cookie.
        fields.update({name: value for name, value in tags.items() if value and name not in names})
        return fields

    site = config.site
    return Rewrite(action=action, hidden=hidden, tags=tags, tag_names=config.tags.names,
                   tag_aliases=config.tags.aliases, site_host=host, landing_hosts=site.landing_hosts,
                   aliases=site.form_aliases, refill=refill, base_href=base_href)


def refill_for(fields: Mapping[str, str], result: OrderResult) -> tuple[str, Refill] | None:
    """The page to show again and how, for a kit's form sent with errors; None when the post does not
    say where it came from (then leadkit's own form is shown)."""
    index, path = fields.get(FORM_FIELD, ""), fields.get(PAGE_FIELD, "")
    if not index.isdigit() or len(index) > 4 or not path.startswith("/") or len(path) > 500:
        return None
    reply = result.reply
    return path, Refill(form=int(index), values=dict(fields), errors=dict(reply.errors),
                        message=reply.message if reply.message and not reply.errors else None)


def is_script(request: Request) -> bool:
    """The post comes from a page's JavaScript (``fetch``, ``XMLHttpRequest``, jQuery), not a form: it
    wants an answer it can read (JSON), not a page."""
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode:
        return mode != "navigate"
    return request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest" or wants_json(request)
