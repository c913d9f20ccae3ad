"""A landing kit as downloaded, served by the standalone app in process (werkzeug's client, the
sandbox network on loopback): which file a URL names, PHP never served, the kit's own forms taking
orders, the page again with errors, the kit's thank-you page, several landings on one server.
Chromium drives real kits in ``test_kits.py``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from leadkit.kit import KitFolder
from leadkit.server import make_app
from leadkit.testing.sandbox import SandboxNetwork
from support import BrowserClient, make_config

KIT_KEY = "KIT-KEY-7d1e0b42aa"
INDEX = """<!doctype html>
<html lang="pl"><head><meta charset="utf-8"><title>Zdrowie</title><link rel="stylesheet" href="css/style.css">
<script>var tpl = "{{ price }} {% raw %} {# not a comment #}"; var a = '<a href="/x">';</script></head>
<body><h1>Artykuł</h1>
<form action="getform.php" method="post" id="top">
  <input type="hidden" name="utm_source" value="{clickid}"><input type="hidden" name="sub1" value="{sub1}">
  <input name="name" placeholder="Imię"><input name="phone" type="tel"><button>Zamów</button>
</form>
<p><a href="domonetka/">wróć</a> <a href="https://other.example/">inny</a></p>
<form action="/getform.php" method="post" id="bottom">
  <input name="imie"><input name="telefon"><button>Zamów</button>
</form>
<form action="https://search.example/" method="get"><input name="q"></form>
</body></html>
"""
GETFORM = f"""<?php
$api_key = '{KIT_KEY}';
$ch = curl_init('https://lk.example/api/wm/push.json?id=' . $api_key);
curl_setopt($ch, CURLOPT_POSTFIELDS, $_POST);
curl_exec($ch);
header('Location: ok.php?name=' . urlencode($_POST['name']));
"""
OK_PHP = """<?php $name = htmlspecialchars($_GET['name'] ?? ''); ?><!doctype html>
<html><head><meta charset="utf-8"><title>Dziękujemy</title></head>
<body><h1>Dziękujemy, <?= $name ?>!</h1><img src="img/pixel.gif" alt=""><script>window.pixel = 1;</script></body></html>
"""
BACKFIX = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<p>Zostało <?php echo rand(3, 9); ?> sztuk</p>
<form action="../getform.php" method="post"><input name="name"><input name="phone"><button>Zamów</button></form>
</body></html>"""


def write_kit(folder: Path) -> Path:
    """A kit the way networks hand them out: pages, a form handler holding the key, a thank-you page."""
    (folder / "css").mkdir(parents=True)
    (folder / "domonetka").mkdir()
    (folder / "index.html").write_text(INDEX, encoding="utf-8")
    (folder / "css" / "style.css").write_text("body{font-family:sans-serif}")
    (folder / "getform.php").write_text(GETFORM)
    (folder / "config.php").write_text(f"<?php define('API_KEY', '{KIT_KEY}');")
    (folder / "ok.php").write_text(OK_PHP, encoding="utf-8")
    (folder / "domonetka" / "index.php").write_text(BACKFIX, encoding="utf-8")
    return folder


@pytest.fixture()
def kit(tmp_path: Path) -> Path:
    return write_kit(tmp_path / "zdrowie-pl")


def kit_client(sandbox: SandboxNetwork, pages: Path, /, **sections: Any) -> BrowserClient:
    site = {"pages": str(pages), "min_fill_seconds": 0, "form_aliases": {"imie": "name", "telefon": "phone"},
            **sections.pop("site", {})}
    offer = {"offer": 217, "flow": 42, "country": "pl", **sections.pop("offer", {})}
    config = make_config(api=sandbox.url, site=site, offer=offer, **sections)
    return BrowserClient(make_app(config))


def hidden_inputs(html: str, form_id: str) -> dict[str, str]:
    form = html[html.index(f'id="{form_id}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


# -- which file a URL names -----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "name", "kind"), [
    ("/", "index.html", "html"),
    ("/index.html", "index.html", "html"),
    ("/css/style.css", "css/style.css", "static"),
    ("/domonetka/", "domonetka/index.php", "php"),
    ("/domonetka", "domonetka/index.php", "php"),
    ("/ok.php", "ok.php", "php"),
    ("/ok", "ok.php", "php"),
])
def test_a_url_names_a_page_of_the_kit(kit: Path, path: str, name: str, kind: str) -> None:
    page = KitFolder(kit).resolve(path)
    assert page is not None and (page.name, page.kind) == (name, kind)


