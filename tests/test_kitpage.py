"""A landing kit's page: its forms found, and start tags rewritten."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from leadkit.kitfields import LEAD_FIELDS, is_macro, map_fields
from leadkit.kitpage import Control, KitForm, Refill, Rewrite, find_forms, rewrite_page
from leadkit.php import strip_php
from leadkit.tags import STANDARD_TAGS

# -- helpers ------------------------------------------------------------------


class _StartTags(HTMLParser):
    """Every start tag of a page as a browser-like tokenizer reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def start_tags(page: str, name: str) -> list[list[tuple[str, str | None]]]:
    """The attributes of each ``<name>`` start tag of ``page``, in order."""
    parser = _StartTags()
    parser.feed(page)
    parser.close()
    return [attrs for tag, attrs in parser.tags if tag == name]


def hidden_for(form: KitForm) -> dict[str, str]:
    return {"lk_token": "T", "lk_form": str(form.index)}


def make_rewrite(**changes: object) -> Rewrite:
    settings: dict[str, object] = dict(
        action="/leadkit/order", hidden=hidden_for, tags={}, tag_names=STANDARD_TAGS,
        tag_aliases={"clickid": "subid"}, site_host="promo.example:8000", landing_hosts=("landing.example",))
    settings.update(changes)
    return Rewrite(**settings)  # type: ignore[arg-type]


def refill(**changes: object) -> Refill:
    settings: dict[str, object] = dict(form=0, values={}, errors={}, message=None)
    settings.update(changes)
    return Refill(**settings)  # type: ignore[arg-type]


ORDER_FORM = '<form action="order.php"><input name="name"><input name="phone"></form>'

# -- forms --------------------------------------------------------------------


@pytest.mark.parametrize("action, site_host, takes_orders", [
    pytest.param(None, "", True, id="no-action"),
    pytest.param("", "", True, id="empty"),
    pytest.param("#order", "", True, id="fragment"),
    pytest.param("order.php", "", True, id="relative-php"),
    pytest.param("ORDER.PHP", "", True, id="php-upper-case"),
    pytest.param("/api/send.php?flow=1", "", True, id="absolute-path-with-query"),
    pytest.param("../getform.php", "", True, id="parent-folder"),
    pytest.param("https://promo.example/order.php", "promo.example:8000", True, id="same-host-url"),
    pytest.param("https://promo.example/order.php", "", False, id="url-with-no-site-known"),
    pytest.param("https://other.example/order.php", "promo.example", False, id="other-host"),
    pytest.param("//other.example/order.php", "promo.example", False, id="scheme-relative-other-host"),
    pytest.param("https://user@promo.example/order.php", "promo.example", False, id="user-info"),
    pytest.param("/offer/index.html", "", True, id="the-page"),
    pytest.param("index.html", "", True, id="the-page-relative"),
    pytest.param("?step=2", "", True, id="the-page-with-query"),
    pytest.param("thanks.html", "", False, id="another-page"),
    pytest.param("javascript:void(0)", "", False, id="javascript"),
    pytest.param("http://[::1/order.php", "", False, id="unparsable"),
])
def test_which_forms_take_orders(action: str | None, site_host: str, takes_orders: bool) -> None:
    attribute = "" if action is None else f' action="{action}"'
    page = f'<form{attribute}><input name="phone"></form>'
    (form,) = find_forms(page, "/offer/index.html", site_host=site_host)
    assert form.action == action
    assert form.takes_orders is takes_orders


def test_a_form_is_described() -> None:
    page = """<form id="order" method="POST" action="send.php">
      <input name="fio" autocomplete="name"><input type="TEL" name="f2"><input type="hidden" name="sub1">
      <select name="country"><option>PL</option></select><textarea name="msg"></textarea>
      <input type="checkbox" name="agree"><button>Order</button><button type="reset" name="r"></button>
      <script>document.write('<input name="email">')</script>
    </form>"""
    assert find_forms(page, "/") == (KitForm(
        index=0, action="send.php", method="post", id="order", phone="f2", takes_orders=True,
        controls=(Control("fio", "input", "text", "name"), Control("f2", "input", "tel", None),
                  Control("sub1", "input", "hidden", None), Control("country", "select", "select-one", "country"),
                  Control("msg", "textarea", "textarea", "comment"), Control("agree", "input", "checkbox", None),
                  Control("r", "button", "reset", None))),)


