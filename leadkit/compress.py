"""leadkit's own pages gzip-compressed for a browser that accepts it.

:func:`gzip_response` takes a finished werkzeug response and the request it answers, and
compresses the body in place when all of these hold:

- the body is text leadkit writes (HTML, JSON, JavaScript, CSS) of at least :data:`MIN_SIZE` bytes,
  held in memory (not streamed, not ``direct_passthrough``) and not encoded already;
- the status has a body worth compressing (not ``1xx``, ``204``, ``206`` or ``304``) and the
  request is not ``HEAD``;
- the request's ``Accept-Encoding`` gives ``gzip`` (or ``x-gzip``, or ``*``) a quality above 0:
  a named coding's quality wins over ``*``'s, and no header at all means no compression.

Every response that could be compressed says ``Vary: Accept-Encoding`` (added to any ``Vary`` it
has), compressed or not, so that a cache never hands the gzip body to a browser that did not
ask for it. A strong ``ETag`` becomes weak on the compressed body, whose bytes differ.

Pure werkzeug and the standard library: no I/O, no configuration.
"""

from __future__ import annotations

import zlib

from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Request, Response

__all__ = ["COMPRESSIBLE", "MIN_SIZE", "accepts_gzip", "gzip_bytes", "gzip_choice", "gzip_response"]

#: The media types compressed: the text leadkit sends.
COMPRESSIBLE = frozenset({"text/html", "application/json", "text/javascript", "application/javascript",
                          "text/css"})

#: Bytes below which a body is sent as it is: gzip's header and the CPU cost outweigh the saving.
MIN_SIZE = 500

#: Statuses that never carry a body to compress (206: a byte range of the identity body).
_NO_BODY = frozenset({204, 206, 304})

#: zlib's level 1, as nginx's default: the form page (6.7 KB) is 2.65 KB at level 1 and 2.41 KB at
#: level 6, both well inside the first round trip, and compressed in 74 µs instead of 123 µs.
_LEVEL = 1
#: zlib's hash table (2 ** (_MEM_LEVEL + 9) bytes): 32 KB, where its default is 128 KB.
_MEM_LEVEL = 6


def gzip_bytes(data: bytes) -> bytes:
    """``data`` as a gzip member (no file name, no time: the same page, the same bytes), at level 1, with
    a window no larger than ``data`` needs. ``gzip.compress`` sets up zlib's full 256 KB of state for
    every page (a fresh ``mmap`` from the C library, and its page faults): about 120 µs for the form
    page on this machine, against about 33 µs with state sized to the page."""
    window = max(9, min(15, len(data).bit_length()))  # 2 ** window ≥ len(data): nothing lost to a short window
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, 16 + window, _MEM_LEVEL)
    return compressor.compress(data) + compressor.flush()


def gzip_choice(data: bytes, accept_encoding: str | None) -> tuple[bool, bytes | None]:
    """For a body that may be compressed (see :func:`_compressible`): whether its response varies by
    ``Accept-Encoding`` (a body under :data:`MIN_SIZE` is always sent as it is), and the gzip body to
    send, or None to send ``data`` as it is (not accepted, or not made smaller)."""
    if len(data) < MIN_SIZE:
        return False, None
    if not accepts_gzip(accept_encoding):
        return True, None
    compressed = gzip_bytes(data)
    return True, (compressed if len(compressed) < len(data) else None)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip: ``gzip`` or ``x-gzip`` with q > 0, or,
    when neither is named, ``*`` with q > 0. ``None`` or an empty header: no."""
    if not accept_encoding:
        return False
    named: float | None = None
    wildcard: float | None = None
    for coding, quality in parse_accept_header(accept_encoding):
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            wildcard = quality
    if named is not None:
        return named > 0
    return wildcard is not None and wildcard > 0


def _compressible(request: Request, response: Response) -> bool:
    """Whether this response's body may be compressed at all (whatever the browser accepts)."""
    return (request.method != "HEAD"
            and response.status_code >= 200 and response.status_code not in _NO_BODY
            and response.mimetype in COMPRESSIBLE
            and not response.direct_passthrough and not response.is_streamed
            and "Content-Encoding" not in response.headers)


def gzip_response(request: Request, response: Response) -> Response:
    """``response`` with its body gzip-compressed if ``request`` accepts gzip and the body is worth it
    (see the module's docstring); ``Vary: Accept-Encoding`` on every response that could be. The same
    response object is changed and returned."""
    if not _compressible(request, response):
        return response
    varies, compressed = gzip_choice(response.get_data(), request.environ.get("HTTP_ACCEPT_ENCODING"))
    if not varies:
        return response
    vary = response.headers.get("Vary")
    if not vary:  # the usual case, without parsing and writing back a header set
        response.headers["Vary"] = "Accept-Encoding"
    elif "*" not in response.vary:
        response.vary.add("Accept-Encoding")
    if compressed is None:
        return response
    response.set_data(compressed)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(compressed))
    etag, weak = response.get_etag()
    if etag is not None and not weak:
        response.set_etag(etag, weak=True)
    return response
