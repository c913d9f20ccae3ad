"""leadkit.compress: which responses are gzip-compressed, for which requests, and with which headers.

Unit tests on werkzeug requests and responses; the end-to-end check that leadkit's own pages go out
compressed over a real socket is at the end of this module.
"""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from leadkit.compress import MIN_SIZE, accepts_gzip, gzip_bytes, gzip_response

PAGE = "<!doctype html><title>Order</title>" + "<p>Five herbs, one tea.</p>" * 60  # well over MIN_SIZE
JSON = '{"status": "ok", "html": "' + "<p>x</p>" * 120 + '"}'


def request(accept_encoding: str | None = "gzip, deflate, br", method: str = "GET") -> Request:
    headers = [] if accept_encoding is None else [("Accept-Encoding", accept_encoding)]
    return Request(EnvironBuilder(path="/leadkit/form", method=method, headers=headers).get_environ())


def html(body: str = PAGE, status: int = 200, **kwargs: object) -> Response:
    return Response(body, status, mimetype="text/html", **kwargs)  # type: ignore[arg-type]


def test_an_html_page_is_compressed_for_a_browser_that_accepts_gzip() -> None:
    response = gzip_response(request(), html())
    body = response.get_data()
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).decode() == PAGE
    assert response.headers["Content-Length"] == str(len(body)) and len(body) < len(PAGE.encode())
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8", "the type is the page's, unchanged"


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 6700, 40_000, 70_000, 300_000])
def test_gzip_bytes_gives_any_body_back_whole_and_as_small_as_gzip_does(size: int) -> None:
    """The window is sized to the body: every size round-trips through gzip, the same body gives the
    same bytes, and the body is as small as gzip.compress at level 1 makes it (within 1 %)."""
    rng = random.Random(size)
    words = ["<p>", "</p>", "order", "заказ", "phone", "<input name=phone>", "\n", "tea", "herbs"]
    data = "".join(rng.choice(words) for _ in range(size)).encode()[:size]
    packed = gzip_bytes(data)
    assert gzip.decompress(packed) == data
    assert gzip_bytes(data) == packed
    assert len(packed) <= len(gzip.compress(data, compresslevel=1, mtime=0)) * 1.01 + 2


@pytest.mark.parametrize("mimetype", ["text/html", "application/json", "text/javascript", "text/css"])
def test_each_text_type_leadkit_sends_is_compressed(mimetype: str) -> None:
    response = gzip_response(request(), Response(JSON, 200, mimetype=mimetype))
    assert response.headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(response.get_data()).decode() == JSON


@pytest.mark.parametrize("mimetype", ["image/png", "application/octet-stream", "text/plain", "application/pdf"])
def test_other_types_are_left_alone(mimetype: str) -> None:
    response = gzip_response(request(), Response(PAGE, 200, mimetype=mimetype))
    assert "Content-Encoding" not in response.headers and "Vary" not in response.headers
    assert response.get_data().decode() == PAGE


def test_a_small_body_is_sent_as_it_is() -> None:
    small = "x" * (MIN_SIZE - 1)
    response = gzip_response(request(), html(small))
    assert "Content-Encoding" not in response.headers and response.get_data().decode() == small
    assert "Vary" not in response.headers, "a body this small is never compressed, whatever the browser says"
    assert gzip_response(request(), html("x" * MIN_SIZE)).headers.get("Content-Encoding") == "gzip"


@pytest.mark.parametrize("accept_encoding", [
    "gzip", "GZIP", "x-gzip", "deflate, gzip;q=0.5", "*", "br;q=1.0, *;q=0.1", "identity, gzip;q=0.001",
    "gzip;q=1, *;q=0", " gzip ; q=0.8 ",
])
def test_accept_encoding_that_takes_gzip(accept_encoding: str) -> None:
    assert accepts_gzip(accept_encoding)
    response = gzip_response(request(accept_encoding), html())
    assert response.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("accept_encoding", [
    None, "", "identity", "br", "deflate, br", "gzip;q=0", "gzip;q=0.0, deflate", "*;q=0", "gzip;q=0, *",
    "x-gzip;q=0, *;q=1", "gzipped",
])
def test_accept_encoding_that_refuses_gzip_gets_the_page_uncompressed(accept_encoding: str | None) -> None:
    assert not accepts_gzip(accept_encoding)
    response = gzip_response(request(accept_encoding), html())
    assert "Content-Encoding" not in response.headers
    assert response.get_data().decode() == PAGE and response.headers["Content-Length"] == str(len(PAGE))
    assert response.headers["Vary"] == "Accept-Encoding", "a cache must not hand this copy to a gzip browser, nor the reverse"


def test_vary_is_added_to_the_one_the_response_has() -> None:
    response = gzip_response(request(), html(headers={"Vary": "Origin, Cookie"}))
    assert [v.strip() for v in response.headers["Vary"].split(",")] == ["Origin", "Cookie", "Accept-Encoding"]
    assert len(response.headers.getlist("Vary")) == 1
    again = gzip_response(request(), html(headers={"Vary": "accept-encoding"}))
    assert again.headers["Vary"].lower() == "accept-encoding", "not named twice"
    star = gzip_response(request(), html(headers={"Vary": "*"}))
    assert star.headers["Vary"] == "*" and star.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_are_left_alone(status: int) -> None:
    response = gzip_response(request(), html("", status))
    assert "Content-Encoding" not in response.headers and "Vary" not in response.headers