@pytest.mark.parametrize("controls, phone", [
    pytest.param('<input name="name">', None, id="no-phone"),
    pytest.param('<input type="hidden" name="phone">', None, id="hidden-phone-is-not-one"),
    pytest.param('<input type="tel">', None, id="tel-without-name-posts-nothing"),
    pytest.param('<input name="q" type="tel"><input name="order[phone]">', "order[phone]", id="named-beats-tel"),
    pytest.param('<input name="x7" type="tel">', "x7", id="tel"),
])
def test_the_phone_control(controls: str, phone: str | None) -> None:
    (form,) = find_forms(f"<form>{controls}</form>", "/")
    assert form.phone == phone
    assert form.takes_orders is (phone is not None)


def test_the_operators_aliases_find_the_phone() -> None:
    (form,) = find_forms('<form><input name="f3"></form>', "/", {"f3": "phone"})
    assert form.phone == "f3" and form.controls[0].field == "phone"


def test_controls_belong_to_their_form() -> None:
    page = """<input name="phone" form="second"><form action="a.php"><input name="name">
      <form id="second" action="b.php"><input name="phone"></form>
      <input name="email"><input name="city" form="nowhere"><input name="zip" form><input name="tel" form="first">
      <form id="first"></form>"""
    first, second, third = find_forms(page, "/")
    assert [c.name for c in first.controls] == ["name"], "a new <form> closes the one before"
    assert [c.name for c in second.controls] == ["phone", "phone"], "form=id, even before the form"
    assert [c.name for c in third.controls] == ["tel"]
    assert [f.index for f in (first, second, third)] == [0, 1, 2]


def test_a_page_the_tokenizer_cannot_read_has_no_forms() -> None:
    page = "<![foo[ x ]]>" + ORDER_FORM
    if not _stdlib_refuses(page):
        pytest.skip("this Python's html.parser reads the page")
    assert find_forms(page, "/") == ()
    assert rewrite_page(page, "/", make_rewrite(base_href="/")) is page


def _stdlib_refuses(page: str) -> bool:
    try:
        HTMLParser().feed(page)
    except AssertionError:
        return True
    return False


# -- rewrite_page -------------------------------------------------------------

KIT = """<!DOCTYPE html>
<html lang="pl">
<head>
  <meta charset="utf-8"><title>Flexo &amp; <a href="/t">co</a></title>
  <style>a[href="/x"] { color: red }</style>
</head>
<body>
<!-- <a href="/in-comment"> <form action="order.php"> -->
<script>var tpl = "<a href='/x'>"; if (a > b) { go('<form action=order.php>') }</script>
<a title="a > b" href="/next">next</a> <a href="#order">order</a> <a href="https://news.example/">news</a>
<a href="mailto:a@promo.example">mail</a> <area shape="rect" href="landing.html">
<form id="top" action="order.php" method="get" class="order" onsubmit="return check(this)">
  <input type="hidden" name="sub1" value="{sub1}">
  <input type="hidden" name="clickid" value="{clickid}"/>
  <input type="hidden" name="utm_campaign" value="spring">
  <input type="hidden" name="utm_medium" value="{{adset.name}}">
  <input type="hidden" name="product" value="{product}">
  <input name="name" required><input type="tel" name="phone" required>
  <button>Zamawiam</button>
</form>
<form action="https://news.example/subscribe"><input name="email"><input name="phone"></form>
<form action="/api/send.php"><input name="fio"><input name="tel"></form>
</body>
</html>
"""
# The start tags rewrite_page may change (a quoted ">" included), and the hidden inputs it adds.
CHANGED_TAGS = re.compile(r"""<(?:form|a|area|input type="hidden")(?=[\s/>])(?:[^>"']|"[^"]*"|'[^']*')*>""")


def test_only_the_rewritten_tags_change() -> None:
    page = rewrite_page(KIT, "/index.html", make_rewrite(tags={"sub1": "s1", "subid": "c9", "utm_source": "fb"}))
    assert page != KIT
    assert CHANGED_TAGS.sub("", page) == CHANGED_TAGS.sub("", KIT)