@pytest.mark.parametrize("path", ["/getform.php", "/getform", "/config.php", "/../x.html", "/.env", "/nothing"])
def test_code_and_missing_files_name_no_page(kit: Path, path: str) -> None:
    assert KitFolder(kit).resolve(path) is None


def test_index_php_is_the_index_when_there_is_no_index_html(kit: Path) -> None:
    (kit / "index.html").unlink()
    (kit / "index.php").write_text("<html><body><?php echo date('Y'); ?></body></html>")
    page = KitFolder(kit).resolve("/")
    assert page is not None and (page.name, page.kind) == ("index.php", "php")


def test_jinja_pages_are_the_ones_named_so_or_listed(kit: Path) -> None:
    (kit / "promo.j2").write_text("{{ 1 + 1 }}")
    (kit / "about.html").write_text("{{ 1 + 1 }}")
    assert KitFolder(kit).resolve("/promo.j2").kind == "jinja"  # type: ignore[union-attr]
    assert KitFolder(kit).resolve("/about").kind == "html"  # type: ignore[union-attr]
    assert KitFolder(kit, jinja=["about.html"]).resolve("/about").kind == "jinja"  # type: ignore[union-attr]


@pytest.mark.parametrize(("files", "found"), [
    (("ok.php",), "ok.php"),
    (("success.html", "confirm.html"), "success.html"),
    (("thanks/index.html",), "thanks/index.html"),
    ((), None),
])
def test_the_thank_you_page_is_found_in_the_kit(tmp_path: Path, files: tuple[str, ...], found: str | None) -> None:
    (tmp_path / "index.html").write_text("<p>x</p>")
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<html><body>Thanks</body></html>")
    folder = KitFolder(tmp_path)
    assert (folder.thanks, folder.thanks_detected) == (found, True)
    assert KitFolder(tmp_path, thanks="index.html").thanks == "index.html"


def test_the_survey_names_forms_php_and_what_is_never_served(kit: Path) -> None:
    survey = KitFolder(kit).survey({"imie": "name", "telefon": "phone"})
    pages = {page.name: page for page in survey.pages}
    assert set(pages) == {"index.html", "ok.php", "domonetka/index.php"}
    assert [form.takes_orders for form in pages["index.html"].forms] == [True, True, False]
    assert [c.field for c in pages["index.html"].forms[1].controls if c.name in ("imie", "telefon")] == \
        ["name", "phone"]
    assert [block.line for block in pages["domonetka/index.php"].php] == [2]
    assert survey.thanks == "ok.php" and set(survey.scripts) == {"getform.php", "config.php"}


# -- served as it is ---------------------------------------------------------------------------

