"""The failures a test can order from the sandbox network (:meth:`SandboxNetwork.fail_next`).

A :class:`Failure` is made once, checked, by :func:`failure`, and turned into the HTTP answer by
:func:`failure_response`: an HTML error page (``502``, ``503``, ``429``: ``Retry-After`` from
``retry_after``, always on a 429), ``garbage`` (HTTP 200 with an HTML body), ``hang`` (waits
``retry_after or 30`` seconds, or until the sandbox stops, then HTTP 504), ``drop`` (the sandbox
handles the call, then closes the connection without an answer), or an engine error code with any
of ``message``, ``bad`` and ``info``, in the field ``error_field`` (``error``, or ``error_text`` as
old engines answer).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from .engine import error

__all__ = ["Failure", "failure", "failure_response", "html_error"]

_PAGES = {"502": "Bad Gateway", "503": "Service Unavailable", "429": "Too Many Requests"}
TRANSPORT = frozenset({*_PAGES, "garbage", "hang", "drop"})
_CODE = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Failure:
    """One ordered failure: ``how``, and for an error code the engine's answer."""

    how: str
    answer: dict[str, Any]
    retry_after: int | None


def failure(how: str, *, message: str | None = None, bad: Iterable[str] = (), info: str | None = None,
            error_field: str = "error", retry_after: int | None = None) -> Failure:
    """A checked :class:`Failure`; ValueError names what makes no sense."""
    bad = list(bad)
    if how == "refuse":
        raise ValueError("'refuse' cannot be faked by a running server: stop() the sandbox")
    if how not in TRANSPORT and not _CODE.fullmatch(how):
        raise ValueError("how must be 502, 503, 429, garbage, hang, drop or an error code "
                         f"like db or ban (got {how!r})")
    if how in TRANSPORT and (message is not None or bad or info is not None or error_field != "error"):
        raise ValueError(f"message, bad, info and error_field go with an error code, not with {how!r}")
    if error_field not in ("error", "error_text"):
        raise ValueError(f"error_field must be 'error' or 'error_text' (got {error_field!r})")
    if retry_after is not None and retry_after < 0:
        raise ValueError(f"retry_after must be 0 or more seconds (got {retry_after!r})")
    answer = {} if how in TRANSPORT else error(how, message=message, bad=bad, info=info)
    if answer:
        answer[error_field] = answer.pop("error")
    return Failure(how, answer, retry_after)


def failure_response(failure: Failure, wake: threading.Event) -> Response:
    """The answer to a call that meets ``failure`` (not ``drop``: that one is answered, then cut)."""
    if failure.how == "hang":
        wake.wait(failure.retry_after or 30)
        return html_error(504, "Gateway Timeout")
    if failure.how == "garbage":
        return Response("<html>oops</html>", 200, mimetype="text/html")
    if failure.how in _PAGES:
        response = html_error(int(failure.how), _PAGES[failure.how])
        retry_after = 1 if failure.retry_after is None and failure.how == "429" else failure.retry_after
        if retry_after is not None:  # a 429 always says when to come back
            response.headers["Retry-After"] = str(retry_after)
        return response
    return Response(json.dumps(failure.answer), 200, mimetype="application/json")


def html_error(status: int, reason: str) -> Response:
    """An error page as a web server in front of the engine gives it."""
    body = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body>"
    return Response(body, status, mimetype="text/html")