def test_order_forms_post_to_leadkit_with_their_hidden_inputs() -> None:
    page = rewrite_page(KIT, "/index.html", make_rewrite())
    assert ('<form id="top" action="/leadkit/order" method="post" class="order" onsubmit="return check(this)">'
            '<input type="hidden" name="lk_token" value="T"><input type="hidden" name="lk_form" value="0">\n'
            '  <input type="hidden" name="sub1" value="">') in page
    assert ('<form action="/leadkit/order" method="post"><input type="hidden" name="lk_token" value="T">'
            '<input type="hidden" name="lk_form" value="2"><input name="fio">') in page
    assert '<form action="https://news.example/subscribe"><input name="email">' in page, "another site's form"
    assert "<form action=order.php>')" in page and '<!-- <a href="/in-comment"> <form action="order.php"> -->' in page


def test_a_form_without_action_gets_one() -> None:
    page = rewrite_page('<FORM class=f><input name=phone /></FORM>', "/", make_rewrite(hidden=lambda form: {}))
    assert page == '<FORM class=f action="/leadkit/order" method="post"><input name=phone /></FORM>'


def test_duplicate_attributes_become_one() -> None:
    page = rewrite_page('<form action="a.php" ACTION="b.php"><input name=phone></form>', "/",
                        make_rewrite(hidden=lambda form: {}))
    assert page == '<form action="/leadkit/order" method="post"><input name=phone></form>'


def test_tag_inputs_carry_the_captured_tags_and_lose_macros() -> None:
    page = rewrite_page(KIT, "/index.html", make_rewrite(tags={"sub1": "s1", "subid": "c9", "utm_medium": ""}))
    assert '<input type="hidden" name="sub1" value="s1">' in page
    assert '<input type="hidden" name="clickid" value="c9"/>' in page, "an alias, and the tag's /> kept"
    assert '<input type="hidden" name="utm_campaign" value="spring">' in page, "a kit's own value stays"
    assert '<input type="hidden" name="utm_medium" value="">' in page, "an empty tag is no tag: the macro goes"
    assert '<input type="hidden" name="product" value="{product}">' in page, "not a tag: left alone"


def test_tag_input_without_value_gets_one() -> None:
    page = rewrite_page('<input type=hidden name=sub2>', "/", make_rewrite(tags={"sub2": "x"}))
    assert page == '<input type=hidden name=sub2 value="x">'


def test_links_to_landings_carry_the_tags() -> None:
    page = rewrite_page(KIT, "/index.html", make_rewrite(tags={"utm_source": "fb"}))
    assert '<a title="a > b" href="/next?utm_source=fb">next</a>' in page
    assert '<area shape="rect" href="landing.html?utm_source=fb">' in page
    for untouched in ('<a href="#order">', '<a href="https://news.example/">', '<a href="mailto:a@promo.example">',
                      """var tpl = "<a href='/x'>";""", '<title>Flexo &amp; <a href="/t">co</a></title>',
                      'a[href="/x"] { color: red }'):
        assert untouched in page


@pytest.mark.parametrize("hostile", [
    pytest.param('a" onmouseover="alert(1)', id="quote"),
    pytest.param("a href=x onmouseover=alert(1) b", id="spaces"),
    pytest.param("a' onmouseover='alert(1)", id="single-quote"),
    pytest.param('"><script>alert(1)</script>', id="end-of-tag"),
])
def test_hostile_values_add_no_attribute(hostile: str) -> None:
    page = rewrite_page(
        '<form class=order><input type="hidden" name="sub1" value="{sub1}"><input name="phone"><textarea name=msg>'
        '</textarea></form><a href="/x">x</a>', "/",
        make_rewrite(tags={"sub1": hostile}, hidden=lambda form: {"lk": hostile}, base_href=hostile,
                     refill=refill(values={"phone": hostile, "msg": hostile}, errors={"phone": hostile},
                                   message=hostile)))
    assert start_tags(page, "script") == []
    names = {tag: [[name for name, _ in attrs] for attrs in start_tags(page, tag)] for tag in ("a", "input", "base")}
    assert names["a"] == [["href"]]
    assert names["base"] == [["href"]]
    assert names["input"] == [["type", "name", "value"], ["type", "name", "value"],
                              ["name", "value", "aria-invalid", "aria-describedby", "autofocus"]]
    assert [dict(attrs)["value"] for attrs in start_tags(page, "input")] == [hostile, hostile, hostile]
    assert dict(start_tags(page, "base")[0])["href"] == hostile


