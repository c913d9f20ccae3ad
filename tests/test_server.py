"""The standalone server's page folder, through werkzeug's test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from leadkit.server import PagesApp, make_app
from support import make_config


@pytest.fixture()
def pages(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<p>home {{ tags.utm_source }}</p>{{ leadkit_form() }}")
    (tmp_path / "promo.html").write_text("<p>promo</p>")
    (tmp_path / "offer").mkdir()
    (tmp_path / "offer" / "index.html").write_text("<p>offer folder</p>")
    (tmp_path / "app.css").write_text("p{}")
    (tmp_path / ".env").write_text("LEADKIT_KEY=secret")
    (tmp_path / "broken.html").write_text("{% if %}")
    (tmp_path.parent / "outside.html").write_text("outside")
    return tmp_path


@pytest.fixture()
def client(pages: Path) -> Client:
    return Client(make_app(make_config(site={"pages": str(pages)})))


@pytest.mark.parametrize(("path", "status", "text"), [
    pytest.param("/", 200, "home", id="index"),
    pytest.param("/promo", 200, "promo", id="no-extension"),
    pytest.param("/promo.html", 200, "promo", id="with-extension"),
    pytest.param("/offer/", 200, "offer folder", id="folder-index"),
    pytest.param("/offer", 200, "offer folder", id="folder-without-slash"),
    pytest.param("/app.css", 200, "p{}", id="static"),
    pytest.param("/.env", 404, "Not found", id="hidden-file"),
    pytest.param("/../outside.html", 404, "Not found", id="traversal"),
    pytest.param("/%2e%2e/outside.html", 404, "Not found", id="encoded-traversal"),
    pytest.param("/nothing", 404, "Not found", id="missing"),
    pytest.param("/broken.html", 503, "being fixed", id="template-error-is-not-a-500"),
])
def test_pages(client: Client, path: str, status: int, text: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_pages_get_the_form_and_the_tags(client: Client) -> None:
    html = client.get("/?utm_source=fb").get_data(as_text=True)
    assert "home fb" in html and 'name="utm_source" value="fb"' in html and 'action="/leadkit/order"' in html


def test_pages_can_extend_the_builtin_layout(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('{% extends "base.html" %}{% block content %}X{% endblock %}')
    html = Client(make_app(make_config(site={"pages": str(tmp_path)}))).get("/").get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "X" in html


def test_without_the_middleware_pages_still_render(pages: Path) -> None:
    html = Client(PagesApp(pages)).get("/").get_data(as_text=True)
    assert "home" in html


def test_make_app_needs_pages() -> None:
    with pytest.raises(ValueError, match="site.pages"):
        make_app(make_config())


# -- a prelanding carries the tags on to the landing ------------------------------------------

def test_links_to_the_site_and_the_landing_hosts_carry_the_visitor_s_tags(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a id="own" href="/offer">own</a> <a id="land" href="https://Landing.example/?lang=en">landing</a> '
        '<a id="other" href="https://news.example/">news</a> <a id="helper" href="{{ landing_url(\'https://x.example/\') }}">')
    client = Client(make_app(make_config(site={"pages": str(tmp_path), "landing_hosts": ["landing.example"]})))
    page = client.get("/?utm_source=fb&sub1=c1").get_data(as_text=True)
    assert '<a id="own" href="/offer?utm_source=fb&amp;sub1=c1">' in page
    assert '<a id="land" href="https://Landing.example/?lang=en&amp;utm_source=fb&amp;sub1=c1">' in page
    assert '<a id="other" href="https://news.example/">' in page, "other sites' links are left alone"
    assert '<a id="helper" href="https://x.example/?utm_source=fb&amp;sub1=c1">' in page, "landing_url() in a page"
    later = client.get("/").get_data(as_text=True)  # the tags now come from the cookie
    assert '<a id="own" href="/offer?utm_source=fb&amp;sub1=c1">' in later


def test_links_are_left_alone_without_tags(pages: Path) -> None:
    (pages / "links.html").write_text('<a href="/offer">own</a>')
    client = Client(make_app(make_config(site={"pages": str(pages)})))
    assert client.get("/links").get_data(as_text=True) == '<a href="/offer">own</a>'
