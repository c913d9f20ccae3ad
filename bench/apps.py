"""The applications the bench serves: the bare site, and the same site behind ``LeadKit``.

    gunicorn --chdir bench 'apps:bare'       # a fixed small page at /, a 2 KB page at /2k
    gunicorn --chdir bench 'apps:wrapped()'  # LeadKit(bare, config=$BENCH_CONFIG)
    gunicorn --chdir bench 'apps:layer()'    # controls: a do-nothing Python layer around bare,
    gunicorn --chdir bench 'apps:loaded()'   # and bare in a worker where LeadKit is made but not called

The bare site does as little as a WSGI application can, so that a ratio wrapped ÷ bare is leadkit's
own cost and nothing else's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PAGE", "PAGE_2K", "bare", "layer", "loaded", "wrapped"]

PAGE = b"<!doctype html><html lang=en><title>Landing</title><h1>The offer</h1><p>Order now.</p></html>\n"
_FILLER = b"<p>" + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2 + b"</p>\n"
#: A static page of exactly 2048 bytes: what ``GET {mount}/form`` is compared with.
PAGE_2K = (b"<!doctype html><html lang=en><title>Static</title><h1>A static page</h1>\n" + _FILLER * 20)[:2040] + \
    b"</html>\n"


def bare(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A fixed page at every path, 2 KB at ``/2k``."""
    body = PAGE_2K if environ.get("PATH_INFO") == "/2k" else PAGE
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def wrapped() -> WSGIApplication:
    """``LeadKit`` around :func:`bare`, configured by the file ``BENCH_CONFIG`` names (a factory, so that
    a server of the bare site never imports leadkit)."""
    from leadkit.middleware import LeadKit

    return LeadKit(bare, config=os.environ["BENCH_CONFIG"])


def layer() -> WSGIApplication:
    """A control: the least a Python WSGI middleware does (one call, one environ key) around :func:`bare`."""
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["layer"] = True
        return bare(environ, start_response)
    return app


def loaded() -> WSGIApplication:
    """A control: :func:`bare` answering every request in a worker where ``LeadKit`` is made (its modules,
    its journal, its relay thread) but never called: what having leadkit in the worker costs."""
    kit = wrapped()
    started: list[bool] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not started:
            kit.relay.ensure_running()  # type: ignore[attr-defined]  # as the first request through it would
            started.append(True)
        return bare(environ, start_response)
    return app