def test_a_page_with_nothing_to_do_is_the_same_string() -> None:
    page = '<p>Hello</p><form action="/search"><input name="q"></form><a href="/x">x</a>'
    assert rewrite_page(page, "/", make_rewrite()) is page


# -- refill -------------------------------------------------------------------

REFILL_PAGE = """<input name="q" autofocus>
<form action="order.php" id="f">
  <input name="name" value="Kit default"><input type="tel" name="phone"><input type="password" name="pw">
  <input type="hidden" name="sub1" value="k"><input type="email" name="email">
  <label><input type="radio" name="pack" value="1" checked>1</label>
  <label><input type="radio" name="pack" value="3">3</label>
  <input type="checkbox" name="gift">
  <select name="city"><option value="">--</option><option selected>Warszawa</option><option> Kraków\n</option></select>
  <textarea name="comment">Kit text</textarea>
  <button>Order</button>
</form>
<form action="other.php"><input name="phone" value="second"></form>
"""
POSTED = {"name": "Ann <b>", "phone": "600", "pw": "secret", "sub1": "forged", "email": "a@b.pl", "pack": "3",
          "gift": "on", "city": "Kraków", "comment": "Call me\n</textarea><b>"}


def test_a_refused_post_shows_what_was_typed() -> None:
    page = rewrite_page(REFILL_PAGE, "/", make_rewrite(hidden=lambda form: {}, refill=refill(values=POSTED)))
    assert '<input name="name" value="Ann &lt;b&gt;">' in page
    assert '<input type="tel" name="phone" value="600">' in page
    assert '<input type="password" name="pw">' in page and 'name="sub1" value="k">' in page, "never refilled"
    assert '<input type="email" name="email" value="a@b.pl">' in page
    assert '<input type="radio" name="pack" value="1">1' in page
    assert '<input type="radio" name="pack" value="3" checked>3' in page
    assert '<input type="checkbox" name="gift" checked>' in page
    assert '<option value="">--</option><option>Warszawa</option><option selected> Kraków\n</option>' in page
    assert '<textarea name="comment">Call me\n&lt;/textarea&gt;&lt;b&gt;</textarea>' in page
    assert '<input name="phone" value="second">' in page, "another form is not refilled"
    assert '<input name="q" autofocus>' in page, "no error, no message: the focus stays"


def test_a_textarea_keeps_a_leading_newline() -> None:
    page = rewrite_page("<form><textarea name=m>x</textarea></form>", "/",
                        make_rewrite(refill=refill(values={"m": "\nhi"})))
    assert "<textarea name=m>\n\nhi</textarea>" in page


def test_errors_show_beside_their_fields_and_take_the_focus() -> None:
    errors = {"phone": "Enter a phone from Poland", "comment": "Too long", "country": "We do not ship there"}
    page = rewrite_page(REFILL_PAGE, "/", make_rewrite(refill=refill(values=POSTED, errors=errors, message="Check")))
    assert '<input name="q">' in page, "the kit's own autofocus goes"
    assert page.count("autofocus") == 1
    assert ('<input type="tel" name="phone" value="600" aria-invalid="true" aria-describedby="lk-kit-error-0-phone"'
            ' autofocus><span class="lk-kit-error" id="lk-kit-error-0-phone" role="alert" style="display:block;'
            'margin:4px 0 8px;color:#b91c1c;font-weight:600;font-size:14px;line-height:1.3">'
            'Enter a phone from Poland</span>') in page
    assert ('</textarea><span class="lk-kit-error" id="lk-kit-error-0-comment" role="alert"') in page
    assert ('<form action="/leadkit/order" id="f" method="post"><input type="hidden" name="lk_token" '
            'value="T"><input type="hidden" name="lk_form" value="0"><div class="lk-kit-message" role="alert" '
            'style="margin:0 0 10px;padding:8px 12px;border-left:4px solid #dc2626;background:#fef2f2;color:#991b1b;font-size:15px">'
            'Check We do not ship there</div>') in page, "an error with no field to show it joins the message"