def test_a_page_is_served_byte_for_byte_apart_from_its_order_forms(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    served = client.get("/").get_data(as_text=True)
    assert "{{ price }} {% raw %} {# not a comment #}" in served, "JS with template syntax is not a template"
    assert "var a = '<a href=\"/x\">';" in served, "nothing inside a script is rewritten"
    # Take out what leadkit changed: the two order forms' start tags and the hidden inputs it added.
    unchanged = re.sub(r'<form action="/leadkit/order"[^>]*>(<input type="hidden" name="[^"]+" value="[^"]*">)*',
                       "<form>", served)
    original = re.sub(r'<form action="/?getform.php"[^>]*>', "<form>", INDEX)
    assert unchanged == original.replace('value="{clickid}"', 'value=""').replace('value="{sub1}"', 'value=""')


def test_order_forms_post_to_leadkit_with_a_token_and_where_they_sit(kit: Path, network: SandboxNetwork) -> None:
    html = kit_client(network, kit).get("/").get_data(as_text=True)
    assert html.count('action="/leadkit/order"') == 2 and 'action="https://search.example/"' in html
    top, bottom = hidden_inputs(html, "top"), hidden_inputs(html, "bottom")
    assert top["lk_page"] == bottom["lk_page"] == "/"
    assert (top["lk_form"], bottom["lk_form"]) == ("0", "1") and top["lk_token"] != bottom["lk_token"]


def test_the_visitor_s_tags_fill_the_kit_s_hidden_inputs(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    html = client.get("/?utm_source=fb&sub1=click42").get_data(as_text=True)
    top = hidden_inputs(html, "top")
    assert (top["utm_source"], top["sub1"]) == ("fb", "click42")
    assert '<a href="domonetka/?utm_source=fb&amp;sub1=click42">' in html
    assert '<a href="https://other.example/">' in html


def test_php_is_never_served(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    for path in ("/getform.php", "/config.php", "/getform", "/GETFORM.PHP"):
        response = client.get(path)
        assert response.status_code == 404 and KIT_KEY not in response.get_data(as_text=True)
    for path in ("/ok.php", "/domonetka/"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and "<?" not in body and "?>" not in body and KIT_KEY not in body
    assert "Zostało  sztuk" in client.get("/domonetka/").get_data(as_text=True)


def test_a_cp1251_page_is_sent_back_in_its_own_encoding(tmp_path: Path, network: SandboxNetwork) -> None:
    page = '<html><head><meta charset="windows-1251"></head><body>Заказать<form><input name="phone"></form></body>'
    (tmp_path / "index.html").write_bytes(page.encode("cp1251"))
    response = kit_client(network, tmp_path).get("/")
    assert response.mimetype_params["charset"] == "windows-1251"
    assert "Заказать".encode("cp1251") in response.get_data()


# -- the kit's forms take orders ----------------------------------------------------------------

def order_from(html: str, form_id: str, **typed: str) -> dict[str, str]:
    return {**hidden_inputs(html, form_id), **typed}


def test_the_kit_s_form_takes_the_order_with_the_visit_s_tags(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    html = client.get("/?utm_source=fb&sub1=click42").get_data(as_text=True)
    response = client.post("/leadkit/order", data=order_from(html, "bottom", imie="Anna", telefon="512 345 678"))
    assert response.status_code == 303 and response.headers["Location"].startswith("http")
    fields = network.accepted()[-1].fields
    assert (fields["name"], fields["phone"], fields["country"]) == ("Anna", "48512345678", "pl")
    assert (fields["utm_source"], fields["sub1"]) == ("fb", "click42")


def test_macros_posted_never_override_the_captured_tags(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    html = client.get("/?utm_source=fb").get_data(as_text=True)
    data = {**order_from(html, "top", name="Anna", phone="512345678"), "utm_source": "{clickid}", "sub1": "[sub1]"}
    client.post("/leadkit/order", data=data)
    fields = network.accepted()[-1].fields
    assert fields["utm_source"] == "fb" and "sub1" not in fields


def test_with_prefer_thanks_the_customer_lands_on_the_kit_s_thank_you_page(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit, network={"prefer_thanks": True})
    html = client.get("/").get_data(as_text=True)
    response = client.post("/leadkit/order", data=order_from(html, "top", name="Anna Nowak", phone="512345678"))
    assert (response.status_code, response.headers["Location"]) == (303, "/ok.php")
    thanks = client.get("/ok.php")
    assert thanks.status_code == 200 and "Dziękujemy" in thanks.get_data(as_text=True)
    assert "Content-Security-Policy" not in thanks.headers, "the kit's pixels and scripts run"


def test_a_thank_you_template_greets_the_customer_by_first_name(kit: Path, network: SandboxNetwork) -> None:
    (kit / "ok.php").unlink()
    (kit / "ok.jinja").write_text("<html><body>Dziękujemy, {{ first_name }}! ({{ lead_id }})</body></html>")
    client = kit_client(network, kit, network={"prefer_thanks": True}, site={"thanks": "ok.jinja"})
    html = client.get("/").get_data(as_text=True)
    client.post("/leadkit/order", data=order_from(html, "top", name="Anna Nowak", phone="512345678"))
    lead_id = network.accepted()[-1].fields.get("extu") or ""
    greeting = client.get("/ok.jinja").get_data(as_text=True)
    assert "Dziękujemy, Anna! (" in greeting and lead_id in greeting
    assert "Dziękujemy, ! ()" in Client(client.application).get("/ok.jinja").get_data(as_text=True), \
        "another visitor is not greeted with this customer's name"


def test_an_invalid_phone_shows_the_same_page_with_the_message_beside_the_field(
        kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    html = client.get("/").get_data(as_text=True)
    before = len(network.leads)
    response = client.post("/leadkit/order", data=order_from(html, "bottom", imie="Anna", telefon="12"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and len(network.leads) == before
    assert "<h1>Artykuł</h1>" in page and '<base href="/">' in page, "the kit's page, its links still resolving"
    bottom = page[page.index('id="bottom"'):]
    assert 'value="Anna"' in bottom[:bottom.index("</form>")], "what was typed is kept"
    assert 'class="lk-kit-error"' in bottom[:bottom.index("</form>")] and "autofocus" in bottom


def test_a_kit_script_posting_to_its_php_gets_json(kit: Path, network: SandboxNetwork) -> None:
    client = kit_client(network, kit)
    client.get("/?utm_source=tt")
    headers = {"X-Requested-With": "XMLHttpRequest"}
    bad = client.post("/getform.php", data={"name": "Anna", "phone": "1"}, headers=headers)
    assert bad.status_code == 422 and bad.json["status"] == "error" and "phone" in bad.json["errors"]
    good = client.post("/getform.php", data={"fio": "Anna Nowak", "tel": "512345678"}, headers=headers)
    assert good.status_code == 200 and good.json["status"] == "ok"
    fields = network.accepted()[-1].fields
    assert (fields["name"], fields["utm_source"]) == ("Anna Nowak", "tt")
    assert KIT_KEY not in good.get_data(as_text=True)


def test_the_chosen_country_is_where_the_phone_is_read(tmp_path: Path, network: SandboxNetwork) -> None:
    (tmp_path / "index.html").write_text('<form action=""><select name="country"><option value="es">ES</option>'
                                         '<option value="pt">PT</option></select><input name="phone"></form>')
    client = kit_client(network, tmp_path, offer={"country": "es", "countries": ["es", "pt", "it"]})
    response = client.post("/send.php", data={"name": "Ana", "phone": "912345678", "country": "pt"},
                           headers={"Sec-Fetch-Mode": "cors"})
    assert response.status_code == 200
    fields = network.accepted()[-1].fields
    assert (fields["phone"], fields["country"]) == ("351912345678", "pt")


# -- several landings on one server ----------------------------------------------------------------

def test_each_landing_has_its_own_offer_and_flow(tmp_path: Path, network: SandboxNetwork) -> None:
    network.reset(offers={217: [42], 402: [43]})
    write_kit(tmp_path / "pl")
    sk = tmp_path / "sk"
    sk.mkdir()
    (sk / "index.html").write_text('<form action="order.php" id="sk"><input name="fio"><input name="telefon">'
                                   "</form>")
    landings = [{"name": "sk", "path": "/sk/", "pages": str(sk), "offer": 402, "flow": 43, "country": "sk"}]
    client = kit_client(network, tmp_path / "pl", landing=landings)
    home, slovak = client.get("/").get_data(as_text=True), client.get("/sk/").get_data(as_text=True)
    assert hidden_inputs(slovak, "sk")["lk_landing"] == "sk" and "lk_landing" not in hidden_inputs(home, "top")
    client.post("/leadkit/order", data=order_from(slovak, "sk", fio="Ján", telefon="0912 345 678"))
    client.post("/leadkit/order", data=order_from(home, "top", name="Anna", phone="512345678"))
    slovak_lead, polish_lead = (lead.fields for lead in network.accepted()[-2:])
    assert (slovak_lead["offer"], slovak_lead["flow"], slovak_lead["country"]) == ("402", "43", "sk")
    assert (polish_lead["offer"], polish_lead["flow"], polish_lead["country"]) == ("217", "42", "pl")
    assert client.get("/sk/getform.php").status_code == 404


def test_a_landing_may_be_bound_to_a_host(tmp_path: Path, network: SandboxNetwork) -> None:
    write_kit(tmp_path / "pl")
    sk = tmp_path / "sk"
    sk.mkdir()
    (sk / "index.html").write_text("<p>Slovensko</p>")
    landings = [{"name": "sk", "host": "sk.example.com", "pages": str(sk), "offer": 402, "flow": 43,
                 "country": "sk"}]
    client = kit_client(network, tmp_path / "pl", landing=landings)
    assert "Slovensko" in client.get("/", base_url="http://sk.example.com:8000").get_data(as_text=True)
    assert "Artykuł" in client.get("/", base_url="http://pl.example.com").get_data(as_text=True)
    assert client.get("/ok.php", base_url="http://sk.example.com").status_code == 404, "the other kit's pages"


@pytest.mark.parametrize(("declared", "codec", "charset"), [
    ("windows-1250", "cp1250", "windows-1250"), ("ISO-8859-2", "iso8859_2", "iso-8859-2"), (None, "utf-8", "utf-8")])
def test_a_page_is_read_and_sent_in_the_charset_it_declares(tmp_path: Path, network: SandboxNetwork,
                                                             declared: str | None, codec: str, charset: str) -> None:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">' if declared else ""
    page = f"<html><head>{meta}</head><body>Zamów teraz! Żółć<form><input name='phone'></form></body></html>"
    (tmp_path / "index.html").write_bytes(page.encode(codec))
    response = kit_client(network, tmp_path).get("/")
    assert response.mimetype_params["charset"] == charset
    body = response.get_data()
    assert "Zamów teraz! Żółć".encode(codec) in body and 'action="/leadkit/order"'.encode() in body