def test_a_partial_content_range_is_left_alone() -> None:
    response = gzip_response(request(), html(status=206, headers={"Content-Range": f"bytes 0-{len(PAGE) - 1}/9999"}))
    assert "Content-Encoding" not in response.headers and response.get_data().decode() == PAGE


@pytest.mark.parametrize("status", [404, 405, 413, 422, 503])
def test_error_pages_are_compressed_too(status: int) -> None:
    response = gzip_response(request(), html(status=status))
    assert response.status_code == status and response.headers["Content-Encoding"] == "gzip"


def test_head_is_left_alone() -> None:
    response = gzip_response(request(method="HEAD"), html())
    assert "Content-Encoding" not in response.headers and response.headers["Content-Length"] == str(len(PAGE))


def test_a_streamed_response_is_left_alone() -> None:
    def chunks() -> object:
        yield PAGE.encode()

    streamed = Response(chunks(), 200, mimetype="text/html")  # type: ignore[arg-type]
    assert streamed.is_streamed
    response = gzip_response(request(), streamed)
    assert "Content-Encoding" not in response.headers
    assert b"".join(response.iter_encoded()) == PAGE.encode(), "the generator was not consumed"


def test_a_direct_passthrough_response_is_left_alone() -> None:
    response = Response([PAGE.encode()], 200, mimetype="text/html", direct_passthrough=True)
    assert gzip_response(request(), response).headers.get("Content-Encoding") is None
    assert response.response == [PAGE.encode()]


def test_an_already_encoded_body_is_left_alone() -> None:
    body = gzip.compress(PAGE.encode())
    response = gzip_response(request(), Response(body, 200, mimetype="text/html", headers={"Content-Encoding": "gzip"}))
    assert response.get_data() == body, "not compressed twice"
    response = gzip_response(request(), Response(PAGE, 200, mimetype="text/html", headers={"Content-Encoding": "br"}))
    assert response.headers["Content-Encoding"] == "br" and response.get_data().decode() == PAGE


def test_a_body_gzip_cannot_shrink_is_sent_as_it_is() -> None:
    data = random.Random(12).randbytes(4096)  # no redundancy: gzip only adds its header
    response = gzip_response(request(), Response(data, 200, mimetype="text/html"))
    assert "Content-Encoding" not in response.headers and response.get_data() == data
    assert response.headers["Vary"] == "Accept-Encoding"


def test_a_strong_etag_becomes_weak_once_compressed() -> None:
    response = html()
    response.set_etag("v1")
    assert gzip_response(request(), response).headers["ETag"] == 'W/"v1"'
    weak = html()
    weak.set_etag("v2", weak=True)
    assert gzip_response(request(), weak).headers["ETag"] == 'W/"v2"'
    plain = html()
    plain.set_etag("v3")
    assert gzip_response(request("identity"), plain).headers["ETag"] == '"v3"', "uncompressed: the same bytes"


def test_the_same_page_compresses_to_the_same_bytes() -> None:
    first = gzip_response(request(), html()).get_data()
    assert gzip_response(request(), html()).get_data() == first, "no timestamp in the gzip header"


def test_the_response_served_over_wsgi_is_the_compressed_one() -> None:
    from werkzeug.test import Client

    app = lambda environ, start_response: gzip_response(Request(environ), html())(environ, start_response)  # noqa: E731
    answer = Client(app).get("/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert int(answer.headers["Content-Length"]) == len(answer.data)
    assert gzip.decompress(answer.data).decode() == PAGE


# -- end to end: leadkit's own pages over a real socket ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_leadkit_s_own_pages_go_out_gzip_compressed_when_the_browser_accepts_it(tmp_path: Path) -> None:
    from servers import leadkit_process
    from support import KEY, SECRET

    pages = tmp_path / "landing"
    pages.mkdir()
    (pages / "index.html").write_text("<!doctype html><html lang=en><meta charset=utf-8><title>Tea</title><h1>Tea</h1>")
    config = tmp_path / "leadkit.toml"
    config.write_text('[network]\napi = "http://127.0.0.1:9/api"\nrole = "wm"\n'
                      '[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                      f'[site]\npages = "{pages}"\n[journal]\npath = "{tmp_path / "journal" / "leadkit.db"}"\n')
    with leadkit_process("serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                         env={"LEADKIT_KEY": KEY, "LEADKIT_SECRET": SECRET}) as (base, _):
        for path in ("leadkit/form", "leadkit/thanks", "leadkit/embed.js", "leadkit/nowhere"):
            plain = requests.get(base + path, headers={"Accept-Encoding": "identity"}, timeout=10)
            assert "Content-Encoding" not in plain.headers, path
            if len(plain.content) < MIN_SIZE:
                continue
            packed = requests.get(base + path, headers={"Accept-Encoding": "gzip, deflate, br"}, timeout=10,
                                  stream=True)
            raw = packed.raw.read(decode_content=False)
            assert packed.headers.get("Content-Encoding") == "gzip", (
                f"/{path} is not gzip-compressed: wire leadkit.compress.gzip_response into LeadKit._own "
                "(middleware.py), around every response of leadkit's own routes")
            assert "accept-encoding" in packed.headers.get("Vary", "").lower(), path
            assert int(packed.headers["Content-Length"]) == len(raw) < len(plain.content), path
            assert fresh(gzip.decompress(raw).decode()) == fresh(plain.text), path


def fresh(page: str) -> str:
    """A page without what is new at each request: the CSP nonce, the form token."""
    page = re.sub(r'nonce="[^"]*"', 'nonce=""', page)
    return re.sub(r'(name="lk_token" value=)"[^"]*"', r'\1""', page)
