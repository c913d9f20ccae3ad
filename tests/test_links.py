"""Tags carried along a prelanding's links: which links change, and how."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from leadkit.links import add_tags_to_links, is_landing_link

TAGS = {"utm_source": "fb", "sub1": "a b"}
HOSTS = ("landing.example.com", "*.shop.example")


@pytest.mark.parametrize("url, expected", [
    pytest.param("/", True, id="root"),
    pytest.param("order.html?x=1", True, id="relative"),
    pytest.param("https://promo.example/next", True, id="same-site-absolute"),
    pytest.param("http://PROMO.example:8080/next", True, id="same-host-other-port-and-case"),
    pytest.param("https://landing.example.com/", True, id="landing-host"),
    pytest.param("//landing.example.com/", True, id="scheme-relative-landing"),
    pytest.param("https://kz.shop.example/", True, id="wildcard-subdomain"),
    pytest.param("https://shop.example.evil/", False, id="lookalike"),
    pytest.param("https://other.example/", False, id="other-site"),
    pytest.param("https://user@landing.example.com/", False, id="user-info"),
    pytest.param("#order", False, id="fragment"),
    pytest.param("mailto:a@promo.example", False, id="mailto"),
    pytest.param("tel:+77001234567", False, id="tel"),
    pytest.param("javascript:alert(1)", False, id="javascript"),
    pytest.param("JavaScript:alert(1)", False, id="javascript-upper"),
    pytest.param("http:foo", False, id="scheme-without-host"),
    pytest.param("http://[::1", False, id="unparsable"),
    pytest.param("", False, id="empty"),
])
def test_which_links_lead_to_a_landing(url: str, expected: bool) -> None:
    assert is_landing_link(url, "promo.example", HOSTS) is expected


@pytest.mark.parametrize("page, expected", [
    pytest.param('<a href="/">x</a>', '<a href="/?utm_source=fb&amp;sub1=a+b">x</a>', id="double-quoted"),
    pytest.param("<a class=c href='https://landing.example.com/p?q=1#f'>",
                 '<a class=c href="https://landing.example.com/p?q=1&amp;utm_source=fb&amp;sub1=a+b#f">',
                 id="single-quoted-keeps-query-and-fragment"),
    pytest.param("<A HREF=/next>", '<A HREF="/next?utm_source=fb&amp;sub1=a+b">', id="bare-upper-case"),
    pytest.param('<a href="/?utm_source=old&amp;k=v">', '<a href="/?k=v&amp;utm_source=fb&amp;sub1=a+b">',
                 id="visitor-tag-wins-over-link-parameter"),
    pytest.param('<a href="https://other.example/">', '<a href="https://other.example/">', id="other-site-untouched"),
    pytest.param('<a href="#top">', '<a href="#top">', id="fragment-untouched"),
    pytest.param('<link href="/app.css"><img src="/a.png">', '<link href="/app.css"><img src="/a.png">',
                 id="not-anchors"),
    pytest.param('<a data-href="/x">', '<a data-href="/x">', id="other-attribute"),
    pytest.param("<p>href=\"/\"</p>", "<p>href=\"/\"</p>", id="text-not-a-tag"),
    pytest.param('<area shape=rect href="/next">', '<area shape=rect href="/next?utm_source=fb&amp;sub1=a+b">',
                 id="image-map-area"),
    pytest.param('<a title="a > b" href="/">', '<a title="a > b" href="/?utm_source=fb&amp;sub1=a+b">',
                 id="quoted-greater-than"),
    pytest.param('<a href="/" HREF="/other">', '<a href="/?utm_source=fb&amp;sub1=a+b">', id="duplicate-href"),
    pytest.param('<a href="/"\nclass="x"/>', '<a href="/?utm_source=fb&amp;sub1=a+b"\nclass="x"/>',
                 id="rest-of-the-tag-kept"),
    pytest.param("<script>var a = '<a href=\"/\">';</script>", "<script>var a = '<a href=\"/\">';</script>",
                 id="inside-script"),
    pytest.param('<!-- <a href="/"> -->', '<!-- <a href="/"> -->', id="inside-comment"),
    pytest.param('<style>a[href="/"]{}</style>', '<style>a[href="/"]{}</style>', id="inside-style"),
    pytest.param('<textarea><a href="/"></textarea>', '<textarea><a href="/"></textarea>', id="inside-textarea"),
])
def test_links_get_the_tags(page: str, expected: str) -> None:
    assert add_tags_to_links(page, TAGS, "promo.example", HOSTS) == expected


def test_hostile_tag_values_stay_inside_the_attribute() -> None:
    page = add_tags_to_links('<a href="/">', {"utm_source": '"><script>alert(1)</script>'}, "promo.example")
    assert page == '<a href="/?utm_source=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E">'


def test_a_page_is_untouched_without_tags() -> None:
    page = '<a href="/">x</a>'
    assert add_tags_to_links(page, {}, "promo.example", HOSTS) is page
    assert add_tags_to_links(page, {"utm_source": ""}, "promo.example", HOSTS) is page


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[list[tuple[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(attrs)


@pytest.mark.parametrize("hostile", ['a" onmouseover="alert(1)', "a href=x onmouseover=alert(1) b"])
def test_hostile_tag_values_add_no_attribute(hostile: str) -> None:
    parser = _Links()
    parser.feed(add_tags_to_links("<a href=/>", {"sub1": hostile}, "promo.example"))
    (attrs,) = parser.links
    assert [name for name, _ in attrs] == ["href"]
