"""Reading a posted order form strictly: what a browser sends, and nothing odd.

Browsers send ``application/x-www-form-urlencoded`` (or ``multipart/form-data``)
in UTF-8, each field once. Anything else (another content type, bytes that are
not UTF-8, NUL and control characters, a field sent twice, file uploads) is
refused with a :class:`FormError` that says what was wrong, for a ``4xx``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wrappers import Request

from .errors import FormError

__all__ = ["read_form"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_MAX_FIELDS = 200


def read_form(request: Request) -> dict[str, str]:
    """The posted fields as a plain dict, or :class:`FormError`."""
    if request.mimetype not in _FORM_TYPES:
        shown = request.mimetype or "none"
        raise FormError("form_type", 415, type=shown[:60])
    body = request.get_data(cache=True)  # the body size is capped before this (site.max_body)
    if request.mimetype == "multipart/form-data":
        pairs = _multipart_pairs(body, request.mimetype_params.get("boundary", ""))
    else:
        pairs = _urlencoded_pairs(body)
    return _single_values(pairs)


def _urlencoded_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=_MAX_FIELDS)
    except UnicodeDecodeError:
        raise FormError("form_encoding") from None
    except ValueError:
        raise FormError("form_too_many") from None


def _multipart_pairs(body: bytes, boundary: str) -> list[tuple[str, str]]:
    """The fields of a multipart body, each value decoded as strict UTF-8.

    werkzeug's own form parser replaces bad bytes with U+FFFD and lets a part without a name
    through as ``None``; reading the parts with its sans-IO decoder lets us refuse both.
    """
    if not boundary or len(boundary) > 200:
        raise FormError("form_malformed")
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"), max_parts=_MAX_FIELDS)
    decoder.receive_data(body)
    decoder.receive_data(None)
    pairs: list[tuple[str, str]] = []
    name: str | None = None
    chunks: list[bytes] = []
    try:
        while not isinstance(event := decoder.next_event(), Epilogue):
            if isinstance(event, File):
                raise FormError("form_files")
            if isinstance(event, Field):
                if not event.name:
                    raise FormError("form_malformed")
                name, chunks = event.name, []
            elif isinstance(event, Data) and name is not None:
                chunks.append(event.data)
                if not event.more_data:
                    pairs.append((name, b"".join(chunks).decode("utf-8")))
                    name = None
            elif isinstance(event, NeedData):  # cannot happen with the whole body given; never loop
                raise ValueError("truncated")
    except UnicodeDecodeError:
        raise FormError("form_encoding") from None
    except FormError:
        raise
    except Exception:  # werkzeug raises ValueError or RequestEntityTooLarge for a malformed body
        raise FormError("form_malformed") from None
    return pairs


def _single_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise FormError("form_twice", name=repr(name[:40]))
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise FormError("form_control", name=repr(_CONTROL.sub('?', name)[:40]))
        fields[name] = value
    return fields