def test_a_select_error_follows_the_select() -> None:
    page = rewrite_page('<form><input name=phone><select name="city" aria-describedby="hint"><option>A</option>'
                        '</select></form>', "/", make_rewrite(hidden=lambda form: {}, refill=refill(
                            errors={"city": "Pick one"})))
    assert ('<select name="city" aria-describedby="hint lk-kit-error-0-city" aria-invalid="true" autofocus>'
            '<option>A</option></select><span class="lk-kit-error" id="lk-kit-error-0-city"') in page


def test_a_message_alone_focuses_the_first_field() -> None:
    page = rewrite_page('<form><input type=hidden name=t><button>Go</button><input name=name><input name=phone>'
                        '</form>', "/", make_rewrite(hidden=lambda form: {}, refill=refill(message="Try again")))
    assert '<input name=name autofocus>' in page and page.count("autofocus") == 1
    assert '<div class="lk-kit-message" role="alert"' in page


def test_the_refilled_form_is_the_one_posted() -> None:
    page = rewrite_page(ORDER_FORM + ORDER_FORM, "/", make_rewrite(refill=refill(form=1, values={"name": "Bo"})))
    first, second = start_tags(page, "form"), [dict(attrs).get("value") for attrs in start_tags(page, "input")]
    assert len(first) == 2 and second == ["T", "0", None, None, "T", "1", "Bo", None]
    assert rewrite_page(ORDER_FORM, "/", make_rewrite(refill=refill(form=5))) == rewrite_page(ORDER_FORM, "/",
                                                                                             make_rewrite())


# -- base ---------------------------------------------------------------------


@pytest.mark.parametrize("page, expected", [
    pytest.param("<html><head lang=x><title>t</title>", '<html><head lang=x><base href="/kit/"><title>t</title>',
                 id="after-head"),
    pytest.param("<!doctype html><html><header></header>", '<!doctype html><html><base href="/kit/"><header></header>',
                 id="after-html-without-head"),
    pytest.param("<!DOCTYPE html>\n<p>x", '<!DOCTYPE html><base href="/kit/">\n<p>x', id="after-doctype"),
    pytest.param("<p>x", '<base href="/kit/"><p>x', id="at-the-start"),
    pytest.param('<head><base href="/other/">', '<head><base href="/other/">', id="the-kits-own-base"),
])
def test_a_base_is_added_when_the_page_has_none(page: str, expected: str) -> None:
    assert rewrite_page(page, "/", make_rewrite(base_href="/kit/")) == expected


# -- never raises -------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis: pip install -e '.[test]'")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(database=None, deadline=None, max_examples=300)
PIECES = st.sampled_from([
    "<form>", "<form action='order.php'>", "</form>", "<input name=phone>", '<input type="hidden" name="sub1" value="',
    "{sub1}", "<a href=/x>", "<a href='", "<script>", "</script>", "<!--", "-->", "<textarea name=comment>",
    "</textarea>", "<select name=city>", "<option>", "<head>", "<base>", '"', "'", ">", "<", "/>", "=", " ", "\n",
    "<?php", "?>", "<![", "&amp;", "<!DOCTYPE html>", "autofocus", "<input form=f name=name>", "<form id=f>",
])
MARKUP = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=3))).map("".join))


@FUZZ
@given(MARKUP)
def test_rewrite_page_never_raises(page: str) -> None:
    rewrite = make_rewrite(tags={"sub1": "s", "utm_source": "fb"}, base_href="/kit/",
                           refill=refill(values={"phone": "1", "city": "x", "comment": "c"},
                                         errors={"phone": "bad", "name": "no"}, message="m"))
    result = rewrite_page(page, "/index.html", rewrite)
    assert isinstance(result, str)
    if "form" not in page.lower():  # no order form: no tags, refill or base leave nothing to change
        assert rewrite_page(page, "/", make_rewrite(tag_names=(), tag_aliases={})) is page


@FUZZ
@given(MARKUP)
def test_the_parsers_never_raise(page: str) -> None:
    stripped, blocks = strip_php(page)
    assert len(stripped) <= len(page) and (blocks or stripped == page)
    assert all(isinstance(form, KitForm) for form in find_forms(page, "/"))
    assert all(isinstance(is_macro(piece), bool) for piece in page.split())
    assert set(map_fields({page: "v"}).keys()) <= set(LEAD_FIELDS)
